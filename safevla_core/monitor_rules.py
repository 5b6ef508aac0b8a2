"""The safety monitor's rules: one class each, evaluated in the order of :data:`RULES`.

Every proposal goes through :meth:`MonitorRule.check` of each rule in turn; the first rule that
returns a :class:`Decision` (a stop) decides. A rule that passes may refine the outcome (the cost
critic substitutes the executed action). Between proposals, the monitor's timer asks
:meth:`MonitorRule.check_idle` of each rule in the same order (watchdogs, e-stop).

Adding a rule: a :class:`Rule` name (the ``SafetyVerdict.triggered_rule`` string), one
:class:`MonitorRule` subclass with its severity, and its place in :data:`RULES`. The monitor
(:class:`safevla_core.safety_monitor.SafetyMonitor`) holds the state the rules read. The checks
of a proposal's fields (shapes, names, finiteness, ranges) are plain functions in
:mod:`safevla_core.proposal_checks`, with :class:`Proposal` itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from safevla_core.action_adapter import command_for
from safevla_core.actions import ACTION_NAMES, ACTIONS
from safevla_core.proposal_checks import (  # noqa: F401 (PROB_SUM_TOL, COST_SUM_TOL re-exported)
    COST_SUM_TOL,
    PROB_SUM_TOL,
    Proposal,
    bad_costs,
    malformed_fields,
    non_finite,
    not_a_distribution,
)

ESTOP_REASON = "e-stop engaged"
# Terminal actions (end, sub_done) move nothing, so the critic never vetoes them.
_UNCOSTED = np.array([not a.moves_robot for a in ACTIONS])


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


def idle_stop(rule: Rule, reason: str, repeat: bool = False) -> Decision:
    """A stop that answers no proposal (watchdog timer, e-stop message)."""
    return Decision(0, -1, None, False, rule, reason, "", (), -1.0, repeat)


class MonitorState(Protocol):
    """What the rules read from the monitor.

    Attributes:
        config: the safety limits (a :class:`safevla_core.safety_monitor.MonitorConfig`).
        estop: the latched e-stop is engaged.
        last_frame_s: camera stamp of the newest accepted frame, s.
        last_proposal_s: arrival time of the newest proposal (the policy's heartbeat), s.
        last_motion_s: time of the last executed motion command, s.
    """

    config: Any
    estop: bool
    last_frame_s: float
    last_proposal_s: float
    last_motion_s: float


@dataclass
class Check:
    """One proposal on its way through the rules.

    Attributes:
        proposal: the policy's proposal.
        now_s: the monitor's clock when it arrived, s.
        monitor: the monitor's state and limits.
        executed: the action to execute so far (the proposed one until a rule substitutes).
        rule: the rule that shaped the outcome so far (``Rule.NONE`` while nothing vetoed).
        reason: why, for the verdict.
        category: the cost category behind a veto, if any.
    """

    proposal: Proposal
    now_s: float
    monitor: MonitorState
    executed: int = field(init=False)
    rule: Rule = Rule.NONE
    reason: str = ""
    category: str = ""

    def __post_init__(self) -> None:
        self.executed = self.proposal.action_index

    @property
    def frame_age_s(self) -> float:
        return self.now_s - self.proposal.frame_stamp_s

    @property
    def costs(self) -> tuple[float, ...]:
        return tuple(float(c) for c in self.proposal.predicted_cost)

    def stop(self, rule: Rule, reason: str, category: str = "") -> Decision:
        """A safe stop answering this (well-formed) proposal, with its costs and frame age."""
        p = self.proposal
        a0, costs, age = p.action_index, self.costs, self.frame_age_s
        return Decision(p.sequence, a0, None, a0 >= 0, rule, reason, category, costs, age)

    def refuse(self, rule: Rule, reason: str) -> Decision:
        """A safe stop for a proposal that may be malformed: no costs or frame age, and an
        index outside the action space reported as -1 (no action)."""
        a = self.proposal.action_index
        proposed = a if 0 <= a < len(ACTIONS) else -1
        return Decision(self.proposal.sequence, proposed, None, proposed >= 0, rule, reason)

    def outcome(self) -> Decision:
        """The decision when no rule stopped."""
        p = self.proposal
        a0, a = p.action_index, self.executed
        costs, age = self.costs, self.frame_age_s
        return Decision(
            p.sequence, a0, a, a != a0, self.rule, self.reason, self.category, costs, age
        )


class MonitorRule:
    """One rule. Subclasses set ``name`` and ``severity`` and override one or both checks."""

    name: Rule = Rule.NONE
    severity: int = INFO

    def check(self, c: Check) -> Decision | None:
        """A stop for this proposal, or None to pass it on (possibly refining ``c``)."""
        return None

    def check_idle(self, m: MonitorState, now_s: float) -> str | None:
        """Between proposals: the reason to stop now, or None."""
        return None


class EStop(MonitorRule):
    """Latched e-stop: while engaged, every decision is a stop."""

    name, severity = Rule.ESTOP, EMERGENCY

    def check(self, c: Check) -> Decision | None:
        if not c.monitor.estop:
            return None
        a0 = c.proposal.action_index
        return Decision(c.proposal.sequence, a0, None, a0 >= 0, self.name, ESTOP_REASON)

    def check_idle(self, m: MonitorState, now_s: float) -> str | None:
        return ESTOP_REASON if m.estop else None


class WellFormed(MonitorRule):
    """Every field of the proposal: ``len(p) = len(Q_c) = |A|``, the proposed index is an action,
    per-category costs are ``(|A|, |C|)`` or empty, and the names the sender gives (action
    space, proposed action, cost categories) are this monitor's; else stop, naming the field."""

    name, severity = Rule.MALFORMED, CRITICAL

    def check(self, c: Check) -> Decision | None:
        why = malformed_fields(c.proposal)
        return c.refuse(self.name, why) if why else None


class NanGuard(MonitorRule):
    """Probabilities, predicted costs and the frame stamp must be finite; else stop."""

    name, severity = Rule.NAN_GUARD, CRITICAL

    def check(self, c: Check) -> Decision | None:
        why = non_finite(c.proposal)
        return c.refuse(self.name, why) if why else None


class Distribution(MonitorRule):
    """``p_a in [0, 1]`` and ``|sum(p) - 1| <= 1e-3``; else stop."""

    name, severity = Rule.MALFORMED, CRITICAL

    def check(self, c: Check) -> Decision | None:
        why = not_a_distribution(c.proposal)
        return c.refuse(self.name, why) if why else None


class CostRange(MonitorRule):
    """A cost critic predicts expected future cost, so ``Q_c >= 0`` (the bundle's head is a
    softplus); per-category costs add up to the total. A negative or inconsistent cost would
    let an action through the veto, so it stops."""

    name, severity = Rule.MALFORMED, CRITICAL

    def check(self, c: Check) -> Decision | None:
        why = bad_costs(c.proposal)
        return c.refuse(self.name, why) if why else None


class FrameWatchdog(MonitorRule):
    """On the monitor's own clock: the proposal's frame stamp must lie within
    ``[now - frame_timeout_s, now + max_future_s]``, and the monitor itself must have accepted a
    frame (``safevla/image_stamp``) within ``frame_timeout_s``; else stop. Between proposals,
    the second check alone. A proposal's stamp is the sender's word, so it alone never keeps
    the robot moving."""

    name, severity = Rule.WATCHDOG_FRAME, CRITICAL

    def check(self, c: Check) -> Decision | None:
        cfg = c.monitor.config
        age, limit = c.frame_age_s, cfg.frame_timeout_s
        if age > limit:
            return c.stop(self.name, f"frame {age:.3f} s old > {limit} s")
        if age < -cfg.max_future_s:
            return c.stop(
                self.name, f"frame stamped {-age:.3f} s in the future > {cfg.max_future_s} s"
            )
        seen = c.now_s - c.monitor.last_frame_s
        if seen > limit:
            return c.stop(self.name, f"no accepted frame for {seen:.3f} s > {limit} s")
        return None

    def check_idle(self, m: MonitorState, now_s: float) -> str | None:
        age = now_s - m.last_frame_s
        return f"no fresh frame for {age:.3f} s" if age > m.config.frame_timeout_s else None


class PolicyHeartbeat(MonitorRule):
    """Between proposals: no proposal for ``heartbeat_timeout_s`` -> stop."""

    name, severity = Rule.WATCHDOG_POLICY, CRITICAL

    def check_idle(self, m: MonitorState, now_s: float) -> str | None:
        age = now_s - m.last_proposal_s
        if age > m.config.heartbeat_timeout_s:
            return f"no policy heartbeat for {age:.3f} s"
        return None


class CostCritic(MonitorRule):
    """The allowed set is ``S = {a : Q_c(s, a) <= threshold} ∪ {uncosted (terminal) actions}``.

    The proposed action is executed if it is in ``S``; otherwise it is vetoed and the monitor
    executes ``argmax_{a in S, a moves the robot} p_a``; if no moving action is allowed, a stop.
    """

    name, severity = Rule.COST_CRITIC, WARNING

    def check(self, c: Check) -> Decision | None:
        p, thr = c.proposal, c.monitor.config.cost_threshold
        q = p.predicted_cost
        allowed = (q <= thr) | _UNCOSTED
        a0 = p.action_index
        if allowed[a0]:
            c.reason = f"allowed: predicted cost {q[a0]:.3f} <= {thr:g}"
            return None
        category = _top_category(p, a0)
        why = f"critic: {ACTION_NAMES[a0]} predicted cost {q[a0]:.3f} > {thr:g}"
        if category:
            why += f" (mostly {category})"
        candidates = allowed & ~_UNCOSTED
        if not candidates.any():
            return c.stop(self.name, why + "; no allowed motion: safe stop", category)
        best = int(np.argmax(np.where(candidates, p.probabilities, -1.0)))
        why += (
            f"; executing {ACTION_NAMES[best]} (p={p.probabilities[best]:.3f}, cost {q[best]:.3f})"
        )
        c.executed, c.rule, c.reason, c.category = best, self.name, why, category
        return None


class VelocityLimit(MonitorRule):
    """The adapter's command for the executed action (same motion profile) must satisfy
    ``|v| <= max_linear_speed``, ``|w| <= max_angular_speed``, arm ``<= max_arm_speed``."""

    name, severity = Rule.VELOCITY_LIMIT, WARNING

    def check(self, c: Check) -> Decision | None:
        cfg = c.monitor.config
        cmd = command_for(c.executed, cfg.motion)
        if abs(cmd.linear_x) > cfg.max_linear_speed:
            why = f"|v| {abs(cmd.linear_x):g} > max_linear_speed {cfg.max_linear_speed:g}"
        elif abs(cmd.angular_z) > cfg.max_angular_speed:
            why = f"|w| {abs(cmd.angular_z):g} > max_angular_speed {cfg.max_angular_speed:g}"
        elif cmd.arm_speed > cfg.max_arm_speed:
            why = f"arm {cmd.arm_speed:g} > max_arm_speed {cfg.max_arm_speed:g}"
        else:
            return None
        return c.stop(self.name, f"{cmd.action}: {why}")


class RateLimit(MonitorRule):
    """Motion commands at most ``max_action_rate_hz``:
    ``now - t_last_motion >= 1 / max_action_rate_hz``, else stop."""

    name, severity = Rule.RATE_LIMIT, WARNING

    def check(self, c: Check) -> Decision | None:
        if not ACTIONS[c.executed].moves_robot:
            return None
        rate = c.monitor.config.max_action_rate_hz
        gap = c.now_s - c.monitor.last_motion_s
        if gap < 1.0 / rate:
            return c.stop(
                self.name,
                f"{gap * 1e3:.1f} ms since the last motion < {1e3 / rate:.1f} ms",
            )
        return None


# In order: the first rule that stops decides.
RULES: tuple[MonitorRule, ...] = (
    EStop(),
    WellFormed(),
    NanGuard(),
    CostRange(),
    Distribution(),
    FrameWatchdog(),
    PolicyHeartbeat(),
    CostCritic(),
    VelocityLimit(),
    RateLimit(),
)
SEVERITY: dict[Rule, int] = {Rule.NONE: INFO, **{r.name: r.severity for r in RULES}}


def _top_category(p: Proposal, action: int) -> str:
    c = p.cost_by_category
    if c.size == 0 or not p.cost_categories:
        return ""
    return p.cost_categories[int(np.argmax(c[action]))]
