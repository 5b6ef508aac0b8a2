"""The safety monitor's decision types: rule names, severities, the decision, one proposal on its
way through the rules (:class:`Check`) and the rule base class. The rules themselves and their
order are in :mod:`safevla_core.monitor_rules` (which re-exports these names).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from safevla_core.actions import ACTIONS
from safevla_core.proposal_checks import Proposal

ESTOP_REASON = "e-stop engaged"


class Rule(str, enum.Enum):
    """Which rule decided (the SafetyVerdict.triggered_rule strings)."""

    NONE = ""
    COST_CRITIC = "cost_critic"
    SAFETY_CRITIC = "safety_critic"
    WATCHDOG_FRAME = "watchdog_frame"
    WATCHDOG_POLICY = "watchdog_policy"
    ESTOP = "estop"
    NAN_GUARD = "nan_guard"
    MALFORMED = "malformed_proposal"
    VELOCITY_LIMIT = "velocity_limit"
    RATE_LIMIT = "rate_limit"


CRITIC_RULES = frozenset({Rule.COST_CRITIC.value, Rule.SAFETY_CRITIC.value})


def critic_veto(vetoed: bool, triggered_rule: str) -> bool:
    """A verdict that vetoed the proposal by a critic (the policy's cost critic or the
    independent safety critic): what ``safevla run`` and the fleet report count as vetoes."""
    return bool(vetoed) and triggered_rule in CRITIC_RULES


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

    @property
    def critic_outcome(self) -> str:
        """``"replaced"`` or ``"stopped"`` when the independent safety critic vetoed the
        proposal (the counts in verdicts, diagnostics and evaluation records), else ``""``."""
        if self.rule is not Rule.SAFETY_CRITIC or not self.vetoed:
            return ""
        return "stopped" if self.safe_stop else "replaced"


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
        critic: the independent safety critic (a :class:`safevla_core.critic_gate.CriticGate`),
            None when none is configured.
    """

    config: Any
    estop: bool
    last_frame_s: float
    last_proposal_s: float
    last_motion_s: float
    critic: Any


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
        allowed: (A,) bool, the actions the rules so far allow (None: not narrowed yet); a
            later rule substitutes only among them.
    """

    proposal: Proposal
    now_s: float
    monitor: MonitorState
    executed: int = field(init=False)
    rule: Rule = Rule.NONE
    reason: str = ""
    category: str = ""
    allowed: np.ndarray | None = None

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

    def silent_since(self, m: MonitorState) -> float:
        """When the input this rule watches last arrived (monitor clock). When several idle
        checks hold at once, the input that fell silent first is named as the cause: a dead
        policy also delays frames, a dead camera also stops proposals. Rules that watch no
        input (the e-stop) return -inf and always come first."""
        return -math.inf
