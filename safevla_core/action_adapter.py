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
"""

from __future__ import annotations

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
