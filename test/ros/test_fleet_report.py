"""``safevla fleet report`` over recordings written by the recorder's own writer (issue 13): the
fleet's counts are the sums of each robot's own report, and both equal what was written, also
for a file whose writer never finished (killed)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import String

from safevla_core.recording import RotatingRecorder
from safevla_ros.cli.main import main
from safevla_ros.msg import SafetyEvent, SafetyVerdict
from safevla_ros.msg_definitions import schema, type_name_of

pytestmark = pytest.mark.cli
TYPES = {
    "verdict": SafetyVerdict,
    "event": SafetyEvent,
    "diagnostics": DiagnosticArray,
    "instruction": String,
    "frame": Image,
}
H = 3600 * 10**9


def record(folder, robot: str, n: int, veto_every: int, t0: int, finish: bool = True) -> dict:
    """``n`` verdicts of ``robot`` over two hours (every ``veto_every``-th a critic veto, every
    11th a stop, the first 3 idle watchdog stops), an event per veto or stop, two instructions
    and a frame before each event. Returns the expected counts."""
    topics = {f"/{robot}/{role}": schema(type_name_of(t)) for role, t in TYPES.items()}
    roles = {f"/{robot}/{role}": role for role in TYPES}
    topic = {role: t for t, role in roles.items()}
    rec = RotatingRecorder(
        folder, robot, topics, metadata={"robot_id": robot}, channel_roles=roles
    )
    want = dict.fromkeys(("decisions", "critic_vetoes", "proposal_stops", "events"), 0)
    want["by_instruction"] = {}
    pixels = np.full((8, 8, 3), 200, np.uint8)
    for i in range(n):
        t = t0 + i * (2 * H // n)
        if i in (0, n // 2):
            text = f"{robot}: task {i}"
            rec.write(topic["instruction"], t, serialize_message(String(data=text)))
        idle = i < 3
        veto = not idle and i % veto_every == 0
        stop = idle or (not veto and i % 11 == 0)
        v = SafetyVerdict(proposal_sequence=0 if idle else i, vetoed=veto, safe_stop=stop)
        v.triggered_rule = "cost_critic" if veto else ("watchdog_frame" if stop else "")
        v.decision_latency_ms, v.frame_age_ms = 0.1 + i % 5, 20.0
        if veto or stop:
            img = Image(height=8, width=8, encoding="rgb8", step=24, data=pixels.tobytes())
            rec.write(topic["frame"], t - 1000, serialize_message(img))
            rec.write(topic["verdict"], t, serialize_message(v))
            e = SafetyEvent(robot_id=robot, category="blind_spot" if veto else "watchdog_frame")
            e.severity, e.reason = (2 if veto else 1), f"#{i}"
            e.context = [KeyValue(key="predicted_cost", value=f"{i / n:.3f}")]
            rec.write(topic["event"], t + 1, serialize_message(e))
            want["events"] += 1
        else:
            rec.write(topic["verdict"], t, serialize_message(v))
        want["decisions"] += int(not idle)
        want["critic_vetoes"] += int(veto)
        want["proposal_stops"] += int(stop and not idle)
        if veto:
            key = f"{robot}: task {0 if i < n // 2 else n // 2}"
            want["by_instruction"][key] = want["by_instruction"].get(key, 0) + 1
    d = DiagnosticArray(status=[DiagnosticStatus(name=f"/{robot}/safety_monitor_node")])
    d.status[0].values = [KeyValue(key="decisions", value=str(n))]
    rec.write(topic["diagnostics"], t0 + 2 * H, serialize_message(d))
    if finish:
        rec.close()
    else:  # a killed writer: flushed, never finished (no summary, no footer)
        rec._writer.flush()
    return want


def report(paths, out) -> dict:
    assert main(["fleet", "report", *map(str, paths), "--out", str(out)]) == 0
    return json.loads((out / "fleet_summary.json").read_text())


def test_fleet_counts_are_the_sums_of_each_robots_own(tmp_path, capsys):
    t0 = int(time.time() // 3600 * 3600) * 10**9
    a = record(tmp_path / "a", "alpha", 300, 7, t0)
    b = record(tmp_path / "b", "bravo", 200, 5, t0 + H // 2, finish=False)
    only_a = report([tmp_path / "a"], tmp_path / "ra")["fleet"]["counts"]
    only_b = report([tmp_path / "b"], tmp_path / "rb")["fleet"]["counts"]
    both = report([tmp_path / "a", tmp_path / "b"], tmp_path / "r")
    for key in ("decisions", "critic_vetoes", "proposal_stops", "events", "verdicts"):
        assert both["fleet"]["counts"][key] == only_a[key] + only_b[key], key
    for robot, want in (("alpha", a), ("bravo", b)):
        got = both["robots"][robot]
        for key in ("decisions", "critic_vetoes", "proposal_stops", "events"):
            assert got["counts"][key] == want[key], (robot, key)
        assert got["instruction_vetoes"] == want["by_instruction"]
        assert sum(h["critic_vetoes"] for h in got["per_hour"].values()) == want["critic_vetoes"]
        assert len(got["per_hour"]) >= 2
        assert got["monitor_last_status"] == {"decisions": str(300 if robot == "alpha" else 200)}
    assert (
        both["robots"]["bravo"]["truncated_files"]
        and not both["robots"]["alpha"]["truncated_files"]
    )
    p = both["robots"]["alpha"]["decision_latency_ms"]
    assert p["n"] == a["decisions"] and p["p50"] == pytest.approx(2.1, abs=1e-4)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| **fleet** |" in md and "alpha: task" in md and "file ended early" in md
    assert (tmp_path / "r" / "rates.png").stat().st_size > 1000
    assert len(list((tmp_path / "r" / "frames").glob("worst_*.png"))) == 6
    assert "2 robots" in capsys.readouterr().out


def test_bad_input_is_one_line_naming_the_path(tmp_path, capsys):
    assert main(["fleet", "report", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope: no such file or folder" in capsys.readouterr().err
    (tmp_path / "x.mcap").write_bytes(b"not an mcap file at all")
    assert main(["fleet", "report", str(tmp_path / "x.mcap"), "--out", str(tmp_path / "o")]) == 2
    assert "not a readable MCAP recording" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["fleet", "report", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no *.mcap recordings" in capsys.readouterr().err
