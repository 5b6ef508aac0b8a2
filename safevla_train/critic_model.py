"""The safety critic networks, their training, and their export as a critic bundle.

``SafetyCriticNet`` (``encoder="cnn"``): the last T frames, stacked on the channel axis,
through a small CNN (stride-2 3x3 convolutions), and an embedding of each of the T previously
executed actions, into an MLP that outputs one logit per (action, category):
``[B, T, 3, H, W] + [B, T] -> [B, A, C]``. With ``bump_input`` the motion feedback of the
action before each frame (``[B, T, 2]``, 0/1 blocked / collided) joins the head's input;
with ``scan_input`` the newest frame's range scan (``[B, SCAN_BEAMS]`` metres) does, through a
trained layer on the ranges and a near-field transform of them (``exp(-range / 0.25 m)``: the
head needs centimetres near the base and nothing beyond a metre), and with ``scan_branch`` also
through a hidden layer of its own whose logits add to the head's (a direct path for the
geometry of each motion against the ranges), and with ``footprint`` also through each motion's
swept clearance (:mod:`safevla_train.critic_footprint`, a fixed layer: the least distance from
a scan point to the base's footprint over the motion), both as head input and through a
trained per-(action, category) term on it that adds to the logits; with ``object_scan`` the
scan with the building's static structure removed (``[B, SCAN_BEAMS]``) does the same (its
embedding and its swept clearances), and the footprint floor reads its clearances; with
``proprio_input`` the arm's joint state at the newest frame (``[B, 2]``: lift height, arm
extension in metres) does, through a trained layer. Extra inputs follow the previous actions in
that order (bump, scan, object scan, proprio).
Trained with binary cross-entropy against the action probe's 0/1 cost events. It shares no
weights with the policy (:mod:`safevla_train.model`): the point is a second opinion whose
errors are not the policy's errors. No instruction input: a cost event depends on the scene and
the motion, not on what the robot was asked to fetch.

``FeatureCriticNet`` (``encoder="efficientnet_lite0"``): each frame through the frozen
ImageNet-pretrained backbone the policy also uses (its own copy: frozen pretrained weights are
not trained by either model), then a trained 1x1 convolution and linear layer per frame, the T
frame embeddings and action embeddings into the same MLP. Training computes every stored
frame's backbone map once (:class:`CriticInputs`); the export writes the backbone as its own
graph, which the runtime runs once per new frame, keeping the last T features.

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

from safevla_core.actions import (
    ACTION_NAMES,
    ACTIONS,
    BUMP_FIELDS,
    NUM_ACTIONS,
    PROPRIO_FIELDS,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
)
from safevla_core.bundle_manifest import ONNX_OPSET
from safevla_core.critic_bundle import (
    CRITIC_BUMP_INPUT,
    CRITIC_ENCODER_GRAPH,
    CRITIC_GRAPH,
    CRITIC_INPUTS,
    CRITIC_OBJECT_SCAN_INPUT,
    CRITIC_OUTPUTS,
    CRITIC_PROPRIO_INPUT,
    CRITIC_SCAN_INPUT,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    FEATURE_CRITIC_INPUTS,
    PREV_ACTION_NONE,
    CriticManifest,
    sign_critic_bundle,
    write_critic_bundle,
)
from safevla_core.image_preprocessing import preprocess_rgb
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_footprint import SweptClearance
from safevla_train.export import staged_dir
from safevla_train.onnx_encoder import OnnxEncoder, batch_onnx
from safevla_train.pretrained import BACKBONE_CHANNELS, FrozenBackbone

OPSET = ONNX_OPSET
N_CAT = len(SAFETY_SPEC.categories)


class SafetyCriticNet(nn.Module):
    """Frames + previous actions -> per-action, per-category cost-event logits."""

    def __init__(self, cfg: CriticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers, c_in = [], 3 * cfg.frames_read
        for c in cfg.cnn_channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GELU()]
            c_in = c
        self.cnn = nn.Sequential(*layers, nn.Flatten()) if cfg.frames_read else None
        cells = (cfg.image_height * cfg.image_width) >> (2 * len(cfg.cnn_channels))
        cells *= bool(cfg.frames_read)
        self.actions = nn.Embedding(PREV_ACTION_NONE + 1, cfg.action_embed)
        self.extras = ExtraInputs(cfg)
        width = c_in * cells + cfg.history_length * cfg.action_embed + self.extras.width
        self.head = nn.Sequential(
            nn.Linear(width, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, NUM_ACTIONS * N_CAT)
        )

    def forward(
        self,
        frames: torch.Tensor,
        prev_actions: torch.Tensor,
        *extra: torch.Tensor,
        clear: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``clear``: the swept clearances of ``extra`` if the caller has them
        (:meth:`ExtraInputs.clearance`), else computed here."""
        b, f = frames.shape[0], self.cfg.frames_read
        a = self.actions(prev_actions).reshape(b, -1)
        x = a[:, :0]  # no frames read: nothing
        if f:
            frames = frames[:, -f:]
            x = self.cnn(frames.reshape(b, -1, frames.shape[-2], frames.shape[-1]))
        return self.extras.logits(self.head, torch.cat([x, a], dim=1), extra, clear)


SCAN_NEAR_M = 0.25  # scale of the near-field transform of the ranges
# scales (m) of the transforms exp(-clearance / scale) the footprint term reads; the head reads
# the middle one
CLEARANCE_SCALES_M = (0.01, 0.03, 0.1)
FLOOR_MIN_STATES = 50  # fewer training states with such a motion: no floor for it


class ExtraInputs(nn.Module):
    """The optional inputs after the previous actions, in graph order, as head-input parts:
    the T feedback flags (``bump_input``), an embedding of the range scan (``scan_input``), one
    of the object scan (``object_scan``) and one of the arm's joint state (``proprio_input``);
    with ``footprint`` also the swept clearances of each scan (``K`` = 1 or 2 scans)."""

    def __init__(self, cfg: CriticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        on = {
            "bump": cfg.bump_input,
            "scan": cfg.scan_input,
            "scan_objects": cfg.object_scan,
            "proprio": cfg.proprio_input,
        }
        self.names = tuple(name for name, flag in on.items() if flag)
        self.scans = tuple(n for n in self.names if n.startswith("scan"))  # clearance order
        self.width = cfg.history_length * len(BUMP_FIELDS) if cfg.bump_input else 0
        self.branch = None
        if cfg.scan_input:
            self.scan = nn.Sequential(nn.Linear(2 * SCAN_BEAMS, cfg.scan_embed), nn.GELU())
            self.width += cfg.scan_embed
            if cfg.scan_branch:
                self.branch = nn.Sequential(
                    nn.Linear(2 * SCAN_BEAMS, cfg.scan_branch),
                    nn.GELU(),
                    nn.Linear(cfg.scan_branch, NUM_ACTIONS * N_CAT),
                )
        self.swept = None
        if cfg.object_scan:
            self.scan_objects = nn.Sequential(nn.Linear(2 * SCAN_BEAMS, cfg.scan_embed), nn.GELU())
            self.width += cfg.scan_embed
        if cfg.scan_input and cfg.footprint:
            self.swept = SweptClearance()
            k = len(self.scans)
            self.width += NUM_ACTIONS * k
            self.register_buffer(
                "clear_scales", torch.tensor(CLEARANCE_SCALES_M), persistent=False
            )
            self.clear_w = nn.Parameter(
                torch.zeros(NUM_ACTIONS, N_CAT, k * len(CLEARANCE_SCALES_M))
            )
            # footprint_floor: set from the training split after training (fit_floor)
            self.register_buffer("floor", torch.zeros(NUM_ACTIONS, N_CAT), persistent=False)
        self.floor_on = False
        self.floor_clearance = cfg.floor_clearance_m
        if cfg.proprio_input:
            self.proprio = nn.Sequential(
                nn.Linear(len(PROPRIO_FIELDS), cfg.proprio_embed), nn.GELU()
            )
            self.width += cfg.proprio_embed

    def clearance(self, extra: tuple[torch.Tensor, ...]) -> torch.Tensor | None:
        """[B, A, K] swept clearance of each motion from each scan in ``extra`` (the range
        scan, then with ``object_scan`` the object scan; ``footprint``; None without it):
        computed once per forward and shared by the head input, the footprint term and the
        floor (which reads the last: the object scan's where there is one)."""
        self._check(extra)
        if self.swept is None:
            return None
        return torch.stack([self.swept(extra[self.names.index(n)]) for n in self.scans], -1)

    def _check(self, extra: tuple[torch.Tensor, ...]) -> None:
        if len(extra) != len(self.names):
            raise ValueError(
                f"this critic takes {list(self.names) or 'no'} inputs after the previous "
                f"actions, got {len(extra)}"
            )

    def logits(
        self,
        head: nn.Module,
        core: torch.Tensor,
        extra: tuple[torch.Tensor, ...],
        clear: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``head`` on ``core`` [B, W] (frames and previous actions) and these inputs' parts,
        plus the scan branch's (``scan_branch``) and the footprint term's (``footprint``)
        logits: [B, A, C]. ``clear``: :meth:`clearance` of ``extra`` if the caller has it."""
        self._check(extra)
        b = core.shape[0]
        feats = None  # [B, A, K, len(CLEARANCE_SCALES_M)]: exp(-clearance / scale)
        if self.swept is not None:
            clear = self.clearance(extra) if clear is None else clear
            feats = torch.exp(-clear[..., None] / self.clear_scales)
        parts = []
        for name, x in zip(self.names, extra):
            if name == "bump":
                parts.append(x.reshape(b, -1))
            elif name in self.scans:
                embed = self.scan if name == "scan" else self.scan_objects
                parts.append(embed(scan_features(x, b)))
                if feats is not None:
                    parts.append(feats[:, :, self.scans.index(name), 1])
            else:
                parts.append(self.proprio(x.reshape(b, len(PROPRIO_FIELDS))))
        logits = head(torch.cat([core, *parts], dim=1)).reshape(b, NUM_ACTIONS, N_CAT)
        if self.branch is not None:
            scan = extra[self.names.index("scan")]
            logits = logits + self.branch(scan_features(scan, b)).reshape(b, NUM_ACTIONS, N_CAT)
        if feats is not None:  # [B, A, 1, K * S] x [A, C, K * S] -> [B, A, C]
            logits = logits + (feats.reshape(b, NUM_ACTIONS, 1, -1) * self.clear_w).sum(-1)
        return logits

    def fit_floor(self, extra: tuple[torch.Tensor, ...], labels: np.ndarray) -> np.ndarray:
        """``footprint_floor``: per (base motion, category) the share of the given states
        (the training split's: their inputs after the previous actions, 0/1 labels
        [N, A, C]) in which the motion, swept clearance <= ``floor_clearance_m`` (in the object
        scan with ``object_scan``), caused an event; motions with fewer than FLOOR_MIN_STATES
        such states get none. Sets and returns it ([A, C])."""
        with torch.no_grad():
            hit = (self.clearance(extra)[..., -1] <= self.floor_clearance).numpy()
        floor = np.zeros((NUM_ACTIONS, N_CAT), np.float32)
        for a in range(NUM_ACTIONS):
            if ACTIONS[a].kind.name.startswith("BASE_") and hit[:, a].sum() >= FLOOR_MIN_STATES:
                floor[a] = labels[hit[:, a], a].mean(axis=0)
        self.floor = torch.from_numpy(floor)
        self.floor_on = bool(floor.any())  # known at export time: no branch on a tensor
        return floor

    def apply_floor(self, risk: torch.Tensor, clear: torch.Tensor | None) -> torch.Tensor:
        """``risk`` [B, A, C], raised to the floor for the motions that run into a scan point
        (``clear``: :meth:`clearance`, its last scan; unchanged without a fitted floor)."""
        if not self.floor_on:
            return risk
        hit = (clear[..., -1] <= self.floor_clearance).to(risk.dtype)[:, :, None]
        return torch.maximum(risk, hit * self.floor[None])


def scan_features(ranges: torch.Tensor, b: int) -> torch.Tensor:
    """[B, SCAN_BEAMS] ranges -> [B, 2 * SCAN_BEAMS]: scaled ranges and the near-field
    transform ``exp(-range / SCAN_NEAR_M)``."""
    r = ranges.reshape(b, SCAN_BEAMS).clamp(0.0, SCAN_RANGE_MAX_M)
    return torch.cat([r / SCAN_RANGE_MAX_M, torch.exp(-r / SCAN_NEAR_M)], dim=1)


class FeatureCriticNet(nn.Module):
    """Frozen backbone per frame + trained per-frame projection + MLP (module docstring)."""

    def __init__(self, cfg: CriticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.image_hw = (cfg.image_height, cfg.image_width)
        self.encoder = FrozenBackbone(self.image_hw, cfg.image_mean, cfg.image_std)
        self.map_hw = self.encoder.map_hw
        self.reduce = nn.Conv2d(BACKBONE_CHANNELS, cfg.feature_channels, 1)
        cells = self.map_hw[0] * self.map_hw[1]
        self.proj = nn.Linear(cfg.feature_channels * cells, cfg.frame_embed)
        self.drop = nn.Dropout(cfg.dropout)
        self.actions = nn.Embedding(PREV_ACTION_NONE + 1, cfg.action_embed)
        self.extras = ExtraInputs(cfg)
        width = (
            cfg.frames_read * cfg.frame_embed
            + cfg.history_length * cfg.action_embed
            + self.extras.width
        )
        self.head = nn.Sequential(
            nn.Linear(width, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, NUM_ACTIONS * N_CAT)
        )

    @property
    def feature_dim(self) -> int:
        return self.encoder.out_dim

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] normalised frames -> [N, D] frozen features."""
        return self.encoder(frames)

    def from_features(
        self,
        feats: torch.Tensor,
        prev_actions: torch.Tensor,
        *extra: torch.Tensor,
        clear: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[B, T, D] features + [B, T] actions [+ [B, T, 2] feedback] [+ [B, SCAN_BEAMS]
        ranges] [+ [B, 2] joint state] -> [B, A, C] logits (``clear``: as in
        :meth:`SafetyCriticNet.forward`)."""
        b, f = feats.shape[0], self.cfg.frames_read
        a = self.actions(prev_actions).reshape(b, -1)
        x = a[:, :0]  # no frames read: nothing
        if f:
            x = feats[:, -f:].reshape(b * f, BACKBONE_CHANNELS, *self.map_hw)
            x = torch.relu(self.reduce(x)).flatten(1)
            x = self.drop(nn.functional.gelu(self.proj(x))).reshape(b, -1)
        return self.extras.logits(self.head, torch.cat([x, a], dim=1), extra, clear)

    def forward(
        self, frames: torch.Tensor, prev_actions: torch.Tensor, *extra: torch.Tensor
    ) -> torch.Tensor:
        b, t = frames.shape[:2]
        feats = self.encode(frames.reshape(b * t, *frames.shape[2:])).reshape(b, t, -1)
        return self.from_features(feats, prev_actions, *extra)


def build_critic(cfg: CriticConfig) -> nn.Module:
    """The critic network ``cfg.encoder`` names."""
    return SafetyCriticNet(cfg) if cfg.encoder == "cnn" else FeatureCriticNet(cfg)


def _per_frame(data: dict, cfg: CriticConfig, key: str, setting: str, what: str):
    """``data[key]`` (a per-frame input) as a float32 tensor when ``cfg.<setting>`` is on,
    else None.

    Raises:
        ValueError: the setting is on and the data set lacks the input (collected before it
            was recorded).
    """
    if not getattr(cfg, setting):
        return None
    if key not in data:
        raise ValueError(
            f"critic.{setting}=true needs {what} of every stored frame ('{key}'), which this "
            "data set (or one of critic.extra_data) lacks: it was collected before that was "
            "recorded; collect it again"
        )
    return torch.from_numpy(data[key].astype(np.float32))


class CriticInputs:
    """The network inputs of stored states: normalised frames through the runtime's own
    :func:`preprocess_rgb`, or (``FeatureCriticNet``) the frozen features of every stored frame,
    computed once here and indexed per batch."""

    def __init__(self, net: nn.Module, data: dict, cfg: CriticConfig, log=None) -> None:
        self.data, self.spec = data, cfg.image_spec()
        self.history = data["history"][:, -cfg.history_length :].astype(np.int64)
        self.prev = torch.from_numpy(data["prev_actions"][:, -cfg.history_length :])
        self.bump = _per_frame(data, cfg, "frame_bump", "bump_input", "the motion feedback")
        self.scan = _per_frame(data, cfg, "frame_scan", "scan_input", "the range scan")
        self.scan_objects = _per_frame(
            data, cfg, "frame_scan_objects", "object_scan", "the object scan"
        )
        self.proprio = _per_frame(
            data, cfg, "frame_proprio", "proprio_input", "the arm's joint state"
        )
        self.features = None
        if isinstance(net, FeatureCriticNet):
            # ONNX Runtime: several times faster than torch here, and what the bundle runs
            encode = OnnxEncoder(net.encoder, net.image_hw, threads=torch.get_num_threads())
            t0, frames, out = time.perf_counter(), data["frames"], []
            with torch.no_grad():
                for i in range(0, len(frames), 256):
                    x = np.stack([preprocess_rgb(f, self.spec) for f in frames[i : i + 256]])
                    out.append(encode(torch.from_numpy(x)).to(torch.float16))
            self.features = torch.cat(out)
            if log is not None:
                secs = time.perf_counter() - t0
                log(f"features: {len(frames)} frames through the frozen encoder in {secs:.0f} s")

    def __call__(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        """(frames [B, T, 3, H, W] or features [B, T, D], prev_actions [B, T], *
        :meth:`extras`): the critic's inputs in the graph's order."""
        hist = self.history[rows]
        if self.features is not None:
            x = self.features[torch.from_numpy(hist)].float()
        else:
            frames = self.data["frames"]
            x = np.stack([[preprocess_rgb(frames[i], self.spec) for i in h] for h in hist])
            x = torch.from_numpy(x)
        return x, self.prev[rows], *self.extras(rows)

    def extras(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        """The optional inputs after the previous actions, in graph order: bump [B, T, 2],
        scan and object scan [B, SCAN_BEAMS] and proprio [B, 2] (the last three of the newest
        frame), those the critic takes."""
        index = torch.from_numpy(self.history[rows])
        extra = () if self.bump is None else (self.bump[index],)
        extra += () if self.scan is None else (self.scan[index[:, -1]],)
        extra += () if self.scan_objects is None else (self.scan_objects[index[:, -1]],)
        return extra + (() if self.proprio is None else (self.proprio[index[:, -1]],))


def _logits(net: nn.Module, *inputs: torch.Tensor, clear=None) -> torch.Tensor:
    """Logits of the critic's inputs (:class:`CriticInputs`: frames or frozen features;
    ``clear``: their swept clearances, if the caller has them)."""
    if isinstance(net, FeatureCriticNet):
        return net.from_features(*inputs, clear=clear)
    return net(*inputs, clear=clear)


def _risks(net: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """Risks [B, A, C] of the critic's inputs: the sigmoid of its logits, through the refit
    once one is attached (``net.refit``, :mod:`safevla_train.critic_refit`) and the floor
    once one is fitted (``footprint_floor``); the swept clearances are computed once."""
    clear = net.extras.clearance(inputs[2:])
    risk = torch.sigmoid(_logits(net, *inputs, clear=clear))
    refit = getattr(net, "refit", None)
    risk = risk if refit is None else refit(risk, inputs[2:])
    return net.extras.apply_floor(risk, clear)


class _RiskGraph(nn.Module):
    """What is exported: the net with a sigmoid, so the graph outputs risks in [0, 1] (from
    frames, or for a :class:`FeatureCriticNet` from the encoder's features)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(
        self,
        x: torch.Tensor,
        prev_actions: torch.Tensor,
        extra1: torch.Tensor | None = None,
        extra2: torch.Tensor | None = None,
        extra3: torch.Tensor | None = None,
        extra4: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``extra1``..``extra4``: the optional inputs in graph order (bump, scan, object
        scan, proprio); named parameters, not ``*args``, so that the ONNX export sees one
        tensor per input."""
        extra = tuple(e for e in (extra1, extra2, extra3, extra4) if e is not None)
        return _risks(self.net, x, prev_actions, *extra)


class _EncoderGraph(nn.Module):
    """The exported frame encoder of a :class:`FeatureCriticNet`: [B, 3, H, W] -> [B, D]."""

    def __init__(self, net: FeatureCriticNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        return self.net.encode(frame)


def train_critic(
    net: nn.Module, data: dict, cfg: CriticConfig, log=print, inputs: CriticInputs | None = None
) -> dict:
    """BCE on the train split; returns final scalars (loss, seconds)."""
    inputs = inputs or CriticInputs(net, data, cfg, log)
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
        y = torch.from_numpy(data["labels"][batch].astype(np.float32))
        loss = loss_fn(_logits(net, *inputs(batch)), y)
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
def predict(
    net: nn.Module,
    data: dict,
    rows: np.ndarray,
    cfg: CriticConfig,
    inputs: CriticInputs | None = None,
) -> np.ndarray:
    """(len(rows), A, C) risks of the states ``rows`` (through the net's refit, once one is
    attached: :mod:`safevla_train.critic_refit`)."""
    inputs = inputs or CriticInputs(net, data, cfg)
    net.eval()
    out = [np.zeros((0, NUM_ACTIONS, N_CAT), np.float32)]
    with torch.no_grad():
        for i in range(0, rows.size, 256):
            out.append(_risks(net, *inputs(rows[i : i + 256])).numpy())
    return np.concatenate(out)


def _parity(path: Path, graph: nn.Module, inputs: dict[str, torch.Tensor], output: str) -> float:
    """Max abs difference of the ONNX graph at ``path`` and ``graph`` on ``inputs``."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run([output], {n: t.numpy() for n, t in inputs.items()})
    with torch.no_grad():
        return float(np.max(np.abs(got - graph(*inputs.values()).numpy())))


def export_critic(
    net: nn.Module,
    out_dir: str | Path,
    name: str,
    calibration: list,
    label: dict,
    training: dict | None = None,
    tolerance: float = 1e-4,
    sign_key: str | Path | None = None,
    union=None,
    clear_pass_m: float = 0.0,
    clear_pass_quiet: int = 0,
    clear_pass_arm: bool = False,
) -> CriticManifest:
    """Write the critic bundle ``out_dir`` (replaced atomically): ONNX graph(s) (dynamic batch,
    each checked against torch; a :class:`FeatureCriticNet` also writes its encoder graph) +
    critic.json. ``calibration``: the per-category
    :class:`safevla_core.conformal.CategoryCalibration` reports; ``union``: the report of
    one threshold on any event (:func:`safevla_core.conformal.calibrate_any`), recorded as
    ``calibration["any"]`` with ``calibration_target = "any"``; None = per category.
    ``sign_key``: an Ed25519 private key (PEM) to sign critic.json with
    (``critic.json.sig``). ``clear_pass_m``: the runtime's clear pass the thresholds were
    calibrated with (:mod:`safevla_core.footprint`; 0 = none), its ``clear_pass_quiet`` and
    ``clear_pass_arm``.
    Returns the manifest."""
    for noisy in ("onnxscript", "onnx_ir"):  # one INFO line per graph pass otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cfg, graph = net.cfg, _RiskGraph(net).eval()
    t, hw = cfg.history_length, (cfg.image_height, cfg.image_width)
    g = torch.Generator().manual_seed(1)

    def frames(*lead: int) -> torch.Tensor:
        return torch.randn(*lead, 3, *hw, generator=g)

    def actions(b: int) -> tuple[torch.Tensor, ...]:
        """Previous actions [b, T] (with bump_input, 0/1 feedback [b, T, 2]; with scan_input,
        ranges [b, SCAN_BEAMS]; with proprio_input, joint states [b, 2] in metres)."""
        out = (torch.randint(0, PREV_ACTION_NONE + 1, (b, t), generator=g),)
        if cfg.bump_input:
            out += (torch.randint(0, 2, (b, t, len(BUMP_FIELDS)), generator=g).float(),)
        if cfg.scan_input:
            out += (torch.rand(b, SCAN_BEAMS, generator=g) * SCAN_RANGE_MAX_M,)
        if cfg.object_scan:  # a subset of the scan's returns: the rest see nothing
            keep = torch.rand(b, SCAN_BEAMS, generator=g) < 0.5
            full = torch.full_like(out[-1], SCAN_RANGE_MAX_M)
            out += (torch.where(keep, out[-1], full),)
        if cfg.proprio_input:
            out += (torch.rand(b, len(PROPRIO_FIELDS), generator=g),)
        return out

    feature = isinstance(net, FeatureCriticNet)
    with staged_dir(out_dir, ".critic-") as tmp:
        diffs = {}
        if feature:  # the encoder graph, then the critic graph on its features
            enc = _EncoderGraph(net).eval()
            path = tmp / CRITIC_ENCODER_GRAPH
            batch_onnx(enc, (frames(2),), ENCODER_INPUTS, ENCODER_OUTPUTS).save(str(path))
            diffs["encoder"] = _parity(
                path, enc, {ENCODER_INPUTS[0]: frames(3)}, ENCODER_OUTPUTS[0]
            )
            with torch.no_grad():
                x = net.encode(frames(2 * t)).reshape(2, t, -1)
                x_test = net.encode(frames(3 * t)).reshape(3, t, -1)
        else:
            x, x_test = frames(2, t), frames(3, t)
        names = FEATURE_CRITIC_INPUTS if feature else CRITIC_INPUTS
        names += (CRITIC_BUMP_INPUT,) if cfg.bump_input else ()
        names += (CRITIC_SCAN_INPUT,) if cfg.scan_input else ()
        names += (CRITIC_OBJECT_SCAN_INPUT,) if cfg.object_scan else ()
        names += (CRITIC_PROPRIO_INPUT,) if cfg.proprio_input else ()
        prog = batch_onnx(graph, (x, *actions(2)), names, CRITIC_OUTPUTS)
        prog.save(str(tmp / CRITIC_GRAPH))
        diffs["critic"] = _parity(
            tmp / CRITIC_GRAPH, graph, dict(zip(names, (x_test, *actions(3)))), CRITIC_OUTPUTS[0]
        )
        diff = max(diffs.values())
        if not diff < tolerance:
            raise RuntimeError(f"critic ONNX differs from torch by {diffs} (>= {tolerance})")
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
            calibration={
                c.category: c.to_dict() for c in ([union] if union else []) + calibration
            },
            calibration_target="any" if union else "category",
            graph_file=CRITIC_GRAPH,
            opset=OPSET,
            training={**(training or {}), "export_parity_max_abs_diff": diff},
            encoder_graph_file=CRITIC_ENCODER_GRAPH if feature else "",
            feature_dim=net.feature_dim if feature else 0,
            bump_input=bool(cfg.bump_input),
            scan_input=bool(cfg.scan_input),
            object_scan_input=bool(cfg.object_scan),
            proprio_input=bool(cfg.proprio_input),
            clear_pass_m=float(clear_pass_m),
            clear_pass_quiet=int(clear_pass_quiet),
            clear_pass_arm=bool(clear_pass_arm),
            created_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )
        write_critic_bundle(tmp, manifest)
        if sign_key is not None:
            sign_critic_bundle(tmp, sign_key)
    return manifest
