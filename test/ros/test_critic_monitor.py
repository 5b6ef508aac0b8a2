"""The independent safety critic in the monitor node, with real processes: perception, safety
monitor (with a critic bundle) and action adapter; the test process proposes like a policy,
on every perception frame, an action the critic marks as risky. That action never reaches
cmd_vel: the monitor replaces it (when the proposal gives another action weight) or stops. A
critic that does not match the policy bundle keeps the monitor from starting. A critic that
reads the motion feedback stops the robot until MotionFeedback arrives, then lets move_ahead
through out of contact and vetoes it in contact. A critic that reads the range scan stops the
robot until a usable LaserScan arrives, vetoes move_ahead with an obstacle close ahead, detours
once the proposer keeps at it, and stops again on a scan that does not cover its bearings. A
critic that reads the object scan (the scan with the static structure removed) stops the robot
with the plain scan alone, and judges on the object scan: an object close ahead vetoes
move_ahead, a wall close ahead does not.
A critic that reads the arm's joint
state stops the robot until a JointState arrives, lets arm_out through to the adapter's arm
command with the arm in, vetoes it with the arm out, and stops again on a JointState without
the configured joints."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist
from ros_harness import CAM, CMD, PROP, VERDICT, frame, wait_until_up
from sensor_msgs.msg import Image, JointState, LaserScan
from std_msgs.msg import Bool, String
from tiny_critic import risk_table, write_tiny_critic

from safevla_core.action_adapter import MotionProfile, command_for
from safevla_core.actions import ACTION_NAMES
from safevla_core.bundle import load_bundle
from safevla_core.safety_spec import COST_CATEGORIES
from safevla_ros.msg import ActionProposal, MotionFeedback, SafetyEvent, SafetyVerdict
from safevla_ros.ros_common import FRAME_QOS, SENSOR_QOS

pytestmark = pytest.mark.ros
AHEAD, LEFT = ACTION_NAMES.index("move_ahead"), ACTION_NAMES.index("rotate_left")
BACK, RIGHT = ACTION_NAMES.index("move_back"), ACTION_NAMES.index("rotate_right")
ARM_OUT = ACTION_NAMES.index("arm_out")
AHEAD_CMD = command_for(AHEAD, MotionProfile())


def propose(probe, image: Image, seq: int, action: int = AHEAD) -> None:
    """``action`` (move_ahead) on this frame; odd proposals also give rotate_left weight, even
    ones are one-hot (nothing to replace it with)."""
    p = np.zeros(20, np.float32)
    p[action] = 0.7 if seq % 2 else 1.0
    p[LEFT] = 1.0 - p[action]
    msg = ActionProposal(header=image.header, action_index=action, sequence=seq)
    msg.action_names, msg.action_name = list(ACTION_NAMES), ACTION_NAMES[action]
    msg.action_probabilities = p.tolist()
    msg.cost_categories = list(COST_CATEGORIES)
    msg.predicted_cost = [0.0] * 20  # the policy's own critic sees no risk at all
    msg.predicted_cost_by_category = [0.0] * 100
    probe.publisher(PROP, ActionProposal).publish(msg)


def start_shielded(nodes, probe, bundle_path, critic, action: int = AHEAD, **monitor):
    """Perception, a monitor with ``critic`` (and the ``monitor`` parameters) and the adapter,
    up; the probe proposes ``action`` on every perception frame (:func:`propose`) once the
    instruction is out, and records verdicts. Returns the camera frame to publish, (pixels,
    encoding)."""
    nodes("perception_node", bundle_path=bundle_path)
    nodes("safety_monitor_node", bundle_path=bundle_path, critic_bundle=str(critic), **monitor)
    nodes("action_adapter_node")
    wait_until_up(probe, ["perception_node", "safety_monitor_node", "action_adapter_node"])
    probe.subscribe(VERDICT, SafetyVerdict)
    seq = [0]

    def on_image(msg: Image) -> None:
        seq[0] += 1
        propose(probe, msg, seq[0], action)

    probe.node.create_subscription(Image, "safevla/image", on_image, FRAME_QOS)
    probe.latched("safevla/instruction", String).publish(String(data="find an apple"))
    return frame()


def verdicts_counter(probe):
    """``judged(pred, n=1, after=0)``: a condition for ``probe.spin_until``, true once ``n``
    verdicts on proposals after sequence ``after`` satisfy ``pred``."""

    def judged(pred, n=1, after=0):
        return lambda: (
            sum(pred(v) for v in probe.msgs(VERDICT) if v.proposal_sequence > after) >= n
        )

    return judged


def shielded_by_tiny_critic(
    nodes, probe, bundle_path, tmp_path, action=AHEAD, monitor=None, **tiny
):
    """The shielded stack (:func:`start_shielded`, proposing ``action``, the monitor with the
    parameters ``monitor``) with a tiny critic that is harmless except under its condition
    (``write_tiny_critic(**tiny)``); returns ``feed`` (publish one camera frame) and
    ``judged`` (:func:`verdicts_counter`)."""
    image = load_bundle(bundle_path).image
    critic = write_tiny_critic(tmp_path / "critic", image, risk_table(), **tiny)
    pixels, enc = start_shielded(nodes, probe, bundle_path, critic, action, **(monitor or {}))
    return (lambda: probe.publish_image(CAM, pixels, enc)), verdicts_counter(probe)


def test_a_vetoed_action_never_reaches_cmd_vel(nodes, probe, bundle_path, tmp_path):
    image = load_bundle(bundle_path).image
    critic = write_tiny_critic(tmp_path / "critic", image, risk_table({AHEAD: 0.9}))
    probe.subscribe(CMD, Twist)
    # the replacement and the stop alone; the back-off after repeated vetoes: the next test
    # (the stall release, which needs as many stops: test/core/test_critic_gate.py)
    pixels, enc = start_shielded(
        nodes, probe, bundle_path, critic, critic_recover_after=0, critic_stall_stops=0
    )
    answered = lambda: sum(v.proposal_sequence > 0 for v in probe.msgs(VERDICT)) >= 30  # noqa: E731
    assert probe.spin_until(answered, 60, lambda: probe.publish_image(CAM, pixels, enc))
    probe.spin_for(0.5)

    verdicts = [v for v in probe.msgs(VERDICT) if v.proposal_sequence > 0]
    assert not any(v.executed_action == AHEAD and not v.safe_stop for v in verdicts)
    critic_calls = [v for v in verdicts if v.triggered_rule == "safety_critic"]
    replaced = [v for v in critic_calls if not v.safe_stop]
    stopped = [v for v in critic_calls if v.safe_stop]
    assert replaced and stopped, [(v.triggered_rule, v.reason) for v in verdicts[:5]]
    assert all(v.proposal_sequence % 2 == 1 and v.executed_action == LEFT for v in replaced)
    # most proposals found their frame; a missing one is a stop too, never a motion
    missing = [v for v in stopped if "never reached" in v.reason]
    assert len(missing) <= len(verdicts) // 4, [v.reason for v in verdicts]
    judged = [v for v in critic_calls if v not in missing]
    assert all("move_ahead risk corner 0.9" in v.reason and v.vetoed for v in judged)
    twists = probe.msgs(CMD)
    assert any(tw.angular.z != 0.0 for tw in twists)  # the replacement did drive the base
    assert not any(tw.linear.x == pytest.approx(AHEAD_CMD.linear_x) for tw in twists)
    assert all(tw.linear.x == 0.0 for tw in twists)


def test_repeated_vetoes_back_off_and_the_vetoed_action_still_never_reaches_cmd_vel(
    nodes, probe, bundle_path, tmp_path
):
    """The default monitor: move_ahead vetoed on every proposal, so after three vetoes among
    the last ten the veto is answered by backing off (move_back, which the critic passes,
    though the policy gave it no probability); the robot drives backwards, never ahead."""
    image = load_bundle(bundle_path).image
    critic = write_tiny_critic(tmp_path / "critic", image, risk_table({AHEAD: 0.9}))
    probe.subscribe(CMD, Twist)
    pixels, enc = start_shielded(nodes, probe, bundle_path, critic)
    judged = verdicts_counter(probe)
    backing = lambda v: v.executed_action == BACK and "backing off with move_back" in v.reason  # noqa: E731
    assert probe.spin_until(judged(backing, 2), 60, lambda: probe.publish_image(CAM, pixels, enc))
    probe.spin_for(0.5)
    verdicts = [v for v in probe.msgs(VERDICT) if v.proposal_sequence > 0]
    assert not any(v.executed_action == AHEAD and not v.safe_stop for v in verdicts)
    assert all(v.vetoed for v in verdicts if v.executed_action == BACK)
    twists = probe.msgs(CMD)
    assert any(tw.linear.x < 0.0 for tw in twists)  # backed off
    assert not any(tw.linear.x > 0.0 for tw in twists)


def test_a_stalled_robot_is_released_within_the_thresholds_and_counted(
    nodes, probe, bundle_path, tmp_path
):
    """The default monitor with move_ahead and move_back both vetoed (no back-off) and the
    back-off off: the escape moves the robot after three stops in a row, so stops fill the
    last 20 proposals without ever reaching three in a row again; the stall release then runs
    a base motion the thresholds pass. move_ahead still never reaches /cmd_vel, and
    /diagnostics counts the releases. The proposer never stops asking for move_ahead: once 30
    of the last 100 proposals stopped the robot is held, /diagnostics warns and says why, and
    one SafetyEvent ("held_by_critic") tells the fleet."""
    from safevla_core.critic_gate import HELD_STOPS, HELD_WINDOW
    from safevla_ros.params import EVENT_TOPIC

    image = load_bundle(bundle_path).image
    critic = write_tiny_critic(tmp_path / "critic", image, risk_table({AHEAD: 0.9, BACK: 0.9}))
    probe.subscribe(CMD, Twist)
    probe.subscribe("/diagnostics", DiagnosticArray)
    probe.subscribe(EVENT_TOPIC, SafetyEvent, 50)
    pixels, enc = start_shielded(nodes, probe, bundle_path, critic, critic_recover_after=0)
    judged = verdicts_counter(probe)
    releasing = lambda v: "releasing" in v.reason  # noqa: E731
    assert probe.spin_until(
        judged(releasing, 2), 90, lambda: probe.publish_image(CAM, pixels, enc)
    )

    def counted() -> int:
        got = [
            int(kv.value)
            for d in probe.msgs("/diagnostics")
            for st in d.status
            for kv in st.values
            if kv.key == "critic_releases"
        ]
        return max(got, default=0)

    assert probe.spin_until(lambda: counted() >= 2, 10)
    verdicts = [v for v in probe.msgs(VERDICT) if v.proposal_sequence > 0]
    released = [v for v in verdicts if releasing(v)]
    assert all(v.executed_action not in (AHEAD, BACK) and not v.safe_stop for v in released)
    assert all("x threshold < 1)" in v.reason for v in released)
    assert not any(v.executed_action == AHEAD and not v.safe_stop for v in verdicts)
    assert not any(tw.linear.x != 0.0 for tw in probe.msgs(CMD))

    def held() -> list[str]:
        return [
            st.message
            for d in probe.msgs("/diagnostics")
            for st in d.status
            if st.name == "/safety_monitor_node"
            and st.level == DiagnosticStatus.WARN
            and "held by the safety critic" in st.message
        ]

    assert probe.spin_until(held, 60, lambda: probe.publish_image(CAM, pixels, enc))
    stops, window = map(int, re.search(r"(\d+) of the last (\d+) proposals", held()[0]).groups())
    assert stops >= HELD_STOPS and window <= HELD_WINDOW
    stopped = [
        v.safe_stop and v.triggered_rule == "safety_critic"
        for v in probe.msgs(VERDICT)
        if v.proposal_sequence > 0
    ]
    assert sum(stopped[-HELD_WINDOW:]) >= HELD_STOPS  # it stays held: the count is the verdicts'
    events = [e for e in probe.msgs(EVENT_TOPIC) if e.category == "held_by_critic"]
    assert len(events) == 1 and events[0].severity == SafetyEvent.SEVERITY_WARNING
    assert "held by the safety critic" in events[0].reason


def test_a_critic_that_does_not_match_the_policy_keeps_the_monitor_from_starting(
    nodes, bundle_path, tmp_path
):
    image = load_bundle(bundle_path).image
    other = dataclasses.replace(image, height=image.height * 2, width=image.width * 2)
    critic = write_tiny_critic(tmp_path / "critic", other, risk_table())
    monitor = nodes("safety_monitor_node", bundle_path=bundle_path, critic_bundle=str(critic))
    assert monitor.wait(timeout=60) == 1
    log = (nodes.log_dir / "safety_monitor_node.log").read_text()
    assert "image spec" in log and "differs from policy bundle" in log
    assert "startup failed" in log
    # no policy bundle to check it against: refused as well, naming the parameter
    monitor = nodes("safety_monitor_node", critic_bundle=str(critic))
    assert monitor.wait(timeout=60) == 1
    assert "'bundle_path' is empty" in (nodes.log_dir / "safety_monitor_node.log").read_text()


def test_a_feedback_critic_follows_the_robots_motion_feedback(nodes, probe, bundle_path, tmp_path):
    feed, judged = shielded_by_tiny_critic(
        nodes, probe, bundle_path, tmp_path, in_contact=risk_table({AHEAD: 0.9})
    )

    no_feedback = lambda v: v.safe_stop and "motion feedback" in v.reason  # noqa: E731
    assert probe.spin_until(judged(no_feedback, 5), 60, feed)
    assert not any(
        v.executed_action == AHEAD and not v.safe_stop for v in probe.msgs(VERDICT)
    )  # nothing moves before the feedback
    bump = probe.latched("safevla/bump", MotionFeedback)
    bump.publish(MotionFeedback(blocked=False, collided=False))
    ahead = lambda v: v.executed_action == AHEAD and not v.safe_stop  # noqa: E731
    assert probe.spin_until(judged(ahead, 3), 30, feed)  # out of contact: allowed
    bump.publish(MotionFeedback(blocked=False, collided=True))
    vetoed = lambda v: v.vetoed and "move_ahead risk corner 0.9" in v.reason  # noqa: E731
    assert probe.spin_until(judged(vetoed, 1), 30, feed)
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT) if vetoed(v))
    assert probe.spin_until(
        lambda: max(v.proposal_sequence for v in probe.msgs(VERDICT)) >= start + 10, 30, feed
    )
    after = [v for v in probe.msgs(VERDICT) if v.proposal_sequence > start]
    assert after and not any(ahead(v) for v in after)  # in contact: never executed
    assert any(v.executed_action == LEFT and not v.safe_stop for v in after)  # replaced


def test_the_contact_guard_follows_the_motion_feedback(nodes, probe, bundle_path, tmp_path):
    """A critic that rates every motion safe: arm_out runs until the robot reports it blocked
    by contact; then the monitor's contact guard vetoes it (replaced by rotate_left or a stop)."""
    feed, judged = shielded_by_tiny_critic(
        nodes, probe, bundle_path, tmp_path, action=ARM_OUT, in_contact=risk_table()
    )
    bump = probe.latched("safevla/bump", MotionFeedback)
    bump.publish(MotionFeedback(blocked=False, collided=False))
    out = lambda v: v.executed_action == ARM_OUT and not v.vetoed  # noqa: E731
    assert probe.spin_until(judged(out, 3), 60, feed)
    bump.publish(MotionFeedback(blocked=True, collided=True))
    guarded = lambda v: v.vetoed and "touched something" in v.reason  # noqa: E731
    assert probe.spin_until(judged(guarded, 1), 30, feed)
    assert all(v.safe_stop or v.executed_action == LEFT for v in probe.msgs(VERDICT) if guarded(v))


def lidar(front_m: float, degrees: int = 360) -> LaserScan:
    """A 1-degree LaserScan as a lidar driver publishes it (-pi onwards, counter-clockwise),
    2 m all round except ``front_m`` within 10 degrees of straight ahead; ``degrees`` < 360
    covers only that much, centred ahead (+inf = no return beyond 2 m elsewhere)."""
    n = degrees
    angles = np.deg2rad(np.arange(n) - n / 2)
    ranges = np.where(np.abs(angles) < np.deg2rad(10), front_m, 2.0).astype(np.float32)
    ranges[::7] = np.inf  # some beams see nothing
    return LaserScan(
        angle_min=float(angles[0]),
        angle_max=float(angles[-1]),
        angle_increment=float(np.deg2rad(1.0)),
        range_min=0.05,
        range_max=8.0,
        ranges=ranges.tolist(),
    )


def test_a_scan_critic_follows_the_range_scan(nodes, probe, bundle_path, tmp_path):
    feed, judged = shielded_by_tiny_critic(
        nodes,
        probe,
        bundle_path,
        tmp_path,
        near_ahead=risk_table({AHEAD: 0.9}),
        monitor={"critic_arm_guard": False},  # the arm guard: its own test
    )

    no_scan = lambda v: v.safe_stop and "range scan" in v.reason  # noqa: E731
    assert probe.spin_until(judged(no_scan, 5), 60, feed)
    ahead = lambda v: v.executed_action == AHEAD and not v.safe_stop  # noqa: E731
    assert not any(ahead(v) for v in probe.msgs(VERDICT))  # nothing moves before a scan
    scans = probe.publisher("scan", LaserScan, SENSOR_QOS)
    far = lambda: (scans.publish(lidar(1.5)), feed())  # noqa: E731
    assert probe.spin_until(judged(ahead, 3), 30, far)  # clear ahead: allowed
    near = lambda: (scans.publish(lidar(0.3)), feed())  # noqa: E731
    vetoed = lambda v: v.vetoed and "move_ahead risk corner 0.9" in v.reason  # noqa: E731
    assert probe.spin_until(judged(vetoed, 3), 30, near)
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT) if vetoed(v))
    assert probe.spin_until(judged(lambda v: True, 10, start), 30, near)
    after = [v for v in probe.msgs(VERDICT) if v.proposal_sequence > start]
    assert not any(ahead(v) for v in after)  # an obstacle close ahead: never executed
    assert any(v.executed_action == LEFT and not v.safe_stop for v in after)  # replaced
    # the proposer keeps at it: after 6 vetoed base motions the monitor detours, turning right
    # (turning left in place would swing the arm through the obstacle); the detour's
    # move_ahead, which the critic still vetoes with the obstacle ahead, never runs
    detour = lambda v: "detour" in v.reason and v.executed_action == RIGHT  # noqa: E731
    assert probe.spin_until(judged(detour, 1, start), 30, near)
    assert not any(ahead(v) for v in probe.msgs(VERDICT) if v.proposal_sequence > start)
    # a front-only scanner does not cover the critic's bearings: stop, even with a clear view
    partial = lambda: (scans.publish(lidar(1.5, degrees=180)), feed())  # noqa: E731
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(no_scan, 5, start), 30, partial)
    assert not any(ahead(v) for v in probe.msgs(VERDICT) if v.proposal_sequence > start + 2)


def test_an_object_scan_critic_follows_the_map_filtered_scan(nodes, probe, bundle_path, tmp_path):
    """A critic with the ``scan`` and ``scan_objects`` inputs that vetoes move_ahead with an
    object close ahead in the object scan (the scan filtered against the static map)."""
    feed, judged = shielded_by_tiny_critic(
        nodes,
        probe,
        bundle_path,
        tmp_path,
        near_object=risk_table({AHEAD: 0.9}),
        monitor={"critic_arm_guard": False},  # the arm guard: its own test
    )
    scans = probe.publisher("scan", LaserScan, SENSOR_QOS)
    objects = probe.publisher("scan_objects", LaserScan, SENSOR_QOS)

    def send(scan_m: float, object_m: float | None):
        """Publish the scan (and the object scan) with ``*_m`` straight ahead, then a frame."""
        scans.publish(lidar(scan_m))
        if object_m is not None:
            objects.publish(lidar(object_m))
        feed()

    # the plain scan alone: a stop naming the missing object scan, nothing moves
    no_objects = lambda v: v.safe_stop and "scan_objects_topic" in v.reason  # noqa: E731
    assert probe.spin_until(judged(no_objects, 5), 60, lambda: send(1.5, None))
    ahead = lambda v: v.executed_action == AHEAD and not v.safe_stop  # noqa: E731
    assert not any(ahead(v) for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(ahead, 3), 30, lambda: send(1.5, 1.5))  # clear: allowed
    vetoed = lambda v: v.vetoed and "move_ahead risk corner 0.9" in v.reason  # noqa: E731
    assert probe.spin_until(judged(vetoed, 3), 30, lambda: send(0.3, 0.3))  # an object ahead
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT) if vetoed(v))
    assert probe.spin_until(judged(lambda v: True, 10, start), 30, lambda: send(0.3, 0.3))
    after = [v for v in probe.msgs(VERDICT) if v.proposal_sequence > start]
    assert not any(ahead(v) for v in after)  # an object close ahead: never executed
    # a wall close ahead: in the scan, filtered out of the object scan (no return): allowed
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(ahead, 3, start), 30, lambda: send(0.3, math.inf))
    # a front-only object scan does not cover the critic's bearings: stop, with a clear view
    partial = lambda: (scans.publish(lidar(1.5)), objects.publish(lidar(1.5, 180)), feed())  # noqa: E731
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(no_objects, 5, start), 30, partial)
    assert not any(ahead(v) for v in probe.msgs(VERDICT) if v.proposal_sequence > start + 2)
    log = (nodes.log_dir / "safety_monitor_node.log").read_text()
    assert "critic object scan rejected" in log


STRETCH_ARM = ["joint_arm_l3", "joint_arm_l2", "joint_arm_l1", "joint_arm_l0"]


def arm_at(
    extension_m: float, lift="joint_lift", arm=tuple(STRETCH_ARM), wrist_yaw=1.2
) -> JointState:
    """A JointState as a Stretch driver publishes it: the head and wrist joints too, the lift
    at 0.6 m and the arm's extension split over its four telescoping segments (or another
    robot's joint names, ``lift`` and ``arm``), the wrist turned by ``wrist_yaw`` rad."""
    seg = extension_m / len(arm)
    names = ["joint_head_pan", lift, *arm, "joint_wrist_yaw"]
    return JointState(name=names, position=[0.3, 0.6, *([seg] * len(arm)), wrist_yaw])


def test_a_joint_state_critic_follows_the_arm(nodes, probe, bundle_path, tmp_path):
    probe.subscribe("arm_command", String)  # the adapter's arm output
    feed, judged = shielded_by_tiny_critic(
        nodes, probe, bundle_path, tmp_path, ARM_OUT, arm_out=risk_table({ARM_OUT: 0.9})
    )

    no_joints = lambda v: v.safe_stop and "joint state" in v.reason  # noqa: E731
    assert probe.spin_until(judged(no_joints, 5), 60, feed)
    out = lambda v: v.executed_action == ARM_OUT and not v.safe_stop  # noqa: E731
    assert not any(out(v) for v in probe.msgs(VERDICT))  # nothing moves before a joint state
    joints = probe.publisher("joint_states", JointState)  # reliable, as a driver publishes
    arm_in = lambda: (joints.publish(arm_at(0.1)), feed())  # noqa: E731
    assert probe.spin_until(judged(out, 3), 30, arm_in)  # the arm in: allowed
    commands = lambda: [(t, m.data) for t, m in probe.received["arm_command"]]  # noqa: E731
    assert probe.spin_until(lambda: "arm_out" in [c for _, c in commands()], 10)

    arm_out = lambda: (joints.publish(arm_at(0.35)), feed())  # noqa: E731
    vetoed = lambda v: v.vetoed and "arm_out risk corner 0.9" in v.reason  # noqa: E731
    assert probe.spin_until(judged(vetoed, 3), 30, arm_out)
    first_veto = min(t for t, v in probe.received[VERDICT] if vetoed(v))
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT) if vetoed(v))
    assert probe.spin_until(judged(lambda v: True, 10, start), 30, arm_out)
    probe.spin_for(1.0)
    after = [v for v in probe.msgs(VERDICT) if v.proposal_sequence > start]
    assert not any(out(v) for v in after)  # the arm out: never executed
    assert any(v.executed_action == LEFT and not v.safe_stop for v in after)  # replaced
    # nor driven: no arm_out command once the adapter had a second for the verdicts before
    assert not [c for t, c in commands() if t > first_veto + 1.0 and c == "arm_out"]

    # another robot's joint names: rejected, so the robot stops, even with the arm in
    other = lambda: (joints.publish(arm_at(0.1, "lift", ("arm",))), feed())  # noqa: E731
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(no_joints, 5, start), 30, other)
    assert not any(out(v) for v in probe.msgs(VERDICT) if v.proposal_sequence > start)
    log = (nodes.log_dir / "safety_monitor_node.log").read_text()
    assert "critic joint state rejected" in log and "lift_joint" in log

    # the arm in, but no wrist yaw joint (the monitor's wrist_joint): rejected too
    no_wrist = arm_at(0.1)
    no_wrist.name, no_wrist.position = no_wrist.name[:-1], no_wrist.position[:-1]
    send = lambda: (joints.publish(no_wrist), feed())  # noqa: E731
    probe.spin_for(1.1)  # past the rejection log's throttle
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(no_joints, 5, start), 30, send)
    assert not any(out(v) for v in probe.msgs(VERDICT) if v.proposal_sequence > start)
    log = nodes.log_dir / "safety_monitor_node.log"
    assert probe.spin_until(lambda: "wrist_joint parameter" in log.read_text(), 10, send)


def test_a_clear_pass_critic_passes_clear_motions_only_with_an_empty_gripper(
    nodes, probe, bundle_path, tmp_path
):
    """A critic with a clear pass (``clear_pass_m`` 3 cm) that rates move_ahead risky with
    anything within 0.5 m ahead: with something 0.45 m ahead (8 cm past the base's front after
    the motion) move_ahead is vetoed until the holding flag says the gripper is empty, then
    passes; holding an object vetoes it again, and something 0.3 m ahead (in the way) is
    vetoed with the gripper empty too."""
    feed, judged = shielded_by_tiny_critic(
        nodes,
        probe,
        bundle_path,
        tmp_path,
        near_ahead=risk_table({AHEAD: 0.9}),
        clear_pass_m=0.03,
        monitor={"critic_arm_guard": False},  # the arm guard: its own test
    )
    scans = probe.publisher("scan", LaserScan, SENSOR_QOS)
    joints = probe.publisher("joint_states", JointState)
    holding = probe.publisher("safevla/holding", Bool)

    def send(front_m: float, held: bool | None = None):
        scans.publish(lidar(front_m))
        joints.publish(arm_at(0.0))
        if held is not None:
            holding.publish(Bool(data=held))
        feed()

    ahead = lambda v: v.executed_action == AHEAD and not v.safe_stop  # noqa: E731
    vetoed = lambda v: v.vetoed and "move_ahead risk corner 0.9" in v.reason  # noqa: E731
    assert probe.spin_until(judged(vetoed, 3), 60, lambda: send(0.45))  # nobody said: no pass
    assert not any(ahead(v) for v in probe.msgs(VERDICT))
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(ahead, 3, start), 30, lambda: send(0.45, False))
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(vetoed, 3, start + 2), 30, lambda: send(0.45, True))
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(vetoed, 3, start + 2), 30, lambda: send(0.3, False))
    assert not any(ahead(v) for v in probe.msgs(VERDICT) if v.proposal_sequence > start + 2)


def test_the_arm_guard_keeps_the_arm_from_what_the_arm_scan_sees(
    nodes, probe, bundle_path, tmp_path
):
    """A critic that reads the range scan and rates ``arm_out`` harmless, the arm guard on (the
    default): the monitor stops until the arm scan arrives; with something 3 cm past the
    gripper's tip on the robot's right in the arm scan (at the arm's heights) ``arm_out`` is
    vetoed and never commanded; with it only in the full scan (under the arm) ``arm_out``
    runs."""
    probe.subscribe("arm_command", String)  # the adapter's arm output
    feed, judged = shielded_by_tiny_critic(
        nodes, probe, bundle_path, tmp_path, ARM_OUT, near_ahead=risk_table({AHEAD: 0.9})
    )
    scans = probe.publisher("scan", LaserScan, SENSOR_QOS)
    arm_scans = probe.publisher("scan_arm", LaserScan, SENSOR_QOS)
    joints = probe.publisher("joint_states", JointState)

    def send(full: LaserScan, arm: LaserScan | None):
        scans.publish(full)
        if arm is not None:
            arm_scans.publish(arm)
        joints.publish(arm_at(0.1, wrist_yaw=0.0))  # the fingers along the arm
        feed()

    clear, beside = lidar(2.0), lidar(2.0)
    ranges = np.asarray(beside.ranges)
    bearing = np.degrees(beside.angle_min + beside.angle_increment * np.arange(ranges.size))
    ranges[np.abs(bearing + 95.0) <= 2.0] = 0.44  # 3 cm past the tip of the arm out 0.1 m
    beside.ranges = ranges.tolist()
    no_arm_scan = lambda v: v.safe_stop and "scan_arm_topic" in v.reason  # noqa: E731
    assert probe.spin_until(judged(no_arm_scan, 5), 60, lambda: send(clear, None))
    out = lambda v: v.executed_action == ARM_OUT and not v.safe_stop  # noqa: E731
    assert not any(out(v) for v in probe.msgs(VERDICT))
    guarded = lambda v: v.vetoed and "(arm guard)" in v.reason  # noqa: E731
    assert probe.spin_until(judged(guarded, 5), 30, lambda: send(clear, beside))
    first_veto = min(t for t, v in probe.received[VERDICT] if guarded(v))
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT) if guarded(v))
    assert probe.spin_until(judged(lambda v: True, 10, start), 30, lambda: send(clear, beside))
    assert not any(out(v) for v in probe.msgs(VERDICT))  # never executed
    commands = [(t, m.data) for t, m in probe.received["arm_command"]]
    assert not [c for t, c in commands if t > first_veto + 1.0 and c == "arm_out"]
    # the same return under the arm (the full scan has it, the arm scan does not): it runs
    start = max(v.proposal_sequence for v in probe.msgs(VERDICT))
    assert probe.spin_until(judged(out, 3, start), 30, lambda: send(beside, clear))
