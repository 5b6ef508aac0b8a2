"""Unit tests of the monitor's decision logic with constructed critic outputs (no rclpy)."""

import math

import numpy as np
import pytest

from safevla_core.action_adapter import MotionProfile
from safevla_core.actions import ACTION_NAMES, NUM_ACTIONS
from safevla_core.monitor_rules import (
    ESTOP_REASON,
    RULES,
    SEVERITY,
    WARNING,
    Check,
    CostCritic,
    MonitorRule,
)
from safevla_core.safety_monitor import MonitorConfig, Proposal, Rule, SafetyMonitor
from safevla_core.safety_spec import COST_CATEGORIES

AHEAD, BACK, RIGHT, LEFT = (
    ACTION_NAMES.index(n) for n in ("move_ahead", "move_back", "rotate_right", "rotate_left")
)


def proposal(probs: dict, costs: dict | None = None, seq=1, stamp=10.0, action=None):
    p = np.full(NUM_ACTIONS, 0.0, np.float32)
    for a, v in probs.items():
        p[a] = v
    p /= p.sum()
    q = np.zeros(NUM_ACTIONS, np.float32)
    byc = np.zeros((NUM_ACTIONS, len(COST_CATEGORIES)), np.float32)
    for a, (cat, v) in (costs or {}).items():
        byc[a, COST_CATEGORIES.index(cat)] = v
        q[a] = v
    a0 = int(np.argmax(p)) if action is None else action
    return Proposal(seq, a0, p, q, byc, COST_CATEGORIES, stamp)


def test_allowed_action_passes():
    m = SafetyMonitor(MonitorConfig(), start_s=10.0)
    d = m.decide(proposal({AHEAD: 0.7, RIGHT: 0.3}), now_s=10.05)
    assert d.executed_action == AHEAD and not d.vetoed and d.rule is Rule.NONE
    assert not d.needs_event and math.isclose(d.frame_age_s, 0.05, abs_tol=1e-9)


def test_critic_vetoes_preferred_unsafe_action_and_executes_most_likely_safe_one():
    m = SafetyMonitor(MonitorConfig(cost_threshold=0.3), start_s=10.0)
    p = proposal(
        {AHEAD: 0.6, LEFT: 0.1, RIGHT: 0.3},
        {AHEAD: ("fragile_collection", 0.9), RIGHT: ("corner", 0.1)},
    )
    d = m.decide(p, now_s=10.01)
    assert d.vetoed and d.proposed_action == AHEAD
    assert d.executed_action == RIGHT  # most likely allowed, not the unsafe favourite
    assert d.rule is Rule.COST_CRITIC and d.category == "fragile_collection"
    assert d.predicted_cost[d.executed_action] <= 0.3 and d.needs_event


def test_no_allowed_motion_is_a_safe_stop_and_terminal_is_never_substituted():
    m = SafetyMonitor(MonitorConfig(cost_threshold=0.3), start_s=0.0)
    costs = {a: ("corner", 0.8) for a in range(NUM_ACTIONS)}
    d = m.decide(
        proposal({AHEAD: 0.5, ACTION_NAMES.index("end"): 0.5}, costs, action=AHEAD, stamp=0.0),
        now_s=0.01,
    )
    assert d.safe_stop and d.vetoed and d.rule is Rule.COST_CRITIC


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_guard(bad):
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    p = proposal({AHEAD: 1.0}, stamp=0.0)
    p.predicted_cost[3] = bad
    d = m.decide(p, now_s=0.01)
    assert d.safe_stop and d.rule is Rule.NAN_GUARD


def test_malformed_distribution_and_shapes_stop():
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    p = proposal({AHEAD: 1.0}, stamp=0.0)
    p.probabilities[AHEAD] = 0.5  # sums to 0.5
    assert m.decide(p, 0.01).rule is Rule.MALFORMED
    short = Proposal(1, 0, np.ones(3) / 3, np.zeros(3), np.zeros(0), (), 0.0)
    assert m.decide(short, 0.02).safe_stop


def test_stale_frame_in_proposal_stops():
    m = SafetyMonitor(MonitorConfig(frame_timeout_s=0.2), start_s=0.0)
    d = m.decide(proposal({AHEAD: 1.0}, stamp=1.0), now_s=1.5)
    assert d.safe_stop and d.rule is Rule.WATCHDOG_FRAME


def test_watchdogs_fire_and_repeat_without_event_flood():
    m = SafetyMonitor(
        MonitorConfig(frame_timeout_s=0.2, heartbeat_timeout_s=0.3, stop_repeat_s=1.0), start_s=0.0
    )
    m.on_frame(0.0)
    assert m.decide(proposal({AHEAD: 1.0}, stamp=0.0), 0.05).executed_action == AHEAD
    assert m.check_watchdog(0.1) is None
    d = m.check_watchdog(0.25)  # frame older than 0.2 s
    assert d.safe_stop and d.rule is Rule.WATCHDOG_FRAME and d.needs_event
    assert m.check_watchdog(0.3) is None  # ongoing: no repeat before stop_repeat_s
    r = m.check_watchdog(1.3)
    assert r.safe_stop and r.repeat and not r.needs_event
    m.on_frame(1.3)  # frames resume, but the policy is silent
    d = m.check_watchdog(1.31)
    assert d.rule is Rule.WATCHDOG_POLICY and d.needs_event


def test_when_both_watchdogs_hold_the_input_silent_first_is_named():
    cfg = MonitorConfig(frame_timeout_s=0.5, heartbeat_timeout_s=0.5)
    # the policy dies at 1.0; the frames behind it stall a moment later (1.05)
    m = SafetyMonitor(cfg, start_s=0.0)
    m.on_frame(1.0)
    m.decide(proposal({AHEAD: 1.0}, stamp=1.0), 1.0)
    m.on_frame(1.05)
    d = m.check_watchdog(1.7)
    assert d.rule is Rule.WATCHDOG_POLICY and d.safe_stop
    assert "no policy heartbeat for 0.700 s" in d.reason and "no fresh frame" in d.reason
    # the camera dies at 1.0; the proposals that need its frames stop a moment later
    m = SafetyMonitor(cfg, start_s=0.0)
    m.on_frame(1.0)
    m.decide(proposal({AHEAD: 1.0}, stamp=1.0), 1.05)
    d = m.check_watchdog(1.7)
    assert d.rule is Rule.WATCHDOG_FRAME and "also no policy heartbeat" in d.reason
    # the e-stop comes first whatever went silent
    m.on_estop(True, 1.8)
    d = m.check_watchdog(1.8 + cfg.stop_repeat_s + 0.01)
    assert d.rule is Rule.ESTOP and d.reason.startswith(ESTOP_REASON)


def test_estop_latches_until_released():
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    d = m.on_estop(True, 0.0)
    assert d.safe_stop and d.rule is Rule.ESTOP
    for k in range(3):
        d = m.decide(proposal({AHEAD: 1.0}, seq=k, stamp=0.1 * k), 0.1 * k + 0.01)
        assert d.safe_stop and d.rule is Rule.ESTOP
    assert m.on_estop(False, 0.35) is None
    assert m.decide(proposal({AHEAD: 1.0}, stamp=0.4), 0.41).executed_action == AHEAD


def test_rate_limit():
    m = SafetyMonitor(MonitorConfig(max_action_rate_hz=5.0), start_s=0.0)
    assert m.decide(proposal({AHEAD: 1.0}, stamp=0.0), 0.0).executed_action == AHEAD
    d = m.decide(proposal({AHEAD: 1.0}, stamp=0.1), 0.1)
    assert d.safe_stop and d.rule is Rule.RATE_LIMIT
    assert m.decide(proposal({AHEAD: 1.0}, stamp=0.25), 0.25).executed_action == AHEAD


def test_velocity_limit_uses_the_adapters_motion_profile():
    cfg = MonitorConfig(max_linear_speed=0.3, motion=MotionProfile(linear_speed=0.5))
    m = SafetyMonitor(cfg, start_s=0.0)
    d = m.decide(proposal({AHEAD: 1.0}, stamp=0.0), 0.0)
    assert d.safe_stop and d.rule is Rule.VELOCITY_LIMIT and "max_linear_speed" in d.reason
    assert m.decide(proposal({RIGHT: 1.0}, stamp=0.1), 0.1).executed_action == RIGHT


def test_config_validation_names_the_value():
    with pytest.raises(ValueError, match="frame_timeout_s"):
        MonitorConfig(frame_timeout_s=0.0)
    with pytest.raises(ValueError, match="cost_threshold"):
        MonitorConfig(cost_threshold=float("nan"))


def test_rules_are_evaluated_in_order_first_stop_decides():
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    p = proposal({AHEAD: 1.0}, stamp=0.0)
    p.probabilities[AHEAD] = np.nan  # also not a distribution: the NaN guard comes first
    assert m.decide(p, 0.01).rule is Rule.NAN_GUARD
    m.on_estop(True, 0.02)
    d = m.decide(p, 0.03)  # the e-stop comes before the proposal checks
    assert d.rule is Rule.ESTOP and d.proposed_action == AHEAD and d.predicted_cost == ()
    bad_index = proposal({AHEAD: 1.0}, stamp=0.0, action=300)
    m.on_estop(False, 0.04)
    d = m.decide(bad_index, 0.05)
    assert d.rule is Rule.MALFORMED and d.proposed_action == -1 and not d.vetoed


def test_every_rule_name_has_a_severity_and_a_rule_class():
    assert set(SEVERITY) == set(Rule)
    assert {r.name for r in RULES} == set(Rule) - {Rule.NONE}


class _NoArmMotion(MonitorRule):
    """A site rule: this robot's arm is locked (stops arm actions, any cost)."""

    name, severity = Rule.VELOCITY_LIMIT, WARNING

    def check(self, c: Check):
        if ACTION_NAMES[c.executed].startswith(("arm_", "wrist_")):
            return c.stop(self.name, f"{ACTION_NAMES[c.executed]}: arm locked")
        return None


def test_a_new_rule_is_one_class_in_the_rule_list():
    arm = next(i for i, n in enumerate(ACTION_NAMES) if n.startswith("arm_"))
    p = proposal({arm: 1.0}, stamp=0.0)
    assert not SafetyMonitor(MonitorConfig(), 0.0).decide(p, 0.01).safe_stop
    at = next(i for i, r in enumerate(RULES) if isinstance(r, CostCritic)) + 1
    rules = (*RULES[:at], _NoArmMotion(), *RULES[at:])
    d = SafetyMonitor(MonitorConfig(), 0.0, rules=rules).decide(p, 0.01)
    assert (
        d.safe_stop
        and d.reason.endswith("arm locked")
        and d.predicted_cost == (0.0,) * NUM_ACTIONS
    )


# --- hostile and careless input (issue 11) ------------------------------------------------------


def test_negative_predicted_cost_is_a_malformed_proposal_and_stops():
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    p = proposal({AHEAD: 1.0}, {AHEAD: ("corner", -0.5)}, stamp=0.0)
    d = m.decide(p, now_s=0.01)
    assert d.safe_stop and d.rule is Rule.MALFORMED
    assert "negative predicted cost" in d.reason and "move_ahead" in d.reason


def test_index_outside_the_action_space_is_refused_as_no_action():
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    for bad in (20, 200):
        d = m.decide(proposal({AHEAD: 1.0}, stamp=0.0, action=bad), now_s=0.01)
        assert d.safe_stop and d.rule is Rule.MALFORMED and d.proposed_action == -1
        assert f"action_index {bad}" in d.reason


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("action_names", tuple(reversed(ACTION_NAMES)), "action_names"),
        ("action_name", "rotate_left", "action_name 'rotate_left'"),
        ("cost_categories", tuple(reversed(COST_CATEGORIES)), "cost_categories"),
        ("model_latency_ms", float("nan"), "model_latency_ms"),
    ],
)
def test_every_field_is_checked_and_named(field, value, match):
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    good = proposal({AHEAD: 1.0}, stamp=0.0)
    assert not m.decide(good, now_s=0.0).safe_stop
    bad = Proposal(**{**good.__dict__, field: value})
    d = m.decide(bad, now_s=0.2)
    assert d.safe_stop and d.rule is Rule.MALFORMED and match in d.reason


def test_costs_by_category_must_add_up_to_the_predicted_cost():
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    p = proposal({AHEAD: 1.0}, {RIGHT: ("corner", 0.9)}, stamp=0.0)
    p.predicted_cost[RIGHT] = 0.0  # the total hides the per-category cost
    d = m.decide(p, now_s=0.01)
    assert d.safe_stop and d.rule is Rule.MALFORMED and "sum" in d.reason


def test_a_future_frame_stamp_is_rejected_and_does_not_disable_the_watchdog():
    m = SafetyMonitor(MonitorConfig(frame_timeout_s=0.5), start_s=0.0)
    assert m.on_frame(0.0, now_s=0.0) is None
    why = m.on_frame(1e6, now_s=0.1)  # one future-dated header
    assert why is not None and "future" in why
    d = m.check_watchdog(0.6)  # no real frame since 0.0
    assert d is not None and d.safe_stop and d.rule is Rule.WATCHDOG_FRAME
    assert "old" in m.on_frame(0.0, now_s=5.0)  # a past stamp beyond the timeout: rejected


def test_fresh_proposal_stamps_do_not_pass_while_no_camera_frame_arrives():
    m = SafetyMonitor(MonitorConfig(frame_timeout_s=0.5), start_s=0.0)
    m.on_frame(0.0, now_s=0.0)
    d = m.decide(proposal({AHEAD: 1.0}, stamp=2.0), now_s=2.0)  # the proposal's own stamp
    assert d.safe_stop and d.rule is Rule.WATCHDOG_FRAME and "no accepted frame" in d.reason


def test_a_proposal_stamped_in_the_future_stops():
    m = SafetyMonitor(MonitorConfig(), start_s=0.0)
    d = m.decide(proposal({AHEAD: 1.0}, stamp=100.0), now_s=0.01)
    assert d.safe_stop and d.rule is Rule.WATCHDOG_FRAME and "future" in d.reason


def test_an_all_zero_critic_is_flagged_after_the_first_proposals_without_stopping():
    cfg = MonitorConfig(degenerate_critic_after=5)
    m = SafetyMonitor(cfg, start_s=0.0)
    for k in range(5):
        assert m.critic_problem == ""
        d = m.decide(proposal({AHEAD: 1.0}, stamp=k * 0.1), now_s=k * 0.1)
        assert not d.safe_stop
    assert "all-zero" in m.critic_problem and "5 proposals" in m.critic_problem
    live = SafetyMonitor(cfg, start_s=0.0)
    live.decide(proposal({AHEAD: 1.0}, {RIGHT: ("corner", 0.01)}, stamp=0.0), now_s=0.0)
    for k in range(1, 8):
        live.decide(proposal({AHEAD: 1.0}, stamp=k * 0.1), now_s=k * 0.1)
    assert live.critic_problem == ""
