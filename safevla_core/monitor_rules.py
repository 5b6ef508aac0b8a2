"""The safety monitor's rules: one class each, evaluated in the order of :data:`RULES`.

Every proposal goes through :meth:`MonitorRule.check` of each rule in turn; the first rule that
returns a :class:`Decision` (a stop) decides. A rule that passes may refine the outcome (the cost
critic substitutes the executed action). Between proposals, the monitor's timer asks
:meth:`MonitorRule.check_idle` of each rule in the same order (watchdogs, e-stop).

Adding a rule: a :class:`Rule` name (the ``SafetyVerdict.triggered_rule`` string, in
:mod:`safevla_core.monitor_types` with the other decision types, re-exported here), one
:class:`MonitorRule` subclass with its severity, and its place in :data:`RULES`. The monitor
(:class:`safevla_core.safety_monitor.SafetyMonitor`) holds the state the rules read. The checks
of a proposal's fields (shapes, names, finiteness, ranges) are plain functions in
:mod:`safevla_core.proposal_checks`, with :class:`Proposal` itself.
"""

from __future__ import annotations

import numpy as np

from safevla_core.action_adapter import command_for
from safevla_core.actions import ACTION_NAMES, ACTIONS
from safevla_core.monitor_types import (  # noqa: F401 (re-exported: the rules' types)
    CRITICAL,
    EMERGENCY,
    ESTOP_REASON,
    INFO,
    WARNING,
    Check,
    Decision,
    MonitorRule,
    MonitorState,
    Rule,
    idle_stop,
)
from safevla_core.proposal_checks import (  # noqa: F401 (PROB_SUM_TOL, COST_SUM_TOL re-exported)
    COST_SUM_TOL,
    PROB_SUM_TOL,
    Proposal,
    bad_costs,
    malformed_fields,
    non_finite,
    not_a_distribution,
)
from safevla_core.safety_critic import CriticOutputError

# Terminal actions (end, sub_done) move nothing, so the critic never vetoes them.
_UNCOSTED = np.array([not a.moves_robot for a in ACTIONS])


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

    def silent_since(self, m: MonitorState) -> float:
        return m.last_frame_s


class PolicyHeartbeat(MonitorRule):
    """Between proposals: no proposal for ``heartbeat_timeout_s`` -> stop."""

    name, severity = Rule.WATCHDOG_POLICY, CRITICAL

    def check_idle(self, m: MonitorState, now_s: float) -> str | None:
        age = now_s - m.last_proposal_s
        if age > m.config.heartbeat_timeout_s:
            return f"no policy heartbeat for {age:.3f} s"
        return None

    def silent_since(self, m: MonitorState) -> float:
        return m.last_proposal_s


class CostCritic(MonitorRule):
    """The allowed set is ``S = {a : Q_c(s, a) <= threshold} ∪ {uncosted (terminal) actions}``.

    The proposed action is executed if it is in ``S``; otherwise it is vetoed and the monitor
    executes ``argmax_{a in S, a moves the robot} p_a``; if no moving action is allowed, a stop.
    """

    name, severity = Rule.COST_CRITIC, WARNING

    def check(self, c: Check) -> Decision | None:
        p, thr = c.proposal, c.monitor.config.cost_threshold
        q = p.predicted_cost
        allowed = c.allowed = (q <= thr) | _UNCOSTED
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


class SafetyCriticRule(MonitorRule):
    """The independent safety critic (configured: ``SafetyMonitor(critic=CriticGate)``, else it
    passes everything): one critic step on the frame the proposal was computed from; the action
    the earlier rules let through is executed unless its risk reaches the calibrated threshold
    in some category; then the most probable motion with ``p_a > 0``, allowed by the earlier
    rules and with risk below ``margin x threshold`` everywhere replaces it, or a safe stop
    (:mod:`safevla_core.critic_gate`). No frame with the proposal's stamp, no motion feedback
    for a critic that reads it, or a broken critic output, is a stop: the critic cannot vouch
    for the action."""

    name, severity = Rule.SAFETY_CRITIC, WARNING

    def check(self, c: Check) -> Decision | None:
        gate = c.monitor.critic
        if gate is None:
            return None
        p = c.proposal
        frame = gate.frame_for(p.frame_stamp_s)
        if frame is None:
            why = "safety critic: the frame of this proposal (its stamp) never reached the monitor"
            return c.stop(self.name, why)
        missing = gate.missing_input(c.now_s)
        if missing:
            return c.stop(self.name, missing)
        try:
            call = gate.judge(frame, c.executed, p.probabilities, c.allowed)
        except CriticOutputError as exc:
            return c.stop(self.name, str(exc))
        if call.executed is None:
            return c.stop(self.name, call.reason, call.category)
        if call.vetoed:
            c.executed, c.rule, c.reason, c.category = (
                call.executed,
                self.name,
                call.reason,
                call.category,
            )
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
    SafetyCriticRule(),
    VelocityLimit(),
    RateLimit(),
)
SEVERITY: dict[Rule, int] = {Rule.NONE: INFO, **{r.name: r.severity for r in RULES}}


def _top_category(p: Proposal, action: int) -> str:
    c = p.cost_by_category
    if c.size == 0 or not p.cost_categories:
        return ""
    return p.cost_categories[int(np.argmax(c[action]))]
