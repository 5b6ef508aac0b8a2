"""The motion feedback ("bump": blocked, collided of the last executed action) over ROS: the sim
bridge publishes it, a policy node whose bundle takes it reads it and proposes nothing without
it, a policy node with an ordinary bundle never subscribes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from ros_harness import (
    Probe,
    drive_bridge_episode,
    frame_sender,
    run_sim_moves,
    stamp_ns,
    wait_until_up,
)
from sensor_msgs.msg import JointState, LaserScan
from std_msgs.msg import Bool, Float32MultiArray, String

from safevla_core.actions import BUMP_FIELDS, action_by_name
from safevla_core.policy_runtime import PolicyRuntime
from safevla_ros.msg import ActionProposal, MotionFeedback
from safevla_ros.msg_conversions import (
    bump_values,
    motion_feedback,
    proprio_values,
    scan_values,
    wrist_yaw_value,
)
from safevla_ros.params import (
    BUMP_TOPIC,
    JOINT_STATES_TOPIC,
    MONITOR_PARAMS,
    POLICY_PARAMS,
    SCAN_TOPIC,
    SIM_BRIDGE_PARAMS,
    joint_names,
    resolve,
)
from safevla_ros.ros_common import RELIABLE_QOS, SENSOR_QOS

pytestmark = pytest.mark.ros

BUMP, IMAGE, PROP = "safevla/bump", "safevla/image", "safevla/proposal"
INSTRUCTION, TEXT = "safevla/instruction", "find an apple"


def test_message_fields_are_the_bump_fields_and_both_nodes_share_the_topic():
    fields = [f for f in MotionFeedback.get_fields_and_field_types() if f != "header"]
    assert tuple(fields) == BUMP_FIELDS
    for b in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
        msg = motion_feedback(np.array(b, np.float32), MotionFeedback().header)
        assert bump_values(msg).tolist() == list(b)
    for specs in (POLICY_PARAMS, SIM_BRIDGE_PARAMS):
        assert next(s for s in specs if s.name == "bump_topic").default == BUMP_TOPIC == BUMP


def test_sim_bridge_publishes_the_env_feedback_every_step(nodes, probe):
    """Zeros when the episode starts, then after every step (a stop repeats the last one) the
    env's ``obs["bump"]``, replayed here on the same episode: an arm pushed past its limit is
    blocked, driving into a wall is blocked and collided. The range scan of each observation
    goes out beside it (LaserScan on ``scan``), the env's ``obs["scan"]`` exactly, and so does
    the arm's joint state (JointState on ``joint_states``, read as the monitor reads it), the
    env's ``obs["proprio"]`` and ``obs["wrist_yaw"]``."""
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episodes import load_episodes, shipped_path

    actions = ["arm_in", "arm_down", "wrist_open"] + ["move_ahead"] * 4 + ["stop", "move_ahead"]
    episodes = load_episodes(shipped_path("objnav"))
    size = dict(camera_width=64, camera_height=48)
    nodes("sim_bridge_node", auto_reset=False, max_steps=len(actions), frame_rate_hz=20.0, **size)
    probe.subscribe("safevla/holding", Bool, RELIABLE_QOS)
    probe.subscribe(SCAN_TOPIC, LaserScan, SENSOR_QOS)
    probe.subscribe(JOINT_STATES_TOPIC, JointState, SENSOR_QOS)  # as the monitor subscribes
    drive_bridge_episode(probe, episodes[0].episode_id, actions, BUMP, MotionFeedback)
    counts = lambda: (len(probe.msgs(BUMP)), len(probe.msgs("safevla/holding")))  # noqa: E731
    probe.spin_until(lambda: counts() >= (len(actions) + 1, len(actions)), timeout=5)

    cfg = EnvConfig(nav_size=(48, 64), manip_size=(48, 64), max_steps=9, range_scan=True)
    env = make_env(episodes, cfg)
    obs, _ = env.reset(seed=0, options={"episode": episodes[0]})  # the bridge's first episode
    joint_state_of = lambda o: np.append(o["proprio"], o["wrist_yaw"])  # noqa: E731
    want, scans, arms = [tuple(obs["bump"])], [obs["scan"]], [joint_state_of(obs)]
    for name in actions:
        if name != "stop":  # a stop executes nothing: the feedback stays the last action's
            obs = env.step(action_by_name(name).index)[0]
        want.append(tuple(obs["bump"]))
        scans.append(obs["scan"])
        arms.append(joint_state_of(obs))
    env.close()
    got_scans = [scan_values(m) for m in probe.msgs(SCAN_TOPIC)]
    assert len(got_scans) >= len(actions) // 2  # sensor QoS: best effort
    assert all(any(np.allclose(g, w, atol=1e-6) for w in scans) for g in got_scans)
    np.testing.assert_allclose(got_scans[-1], scans[-1], atol=1e-6)
    assert np.abs(scans[0] - scans[4]).max() > 0.1  # the robot moved: the scan changed
    # the monitor's defaults name the joints the bridge publishes (Stretch's)
    p = resolve(MONITOR_PARAMS, {})
    joints, wrist = joint_names(p), p["wrist_joint"]
    got_arms = [
        np.append(proprio_values(m, *joints), wrist_yaw_value(m, wrist))
        for m in probe.msgs(JOINT_STATES_TOPIC)
    ]
    assert len(got_arms) >= len(actions) // 2
    assert all(any(np.allclose(g, w, atol=1e-6) for w in arms) for g in got_arms)
    np.testing.assert_allclose(got_arms[-1], arms[-1], atol=1e-6)
    assert abs(arms[0][0] - arms[-1][0]) > 0.05  # arm_down lowered the lift
    assert arms[-1][2] == pytest.approx(math.radians(10.0), abs=0.02)  # wrist_open turned it
    got = [tuple(bump_values(m)) for m in probe.msgs(BUMP)]
    assert got == want
    assert (0.0, 0.0) in want[1:] and (1.0, 0.0) in want and (1.0, 1.0) in want  # all kinds
    assert len(probe.msgs("safevla/holding")) == len(actions)  # published next to it
    assert all(m.header.stamp.sec > 0 for m in probe.msgs(BUMP))


def _subscriptions(probe) -> dict[str, list[str]]:
    """The policy node's subscriptions as the probe sees them: topic -> types."""
    return dict(probe.node.get_subscriber_names_and_types_by_node("policy_node", "/"))


def test_policy_with_a_bump_bundle_proposes_only_with_feedback(nodes, probe, bump_bundle_path):
    """No feedback ever heard (nor of the wrong message type or QoS): no proposal, a WARN
    naming the topic. Then each proposal is the graph's output for the latest feedback, and a
    new instruction (episode start) resets it to zeros."""
    nodes("policy_node", bundle_path=bump_bundle_path)
    wait_until_up(probe, ["policy_node"])
    assert probe.spin_until(lambda: "/" + BUMP in _subscriptions(probe), timeout=10)
    assert _subscriptions(probe)["/" + BUMP] == ["safevla_ros/msg/MotionFeedback"]
    probe.subscribe(PROP, ActionProposal)
    probe.subscribe("/diagnostics", DiagnosticArray)
    instruction = probe.latched(INSTRUCTION, String)
    instruction.publish(String(data=TEXT))
    send, pixels = frame_sender(probe, IMAGE)

    def warned() -> bool:
        return any(
            "/" + BUMP in s.message and "no proposal" in s.message
            for d in probe.msgs("/diagnostics")
            for s in d.status
            if s.name == "/policy_node"
        )

    assert probe.spin_until(warned, timeout=20, every=send, period=0.1)
    # neither another message type on the topic nor a volatile (not latched) publisher of the
    # right one ever reaches the node: both count as no feedback
    wrong, volatile = Probe("wrong_type"), Probe("volatile")
    try:
        pubs = [
            (wrong.latched(BUMP, Float32MultiArray), Float32MultiArray(data=[0.0, 0.0])),
            (volatile.publisher(BUMP, MotionFeedback, RELIABLE_QOS), MotionFeedback()),
        ]
        for _ in range(15):
            for pub, msg in pubs:
                pub.publish(msg)
            wrong.spin_for(0.02)
            volatile.spin_for(0.02)
            send()
            probe.spin_for(0.05)
    finally:
        wrong.close()
        volatile.close()
    probe.spin_for(0.5)
    assert not probe.msgs(PROP), "proposed without motion feedback"
    log = (nodes.log_dir / "policy_node.log").read_text()
    assert f"nothing has arrived on /{BUMP}" in log

    runtime = PolicyRuntime(bump_bundle_path, ["cpu"], 1)
    feedback = probe.latched(BUMP, MotionFeedback)

    def propose(bump=None, new_episode=False) -> np.ndarray:
        """Optionally a new instruction and feedback, time to land, then one frame."""
        if new_episode:
            instruction.publish(String(data=TEXT))
        if bump is not None:
            feedback.publish(MotionFeedback(blocked=bool(bump[0]), collided=bool(bump[1])))
        probe.spin_for(1.0)
        stamp = send()
        mine = lambda: [p for p in probe.msgs(PROP) if stamp_ns(p) == stamp]  # noqa: E731
        assert probe.spin_until(mine, timeout=20), "no proposal"
        return np.array(mine()[0].action_probabilities, np.float32)

    def local(bump) -> np.ndarray:
        return runtime.step(pixels, TEXT, holding=False, bump=bump).probs

    got = propose((1, 1))  # the first step of the episode, with the feedback heard
    assert np.allclose(got, local((1, 1)), atol=1e-5)
    runtime.reset()
    got_reset = propose(new_episode=True)  # episode start: zeros, no message needed
    want_reset = local((0, 0))
    assert np.allclose(got_reset, want_reset, atol=1e-5)
    assert np.abs(got - got_reset).max() > 1e-3  # the feedback changes the output
    got = propose((1, 0))  # the episode's second step
    assert np.allclose(got, local((1, 0)), atol=1e-5)


def test_policy_with_an_ordinary_bundle_does_not_subscribe(nodes, probe, bundle_path):
    nodes("policy_node", bundle_path=bundle_path)
    wait_until_up(probe, ["policy_node"])
    others = {"/" + t for t in (INSTRUCTION, IMAGE, "safevla/verdict", "safevla/holding")}
    assert probe.spin_until(lambda: others <= set(_subscriptions(probe)), timeout=10)
    probe.spin_for(1.0)  # time for a bump subscription to be discovered too, were there one
    assert "/" + BUMP not in _subscriptions(probe)
    assert probe.node.count_subscribers(BUMP) == 0
    probe.subscribe(PROP, ActionProposal)
    probe.latched(INSTRUCTION, String).publish(String(data=TEXT))
    send, _ = frame_sender(probe, IMAGE)
    assert probe.spin_until(lambda: probe.msgs(PROP), timeout=20, every=send, period=0.1)


@pytest.mark.slow
def test_run_sim_with_a_bump_bundle(subprocess_env, ros_domain_id, bump_bundle_path, tmp_path):
    """`safevla run --sim` wires the feedback from the sim bridge to the policy: the episodes
    run on the policy's actions, never held up for want of feedback."""
    policy_log = run_sim_moves(bump_bundle_path, subprocess_env, ros_domain_id, tmp_path / "logs")
    assert "takes the motion feedback" in policy_log and "nothing has arrived" not in policy_log


def _ahead_session(probe, ahead: int):
    """Talk to a running policy node of the always-move_ahead bundle: (instruction publisher,
    verdict publisher, ``propose()`` -> the proposed action index for a fresh frame, checking
    the policy itself still wants move_ahead)."""
    from safevla_ros.msg import SafetyVerdict

    probe.subscribe(PROP, ActionProposal)
    instruction = probe.latched(INSTRUCTION, String)
    instruction.publish(String(data=TEXT))
    verdict = probe.publisher("safevla/verdict", SafetyVerdict, RELIABLE_QOS)
    send, _ = frame_sender(probe, IMAGE)
    # discovery first (a slow start-up loses the first frame, verdict or proposal otherwise)
    assert probe.spin_until(
        lambda: verdict.get_subscription_count() > 0 and probe.node.count_publishers(PROP) > 0,
        timeout=30,
    )

    def propose() -> int:
        # a frame the node got before the latched instruction reached it is not answered (a
        # discovery race seen once in CI): send another, as a camera would
        for _ in range(3):
            stamp = send()
            mine = lambda s=stamp: [p for p in probe.msgs(PROP) if stamp_ns(p) == s]  # noqa: E731
            if probe.spin_until(mine, timeout=10):
                break
        assert mine(), "no proposal"
        p = mine()[0]
        assert int(np.argmax(p.action_probabilities)) == ahead  # what the policy itself wants
        return p.action_index

    return instruction, verdict, propose


def test_skip_blocked_never_proposes_a_motion_again_where_it_was_blocked(
    nodes, probe, ahead_bundle
):
    """A bundle that always prefers move_ahead, with ``skip_blocked``: the node reads the
    feedback although the bundle does not take it; once the verdict executed move_ahead and
    the feedback said blocked, the node proposes the next most likely motion until a turn
    went through, then move_ahead again. A new instruction forgets the wall."""
    from safevla_ros.msg import SafetyVerdict

    ahead, left, back = (
        action_by_name(n).index for n in ("move_ahead", "rotate_left", "move_back")
    )
    nodes("policy_node", bundle_path=ahead_bundle, skip_blocked=True)
    wait_until_up(probe, ["policy_node"])
    assert probe.spin_until(lambda: "/" + BUMP in _subscriptions(probe), timeout=10)
    feedback = probe.latched(BUMP, MotionFeedback)
    instruction, verdict, propose = _ahead_session(probe, ahead)

    def execute(action: int, blocked: bool) -> None:
        verdict.publish(SafetyVerdict(executed_action=action))
        probe.spin_for(0.3)  # the verdict, then the feedback of that action
        feedback.publish(MotionFeedback(blocked=blocked, collided=blocked))
        probe.spin_for(0.5)

    assert propose() == ahead
    execute(ahead, blocked=True)
    assert propose() == left  # not into the wall again
    execute(left, blocked=True)  # the turn was blocked too
    assert propose() == back
    assert propose() == back  # no new feedback, no new motion: the wall is still there
    execute(back, blocked=False)  # it backed off: the turn may work now, ahead is the wall
    assert propose() == left
    execute(left, blocked=False)  # it turned
    assert propose() == ahead
    execute(ahead, blocked=True)
    assert propose() == left
    instruction.publish(String(data=TEXT))  # a new episode
    probe.spin_for(0.5)
    assert propose() == ahead


def test_break_dither_stops_the_node_undoing_its_own_last_motion(nodes, probe, ahead_bundle):
    """A bundle that always prefers move_ahead (then rotate_left), with ``break_dither: 4``:
    once the verdicts executed four motions in a row each undoing the one before (the
    monitor's replacements here), the node does not propose the undo of the last one, and
    proposes its own wish again once something else ran. A new instruction forgets the
    history."""
    from safevla_ros.msg import SafetyVerdict

    ahead, left, back = (
        action_by_name(n).index for n in ("move_ahead", "rotate_left", "move_back")
    )
    nodes("policy_node", bundle_path=ahead_bundle, break_dither=4)
    wait_until_up(probe, ["policy_node"])
    instruction, verdict, propose = _ahead_session(probe, ahead)

    def execute(action: int) -> None:
        verdict.publish(SafetyVerdict(executed_action=action))
        probe.spin_for(0.3)

    assert propose() == ahead
    for a in (back, ahead, back):  # three alternations: not yet a dither
        execute(a)
    assert propose() == ahead
    execute(ahead)
    execute(back)  # five alternations: the undo of this move_back, move_ahead, is masked
    assert propose() == left
    execute(left)  # something else ran: the break is over
    assert propose() == ahead
    for a in (ahead, back, ahead, back):
        execute(a)
    assert propose() == left
    instruction.publish(String(data=TEXT))  # a new episode
    probe.spin_for(0.5)
    assert propose() == ahead
