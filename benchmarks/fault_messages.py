"""Hostile messages of the fault benchmarks: malformed proposals and forged verdicts.

Each is valid in every field but the one under test, so the receiver's check for that field is
what decides.
"""

from __future__ import annotations

import numpy as np

from safevla_core.actions import ACTION_NAMES
from safevla_core.safety_spec import COST_CATEGORIES
from safevla_ros.msg import ActionProposal, SafetyVerdict

AHEAD = ACTION_NAMES.index("move_ahead")
# What each malformed proposal gets wrong, in turn.
BAD_KINDS = ("action_index_20", "nan_probability", "negative_cost", "foreign_action_names")


def bad_proposal(recorder, k: int) -> ActionProposal:
    """The ``k``-th malformed proposal (kind ``BAD_KINDS[k % 4]``), freshly stamped."""
    p = np.zeros(len(ACTION_NAMES), np.float32)
    p[AHEAD] = 1.0
    cost = np.zeros((len(ACTION_NAMES), len(COST_CATEGORIES)), np.float32)
    names = list(ACTION_NAMES)
    msg = ActionProposal(action_index=AHEAD, action_name="move_ahead", sequence=10**9 + k)
    kind = BAD_KINDS[k % len(BAD_KINDS)]
    if kind == "action_index_20":
        msg.action_index, msg.action_name = len(ACTION_NAMES), "move_ahead"
    elif kind == "nan_probability":
        p[AHEAD] = np.nan
    elif kind == "negative_cost":
        cost[AHEAD, 0] = -1.0
    else:
        names = names[::-1]
    msg.header.stamp = recorder.now_msg()
    msg.action_names = names
    msg.action_probabilities = p.tolist()
    msg.cost_categories = list(COST_CATEGORIES)
    msg.predicted_cost = cost.sum(1).tolist()
    msg.predicted_cost_by_category = cost.ravel().tolist()
    return msg


def forged_verdict(recorder, real: SafetyVerdict | None, k: int) -> SafetyVerdict:
    """A fresh move_ahead verdict. With ``real`` (a genuine verdict): the monitor's id and the
    next sequence number, but no valid HMAC; without: from another node ("/teleop#1")."""
    v = SafetyVerdict(executed_action=AHEAD, executed_action_name="move_ahead")
    v.proposed_action, v.proposed_action_name = AHEAD, "move_ahead"
    v.action_names = list(ACTION_NAMES)
    v.header.stamp = recorder.now_msg()
    if real is not None:
        v.monitor_id, v.verdict_sequence = real.monitor_id, int(real.verdict_sequence) + 1
        v.auth = "0" * 64
    else:
        v.monitor_id, v.verdict_sequence = "/teleop#1", k + 1
    return v
