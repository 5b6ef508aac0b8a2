"""Smoke runs of the real CLI with tiny budgets: train bc -> ppo-lag -> export -> load."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from safevla_core.bundle import load_bundle
from safevla_train.checkpoint import load_checkpoint
from safevla_train.select import choose
from safevla_train.train_ppo import best_key

SMALL = [
    "--set",
    "model.image_height=32",
    "--set",
    "model.image_width=32",
    "--set",
    "model.cnn_channels=[8,16]",
    "--set",
    "model.d_model=32",
    "--set",
    "model.num_heads=2",
    "--set",
    "model.context_length=4",
]
ENV = ["--set", "env.num_envs=2", "--set", "env.nav_size=[32,32]"]


def _cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "safevla_ros.cli.train", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_bc_ppo_lag_export_pipeline(tmp_path):
    bc, lag, bundle = tmp_path / "bc", tmp_path / "lag", tmp_path / "bundle"
    _cli(
        "train",
        "bc",
        "--out",
        str(bc),
        "--no-progress",
        *SMALL,
        *ENV,
        "--set",
        "demo_steps=80",
        "--set",
        "demo_max_steps=30",
        "--set",
        "keep_failures=true",
        "--set",
        "updates=3",
        "--set",
        "batch_chunks=2",
        "--set",
        "chunk_len=8",
    )
    metrics = json.loads((bc / "metrics.json").read_text())
    assert metrics["demos/episodes"] >= 1 and metrics["losses/bc_ce"] > 0
    assert (bc / "config.yaml").is_file() and "train bc" in (bc / "command.txt").read_text()
    _cli(
        "train",
        "ppo-lag",
        "--init",
        str(bc / "checkpoint.pt"),
        "--out",
        str(lag),
        "--no-progress",
        *ENV,
        "--set",
        "env.max_steps=10",
        "--set",
        "total_steps=32",
        "--set",
        "rollout_steps=8",
        "--set",
        "sync_every=2",
        "--set",
        "eval_every=1",
        "--set",
        "eval_episodes=1",
        "--set",
        "keep_evaluated=true",
    )
    m = json.loads((lag / "metrics.json").read_text())
    assert m["counters/env_steps"] == 32 and "safety/lambda" in m
    # the periodic evaluation is the evaluator's, under its metric names
    assert m["eval/n_episodes"] == 1 and 1 <= m["eval/episode_length_mean"] <= 10
    assert m["eval/cost_mean"] >= 0 and "eval/cumulative_cost" not in m
    assert list((lag / "tb").iterdir()), "TensorBoard events written"
    _cli("train", "ppo-lag", "--out", str(lag), "--resume", "--total-steps", "64", "--no-progress")
    assert json.loads((lag / "metrics.json").read_text())["counters/env_steps"] == 64
    # the best evaluated policy of the run is what ships; the bundle names the evaluation
    kept = load_checkpoint(lag / "checkpoint_best.pt")
    best = kept["best"]
    assert 1 <= best["iteration"] <= 8 and best["episodes"] == 1
    # keep_evaluated: every evaluated policy, across the resume, to choose from afterwards
    evaluated = sorted(p.name for p in (lag / "evaluated").iterdir())
    iterations = json.loads((lag / "metrics.json").read_text())["counters/iteration"]
    assert iterations >= 3 and evaluated == [f"it{i:06d}.pt" for i in range(1, iterations + 1)]
    same = load_checkpoint(lag / "evaluated" / f"it{best['iteration']:06d}.pt")
    assert same["evaluation"] == {k: v for k, v in best.items() if k != "best_by"}
    for k, v in kept["model"].items():
        assert torch.equal(v, same["model"][k]), k
    out = _cli(
        "export",
        "--checkpoint",
        str(lag / "evaluated" / f"it{best['iteration']:06d}.pt"),
        "--out",
        str(bundle),
        "--name",
        "smoke",
        "--eval-episodes",
        "1",
    )
    assert max(json.loads(out.stdout)["parity_max_abs_diff"].values()) < 1e-4
    b = load_bundle(bundle)
    assert b.name == "smoke" and b.image.height == 32
    assert b.manifest.training["kind"] == "ppo-lag"
    assert b.manifest.training["selected_by_evaluation"] == best
    assert b.manifest.training["evaluated_in_run"] == same["evaluation"]
    assert b.render_size == (32, 32)  # the training env's nav_size, recorded as the render entry
    assert {"config.yaml", "command.txt", "policy.onnx"} <= set(b.manifest.files)
    quick = b.manifest.evaluation["quick_eval"]
    assert quick["n_episodes"] == 1 and set(quick["ci95"]) >= {"success_rate", "cost_mean"}
    # select: the 2 most successful in-run policies re-evaluated on 3 validation episodes; the
    # chosen one is the best of those by the run's rule, copied with its record; export names it
    out = _cli(
        "select", "--run", str(lag), "--count", "3", "--max-steps", "12", "--shortlist", "2",
        "--tie-se", "0",
    )  # fmt: skip
    sel = json.loads((lag / "selection.json").read_text())
    assert json.loads(out.stdout)["chosen"] == sel["chosen"]
    assert sel["best_by"] == "success" and sel["n_episodes"] == 3  # the run's rule
    assert sel["tie_se"] == 0.0
    assert sel["candidates"] == iterations and len(sel["shortlist"]) == 2
    in_run = [load_checkpoint(p)["evaluation"] for p in sorted((lag / "evaluated").iterdir())]
    top = sorted(in_run, key=lambda e: best_key(e, "success", 2.32), reverse=True)
    assert [r["in_run"] for r in sel["shortlist"]] == top[:2]
    for r in sel["shortlist"]:
        assert 0 <= r["success_rate"] <= 1 and 1 <= r["episode_length_mean"] <= 12
    rank = lambda r: best_key(r, "success", 2.32)  # noqa: E731
    assert rank(next(r for r in sel["shortlist"] if r["checkpoint"] == sel["chosen"])) == max(
        map(rank, sel["shortlist"])
    )
    chosen = load_checkpoint(lag / "checkpoint_selected.pt")
    src = load_checkpoint(lag / sel["chosen"])
    assert all(torch.equal(v, src["model"][k]) for k, v in chosen["model"].items())
    assert chosen["selection"]["chosen"] == sel["chosen"]
    _cli("export", "--checkpoint", str(lag / "checkpoint_selected.pt"), "--out", str(bundle))
    picked = load_bundle(bundle).manifest.training
    assert picked["selected_on_episodes"]["chosen"] == sel["chosen"]
    assert picked["evaluated_in_run"] == src["evaluation"]
    p = _cli("select", "--run", str(bc), ok=False)  # a run without evaluated policies
    assert p.returncode == 2 and "keep_evaluated=true" in p.stderr and "Traceback" not in p.stderr
    # rerank: the same evaluated rows under another rule, nothing evaluated again
    _cli("select", "--run", str(lag), "--rerank", "--best-by", "success_within_limit",
         "--cost-limit", "0", "--tie-se", "1")  # fmt: skip
    again = json.loads((lag / "selection.json").read_text())
    assert again["shortlist"] == sel["shortlist"] and again["tie_se"] == 1.0
    assert (
        again["chosen"]
        == choose(sel["shortlist"], "success_within_limit", 0.0, 3, 1.0)["checkpoint"]
    )
    src = load_checkpoint(lag / again["chosen"])
    chosen = load_checkpoint(lag / "checkpoint_selected.pt")
    assert all(torch.equal(v, src["model"][k]) for k, v in chosen["model"].items())
    assert chosen["selection"]["best_by"] == "success_within_limit"
    p = _cli("select", "--run", str(bc), "--rerank", ok=False)
    assert p.returncode == 2 and "run `safevla select` first" in p.stderr

    # an `end` gate needs a readout to read: refused in one line, before any export work
    p = _cli(
        "export", "--checkpoint", str(lag / "checkpoint.pt"), "--out", str(tmp_path / "g"),
        "--end-gate", "0.3", ok=False,
    )  # fmt: skip
    assert p.returncode == 2 and "needs model.target_readout=true" in p.stderr
    assert not (tmp_path / "g").exists() and "Traceback" not in p.stderr
    # `end` only with the gripper full: no weights change, the bundle records the override
    held = tmp_path / "h"
    _cli("export", "--checkpoint", str(lag / "checkpoint.pt"), "--out", str(held),
         "--end-needs-holding")  # fmt: skip
    overrides = load_bundle(held).manifest.training["export_overrides"]
    assert overrides == {"model.end_needs_holding": True}


def test_cli_user_errors_are_one_line(tmp_path):
    p = _cli("train", "bc", "--out", str(tmp_path / "x"), "--set", "model.colour=1", ok=False)
    assert p.returncode == 2 and "unknown config key 'model.colour'" in p.stderr
    p = _cli("train", "ppo", "--out", str(tmp_path / "y"), ok=False)
    assert p.returncode == 2 and "--init" in p.stderr
    p = _cli(
        "export", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "z"), ok=False
    )
    assert p.returncode == 2 and "does not exist" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_ppo_lag_with_pid_multiplier_trains_and_resumes(tmp_path):
    """``train ppo-lag --multiplier pid`` from a random-weight start checkpoint, tiny budget."""
    import torch
    from tiny_model import SMALL as SMALL_MODEL

    from safevla_train.checkpoint import load_checkpoint, save_checkpoint
    from safevla_train.config import ModelConfig, to_dict
    from safevla_train.model import VLAPolicy

    start, run = tmp_path / "start.pt", tmp_path / "pid"
    model_cfg = ModelConfig(**SMALL_MODEL)
    torch.manual_seed(0)
    save_checkpoint(
        start,
        {
            "kind": "bc",
            "config": {},
            "model_config": to_dict(model_cfg),
            "model": VLAPolicy(model_cfg).state_dict(),
        },
    )
    budget = ["--set", "env.max_steps=6", "--set", "rollout_steps=8", "--set", "sync_every=1"]
    args = ["train", "ppo-lag", "--out", str(run), "--no-progress", "--no-tensorboard"]
    _cli(
        *args,
        "--multiplier",
        "pid",
        "--init",
        str(start),
        *ENV,
        *budget,
        "--set",
        "total_steps=16",
        "--set",
        "cost_limit=0",
        "--set",
        "pid_kp=0.5",
    )
    m = json.loads((run / "metrics.json").read_text())
    assert m["counters/env_steps"] == 16
    ckpt = load_checkpoint(run / "checkpoint.pt")
    state = ckpt["algo"]["lagrange"]
    assert state["kind"] == "pid" and state["gains"]["kp"] == 0.5
    assert ckpt["config"]["multiplier"] == "pid"
    assert "multiplier: pid" in (run / "config.yaml").read_text()
    # the controller saw the rollout's mean episode cost; limit 0 makes every cost an error
    cost = m["safety/rollout_episode_cost"]
    assert state["smoothed_cost"] == cost and state["integral"] >= cost
    want = 0.5 * cost + 0.01 * state["integral"] + 0.01 * state["derivative"]
    assert m["safety/lambda"] == state["lambda"] == pytest.approx(want)
    p = _cli(*args, "--resume", "--multiplier", "lagrange", ok=False)
    assert p.returncode == 2 and "--multiplier pid" in p.stderr
    _cli(*args, "--resume", "--total-steps", "32")
    assert json.loads((run / "metrics.json").read_text())["counters/env_steps"] == 32
    # a resume takes the settings that leave the trained policy as it is, and refuses the rest
    # (it used to ignore every --set silently)
    p = _cli(*args, "--resume", "--set", "lr=0.1", "--set", "env.max_steps=9", ok=False)
    assert p.returncode == 2 and "cannot change lr, env.max_steps" in p.stderr
    p = _cli(*args, "--resume", "--config", str(start), ok=False)
    assert p.returncode == 2 and "--config" in p.stderr
    _cli(*args, "--resume", "--total-steps", "40", "--set", "eval_every=5")
    saved = load_checkpoint(run / "checkpoint.pt")["config"]
    assert saved["eval_every"] == 5 and saved["lr"] != 0.1 and saved["env"]["max_steps"] == 6
    p = _cli(*args, "--multiplier", "bogus", "--init", str(start), ok=False)
    assert p.returncode == 2 and "invalid choice: 'bogus'" in p.stderr
