"""A bundle that sees the wrist camera (``image.camera = "nav_rgb+manip_rgb"``) on ROS: the sim
bridge publishes that camera too, the perception node joins each navigation frame with the
newest wrist frame (or drops it), and `safevla run --sim` runs such a policy end to end."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from ros_harness import CAM, frame, run_cli
from sensor_msgs.msg import Image
from std_msgs.msg import String
from tiny_model import SMALL

from safevla_core.image_preprocessing import resize_rgb
from safevla_ros.params import MANIP_CAMERA_TOPIC
from safevla_ros.ros_common import FRAME_QOS, RELIABLE_QOS, SENSOR_QOS
from safevla_ros.srv import ResetEpisode

pytestmark = pytest.mark.ros
OUT = "safevla/image"


@pytest.fixture(scope="module")
def wrist_bundle(tmp_path_factory) -> str:
    """A real exported bundle with random weights that sees both cameras (32x64 input)."""
    import torch

    from safevla_train.config import ModelConfig
    from safevla_train.export import export_bundle
    from safevla_train.model import VLAPolicy

    torch.manual_seed(0)
    cfg = ModelConfig(**{**SMALL, "image_width": 64, "camera": "nav_rgb+manip_rgb"})
    out = tmp_path_factory.mktemp("wrist") / "wrist-test"
    export_bundle(VLAPolicy(cfg).eval(), out, "wrist-test", training={})
    return str(out)


def warnings(probe) -> list[str]:
    return [
        s.message
        for d in probe.msgs("/diagnostics")
        for s in d.status
        if s.level == DiagnosticStatus.WARN
    ]


def test_perception_joins_the_newest_wrist_frame_and_never_sends_half_a_picture(
    nodes, probe, wrist_bundle
):
    proc = nodes("perception_node", bundle_path=wrist_bundle)
    probe.subscribe("/diagnostics", DiagnosticArray)
    probe.subscribe(OUT, Image, FRAME_QOS)
    nav, _ = frame(48, 64)
    wrist = np.ascontiguousarray(255 - nav[::-1])
    send_nav = lambda: probe.publish_image(CAM, nav, "rgb8")  # noqa: E731
    # no wrist frame yet: every navigation frame is dropped, with the reason
    assert probe.spin_until(
        lambda: any("no frame yet from manip_rgb" in w for w in warnings(probe)),
        timeout=15,
        every=send_nav,
    )
    assert not probe.msgs(OUT)

    def both():
        probe.publish_image(MANIP_CAMERA_TOPIC, wrist, "rgb8")
        probe.spin_for(0.02)
        send_nav()

    assert probe.spin_until(lambda: probe.msgs(OUT), timeout=15, every=both)
    out = probe.msgs(OUT)[-1]
    assert (out.width, out.height, out.encoding) == (64, 32, "rgb8")
    pixels = np.frombuffer(bytes(out.data), np.uint8).reshape(32, 64, 3)
    np.testing.assert_array_equal(pixels[:, :32], resize_rgb(nav, 32, 32, "area"))
    np.testing.assert_array_equal(pixels[:, 32:], resize_rgb(wrist, 32, 32, "area"))

    # a wrist camera that stops: once its newest frame is older than max_frame_age_s (0.5 s),
    # navigation frames are dropped again
    probe.spin_for(0.8)
    n = len(probe.msgs(OUT))
    before = len(warnings(probe))
    assert probe.spin_until(
        lambda: any(
            "manip_rgb (manip_camera/image_raw): frame is" in w for w in warnings(probe)[before:]
        ),
        timeout=10,
        every=send_nav,
    )
    assert len(probe.msgs(OUT)) == n
    assert proc.poll() is None


def test_the_sim_bridge_publishes_the_wrist_camera_with_the_frame_stamp(
    nodes, probe, wrist_bundle
):
    nodes(
        "sim_bridge_node",
        bundle_path=wrist_bundle,
        task="pickup",
        auto_reset=False,
        max_steps=3,
        camera_width=40,
        camera_height=40,
        frame_rate_hz=20.0,
    )
    probe.subscribe(CAM, Image, SENSOR_QOS)
    probe.subscribe(MANIP_CAMERA_TOPIC, Image, SENSOR_QOS)
    client = probe.node.create_client(ResetEpisode, "reset_episode")
    assert client.wait_for_service(timeout_sec=30)
    future = client.call_async(ResetEpisode.Request())
    assert probe.spin_until(future.done, timeout=30) and future.result().success
    actions = probe.publisher("sim/action", String, RELIABLE_QOS)
    answered = [0]

    def answer():
        frames = len(probe.msgs(CAM))
        if frames > answered[0]:
            answered[0] = frames
            actions.publish(String(data="arm_out"))

    stamp = lambda m: (m.header.stamp.sec, m.header.stamp.nanosec)  # noqa: E731

    def paired() -> set:  # frames of both cameras with one stamp (best effort: the first
        # frames may go out before discovery completes)
        return {stamp(m) for m in probe.msgs(CAM)} & {
            stamp(m) for m in probe.msgs(MANIP_CAMERA_TOPIC)
        }

    assert probe.spin_until(lambda: len(paired()) >= 2, 30, every=answer, period=0.01)
    navs, wrists = probe.msgs(CAM), probe.msgs(MANIP_CAMERA_TOPIC)
    w = wrists[-1]
    assert (w.width, w.height, w.encoding, w.header.frame_id) == (40, 40, "rgb8", "manip_camera")
    pixels = np.frombuffer(bytes(w.data), np.uint8).reshape(40, 40, 3)
    nav = np.frombuffer(bytes(navs[-1].data), np.uint8).reshape(40, 40, 3)
    assert pixels.std() > 5 and not np.array_equal(pixels, nav)


@pytest.mark.slow
def test_run_sim_runs_a_wrist_camera_policy_end_to_end(
    ros_domain_id, subprocess_env, wrist_bundle
):
    args = ["--sim", "--bundle", wrist_bundle, "--task", "pickup", "--episodes", "1"]
    args += ["--max-steps", "5", "--rate", "20", "--cost-threshold", "100"]
    args += ["--domain-id", str(ros_domain_id)]
    r = run_cli(args, subprocess_env, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("episode ")]
    assert len(lines) == 1 and "steps    5" in lines[0]
