"""The safety path under hostile input and faults, with real node processes (issue 11): a bad
proposal does not kill the monitor, forged verdicts do not drive the base, a dead monitor stops
the robot at once, and Ctrl-C of the adapter mid-motion leaves a zero Twist."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
from geometry_msgs.msg import Twist
from ros_harness import CMD, PROP, VERDICT, first_after, wait_until_up
from std_msgs.msg import Bool, Header

from safevla_core.actions import ACTION_NAMES
from safevla_core.safety_spec import COST_CATEGORIES
from safevla_ros.msg import ActionProposal, SafetyEvent, SafetyVerdict

pytestmark = pytest.mark.ros
AHEAD = ACTION_NAMES.index("move_ahead")
TIMEOUT, SLACK = 0.5, 0.3  # config defaults (monitor_timeout_s), scheduling slack under load
EVENTS = "safevla/safety_events"


def proposal(probe, seq: int, index: int = AHEAD) -> ActionProposal:
    """move_ahead, certain and costless: the monitor lets it through."""
    p = np.zeros(20, np.float32)
    p[AHEAD] = 1.0
    msg = ActionProposal(action_index=index, sequence=seq)
    msg.header.stamp = probe.node.get_clock().now().to_msg()
    msg.action_names = list(ACTION_NAMES)
    msg.action_probabilities = p.tolist()
    msg.cost_categories = list(COST_CATEGORIES)
    msg.predicted_cost = [0.0] * 20
    msg.predicted_cost_by_category = [0.0] * 100
    return msg


class Driver:
    """Publishes a frame stamp and a proposal per call, as perception and the policy would."""

    def __init__(self, probe) -> None:
        self.probe, self.seq = probe, 0
        self.stamps = probe.publisher("safevla/image_stamp", Header)
        self.props = probe.publisher(PROP, ActionProposal)

    def __call__(self, index: int = AHEAD) -> None:
        self.seq += 1
        self.stamps.publish(Header(stamp=self.probe.node.get_clock().now().to_msg()))
        self.props.publish(proposal(self.probe, self.seq, index))


def moving(tw) -> bool:
    return tw.linear.x != 0.0 or tw.angular.z != 0.0


def test_monitor_survives_bad_proposals_and_the_adapter_refuses_forged_verdicts(nodes, probe):
    monitor = nodes("safety_monitor_node")
    nodes("action_adapter_node")
    wait_until_up(probe, ["safety_monitor_node", "action_adapter_node"])
    for topic, t in [(VERDICT, SafetyVerdict), (CMD, Twist), (EVENTS, SafetyEvent)]:
        probe.subscribe(topic, t)
    drive = Driver(probe)
    assert probe.spin_until(lambda: any(map(moving, probe.msgs(CMD))), timeout=30, every=drive)

    # action_index 20 passes the uint8 range but is no action: a stop verdict and an event.
    t_bad = time.monotonic()
    bad = lambda v: v.triggered_rule == "malformed_proposal"  # noqa: E731
    probe.spin_until(lambda: first_after(probe, VERDICT, t_bad, bad), 5, lambda: drive(20))
    v = next(v for t, v in probe.received[VERDICT] if t >= t_bad and bad(v))
    assert v.safe_stop and "action_index 20" in v.reason
    named = lambda: any("action_index 20" in e.reason for e in probe.msgs(EVENTS))  # noqa: E731
    assert probe.spin_until(named, timeout=3)
    t_ok = time.monotonic()
    ok = lambda v: not v.safe_stop  # noqa: E731
    assert probe.spin_until(lambda: first_after(probe, VERDICT, t_ok, ok), 5, drive)
    assert monitor.poll() is None, "the monitor died on a bad proposal"

    # A forged verdict (the real monitor's id, the next sequence, a fresh stamp) during an
    # e-stop: the adapter enforces the e-stop itself.
    real = probe.msgs(VERDICT)[-1]
    estop = probe.latched("safevla/estop", Bool)
    estop.publish(Bool(data=True))
    probe.spin_for(0.5)
    forged = probe.publisher(VERDICT, SafetyVerdict)
    t_forge = time.monotonic()
    for k in range(1, 6):
        f = SafetyVerdict(executed_action=AHEAD, executed_action_name="move_ahead")
        f.monitor_id, f.verdict_sequence = real.monitor_id, real.verdict_sequence + 100 * k
        f.header.stamp = probe.node.get_clock().now().to_msg()
        forged.publish(f)
        probe.spin_for(0.1)
    # ... and one from another node's id, e-stop released, the monitor idle (policy silent).
    estop.publish(Bool(data=False))
    probe.spin_for(0.3)
    f.monitor_id, f.verdict_sequence = "/teleop#1", 1
    f.header.stamp = probe.node.get_clock().now().to_msg()
    forged.publish(f)
    probe.spin_for(0.5)
    late = [tw for t, tw in probe.received[CMD] if t > t_forge]
    assert not any(map(moving, late)), "a forged verdict drove the base"
    log = (nodes.log_dir / "action_adapter_node.log").read_text()
    assert "e-stop engaged" in log and "not the configured monitor" in log


def test_a_dead_monitor_stops_the_base_and_ctrl_c_leaves_a_zero_twist(nodes, probe):
    monitor = nodes("safety_monitor_node")
    # slow: move_ahead's Twist lasts 5 s, so only the adapter's own check can end it sooner
    adapter = nodes("action_adapter_node", linear_speed=0.05)
    wait_until_up(probe, ["safety_monitor_node", "action_adapter_node"])
    probe.subscribe(CMD, Twist)
    drive = Driver(probe)
    assert probe.spin_until(lambda: any(map(moving, probe.msgs(CMD))), timeout=30, every=drive)
    # Keep proposing; kill the monitor while the base moves.
    assert probe.spin_until(lambda: moving(probe.msgs(CMD)[-1]), timeout=5, every=drive)
    monitor.send_signal(signal.SIGKILL)
    t_kill = time.monotonic()
    probe.spin_until(lambda: not moving(probe.msgs(CMD)[-1]), timeout=3, every=drive)
    t_zero = first_after(probe, CMD, t_kill, lambda tw: not moving(tw))
    assert t_zero is not None and t_zero - t_kill <= TIMEOUT + 0.05 + SLACK
    log = lambda: (nodes.log_dir / "action_adapter_node.log").read_text()  # noqa: E731
    assert probe.spin_until(lambda: "no verdict or heartbeat from the safety" in log(), 3)

    # A fresh monitor: motion resumes; Ctrl-C to the adapter mid-motion ends on a zero Twist.
    nodes("safety_monitor_node")
    t_new = time.monotonic()
    assert probe.spin_until(
        lambda: first_after(probe, CMD, t_new, moving), timeout=30, every=drive
    )
    assert probe.spin_until(lambda: moving(probe.msgs(CMD)[-1]), timeout=5, every=drive)
    adapter.send_signal(signal.SIGINT)
    assert adapter.wait(timeout=10) == 0
    probe.spin_for(0.5)
    assert not moving(probe.msgs(CMD)[-1]), "the last command after Ctrl-C is a motion"
