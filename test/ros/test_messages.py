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
