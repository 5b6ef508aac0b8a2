"""Helpers of the multi-process ROS tests: start real node processes, probe the graph.

Each test runs in its own ROS_DOMAIN_ID (fixture ``ros_domain_id`` in test/conftest.py); the
nodes run as separate processes with the real config files; the probe is an rclpy node in the
test process, in its own context, that publishes inputs and records outputs with receive times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import NodeNameNonExistentError
from sensor_msgs.msg import Image

from safevla_core.action_adapter import MotionProfile, command_for
from safevla_ros.nodes import node
from safevla_ros.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from safevla_ros.runner import stop_nodes

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "robot.yaml"
CAM, PROP, VERDICT, CMD = "camera/image_raw", "safevla/proposal", "safevla/verdict", "cmd_vel"
PROFILE = MotionProfile()  # config/robot.yaml keeps the default motion profile


def run_cli(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """``safevla run`` (``python -m safevla_ros.runner ARGS``) to its end, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "safevla_ros.runner", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_sim_moves(bundle: str, env: dict, domain_id: int, log_dir) -> str:
    """`safevla run --sim --bundle BUNDLE`, two episodes of at most 4 steps at 20 Hz (no cost
    stop); asserts that it exits 0, both episodes ran (to the limit, or to the policy's `end`)
    on the policy's actions (fewer stops than steps) and no node's log holds a traceback.
    Returns the policy node's log."""
    args = ["--sim", "--bundle", bundle, "--episodes", "2", "--max-steps", "4"]
    args += ["--rate", "20", "--cost-threshold", "100", "--log-dir", str(log_dir)]
    args += ["--domain-id", str(domain_id)]
    r = run_cli(args, env, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("episode ")]
    steps = [int(ln.split("steps")[1].split()[0]) for ln in lines]
    assert len(lines) == 2 and all(1 <= n <= 4 for n in steps), lines
    stops = sum(int(ln.split("stops")[1].split()[0]) for ln in lines)
    assert stops < sum(steps), f"the policy moved nothing: {lines}"
    policy_log = (log_dir / "policy_node.log").read_text()
    assert "Traceback" not in policy_log + (log_dir / "sim_bridge_node.log").read_text()
    return policy_log


def drive_bridge_episode(probe, episode_id: str, actions: list[str], topic: str, msg_type):
    """With a sim bridge node up (``auto_reset`` off): subscribe to its frames, episode status
    and ``topic`` (``msg_type``, reliable), reset it to ``episode_id`` once ``topic`` has a
    publisher, then answer each new frame with the next of ``actions`` (as the adapter does)
    until the episode is done. Returns, per frame answered, how many ``topic`` messages had
    arrived by then."""
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from safevla_ros.msg import EpisodeStatus
    from safevla_ros.ros_common import RELIABLE_QOS, SENSOR_QOS
    from safevla_ros.srv import ResetEpisode

    subs = [
        probe.subscribe("camera/image_raw", Image, SENSOR_QOS),
        probe.subscribe("sim/episode_status", EpisodeStatus, 50),
        probe.subscribe(topic, msg_type, RELIABLE_QOS),
    ]
    sent = probe.publisher("sim/action", String, RELIABLE_QOS)
    client = probe.node.create_client(ResetEpisode, "reset_episode")
    assert client.wait_for_service(timeout_sec=30)
    # matched, not only seen in the graph: a frame (best effort, sent once) or an action
    # published before its link is matched is lost, and the bridge turns each unanswered
    # frame into a stop step after action_timeout_s (under load, a whole episode of them)
    matched = lambda: (  # noqa: E731
        all(s.get_publisher_count() > 0 for s in subs) and sent.get_subscription_count() > 0
    )
    assert probe.spin_until(matched, timeout=30), "the bridge's topics never matched the probe"
    future = client.call_async(ResetEpisode.Request(episode_id=episode_id))
    assert probe.spin_until(future.done, timeout=30) and future.result().success
    heard: list[int] = []

    def answer():
        frames = len(probe.msgs("camera/image_raw"))
        if 0 < frames <= len(actions) and frames > len(heard):
            heard.append(len(probe.msgs(topic)))
            sent.publish(String(data=actions[frames - 1]))

    done = lambda: any(s.done for s in probe.msgs("sim/episode_status"))  # noqa: E731
    assert probe.spin_until(done, timeout=60, every=answer, period=0.01)
    return heard


def frame_sender(probe, topic: str):
    """``(send, pixels)``: ``send()`` publishes one 32x32 rgb8 frame of ``pixels`` on
    ``topic`` (reliable, as perception publishes the policy's input) and returns its stamp in
    ns (:func:`stamp_ns`)."""
    from sensor_msgs.msg import Image

    from safevla_ros.ros_common import FRAME_QOS

    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    pub = probe.publisher(topic, Image, FRAME_QOS)
    matched = []

    def send() -> int:
        if not matched:  # a frame sent before discovery matched a subscriber is lost
            probe.spin_until(lambda: pub.get_subscription_count() > 0, timeout=10)
            matched.append(True)
        msg = Image(height=32, width=32, encoding="rgb8", step=96, data=pixels.tobytes())
        msg.header.stamp = probe.node.get_clock().now().to_msg()
        pub.publish(msg)
        return stamp_ns(msg)

    return send, pixels


def stamp_ns(msg) -> int:
    """A stamped message's header stamp in ns."""
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def start_node(
    name: str, log_dir: Path, params: dict | None = None, files: tuple[Path, ...] = (CONFIG,)
) -> subprocess.Popen:
    """Start node ``name`` (of the node table) as a process with the config files and overrides
    (a params file written to ``log_dir``); output to a log."""
    cmd = [sys.executable, "-m", node(name).module, "--ros-args"]
    for f in files:
        cmd += ["--params-file", str(f)]
    if params:  # node-specific overrides in a later file beat the config's node section
        override = log_dir / f"{name}_overrides.yaml"
        override.write_text(yaml.safe_dump({name: {"ros__parameters": params}}))
        cmd += ["--params-file", str(override)]
    log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def stop_processes(procs: list[subprocess.Popen], timeout: float = 5.0) -> None:
    """SIGINT, then SIGKILL what is left, each process by its own id (the runner's own way)."""
    stop_nodes(procs, timeout)


def wait_until_up(probe, names: list[str], timeout: float = 90.0) -> None:
    """Wait until each node of ``names`` (root namespace) holds a subscription: every node of
    the table creates its subscriptions when it activates, after it loaded what it needs. On a
    loaded machine that takes seconds (the policy tens), so a test that drives at once may judge
    a node that is not there yet (the same rule ``safevla run`` waits for before an episode)."""

    def up(name: str) -> bool:
        try:
            return bool(probe.node.get_subscriber_names_and_types_by_node(name, "/"))
        except NodeNameNonExistentError:
            return False

    missing = lambda: [n for n in names if not up(n)]  # noqa: E731
    assert probe.spin_until(lambda: not missing(), timeout), f"not up in {timeout} s: {missing()}"


def frame(height=96, width=128, encoding="rgb8", seed=0) -> tuple[np.ndarray, str]:
    rng = np.random.default_rng(seed)
    ch = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}[encoding]
    return rng.integers(0, 256, (height, width, ch), dtype=np.uint8), encoding


class Probe:
    """An rclpy node in the test process: publishes inputs, records (receive time, msg)."""

    def __init__(self, name: str = "probe") -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list[tuple[float, object]]] = defaultdict(list)
        self.pubs = {}

    def subscribe(self, topic: str, msg_type, qos=RELIABLE_QOS):
        """Record every message on ``topic``; returns the subscription (its
        ``get_publisher_count()`` says when a publisher is matched)."""

        def cb(msg, topic=topic):
            self.received[topic].append((time.monotonic(), msg))

        return self.node.create_subscription(msg_type, topic, cb, qos)

    def publisher(self, topic: str, msg_type, qos=RELIABLE_QOS):
        if topic not in self.pubs:
            self.pubs[topic] = self.node.create_publisher(msg_type, topic, qos)
        return self.pubs[topic]

    def publish_image(
        self,
        topic: str,
        pixels: np.ndarray,
        encoding: str,
        age_s: float = 0.0,
        step: int | None = None,
        data: bytes | None = None,
    ) -> None:
        msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding)
        msg.step = step if step is not None else pixels.shape[1] * pixels.shape[2]
        msg.data = data if data is not None else pixels.tobytes()
        t = self.node.get_clock().now().nanoseconds - int(age_s * 1e9)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t, 1_000_000_000)
        msg.header.frame_id = "camera"
        self.publisher(topic, Image, SENSOR_QOS).publish(msg)

    def latched(self, topic: str, msg_type):
        return self.publisher(topic, msg_type, LATCHED_QOS)

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.01, max(0.0, end - time.monotonic())))

    def spin_until(self, predicate, timeout: float, every=None, period: float = 0.1) -> bool:
        """Spin until ``predicate()``; call ``every()`` every ``period`` s (e.g. a frame)."""
        end = time.monotonic() + timeout
        next_call = time.monotonic()
        while time.monotonic() < end:
            if every is not None and time.monotonic() >= next_call:
                every()
                next_call += period
            self.executor.spin_once(timeout_sec=0.005)
            if predicate():
                return True
        return predicate()

    def msgs(self, topic: str) -> list:
        return [m for _, m in self.received[topic]]

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def first_after(probe, topic, t0, pred):
    """Receive time of the first message on ``topic`` after ``t0`` that satisfies ``pred``."""
    return next((t for t, m in probe.received[topic] if t >= t0 and pred(m)), None)


def assert_sim_executed_the_motions(decided, acted, adapter_log: str, who: str = "") -> None:
    """The sim actions an adapter sent (``acted``, a Counter of action names) are the motion
    verdicts its own monitor decided (``decided``): nothing else, and each one missing refused
    by the adapter's own rate limit, which it logs and answers with a stop (two verdicts closer
    than ``max_action_rate_hz`` allows: measured on a loaded machine, verdicts bunched 10.7 ms
    apart)."""
    assert not acted - decided, (who, acted, decided)
    assert not decided - acted or "since the last motion" in adapter_log, (who, acted, decided)


def assert_every_command_has_a_verdict(probe):
    """Each non-zero Twist equals the command of a non-stop verdict received just before it
    (within that action's duration); arm commands likewise."""
    verdicts = [(t, v) for t, v in probe.received[VERDICT] if not v.safe_stop]
    for t, tw in probe.received[CMD]:
        if tw.linear.x == 0.0 and tw.angular.z == 0.0:
            continue
        ok = False
        for tv, v in verdicts:
            c = command_for(v.executed_action, PROFILE)
            if tv - 0.05 <= t <= tv + c.duration_s + 0.2 and (c.linear_x, c.angular_z) == (
                pytest.approx(tw.linear.x),
                pytest.approx(tw.angular.z),
            ):
                ok = True
                break
        assert ok, f"Twist {tw.linear.x, tw.angular.z} at {t:.3f} has no matching verdict"
