"""Export a trained policy as a model bundle (format: docs/bundle.md).

The step graph (:meth:`safevla_train.model.VLAPolicy.forward`) is exported with the dynamo ONNX
exporter with a dynamic batch dimension, checked against torch on random inputs (max abs
difference of every output < ``tolerance``), and written with bundle.json through
:func:`safevla_core.bundle.write_bundle`, which hashes every file. With a signing key, the
finished bundle.json is signed (``bundle.json.sig``, :mod:`safevla_core.signing`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from safevla_core.actions import ACTIONS, BUMP_FIELDS, EXPLORED_SHAPE, PROPRIO_FIELDS
from safevla_core.bundle import write_bundle
from safevla_core.bundle_manifest import (
    GRAPH_INPUTS,
    GRAPH_OUTPUTS,
    ONNX_OPSET,
    POLICY_GRAPH,
    ActionEntry,
    BundleManifest,
    CostQSpec,
    CostSpec,
    EncoderSpec,
    GraphSpec,
    HistorySpec,
    RenderSpec,
    TensorSpec,
)
from safevla_core.instruction_encoder import ENCODER_DIM, ENCODER_NAME, ENCODER_PACKAGE
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_core.signing import sign_manifest
from safevla_train.config import ModelConfig, to_dict
from safevla_train.model import VLAPolicy, optional_inputs
from safevla_train.rollout import image_spec_of

OPSET = ONNX_OPSET


class ExportError(Exception):
    """Export failed (e.g. ONNX and torch disagree); the message says by how much."""


def input_names(cfg: ModelConfig) -> tuple[str, ...]:
    """The step graph's input names: :data:`GRAPH_INPUTS`, then the optional inputs the model
    takes (:func:`safevla_train.model.optional_inputs`)."""
    return (*GRAPH_INPUTS, *optional_inputs(cfg))


def example_inputs(cfg: ModelConfig, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the step graph, in :func:`input_names` order."""
    g = torch.Generator().manual_seed(seed)
    k1 = cfg.context_length - 1
    inputs = (
        torch.randn(batch, 3, cfg.image_height, cfg.image_width, generator=g),
        torch.randn(batch, cfg.instruction_dim, generator=g),
        torch.randint(0, cfg.num_actions + 1, (batch,), generator=g),
        torch.randint(0, 2, (batch,), generator=g).float(),
        torch.randn(cfg.num_layers, batch, k1, cfg.d_model, generator=g),
        torch.randint(0, 2, (batch, k1), generator=g).float(),
    )
    if cfg.bump_input:
        inputs += (torch.randint(0, 2, (batch, len(BUMP_FIELDS)), generator=g).float(),)
    if cfg.proprio_input:
        inputs += (torch.rand(batch, len(PROPRIO_FIELDS), generator=g),)
    if cfg.explored_input:
        inputs += (torch.rand(batch, *EXPLORED_SHAPE, generator=g),)
    return inputs


def export_onnx(model: VLAPolicy, path: str | Path) -> None:
    """Write the step graph of ``model`` to ``path`` (opset 18, dynamic batch)."""
    model = model.eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    # the batch axis of each input, where its manifest shape says "batch" (by position: the
    # optional inputs are the step graph's extra_1 / extra_2 arguments)
    dynamic = tuple({t.shape.index("batch"): batch} for t in _graph_io(model.cfg)[0])
    with torch.no_grad():
        prog = torch.onnx.export(
            model,
            example_inputs(model.cfg),
            input_names=list(input_names(model.cfg)),
            output_names=list(GRAPH_OUTPUTS),
            dynamic_shapes=dynamic,
            dynamo=True,
            opset_version=OPSET,
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
    feed = {n: t.numpy() for n, t in zip(input_names(model.cfg), inputs, strict=True)}
    got = sess.run(list(GRAPH_OUTPUTS), feed)
    with torch.no_grad():
        want = model(*inputs)
    return {
        n: float(np.max(np.abs(g - w.numpy()))) if g.size else 0.0
        for n, g, w in zip(GRAPH_OUTPUTS, got, want)
    }


def build_manifest(
    model: VLAPolicy,
    name: str,
    training: dict | None = None,
    evaluation: dict | None = None,
    cost_q_gamma: float = 0.0,
    render_size: tuple[int, int] | None = None,
) -> BundleManifest:
    """The bundle's manifest (without ``files``, which :func:`write_bundle` adds).

    ``render_size`` (H, W) defaults to the training config's ``env.nav_size`` when ``training``
    records one; without either the bundle has no render entry.
    """
    cfg = model.cfg
    training = training or {}
    manifest = BundleManifest(
        name=name,
        created_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        actions=tuple(ActionEntry(a.index, a.name, a.kind.value, a.magnitude) for a in ACTIONS),
        image=image_spec_of(model),
        instruction_encoder=EncoderSpec(ENCODER_NAME, ENCODER_PACKAGE, ENCODER_DIM, True),
        history=_history_spec(cfg),
        cost=CostSpec(
            categories=SAFETY_SPEC.categories,
            safety_spec=SAFETY_SPEC,
            cost_q=CostQSpec(
                output="cost_q",
                shape=("batch", cfg.num_actions, cfg.num_cost_categories),
                target="per-category discounted cost-to-go of taking action a in s: "
                "Q_c(s,a,k) = E[sum_i gamma^i c_{t+i,k} | s_t=s, a_t=a]",
                gamma=float(cost_q_gamma),
                units="expected (discounted) number of cost events",
            ),
        ),
        graph=GraphSpec(POLICY_GRAPH, OPSET, *_graph_io(cfg)),
        model=to_dict(cfg),
        training=training,
        evaluation=evaluation or {},
    )
    size = render_size or manifest.render_size  # the training config's, if it records one
    if size is None:
        return manifest
    render = RenderSpec(manifest.image.camera, int(size[0]), int(size[1]))
    return dataclasses.replace(manifest, render=render)


def _history_spec(cfg: ModelConfig) -> HistorySpec:
    return HistorySpec(
        kind="layer_cache",
        context_length=cfg.context_length,
        num_layers=cfg.num_layers,
        d_model=cfg.d_model,
        cache_shape=(cfg.num_layers, "batch", cfg.context_length - 1, cfg.d_model),
        how_to_feed="start an episode with cache=0 and cache_mask=0; after each step feed "
        "cache_out/cache_mask_out back as cache/cache_mask and the executed action as "
        f"prev_action ({cfg.num_actions} = none, at episode start)",
        prev_action_none=cfg.num_actions,
    )


def _graph_io(cfg: ModelConfig) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """Inputs and outputs of the step graph, named by the format's constants (in order)."""
    k1, a, c = cfg.context_length - 1, cfg.num_actions, cfg.num_cost_categories
    cache = ("float32", (cfg.num_layers, "batch", k1, cfg.d_model))
    ins = (
        ("float32", ("batch", 3, cfg.image_height, cfg.image_width)),
        ("float32", ("batch", cfg.instruction_dim)),
        ("int64", ("batch",)),
        ("float32", ("batch",)),
        cache,
        ("float32", ("batch", k1)),
    )
    if cfg.bump_input:
        ins += (("float32", ("batch", len(BUMP_FIELDS))),)
    if cfg.proprio_input:
        ins += (("float32", ("batch", len(PROPRIO_FIELDS))),)
    if cfg.explored_input:
        ins += (("float32", ("batch", *EXPLORED_SHAPE)),)
    outs = (
        ("float32", ("batch", a)),
        ("float32", ("batch", a)),
        ("float32", ("batch",)),
        ("float32", ("batch",)),
        ("float32", ("batch", a, c)),
        cache,
        ("float32", ("batch", k1)),
    )
    return (
        tuple(TensorSpec(n, d, s) for n, (d, s) in zip(input_names(cfg), ins, strict=True)),
        tuple(TensorSpec(n, d, s) for n, (d, s) in zip(GRAPH_OUTPUTS, outs, strict=True)),
    )


def export_bundle(
    model: VLAPolicy,
    out_dir: str | Path,
    name: str,
    training: dict | None = None,
    evaluation: dict | None = None,
    cost_q_gamma: float = 0.0,
    tolerance: float = 1e-4,
    extra_files: dict[str, str | Path] | None = None,
    render_size: tuple[int, int] | None = None,
    sign_key: str | Path | None = None,
) -> dict[str, float]:
    """Export ``model`` to a bundle folder ``out_dir`` (replaced atomically if it exists).

    ``render_size`` (H, W): the frame size the policy was trained on (see
    :func:`build_manifest`; default: the training config's ``env.nav_size``). ``sign_key``: an
    Ed25519 private key (PEM) to sign bundle.json with.

    Returns:
        the parity report (max abs diff per output).

    Raises:
        ExportError: if any output differs from torch by more than ``tolerance``.
    """
    with staged_dir(out_dir, ".export-") as tmp:
        export_onnx(model, tmp / POLICY_GRAPH)
        parity = onnx_parity(model, tmp / POLICY_GRAPH)
        worst = max(parity.values())
        if not worst < tolerance:
            raise ExportError(f"ONNX differs from torch by {worst:.3g} >= {tolerance}: {parity}")
        for rel, src in (extra_files or {}).items():
            shutil.copyfile(src, tmp / rel)
        manifest = build_manifest(model, name, training, evaluation, cost_q_gamma, render_size)
        manifest = dataclasses.replace(manifest, export_parity_max_abs_diff=parity)
        write_bundle(tmp, manifest)
        if sign_key is not None:
            sign_manifest(tmp, sign_key)
    return parity


@contextlib.contextmanager
def staged_dir(out_dir: str | Path, prefix: str) -> Iterator[Path]:
    """A bundle folder written whole or not at all: files go into a fresh folder beside
    ``out_dir``, which replaces ``out_dir`` only when the block ends without an error (a failed
    export leaves the old bundle and no partial one)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
