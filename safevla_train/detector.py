"""``safevla train detector``: collect labelled frames, train the target detector, measure it.

Run folder (``--out``):
    ``frames_train.npz`` / ``frames_test.npz``: frames at the detector's size (uint8, resized
        exactly as the deployed runtime resizes), per-frame labels ``seen`` [N, SEEN_DIM]
        (:func:`sim_bridge.tasks.objnav.types_in_view`), the instructed type ``target`` and
        the episode index. Reused by a later run with the same collection settings.
    ``detector.pt``: the trained detector (:mod:`safevla_train.detector_model`), the file a
        policy's ``model.detector`` names.
    ``metrics.json``: held-out AUROC and average precision per range, over all types and for
        the instructed type (the label `end` needs), with the positive counts.

Frames come from the teacher (``expert_mode``) driving training scenes, with a random base
move instead of its action with probability ``random_action_prob`` (views a learner sees when
it strays). The test frames are a second collection with another seed: other episodes, drawn
from the same million training scene seeds (an overlap of a few scenes is possible, not likely).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from safevla_core.actions import ACTION_INDEX, END
from safevla_core.image_preprocessing import ImageSpec, resize_rgb
from safevla_train.bc import target_index
from safevla_train.config import EnvSettings, RiskConfig, _check
from safevla_train.config_io import to_dict
from safevla_train.detector_model import TargetDetector, detector_payload
from safevla_train.risk import make_envs
from safevla_train.rollout import preprocess_batch
from sim_bridge.tasks.objnav import OBJNAV_TARGETS, SEEN_DIM, SEEN_RANGES_M

# the random moves of a straying teacher: base motions only (no `end`, no arm)
RANDOM_MOVES = tuple(
    ACTION_INDEX[n]
    for n in (
        "move_ahead",
        "move_back",
        "rotate_left",
        "rotate_right",
        "rotate_left_small",
        "rotate_right_small",
    )
)
DATA_KEYS = ("frames", "seen", "target", "episode")


@dataclass
class DetectorConfig:
    """Settings of ``safevla train detector``.

    Attributes:
        seed: seeds the training collection (the test collection uses ``seed + 1``),
            initialisation and batches.
        env: the environments that render the frames (ObjectNav episodes on training scenes).
        expert_mode: the teacher that drives (``sim_bridge.expert`` modes).
        random_action_prob: probability that a random base move replaces the teacher's action.
        episode_max_steps: step limit of one collection episode.
        train_frames: labelled frames to train on.
        test_frames: labelled frames to measure on (a separate collection).
        image_height: detector input height (the policy's image size), pixels.
        image_width: detector input width, pixels.
        image_mean: per-channel mean after scaling pixels to [0, 1] (the policy's).
        image_std: per-channel std (the policy's).
        epochs: passes over the training frames.
        batch_size: frames per update.
        lr: peak learning rate (one-cycle schedule).
        weight_decay: AdamW weight decay.
        mirror: flip half of each batch left-right (the labels do not change).
    """

    seed: int = 0
    env: EnvSettings = field(default_factory=EnvSettings)
    expert_mode: str = "explorer-reactive"
    random_action_prob: float = 0.2
    episode_max_steps: int = 300
    train_frames: int = 40_000
    test_frames: int = 10_000
    image_height: int = 64
    image_width: int = 64
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    mirror: bool = True

    def __post_init__(self) -> None:
        _check(
            0.0 <= self.random_action_prob < 1.0,
            f"random_action_prob={self.random_action_prob} must be in [0, 1)",
        )
        _check(self.train_frames >= 1, f"train_frames={self.train_frames} must be >= 1")
        _check(self.test_frames >= 1, f"test_frames={self.test_frames} must be >= 1")
        _check(self.episode_max_steps >= 1, "episode_max_steps must be >= 1")
        _check(self.epochs >= 1, f"epochs={self.epochs} must be >= 1")
        _check(self.batch_size >= 1, f"batch_size={self.batch_size} must be >= 1")
        _check(self.lr > 0, f"lr={self.lr} must be > 0")
        _check(
            tuple(self.env.tasks) == ("objnav",),
            f"env.tasks={list(self.env.tasks)}: the detector's labels are ObjectNav's; "
            "use [objnav]",
        )
        self.image_mean = tuple(float(v) for v in self.image_mean)
        self.image_std = tuple(float(v) for v in self.image_std)
        for name in ("image_height", "image_width"):
            v = getattr(self, name)
            _check(v % 16 == 0 and 16 <= v <= 512, f"{name}={v} must be a multiple of 16")

    @property
    def spec(self) -> ImageSpec:
        return ImageSpec(
            height=self.image_height,
            width=self.image_width,
            mean=self.image_mean,
            std=self.image_std,
        )


def collect_frames(
    cfg: DetectorConfig, frames: int, seed: int, log: Callable[[str], None] = print
) -> dict[str, np.ndarray]:
    """Labelled frames from the teacher driving (with random moves); see the module docstring."""
    settings = EnvSettings(**dict(to_dict(cfg.env), max_steps=cfg.episode_max_steps))
    venv, _ = make_envs(settings, RiskConfig(enabled=False))
    n = venv.num_envs
    spec = cfg.spec
    rng = np.random.default_rng(seed)
    out = {k: [] for k in DATA_KEYS}
    episode = np.arange(n)
    next_episode = n
    obs, _ = venv.reset(seed=seed)
    t0, last = time.time(), 0.0
    try:
        while len(out["frames"]) < frames:
            labels, _, seen, _ = venv.expert_labels(cfg.expert_mode)
            stray = (rng.random(n) < cfg.random_action_prob) & (labels != END)
            moves = rng.choice(RANDOM_MOVES, n)
            nobs, _, _, term, trunc, infos = venv.step(np.where(stray, moves, labels))
            for k in range(n):  # this step's info names the episode the frame belongs to
                out["frames"].append(
                    resize_rgb(obs["nav_rgb"][k], spec.width, spec.height, spec.resize)
                )
                out["seen"].append(np.asarray(seen[k], bool))
                out["target"].append(target_index(infos[k]["target_type"]))
                out["episode"].append(episode[k])
                if term[k] or trunc[k]:
                    episode[k], next_episode = next_episode, next_episode + 1
            obs = nobs
            if time.time() - last > 30:
                last = time.time()
                rate = len(out["frames"]) / (last - t0)
                log(f"detector data: {len(out['frames'])}/{frames} frames, {rate:.0f} frames/s")
    finally:
        venv.close()
    return {
        "frames": np.stack(out["frames"][:frames]),
        "seen": np.stack(out["seen"][:frames]),
        "target": np.asarray(out["target"][:frames], np.int64),
        "episode": np.asarray(out["episode"][:frames], np.int64),
    }


def _data(path: Path, cfg: DetectorConfig, frames: int, seed: int, log) -> dict:
    """The collection at ``path`` when its settings match, else a new one saved there."""
    key = json.dumps(
        {
            "seed": seed,
            "frames": frames,
            "env": to_dict(cfg.env),
            "expert_mode": cfg.expert_mode,
            "random_action_prob": cfg.random_action_prob,
            "episode_max_steps": cfg.episode_max_steps,
            "hw": [cfg.image_height, cfg.image_width],
        },
        sort_keys=True,
    )
    if path.is_file():
        with np.load(path, allow_pickle=False) as d:
            if str(d["key"]) == key:
                log(f"detector data: reusing {path} ({len(d['frames'])} frames)")
                return {k: d[k] for k in DATA_KEYS}
        log(f"detector data: {path} was collected with other settings; collecting again")
    data = collect_frames(cfg, frames, seed, log)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, key=np.asarray(key), **data)
    tmp.replace(path)
    return data


@torch.no_grad()
def predict(det: TargetDetector, frames: np.ndarray, spec: ImageSpec, batch: int = 512):
    """[N, SEEN_DIM] probabilities for uint8 frames."""
    det.eval()
    outs = [
        torch.sigmoid(det(preprocess_batch(frames[i : i + batch], spec)))
        for i in range(0, len(frames), batch)
    ]
    return torch.cat(outs).numpy() if outs else np.zeros((0, SEEN_DIM), np.float32)


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve of scores ``p`` for 0/1 labels ``y`` (Mann-Whitney, ties
    counted half); NaN with one class only."""
    y = np.asarray(y, bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    _, inv, counts = np.unique(p, return_inverse=True, return_counts=True)
    rank = (np.cumsum(counts) - (counts - 1) / 2.0)[inv]  # 1-based, ties averaged
    return float((rank[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Mean over the positives of the precision among the scores ranked at or above each
    (highest first); NaN without positives."""
    y = np.asarray(y, bool)
    if not y.any():
        return float("nan")
    hits = y[np.argsort(-np.asarray(p), kind="stable")]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def detection_metrics(prob: np.ndarray, seen: np.ndarray, target: np.ndarray) -> dict:
    """Held-out AUROC / AP per range: over every (frame, type) pair, and for the instructed type
    only (the label ``end`` needs), with the positive counts. NaN where a split has one class."""

    def scores(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
        return auroc(y, p), average_precision(y, p)

    types = len(OBJNAV_TARGETS)
    rows = np.arange(len(prob))
    out = {}
    for r, dist in enumerate(SEEN_RANGES_M):
        cols = slice(r * types, (r + 1) * types)
        y_all, p_all = seen[:, cols].ravel(), prob[:, cols].ravel()
        y_ins, p_ins = seen[rows, r * types + target], prob[rows, r * types + target]
        auc_all, ap_all = scores(y_all, p_all)
        auc_ins, ap_ins = scores(y_ins, p_ins)
        out[f"{dist:g}m"] = {
            "auroc_all_types": auc_all,
            "ap_all_types": ap_all,
            "positives_all_types": int(y_all.sum()),
            "auroc_instructed": auc_ins,
            "ap_instructed": ap_ins,
            "positives_instructed": int(y_ins.sum()),
        }
    return out


def train_detector(
    cfg: DetectorConfig, train: dict, log: Callable[[str], None] = print
) -> TargetDetector:
    """Fit a detector on the training frames (multi-label BCE over ``SEEN_DIM`` outputs)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    det = TargetDetector((cfg.image_height, cfg.image_width))
    det.train()
    opt = torch.optim.AdamW(det.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(train["frames"])
    steps = max(1, cfg.epochs * n // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps)
    labels = torch.from_numpy(train["seen"].astype(np.float32))
    t0, last = time.time(), 0.0
    for s in range(steps):
        idx = rng.integers(0, n, cfg.batch_size)
        x = preprocess_batch(train["frames"][idx], cfg.spec)
        if cfg.mirror:
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        loss = F.binary_cross_entropy_with_logits(det(x), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if time.time() - last > 30 or s == steps - 1:
            last = time.time()
            log(
                f"detector training: step {s + 1}/{steps}, loss {loss.item():.4f}, "
                f"{last - t0:.0f} s"
            )
    det.eval()
    return det


def run_detector(cfg: DetectorConfig, out: Path, log: Callable[[str], None] = print) -> dict:
    """Collect (or reuse) the frames, train, measure on the test frames, write ``detector.pt``
    and ``metrics.json``; returns the metrics."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    train = _data(out / "frames_train.npz", cfg, cfg.train_frames, cfg.seed, log)
    test = _data(out / "frames_test.npz", cfg, cfg.test_frames, cfg.seed + 1, log)
    t_data = time.time() - t0
    det = train_detector(cfg, train, log)
    metrics = {
        "test": detection_metrics(
            predict(det, test["frames"], cfg.spec), test["seen"], test["target"]
        ),
        "train_frames": len(train["frames"]),
        "test_frames": len(test["frames"]),
        "train_episodes": len(np.unique(train["episode"])),
        "test_episodes": len(np.unique(test["episode"])),
        "collect_s": round(t_data, 1),
        "train_s": round(time.time() - t0 - t_data, 1),
    }
    payload = detector_payload(det, cfg.image_mean, cfg.image_std, metrics)
    tmp = out / "detector.pt.tmp"
    torch.save(payload, tmp)
    tmp.replace(out / "detector.pt")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
