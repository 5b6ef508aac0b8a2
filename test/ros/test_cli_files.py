"""Files and flags the ``safevla`` commands read: hostile checkpoints, signed bundles, bad
training overrides and unwritable outputs end in one line and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_model import SMALL

from safevla_core.bundle import load_bundle
from safevla_core.errors import UserError
from safevla_ros.cli.train import resolve_config
from safevla_train.checkpoint import save_checkpoint
from safevla_train.config import BCConfig, ModelConfig, PPOConfig, to_dict
from safevla_train.model import VLAPolicy


def _safevla(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real ``safevla`` entry point in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "safevla_ros.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def _one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1 and needle in lines[0], proc.stderr[-2000:]


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_checkpoint(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": "ppo", "config": {}, "model_config": {}, "model": Payload(marker)}, path)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A real (random-weight) checkpoint of the small model."""
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL)
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    bc = to_dict(BCConfig(model=cfg))
    state = VLAPolicy(cfg).state_dict()
    save_checkpoint(
        path, {"kind": "bc", "config": bc, "model_config": to_dict(cfg), "model": state}
    )
    return path


def test_export_refuses_a_crafted_checkpoint_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = _evil_checkpoint(tmp_path / "evil.pt", marker)
    proc = _safevla("export", "--checkpoint", str(evil), "--out", str(tmp_path / "b"))
    _one_line_error(proc, "refused to load checkpoint")
    assert not marker.exists()


def test_resume_refuses_a_crafted_checkpoint_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    _evil_checkpoint(run / "checkpoint.pt", marker)
    proc = _safevla("train", "ppo", "--resume", "--out", str(run), "--no-progress")
    _one_line_error(proc, "refused to load checkpoint")
    assert not marker.exists()


def test_bc_refuses_a_crafted_demo_cache_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    demos = tmp_path / "demos.pt"
    torch.save({"kind": "demos", "demos": [Payload(marker)]}, demos)
    proc = _safevla(
        "train", "bc", "--out", str(tmp_path / "bc"), "--demos", str(demos), "--no-progress"
    )
    _one_line_error(proc, "refused to load demonstration file")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("env.tasks=[nope]", "env.tasks=['nope']: unknown ['nope']"),
        ("env.tasks=nope", "env.tasks"),
    ],
)
def test_bad_task_in_a_training_override_is_one_line(tmp_path, override, needle):
    proc = _safevla("train", "bc", "--out", str(tmp_path / "bc"), "--set", override)
    _one_line_error(proc, needle)


def test_keygen_export_sign_and_verify_end_to_end(checkpoint, tmp_path):
    prefix = tmp_path / "keys" / "fleet"
    assert _safevla("keygen", "--out", str(prefix)).returncode == 0
    private, public = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    again = _safevla("keygen", "--out", str(prefix))
    _one_line_error(again, "never overwritten")

    signed, unsigned = tmp_path / "signed", tmp_path / "unsigned"
    for out, extra in ((signed, ["--sign-key", str(private)]), (unsigned, [])):
        proc = _safevla("export", "--checkpoint", str(checkpoint), "--out", str(out), *extra)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert load_bundle(signed, verify_key=public).name == "signed"

    common = ["eval", "--no-progress", "--count", "1", "--max-steps", "3", "--bootstrap", "0"]
    ok = _safevla(*common, "--bundle", str(signed), "--verify-key", str(public))
    assert ok.returncode == 0, ok.stderr[-2000:]
    refused = _safevla(*common, "--bundle", str(unsigned), "--verify-key", str(public))
    _one_line_error(refused, "bundle is not signed")

    bad_key = _safevla(
        "export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "x"),
        "--sign-key", str(public),
    )  # fmt: skip
    _one_line_error(bad_key, "not an unencrypted PEM private key")


def test_eval_refuses_unwritable_outputs_before_any_episode(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    common = ["eval", "--no-progress", "--bundle", "random", "--count", "1"]
    _one_line_error(_safevla(*common, "--json", str(blocker / "r.json")), "--json")
    _one_line_error(_safevla(*common, "--json", str(tmp_path)), "is a folder")
    _one_line_error(_safevla(*common, "--report", str(blocker)), "is a file, not a folder")
    assert blocker.read_text() == ""


def test_eval_writes_each_episode_as_it_finishes(tmp_path):
    """An interrupted run keeps the episodes it finished in <json>.partial.jsonl."""
    from safevla_eval.report import ResultsWriter
    from safevla_eval.suite import EvalConfig, evaluate

    out = tmp_path / "results.json"
    cfg = EvalConfig(["random"], count=3, max_steps=3, bootstrap_samples=0)
    writer = ResultsWriter(out, cfg.to_dict())
    finished = []

    def stop_after_two(n: int) -> None:
        finished.append(n)
        if len(finished) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(cfg, progress=stop_after_two, on_record=writer.record)
    writer.close()
    lines = [json.loads(x) for x in (tmp_path / "results.partial.jsonl").read_text().splitlines()]
    assert lines[0]["config"]["policies"] == ["random"]
    assert [ln["bundle"] for ln in lines[1:]] == ["random", "random"]
    assert all(ln["record"]["length"] <= 3 for ln in lines[1:])
    assert not out.exists()


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["env", "model", "tasks", "lr", "x"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    doc=st.one_of(yaml_values, st.text(max_size=60)),
    dotted=st.lists(st.text(max_size=25), max_size=2),
    ppo=st.booleans(),
)
def test_any_config_file_or_override_is_applied_or_a_user_error(tmp_path, doc, dotted, ppo):
    path = tmp_path / "cfg.yaml"
    if isinstance(doc, str):
        path.write_text(doc)
    else:
        path.write_text(yaml.safe_dump(doc))
    args = argparse.Namespace(config=str(path), set=dotted)
    try:
        resolve_config(PPOConfig() if ppo else BCConfig(), args)
    except UserError as exc:
        assert str(exc).startswith("bad config")
