"""`safevla sim ...` smoke tests: the real commands with tiny budgets."""

from __future__ import annotations

import json
import shutil

import pytest

from safevla_ros.cli.sim import main
from sim_bridge.episodes import load_episodes, shipped_path

SHIPPED_OBJNAV = shipped_path("objnav")


@pytest.fixture(scope="module")
def episode_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("eps") / "objnav.jsonl.gz"
    assert (
        main(
            [
                "sim",
                "episodes",
                "--task",
                "objnav",
                "--count",
                "3",
                "--seed",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_episodes_command_writes_valid_expert_checked_file(episode_file, capsys):
    episodes = load_episodes(episode_file)
    assert len(episodes) == 3
    assert all(e.task == "objnav" and e.expert_length >= 1 and e.instruction for e in episodes)
    assert [e.episode_id for e in episodes] == [f"objnav_s5_{i:04d}" for i in range(3)]
    # reproducible: the same seed gives the same episodes
    again = episode_file.with_name("again.jsonl")
    assert (
        main(
            [
                "sim",
                "episodes",
                "--task",
                "objnav",
                "--count",
                "3",
                "--seed",
                "5",
                "--out",
                str(again),
            ]
        )
        == 0
    )
    assert load_episodes(again) == episodes


def test_render_and_expert_commands(episode_file, tmp_path, capsys):
    out = tmp_path / "render"
    assert (
        main(
            [
                "sim",
                "render",
                "--episode",
                f"{episode_file}:1",
                "--policy",
                "expert-careful",  # the old spelling still works, recorded in the new one
                "--out",
                str(out),
                "--every",
                "5",
                "--size",
                "48",
                "64",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success"] and summary["episode_id"] == "objnav_s5_0001"
    assert summary["policy"] == "expert:careful" and summary["length"] >= 1
    assert (out / "topdown.png").stat().st_size > 10_000
    assert len(list(out.glob("frame_*.png"))) == summary["frames"] >= 2
    capsys.readouterr()
    res = tmp_path / "res.json"
    assert (
        main(
            [
                "sim",
                "expert",
                "--episodes",
                str(episode_file),
                "--mode",
                "careful",
                "--json",
                str(res),
            ]
        )
        == 0
    )
    # the evaluator's table and results document (safevla eval's names)
    assert "| expert:careful | objnav | - | 3 | 1.000 [1.00, 1.00] |" in capsys.readouterr().out
    (result,) = json.loads(res.read_text())["results"]
    header = (result["bundle"], result["task"], result["episodes"])
    assert header == ("expert:careful", "objnav", 3)
    assert result["metrics"]["success_rate"] == 1.0 and result["metrics"]["sel"] == 1.0
    expert_lengths = [e.expert_length for e in load_episodes(episode_file)]
    assert [r["length"] for r in result["records"]] == expert_lengths


def test_expert_command_matches_safevla_eval_on_the_same_episodes(episode_file, tmp_path):
    """`sim expert` is the evaluator: the same records and metrics as `safevla eval` (which
    renders the experts' frames larger: they plan on simulator state, so nothing changes)."""
    from safevla_eval.runner import close_worker_cache
    from safevla_eval.suite import EvalConfig, evaluate

    res = tmp_path / "res.json"
    argv = ["sim", "expert", "--episodes", str(episode_file), "--mode", "careless"]
    assert main([*argv, "--max-steps", "40", "--json", str(res)]) == 0
    (ours,) = json.loads(res.read_text())["results"]
    cfg = EvalConfig(["expert:careless"], episodes_file=str(episode_file), max_steps=40)
    try:
        (theirs,) = evaluate(cfg)["results"]
    finally:
        close_worker_cache()
    assert len(ours["records"]) == 3
    assert ours["records"] == theirs["records"]
    assert ours["metrics"] == theirs["metrics"]


def test_render_policy_names(episode_file, tmp_path, capsys):
    argv = ["sim", "render", "--episode", f"{episode_file}:0", "--size", "32", "32"]
    argv += ["--every", "50", "--max-steps", "3"]
    assert main([*argv, "--policy", "random", "--out", str(tmp_path / "r")]) == 0
    assert 1 <= json.loads((tmp_path / "r" / "summary.json").read_text())["length"] <= 3
    with pytest.raises(SystemExit):
        main([*argv, "--policy", "expert:reckless", "--out", str(tmp_path / "x")])
    assert "expert:careful" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["episodes", "--task", "objnav", "--count", "0", "--out", "x.jsonl"], "--count"),
        (["episodes", "--task", "objnav", "--count", "1", "--out", "x.txt"], ".jsonl"),
        (["render", "--episode", "/nonexistent.jsonl", "--out", "o"], "does not exist"),
        (["expert", "--episodes", "/nonexistent.jsonl"], "does not exist"),
    ],
)
def test_user_errors_exit_2_with_a_message(argv, message, capsys):
    assert main(["sim", *argv]) == 2
    assert message in capsys.readouterr().err


def test_render_index_out_of_range(episode_file, capsys):
    assert main(["sim", "render", "--episode", f"{episode_file}:9", "--out", "o"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_train_scene_pool_and_user_instruction_file(tmp_path, capsys):
    templates = tmp_path / "mine.txt"
    templates.write_text("pickup\tyoink the {object}\n")
    out = tmp_path / "train.jsonl"
    assert (
        main(
            [
                "sim",
                "episodes",
                "--task",
                "pickup",
                "--count",
                "1",
                "--seed",
                "2",
                "--scenes",
                "train",
                "--instructions",
                str(templates),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    (ep,) = load_episodes(out)
    assert ep.scene_seed < 1_000_000 and ep.task == "pickup"
    templates.write_text("pickup\tno placeholder here\n")
    assert (
        main(
            [
                "sim",
                "episodes",
                "--task",
                "pickup",
                "--count",
                "1",
                "--instructions",
                str(templates),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "mine.txt:1" in capsys.readouterr().err


@pytest.mark.cli
def test_safevla_entry_point_runs_sim_episodes(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("safevla")
    out = tmp_path / "one.jsonl"
    proc = subprocess.run(
        [
            str(exe),
            "sim",
            "episodes",
            "--task",
            "pickup",
            "--count",
            "1",
            "--seed",
            "4",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote 1 pickup episodes" in proc.stdout
    assert len(load_episodes(out)) == 1


@pytest.mark.parametrize("command", ["episodes", "render"])
def test_backend_option_names_what_thor_is_missing(
    command, episode_file, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ai2thor/releases
    monkeypatch.delenv("SAFEVLA_THOR_EXECUTABLE", raising=False)
    out = tmp_path / "x.jsonl"
    args = {
        "episodes": ["--task", "objnav", "--count", "1", "--out", str(out)],
        "render": ["--episode", str(episode_file), "--out", str(tmp_path / "frames")],
    }[command]
    assert main(["sim", command, *args, "--backend", "thor"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "backend 'thor' cannot start: no AI2-THOR build" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("size", [["0", "0"], ["4", "64"]])
def test_render_size_out_of_range_is_a_one_line_error(episode_file, tmp_path, size, capsys):
    argv = ["sim", "render", "--episode", str(episode_file), "--out", str(tmp_path / "r")]
    assert main([*argv, "--size", *size]) == 2
    err = capsys.readouterr().err
    assert f"--size {size[0]} {size[1]}" in err and ">= 8" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_damaged_episode_file_is_a_one_line_error(tmp_path, capsys):
    src = tmp_path / "ok.jsonl.gz"
    shutil.copyfile(SHIPPED_OBJNAV, src)
    bad = tmp_path / "cut.jsonl.gz"
    bad.write_bytes(src.read_bytes()[:300])
    assert main(["sim", "expert", "--episodes", str(bad), "--limit", "1"]) == 2
    err = capsys.readouterr().err
    assert "cut.jsonl.gz: cannot read episode file" in err and len(err.strip().splitlines()) == 1


def test_unwritable_outputs_are_refused_before_the_run(episode_file, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "sub" / "eps.jsonl"  # its folder would have to be inside a file
    argv = ["sim", "episodes", "--task", "objnav", "--count", "1", "--out", str(out)]
    assert main(argv) == 2
    assert "--out" in capsys.readouterr().err
    argv = ["sim", "expert", "--episodes", str(episode_file), "--json", str(tmp_path)]
    assert main(argv) == 2
    assert "is a folder" in capsys.readouterr().err
    argv = ["sim", "render", "--episode", str(episode_file), "--out", str(blocker)]
    assert main(argv) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_expert_json_is_written_and_its_partial_file_removed(episode_file, tmp_path):
    out = tmp_path / "res" / "expert.json"
    argv = ["sim", "expert", "--episodes", str(episode_file), "--mode", "careful"]
    assert main([*argv, "--limit", "1", "--max-steps", "5", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["results"][0]["records"]) == 1
    assert not (tmp_path / "res" / "expert.partial.jsonl").exists()
