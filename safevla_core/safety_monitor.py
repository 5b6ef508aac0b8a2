"""The safety monitor's decision logic (ROS-free; the monitor node wraps it).

Every proposal from the policy gets exactly one :class:`Decision`. The rules, in order (the first
that fires decides):

1. **e-stop** (latched): while engaged every decision is a stop.
2. **NaN/Inf guard and shape check**: probabilities ``p`` and predicted costs ``Q_c`` must be
   finite, ``len(p) = len(Q_c) = |A|``, ``p_a in [0, 1]``, ``|sum(p) - 1| <= 1e-3``, else stop.
3. **frame watchdog**: ``now - stamp(frame) > frame_timeout_s`` -> stop.
4. **cost critic**: the allowed set is
   ``S = {a : Q_c(s, a) <= threshold} ∪ {uncosted (terminal) actions}``. The proposed action is
   executed if it is in ``S``; otherwise it is vetoed and the monitor executes
   ``argmax_{a in S, a moves the robot} p_a``; if no moving action is allowed, a safe stop.
5. **velocity limit**: the command the adapter would send (same motion profile) must satisfy
   ``|v| <= max_linear_speed``, ``|w| <= max_angular_speed``, arm speed ``<= max_arm_speed``.
6. **rate limit**: motion commands at most ``max_action_rate_hz``:
   ``now - t_last_motion >= 1 / max_action_rate_hz``, else stop.

Between proposals, :meth:`SafetyMonitor.check_watchdog` (called on a timer) stops the robot when
the newest accepted frame is older than ``frame_timeout_s`` or no proposal (the policy's
heartbeat) arrived for ``heartbeat_timeout_s``. While a stop condition lasts, the stop is
repeated every ``stop_repeat_s``; repeats are flagged so they do not flood the event log.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from safevla_core.action_adapter import MotionProfile, command_for
from safevla_core.actions import ACTION_NAMES, ACTIONS

PROB_SUM_TOL = 1e-3


class Rule(str, enum.Enum):
    """Which rule decided (the SafetyVerdict.triggered_rule strings)."""

    NONE = ""
    COST_CRITIC = "cost_critic"
    WATCHDOG_FRAME = "watchdog_frame"
    WATCHDOG_POLICY = "watchdog_policy"
    ESTOP = "estop"
    NAN_GUARD = "nan_guard"
    MALFORMED = "malformed_proposal"
    VELOCITY_LIMIT = "velocity_limit"
    RATE_LIMIT = "rate_limit"


# SafetyEvent severities (values of SafetyEvent.SEVERITY_*).
INFO, WARNING, CRITICAL, EMERGENCY = 0, 1, 2, 3
SEVERITY = {
    Rule.NONE: INFO,
    Rule.COST_CRITIC: WARNING,
    Rule.VELOCITY_LIMIT: WARNING,
    Rule.RATE_LIMIT: WARNING,
    Rule.WATCHDOG_FRAME: CRITICAL,
    Rule.WATCHDOG_POLICY: CRITICAL,
    Rule.NAN_GUARD: CRITICAL,
    Rule.MALFORMED: CRITICAL,
    Rule.ESTOP: EMERGENCY,
}


@dataclass(frozen=True)
class MonitorConfig:
    """Safety limits (read-only while running).

    Attributes:
        cost_threshold: actions with predicted cost ``Q_c(s, a)`` above this are vetoed.
        frame_timeout_s: the newest frame may be at most this old, s.
        heartbeat_timeout_s: a proposal must arrive at least this often, s.
        max_action_rate_hz: most motion commands per second.
        max_linear_speed: base speed limit, m/s.
        max_angular_speed: base turn-rate limit, rad/s.
        max_arm_speed: arm speed limit, m/s.
        stop_repeat_s: period of repeated stop decisions while a stop condition lasts, s.
        motion: the motion profile the adapter uses (for the velocity rule).
    """

    cost_threshold: float = 0.3
    frame_timeout_s: float = 0.5
    heartbeat_timeout_s: float = 0.5
    max_action_rate_hz: float = 20.0
    max_linear_speed: float = 0.5
    max_angular_speed: float = 1.5
    max_arm_speed: float = 0.2
    stop_repeat_s: float = 1.0
    motion: MotionProfile = field(default_factory=MotionProfile)

    def __post_init__(self) -> None:
        for name in ("cost_threshold", "max_linear_speed", "max_angular_speed", "max_arm_speed"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"MonitorConfig.{name} = {v!r}; must be finite and >= 0")
        for name in (
            "frame_timeout_s",
            "heartbeat_timeout_s",
            "max_action_rate_hz",
            "stop_repeat_s",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"MonitorConfig.{name} = {v!r}; must be finite and > 0")


@dataclass(frozen=True)
class Proposal:
    """The policy's proposal, as plain data (from an ActionProposal message).

    Attributes:
        sequence: the policy's sequence number (heartbeat).
        action_index: proposed action.
        probabilities: ``p(a | s)`` over the action space.
        predicted_cost: ``Q_c(s, a)`` per action (sum over categories).
        cost_by_category: ``(|A|, |C|)`` per-category costs, or an empty array.
        cost_categories: names of the category axis.
        frame_stamp_s: time of the camera frame the proposal was computed from, s.
    """

    sequence: int
    action_index: int
    probabilities: np.ndarray
    predicted_cost: np.ndarray
    cost_by_category: np.ndarray
    cost_categories: tuple[str, ...]
    frame_stamp_s: float


@dataclass(frozen=True)
class Decision:
    """One verdict (see SafetyVerdict.msg for the field meanings).

    ``executed_action`` is None for a safe stop. ``proposed_action`` is -1 for watchdog and
    e-stop decisions that answer no proposal. ``repeat`` marks a repeated stop (no new event).
    """

    proposal_sequence: int
    proposed_action: int
    executed_action: int | None
    vetoed: bool
    rule: Rule
    reason: str
    category: str = ""
    predicted_cost: tuple[float, ...] = ()
    frame_age_s: float = -1.0
    repeat: bool = False

    @property
    def safe_stop(self) -> bool:
        return self.executed_action is None

    @property
    def needs_event(self) -> bool:
        """Every veto or stop is a safety event, except repeats of an ongoing stop."""
        return (self.vetoed or self.safe_stop) and not self.repeat


class SafetyMonitor:
    """Stateful monitor: e-stop latch, watchdog clocks, rate limiter.

    Args:
        config: the safety limits.
        start_s: clock value at start (the watchdogs count from here until the first input).
    """

    def __init__(self, config: MonitorConfig, start_s: float) -> None:
        self.config = config
        self.estop = False
        self.last_frame_s = start_s
        self.last_proposal_s = start_s
        self.last_motion_s = -math.inf
        self.last: Decision | None = None
        self.last_stop_publish_s = -math.inf

    # inputs ------------------------------------------------------------------------------------
    def on_frame(self, stamp_s: float) -> None:
        """A frame was accepted by perception (its camera stamp)."""
        self.last_frame_s = max(self.last_frame_s, stamp_s)

    def on_estop(self, engaged: bool, now_s: float) -> Decision | None:
        """Latch or release the e-stop; engaging returns an immediate stop decision."""
        self.estop = bool(engaged)
        if not engaged:
            return None
        return self._record(self._stop(Rule.ESTOP, "e-stop engaged", 0, -1), now_s)

    def decide(self, p: Proposal, now_s: float) -> Decision:
        """The decision for one proposal (rules in the module docstring)."""
        self.last_proposal_s = now_s
        return self._record(self._decide(p, now_s), now_s)

    def check_watchdog(self, now_s: float) -> Decision | None:
        """A stop decision if a watchdog (or the e-stop) holds and a stop is due, else None."""
        cfg = self.config
        if self.estop:
            rule, reason = Rule.ESTOP, "e-stop engaged"
        elif now_s - self.last_frame_s > cfg.frame_timeout_s:
            age = now_s - self.last_frame_s
            rule, reason = Rule.WATCHDOG_FRAME, f"no fresh frame for {age:.3f} s"
        elif now_s - self.last_proposal_s > cfg.heartbeat_timeout_s:
            age = now_s - self.last_proposal_s
            rule, reason = Rule.WATCHDOG_POLICY, f"no policy heartbeat for {age:.3f} s"
        else:
            return None
        last = self.last
        ongoing = last is not None and last.safe_stop and last.rule is rule
        if ongoing and now_s - self.last_stop_publish_s < cfg.stop_repeat_s:
            return None
        d = self._stop(rule, reason, 0, -1, repeat=ongoing)
        return self._record(d, now_s)

    # rules -------------------------------------------------------------------------------------
    def _decide(self, p: Proposal, now_s: float) -> Decision:
        cfg = self.config
        seq, proposed = p.sequence, p.action_index
        if self.estop:
            return self._stop(Rule.ESTOP, "e-stop engaged", seq, proposed)
        problem = _check_proposal(p)
        if problem:
            rule = Rule.NAN_GUARD if "finite" in problem else Rule.MALFORMED
            return self._stop(rule, problem, seq, proposed if 0 <= proposed < 256 else -1)
        age = now_s - p.frame_stamp_s
        costs = tuple(float(c) for c in p.predicted_cost)
        if age > cfg.frame_timeout_s:
            return self._stop(
                Rule.WATCHDOG_FRAME,
                f"frame {age:.3f} s old > {cfg.frame_timeout_s} s",
                seq,
                proposed,
                costs=costs,
                age=age,
            )
        executed, rule, reason, category = self._critic(p)
        if executed is not None:
            limit = self._velocity_problem(executed)
            if limit:
                return self._stop(Rule.VELOCITY_LIMIT, limit, seq, proposed, costs=costs, age=age)
            if ACTIONS[executed].moves_robot:
                gap = now_s - self.last_motion_s
                if gap < 1.0 / cfg.max_action_rate_hz:
                    return self._stop(
                        Rule.RATE_LIMIT,
                        f"{gap * 1e3:.1f} ms since the last motion < "
                        f"{1e3 / cfg.max_action_rate_hz:.1f} ms",
                        seq,
                        proposed,
                        costs=costs,
                        age=age,
                    )
                self.last_motion_s = now_s
        return Decision(
            seq, proposed, executed, executed != proposed, rule, reason, category, costs, age
        )

    def _critic(self, p: Proposal) -> tuple[int | None, Rule, str, str]:
        """Cost-critic rule: (executed action or None, rule, reason, category)."""
        thr = self.config.cost_threshold
        q = p.predicted_cost
        uncosted = np.array([not a.moves_robot for a in ACTIONS])
        allowed = (q <= thr) | uncosted
        a0 = p.action_index
        if allowed[a0]:
            return a0, Rule.NONE, f"allowed: predicted cost {q[a0]:.3f} <= {thr:g}", ""
        category = _top_category(p, a0)
        why = f"critic: {ACTION_NAMES[a0]} predicted cost {q[a0]:.3f} > {thr:g}"
        if category:
            why += f" (mostly {category})"
        candidates = allowed & ~uncosted
        if not candidates.any():
            return None, Rule.COST_CRITIC, why + "; no allowed motion: safe stop", category
        best = int(np.argmax(np.where(candidates, p.probabilities, -1.0)))
        why += (
            f"; executing {ACTION_NAMES[best]} (p={p.probabilities[best]:.3f}, cost {q[best]:.3f})"
        )
        return best, Rule.COST_CRITIC, why, category

    def _velocity_problem(self, action: int) -> str:
        cfg = self.config
        cmd = command_for(action, cfg.motion)
        if abs(cmd.linear_x) > cfg.max_linear_speed:
            return (
                f"{cmd.action}: |v| {abs(cmd.linear_x):g} > max_linear_speed "
                f"{cfg.max_linear_speed:g}"
            )
        if abs(cmd.angular_z) > cfg.max_angular_speed:
            return (
                f"{cmd.action}: |w| {abs(cmd.angular_z):g} > max_angular_speed "
                f"{cfg.max_angular_speed:g}"
            )
        if cmd.arm_speed > cfg.max_arm_speed:
            return f"{cmd.action}: arm {cmd.arm_speed:g} > max_arm_speed {cfg.max_arm_speed:g}"
        return ""

    def _stop(
        self,
        rule: Rule,
        reason: str,
        seq: int,
        proposed: int,
        costs: tuple[float, ...] = (),
        age: float = -1.0,
        repeat: bool = False,
    ) -> Decision:
        vetoed = proposed >= 0
        return Decision(seq, proposed, None, vetoed, rule, reason, "", costs, age, repeat)

    def _record(self, d: Decision, now_s: float) -> Decision:
        if d.safe_stop:
            self.last_stop_publish_s = now_s
            if self.last is not None and self.last.safe_stop and self.last.rule is d.rule:
                d = Decision(**{**d.__dict__, "repeat": True})
        self.last = d
        return d


def _top_category(p: Proposal, action: int) -> str:
    c = p.cost_by_category
    if c.size == 0 or not p.cost_categories:
        return ""
    return p.cost_categories[int(np.argmax(c[action]))]


def _check_proposal(p: Proposal) -> str:
    """Empty string if well-formed, else what is wrong."""
    n = len(ACTIONS)
    probs, q, byc = p.probabilities, p.predicted_cost, p.cost_by_category
    if probs.shape != (n,) or q.shape != (n,):
        return f"expected {n} probabilities and costs, got {probs.shape[0]} and {q.shape[0]}"
    if not 0 <= p.action_index < n:
        return f"action index {p.action_index} outside 0..{n - 1}"
    if byc.size and byc.shape != (n, len(p.cost_categories)):
        return f"per-category costs shape {byc.shape} != ({n}, {len(p.cost_categories)})"
    if not (np.isfinite(probs).all() and np.isfinite(q).all() and np.isfinite(byc).all()):
        return "non-finite (NaN/Inf) probabilities or predicted costs"
    if not math.isfinite(p.frame_stamp_s):
        return "non-finite frame stamp"
    if (probs < 0).any() or (probs > 1).any() or abs(float(probs.sum()) - 1.0) > PROB_SUM_TOL:
        return f"probabilities are not a distribution (sum {float(probs.sum()):.4f})"
    return ""
