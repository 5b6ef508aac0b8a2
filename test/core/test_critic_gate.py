"""The independent safety critic in the monitor (no rclpy): a real critic bundle (a fixed risk
table as an ONNX graph, through ONNX Runtime), its contract with the policy, and the rule's
vetoes, replacements and stops."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from tiny_critic import ARM_OUT_M, CATS, risk_table, write_tiny_critic

from safevla_core.actions import (
    ACTION_NAMES,
    ACTIONS,
    NUM_ACTIONS,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
)
from safevla_core.critic_bundle import CRITIC_GRAPH, CRITIC_MANIFEST, CriticBundleError
from safevla_core.critic_gate import CriticGate, PolicyFacts
from safevla_core.image_preprocessing import ImageSpec
from safevla_core.safety_monitor import MonitorConfig, Proposal, Rule, SafetyMonitor
from safevla_core.safety_spec import SAFETY_SPEC

IMAGE = ImageSpec(height=16, width=16, mean=(0.5,) * 3, std=(0.25,) * 3)
POLICY = PolicyFacts(ACTION_NAMES, SAFETY_SPEC.categories, IMAGE, SAFETY_SPEC.version)
AHEAD, BACK, RIGHT, LEFT, END = (
    ACTION_NAMES.index(n)
    for n in ("move_ahead", "move_back", "rotate_right", "rotate_left", "end")
)
ARM_UP, ARM_DOWN = (ACTION_NAMES.index(n) for n in ("arm_up", "arm_down"))
FRAME = np.zeros((24, 32, 3), np.uint8)


@pytest.fixture
def critic(tmp_path):
    # move_ahead is risky (0.9 >= 0.5); move_back is allowed but not clear of the margin (0.3)
    return write_tiny_critic(tmp_path / "critic", IMAGE, risk_table({AHEAD: 0.9, BACK: 0.3}))


def proposal(probs: dict, seq: int, stamp: float, action=None, q=None) -> Proposal:
    p = np.zeros(NUM_ACTIONS)
    for a, v in probs.items():
        p[a] = v
    q = np.zeros(NUM_ACTIONS) if q is None else q
    a0 = int(np.argmax(p)) if action is None else action
    return Proposal(seq, a0, p, q, np.zeros((0,)), (), stamp)


def run(monitor: SafetyMonitor, prop: Proposal, frame=FRAME):
    monitor.on_frame(prop.frame_stamp_s)  # the frame watchdog's stamp
    if frame is not None:
        monitor.critic.on_frame(prop.frame_stamp_s, frame)
    return monitor.decide(prop, prop.frame_stamp_s)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (dataclasses.replace(POLICY, actions=ACTION_NAMES[::-1]), r"action space .* differs"),
        (dataclasses.replace(POLICY, categories=CATS[:4]), r"cost categories .* differ"),
        (
            dataclasses.replace(POLICY, image=dataclasses.replace(IMAGE, height=32)),
            r"image spec .* differs .*'height': 32",
        ),
        (dataclasses.replace(POLICY, safety_spec_version="0.9"), r"safety spec version '1\.\d+'"),
    ],
)
def test_a_critic_that_does_not_match_the_policy_is_refused(critic, policy, message):
    with pytest.raises(CriticBundleError, match=message):
        CriticGate.load(critic, policy)


def test_a_critic_with_a_modified_graph_or_manifest_is_refused(critic):
    raw = bytearray((critic / CRITIC_GRAPH).read_bytes())
    raw[-1] ^= 0xFF
    (critic / CRITIC_GRAPH).write_bytes(bytes(raw))
    with pytest.raises(CriticBundleError, match="sha256"):
        CriticGate.load(critic, POLICY)


def test_a_critic_for_another_stack_is_refused(critic):
    m = json.loads((critic / CRITIC_MANIFEST).read_text())
    m["categories"] = m["categories"][::-1]
    (critic / CRITIC_MANIFEST).write_text(json.dumps(m))
    with pytest.raises(CriticBundleError, match="cost categories"):
        CriticGate.load(critic, POLICY)


def test_alpha_other_than_the_bundles_is_refused_with_the_recalibration_command(critic):
    assert CriticGate.load(critic, POLICY, alpha=0.1).thresholds.tolist() == [0.5] * 5
    with pytest.raises(CriticBundleError, match=r"alpha 0.05 differs .* --set alpha=0.05"):
        CriticGate.load(critic, POLICY, alpha=0.05)
    with pytest.raises(ValueError, match=r"margin = 1.5; must lie in \(0, 1\]"):
        CriticGate.load(critic, POLICY, margin=1.5)


def test_veto_replaces_with_the_most_likely_clear_motion_or_stops(critic):
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(critic, POLICY))
    # move_back (p .35) passes the threshold but not the margin; rotate_left (p .15) is clear
    d = run(m, proposal({AHEAD: 0.5, BACK: 0.35, LEFT: 0.15}, 1, 1.0))
    assert (d.executed_action, d.rule, d.category) == (LEFT, Rule.SAFETY_CRITIC, "corner")
    assert d.vetoed and d.critic_outcome == "replaced" and "move_ahead risk corner 0.9" in d.reason
    # proposed itself, move_back is allowed (0.3 < 0.5): no veto
    d = run(m, proposal({BACK: 0.9, AHEAD: 0.1}, 2, 2.0))
    assert d.executed_action == BACK and not d.vetoed and d.critic_outcome == ""
    # a one-hot proposer: nothing else has p > 0, so a stop
    d = run(m, proposal({AHEAD: 1.0}, 3, 3.0))
    assert d.safe_stop and d.rule is Rule.SAFETY_CRITIC and d.critic_outcome == "stopped"
    assert "safe stop" in d.reason and d.needs_event
    # terminal actions are never costed
    d = run(m, proposal({END: 1.0}, 4, 4.0))
    assert d.executed_action == END and not d.vetoed


def test_the_critic_history_gets_the_executed_action_or_none_after_a_stop(critic):
    gate = CriticGate.load(critic, POLICY)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    run(m, proposal({AHEAD: 0.6, LEFT: 0.4}, 1, 1.0))  # replaced by rotate_left
    run(m, proposal({AHEAD: 1.0}, 2, 2.0))  # stop
    run(m, proposal({RIGHT: 1.0}, 3, 3.0))  # allowed
    none = gate.critic.manifest.prev_action_none
    assert gate.critic.history.actions == [LEFT, none]  # history length 2: last two steps
    assert gate.prev_action == RIGHT and gate.critic.steps == 3
    gate.reset()
    assert gate.critic.steps == 0 and gate.prev_action is None and not gate.frames


def test_a_proposal_whose_frame_never_arrived_is_a_stop(critic):
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(critic, POLICY))
    m.critic.on_frame(0.9, FRAME)  # another frame than the proposal's
    d = run(m, proposal({RIGHT: 1.0}, 1, 1.0), frame=None)
    assert d.safe_stop and d.rule is Rule.SAFETY_CRITIC and "never reached" in d.reason


def test_the_replacement_also_passes_the_policys_own_cost_rule(critic):
    m = SafetyMonitor(
        MonitorConfig(cost_threshold=0.3), 0.0, critic=CriticGate.load(critic, POLICY)
    )
    q = np.zeros(NUM_ACTIONS)
    q[LEFT] = 0.8  # the policy's own critic vetoes rotate_left
    d = run(m, proposal({AHEAD: 0.5, LEFT: 0.3, RIGHT: 0.2}, 1, 1.0, q=q))
    assert d.executed_action == RIGHT and d.rule is Rule.SAFETY_CRITIC


def test_the_earlier_rules_stay_in_front(critic):
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(critic, POLICY))
    m.on_estop(True, 0.5)
    d = run(m, proposal({RIGHT: 1.0}, 1, 1.0))
    assert d.safe_stop and d.rule is Rule.ESTOP and m.critic.critic.steps == 0
    m.on_estop(False, 1.5)
    d = run(m, proposal({AHEAD: 0.5, LEFT: 0.5}, 2, 2.0))
    assert d.rule is Rule.SAFETY_CRITIC and d.executed_action == LEFT
    d = m.decide(proposal({LEFT: 1.0}, 3, 2.0), now_s=2.01)  # rate limit follows the critic
    assert d.safe_stop and d.rule is Rule.RATE_LIMIT


def test_a_veto_holds_until_the_robot_moves(critic):
    """After a stop the critic's history changes while the world does not: an action vetoed
    here stays vetoed (and is no replacement) until a motion is executed."""
    gate = CriticGate.load(critic, POLICY, recover_after=0)  # stops stay stops (back-off: below)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    d = run(m, proposal({AHEAD: 1.0}, 1, 1.0))
    assert d.safe_stop and d.critic_outcome == "stopped"
    gate.thresholds = np.ones_like(gate.thresholds)  # the critic now rates move_ahead safe
    d = run(m, proposal({AHEAD: 1.0}, 2, 2.0))  # same place: still vetoed
    assert d.safe_stop and d.vetoed and "has not moved" in d.reason and d.category == "corner"
    d = run(m, proposal({AHEAD: 0.7, LEFT: 0.3}, 3, 3.0))  # the latch: replaced, not executed
    assert d.executed_action == LEFT and d.critic_outcome == "replaced"
    d = run(m, proposal({AHEAD: 1.0}, 4, 4.0))  # the robot turned: the latch is released
    assert d.executed_action == AHEAD and not d.vetoed
    run(m, proposal({END: 1.0}, 5, 5.0))  # end moves nothing
    gate.thresholds = np.full_like(gate.thresholds, 0.5)
    assert run(m, proposal({AHEAD: 1.0}, 6, 6.0)).safe_stop
    gate.reset()
    assert not gate.latched.any() and not gate.latched_category


def test_repeated_vetoes_back_off_instead_of_a_stop(tmp_path):
    """A one-hot proposer of a vetoed turn gets stops; once recover_after of the last
    RECOVER_WINDOW proposals were vetoed base motions, the veto is answered by move_back under
    the thresholds (whatever its probability) instead of a stop, then the count starts again.
    A policy's distribution is left alone (its clear replacement, else a stop); a translation
    over a threshold is never the back-off; an arm motion's veto never moves the base; 0 turns
    it off."""
    from safevla_core.critic_gate import RECOVER_WINDOW

    bundle = write_tiny_critic(tmp_path / "c", IMAGE, risk_table({LEFT: 0.9, AHEAD: 0.9}))
    for bad in (-1, RECOVER_WINDOW + 1, True, 1.5):
        with pytest.raises(ValueError, match="recover_after"):
            CriticGate.load(bundle, POLICY, recover_after=bad)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(bundle, POLICY))
    outcomes = [run(m, proposal({LEFT: 1.0}, i, float(i))) for i in range(1, 8)]
    assert [d.executed_action for d in outcomes] == [None, None, BACK, None, None, BACK, None]
    assert all(d.vetoed and d.rule is Rule.SAFETY_CRITIC for d in outcomes)
    assert "3 of the last 10 proposals vetoed: backing off with move_back" in outcomes[2].reason
    # proposals that pass count as such: two vetoes in the window are not enough
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(bundle, POLICY))
    assert run(m, proposal({LEFT: 1.0}, 1, 1.0)).safe_stop
    assert run(m, proposal({RIGHT: 1.0}, 2, 2.0)).executed_action == RIGHT
    assert run(m, proposal({LEFT: 1.0}, 3, 3.0)).safe_stop
    assert run(m, proposal({LEFT: 1.0}, 4, 4.0)).executed_action == BACK  # the third veto
    # a policy's distribution: its clear replacement, however many vetoes; else a stop
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(bundle, POLICY))
    outcomes = [run(m, proposal({LEFT: 0.9, RIGHT: 0.1}, i, float(i))) for i in range(1, 6)]
    assert all(d.executed_action == RIGHT for d in outcomes)
    off = CriticGate.load(bundle, POLICY, escape_after=0)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=off)
    outcomes = [run(m, proposal({LEFT: 0.9, AHEAD: 0.1}, i, float(i))) for i in range(1, 6)]
    assert all(d.safe_stop for d in outcomes)
    # by default the escape then moves it: after 3 stops the clearest base motion under the
    # thresholds (here move_back, the first of the equally clear ones), never a vetoed one
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(bundle, POLICY))
    outcomes = [run(m, proposal({LEFT: 0.9, AHEAD: 0.1}, i, float(i))) for i in range(1, 6)]
    assert [d.executed_action for d in outcomes] == [None, None, None, BACK, None]
    assert "escaping with the least risky motion move_back" in outcomes[3].reason
    # move_back under the threshold but not clear of the margin: still the back-off
    near = write_tiny_critic(tmp_path / "n", IMAGE, risk_table({LEFT: 0.9, AHEAD: 0.9, BACK: 0.3}))
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(near, POLICY))
    outcomes = [run(m, proposal({LEFT: 1.0}, i, float(i))) for i in range(1, 4)]
    assert [d.executed_action for d in outcomes] == [None, None, BACK]
    # both translations over the threshold: the robot stays stopped
    over = write_tiny_critic(tmp_path / "o", IMAGE, risk_table({LEFT: 0.9, AHEAD: 0.9, BACK: 0.6}))
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(over, POLICY, escape_after=0))
    assert all(run(m, proposal({LEFT: 1.0}, i, float(i))).safe_stop for i in range(1, 6))
    # an arm motion's vetoes never move the base
    arm = write_tiny_critic(tmp_path / "a", IMAGE, risk_table({ARM_UP: 0.9}))
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(arm, POLICY, escape_after=0))
    assert all(run(m, proposal({ARM_UP: 1.0}, i, float(i))).safe_stop for i in range(1, 6))
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(arm, POLICY))  # no escape
    assert all(run(m, proposal({ARM_UP: 1.0}, i, float(i))).safe_stop for i in range(1, 6))
    off = SafetyMonitor(
        MonitorConfig(),
        0.0,
        critic=CriticGate.load(bundle, POLICY, recover_after=0, escape_after=0),
    )
    assert all(run(off, proposal({LEFT: 1.0}, i, float(i))).safe_stop for i in range(1, 6))


def test_the_contact_guard_bars_the_way_a_motion_touched_something(tmp_path):
    """With the critic rating everything safe, the guard alone: an arm motion that touched
    something bars its way (arm_out and arm_out_small alike) until the base has moved, through
    stops and other arm motions; a base motion bars its way only when contact blocked it, and
    a motion that touched nothing lifts that bar. Off, the same proposals pass."""
    out, out_small, up, arm_in = (
        ACTION_NAMES.index(n) for n in ("arm_out", "arm_out_small", "arm_up", "arm_in")
    )
    bundle = write_tiny_critic(tmp_path / "g", IMAGE, risk_table(), in_contact=risk_table())
    with pytest.raises(ValueError, match="contact_guard = 1"):
        CriticGate.load(bundle, POLICY, contact_guard=1)
    gate = CriticGate.load(bundle, POLICY)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    step = iter(range(1, 100))

    def propose(probs, bump=None):
        if bump is not None:  # the feedback of the motion executed last
            gate.on_bump(bump)
        i = next(step)
        return run(m, proposal(probs, i, float(i)))

    assert propose({out: 1.0}, [0.0, 0.0]).executed_action == out
    d = propose({out_small: 1.0}, [1.0, 1.0])  # arm_out was blocked by contact
    assert d.safe_stop and d.critic_outcome == "stopped" and "touched something" in d.reason
    assert propose({out: 1.0}).safe_stop  # the stop changed nothing: still barred
    d = propose({out: 0.6, up: 0.4})
    assert (d.executed_action, d.critic_outcome) == (up, "replaced")
    assert propose({up: 1.0}, [0.0, 1.0]).safe_stop  # arm_up moved but touched something
    assert propose({arm_in: 1.0}).executed_action == arm_in
    assert propose({out: 1.0}, [0.0, 0.0]).safe_stop  # arm_in touched nothing: arm still barred
    assert propose({LEFT: 1.0}).executed_action == LEFT
    assert propose({out: 1.0}, [0.0, 0.0]).executed_action == out  # the base moved clear
    # the base: a collision that did not stop the motion (sliding along a wall) bars nothing
    assert propose({AHEAD: 1.0}, [0.0, 0.0]).executed_action == AHEAD
    assert propose({AHEAD: 1.0}, [0.0, 1.0]).executed_action == AHEAD
    d = propose({AHEAD: 0.7, LEFT: 0.3}, [1.0, 1.0])  # blocked by contact: barred
    assert (d.executed_action, d.critic_outcome) == (LEFT, "replaced")
    assert propose({AHEAD: 0.7, RIGHT: 0.3}, [0.0, 1.0]).executed_action == RIGHT
    assert propose({AHEAD: 1.0}, [0.0, 0.0]).executed_action == AHEAD  # moved clear
    d = propose({AHEAD: 1.0}, [1.0, 1.0])  # a stop, or the back-off after repeated vetoes
    assert d.vetoed and d.executed_action in (None, BACK)
    gate.reset()  # a new episode
    assert not gate.pressing.any()
    assert propose({AHEAD: 1.0}).executed_action == AHEAD
    # a blocked motion that touched nothing (a joint limit) bars nothing
    assert propose({out: 1.0}, [0.0, 0.0]).executed_action == out
    assert propose({out: 1.0}, [1.0, 0.0]).executed_action == out
    off = CriticGate.load(bundle, POLICY, contact_guard=False)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=off)
    gate = off
    assert propose({out: 1.0}, [0.0, 0.0]).executed_action == out
    assert propose({out_small: 1.0}, [1.0, 1.0]).executed_action == out_small


def test_the_contact_guard_without_its_base_part_bars_only_the_arms_way(tmp_path):
    """``contact_guard_base`` off: a base motion blocked by contact bars nothing (its repeat
    is judged by the critic alone), while an arm motion that touched something still bars its
    way until the base has moved; on (the shipped rule) the blocked base motion is barred."""
    out, out_small = (ACTION_NAMES.index(n) for n in ("arm_out", "arm_out_small"))
    bundle = write_tiny_critic(tmp_path / "b", IMAGE, risk_table(), in_contact=risk_table())
    with pytest.raises(ValueError, match="contact_guard_base = 'no'"):
        CriticGate.load(bundle, POLICY, contact_guard_base="no")
    for base_part in (False, True):
        gate = CriticGate.load(bundle, POLICY, contact_guard_base=base_part)
        m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
        step = iter(range(1, 100))

        def propose(probs, bump=None, m=m, gate=gate, step=step):
            if bump is not None:  # the feedback of the motion executed last
                gate.on_bump(bump)
            i = next(step)
            return run(m, proposal(probs, i, float(i)))

        assert propose({AHEAD: 1.0}, [0.0, 0.0]).executed_action == AHEAD
        d = propose({AHEAD: 0.7, LEFT: 0.3}, [1.0, 1.0])  # move_ahead blocked by contact
        if base_part:
            assert (d.executed_action, d.critic_outcome) == (LEFT, "replaced")
            assert "touched something" in d.reason
        else:
            assert d.executed_action == AHEAD and not d.vetoed
        assert propose({out: 1.0}, [1.0, 1.0]).executed_action == out
        d = propose({out_small: 1.0}, [1.0, 1.0])  # arm_out blocked by contact: barred
        assert d.safe_stop and "touched something" in d.reason


def test_a_replacement_that_moved_nothing_is_no_replacement_until_the_robot_moves(tmp_path):
    """move_ahead vetoed again and again: the likeliest clear replacement, arm_in, comes back
    blocked (the arm already in: it moved nothing), so the next veto takes the next clear
    motion, through a stop too; once a motion goes unblocked arm_in is a replacement again.
    The proposal itself is judged as before: a proposed arm_in runs, blocked or not."""
    arm_in = ACTION_NAMES.index("arm_in")
    bundle = write_tiny_critic(
        tmp_path / "idle", IMAGE, risk_table({AHEAD: 0.9}), in_contact=risk_table({AHEAD: 0.9})
    )
    gate = CriticGate.load(bundle, POLICY, replacement="likeliest", detour_after=0)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    step = iter(range(1, 100))
    probs = {AHEAD: 0.6, arm_in: 0.3, LEFT: 0.1}

    def propose(p, bump):
        gate.on_bump(bump)  # the feedback of the motion executed last
        i = next(step)
        return run(m, proposal(p, i, float(i)))

    assert propose(probs, [0.0, 0.0]).executed_action == arm_in
    d = propose(probs, [1.0, 0.0])  # arm_in was blocked: the arm was in
    assert (d.executed_action, d.critic_outcome) == (LEFT, "replaced")
    assert propose({AHEAD: 0.7, arm_in: 0.3}, [0.0, 0.0]).executed_action == arm_in  # LEFT moved
    assert propose({AHEAD: 0.7, arm_in: 0.3}, [1.0, 0.0]).safe_stop  # nothing else to run
    assert propose({AHEAD: 0.7, arm_in: 0.3}, [1.0, 0.0]).safe_stop  # the stop changed nothing
    assert propose({arm_in: 1.0}, [1.0, 0.0]).executed_action == arm_in  # proposed: it runs
    assert propose(probs, [1.0, 0.0]).executed_action == LEFT
    gate.reset()  # a new episode
    assert not gate.idle.any()
    assert propose(probs, [0.0, 0.0]).executed_action == arm_in


def test_a_feedback_critic_stops_until_feedback_arrives_and_judges_contact(tmp_path):
    """A critic with the ``bump`` input (a real graph whose risk depends on it): no feedback
    yet is a stop; the same proposal passes out of contact and is vetoed in contact."""
    bundle = write_tiny_critic(
        tmp_path / "fb", IMAGE, risk_table(), in_contact=risk_table({AHEAD: 0.9})
    )
    gate = CriticGate.load(bundle, POLICY)
    assert gate.takes_bump and gate.critic.manifest.bump_input
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    d = run(m, proposal({AHEAD: 1.0}, 1, 1.0))
    assert d.safe_stop and d.rule is Rule.SAFETY_CRITIC and "motion feedback" in d.reason
    assert gate.critic.steps == 0  # not judged without its input
    gate.on_bump([0.0, 0.0])
    d = run(m, proposal({AHEAD: 1.0}, 2, 2.0))
    assert d.executed_action == AHEAD and not d.vetoed
    gate.on_bump([0.0, 1.0])  # move_ahead collided: in contact
    d = run(m, proposal({AHEAD: 0.6, BACK: 0.4}, 3, 3.0))
    assert (d.executed_action, d.critic_outcome, d.category) == (BACK, "replaced", "corner")
    assert gate.critic.history.items[-1][1].tolist() == [0.0, 1.0]  # stored with its frame
    gate.reset()  # a new episode: nothing executed yet, so no contact
    assert gate.bump.tolist() == [0.0, 0.0]
    assert run(m, proposal({AHEAD: 1.0}, 4, 4.0)).executed_action == AHEAD
    with pytest.raises(ValueError, match=r"bump=\[2.0, 0.0\] is not 2 values in \[0, 1\]"):
        gate.on_bump([2.0, 0.0])


def test_a_scan_critic_stops_without_a_fresh_scan_and_judges_the_ranges(tmp_path):
    """A critic with the ``scan`` input (a real graph whose risk depends on the range ahead):
    no scan yet, a rejected scan and a stale one are stops; the same proposal passes with the
    way ahead clear and is vetoed with an obstacle close ahead."""
    bundle = write_tiny_critic(
        tmp_path / "scan", IMAGE, risk_table(), near_ahead=risk_table({AHEAD: 0.9})
    )
    gate = CriticGate.load(bundle, POLICY, arm_guard=False)  # the arm guard: its own test
    assert gate.takes_scan and not gate.takes_bump
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    d = run(m, proposal({AHEAD: 1.0}, 1, 1.0))
    assert d.safe_stop and d.rule is Rule.SAFETY_CRITIC and "range scan" in d.reason
    clear, close = np.full(SCAN_BEAMS, 2.0), np.full(SCAN_BEAMS, 2.0)
    close[SCAN_BEAMS // 2] = 0.3  # the beam straight ahead
    gate.on_scan(clear, stamp_s=2.0)
    assert run(m, proposal({AHEAD: 1.0}, 2, 2.1)).executed_action == AHEAD
    gate.on_scan(close, stamp_s=2.2)
    d = run(m, proposal({AHEAD: 0.6, BACK: 0.4}, 3, 2.3))
    assert (d.executed_action, d.critic_outcome, d.category) == (BACK, "replaced", "corner")
    gate.on_scan(clear, stamp_s=2.4)
    d = run(m, proposal({BACK: 1.0}, 4, 2.4 + gate.scan_max_age_s + 0.1))  # the scanner died
    assert d.safe_stop and "range scan is" in d.reason and "s old" in d.reason
    bad = clear.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="first at beam 3"):
        gate.on_scan(bad, stamp_s=5.0)
    d = run(m, proposal({BACK: 1.0}, 5, 5.0))  # the last good scan is dropped with it
    assert d.safe_stop and "no usable one has arrived" in d.reason


def test_an_object_scan_critic_needs_both_scans_and_tells_a_wall_from_an_object(tmp_path):
    """A critic with the ``scan_objects`` input (a real graph whose risk depends on the object
    scan's range ahead): with the range scan alone it stops; a wall close ahead (in the scan,
    not in the object scan) passes, an object close ahead is vetoed; a stale or rejected
    object scan stops again."""
    bundle = write_tiny_critic(
        tmp_path / "objects", IMAGE, risk_table(), near_object=risk_table({AHEAD: 0.9})
    )
    gate = CriticGate.load(bundle, POLICY, arm_guard=False)  # the arm guard: its own test
    assert gate.takes_scan and gate.takes_object_scan
    assert gate.critic.manifest.graph_inputs[-2:] == ("scan", "scan_objects")
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    close, far = np.full(SCAN_BEAMS, 2.0), np.full(SCAN_BEAMS, np.inf)
    close[SCAN_BEAMS // 2] = 0.3  # the beam straight ahead
    gate.on_scan(close, stamp_s=1.0)
    d = run(m, proposal({AHEAD: 1.0}, 1, 1.0))
    assert d.safe_stop and d.rule is Rule.SAFETY_CRITIC and "scan_objects_topic" in d.reason
    gate.on_scan_objects(far, stamp_s=2.0)  # what is close ahead is a wall
    gate.on_scan(close, stamp_s=2.0)
    assert run(m, proposal({AHEAD: 1.0}, 2, 2.1)).executed_action == AHEAD
    gate.on_scan_objects(close, stamp_s=2.2)  # a cabinet
    gate.on_scan(close, stamp_s=2.2)
    d = run(m, proposal({AHEAD: 0.6, BACK: 0.4}, 3, 2.3))
    assert (d.executed_action, d.critic_outcome) == (BACK, "replaced")
    gate.on_scan(close, stamp_s=3.0)  # the scanner goes on, the map filter stopped
    d = run(m, proposal({BACK: 1.0}, 4, 2.2 + gate.scan_max_age_s + 0.1))
    assert d.safe_stop and "object scan is" in d.reason and "s old" in d.reason
    bad = far.copy()
    bad[5] = -1.0
    with pytest.raises(ValueError, match=r"object scan .* holds 1 NaN or negative"):
        gate.on_scan_objects(bad, stamp_s=5.0)
    gate.on_scan(close, stamp_s=5.0)
    d = run(m, proposal({BACK: 1.0}, 5, 5.0))  # the last good one is dropped with it
    assert d.safe_stop and "scan_objects_topic" in d.reason


def test_an_arm_critic_stops_without_a_fresh_joint_state_and_judges_the_arm(tmp_path):
    """A critic with the ``proprio`` input (a real graph whose risk depends on the arm's
    extension): no joint state yet, a rejected one and a stale one are stops; the same arm
    motion passes with the arm in and is vetoed with it out."""
    bundle = write_tiny_critic(
        tmp_path / "arm", IMAGE, risk_table(), arm_out=risk_table({ARM_DOWN: 0.9})
    )
    gate = CriticGate.load(bundle, POLICY)
    assert gate.takes_proprio and not gate.takes_scan and not gate.takes_bump
    assert gate.critic.manifest.graph_inputs[-1] == "proprio"
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    d = run(m, proposal({ARM_DOWN: 1.0}, 1, 1.0))
    assert d.safe_stop and d.rule is Rule.SAFETY_CRITIC and "arm's joint state" in d.reason
    assert gate.critic.steps == 0  # not judged without its input
    gate.on_proprio([0.6, 0.05], stamp_s=2.0)  # the arm in
    assert run(m, proposal({ARM_DOWN: 1.0}, 2, 2.1)).executed_action == ARM_DOWN
    gate.on_proprio([0.6, ARM_OUT_M + 0.1], stamp_s=2.2)  # the arm out over the table
    d = run(m, proposal({ARM_DOWN: 0.6, ARM_UP: 0.4}, 3, 2.3))
    assert (d.executed_action, d.critic_outcome, d.category) == (ARM_UP, "replaced", "corner")
    gate.on_proprio([0.6, 0.05], stamp_s=2.4)
    d = run(m, proposal({ARM_UP: 1.0}, 4, 2.4 + gate.proprio_max_age_s + 0.1))  # driver died
    assert d.safe_stop and "joint state is" in d.reason and "s old" in d.reason
    with pytest.raises(ValueError, match=r"proprio=.*not 2 values"):
        gate.on_proprio([0.6, float("nan")], stamp_s=5.0)
    d = run(m, proposal({ARM_UP: 1.0}, 5, 5.0))  # the last good state is dropped with it
    assert d.safe_stop and "no usable one" in d.reason
    # critic.json says proprio_input, the graph lacks the input
    plain = write_tiny_critic(tmp_path / "plain", IMAGE, risk_table(), proprio_input=True)
    with pytest.raises(CriticBundleError, match=r"graph tensors .* are not .*'proprio'"):
        CriticGate.load(plain, POLICY)


def test_a_feedback_critic_graph_without_its_input_is_refused(tmp_path):
    """critic.json says bump_input but the graph lacks the input (or the reverse)."""
    plain = write_tiny_critic(tmp_path / "plain", IMAGE, risk_table(), bump_input=True)
    with pytest.raises(CriticBundleError, match=r"graph tensors .* are not .*'bump'"):
        CriticGate.load(plain, POLICY)
    fb = write_tiny_critic(
        tmp_path / "fb", IMAGE, risk_table(), in_contact=risk_table(), bump_input=False
    )
    with pytest.raises(CriticBundleError, match=r"graph tensors .*'bump'.* are not"):
        CriticGate.load(fb, POLICY)


def test_escape_runs_the_least_risky_motion_after_standing_k_proposals(tmp_path):
    """Every motion is vetoed; with escape_after=2 the robot stands two proposals, then the
    motion with the smallest risk / threshold runs (whatever the policy's probability; with
    escape_below=inf whatever its risk), and the count starts again once it moved. Off (0),
    it stands."""
    risky = {a.index: 0.9 for a in ACTIONS if a.moves_robot}
    risky[BACK] = 0.55  # the least risky motion, still over the threshold 0.5
    bundle = write_tiny_critic(tmp_path / "c", IMAGE, risk_table(risky))
    with pytest.raises(ValueError, match="escape_after = -1"):
        CriticGate.load(bundle, POLICY, escape_after=-1)
    gate = CriticGate.load(bundle, POLICY, escape_after=2, escape_below=math.inf)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    outcomes = [run(m, proposal({AHEAD: 0.7, LEFT: 0.3}, i, float(i))) for i in range(1, 7)]
    assert [d.executed_action for d in outcomes] == [None, None, BACK, None, None, BACK]
    assert "escaping with the least risky motion move_back" in outcomes[2].reason
    assert outcomes[2].vetoed and outcomes[2].rule is Rule.SAFETY_CRITIC
    off = CriticGate.load(bundle, POLICY, escape_after=0, escape_below=math.inf)
    still = SafetyMonitor(MonitorConfig(), 0.0, critic=off)
    assert all(run(still, proposal({AHEAD: 1.0}, i, float(i))).safe_stop for i in range(1, 6))


def test_a_clear_escape_moves_a_one_hot_proposer_only_within_the_thresholds(tmp_path):
    """escape_below=1: a one-hot proposal of a vetoed motion gets a stop, and after K stops
    the clearest motion under the threshold runs (the policy gave it probability 0); where
    every motion is over the threshold the robot stays stopped (the unbounded escape would
    have run move_back at 0.55)."""
    risky = {a.index: 0.9 for a in ACTIONS if a.moves_robot}
    risky[BACK], risky[LEFT] = 0.55, 0.2  # LEFT passes the threshold 0.5
    bundle = write_tiny_critic(tmp_path / "c", IMAGE, risk_table(risky))
    for bad in (0.0, -1.0, True, "1"):
        with pytest.raises(ValueError, match="escape_below"):
            CriticGate.load(bundle, POLICY, escape_after=2, escape_below=bad)
    gate = CriticGate.load(bundle, POLICY, escape_after=2, escape_below=1.0)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    outcomes = [run(m, proposal({AHEAD: 1.0}, i, float(i))) for i in range(1, 5)]
    assert [d.executed_action for d in outcomes] == [None, None, LEFT, None]
    assert "escaping with the least risky motion rotate_left" in outcomes[2].reason
    risky[LEFT] = 0.9
    stuck = write_tiny_critic(tmp_path / "s", IMAGE, risk_table(risky))
    gate = CriticGate.load(stuck, POLICY, escape_after=2, escape_below=1.0)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    outcomes = [run(m, proposal({AHEAD: 1.0}, i, float(i))) for i in range(1, 6)]
    assert all(d.safe_stop and d.executed_action is None for d in outcomes)
    assert "no motion below 1 x threshold to escape with" in outcomes[3].reason


def test_a_stalled_robot_gets_a_release_below_the_bound(tmp_path):
    """A one-hot proposer that stalls without standing still: it proposes the vetoed
    move_ahead (risk 0.9, threshold 0.5: 1.8 x), gets a stop, then a small turn that runs, so
    the escape's count of stops in a row never reaches 3. By default (6 of the last 20
    proposals stopped, bound 1) the next veto that would stop runs a base motion the thresholds
    pass (drawn where there are several), and the count starts again; with a bound of 6 the
    proposal itself runs (1.8 < 6); a bound under every motion keeps the stop; an arm motion
    is never released, a policy's stall is as a planner's; 0 turns it off; bad settings are
    refused by name."""
    from safevla_core.actions import ACTION_INDEX
    from safevla_core.critic_gate import (
        DEFAULT_CRITIC_STALL_BELOW,
        DEFAULT_CRITIC_STALL_STOPS,
        STALL_WINDOW,
    )

    small = ACTION_INDEX["rotate_left_small"]
    risky = {a.index: 0.9 for a in ACTIONS if a.moves_robot}
    risky[small], risky[BACK] = 0.1, 0.6  # the small turn passes (0.2 x); move_back 1.2 x
    bundle = write_tiny_critic(tmp_path / "c", IMAGE, risk_table(risky))

    def stall(gate, action=AHEAD, n=16):
        m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
        return [
            run(m, proposal({action if i % 2 else small: 1.0}, i, float(i)))
            for i in range(1, n + 1)
        ]

    assert (DEFAULT_CRITIC_STALL_STOPS, DEFAULT_CRITIC_STALL_BELOW) == (6, 1.0)
    gate = CriticGate.load(bundle, POLICY)
    out = stall(gate)
    # stops at proposals 1, 3, ..., 11; the veto at 13 finds 6 in the window: the clearest
    # base motion the thresholds pass runs instead (the proposal, vetoed, never passes them)
    assert [d.executed_action for d in out[:14:2]] == [None] * 6 + [small]
    assert all(d.executed_action == small for d in out[1::2])
    assert "releasing rotate_left_small (risk 0.2 x threshold < 1)" in out[12].reason
    assert out[12].critic_outcome == "replaced" and out[12].rule is Rule.SAFETY_CRITIC
    assert out[14].safe_stop and gate.releases == 1  # the count starts again
    gate.reset()
    assert gate.releases == 0  # per episode

    gate = CriticGate.load(bundle, POLICY, stall_stops=3, stall_below=6.0)
    out = stall(gate)
    # stops at 1, 3, 5; the veto at 7 finds 3 stops in the window: move_ahead itself runs
    assert [d.executed_action for d in out[:8:2]] == [None, None, None, AHEAD]
    assert "releasing move_ahead (risk 1.8 x threshold < 6)" in out[6].reason
    # the proposal ran: not a veto in the verdict, but the critic rule's call, with its reason
    assert not out[6].vetoed and out[6].rule is Rule.SAFETY_CRITIC
    assert [d.executed_action for d in out[8::2]] == [None, None, None, AHEAD]

    out = stall(CriticGate.load(bundle, POLICY, stall_stops=3, stall_below=0.1))
    assert out[6].safe_stop and "no motion below 0.1 x threshold" in out[6].reason
    out = stall(CriticGate.load(bundle, POLICY, stall_stops=3), action=ARM_UP)
    assert all(d.safe_stop for d in out[::2])  # an arm motion's veto is never released
    # a policy stopped on every proposal (both motions it proposes vetoed; the escape off,
    # which would move it first): after 3 stops, the clearest base motion the thresholds pass
    gate = CriticGate.load(bundle, POLICY, stall_stops=3, escape_after=0)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    policy = [run(m, proposal({AHEAD: 0.7, LEFT: 0.3}, i, float(i))) for i in range(1, 9)]
    assert [d.executed_action for d in policy] == [None, None, None, small] * 2
    assert gate.releases == 2
    off = CriticGate.load(bundle, POLICY, stall_stops=0)
    assert all(d.safe_stop for d in stall(off, n=40)[::2]) and off.releases == 0

    # with more than one motion under the bound the release is drawn among them, not always
    # the clearest (which a one-hot proposer may undo at once, the same cycle to the step
    # limit), and the draws restart at every episode: a run repeats
    risky[ACTION_INDEX["rotate_right_small"]] = 0.2  # passes too (0.4 x), less clear
    two = write_tiny_critic(tmp_path / "d", IMAGE, risk_table(risky))
    gate = CriticGate.load(two, POLICY, stall_stops=3)
    both = {small, ACTION_INDEX["rotate_right_small"]}

    def released(n=200):
        gate.reset()
        return [d.executed_action for d in stall(gate, n=n) if "releasing" in d.reason]

    first = released()
    assert len(first) >= 20 and set(first) == both
    assert released() == first
    for name, bad in (
        ("stall_stops", -1),
        ("stall_stops", STALL_WINDOW + 1),
        ("stall_stops", True),
        ("stall_below", 0.0),
        ("stall_below", math.inf),
        ("stall_below", math.nan),
        ("stall_below", True),
    ):
        with pytest.raises(ValueError, match=f"critic {name} = "):
            CriticGate.load(bundle, POLICY, **{name: bad})


def test_a_robot_stopped_on_30_of_its_last_100_proposals_is_held(tmp_path):
    """The hold the monitor node reports: a proposer that keeps asking for a refused motion is
    held once 30 of its last 100 proposals stopped (the message names the count), counted per
    decision while it lasts, and free again once fewer than 15 did; a reset clears it."""
    from safevla_core.actions import ACTION_INDEX
    from safevla_core.critic_gate import HELD_STOPS, HELD_UNTIL, HELD_WINDOW

    small = ACTION_INDEX["rotate_left_small"]
    risky = {a.index: 0.9 for a in ACTIONS if a.moves_robot}
    risky[small] = 0.1
    gate = CriticGate.load(write_tiny_critic(tmp_path / "c", IMAGE, risk_table(risky)), POLICY)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    stops, held_at = 0, None
    for i in range(1, 121):
        d = run(m, proposal({AHEAD if i % 2 else small: 1.0}, i, float(i)))
        stops += d.safe_stop
        if gate.held and held_at is None:
            held_at = stops
    assert held_at == HELD_STOPS and gate.held_steps > 0
    assert f"of the last {HELD_WINDOW} proposals stopped" in gate.held
    for i in range(121, 121 + HELD_WINDOW):  # its proposals run: the stops leave the window
        assert not run(m, proposal({small: 1.0}, i, float(i))).safe_stop
    assert gate.held == ""
    held_steps = gate.held_steps
    run(m, proposal({small: 1.0}, 500, 500.0))
    assert gate.held_steps == held_steps  # counted only while held
    gate.reset()
    assert gate.held == "" and gate.held_steps == 0
    for _ in range(HELD_WINDOW):  # stops of another rule (a stale camera): not the critic's
        gate.after_decision(None, critic_stop=False)
    assert gate.held == ""
    gate.reset()
    # held from 30 stops, then free only once fewer than 15 of the last 100 stopped: the 30
    # stops leave the window one by one as motions come in (no report per flicker at 30)
    for _ in range(HELD_STOPS):
        gate.after_decision(None)
    moves = 0
    while gate.held:
        gate.after_decision(small)
        moves += 1
    assert moves == HELD_WINDOW - HELD_STOPS + (HELD_STOPS - HELD_UNTIL + 1)


def test_the_escape_from_a_vetoed_base_motion_moves_the_base(tmp_path):
    """The default escape (3 stops, within the thresholds) answers a vetoed base motion with
    the clearest base motion, never an arm or gripper action the critic rates clearer (a
    ``pickup`` does not get a navigating robot out of a tight spot); a vetoed arm motion is
    never escaped: the robot stays stopped."""
    from safevla_core.actions import ACTION_INDEX

    risky = {a.index: 0.9 for a in ACTIONS if a.moves_robot}
    risky[ACTION_INDEX["pickup"]] = 0.001  # the clearest of all
    risky[ACTION_INDEX["arm_up"]] = 0.2
    risky[ACTION_INDEX["rotate_right_small"]] = 0.3  # the only base motion under 0.5
    bundle = write_tiny_critic(tmp_path / "c", IMAGE, risk_table(risky))
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(bundle, POLICY))
    outcomes = [run(m, proposal({LEFT: 1.0}, i, float(i))) for i in range(1, 5)]
    assert [d.executed_action for d in outcomes][2:] == [None, ACTION_INDEX["rotate_right_small"]]
    assert "escaping with the least risky motion rotate_right_small" in outcomes[3].reason
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=CriticGate.load(bundle, POLICY))
    arm_out = ACTION_INDEX["arm_out"]
    outcomes = [run(m, proposal({arm_out: 1.0}, i, float(i))) for i in range(1, 7)]
    assert all(d.safe_stop and d.executed_action is None for d in outcomes)
    # a motion vetoed here before but under the thresholds now (the critic's input changed
    # with the stops) is judged afresh by the escape; the proposer's own proposals still
    # meet the latch
    gate = CriticGate.load(bundle, POLICY)
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    right_small = ACTION_INDEX["rotate_right_small"]
    assert run(m, proposal({right_small: 1.0}, 1, 1.0)).executed_action == right_small
    gate.thresholds = np.full_like(gate.thresholds, 0.25)  # now over: vetoed, latched
    assert run(m, proposal({right_small: 1.0}, 2, 2.0)).safe_stop
    gate.thresholds = np.full_like(gate.thresholds, 0.5)  # under again
    assert "has not moved" in run(m, proposal({right_small: 1.0}, 3, 3.0)).reason
    assert run(m, proposal({LEFT: 1.0}, 4, 4.0)).safe_stop  # the third stop in a row
    d = run(m, proposal({LEFT: 1.0}, 5, 5.0))  # then the escape
    assert d.executed_action == right_small and "escaping" in d.reason


def test_a_vetoed_proposal_is_replaced_by_a_draw_from_the_clear_motions(tmp_path):
    """replacement="sample" (default): the replacement of a vetoed greedy proposal is drawn
    from the proposer's probabilities over the clear motions (so a loop of the same
    replacement breaks), never a vetoed one, and the draws repeat after a reset (a new
    episode), another seed draws others (and repeats them too); "likeliest" takes the most
    probable clear motion every time; anything else, or a seed that is not an integer >= 0, is
    refused by name."""
    from safevla_core.critic_gate import DEFAULT_CRITIC_REPLACEMENT

    assert DEFAULT_CRITIC_REPLACEMENT == "sample"
    bundle = write_tiny_critic(tmp_path / "c", IMAGE, risk_table({AHEAD: 0.9}))
    with pytest.raises(ValueError, match=r"replacement = 'random'.*sample, likeliest"):
        CriticGate.load(bundle, POLICY, replacement="random")
    probs = {AHEAD: 0.6, LEFT: 0.25, RIGHT: 0.15}

    def replacements(gate):
        m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
        return [run(m, proposal(probs, i, float(i))).executed_action for i in range(1, 41)]

    gate = CriticGate.load(bundle, POLICY)
    first = replacements(gate)
    assert set(first) == {LEFT, RIGHT}  # both drawn, the vetoed AHEAD never
    assert first.count(LEFT) > first.count(RIGHT)  # in proportion to the policy's odds
    gate.reset()
    assert replacements(gate) == first  # repeatable: the draws restart at every episode
    # another seed (critic_seed) redraws them, the same way at every episode
    other = CriticGate.load(bundle, POLICY, seed=1)
    second = replacements(other)
    assert set(second) == {LEFT, RIGHT} and second != first
    other.reset()
    assert replacements(other) == second
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match=f"critic seed = {bad!r}; must be an integer >= 0"):
            CriticGate.load(bundle, POLICY, seed=bad)
    likeliest = CriticGate.load(bundle, POLICY, replacement="likeliest")
    assert set(replacements(likeliest)) == {LEFT}


def test_a_clear_pass_critic_passes_clear_base_motions_only_with_an_empty_gripper(tmp_path):
    """A critic with a clear pass (``clear_pass_m``) whose risk for move_ahead is high with
    anything within 0.5 m straight ahead: something 0.45 m ahead (8 cm past the base's front
    after the motion) is vetoed while the holding flag is unknown or says holding, passes once
    it says empty, and something 0.3 m ahead (in the way) is vetoed whatever it says. The gate
    needs the arm's joint state for it, and a holding flag that is not a bool is refused."""
    bundle = write_tiny_critic(
        tmp_path / "pass",
        IMAGE,
        risk_table(),
        near_ahead=risk_table({AHEAD: 0.9}),
        clear_pass_m=0.03,
    )
    gate = CriticGate.load(bundle, POLICY, arm_guard=False)  # the arm guard: its own test
    assert gate.takes_holding and gate.takes_proprio and gate.takes_scan
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    near, close = np.full(SCAN_BEAMS, 2.0), np.full(SCAN_BEAMS, 2.0)
    near[SCAN_BEAMS // 2], close[SCAN_BEAMS // 2] = 0.45, 0.3  # the beam straight ahead
    gate.on_scan(near)
    d = run(m, proposal({AHEAD: 1.0}, 1, 1.0))
    assert d.safe_stop and "joint state" in d.reason  # the pass reads the arm's extension
    gate.on_proprio([0.5, 0.0])
    outcomes = []
    for seq, (held, scan) in enumerate(
        ((None, near), (True, near), (False, near), (False, close), (False, near)), start=2
    ):
        gate.on_holding(held)
        gate.on_scan(scan)
        gate.after_decision(BACK)  # the robot moved: no latch carries over
        d = run(m, proposal({AHEAD: 1.0}, seq, float(seq)))
        outcomes.append(d.executed_action == AHEAD and not d.vetoed)
        assert gate.last.passed[AHEAD] == outcomes[-1]
    assert outcomes == [False, False, True, False, True]

    # something ahead on the right, 5.5 cm clear of the arm's sweep with the wrist at its zero:
    # the pass holds; with the gripper turned forward (90 degrees) its sweep comes within 1 cm
    # of it, and move_ahead is vetoed (the footprint follows the wrist's yaw)
    side = near.copy()
    bearings = np.degrees(SCAN_ANGLE_MIN + 2 * np.pi / SCAN_BEAMS * np.arange(SCAN_BEAMS))
    side[int(np.argmin(np.abs(bearings + 40.0)))] = 0.35
    gate.on_scan(side)
    for seq, yaw in ((7, 0.0), (8, np.pi / 2), (9, 0.0)):
        gate.on_proprio([0.5, 0.0], wrist_yaw=yaw)
        gate.after_decision(BACK)
        d = run(m, proposal({AHEAD: 1.0}, seq, float(seq)))
        assert (d.executed_action == AHEAD and not d.vetoed) == (yaw == 0.0), yaw
        assert gate.last.passed[AHEAD] == (yaw == 0.0)
    with pytest.raises(ValueError, match="wrist yaw nan"):
        gate.on_proprio([0.5, 0.0], wrist_yaw=float("nan"))
    d = run(m, proposal({AHEAD: 1.0}, 10, 10.0))  # the joint state is dropped with it
    assert d.safe_stop and "joint state" in d.reason

    with pytest.raises(ValueError, match="holding = 'yes'"):
        gate.on_holding("yes")
    assert gate.holding is None  # unknown again: no pass


def test_a_loop_of_vetoes_starts_a_detour_planned_on_the_scan(tmp_path):
    """A policy keeps proposing move_ahead into an obstacle 0.3 m ahead; each veto is replaced
    by a turn. Once 6 of the last 20 proposals were vetoed base motions, the monitor detours:
    the first side-step (the more open side first, then the other, each without and then with
    a back-off) whose every pose keeps 3 cm from the scan. Turning left in place would swing
    the retracted arm (0.31 m to the robot's right) through the obstacle, so it turns right:
    three turns right, two moves ahead, three turns left. The steps run whatever the
    proposals, each judged by the critic as it runs; then the policy has the robot again.
    With a wall 0.5 m to the right the moves ahead after turning right would reach it, so the
    detour backs off first and turns left."""
    from safevla_core.critic_gate import DEFAULT_CRITIC_DETOUR_AFTER, DETOUR_WINDOW

    assert (DEFAULT_CRITIC_DETOUR_AFTER, DETOUR_WINDOW) == (6, 20)
    bundle = write_tiny_critic(
        tmp_path / "scan", IMAGE, risk_table(), near_ahead=risk_table({AHEAD: 0.9})
    )
    for bad in (-1, DETOUR_WINDOW + 1, True, 2.0):
        with pytest.raises(ValueError, match="detour_after"):
            CriticGate.load(bundle, POLICY, detour_after=bad)
    clear, close = np.full(SCAN_BEAMS, 2.0), np.full(SCAN_BEAMS, 2.0)
    close[SCAN_BEAMS // 2] = 0.3  # the beam straight ahead
    bearing = np.degrees(SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS))
    walled = close.copy()
    walled[(bearing >= -120) & (bearing <= -60)] = 0.5  # a wall on the right
    looping = {AHEAD: 0.6, LEFT: 0.4}
    for scan, plan in (
        (close, [RIGHT] * 3 + [AHEAD] * 2 + [LEFT] * 3),
        (walled, [BACK] + [LEFT] * 3 + [AHEAD] * 2 + [RIGHT] * 3),
    ):
        gate = CriticGate.load(bundle, POLICY, arm_guard=False)  # the arm guard: its own test
        m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
        gate.on_scan(scan)
        loop = [run(m, proposal(looping, i, float(i))) for i in range(1, 6)]
        assert all(d.executed_action == LEFT and d.critic_outcome == "replaced" for d in loop)
        d = run(m, proposal(looping, 6, 6.0))  # the sixth vetoed base motion
        assert d.executed_action == plan[0] and d.vetoed and d.rule is Rule.SAFETY_CRITIC
        named = " ".join(ACTION_NAMES[a] for a in plan)
        assert f"vetoed again (6 base motions of the last 6 proposals): detour {named}" in d.reason
        assert d.category == "corner"  # the category of the veto that started it
        gate.on_scan(clear)  # the robot turns away: nothing close ahead
        steps = [run(m, proposal({AHEAD: 1.0}, i, float(i))) for i in range(7, 6 + len(plan))]
        assert [s.executed_action for s in steps] == plan[1:]
        assert all("detour" in s.reason and s.rule is Rule.SAFETY_CRITIC for s in steps)
        assert [s.vetoed for s in steps] == [a != AHEAD for a in plan[1:]]  # vs the proposal
        assert steps[-1].reason.endswith(f"{ACTION_NAMES[plan[-1]]} (0 steps left)")
        d = run(m, proposal({AHEAD: 1.0}, 20, 20.0))  # the policy drives again
        assert d.executed_action == AHEAD and not d.vetoed


def test_a_detour_step_the_critic_refuses_ends_the_detour(tmp_path):
    """Each step is judged when it runs: where the critic now rates it over a threshold, the
    detour is dropped and the proposal meets the usual rule (here a stop). With no room for any
    detour shape (returns 0.25 m all around) the loop gets its replacements as before, and
    detour_after=0 never detours."""
    bundle = write_tiny_critic(
        tmp_path / "scan", IMAGE, risk_table(), near_ahead=risk_table({AHEAD: 0.9})
    )
    close = np.full(SCAN_BEAMS, 2.0)
    close[SCAN_BEAMS // 2] = 0.3
    looping = {AHEAD: 0.6, LEFT: 0.4}
    gate = CriticGate.load(bundle, POLICY, arm_guard=False)  # the arm guard: its own test
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    gate.on_scan(close)
    outcomes = [run(m, proposal(looping, i, float(i))) for i in range(1, 7)]
    assert "detour" in outcomes[-1].reason and gate.detour
    gate.thresholds = np.full_like(gate.thresholds, 0.005)  # every action over it now
    d = run(m, proposal({AHEAD: 1.0}, 7, 7.0))
    assert d.safe_stop and "detour" not in d.reason and not gate.detour
    for scan, after in ((np.full(SCAN_BEAMS, 0.25), 6), (close, 0)):
        gate = CriticGate.load(bundle, POLICY, arm_guard=False, detour_after=after)
        m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
        gate.on_scan(scan)
        outcomes = [run(m, proposal(looping, i, float(i))) for i in range(1, 13)]
        assert all(d.executed_action == LEFT and "detour" not in d.reason for d in outcomes)


def test_the_arm_guard_vetoes_an_extension_into_what_the_arm_scan_sees(tmp_path):
    """A critic that reads the range scan and rates every action harmless. With the arm guard
    (on by default) the monitor also needs the arm scan and the arm's joint state: without
    either, a stale or a rejected arm scan, it stops. Something 3 cm past the gripper's tip on
    the robot's right, at the arm's heights (in the arm scan): ``arm_out`` (10 cm) is vetoed
    and replaced by ``arm_out_small`` (2 cm: it stops 8 mm short); the same return only in the
    full scan (under the arm) leaves ``arm_out`` alone, and so does the guard turned off."""
    out, small = ACTION_NAMES.index("arm_out"), ACTION_NAMES.index("arm_out_small")
    bundle = write_tiny_critic(
        tmp_path / "scan", IMAGE, risk_table(), near_ahead=risk_table({AHEAD: 0.9})
    )
    with pytest.raises(ValueError, match="arm_guard = 'yes'"):
        CriticGate.load(bundle, POLICY, arm_guard="yes")
    gate = CriticGate.load(bundle, POLICY)
    assert gate.takes_arm_scan and gate.takes_proprio and not gate.critic.takes_proprio
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
    clear = np.full(SCAN_BEAMS, 2.0)
    beside = clear.copy()
    bearing = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    # the beam at -95 degrees: 0.44 m out it meets the arm's line (x -4 cm) 3 cm past the tip
    # of the gripper with the arm out 0.1 m (the retracted arm reaches 0.31 m to the right)
    k = int(np.argmin(np.abs(bearing - np.radians(-95.0))))
    beside[k] = 0.44
    reaching = {out: 0.6, small: 0.4}
    gate.on_scan(clear, stamp_s=1.0)
    gate.on_proprio([0.8, 0.1], stamp_s=1.0)
    d = run(m, proposal(reaching, 1, 1.0))
    assert d.safe_stop and "scan_arm_topic" in d.reason and "critic_arm_guard" in d.reason
    gate.on_scan_arm(beside, stamp_s=2.0)
    gate.on_scan(clear, stamp_s=2.0)
    gate.on_proprio([0.8, 0.1], stamp_s=2.0)
    d = run(m, proposal(reaching, 2, 2.0))
    assert (d.executed_action, d.critic_outcome) == (small, "replaced")
    assert "arm_out would bring the gripper within 5 mm" in d.reason and "arm guard" in d.reason
    assert gate.striking.tolist() == [a == out for a in range(NUM_ACTIONS)]
    gate.after_decision(small)
    gate.on_scan_arm(clear, stamp_s=3.0)  # it is under the arm: only the full scan has it
    gate.on_scan(beside, stamp_s=3.0)
    gate.on_proprio([0.8, 0.1], stamp_s=3.0)
    d = run(m, proposal(reaching, 3, 3.0))
    assert d.executed_action == out and not d.vetoed
    late = 3.0 + gate.scan_max_age_s + 0.1
    gate.on_scan(beside, stamp_s=late)  # the scanner goes on, the arm scan stopped
    gate.on_proprio([0.8, 0.1], stamp_s=late)
    d = run(m, proposal(reaching, 4, late))
    assert d.safe_stop and "arm scan is" in d.reason and "s old" in d.reason
    bad = clear.copy()
    bad[2] = np.nan
    with pytest.raises(ValueError, match=r"arm scan \(scan_arm\) holds 1 NaN"):
        gate.on_scan_arm(bad, stamp_s=5.0)
    gate.on_scan(clear, stamp_s=5.0)
    gate.on_proprio([0.8, 0.1], stamp_s=5.0)
    d = run(m, proposal(reaching, 5, 5.0))  # the last good one is dropped with it
    assert d.safe_stop and "scan_arm_topic" in d.reason

    off = CriticGate.load(bundle, POLICY, arm_guard=False)
    assert not off.takes_arm_scan and not off.takes_proprio
    m = SafetyMonitor(MonitorConfig(), 0.0, critic=off)
    off.on_scan(clear, stamp_s=6.0)
    d = run(m, proposal(reaching, 6, 6.0))
    assert d.executed_action == out and not d.vetoed


def test_a_robot_frozen_by_the_corner_guard_alone_is_released_past_it(tmp_path):
    """The corner guard raises every base motion's corner risk to 1 (a robot wedged in a
    cramped spot, measured: 460 steps stopped, every motion's exact one-step cost 0) while the
    critic's own risks pass them. The stall release finds nothing below the thresholds; once a
    whole window of proposals stopped, it gives the guard's raise back and releases a base
    motion the calibrated thresholds pass on the critic's own risk (never one they refuse),
    counted apart; the count starts again. Where the critic's own risks refuse every motion
    too, the robot stays stopped."""
    from safevla_core.critic_gate import STALL_WINDOW
    from safevla_core.safety_critic import allowed_mask

    corner = CATS.index("corner")
    base = np.array([a.kind.name.startswith("BASE_") for a in ACTIONS])
    own = {a.index: 0.1 for a in ACTIONS if a.moves_robot}  # every motion passes (0.2 x)
    own[AHEAD] = own[BACK] = 0.9  # ... but the proposal and move_back: never released

    def wedged(bundle):
        gate = CriticGate.load(bundle, POLICY)
        step = gate.critic.step

        def guarded(*args, **kwargs):  # as a graph ending in the corner guard hands it out
            v = step(*args, **kwargs)
            risk = v.risk.copy()
            risk[base, corner] = 1.0
            blocked, allowed = allowed_mask(risk, v.thresholds)
            return dataclasses.replace(
                v, risk=risk, blocked=blocked, allowed=allowed, unguarded=v.risk
            )

        gate.critic.step = guarded
        m = SafetyMonitor(MonitorConfig(), 0.0, critic=gate)
        return gate, [
            run(m, proposal({AHEAD: 1.0}, i, float(i))) for i in range(1, 2 * STALL_WINDOW + 3)
        ]

    gate, out = wedged(write_tiny_critic(tmp_path / "c", IMAGE, risk_table(own)))
    assert [d.executed_action for d in out[:STALL_WINDOW]] == [None] * STALL_WINDOW
    freed = out[STALL_WINDOW]
    assert freed.executed_action is not None and base[freed.executed_action]
    assert freed.executed_action not in (AHEAD, BACK)
    assert "the corner guard's raise given back: frozen" in freed.reason
    # the window starts again: the next frozen release comes a whole window later
    nxt = [i for i, d in enumerate(out) if d.executed_action is not None]
    assert nxt == [STALL_WINDOW, 2 * STALL_WINDOW + 1]
    assert gate.releases == gate.frozen_releases == 2
    gate.reset()
    assert gate.frozen_releases == 0

    every = {a.index: 0.9 for a in ACTIONS if a.moves_robot}  # its own risks refuse all too
    gate, out = wedged(write_tiny_critic(tmp_path / "d", IMAGE, risk_table(every)))
    assert all(d.safe_stop for d in out) and gate.frozen_releases == 0
