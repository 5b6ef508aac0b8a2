"""The target detector: a small CNN trained on simulator labels to tell, from one frame, which
ObjectNav target types are in view within 2 m and 3.5 m; frozen inside the policy.

Why: the policy's `end` decides success, and it needs "the instructed target is in view within
2 m" from a 64x64 frame. Read off the frozen ImageNet features (stride 16, a 4x4 map at 64x64),
that label reaches AP 0.41 on frames of unseen scenes; a CNN trained from scratch on the
simulator's own per-frame labels (:func:`sim_bridge.tasks.objnav.types_in_view`, free on every
frame, for every type) reaches AP 0.67 at the same size (docs/training.md, "A detector trained on
the simulator's labels"). It is trained once, on its own data (``safevla train detector``,
:mod:`safevla_train.detector`), then frozen: the policy (``model.detector``) carries it inside
its frozen encoder, so its logits are cached with the backbone's features in training and run
in the exported graph at deployment (RGB + instruction in, as before).

The detector file (``detector.pt``) holds plain data only (read with ``weights_only=True``):
``kind`` = "detector", ``state`` (the weights), ``image_hw``, ``image_mean``, ``image_std``,
``channels``, ``hidden``, ``seen_dim`` and ``metrics`` (its held-out AUROC / AP).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from safevla_train.pretrained import FrozenBackbone
from sim_bridge.tasks.objnav import SEEN_DIM

DETECTOR_KIND = "detector"
DETECTOR_CHANNELS = (32, 64, 128, 128)
DETECTOR_HIDDEN = 256


class DetectorError(Exception):
    """A detector file is missing, malformed or made for other frames; the message says which."""


class TargetDetector(nn.Module):
    """[B,3,H,W] frames (bundle normalisation) -> [B, SEEN_DIM] logits of "type k in view
    within range r" (range-major, as :data:`sim_bridge.tasks.objnav.SEEN_RANGES_M`).

    Stride-2 3x3 convolutions with group norm and GELU, then a hidden layer over the flattened
    map (it keeps where in the frame things are)."""

    def __init__(
        self,
        image_hw: tuple[int, int],
        channels: tuple[int, ...] = DETECTOR_CHANNELS,
        hidden: int = DETECTOR_HIDDEN,
    ) -> None:
        super().__init__()
        stride = 2 ** len(channels)
        h, w = image_hw
        if h % stride or w % stride:
            raise ValueError(f"detector image size {h}x{w} must be a multiple of {stride}")
        layers: list[nn.Module] = []
        c = 3
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, 2, 1), nn.GroupNorm(min(8, out), out), nn.GELU()]
            c = out
        self.conv = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * (h // stride) * (w // stride), hidden),
            nn.GELU(),
            nn.Linear(hidden, SEEN_DIM),
        )
        self.image_hw = (h, w)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(image))


class DetectorEncoder(nn.Module):
    """The policy's frozen encoder with a detector: [B,3,H,W] -> [B, backbone_dim + SEEN_DIM],
    the backbone's feature map (flattened) followed by the detector's logits. Both parts are
    frozen, so the trainer caches this output per frame like the backbone's alone."""

    def __init__(
        self, image_hw: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
    ) -> None:
        super().__init__()
        self.backbone = FrozenBackbone(image_hw, mean, std)
        self.detector = TargetDetector(image_hw)
        self.map_hw = self.backbone.map_hw
        self.backbone_dim = self.backbone.out_dim
        self.out_dim = self.backbone_dim + SEEN_DIM
        self.detector.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> DetectorEncoder:
        """Always in eval mode (frozen)."""
        return super().train(False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.backbone(image), self.detector(image)], dim=-1)


def detector_payload(
    det: TargetDetector, mean: tuple[float, ...], std: tuple[float, ...], metrics: dict
) -> dict:
    """The plain-data content of a ``detector.pt`` file."""
    return {
        "kind": DETECTOR_KIND,
        "state": {k: v.detach().clone() for k, v in det.state_dict().items()},
        "image_hw": list(det.image_hw),
        "image_mean": [float(v) for v in mean],
        "image_std": [float(v) for v in std],
        "channels": list(DETECTOR_CHANNELS),
        "hidden": DETECTOR_HIDDEN,
        "seen_dim": SEEN_DIM,
        "metrics": metrics,
    }


def load_detector_file(
    path: str | Path,
    image_hw: tuple[int, int],
    mean: tuple[float, ...],
    std: tuple[float, ...],
) -> dict:
    """Read and check a detector file for a policy with this image spec; returns its payload.

    Raises:
        DetectorError: missing, unreadable, not a detector, or made for another image size,
            normalisation, architecture or label layout (the message names the value and fix).
    """
    p = Path(path)
    if not p.is_file():
        raise DetectorError(
            f"model.detector={str(path)!r}: no such file; train one with "
            "`safevla train detector --out DIR` and pass DIR/detector.pt"
        )
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure: not a file of ours
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise DetectorError(f"{p}: not a readable detector file ({first})") from None
    if not isinstance(data, dict) or data.get("kind") != DETECTOR_KIND:
        raise DetectorError(f"{p} is not a detector file written by `safevla train detector`")
    want = {
        "image_hw": [int(v) for v in image_hw],
        "image_mean": [float(v) for v in mean],
        "image_std": [float(v) for v in std],
        "channels": list(DETECTOR_CHANNELS),
        "hidden": DETECTOR_HIDDEN,
        "seen_dim": SEEN_DIM,
    }
    for key, value in want.items():
        got = data.get(key)
        if got != value:
            raise DetectorError(
                f"{p}: {key} is {got}, the policy needs {value}; train the detector with the "
                "policy's image size and normalisation (`safevla train detector --set "
                "image_height=... --set image_width=...`)"
            )
    return data


def load_detector_weights(det: TargetDetector, payload: dict, where: str) -> None:
    """Put a checked payload's weights into ``det``."""
    try:
        det.load_state_dict(payload["state"])
    except (RuntimeError, KeyError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise DetectorError(f"{where}: weights do not fit the detector ({first})") from None
