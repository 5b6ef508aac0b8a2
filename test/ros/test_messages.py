"""Each custom message crosses a process boundary over DDS unchanged, field for field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


@pytest.mark.ros
def test_custom_messages_round_trip_between_processes(tmp_path, subprocess_env):
    from msg_peer import TOPICS, as_plain, sample_messages

    out = tmp_path / "received.json"
    peer = [sys.executable, str(HERE / "msg_peer.py")]
    pub = subprocess.Popen([*peer, "publish", str(out)], env=subprocess_env)
    try:
        subprocess.run([*peer, "receive", str(out)], env=subprocess_env, timeout=60, check=True)
    finally:
        pub.terminate()
        pub.wait(timeout=10)

    received = json.loads(out.read_text())
    assert set(received) == set(TOPICS), f"missing topics: {set(TOPICS) - set(received)}"
    for topic, sent in sample_messages().items():
        assert received[topic] == as_plain(sent), topic
    # Spot-check values that a wrong type (e.g. float32 vs uint64) would corrupt.
    assert received["/test/proposal"]["sequence"] == 2**40 + 7
    assert received["/test/event"]["context"][1] == {"key": "cost", "value": "0.75"}
    assert received["/test/verdict"]["predicted_cost"] == [0.75, 0.125, 0.0625]


def test_messages_build_in_memory_with_expected_fields():
    """The interfaces have the fields the nodes rely on (no rclpy.init needed)."""
    from safevla_ros.msg import SafetyEvent, SafetyVerdict
    from safevla_ros.srv import ResetEpisode

    verdict_fields = set(SafetyVerdict.get_fields_and_field_types())
    assert {"vetoed", "predicted_cost", "cost_threshold", "reason", "triggered_rule"} <= (
        verdict_fields
    )
    assert SafetyEvent.SEVERITY_INFO < SafetyEvent.SEVERITY_EMERGENCY
    assert "episode_id" in ResetEpisode.Request.get_fields_and_field_types()


def test_any_360_degree_laser_scan_becomes_the_critics_scan():
    """A 0.5-degree scan from 0 to 2 pi (another start and resolution than the critic's) is
    resampled to its bearings, the nearest range per bearing; REP 117 readings; what does not
    cover every bearing, or holds NaN, is refused naming the problem."""
    import math

    import numpy as np
    from sensor_msgs.msg import LaserScan

    from safevla_core.actions import SCAN_ANGLE_INCREMENT, SCAN_ANGLE_MIN, SCAN_BEAMS
    from safevla_core.actions import SCAN_RANGE_MAX_M as MAX
    from safevla_ros.msg_conversions import laser_scan, scan_values

    n = 720
    ranges = np.full(n, 2.0, np.float32)
    ranges[180] = 0.4  # bearing 90 degrees: the robot's left
    ranges[360] = np.inf  # behind: no return
    ranges[361] = np.inf
    ranges[359] = 9.0  # beyond range_max: no return
    ranges[0] = -np.inf  # ahead: too close to measure
    msg = LaserScan(
        angle_min=0.0,
        angle_increment=2 * math.pi / n,
        range_min=0.05,
        range_max=8.0,
        ranges=ranges.tolist(),
    )
    out = scan_values(msg)
    beam = lambda rad: round((rad - SCAN_ANGLE_MIN) / SCAN_ANGLE_INCREMENT) % SCAN_BEAMS  # noqa: E731
    assert out.shape == (SCAN_BEAMS,) and out.dtype == np.float32
    assert out[beam(math.pi / 2)] == pytest.approx(0.4)
    assert out[beam(0.0)] == 0.0
    assert out[beam(math.pi)] == pytest.approx(2.0)  # its other beams still see 2 m
    assert out[beam(-math.pi / 2)] == pytest.approx(2.0)
    # the simulator's own scan goes through unchanged
    sim = np.linspace(0.3, MAX, SCAN_BEAMS).astype(np.float32)
    np.testing.assert_allclose(scan_values(laser_scan(sim, msg.header)), sim, atol=1e-6)
    half = LaserScan(
        angle_min=-math.pi / 2, angle_increment=math.pi / 180, range_max=8.0, ranges=[1.0] * 180
    )
    with pytest.raises(ValueError, match=r"covers 3\d of the critic's 72 bearings"):
        scan_values(half)
    ranges[5] = np.nan
    msg.ranges = ranges.tolist()
    with pytest.raises(ValueError, match="1 NaN ranges"):
        scan_values(msg)


def test_a_joint_state_becomes_the_critics_proprio_and_back():
    """The lift's position and the sum of Stretch's four telescoping segments, whatever else
    the message carries and in any order; the sim bridge's JointState reads back as what it
    was built from. Missing joints, NaN and too few positions are refused, naming them."""
    import numpy as np
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Header

    from safevla_ros.msg_conversions import joint_state, proprio_values
    from safevla_ros.params import JOINT_NAME_PARAMS

    defaults = {s.name: s.default for s in JOINT_NAME_PARAMS}
    lift, arm = defaults["lift_joint"], defaults["arm_joints"]
    assert (lift, arm) == (
        "joint_lift",
        ["joint_arm_l3", "joint_arm_l2", "joint_arm_l1", "joint_arm_l0"],
    )

    msg = joint_state(np.array([0.62, 0.3], np.float32), Header(), lift, arm)
    assert list(msg.name) == [lift, *arm]
    assert np.allclose(msg.position, [0.62, 0.075, 0.075, 0.075, 0.075])
    np.testing.assert_allclose(proprio_values(msg, lift, arm), [0.62, 0.3], atol=1e-6)

    names = "joint_head_pan joint_arm_l0 joint_lift joint_arm_l1 joint_wrist_yaw joint_arm_l2"
    stretch = JointState(
        name=[*names.split(), "joint_arm_l3"],
        position=[1.5, 0.05, 0.9, 0.04, -2.0, 0.03, 0.02],
    )
    out = proprio_values(stretch, lift, arm)
    assert out.dtype == np.float32 and out.shape == (2,)
    np.testing.assert_allclose(out, [0.9, 0.14], atol=1e-6)
    np.testing.assert_allclose(
        proprio_values(stretch, "joint_lift", ["joint_arm_l0"]), [0.9, 0.05]
    )

    wrong = JointState(name=["lift", "arm"], position=[0.5, 0.1])  # another robot's names
    with pytest.raises(ValueError, match=r"joint_lift.*it has \['lift', 'arm'\].*lift_joint"):
        proprio_values(wrong, lift, arm)
    stretch.position[3] = float("nan")
    with pytest.raises(ValueError, match=r"non-finite positions of \['joint_arm_l1'\]"):
        proprio_values(stretch, lift, arm)
    short = JointState(name=[lift, *arm], position=[0.5, 0.1])
    with pytest.raises(ValueError, match="5 names and 2 positions"):
        proprio_values(short, lift, arm)

    # the wrist's yaw: published after the arm when named, read back by name, 0 for none
    from safevla_ros.msg_conversions import wrist_yaw_value

    wrist = defaults["wrist_joint"]
    assert wrist == "joint_wrist_yaw"
    msg = joint_state(np.array([0.62, 0.3], np.float32), Header(), lift, arm, wrist, -0.7)
    assert list(msg.name) == [lift, *arm, wrist] and msg.position[-1] == pytest.approx(-0.7)
    assert wrist_yaw_value(msg, wrist) == pytest.approx(-0.7)
    assert wrist_yaw_value(stretch, wrist) == pytest.approx(-2.0)
    assert wrist_yaw_value(wrong, "") == 0.0  # a robot without a wrist yaw joint
    with pytest.raises(ValueError, match=r"'joint_wrist_yaw' 0 times .*wrist_joint parameter"):
        wrist_yaw_value(wrong, wrist)
    twice = JointState(name=[wrist, wrist], position=[0.1, 0.2])
    with pytest.raises(ValueError, match="2 times"):
        wrist_yaw_value(twice, wrist)
    bad = JointState(name=[wrist], position=[float("inf")])
    with pytest.raises(ValueError, match="finite position of 'joint_wrist_yaw'"):
        wrist_yaw_value(bad, wrist)


def test_the_joint_names_are_checked_before_any_message():
    """One lift joint and at least one arm joint, all named, none twice (a position counted
    twice); a string array of anything but strings is refused by the parameter spec."""
    from safevla_ros.params import MONITOR_PARAMS, ParameterError, joint_names, resolve

    p = resolve(MONITOR_PARAMS, {})
    assert joint_names(p) == ("joint_lift", p["arm_joints"]) and len(p["arm_joints"]) == 4
    assert p["joint_states_topic"] == "joint_states" and p["proprio_max_age_s"] == 0.5
    for bad in ({"arm_joints": []}, {"lift_joint": ""}, {"arm_joints": ["a", "a"]}):
        with pytest.raises(ParameterError, match="arm_joints"):
            joint_names(resolve(MONITOR_PARAMS, bad))
    with pytest.raises(ParameterError, match="joint_lift"):
        joint_names(resolve(MONITOR_PARAMS, {"arm_joints": ["joint_lift"]}))
    with pytest.raises(ParameterError, match="expected a list of str"):
        resolve(MONITOR_PARAMS, {"arm_joints": [1, 2]})
    from safevla_ros.params import wrist_joint_name

    assert wrist_joint_name(p) == "joint_wrist_yaw"
    assert wrist_joint_name(resolve(MONITOR_PARAMS, {"wrist_joint": ""})) == ""
    for bad in ("joint_lift", "joint_arm_l0", " joint_wrist_yaw"):
        with pytest.raises(ParameterError, match="wrist_joint"):
            wrist_joint_name(resolve(MONITOR_PARAMS, {"wrist_joint": bad}))
