"""The safety recorder as a real process (issue 13): a ``kill -9`` loses at most the last flush
period, frames are written only around events (thinned), and a full disk stops recording with an
ERROR diagnostic while the monitor and the adapter go on as before."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from ros_harness import CMD, PROP, VERDICT, wait_until_up
from std_msgs.msg import Header, String

from safevla_core.actions import ACTION_NAMES
from safevla_core.safety_spec import COST_CATEGORIES
from safevla_eval.fleet_log import read_file
from safevla_ros.msg import ActionProposal, SafetyEvent, SafetyVerdict
from safevla_ros.nodes import node
from safevla_ros.ros_common import LATCHED_QOS, RELIABLE_QOS

pytestmark = pytest.mark.ros
EVENTS, IMAGE, INSTR = "safevla/safety_events", "safevla/image", "safevla/instruction"


def _recorded(folder: Path) -> tuple[list, list[bool]]:
    out, complete = [], []
    for f in sorted(folder.glob("*.mcap")):
        _, msgs, done = read_file(f)
        out += msgs
        complete.append(done)
    return out, complete


def test_kill_9_loses_at_most_the_last_flush_and_frames_come_only_with_events(
    nodes, probe, tmp_path
):
    out = tmp_path / "rec"
    rec = nodes(
        "safety_recorder_node",
        output_dir=str(out),
        robot_id="r1",
        frame_window_s=0.5,
        frame_after_s=0.3,
        frame_every_n=2,
        frame_scale=2,
    )
    verdicts = probe.publisher(VERDICT, SafetyVerdict)
    events = probe.publisher(EVENTS, SafetyEvent)
    probe.latched(INSTR, String).publish(String(data="find the mug"))
    for _ in range(200):  # the recorder's subscriptions are matched before counting
        if verdicts.get_subscription_count() and events.get_subscription_count():
            break
        probe.spin_for(0.1)
    assert verdicts.get_subscription_count(), "the recorder never subscribed"
    probe.spin_for(0.5)
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    sent: list[tuple[float, int]] = []  # (wall time, proposal_sequence)
    event_times: list[int] = []
    t_end = time.monotonic() + 4.0
    seq = 0
    while time.monotonic() < t_end:
        seq += 1
        v = SafetyVerdict(proposal_sequence=seq, vetoed=seq % 7 == 0)
        v.header.stamp = probe.node.get_clock().now().to_msg()
        verdicts.publish(v)
        sent.append((time.monotonic(), seq))
        probe.publish_image(IMAGE, pixels, "rgb8")
        if seq in (60, 120):  # two events, ~1.2 s apart
            e = SafetyEvent(robot_id="r1", category="blind_spot", reason=f"veto {seq}")
            e.header.stamp = v.header.stamp
            events.publish(e)
            event_times.append(time.time_ns())
        probe.spin_for(0.02)
    rec.send_signal(signal.SIGKILL)
    t_kill = time.monotonic()
    rec.wait(5)

    msgs, complete = _recorded(out)
    assert complete == [False], "one file, cut off by the kill (no summary section)"
    got = [m.proposal_sequence for role, _, m in msgs if role == "verdict"]
    due = [s for t, s in sent if t <= t_kill - 1.5]
    assert len(got) >= len(due), f"{len(got)} verdicts readable, {len(due)} were due"
    assert set(due) <= set(got) and set(got) <= {s for _, s in sent}
    assert [m.data for role, _, m in msgs if role == "instruction"] == ["find the mug"]
    assert sum(role == "event" for role, _, _ in msgs) == 2

    frames = [(t, m) for role, t, m in msgs if role == "frame"]
    assert frames, "no frame around the events"
    assert all((m.width, m.height, m.encoding) == (32, 24, "rgb8") for _, m in frames)
    slack = int(0.3e9)  # delivery and scheduling under load
    for t, _ in frames:  # each frame within [event - window, event + after]
        near = [te for te in event_times if te - 0.5e9 - slack <= t <= te + 0.3e9 + slack]
        assert near, "a frame was written away from any event"
    # every second frame of ~0.8 s around 2 events at ~12 frames/s: far fewer than were sent
    assert len(frames) < 0.25 * seq


@contextlib.contextmanager
def small_disk(folder: Path, size_kib: int = 1024):
    """A real 1 MiB filesystem (tmpfs, needs root) at ``folder``; without root, None (the
    caller limits the recorder's file size with RLIMIT_FSIZE instead: EFBIG, also real)."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)]
    mounted = os.geteuid() == 0 and subprocess.run(cmd, capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def _start_limited_recorder(log_dir: Path, params: dict) -> subprocess.Popen:
    """The recorder with a 1 MiB file size limit (RLIMIT_FSIZE); Python ignores SIGXFSZ, so a
    write past it fails with OSError(EFBIG)."""
    import yaml

    f = log_dir / "recorder_limited.yaml"
    f.write_text(yaml.safe_dump({"safety_recorder_node": {"ros__parameters": params}}))
    cmd = [sys.executable, "-m", node("safety_recorder_node").module, "--ros-args"]
    cmd += ["--params-file", str(f)]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))

    log = open(log_dir / "safety_recorder_node.log", "w")  # noqa: SIM115 (lives with the process)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        preexec_fn=limit,
        start_new_session=True,
    )


def _proposal(probe, seq: int, risky: bool) -> ActionProposal:
    ahead = ACTION_NAMES.index("move_ahead")
    p = np.zeros(20, np.float32)
    p[ahead] = 1.0
    msg = ActionProposal(action_index=ahead, action_name="move_ahead", sequence=seq)
    msg.header.stamp = probe.node.get_clock().now().to_msg()
    msg.action_names, msg.action_probabilities = list(ACTION_NAMES), p.tolist()
    msg.cost_categories = list(COST_CATEGORIES)
    cost = np.zeros((20, len(COST_CATEGORIES)), np.float32)
    if risky:  # over the threshold: a veto, so an event, so frames to write
        cost[ahead, 0] = 5.0
    msg.predicted_cost = cost.sum(axis=1).tolist()
    msg.predicted_cost_by_category = cost.ravel().tolist()
    return msg


def test_a_full_disk_stops_recording_with_an_error_and_the_robot_goes_on(nodes, probe, tmp_path):
    disk = tmp_path / "disk"
    params = {
        "output_dir": str(disk),
        "frame_every_n": 1,
        "frame_after_s": 600.0,  # after the first event every frame is written: the disk fills
        "flush_period_s": 0.1,
    }
    with small_disk(disk) as mounted:
        nodes("safety_monitor_node")
        nodes("action_adapter_node")
        procs = []
        if mounted:
            rec = nodes("safety_recorder_node", **params)
        else:
            rec = _start_limited_recorder(nodes.log_dir, params)
            procs.append(rec)
        try:
            stack = ["safety_monitor_node", "action_adapter_node", "safety_recorder_node"]
            wait_until_up(probe, stack)  # the robot must be driving before the disk fills
            _fill_disk_and_check(probe, rec)
        finally:
            for p in procs:
                p.kill()
                p.wait(5)


def _fill_disk_and_check(probe, rec) -> None:
    for topic, t in [(VERDICT, SafetyVerdict), (CMD, Twist), ("/diagnostics", DiagnosticArray)]:
        probe.subscribe(topic, t)
    stamps = probe.publisher("safevla/image_stamp", Header)
    props = probe.publisher(PROP, ActionProposal, RELIABLE_QOS)
    probe.publisher(INSTR, String, LATCHED_QOS).publish(String(data="go to the sofa"))
    pixels = np.random.default_rng(1).integers(0, 256, (160, 200, 3), np.uint8)  # 96 KB each
    sent: list[tuple[float, int]] = []
    seq = 0

    def drive() -> None:
        nonlocal seq
        seq += 1
        stamps.publish(Header(stamp=probe.node.get_clock().now().to_msg()))
        props.publish(_proposal(probe, seq, risky=seq % 5 == 0))
        probe.publish_image(IMAGE, pixels, "rgb8")
        sent.append((time.monotonic(), seq))

    def error():
        for t, d in probe.received["/diagnostics"]:
            for s in d.status:
                if s.name.endswith("safety_recorder_node") and s.level == s.ERROR:
                    return t, s.message
        return None

    assert probe.spin_until(error, timeout=60, every=drive, period=0.1), "no ERROR diagnostic"
    t_err, message = error()
    assert "recording stopped" in message
    assert "No space left" in message or "File too large" in message, message
    # The robot path after the error: every proposal answered, motion commands go on.
    probe.spin_until(lambda: False, timeout=2.5, every=drive, period=0.1)
    after = {s for t, s in sent if t_err + 0.2 <= t <= time.monotonic() - 0.5}
    answered = {v.proposal_sequence for t, v in probe.received[VERDICT] if t >= t_err}
    assert len(after) >= 10 and after <= answered, f"unanswered: {sorted(after - answered)}"
    moving = [tw for t, tw in probe.received[CMD] if t > t_err and tw.linear.x != 0.0]
    assert moving, "no motion command after the recorder's error"
    assert rec.poll() is None, "the recorder exited on a full disk"
    # it keeps reporting the error, once a second
    errors = [
        t
        for t, d in probe.received["/diagnostics"]
        for s in d.status
        if t > t_err and s.name.endswith("safety_recorder_node") and s.level == s.ERROR
    ]
    assert len(errors) >= 2
