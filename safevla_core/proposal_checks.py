"""The policy's proposal as plain data, and the checks of its fields.

Each check takes a :class:`Proposal` and returns why it is unusable, or ``""`` when it is fine;
the safety monitor's rules (:mod:`safevla_core.monitor_rules`: ``WellFormed``, ``NanGuard``,
``CostRange``, ``Distribution``) turn a non-empty answer into a stop. A check may assume the
checks its rule runs after have passed (shapes before values, finite before ranges).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from safevla_core.actions import ACTION_NAMES, ACTIONS
from safevla_core.safety_spec import COST_CATEGORIES

PROB_SUM_TOL = 1e-3
# Per-category costs must add up to the total within this (float32 sums of 5 values).
COST_SUM_TOL = 1e-3


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
        action_names: the sender's action space in index order (empty = not given).
        action_name: the sender's name of the proposed action (empty = not given).
        model_latency_ms: inference time the sender reports (finite, >= 0).
    """

    sequence: int
    action_index: int
    probabilities: np.ndarray
    predicted_cost: np.ndarray
    cost_by_category: np.ndarray
    cost_categories: tuple[str, ...]
    frame_stamp_s: float
    action_names: tuple[str, ...] = ()
    action_name: str = ""
    model_latency_ms: float = 0.0


def malformed_fields(p: Proposal) -> str:
    """Shapes and names: ``len(p) = len(Q_c) = |A|``, the proposed index is an action,
    per-category costs are ``(|A|, |C|)`` or empty, the names the sender gives (action space,
    proposed action, cost categories) are this robot's, and the reported latency is a finite
    time >= 0."""
    n, probs, q, byc = len(ACTIONS), p.probabilities, p.predicted_cost, p.cost_by_category
    if probs.shape != (n,) or q.shape != (n,):
        return f"expected {n} probabilities and costs, got {probs.shape} and {q.shape}"
    if not 0 <= p.action_index < n:
        return f"action_index {p.action_index} outside the action space 0..{n - 1}"
    if p.action_names and tuple(p.action_names) != ACTION_NAMES:
        return f"action_names {list(p.action_names)[:4]}... are not this robot's action space"
    if p.action_name and p.action_name != ACTION_NAMES[p.action_index]:
        return (
            f"action_name {p.action_name!r} does not match action_index {p.action_index} "
            f"({ACTION_NAMES[p.action_index]})"
        )
    if byc.size and byc.shape != (n, len(p.cost_categories)):
        return f"per-category costs shape {byc.shape} != ({n}, {len(p.cost_categories)})"
    if p.cost_categories and tuple(p.cost_categories) != COST_CATEGORIES:
        return f"cost_categories {list(p.cost_categories)} != the safety spec's {COST_CATEGORIES}"
    if not (math.isfinite(p.model_latency_ms) and p.model_latency_ms >= 0):
        return f"model_latency_ms {p.model_latency_ms!r} is not a finite time >= 0"
    return ""


def non_finite(p: Proposal) -> str:
    """Probabilities, predicted costs and the frame stamp must be finite."""
    arrays = (p.probabilities, p.predicted_cost, p.cost_by_category)
    if not all(np.isfinite(a).all() for a in arrays):
        return "non-finite (NaN/Inf) probabilities or predicted costs"
    if not math.isfinite(p.frame_stamp_s):
        return "non-finite frame stamp"
    return ""


def not_a_distribution(p: Proposal) -> str:
    """``p_a in [0, 1]`` and ``|sum(p) - 1| <= PROB_SUM_TOL``."""
    probs = p.probabilities
    total = float(probs.sum())
    if (probs < 0).any() or (probs > 1).any() or abs(total - 1.0) > PROB_SUM_TOL:
        return f"probabilities are not a distribution (sum {total:.4f})"
    return ""


def bad_costs(p: Proposal) -> str:
    """``Q_c >= 0`` per action and per category, and the per-category costs of each action sum
    to its total: ``|sum_k Q_c(s, a, k) - Q_c(s, a)| <= COST_SUM_TOL * (1 + |Q_c(s, a)|)``."""
    q, byc = p.predicted_cost, p.cost_by_category
    if (q < 0).any():
        a = int(np.argmin(q))
        return f"negative predicted cost {q[a]:.4g} for {ACTION_NAMES[a]}; a critic gives >= 0"
    if byc.size and (byc < 0).any():
        a, k = np.unravel_index(int(np.argmin(byc)), byc.shape)
        return (
            f"negative predicted cost {byc[a, k]:.4g} for {ACTION_NAMES[a]} in "
            f"{p.cost_categories[k]}"
        )
    if byc.size:
        gap = np.abs(byc.sum(axis=1) - q)
        if (gap > COST_SUM_TOL * (1.0 + np.abs(q))).any():
            a = int(np.argmax(gap))
            return (
                f"per-category costs of {ACTION_NAMES[a]} sum to {byc[a].sum():.4g}, "
                f"predicted_cost says {q[a]:.4g}"
            )
    return ""
