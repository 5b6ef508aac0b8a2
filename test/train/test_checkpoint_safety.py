"""Checkpoints and demonstration caches load with ``weights_only=True`` only: a crafted pickle
is refused before its code runs, damage is a CheckpointError, and what the trainer saves still
round-trips exactly (RNG states included)."""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safevla_train.checkpoint import (
    CheckpointError,
    capture_rng,
    load_checkpoint,
    load_demos,
    restore_rng,
    save_checkpoint,
    save_demos,
    to_plain,
)


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil(path: Path, marker: Path, top: dict | None = None) -> Path:
    payload = {"kind": "bc", "config": {}, "model_config": {}, "model": Payload(marker)}
    torch.save({**payload, **(top or {})}, path)
    return path


def test_payload_proves_it_would_run(tmp_path):
    """The crafted file is real: a plain unpickle executes it (what the old code did)."""
    marker = tmp_path / "ran"
    torch.load(_evil(tmp_path / "evil.pt", marker), weights_only=False)
    assert marker.exists()


def test_crafted_checkpoint_is_refused_without_running_its_code(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(CheckpointError, match=r"refused .* names posix\.system"):
        load_checkpoint(_evil(tmp_path / "evil.pt", marker))
    assert not marker.exists()


def test_crafted_demo_cache_is_refused_without_running_its_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "demos.pt"
    torch.save({"kind": "demos", "demos": [Payload(marker)]}, path)
    with pytest.raises(CheckpointError, match="refused to load demonstration file"):
        load_demos(path)
    assert not marker.exists()


def test_saved_rng_states_resume_every_generator_exactly(tmp_path):
    gen = np.random.default_rng(7)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    payload = {
        "kind": "ppo",
        "config": {"lr": np.float32(0.5)},
        "model_config": {},
        "model": {"w": torch.ones(2)},
        "rng": capture_rng(gen),
        "arrays": {"a": np.arange(3)},
    }
    save_checkpoint(tmp_path / "c.pt", payload)
    before = (random.random(), np.random.rand(), torch.rand(1).item(), gen.random())
    ckpt = load_checkpoint(tmp_path / "c.pt")
    restore_rng(ckpt["rng"], gen)
    after = (random.random(), np.random.rand(), torch.rand(1).item(), gen.random())
    assert before == after
    assert ckpt["config"]["lr"] == 0.5 and torch.equal(ckpt["arrays"]["a"], torch.arange(3))


def test_checkpoints_of_the_old_format_with_numpy_arrays_still_load(tmp_path):
    old = {
        "kind": "bc",
        "config": {"x": np.float64(1.5)},
        "model_config": {},
        "model": {},
        "rng": {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "np_gen": None,
        },
    }
    torch.save(old, tmp_path / "old.pt")
    ckpt = load_checkpoint(tmp_path / "old.pt")
    restore_rng(ckpt["rng"])
    assert ckpt["config"]["x"] == 1.5


def test_only_plain_data_is_saved():
    with pytest.raises(TypeError, match=r"checkpoint\['bad'\] is a Payload"):
        to_plain({"bad": Payload(Path("x"))})


def test_wrong_content_is_named(tmp_path):
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a safevla checkpoint"):
        load_checkpoint(tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a demonstration file"):
        load_demos(tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_demos_round_trip_as_plain_data(tmp_path):
    from safevla_train.bc import Demo

    rng = np.random.default_rng(0)
    demo = Demo(
        frames=rng.integers(0, 255, (3, 8, 8, 3), dtype=np.uint8),
        instr=rng.normal(size=384).astype(np.float32),
        actions=np.array([1, 2, 3]),
        prev_action=np.array([20, 1, 2]),
        holding=np.zeros(3, np.float32),
        ret_r=np.ones(3, np.float32),
        ret_c=np.zeros(3, np.float32),
        y_q=np.zeros((3, 5), np.float32),
        success=True,
        cost=0.0,
    )
    save_demos([demo], tmp_path / "demos.pt")
    (back,) = load_demos(tmp_path / "demos.pt")
    assert back.success is True and back.cost == 0.0
    for f in dataclasses.fields(Demo):
        want, got = getattr(demo, f.name), getattr(back, f.name)
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want), f.name
        else:
            assert got == want, f.name


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=400), cut=st.integers(min_value=0, max_value=2000))
def test_random_and_truncated_files_are_checkpoint_errors(tmp_path, data, cut):
    path = tmp_path / "fuzz.pt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    good = tmp_path / "good.pt"
    if not good.exists():
        save_checkpoint(good, {"kind": "bc", "config": {}, "model_config": {}, "model": {}})
    whole = good.read_bytes()
    path.write_bytes(whole[: cut % len(whole)])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
