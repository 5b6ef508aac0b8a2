"""The safety monitor's decision logic (ROS-free; the monitor node wraps it).

Every proposal from the policy gets exactly one :class:`Decision`. The rules, in order (the first
that fires decides), are the classes of :mod:`safevla_core.monitor_rules`:

1. **e-stop** (latched): while engaged every decision is a stop.
2. **shape check, NaN/Inf guard, distribution check**: probabilities ``p`` and predicted costs
   ``Q_c`` must be finite, ``len(p) = len(Q_c) = |A|``, ``p_a in [0, 1]``,
   ``|sum(p) - 1| <= 1e-3``, else stop.
   Costs must be ``>= 0`` and the per-category costs add up to the total; the names the sender
   gives (action space, action, categories) must be this monitor's.
3. **frame watchdog** (on the monitor's clock): the proposal's frame stamp outside
   ``[now - frame_timeout_s, now + max_future_s]``, or no frame accepted by the monitor itself
   for ``frame_timeout_s`` -> stop.
4. **cost critic**: the allowed set is
   ``S = {a : Q_c(s, a) <= threshold} ∪ {uncosted (terminal) actions}``. The proposed action is
   executed if it is in ``S``; otherwise it is vetoed and the monitor executes
   ``argmax_{a in S, a moves the robot} p_a``; if no moving action is allowed, a safe stop.
4b. **independent safety critic** (only with a critic bundle, :mod:`safevla_core.critic_gate`):
   the action rule 4 let through is executed unless the critic's risk reaches the calibrated
   threshold in a category; then the most probable allowed motion with risk below
   ``margin x threshold``, else a safe stop.
5. **velocity limit**: the command the adapter would send (same motion profile) must satisfy
   ``|v| <= max_linear_speed``, ``|w| <= max_angular_speed``, arm speed ``<= max_arm_speed``.
6. **rate limit**: motion commands at most ``max_action_rate_hz``:
   ``now - t_last_motion >= 1 / max_action_rate_hz``, else stop.

Between proposals, :meth:`SafetyMonitor.check_watchdog` (called on a timer) stops the robot when
the e-stop is engaged, the newest accepted frame is older than ``frame_timeout_s`` or no proposal
(the policy's heartbeat) arrived for ``heartbeat_timeout_s``. When both watchdogs hold, the
verdict names the input that fell silent first (a dead policy process can stall the frames behind
it; a dead camera stops the proposals too) and its reason lists the other. While a stop condition
lasts, the stop is repeated every ``stop_repeat_s``; repeats are flagged so they do not flood the
event log.

Frame stamps come from other processes and clocks: :meth:`SafetyMonitor.on_frame` rejects a
stamp from the future (beyond ``max_future_s``) or older than ``frame_timeout_s``, and counts an
accepted frame at ``min(stamp, now)``, so no stamp can push the watchdog past the monitor's own
clock. A critic whose outputs are all exactly zero for the first ``degenerate_critic_after``
proposals never vetoes anything; :attr:`SafetyMonitor.critic_problem` then says so (a
diagnostic for the operator, not a stop: such a critic leaves every other rule working, and a
new bundle is the fix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from safevla_core.action_adapter import MotionProfile
from safevla_core.actions import ACTIONS
from safevla_core.critic_gate import CriticGate
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
        max_future_s: frame stamps at most this far ahead of the monitor's clock are accepted
            (clock skew between machines), s.
        degenerate_critic_after: this many all-zero critic outputs at the start flag the
            critic as degenerate (0 = never).
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
    max_future_s: float = 0.1
    degenerate_critic_after: int = 50

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_future_s) and self.max_future_s >= 0):
            raise ValueError(f"MonitorConfig.max_future_s = {self.max_future_s!r}; must be >= 0")
        if not self.degenerate_critic_after >= 0:
            n = self.degenerate_critic_after
            raise ValueError(f"MonitorConfig.degenerate_critic_after = {n!r}; must be >= 0")
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
        critic: the independent safety critic (:class:`safevla_core.critic_gate.CriticGate`;
            the caller feeds it frames and resets it per episode), None = off.
    """

    def __init__(
        self,
        config: MonitorConfig,
        start_s: float,
        rules: tuple[MonitorRule, ...] = RULES,
        critic: CriticGate | None = None,
    ) -> None:
        self.config = config
        self.rules = rules
        self.critic = critic
        self.estop = False
        self.last_frame_s = start_s
        self.last_proposal_s = start_s
        self.last_motion_s = -math.inf
        self.last: Decision | None = None
        self.last_stop_publish_s = -math.inf
        self.critic_problem = ""  # why the critic looks degenerate ("" = no sign of it)
        self._zero_critic = 0  # all-zero critic outputs since start (-1: saw a non-zero one)

    # inputs ------------------------------------------------------------------------------------
    def on_frame(self, stamp_s: float, now_s: float | None = None) -> str | None:
        """A frame was accepted by perception: its camera stamp, the monitor's clock at arrival
        (None: the stamp, for callers that share one clock). Returns why the stamp was
        rejected, or None."""
        now_s = stamp_s if now_s is None else now_s
        age = now_s - stamp_s
        if not math.isfinite(age):
            return f"frame stamp {stamp_s!r} is not a finite time"
        if age < -self.config.max_future_s:
            return f"frame stamped {-age:.3f} s in the future (> {self.config.max_future_s} s)"
        if age > self.config.frame_timeout_s:
            return f"frame stamp {age:.3f} s old (> {self.config.frame_timeout_s} s)"
        self.last_frame_s = max(self.last_frame_s, min(stamp_s, now_s))
        return None

    def on_estop(self, engaged: bool, now_s: float) -> Decision | None:
        """Latch or release the e-stop; engaging returns an immediate stop decision."""
        self.estop = bool(engaged)
        if not engaged:
            return None
        return self._record(idle_stop(Rule.ESTOP, ESTOP_REASON), now_s)

    def decide(self, p: Proposal, now_s: float) -> Decision:
        """The decision for one proposal: the first rule that stops, else the refined outcome."""
        self.last_proposal_s = now_s
        self._watch_critic(p)
        check = Check(p, now_s, self)
        for rule in self.rules:
            d = rule.check(check)
            if d is not None:
                return self._executed(self._record(d, now_s))
        d = self._executed(check.outcome())
        if ACTIONS[d.executed_action].moves_robot:
            self.last_motion_s = now_s  # the rate limit counts executed motions only
        return self._record(d, now_s)

    def check_watchdog(self, now_s: float) -> Decision | None:
        """A stop decision if a rule's idle check (watchdogs, e-stop) holds and a stop is due,
        else None."""
        holding = [(r, why) for r in self.rules if (why := r.check_idle(self, now_s)) is not None]
        if not holding:
            return None
        # the input that fell silent first is the likely cause (ties: rule order)
        order = sorted(range(len(holding)), key=lambda i: (holding[i][0].silent_since(self), i))
        rule, reason = holding[order[0]]
        if len(holding) > 1:
            reason += "; also " + "; ".join(holding[i][1] for i in order[1:])
        last = self.last
        ongoing = last is not None and last.safe_stop and last.rule is rule.name
        if ongoing and now_s - self.last_stop_publish_s < self.config.stop_repeat_s:
            return None
        return self._record(idle_stop(rule.name, reason, repeat=ongoing), now_s)

    def _executed(self, d: Decision) -> Decision:
        """Tell the critic what was sent on for this proposal (its next previous action)."""
        if self.critic is not None:
            critic_stop = d.safe_stop and d.rule is Rule.SAFETY_CRITIC
            self.critic.after_decision(d.executed_action, critic_stop)
        return d

    def _watch_critic(self, p: Proposal) -> None:
        n = self.config.degenerate_critic_after
        if n == 0 or self._zero_critic < 0 or p.predicted_cost.size == 0:
            return
        if np.any(p.predicted_cost != 0):  # NaN counts as non-zero: the NaN guard handles it
            self._zero_critic = -1
            return
        self._zero_critic += 1
        if self._zero_critic == n:
            self.critic_problem = (
                f"the cost critic predicted all-zero costs for the first {n} proposals: it "
                "never vetoes; check the bundle's critic (export/training)"
            )

    def _record(self, d: Decision, now_s: float) -> Decision:
        if d.safe_stop:
            self.last_stop_publish_s = now_s
            if self.last is not None and self.last.safe_stop and self.last.rule is d.rule:
                d = Decision(**{**d.__dict__, "repeat": True})
        self.last = d
        return d
