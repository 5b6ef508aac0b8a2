"""Smoke runs of the real ``safevla eval`` command line with tiny budgets."""

import json
import subprocess
import sys

import pytest

from safevla_core.safety_spec import COST_CATEGORIES
from safevla_ros.cli.eval import main

METRIC_KEYS = {
    "success_rate",
    "cost_mean",
    "cost_by_category",
    "cvar90_cost",
    "share_cost_gt_10",
    "sel",
    "spl",
    "episode_length_mean",
    "collision_rate",
    "veto_rate",
}


def run_eval(*args, cwd=None):
    """``safevla eval ...`` through the project's real entry point, in a fresh process."""
    cmd = [sys.executable, "-m", "safevla_ros.cli.main", "eval", "--no-progress", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd)


def test_smoke_experts_and_random_write_json_and_report(tmp_path):
    out, rep = tmp_path / "r.json", tmp_path / "rep"
    proc = run_eval(
        "--bundle",
        "expert:careful",
        "--bundle",
        "random",
        "--count",
        "2",
        "--max-steps",
        "30",
        "--bootstrap",
        "50",
        "--json",
        str(out),
        "--report",
        str(rep),
        "--baseline",
        "random",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert [r["bundle"] for r in doc["results"]] == ["expert:careful", "random"]
    for r in doc["results"]:
        assert {"bundle", "task", "episodes", "shield", "perturb", "metrics"} <= set(r)
        assert r["task"] == "objnav" and r["episodes"] == 2 and r["shield"] is False
        m = r["metrics"]
        assert set(m) >= METRIC_KEYS
        assert set(m["cost_by_category"]) == set(COST_CATEGORIES)
        assert m["veto_rate"] is None  # not shielded
        assert len(r["records"]) == 2
        for rec in r["records"]:
            assert rec["length"] <= 30
            assert rec["truncated"] is False or rec["length"] == 30
        # the metrics are the records' summary
        costs = [rec["cost"] for rec in r["records"]]
        assert m["cost_mean"] == pytest.approx(sum(costs) / 2)
        assert m["success_rate"] == sum(rec["success"] for rec in r["records"]) / 2
        lo, hi = m["ci95"]["cost_mean"]
        assert lo <= m["cost_mean"] <= hi
    report = (rep / "report.md").read_text()
    assert "Against the baseline `random`" in report and "expert:careful" in report
    for png in ("cost_hist_objnav.png", "success_vs_cost.png", "cost_by_category.png"):
        data = (rep / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert "success" in proc.stdout and "points" in proc.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--bundle", "/no/such/bundle"], "/no/such/bundle"),
        (["--bundle", "expert:sloppy"], "expert:sloppy"),
        (["--bundle", "random", "--perturb", "fog"], "fog"),
        (["--bundle", "random", "--baseline", "expert:careful"], "--baseline"),
        (["--bundle", "random", "--count", "0"], "count"),
        ([], "--bundle"),
    ],
)
def test_user_errors_exit_2_naming_the_value(args, needle, capsys):
    assert main(["--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.startswith("safevla eval: error:")


def test_bad_instruction_file_names_file_and_line(tmp_path, capsys):
    f = tmp_path / "wordings.txt"
    f.write_text("# my wordings\nobjnav\tplease find the {object}\nobjnav find {object}\n")
    args = ["--bundle", "random", "--count", "1", "--max-steps", "5", "--instructions", str(f)]
    assert main(["--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert f"{f}:3" in err and "tab" in err
    f.write_text("objnav\tfind the thing\n")
    assert main(["--no-progress", *args]) == 2
    assert f"{f}:1" in capsys.readouterr().err


def test_instruction_file_and_perturbations_are_used(tmp_path):
    f = tmp_path / "wordings.txt"
    f.write_text("objnav\twould you kindly find the {object}\n")
    out = tmp_path / "r.json"
    perturb = "lighting,color,material,camera-noise"
    assert (
        main(
            [
                "--no-progress",
                "--bundle",
                "random",
                "--count",
                "2",
                "--max-steps",
                "5",
                "--bootstrap",
                "0",
                "--instructions",
                str(f),
                "--perturb",
                perturb,
                "--json",
                str(out),
            ]
        )
        == 0
    )
    r = json.loads(out.read_text())["results"][0]
    assert r["perturb"] == ["lighting", "color", "material", "camera-noise"]
    assert all(
        rec["extra"]["instruction"].startswith("would you kindly find the ")
        for rec in r["records"]
    )


def test_exported_bundle_shielded_and_not(tiny_bundle, tmp_path):
    out = tmp_path / "b.json"
    assert (
        main(
            [
                "--no-progress",
                "--bundle",
                str(tiny_bundle),
                "--bundle",
                "expert:careful",
                "--shield",
                "both",
                "--count",
                "1",
                "--max-steps",
                "10",
                "--bootstrap",
                "20",
                "--baseline",
                "expert:careful",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    results = json.loads(out.read_text())["results"]
    assert [(r["bundle"], r["shield"]) for r in results] == [
        (str(tiny_bundle), False),
        (str(tiny_bundle), True),
        ("expert:careful", False),
    ]
    off, on, _ = (r["metrics"] for r in results)
    assert off["veto_rate"] is None and 0.0 <= on["veto_rate"] <= 1.0
    assert on["ci95"]["veto_rate"] is not None
    assert "note" in results[2]
    assert results[0]["bundle_id"].startswith("tiny-eval@")


def test_tampered_bundle_is_refused_before_any_episode(tiny_bundle, tmp_path, capsys):
    import shutil

    bad = tmp_path / "tampered"
    shutil.copytree(tiny_bundle, bad)
    with open(bad / "policy.onnx", "ab") as f:
        f.write(b"\0")
    assert main(["--no-progress", "--bundle", str(bad), "--count", "1"]) == 2
    assert "policy.onnx" in capsys.readouterr().err


def test_several_episode_files_are_one_set_and_a_repeated_file_is_refused(tmp_path, capsys):
    """``--episodes A B``: A's episodes then B's, one result over both (e.g. the two
    unseen-seed sets as 200 episodes); the same file twice would count its episodes twice."""
    from sim_bridge.episodes import DATA_DIR, load_episodes, save_episodes

    files = []
    for seed in (20261201, 20261202):
        eps = load_episodes(DATA_DIR / f"objnav_unseen_s{seed}.jsonl.gz")[:2]
        files.append(save_episodes(eps, tmp_path / f"s{seed}.jsonl"))
    out = tmp_path / "r.json"
    args = ["--bundle", "random", "--max-steps", "5", "--bootstrap", "0", "--json", str(out)]
    proc = run_eval(*args, "--episodes", *map(str, files))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    (r,) = doc["results"]
    ids = [rec["episode_id"] for rec in r["records"]]
    assert r["episodes"] == 4
    assert ids == [f"objnav_s{s}_{i:04d}" for s in (20261201, 20261202) for i in range(2)]
    assert doc["config"]["episodes_file"] == list(map(str, files))
    assert main(["--no-progress", *args, "--episodes", str(files[0]), str(files[0])]) == 2
    err = capsys.readouterr().err
    assert "objnav_s20261201_0000" in err and "pass each episode file once" in err


def test_the_dither_breaker_follows_the_critic_shield_unless_told():
    """Unset, ``--break-dither`` is the shielded count where ``--critic`` shields the run
    (every run of the bundle, so ``--shield both`` compares one proposer) and off otherwise;
    a count given stands, and the results' config records the one used."""
    from safevla_core.action_choice import SHIELDED_BREAK_DITHER
    from safevla_ros.cli.eval import _config
    from safevla_ros.cli.main import build_parser

    def dither(*extra):
        argv = ["eval", "--bundle", "models/objnav-ppo-lag", *extra]
        return _config(build_parser().parse_args(argv)).to_dict()["break_dither"]

    critic = ["--critic", "models/safety-critic"]
    assert dither(*critic, "--shield", "both") == SHIELDED_BREAK_DITHER
    assert dither(*critic, "--shield", "on") == SHIELDED_BREAK_DITHER
    assert dither("--shield", "on") == 0  # the policy's own cost rule only
    assert dither(*critic, "--shield", "both", "--break-dither", "0") == 0
    assert dither("--break-dither", "4") == 4
