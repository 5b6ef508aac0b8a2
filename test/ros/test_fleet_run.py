"""Issue 13: `safevla run --sim --robots 2` runs two namespaced robots on one domain without
crosstalk, and their recordings add up in `safevla fleet report` to the runs' own counts."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from geometry_msgs.msg import Twist
from ros_harness import assert_sim_executed_the_motions
from sensor_msgs.msg import Image
from std_msgs.msg import String

from safevla_ros.cli.main import main
from safevla_ros.fleet_run import VERDICT_COUNTS, Robot, namespaced, not_up
from safevla_ros.msg import ActionProposal, SafetyVerdict
from safevla_ros.srv import ResetEpisode

pytestmark = pytest.mark.ros
ROBOTS = ("robot_0", "robot_1")


def test_params_sections_are_namespaced():
    doc = {"/**": {"a": 1}, "policy_node": {"b": 2}, "/other/policy_node": {"c": 3}}
    assert namespaced(doc, "robot_1") == {
        "/**": {"a": 1},
        "/robot_1/policy_node": {"b": 2},
        "/other/policy_node": {"c": 3},
    }


def test_a_robot_is_up_when_each_of_its_nodes_subscribed_in_its_own_namespace(probe):
    """The runner starts no episode before every node of the robot holds its input
    subscription (created on activation, after loading: the policy takes seconds, tens under
    load). A node of the same name in another namespace does not count."""
    import rclpy

    robot = Robot("robot_3", Path("."), Path("."))
    robot.client = probe.node.create_client(ResetEpisode, "/robot_3/reset_episode")
    stack = ["perception_node", "policy_node", "safety_monitor_node", "action_adapter_node"]
    stack += ["safety_recorder_node", "sim_bridge_node"]
    assert [m.split()[0] for m in not_up(probe.node, robot)] == stack
    made = []

    def node(name: str, ns: str, topic: str | None, msg_type=String):
        n = rclpy.create_node(name, namespace=ns, context=probe.context)
        if topic is None:
            n.create_service(ResetEpisode, "reset_episode", lambda req, res: res)
        else:
            n.create_subscription(msg_type, topic, lambda m: None, 10)
        made.append(n)

    try:
        node("perception_node", "/robot_3", "camera/image_raw", Image)
        node("safety_monitor_node", "/robot_3", "safevla/proposal", ActionProposal)
        node("action_adapter_node", "/robot_3", "safevla/verdict", SafetyVerdict)
        node("safety_recorder_node", "/robot_3", "safevla/verdict", SafetyVerdict)
        node("sim_bridge_node", "/robot_3", None)
        node("policy_node", "/robot_4", "safevla/instruction")  # another robot's policy
        waiting = lambda: [m.split()[0] for m in not_up(probe.node, robot)]  # noqa: E731
        assert probe.spin_until(lambda: waiting() == ["policy_node"], timeout=10), waiting()
        probe.spin_for(0.5)
        assert waiting() == ["policy_node"]
        node("policy_node", "/robot_3", "safevla/instruction")  # loaded, then activated
        assert probe.spin_until(lambda: not waiting(), timeout=10), waiting()
    finally:
        for n in made:
            n.destroy_node()


@pytest.mark.slow
def test_two_robots_stay_apart_and_add_up_in_the_fleet_report(
    ros_domain_id, subprocess_env, bundle_path, probe, tmp_path
):
    logs, out = tmp_path / "logs", tmp_path / "run.json"
    for ns in ROBOTS:
        probe.subscribe(f"/{ns}/safevla/verdict", SafetyVerdict)
        probe.subscribe(f"/{ns}/sim/action", String)
        probe.subscribe(f"/{ns}/cmd_vel", Twist)
    args = ["--sim", "--bundle", bundle_path, "--robots", "2", "--episodes", "1"]
    args += ["--max-steps", "6", "--rate", "20", "--cost-threshold", "100"]
    args += ["--log-dir", str(logs), "--domain-id", str(ros_domain_id), "--json", str(out)]
    runner = subprocess.Popen(
        [sys.executable, "-m", "safevla_ros.runner", *args],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    forged = []

    def forge():
        """Robot 0's motion verdicts, replayed fresh on robot 1's verdict topic."""
        real = [v for v in probe.msgs("/robot_0/safevla/verdict") if not v.safe_stop]
        if not real or len(forged) >= 20:
            return
        v = copy.deepcopy(real[-1])
        v.header.stamp = probe.node.get_clock().now().to_msg()
        v.verdict_sequence += 1000 + len(forged)
        v.proposal_sequence = 0  # not a decision: the counts below stay the monitors' own
        probe.publisher("/robot_1/safevla/verdict", SafetyVerdict).publish(v)
        forged.append(v.executed_action_name)

    try:
        probe.spin_until(lambda: runner.poll() is not None, timeout=220, every=forge)
        stdout, stderr = runner.communicate(timeout=30)
        probe.spin_for(1.0)  # the adapters' last zero Twists
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 0, stdout + stderr
    assert forged, "robot_0 never moved: nothing to forge"
    for ns in ROBOTS:  # both finished their episode, each with its own summary line
        assert sum(ln.startswith(f"{ns} episode ") for ln in stdout.splitlines()) == 1, stdout
        assert f"{ns} summary: 1 episodes" in stdout
    assert "fleet summary: 2 episodes" in stdout

    # (a) no crosstalk: each topic carries its own monitor's verdicts (and the forged ones),
    # and each adapter executed exactly its own monitor's motions
    for ns in ROBOTS:
        verdicts = probe.msgs(f"/{ns}/safevla/verdict")
        own = [v for v in verdicts if v.monitor_id.startswith(f"/{ns}/safety_monitor_node#")]
        other = [v for v in verdicts if v not in own]
        assert len(other) == (len(forged) if ns == "robot_1" else 0)
        moves = Counter(v.executed_action_name for v in own if not v.safe_stop)
        assert moves, f"{ns} never moved"
        # sim/action at all: config/sim.yaml's /**/action_adapter_node section (publish_sim_action)
        # reached the namespaced adapter
        acted = Counter(m.data for m in probe.msgs(f"/{ns}/sim/action") if m.data != "stop")
        adapter_log = (logs / ns / "action_adapter_node.log").read_text()
        assert_sim_executed_the_motions(moves, acted, adapter_log, ns)
    refusals = (logs / "robot_1" / "action_adapter_node.log").read_text()
    assert "/robot_0/safety_monitor_node" in refusals  # refused, naming the foreign monitor
    assert probe.msgs("/robot_0/cmd_vel")[-1] == Twist()  # each adapter's last word: zero
    assert probe.msgs("/robot_1/cmd_vel")[-1] == Twist()

    # (b) the fleet report of both recordings = the sum of the two robots' own counts
    doc = json.loads(out.read_text())
    assert [r["robot"] for r in doc["robots"]] == list(ROBOTS)
    assert all(len(r["episodes"]) == 1 for r in doc["robots"])
    record_root = logs / "recordings"
    assert main(["fleet", "report", str(record_root), "--out", str(tmp_path / "rep")]) == 0
    rep = json.loads((tmp_path / "rep" / "fleet_summary.json").read_text())
    assert sorted(rep["robots"]) == list(ROBOTS)
    for key in VERDICT_COUNTS:
        mine = [r["summary"][key] for r in doc["robots"]]
        assert rep["fleet"]["counts"][key] == sum(mine) == doc["summary"][key], key
        for r in doc["robots"]:
            assert rep["robots"][r["robot"]]["counts"][key] == r["summary"][key], (r, key)
    assert doc["summary"]["decisions"] > 0
    for ns in ROBOTS:  # each recorder kept its own robot's diagnostics only
        status = rep["robots"][ns]["monitor_last_status"]
        assert status, f"{ns}: no monitor diagnostics recorded"
