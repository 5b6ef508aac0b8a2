"""Discrete action -> actuator command (ROS-free; the action adapter node wraps it).

Mapping (ROS conventions: x forward, angular z positive = counter-clockwise):

* base translate ``m`` metres: ``linear.x = sign(m) * linear_speed`` for ``|m| / linear_speed`` s;
* base rotate ``d`` degrees (positive = clockwise/right): ``angular.z = -sign(d) * angular_speed``
  for ``radians(|d|) / angular_speed`` s;
* arm extend/lift ``m`` metres, wrist, pickup, dropoff: an arm command (the action name) and a
  zero base velocity; its duration is ``|m| / arm_speed`` (wrist/grasp: ``GRIPPER_TIME_S``);
* ``end`` / ``sub_done`` and a safe stop: zero velocity, no arm command.

Both the adapter (to generate commands) and the safety monitor (to enforce velocity limits on the
command that *would* be sent) use :func:`command_for` with the same :class:`MotionProfile`.

The adapter does not rely on the monitor alone: :class:`VerdictGate` checks where a verdict
comes from (monitor id, session sequence, stamp, optional HMAC with a shared key), the e-stop,
and the speed and rate limits of the command it would send; a monitor that falls silent stops
the robot. A refused verdict is a stop.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

from safevla_core.actions import ACTIONS, ActionKind

GRIPPER_TIME_S = 0.5
STOP = "stop"


@dataclass(frozen=True)
class MotionProfile:
    """Speeds used to execute discrete actions.

    Attributes:
        linear_speed: base speed for move actions, m/s.
        angular_speed: base turn rate for rotate actions, rad/s.
        arm_speed: arm extend/lift speed, m/s.
    """

    linear_speed: float = 0.25
    angular_speed: float = 0.8
    arm_speed: float = 0.1

    def __post_init__(self) -> None:
        for name in ("linear_speed", "angular_speed", "arm_speed"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"MotionProfile.{name} = {v!r}; must be a finite number > 0")


@dataclass(frozen=True)
class Command:
    """What the actuators do for one verdict.

    Attributes:
        action: executed action name, or ``"stop"``.
        linear_x: base forward velocity, m/s.
        angular_z: base yaw rate, rad/s (positive = counter-clockwise).
        arm_speed: arm joint speed used, m/s (0 when the arm does not move).
        duration_s: how long the velocity is held; then the base gets a zero velocity.
        arm_command: action name for the arm/gripper, or "" for none.
    """

    action: str
    linear_x: float = 0.0
    angular_z: float = 0.0
    arm_speed: float = 0.0
    duration_s: float = 0.0
    arm_command: str = ""

    @property
    def is_stop(self) -> bool:
        """True when nothing moves."""
        return self.linear_x == 0.0 and self.angular_z == 0.0 and not self.arm_command


STOP_COMMAND = Command(STOP)


def command_for(action_index: int | None, profile: MotionProfile) -> Command:
    """The command executing ``action_index`` (None = safe stop).

    Raises:
        ValueError: for an index outside the action space.
    """
    if action_index is None:
        return STOP_COMMAND
    if not 0 <= action_index < len(ACTIONS):
        raise ValueError(f"action index {action_index!r} outside 0..{len(ACTIONS) - 1}")
    a = ACTIONS[action_index]
    if a.kind is ActionKind.BASE_TRANSLATE:
        v = math.copysign(profile.linear_speed, a.magnitude)
        return Command(a.name, linear_x=v, duration_s=abs(a.magnitude) / profile.linear_speed)
    if a.kind is ActionKind.BASE_ROTATE:
        w = -math.copysign(profile.angular_speed, a.magnitude)
        dur = math.radians(abs(a.magnitude)) / profile.angular_speed
        return Command(a.name, angular_z=w, duration_s=dur)
    if a.kind in (ActionKind.ARM_EXTEND, ActionKind.ARM_LIFT):
        dur = abs(a.magnitude) / profile.arm_speed
        return Command(a.name, arm_speed=profile.arm_speed, duration_s=dur, arm_command=a.name)
    if a.kind in (ActionKind.WRIST, ActionKind.GRASP, ActionKind.RELEASE):
        return Command(a.name, duration_s=GRIPPER_TIME_S, arm_command=a.name)
    return Command(a.name)  # terminal: nothing moves


class CommandScheduler:
    """Holds the current command for its duration; a new verdict replaces it at once.

    ``accept`` is called for every verdict, ``tick`` at the control rate: it returns the base
    velocity ``(linear_x, angular_z)`` to publish now -- the command's while it lasts, then zero.
    """

    def __init__(self, profile: MotionProfile) -> None:
        self.profile = profile
        self.current = STOP_COMMAND
        self.until_s = 0.0

    def accept(self, action_index: int | None, now_s: float) -> Command:
        """Start executing a verdict's action (None = stop); returns its command."""
        self.current = command_for(action_index, self.profile)
        self.until_s = now_s + self.current.duration_s
        return self.current

    def tick(self, now_s: float) -> tuple[float, float]:
        """Base velocity to publish at ``now_s``."""
        if now_s >= self.until_s:
            return 0.0, 0.0
        return self.current.linear_x, self.current.angular_z

    @property
    def moving(self) -> bool:
        """True while a base motion is being held."""
        return not (self.current.linear_x == 0.0 and self.current.angular_z == 0.0)


# --- the adapter's own guard: verdict origin, e-stop, limits, monitor liveness ------------------


def origin_digest(key: bytes, *parts: object) -> str:
    """HMAC-SHA256 (hex) of ``parts`` joined by ``|`` with the shared ``key`` ("" without one)."""
    if not key:
        return ""
    return hmac.new(key, "|".join(str(p) for p in parts).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VerdictIn:
    """The SafetyVerdict fields the adapter acts on.

    Attributes:
        monitor_id: the deciding monitor, ``<fully qualified node name>#<session id>``.
        verdict_sequence: 1, 2, 3, ... per monitor session.
        stamp_ns: the verdict's header stamp, ns (the monitor's clock when it decided).
        proposal_sequence: the proposal it answers (0: watchdog or e-stop).
        executed_action: the action to execute.
        safe_stop: a stop verdict.
        auth: :meth:`digest` with the shared key, or "".
    """

    monitor_id: str
    verdict_sequence: int
    stamp_ns: int
    proposal_sequence: int
    executed_action: int
    safe_stop: bool
    auth: str = ""

    def digest(self, key: bytes) -> str:
        """The ``auth`` a monitor holding ``key`` puts on this verdict."""
        return origin_digest(
            key,
            "verdict",
            self.monitor_id,
            self.verdict_sequence,
            self.stamp_ns,
            self.proposal_sequence,
            self.executed_action,
            int(self.safe_stop),
        )


def heartbeat_digest(key: bytes, monitor_id: str, stamp_ns: int) -> str:
    """The ``auth`` of a monitor heartbeat (a different prefix: no replay as a verdict)."""
    return origin_digest(key, "heartbeat", monitor_id, stamp_ns)


@dataclass(frozen=True)
class AdapterLimits:
    """What the adapter enforces on its own, whatever the verdict says.

    Attributes:
        monitor: fully qualified name of the only monitor whose verdicts may move the robot.
        max_linear_speed: |linear.x| of any Twist sent, m/s.
        max_angular_speed: |angular.z| of any Twist sent, rad/s.
        max_arm_speed: arm speed of any arm command, m/s.
        max_action_rate_hz: motion commands per second; the adapter refuses only gaps shorter
            than half the period, since delivery can bunch verdicts the monitor spaced right.
        max_verdict_age_s: a verdict stamped longer ago (or further ahead) on the adapter's
            clock is refused (replays, clock skew), s.
        monitor_timeout_s: no verdict or heartbeat from the monitor for this long = stop, s.
    """

    monitor: str = "/safety_monitor_node"
    max_linear_speed: float = 0.5
    max_angular_speed: float = 1.5
    max_arm_speed: float = 0.2
    max_action_rate_hz: float = 20.0
    max_verdict_age_s: float = 0.5
    monitor_timeout_s: float = 0.5


class VerdictGate:
    """Decides whether a verdict may move the robot; every refusal is a stop with a reason.

    A stop verdict is obeyed from anyone. A motion must come from the configured monitor
    (``monitor_id``), carry a valid ``auth`` when a key is set, a ``verdict_sequence`` after the
    last one of that monitor session, a stamp within ``max_verdict_age_s`` of the adapter's
    clock; and the e-stop must be released, the command within the speed limits and the
    motion rate. :meth:`silence` says when the monitor has been quiet for too long.
    """

    def __init__(
        self, limits: AdapterLimits, profile: MotionProfile, key: bytes = b"", start_s=0.0
    ) -> None:
        self.limits, self.profile, self.key = limits, profile, key
        self.estop = False
        self.session, self.last_sequence = "", 0
        self.last_heard_s = start_s
        self.last_motion_s = -math.inf

    def on_estop(self, engaged: bool) -> None:
        self.estop = bool(engaged)

    def on_heartbeat(self, monitor_id: str, stamp_ns: int, auth: str, now_s: float) -> str:
        """A monitor heartbeat; returns why it was refused ("" if it counts)."""
        why = self._origin(
            monitor_id, stamp_ns, auth, heartbeat_digest(self.key, monitor_id, stamp_ns), now_s
        )
        if not why:
            self.last_heard_s = now_s
        return why

    def admit(self, v: VerdictIn, now_s: float) -> tuple[int | None, str]:
        """(the action to execute, or None for a stop; why a motion was refused, or "")."""
        if v.safe_stop:
            return None, ""
        why = self._origin(v.monitor_id, v.stamp_ns, v.auth, v.digest(self.key), now_s)
        if why:
            return None, why
        if v.monitor_id != self.session:
            self.session, self.last_sequence = v.monitor_id, 0
        if v.verdict_sequence <= self.last_sequence:
            return None, (
                f"verdict_sequence {v.verdict_sequence} is not after {self.last_sequence} "
                "(replayed or out of order)"
            )
        self.last_sequence, self.last_heard_s = v.verdict_sequence, now_s
        if self.estop:
            return None, "e-stop engaged"
        why = self._limits(v.executed_action, now_s)
        if why:
            return None, why
        if ACTIONS[v.executed_action].moves_robot:
            self.last_motion_s = now_s
        return v.executed_action, ""

    def silence(self, now_s: float) -> str:
        """Why the monitor counts as gone ("" while it is heard)."""
        quiet = now_s - self.last_heard_s
        if quiet > self.limits.monitor_timeout_s:
            return f"no verdict or heartbeat from the safety monitor for {quiet:.2f} s"
        return ""

    def _origin(self, monitor_id: str, stamp_ns: int, auth: str, want: str, now_s: float) -> str:
        lim = self.limits
        if monitor_id.split("#")[0] != lim.monitor:
            return f"from {monitor_id!r}, not the configured monitor {lim.monitor!r}"
        if self.key and not hmac.compare_digest(auth.encode(), want.encode()):
            return "auth does not match the shared verdict key (forged or wrong key)"
        age = now_s - stamp_ns * 1e-9
        if not -lim.max_verdict_age_s <= age <= lim.max_verdict_age_s:
            return f"stamped {age:+.3f} s from the adapter's clock (max {lim.max_verdict_age_s} s)"
        return ""

    def _limits(self, action: int, now_s: float) -> str:
        lim = self.limits
        if not 0 <= action < len(ACTIONS):
            return f"executed_action {action} outside 0..{len(ACTIONS) - 1}"
        cmd = command_for(action, self.profile)
        if abs(cmd.linear_x) > lim.max_linear_speed:
            return f"|v| {abs(cmd.linear_x):g} > max_linear_speed {lim.max_linear_speed:g}"
        if abs(cmd.angular_z) > lim.max_angular_speed:
            return f"|w| {abs(cmd.angular_z):g} > max_angular_speed {lim.max_angular_speed:g}"
        if cmd.arm_speed > lim.max_arm_speed:
            return f"arm {cmd.arm_speed:g} > max_arm_speed {lim.max_arm_speed:g}"
        gap = now_s - self.last_motion_s
        if ACTIONS[action].moves_robot and gap < 0.5 / lim.max_action_rate_hz:
            rate = lim.max_action_rate_hz
            return f"only {gap * 1e3:.1f} ms since the last motion (max_action_rate_hz {rate:g})"
        return ""
