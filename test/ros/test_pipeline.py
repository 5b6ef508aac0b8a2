"""Multi-process tests of the runtime nodes (real rclpy, real DDS, own ROS_DOMAIN_ID each).

Watchdog periods come from config/robot.yaml: frame_timeout_s = heartbeat_timeout_s = 0.5 s,
checked at 20 Hz; the assertions allow that plus 0.3 s of scheduling slack on a loaded CPU.
"""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from ros_harness import (
    CAM,
    CMD,
    PROP,
    VERDICT,
    assert_every_command_has_a_verdict,
    first_after,
    frame,
    wait_until_up,
)
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Header, String

from safevla_core.actions import ACTION_NAMES, ACTIONS, ActionKind
from safevla_core.safety_spec import COST_CATEGORIES
from safevla_ros.msg import ActionProposal, SafetyEvent, SafetyVerdict
from safevla_ros.ros_common import FRAME_QOS

pytestmark = pytest.mark.ros
TIMEOUT, SLACK = 0.5, 0.3


def test_full_stack_end_to_end_watchdogs_and_verdict_only_commands(nodes, probe, bundle_path):
    nodes("perception_node", bundle_path=bundle_path)
    policy = nodes("policy_node", bundle_path=bundle_path)
    # random weights: allow every action, test the plumbing
    nodes("safety_monitor_node", cost_threshold=100.0)
    nodes("action_adapter_node")
    wait_until_up(
        probe, ["perception_node", "policy_node", "safety_monitor_node", "action_adapter_node"]
    )
    for topic, t in [
        (PROP, ActionProposal),
        (VERDICT, SafetyVerdict),
        (CMD, Twist),
        ("arm_command", String),
    ]:
        probe.subscribe(topic, t)
    probe.subscribe("/diagnostics", DiagnosticArray)
    instruction = probe.latched("safevla/instruction", String)
    instruction.publish(String(data="   "))
    pixels, enc = frame()
    fresh = lambda: probe.publish_image(CAM, pixels, enc)  # noqa: E731
    rejected = lambda: any("instruction rejected" in e for e in errors(probe))  # noqa: E731
    assert probe.spin_until(rejected, timeout=40, every=fresh)
    assert "empty instruction" in " ".join(errors(probe))
    probe.spin_for(0.3)
    assert not probe.msgs(PROP), "proposed without a valid instruction"
    instruction.publish(String(data="find an apple"))
    assert probe.spin_until(lambda: len(probe.msgs(PROP)) >= 8, timeout=40, every=fresh)
    props = probe.msgs(PROP)
    p = props[-1]
    assert len(p.action_probabilities) == 20 and abs(sum(p.action_probabilities) - 1) < 1e-3
    assert len(p.predicted_cost) == 20 and len(p.predicted_cost_by_category) == 100
    assert list(p.cost_categories) == list(COST_CATEGORIES) and p.model_latency_ms > 0
    seqs = [q.sequence for q in props]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    log = (nodes.log_dir / "policy_node.log").read_text()
    assert "on CPUExecutionProvider (requested ['tensorrt', 'cuda', 'cpu'])" in log
    probe.spin_for(0.2)
    answered = {v.proposal_sequence: v for v in probe.msgs(VERDICT)}
    assert all(s in answered for s in seqs)
    moved = [answered[s] for s in seqs if not answered[s].safe_stop]
    assert moved, "every proposal was stopped although the threshold allows all actions"
    kind = ACTIONS[moved[-1].executed_action].kind
    if kind in (ActionKind.BASE_TRANSLATE, ActionKind.BASE_ROTATE):
        assert any(tw.linear.x or tw.angular.z for tw in probe.msgs(CMD))
    elif kind is not ActionKind.TERMINAL:
        assert probe.msgs("arm_command")[-1].data == moved[-1].executed_action_name

    # Stale camera: frames keep coming but 2 s old -> perception drops them -> watchdog stop.
    t_last_fresh = time.monotonic()
    stale = lambda: probe.publish_image(CAM, pixels, enc, age_s=2.0)  # noqa: E731
    is_frame_stop = lambda v: v.safe_stop and v.triggered_rule == "watchdog_frame"  # noqa: E731
    probe.spin_until(
        lambda: first_after(probe, VERDICT, t_last_fresh, is_frame_stop), timeout=3, every=stale
    )
    t_stop = first_after(probe, VERDICT, t_last_fresh, is_frame_stop)
    assert t_stop is not None and t_stop - t_last_fresh <= TIMEOUT + 0.05 + SLACK

    # Fresh frames again: motion resumes; then the policy process dies -> heartbeat stop.
    t_resume = time.monotonic()
    probe.spin_until(
        lambda: first_after(probe, VERDICT, t_resume, lambda v: not v.safe_stop),
        timeout=5,
        every=fresh,
    )
    assert first_after(probe, VERDICT, t_resume, lambda v: not v.safe_stop) is not None
    policy.send_signal(signal.SIGKILL)
    t_kill = time.monotonic()

    # The stop must come within the heartbeat timeout and name the dead policy. When the frames
    # also stop reaching the monitor (seen in CI: the machine stalls ~2 s right after the kill),
    # both watchdogs hold and the verdict names the frame first (it fell silent a few ms before
    # the last proposal) and the heartbeat after "also"; a watchdog_policy verdict follows once
    # frames are fresh again.
    def names_hb(v):
        if not v.safe_stop:
            return False
        frame_too = v.triggered_rule == "watchdog_frame" and "no policy heartbeat" in v.reason
        return v.triggered_rule == "watchdog_policy" or frame_too

    is_hb = lambda v: v.safe_stop and v.triggered_rule == "watchdog_policy"  # noqa: E731
    probe.spin_until(lambda: first_after(probe, VERDICT, t_kill, is_hb), timeout=4, every=fresh)
    t_stop = first_after(probe, VERDICT, t_kill, names_hb)
    why = after_kill(probe, t_kill, nodes.log_dir)
    assert t_stop is not None and t_stop - t_kill <= TIMEOUT + 0.05 + SLACK, why
    assert first_after(probe, VERDICT, t_kill, is_hb) is not None, why
    probe.spin_for(0.3)
    late = [tw for t, tw in probe.received[CMD] if t > t_stop + 0.1]
    assert all(tw.linear.x == 0 and tw.angular.z == 0 for tw in late)
    assert_every_command_has_a_verdict(probe)


def after_kill(probe, t_kill, log_dir) -> str:
    """What the probe saw after the policy died: each verdict's time, rule and reason, the
    proposals that still arrived (there should be none a few ms after the kill), and the last
    lines of the perception and monitor logs."""
    verdicts = [
        f"{t - t_kill:+.3f} s {v.triggered_rule or 'pass'} {v.reason!r}"
        for t, v in probe.received[VERDICT]
        if t >= t_kill
    ]
    props = [
        f"{t - t_kill:+.3f} s seq {p.sequence}" for t, p in probe.received[PROP] if t >= t_kill
    ]
    logs = {
        n: (log_dir / f"{n}.log").read_text().splitlines()[-5:]
        for n in ("perception_node", "safety_monitor_node")
    }
    return f"verdicts after the kill: {verdicts[:40]}; proposals after it: {props[:20]}; {logs}"


AHEAD, RIGHT, LEFT = (ACTION_NAMES.index(n) for n in ("move_ahead", "rotate_right", "rotate_left"))


def constructed_proposal(probe, seq):
    """The policy prefers move_ahead, which the critic predicts knocks a fragile cluster."""
    p = np.zeros(20, np.float32)
    p[[AHEAD, RIGHT, LEFT]] = [0.6, 0.3, 0.1]
    byc = np.zeros((20, 5), np.float32)
    byc[AHEAD, COST_CATEGORIES.index("fragile_collection")] = 0.9
    byc[RIGHT, COST_CATEGORIES.index("corner")] = 0.05
    msg = ActionProposal(action_index=AHEAD, action_name="move_ahead", sequence=seq)
    msg.header.stamp = probe.node.get_clock().now().to_msg()
    msg.action_names = list(ACTION_NAMES)
    msg.action_probabilities = p.tolist()
    msg.cost_categories = list(COST_CATEGORIES)
    msg.predicted_cost = byc.sum(1).tolist()
    msg.predicted_cost_by_category = byc.ravel().tolist()
    return msg


def test_monitor_vetoes_unsafe_favourite_and_estop_latches(nodes, probe):
    nodes("safety_monitor_node")  # default threshold
    nodes("action_adapter_node")
    wait_until_up(probe, ["safety_monitor_node", "action_adapter_node"])
    for topic, t in [
        (VERDICT, SafetyVerdict),
        (CMD, Twist),
        ("safevla/safety_events", SafetyEvent),
    ]:
        probe.subscribe(topic, t)
    stamps = probe.publisher("safevla/image_stamp", Header)
    props = probe.publisher(PROP, ActionProposal)
    seq = [0]

    def tick():
        seq[0] += 1
        stamps.publish(Header(stamp=probe.node.get_clock().now().to_msg()))
        props.publish(constructed_proposal(probe, seq[0]))

    # (a burst of queued proposals right after discovery may trip the rate limit: skip those)
    answered = lambda: [v for v in probe.msgs(VERDICT) if v.triggered_rule == "cost_critic"]  # noqa: E731
    assert probe.spin_until(lambda: len(answered()) >= 5, timeout=20, every=tick)
    v = answered()[-1]
    assert v.vetoed and v.proposed_action == AHEAD and v.executed_action == RIGHT
    assert v.triggered_rule == "cost_critic" and v.triggered_category == "fragile_collection"
    assert v.predicted_cost[v.executed_action] <= v.cost_threshold < v.predicted_cost[AHEAD]
    assert 0 <= v.decision_latency_ms < 50
    twists = probe.msgs(CMD)
    assert twists and all(tw.linear.x == 0.0 for tw in twists)  # never drove into the cluster
    assert any(tw.angular.z < 0 for tw in twists)  # rotated right instead
    ev = [e for e in probe.msgs("safevla/safety_events") if e.category == "fragile_collection"]
    assert ev and ev[-1].severity == SafetyEvent.SEVERITY_WARNING

    # Safety limits are read-only while running: a parameter change is refused.
    client = AsyncParameterClient(probe.node, "safety_monitor_node")
    assert client.wait_for_services(timeout_sec=10)
    future = client.set_parameters([Parameter("cost_threshold", value=5.0)])
    assert probe.spin_until(future.done, timeout=10)
    result = future.result().results[0]
    assert not result.successful and "read-only" in result.reason

    estop = probe.latched("safevla/estop", Bool)
    estop.publish(Bool(data=True))
    t_e = time.monotonic()
    probe.spin_until(lambda: False, timeout=1.0, every=tick)
    after = [v for t, v in probe.received[VERDICT] if t > t_e + 0.2]
    assert after and all(v.safe_stop and v.triggered_rule == "estop" for v in after)
    moving = [tw for t, tw in probe.received[CMD] if t > t_e + 0.2 and tw.angular.z]
    assert not moving, "the base moved during an e-stop"
    assert any(
        e.severity == SafetyEvent.SEVERITY_EMERGENCY for e in probe.msgs("safevla/safety_events")
    )
    estop.publish(Bool(data=False))
    t_r = time.monotonic()
    probe.spin_until(
        lambda: first_after(probe, VERDICT, t_r, lambda v: not v.safe_stop), timeout=3, every=tick
    )
    assert first_after(probe, VERDICT, t_r, lambda v: not v.safe_stop) is not None
    assert_every_command_has_a_verdict(probe)


def test_malformed_images_are_rejected_with_diagnostics_and_node_keeps_running(
    nodes, probe, bundle_path
):
    proc = nodes("perception_node", bundle_path=bundle_path)
    probe.subscribe("/diagnostics", DiagnosticArray)
    probe.subscribe("safevla/image", Image, FRAME_QOS)
    pixels, _ = frame(48, 64)
    good = lambda: probe.publish_image(CAM, pixels, "rgb8")  # noqa: E731
    assert probe.spin_until(lambda: probe.msgs("safevla/image"), timeout=15, every=good)
    bad = [
        dict(encoding="yuv422"),
        dict(encoding="rgb8", data=pixels.tobytes()[:-100]),  # truncated
        dict(encoding="rgb8", step=10),  # step < width * 3
    ]
    for kw in bad:
        enc = kw.pop("encoding")
        probe.publish_image(CAM, pixels, enc, **kw)
        probe.spin_for(0.1)
    probe.spin_until(lambda: len(errors(probe)) >= 3, timeout=5)
    text = " | ".join(errors(probe))
    assert "unsupported encoding 'yuv422'" in text and "truncated" in text and "step 10" in text
    n = len(probe.msgs("safevla/image"))
    assert probe.spin_until(lambda: len(probe.msgs("safevla/image")) > n, timeout=5, every=good)
    out = probe.msgs("safevla/image")[-1]
    assert (out.width, out.height, out.encoding) == (32, 32, "rgb8")
    assert proc.poll() is None


def errors(probe):
    return [
        s.message
        for d in probe.msgs("/diagnostics")
        for s in d.status
        if s.level == DiagnosticStatus.ERROR
    ]
