"""The safety monitor's decision logic (ROS-free; the monitor node wraps it).

Every proposal from the policy gets exactly one :class:`Decision`. The rules, in order (the first
that fires decides), are the classes of :mod:`safevla_core.monitor_rules`:

1. **e-stop** (latched): while engaged every decision is a stop.
2. **shape check, NaN/Inf guard, distribution check**: probabilities ``p`` and predicted costs
   ``Q_c`` must be finite, ``len(p) = len(Q_c) = |A|``, ``p_a in [0, 1]``,
   ``|sum(p) - 1| <= 1e-3``, else stop.
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
the e-stop is engaged, the newest accepted frame is older than ``frame_timeout_s`` or no proposal
(the policy's heartbeat) arrived for ``heartbeat_timeout_s``. While a stop condition lasts, the
stop is repeated every ``stop_repeat_s``; repeats are flagged so they do not flood the event log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from safevla_core.action_adapter import MotionProfile
from safevla_core.actions import ACTIONS
from safevla_core.monitor_rules import (
    CRITICAL,
    EMERGENCY,
    ESTOP_REASON,
    INFO,
    RULES,
    SEVERITY,
    WARNING,
    Check,
    Decision,
    MonitorRule,
    Proposal,
    Rule,
    idle_stop,
)
from safevla_core.safety_spec import DEFAULT_COST_THRESHOLD

# The rule types live with the rules; importing them from here keeps working.
__all__ = [
    "CRITICAL",
    "EMERGENCY",
    "INFO",
    "RULES",
    "SEVERITY",
    "WARNING",
    "Decision",
    "MonitorConfig",
    "MonitorRule",
    "Proposal",
    "Rule",
    "SafetyMonitor",
]


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

    cost_threshold: float = DEFAULT_COST_THRESHOLD
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


class SafetyMonitor:
    """Stateful monitor: e-stop latch, watchdog clocks, rate limiter.

    Args:
        config: the safety limits.
        start_s: clock value at start (the watchdogs count from here until the first input).
        rules: the rules in order (default: :data:`safevla_core.monitor_rules.RULES`).
    """

    def __init__(
        self, config: MonitorConfig, start_s: float, rules: tuple[MonitorRule, ...] = RULES
    ) -> None:
        self.config = config
        self.rules = rules
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
        return self._record(idle_stop(Rule.ESTOP, ESTOP_REASON), now_s)

    def decide(self, p: Proposal, now_s: float) -> Decision:
        """The decision for one proposal: the first rule that stops, else the refined outcome."""
        self.last_proposal_s = now_s
        check = Check(p, now_s, self)
        for rule in self.rules:
            d = rule.check(check)
            if d is not None:
                return self._record(d, now_s)
        d = check.outcome()
        if ACTIONS[d.executed_action].moves_robot:
            self.last_motion_s = now_s  # the rate limit counts executed motions only
        return self._record(d, now_s)

    def check_watchdog(self, now_s: float) -> Decision | None:
        """A stop decision if a rule's idle check (watchdogs, e-stop) holds and a stop is due,
        else None."""
        for rule in self.rules:
            reason = rule.check_idle(self, now_s)
            if reason is not None:
                break
        else:
            return None
        last = self.last
        ongoing = last is not None and last.safe_stop and last.rule is rule.name
        if ongoing and now_s - self.last_stop_publish_s < self.config.stop_repeat_s:
            return None
        return self._record(idle_stop(rule.name, reason, repeat=ongoing), now_s)

    def _record(self, d: Decision, now_s: float) -> Decision:
        if d.safe_stop:
            self.last_stop_publish_s = now_s
            if self.last is not None and self.last.safe_stop and self.last.rule is d.rule:
                d = Decision(**{**d.__dict__, "repeat": True})
        self.last = d
        return d
