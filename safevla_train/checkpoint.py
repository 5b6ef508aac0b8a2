"""Checkpoints: everything needed to continue a run exactly.

A checkpoint is one ``torch.save`` file holding: ``kind`` ("bc" or the PPO algo), ``config`` (the
resolved config dict), ``model_config``, ``model`` (state dict), ``algo`` (optimiser state and,
for PPO-Lagrangian, lambda with its Adam state), ``samplers`` (risk pools), ``collector``
(episode counter and action-sampling generator), ``rng`` (python, numpy global, torch global and
the trainer's numpy generator) and ``counters`` (iteration, env steps). Writes are atomic
(temporary file, then rename) so a crash never leaves a truncated checkpoint.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from safevla_train.config import ModelConfig, from_dict
from safevla_train.model import VLAPolicy


class CheckpointError(Exception):
    """A checkpoint is missing or unreadable; the message names the file and the fix."""


def capture_rng(np_gen: np.random.Generator | None = None) -> dict:
    """Snapshot of every random generator the trainer uses."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "np_gen": None if np_gen is None else np_gen.bit_generator.state,
    }


def restore_rng(state: dict, np_gen: np.random.Generator | None = None) -> None:
    """Inverse of :func:`capture_rng`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if np_gen is not None and state.get("np_gen") is not None:
        np_gen.bit_generator.state = state["np_gen"]


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Atomically write ``payload`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not exist; pass a .pt file written by "
            "`safevla train` (e.g. runs/<name>/checkpoint.pt)"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None


def model_from_checkpoint(ckpt: dict) -> VLAPolicy:
    """Rebuild the model (architecture from the checkpoint's model config) with its weights."""
    model = VLAPolicy(from_dict(ModelConfig, ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    return model
