"""Checkpoints: everything needed to continue a run exactly.

A checkpoint is one ``torch.save`` file holding: ``kind`` ("bc" or the PPO algo), ``config`` (the
resolved config dict), ``model_config``, ``model`` (state dict), ``algo`` (optimiser state and,
for PPO-Lagrangian, lambda with its Adam state), ``samplers`` (risk pools), ``collector``
(episode counter and action-sampling generator), ``rng`` (python, numpy global, torch global and
the trainer's numpy generator) and ``counters`` (iteration, env steps). Writes are atomic
(temporary file, then rename) so a crash never leaves a truncated checkpoint.

Only plain data is saved (tensors, numbers, strings, None, lists, tuples, dicts; numpy arrays
become tensors) and every load is ``torch.load(..., weights_only=True)``: a ``.pt`` file is a
pickle, and a full unpickle runs whatever code the file names. A file that needs anything else
is refused with :class:`CheckpointError` before any of it runs. Checkpoints written before this
rule held numpy arrays; their reconstruction (arrays and dtypes only, no code) is still allowed.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import random
import re
from pathlib import Path

import numpy as np
import torch

from safevla_train.config import ModelConfig, from_dict
from safevla_train.model import VLAPolicy


class CheckpointError(Exception):
    """A checkpoint is missing or unreadable; the message names the file and the fix."""


def capture_rng(np_gen: np.random.Generator | None = None) -> dict:
    """Snapshot of every random generator the trainer uses (plain data: the numpy global
    state's key array is saved as a tensor)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
        "np_gen": None if np_gen is None else np_gen.bit_generator.state,
    }


def restore_rng(state: dict, np_gen: np.random.Generator | None = None) -> None:
    """Inverse of :func:`capture_rng` (also reads the numpy arrays of older checkpoints)."""
    random.setstate(_as_tuples(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    np.random.set_state((kind, keys.astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if np_gen is not None and state.get("np_gen") is not None:
        np_gen.bit_generator.state = state["np_gen"]


def _as_tuples(value):
    """``random.setstate`` needs tuples where a round trip may give lists."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuples(v) for v in value)
    return value


def to_plain(value, where: str = "checkpoint"):
    """``value`` as data that ``torch.load(weights_only=True)`` reads back: numpy arrays become
    tensors, numpy scalars Python numbers.

    Raises:
        TypeError: any other object, naming where it sits (a bug in what the caller saves).
    """
    if isinstance(value, torch.Tensor | str | bytes | bool | int | float | type(None)):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((k, to_plain(v, f"{where}[{k!r}]")) for k, v in value.items())
    if isinstance(value, list | tuple):
        return type(value)(to_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoints hold only tensors and plain data"
    )


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Atomically write ``payload`` (converted by :func:`to_plain`) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(to_plain(payload), tmp)
    os.replace(tmp, path)
    return path


# Older checkpoints stored numpy arrays and scalars; rebuilding them names only these
# constructors of arrays, scalars and dtypes (no code of the file's choosing runs).
_NUMPY_CORE = getattr(np, "_core", None) or np.core  # numpy 2 renamed it
_NUMPY_GLOBALS = [
    _NUMPY_CORE.multiarray._reconstruct,
    _NUMPY_CORE.multiarray.scalar,
    np.ndarray,
    np.dtype,
    *(type(np.dtype(t)) for t in ("bool", "uint8", "uint32", "int32", "int64", "float32")),
    type(np.dtype("float64")),
]
REQUIRED_KEYS = ("kind", "config", "model_config", "model")


def safe_load(path: str | os.PathLike, what: str = "checkpoint"):
    """``torch.load`` of ``path`` with ``weights_only=True`` (tensors and plain data only).

    Raises:
        CheckpointError: missing, unreadable, damaged, or needing code to load (refused
            before any of it runs).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{what} {str(path)!r} does not exist; pass a .pt file written by "
            "`safevla train` (e.g. runs/<name>/checkpoint.pt)"
        )
    try:
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"(?:GLOBAL|global:) ?([\w.]+)", str(exc))
        if found is None:  # not a refused object: the byte stream itself is broken
            raise CheckpointError(
                f"cannot read {what} {path}: not a valid torch file (damaged or truncated); "
                "use one written by `safevla train`"
            ) from None
        raise CheckpointError(
            f"refused to load {what} {path}: it names {found.group(1)}, which is neither a "
            "tensor nor plain data, and loading it could run code; use a file written by "
            "`safevla train`"
        ) from None
    except Exception as exc:  # torch raises many types for a damaged file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(
            f"cannot read {what} {path} ({type(exc).__name__}: {first}); it is damaged or not "
            "a torch file - use one written by `safevla train`"
        ) from None


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises:
        CheckpointError: missing, unreadable or damaged file; one that would need code to
            load; or one without the keys every checkpoint has.
    """
    ckpt = safe_load(path)
    if not isinstance(ckpt, dict) or not all(k in ckpt for k in REQUIRED_KEYS):
        have = sorted(map(str, ckpt))[:10] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"{path} is not a safevla checkpoint (needs keys {list(REQUIRED_KEYS)}, has "
            f"{have}); pass a checkpoint.pt written by `safevla train`"
        )
    return ckpt


def save_demos(demos: list, path: str | os.PathLike) -> Path:
    """Write behaviour-cloning demonstrations (:class:`safevla_train.bc.Demo`) as plain data:
    one dict of tensors and numbers per episode."""
    rows = [{f.name: getattr(d, f.name) for f in dataclasses.fields(d)} for d in demos]
    return save_checkpoint(path, {"kind": "demos", "demos": rows})


def load_demos(path: str | os.PathLike) -> list:
    """Inverse of :func:`save_demos` (``weights_only=True``).

    Raises:
        CheckpointError: unreadable, unsafe or not a demonstration file.
    """
    from safevla_train.bc import Demo

    data = safe_load(path, "demonstration file")
    if not isinstance(data, dict) or data.get("kind") != "demos":
        raise CheckpointError(
            f"{path} is not a demonstration file written by `safevla train bc --demos`; "
            "delete it to record new demonstrations"
        )
    names = {f.name for f in dataclasses.fields(Demo)}
    try:
        return [
            Demo(**{k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in row.items()})
            for row in data["demos"]
            if set(row) <= names
        ]
    except (TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path}: malformed demonstration record ({exc})") from None


def model_from_checkpoint(ckpt: dict) -> VLAPolicy:
    """Rebuild the model (architecture from the checkpoint's model config) with its weights.

    Raises:
        CheckpointError: the model config or the weights do not fit together.
    """
    try:
        # the detector's weights come with the state dict, not from its file
        model = VLAPolicy(from_dict(ModelConfig, ckpt["model_config"]), detector_weights=False)
        model.load_state_dict(ckpt["model"])
    except (ValueError, TypeError, RuntimeError, KeyError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(
            f"checkpoint model does not load ({first}); use a checkpoint written by "
            "`safevla train`"
        ) from None
    return model
