"""The safety critic network, its training, and its export as a critic bundle.

``SafetyCriticNet``: the last T frames, stacked on the channel axis, through a small CNN
(stride-2 3x3 convolutions), and an embedding of each of the T previously executed actions,
into an MLP that outputs one logit per (action, category): ``[B, T, 3, H, W] + [B, T] ->
[B, A, C]``. Trained with binary cross-entropy against the action probe's 0/1 cost events. It
shares no weights with the policy (:mod:`safevla_train.model`): the point is a second opinion
whose errors are not the policy's errors. No instruction input: a cost event depends on the
scene and the motion, not on what the robot was asked to fetch.

Frames enter in the runtime's normalisation (:func:`safevla_core.image_preprocessing.
preprocess_rgb` on the stored uint8 frames, the call :class:`safevla_core.safety_critic.
SafetyCritic` makes), and the exported graph ends in a sigmoid, so its output is the risk the
calibrated thresholds are compared with.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from safevla_core.actions import ACTION_NAMES, NUM_ACTIONS
from safevla_core.bundle_manifest import ONNX_OPSET
from safevla_core.critic_bundle import (
    CRITIC_GRAPH,
    CRITIC_INPUTS,
    CRITIC_OUTPUTS,
    PREV_ACTION_NONE,
    CriticManifest,
    sign_critic_bundle,
    write_critic_bundle,
)
from safevla_core.image_preprocessing import preprocess_rgb
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.critic_config import CriticConfig
from safevla_train.export import staged_dir

OPSET = ONNX_OPSET
N_CAT = len(SAFETY_SPEC.categories)


class SafetyCriticNet(nn.Module):
    """Frames + previous actions -> per-action, per-category cost-event logits."""

    def __init__(self, cfg: CriticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers, c_in = [], 3 * cfg.history_length
        for c in cfg.cnn_channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GELU()]
            c_in = c
        self.cnn = nn.Sequential(*layers, nn.Flatten())
        cells = (cfg.image_height * cfg.image_width) >> (2 * len(cfg.cnn_channels))
        self.actions = nn.Embedding(PREV_ACTION_NONE + 1, cfg.action_embed)
        width = c_in * cells + cfg.history_length * cfg.action_embed
        self.head = nn.Sequential(
            nn.Linear(width, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, NUM_ACTIONS * N_CAT)
        )

    def forward(self, frames: torch.Tensor, prev_actions: torch.Tensor) -> torch.Tensor:
        b = frames.shape[0]
        x = self.cnn(frames.reshape(b, -1, frames.shape[-2], frames.shape[-1]))
        a = self.actions(prev_actions).reshape(b, -1)
        return self.head(torch.cat([x, a], dim=1)).reshape(b, NUM_ACTIONS, N_CAT)


class _RiskGraph(nn.Module):
    """What is exported: the net with a sigmoid, so the graph outputs risks in [0, 1]."""

    def __init__(self, net: SafetyCriticNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, frames: torch.Tensor, prev_actions: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(frames, prev_actions))


def batch_inputs(data: dict, rows: np.ndarray, cfg: CriticConfig) -> tuple[torch.Tensor, ...]:
    """(frames [B, T, 3, H, W], prev_actions [B, T]) of the states ``rows``, normalised by
    the runtime's own :func:`preprocess_rgb`."""
    spec = cfg.image_spec()
    frames = data["frames"]
    x = np.stack([[preprocess_rgb(frames[i], spec) for i in h] for h in data["history"][rows]])
    return torch.from_numpy(x), torch.from_numpy(data["prev_actions"][rows])


def train_critic(net: SafetyCriticNet, data: dict, cfg: CriticConfig, log=print) -> dict:
    """BCE on the train split; returns final scalars (loss, seconds)."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rows = np.flatnonzero(data["split"] == 0)
    if rows.size == 0:
        raise ValueError("the train split is empty: collect more states (critic.states)")
    rng = np.random.default_rng([cfg.seed, 17])
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    loss_fn, t0, avg = nn.BCEWithLogitsLoss(), time.perf_counter(), None
    net.train()
    for step in range(1, cfg.steps + 1):
        batch = rng.choice(rows, size=min(cfg.batch_size, rows.size), replace=False)
        frames, prev = batch_inputs(data, batch, cfg)
        y = torch.from_numpy(data["labels"][batch].astype(np.float32))
        loss = loss_fn(net(frames, prev), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        avg = loss.item() if avg is None else 0.95 * avg + 0.05 * loss.item()
        if step % cfg.log_every == 0 or step == cfg.steps:
            log(f"train: step {step}/{cfg.steps} bce {avg:.4f} ({time.perf_counter() - t0:.0f} s)")
    net.eval()
    return {"train/bce": avg, "train/seconds": time.perf_counter() - t0}


@torch.no_grad()
def predict(net: SafetyCriticNet, data: dict, rows: np.ndarray, cfg: CriticConfig) -> np.ndarray:
    """(len(rows), A, C) risks of the states ``rows``."""
    net.eval()
    out = [np.zeros((0, NUM_ACTIONS, N_CAT), np.float32)]
    for i in range(0, rows.size, 256):
        frames, prev = batch_inputs(data, rows[i : i + 256], cfg)
        out.append(torch.sigmoid(net(frames, prev)).numpy())
    return np.concatenate(out)


def _example(cfg: CriticConfig, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = cfg.history_length
    return (
        torch.randn(batch, t, 3, cfg.image_height, cfg.image_width, generator=g),
        torch.randint(0, PREV_ACTION_NONE + 1, (batch, t), generator=g),
    )


def export_critic(
    net: SafetyCriticNet,
    out_dir: str | Path,
    name: str,
    calibration: list,
    label: dict,
    training: dict | None = None,
    tolerance: float = 1e-4,
    sign_key: str | Path | None = None,
) -> CriticManifest:
    """Write the critic bundle ``out_dir`` (replaced atomically): ONNX graph (dynamic batch,
    checked against torch) + critic.json. ``calibration``: the per-category
    :class:`safevla_core.conformal.CategoryCalibration` reports. ``sign_key``: an Ed25519
    private key (PEM) to sign critic.json with (``critic.json.sig``). Returns the manifest."""
    import onnxruntime as ort

    for noisy in ("onnxscript", "onnx_ir"):  # one INFO line per graph pass otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cfg, graph = net.cfg, _RiskGraph(net).eval()
    with staged_dir(out_dir, ".critic-") as tmp:
        batch = torch.export.Dim("batch", min=1, max=1024)
        with torch.no_grad():
            prog = torch.onnx.export(
                graph,
                _example(cfg, 2, 0),
                input_names=list(CRITIC_INPUTS),
                output_names=list(CRITIC_OUTPUTS),
                dynamic_shapes={n: {0: batch} for n in CRITIC_INPUTS},
                dynamo=True,
                opset_version=OPSET,
                external_data=False,
                verbose=False,
            )
        prog.save(str(tmp / CRITIC_GRAPH))
        inputs = _example(cfg, 3, 1)
        sess = ort.InferenceSession(str(tmp / CRITIC_GRAPH), providers=["CPUExecutionProvider"])
        (got,) = sess.run(
            list(CRITIC_OUTPUTS), {n: t.numpy() for n, t in zip(CRITIC_INPUTS, inputs)}
        )
        with torch.no_grad():
            diff = float(np.max(np.abs(got - graph(*inputs).numpy())))
        if not diff < tolerance:
            raise RuntimeError(f"critic ONNX differs from torch by {diff:.3g} >= {tolerance}")
        manifest = CriticManifest(
            name=name,
            actions=ACTION_NAMES,
            categories=SAFETY_SPEC.categories,
            safety_spec_version=SAFETY_SPEC.version,
            image=cfg.image_spec(),
            history_length=cfg.history_length,
            prev_action_none=PREV_ACTION_NONE,
            label=label,
            alpha=float(cfg.alpha),
            thresholds={c.category: c.threshold for c in calibration},
            calibration={c.category: c.to_dict() for c in calibration},
            graph_file=CRITIC_GRAPH,
            opset=OPSET,
            training={**(training or {}), "export_parity_max_abs_diff": diff},
            created_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )
        write_critic_bundle(tmp, manifest)
        if sign_key is not None:
            sign_critic_bundle(tmp, sign_key)
    return manifest
