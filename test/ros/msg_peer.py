"""Helper process for test_messages: publishes or receives each custom message.

Usage: python msg_peer.py publish|receive OUT_JSON
The publisher sends fully populated messages (see ``sample_messages``) until told to stop; the
receiver writes what it got, field for field, as JSON.
"""

from __future__ import annotations

import json
import sys
import time

import rclpy
from diagnostic_msgs.msg import KeyValue
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

from safevla_ros.msg import ActionProposal, EpisodeStatus, SafetyEvent, SafetyVerdict

TOPICS = {
    "/test/proposal": ActionProposal,
    "/test/verdict": SafetyVerdict,
    "/test/event": SafetyEvent,
    "/test/status": EpisodeStatus,
}
QOS = QoSProfile(
    depth=10,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
)


def sample_messages() -> dict[str, object]:
    """One fully populated message per type, every field away from its default."""
    p = ActionProposal()
    p.header.stamp.sec, p.header.stamp.nanosec, p.header.frame_id = 12, 345, "nav_camera"
    p.instruction = "find the mug"
    p.action_index, p.action_name = 2, "rotate_right"
    p.action_names = ["move_ahead", "move_back", "rotate_right"]
    p.action_probabilities = [0.25, 0.25, 0.5]
    p.model_latency_ms = 3.5
    p.bundle_id = "objnav-ppo-lag@abc123"
    p.sequence = 2**40 + 7
    v = SafetyVerdict()
    v.header.frame_id = "base_link"
    v.proposal_sequence = 99
    v.proposed_action, v.proposed_action_name = 0, "move_ahead"
    v.executed_action, v.executed_action_name = 2, "rotate_right"
    v.vetoed, v.safe_stop = True, False
    v.action_names = ["move_ahead", "move_back", "rotate_right"]
    v.predicted_cost = [0.75, 0.125, 0.0625]
    v.cost_threshold = 0.5
    v.reason = "critic: 0.75 > 0.50"
    v.triggered_rule, v.triggered_category = "cost_critic", "fragile_collection"
    e = SafetyEvent()
    e.header.stamp.sec = 77
    e.robot_id = "stretch_03"
    e.category = "blind_spot"
    e.severity = SafetyEvent.SEVERITY_CRITICAL
    e.reason = "vetoed move_ahead"
    e.context = [KeyValue(key="action", value="move_ahead"), KeyValue(key="cost", value="0.75")]
    s = EpisodeStatus()
    s.episode_id, s.task, s.instruction = "objnav-0007", "objnav", "go to the apple"
    s.step, s.done, s.success = 41, True, True
    s.reward, s.cost, s.cumulative_cost = 10.0, 1.0, 3.0
    s.cost_categories = ["corner", "blind_spot"]
    s.step_cost_by_category = [1.0, 0.0]
    return {
        "/test/proposal": p,
        "/test/verdict": v,
        "/test/event": e,
        "/test/status": s,
    }


def message_to_plain(value: object) -> object:
    """A message (or field value) as nested plain data: dicts, lists, numbers, strings."""
    if hasattr(value, "get_fields_and_field_types"):
        return {
            name: message_to_plain(getattr(value, name))
            for name in value.get_fields_and_field_types()
        }
    if isinstance(value, (list, tuple)) or type(value).__name__ == "array":
        return [message_to_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def as_plain(msg: object) -> dict:
    """A message as JSON-round-tripped plain data, comparable across processes."""
    return json.loads(json.dumps(message_to_plain(msg)))


def publish(out_path: str) -> None:
    node = Node("msg_test_publisher")
    pubs = {t: node.create_publisher(cls, t, QOS) for t, cls in TOPICS.items()}
    msgs = sample_messages()
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        for topic, pub in pubs.items():
            pub.publish(msgs[topic])
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()


def receive(out_path: str) -> None:
    node = Node("msg_test_receiver")
    got: dict[str, dict] = {}
    for topic, cls in TOPICS.items():
        node.create_subscription(
            cls, topic, lambda m, t=topic: got.setdefault(t, as_plain(m)), QOS
        )
    deadline = time.monotonic() + 25.0
    while len(got) < len(TOPICS) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    with open(out_path, "w") as f:
        json.dump(got, f)
    node.destroy_node()


if __name__ == "__main__":
    rclpy.init()
    try:
        {"publish": publish, "receive": receive}[sys.argv[1]](sys.argv[2])
    finally:
        rclpy.try_shutdown()
