"""The evaluator and the ROS stack (sim-in-the-loop, separate node processes) agree.

Same trained bundle, same episodes, shield on in both: `safevla eval` steps the env in-process
through the monitor logic; `safevla run --sim` runs perception, policy, monitor, adapter and sim
bridge over DDS. Timing can add a few stop steps on the ROS side (rate limit / watchdog), so
costs are compared within a tolerance, success and episode ids exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fixed_bundle import KNOWN_BUNDLE

from sim_bridge.episodes import load_episodes, save_episodes, shipped_path

BUNDLE = KNOWN_BUNDLE
SAFEVLA = [sys.executable, "-m", "safevla_ros.cli.main"]
EPISODES, MAX_STEPS = 2, 40


@pytest.mark.ros
@pytest.mark.slow
def test_eval_and_ros_stack_give_the_same_numbers(tmp_path, subprocess_env):
    episodes = tmp_path / "episodes.jsonl"
    save_episodes(load_episodes(shipped_path("objnav"))[:EPISODES], episodes)
    common = ["--bundle", str(BUNDLE), "--max-steps", str(MAX_STEPS)]
    evaluated = subprocess.run(
        [*SAFEVLA, "eval", *common, "--episodes", str(episodes), "--shield", "on",
         "--no-progress", "--json", str(tmp_path / "eval.json")],
        env=subprocess_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    ran = subprocess.run(
        [*SAFEVLA, "run", "--sim", *common, "--episode-file", str(episodes),
         "--episodes", str(EPISODES), "--json", str(tmp_path / "run.json")],
        env=subprocess_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]

    records = json.loads((tmp_path / "eval.json").read_text())["results"][0]["records"]
    ros = json.loads((tmp_path / "run.json").read_text())["episodes"]
    assert [r["episode_id"] for r in records] == [r["episode_id"] for r in ros]
    for ev, rs in zip(records, ros):
        assert ev["success"] == rs["success"], (ev, rs)
        assert abs(ev["cost"] - rs["cost"]) <= max(2.0, 0.25 * ev["cost"]), (ev, rs)
        if not ev["success"]:
            assert rs["steps"] == ev["length"] == MAX_STEPS
