"""Smoke runs of the real CLI with tiny budgets: train bc -> ppo-lag -> export -> load."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from safevla_core.bundle import load_bundle

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
    )
    m = json.loads((lag / "metrics.json").read_text())
    assert m["counters/env_steps"] == 32 and "safety/lambda" in m
    assert list((lag / "tb").iterdir()), "TensorBoard events written"
    _cli("train", "ppo-lag", "--out", str(lag), "--resume", "--total-steps", "64", "--no-progress")
    assert json.loads((lag / "metrics.json").read_text())["counters/env_steps"] == 64
    out = _cli(
        "export",
        "--checkpoint",
        str(lag / "checkpoint.pt"),
        "--out",
        str(bundle),
        "--name",
        "smoke",
    )
    assert max(json.loads(out.stdout)["parity_max_abs_diff"].values()) < 1e-4
    b = load_bundle(bundle)
    assert b.name == "smoke" and b.image.height == 32
    assert b.manifest["training"]["kind"] == "ppo-lag"
    assert {"config.yaml", "command.txt", "policy.onnx"} <= set(b.manifest["files"])


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
