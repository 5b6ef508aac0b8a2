"""The sim bridge node alone: ResetEpisode, lockstep frames, actions, ground-truth status, and
the range scan beside the object scan (the same rays with the static structure removed) and the
arm scan (the same rays at the arm's heights only)."""

from __future__ import annotations

import pytest
from ros_harness import drive_bridge_episode
from sensor_msgs.msg import CameraInfo, Image, LaserScan
from std_msgs.msg import Bool, String

from safevla_core.actions import SCAN_BEAMS, SCAN_RANGE_MAX_M
from safevla_ros.msg import EpisodeStatus, MotionFeedback
from safevla_ros.msg_conversions import scan_values
from safevla_ros.params import SCAN_ARM_TOPIC, SCAN_OBJECTS_TOPIC, SCAN_TOPIC
from safevla_ros.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from safevla_ros.srv import ResetEpisode

pytestmark = pytest.mark.ros


def test_reset_service_then_lockstep_steps_with_status(nodes, probe):
    nodes(
        "sim_bridge_node",
        auto_reset=False,
        max_steps=4,
        camera_width=64,
        camera_height=48,
        frame_rate_hz=20.0,
    )
    probe.subscribe("camera/image_raw", Image, SENSOR_QOS)
    probe.subscribe("camera/camera_info", CameraInfo, SENSOR_QOS)
    probe.subscribe("sim/episode_status", EpisodeStatus, 50)
    probe.subscribe("safevla/instruction", String, LATCHED_QOS)
    client = probe.node.create_client(ResetEpisode, "reset_episode")
    assert client.wait_for_service(timeout_sec=30)
    future = client.call_async(ResetEpisode.Request(episode_id="no_such_episode"))
    assert probe.spin_until(future.done, timeout=30)
    # an id that is not in the episode set is refused with a reason
    assert not future.result().success and "no_such_episode" in future.result().message
    future = client.call_async(ResetEpisode.Request(task="dance"))
    assert probe.spin_until(future.done, timeout=30)
    assert not future.result().success and "dance" in future.result().message
    future = client.call_async(ResetEpisode.Request(task="objnav", seed=3))
    assert probe.spin_until(future.done, timeout=30)
    assert future.result().success
    future = client.call_async(ResetEpisode.Request())
    assert probe.spin_until(future.done, timeout=30)
    res = future.result()
    assert res.success and res.instruction and res.episode_id
    actions = probe.publisher("sim/action", String, RELIABLE_QOS)
    answered = [0]

    def answer():  # act on each new frame, like the adapter would
        frames = len(probe.msgs("camera/image_raw"))
        if frames > answered[0]:
            answered[0] = frames
            actions.publish(String(data="rotate_left" if frames % 2 else "stop"))

    mine = lambda: [s for s in probe.msgs("sim/episode_status") if s.episode_id == res.episode_id]  # noqa: E731
    assert probe.spin_until(lambda: any(s.done for s in mine()), 30, every=answer, period=0.01)
    statuses = mine()
    assert statuses[0].step == 0 and statuses[-1].step == 4 and statuses[-1].done
    assert len(statuses[-1].cost_categories) == len(statuses[-1].step_cost_by_category) == 5
    img, info = probe.msgs("camera/image_raw")[0], probe.msgs("camera/camera_info")[0]
    assert (img.width, img.height, img.encoding) == (64, 48, "rgb8")
    assert (info.width, info.height) == (64, 48) and info.k[0] > 0
    assert probe.msgs("safevla/instruction")[-1].data == res.instruction


def test_auto_reset_waits_for_the_policy_not_only_the_recorder(nodes, probe):
    """With ``auto_reset`` the first episode starts once perception, policy and adapter are up.
    The recorder also subscribes to the instruction, within a second; the policy comes up only
    after its model and text encoder loaded (tens of seconds under load): an episode started
    before it ran on watchdog stops alone."""
    nodes("sim_bridge_node", max_steps=4, camera_width=64, camera_height=48)
    probe.subscribe("sim/episode_status", EpisodeStatus, 50)
    probe.subscribe("safevla/instruction", String, LATCHED_QOS)  # as the recorder does
    probe.subscribe("camera/image_raw", Image, SENSOR_QOS)  # the perception node
    probe.publisher("sim/action", String, RELIABLE_QOS)  # the adapter
    client = probe.node.create_client(ResetEpisode, "reset_episode")
    assert client.wait_for_service(timeout_sec=30)  # the bridge is active
    probe.spin_for(3.0)
    assert not probe.msgs("sim/episode_status"), "an episode started without a policy"
    probe.subscribe("safevla/holding", Bool, RELIABLE_QOS)  # the policy, once loaded
    assert probe.spin_until(lambda: probe.msgs("sim/episode_status"), timeout=30)
    assert probe.msgs("sim/episode_status")[0].step == 0


def test_the_object_and_arm_scans_go_out_with_the_scan_from_the_same_rays(nodes, probe):
    """With the MuJoCo backend the bridge publishes, beside each range scan, the scan with the
    building's static structure removed (as a scan filtered against the static map), same
    stamp: beam by beam never shorter (a wall's beam returns nothing), some beams longer in a
    house with walls, and the furniture still there; and the scan at the arm's heights only,
    same stamp: never shorter either, the walls still in it."""
    from sim_bridge.episodes import load_episodes, shipped_path

    actions = ["rotate_left", "move_ahead", "rotate_right", "stop", "rotate_left"]
    episode = load_episodes(shipped_path("objnav"))[0]
    size = dict(camera_width=64, camera_height=48)
    nodes("sim_bridge_node", auto_reset=False, max_steps=len(actions), frame_rate_hz=20.0, **size)
    assert (SCAN_OBJECTS_TOPIC, SCAN_ARM_TOPIC) == ("scan_objects", "scan_arm")
    probe.subscribe(SCAN_TOPIC, LaserScan, SENSOR_QOS)  # as the monitor subscribes
    probe.subscribe(SCAN_OBJECTS_TOPIC, LaserScan, SENSOR_QOS)
    probe.subscribe(SCAN_ARM_TOPIC, LaserScan, SENSOR_QOS)
    drive_bridge_episode(probe, episode.episode_id, actions, "safevla/bump", MotionFeedback)
    probe.spin_until(lambda: len(probe.msgs(SCAN_OBJECTS_TOPIC)) > len(actions), timeout=5)

    stamp = lambda m: (m.header.stamp.sec, m.header.stamp.nanosec)  # noqa: E731
    scans = {stamp(m): m for m in probe.msgs(SCAN_TOPIC)}
    objects = probe.msgs(SCAN_OBJECTS_TOPIC)
    pairs = [(scans[stamp(m)], m) for m in objects if stamp(m) in scans]
    assert len(pairs) >= len(actions) // 2, (len(scans), len(objects))  # best effort
    assert all(stamp(m) > (0, 0) and m.header.frame_id == "base_link" for m in objects)
    longer = 0
    for scan_msg, object_msg in pairs:
        scan, things = scan_values(scan_msg), scan_values(object_msg)
        assert scan.shape == things.shape == (SCAN_BEAMS,)
        assert (things >= scan).all(), (scan, things)  # structure removed: never shorter
        longer += int((things > scan).sum())
        assert (things < SCAN_RANGE_MAX_M).any()  # the furniture remains
    assert longer > 0  # the walls are gone from the object scan
    arms = [(scans[stamp(m)], m) for m in probe.msgs(SCAN_ARM_TOPIC) if stamp(m) in scans]
    assert len(arms) >= len(actions) // 2
    for scan_msg, arm_msg in arms:
        scan, arm = scan_values(scan_msg), scan_values(arm_msg)
        assert (arm >= scan).all(), (scan, arm)  # fewer heights: never shorter
        assert (arm < SCAN_RANGE_MAX_M).any()  # the walls span the arm's heights
