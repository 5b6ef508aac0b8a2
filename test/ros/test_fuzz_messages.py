"""Hostile and careless messages through the nodes' pure handling functions (no DDS, no
rclpy.init): each input is handled or rejected with a diagnostic, never an exception, and no
command leaves the adapter's guard without a valid verdict. Property-based (hypothesis), with a
bounded number of examples so CI stays fast."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safevla_core.action_adapter import AdapterLimits, MotionProfile, VerdictGate
from safevla_core.actions import ACTION_NAMES, NUM_ACTIONS
from safevla_core.image_preprocessing import (
    ENCODINGS,
    ImageFormatError,
    PreprocessConfig,
    StaleFrameError,
    preprocess,
)
from safevla_core.safety_monitor import MonitorConfig, Rule, SafetyMonitor
from safevla_core.safety_spec import COST_CATEGORIES
from safevla_ros.msg import ActionProposal, SafetyVerdict
from safevla_ros.msg_conversions import (
    decide_proposal,
    sign_verdict,
    to_event,
    to_verdict,
    verdict_in,
)
from safevla_ros.policy_node import instruction_problem

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
F32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
NOW = 1000.0
AHEAD = ACTION_NAMES.index("move_ahead")


def test_an_action_index_past_the_action_space_is_a_stop_verdict_with_an_event():
    """Issue 11: action_index 20 passed the uint8 range check, then indexing ACTION_NAMES
    raised IndexError in the monitor process, which exited."""
    m = SafetyMonitor(MonitorConfig(), start_s=NOW)
    for bad in (20, 200, 255):
        msg = valid_proposal()
        msg.action_index = bad
        d = decide_proposal(m, msg, NOW)
        v = to_verdict(d, msg.header.stamp, 0.3, 0.0)
        e = to_event(d, v, "robot")
        assert v.safe_stop and v.triggered_rule == "malformed_proposal"
        assert f"action_index {bad}" in v.reason and e.reason == v.reason


def valid_proposal(seq: int = 1) -> ActionProposal:
    p = np.full(NUM_ACTIONS, 1.0 / NUM_ACTIONS, np.float32)
    msg = ActionProposal(action_index=AHEAD, action_name="move_ahead", sequence=seq)
    msg.header.stamp.sec = int(NOW)
    msg.action_names = list(ACTION_NAMES)
    msg.action_probabilities = p.tolist()
    msg.cost_categories = list(COST_CATEGORIES)
    msg.predicted_cost = [0.0] * NUM_ACTIONS
    msg.predicted_cost_by_category = [0.0] * (NUM_ACTIONS * len(COST_CATEGORIES))
    return msg


@st.composite
def proposals(draw) -> ActionProposal:
    """Every field at and beyond its range: lengths, values, names, stamps."""
    msg = valid_proposal(draw(st.integers(0, 2**64 - 1)))
    n = st.one_of(st.just(NUM_ACTIONS), st.integers(0, 3 * NUM_ACTIONS))
    if draw(st.booleans()):
        msg.action_index = draw(st.integers(0, 255))
    if draw(st.booleans()):
        msg.action_name = draw(st.one_of(st.sampled_from(ACTION_NAMES), st.text(max_size=20)))
    if draw(st.booleans()):
        msg.action_names = draw(st.lists(st.text(max_size=12), max_size=25))
    if draw(st.booleans()):
        size = draw(n)
        msg.action_probabilities = draw(st.lists(F32, min_size=size, max_size=size))
    if draw(st.booleans()):
        msg.predicted_cost = draw(st.lists(F32, max_size=3 * NUM_ACTIONS))
    if draw(st.booleans()):
        msg.predicted_cost_by_category = draw(st.lists(F32, max_size=120))
    if draw(st.booleans()):
        msg.cost_categories = draw(st.lists(st.text(max_size=10), max_size=7))
    if draw(st.booleans()):
        msg.model_latency_ms = draw(F32)
    if draw(st.booleans()):
        msg.header.stamp.sec = draw(st.integers(-(2**31), 2**31 - 1))
        msg.header.stamp.nanosec = draw(st.integers(0, 2**32 - 1))
    msg.instruction = draw(st.text(max_size=50))
    msg.bundle_id = draw(st.text(max_size=20))
    return msg


@FUZZ
@given(msg=proposals(), estop=st.booleans())
def test_the_monitor_answers_every_proposal_and_moves_only_on_a_sound_one(msg, estop):
    m = SafetyMonitor(MonitorConfig(cost_threshold=0.3), start_s=NOW)
    m.on_estop(estop, NOW)
    d = decide_proposal(m, msg, NOW + 0.01)
    v = to_verdict(d, msg.header.stamp, 0.3, 0.0)
    to_event(d, v, "robot")
    if d.safe_stop:
        assert d.rule is not Rule.NONE and d.reason
        return
    probs = np.asarray(msg.action_probabilities, np.float64)
    q = np.asarray(msg.predicted_cost, np.float64)
    assert not estop and len(probs) == len(q) == NUM_ACTIONS
    assert np.isfinite(probs).all() and np.isfinite(q).all() and (q >= 0).all()
    assert abs(probs.sum() - 1) <= 1e-3 and msg.action_index < NUM_ACTIONS
    assert q[d.executed_action] <= 0.3 or not ACTION_NAMES[d.executed_action].startswith("m")


@st.composite
def verdicts(draw) -> SafetyVerdict:
    v = SafetyVerdict(
        proposal_sequence=draw(st.integers(0, 2**64 - 1)),
        executed_action=draw(st.integers(0, 255)),
        safe_stop=draw(st.booleans()),
        monitor_id=draw(st.sampled_from(["/safety_monitor_node#1", "/x#1", "", "#"])),
        verdict_sequence=draw(st.integers(0, 2**64 - 1)),
        auth=draw(st.text(max_size=64)),
        reason=draw(st.text(max_size=40)),
    )
    v.header.stamp.sec = draw(st.one_of(st.just(int(NOW)), st.integers(0, 2**31 - 1)))
    v.header.stamp.nanosec = draw(st.integers(0, 2**32 - 1))
    return v


@FUZZ
@given(v=verdicts(), signed=st.booleans(), estop=st.booleans())
def test_the_adapter_moves_only_on_an_authentic_verdict(v, signed, estop):
    key = b"0123456789abcdef"
    if signed:
        sign_verdict(v, v.monitor_id, v.verdict_sequence, key)
    gate = VerdictGate(AdapterLimits(), MotionProfile(), key, start_s=NOW)
    gate.on_estop(estop)
    action, why = gate.admit(verdict_in(v), NOW)
    if action is None:
        assert v.safe_stop or why
        return
    assert signed and not estop and not v.safe_stop and v.executed_action < NUM_ACTIONS
    assert v.monitor_id == "/safety_monitor_node#1" and v.verdict_sequence > 0
    stamp = v.header.stamp.sec + v.header.stamp.nanosec * 1e-9
    assert abs(NOW - stamp) <= AdapterLimits().max_verdict_age_s


@FUZZ
@given(
    encoding=st.one_of(st.sampled_from(sorted(ENCODINGS)), st.text(max_size=10)),
    height=st.integers(0, 2**32 - 1) | st.integers(0, 40),
    width=st.integers(0, 2**32 - 1) | st.integers(0, 40),
    step=st.integers(0, 2**32 - 1) | st.integers(0, 200),
    data=st.binary(max_size=5000),
    age_ns=st.integers(-(10**10), 10**10),
)
def test_perception_decodes_or_rejects_every_image(encoding, height, width, step, data, age_ns):
    cfg = PreprocessConfig(width=8, height=8)
    now_ns = 10**12
    try:
        out = preprocess(encoding, height, width, step, data, now_ns - age_ns, now_ns, cfg)
    except (ImageFormatError, StaleFrameError) as exc:
        assert str(exc)
        return
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert len(data) == step * height and encoding in ENCODINGS


@FUZZ
@given(text=st.text(max_size=2000))
def test_every_instruction_is_accepted_or_rejected_with_a_reason(text):
    problem = instruction_problem(text)
    assert isinstance(problem, str)
    if not problem:
        assert text.strip() and len(text) <= 512 and text.isprintable()


@FUZZ
@given(stamp=st.floats(allow_nan=True, allow_infinity=True), now=st.floats(0, 1e9))
def test_no_frame_stamp_disables_the_frame_watchdog(stamp, now):
    m = SafetyMonitor(MonitorConfig(frame_timeout_s=0.5), start_s=now)
    m.on_frame(stamp, now_s=now)
    assert not math.isnan(m.last_frame_s) and m.last_frame_s <= now
    d = m.check_watchdog(now + 0.6)
    assert d is not None and d.rule is Rule.WATCHDOG_FRAME
