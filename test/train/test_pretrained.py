"""The frozen pretrained encoder: offline weights, frozen, renormalised input, cached features
train the same model as frames do, and it exports into the bundle's graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import demo_fields, export_and_step

from safevla_train.bc import Demo, bc_loss, frame_features, normalise, sample_batch
from safevla_train.config import BCConfig, ModelConfig
from safevla_train.model import VLAPolicy
from safevla_train.pretrained import IMAGENET_MEAN, IMAGENET_STD, FrozenBackbone

CFG = ModelConfig(
    encoder="efficientnet_lite0", d_model=32, num_heads=2, num_layers=1, context_length=4
)


@pytest.fixture(scope="module")
def model() -> VLAPolicy:
    torch.manual_seed(0)
    return VLAPolicy(CFG).eval()


def test_backbone_is_frozen_spatial_and_stays_in_eval_mode(model):
    enc = model.encoder
    assert model.frozen_encoder and isinstance(enc, FrozenBackbone)
    assert enc.map_hw == (4, 4) and enc.out_dim == 112 * 16 == model.feature_dim
    assert not any(p.requires_grad for p in enc.parameters())
    model.train()
    assert not enc.training  # batch-norm statistics stay the pretrained ones
    model.eval()
    with pytest.raises(ValueError, match="multiple of 16"):
        FrozenBackbone((40, 40), CFG.image_mean, CFG.image_std)


def test_input_is_renormalised_to_the_weights_imagenet_statistics(model):
    """The bundle's normalisation in, ImageNet's at the first convolution."""
    rng = np.random.default_rng(0)
    pixels = torch.from_numpy(rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8))
    ours = normalise(pixels, model)  # (p/255 - 0.5) / 0.25
    x01 = pixels.float().movedim(-1, 1) / 255.0
    imagenet = (x01 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        IMAGENET_STD
    ).view(1, 3, 1, 1)
    enc = model.encoder
    with torch.no_grad():
        torch.testing.assert_close(
            enc.stem(ours * enc.scale + enc.shift), enc.stem(imagenet), rtol=1e-4, atol=1e-4
        )


def test_cached_features_train_the_same_loss_as_frames(model):
    rng = np.random.default_rng(1)
    n = 10
    frames = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    base = demo_fields(rng, n)
    with torch.no_grad():
        feats = frame_features(model, torch.from_numpy(frames)[None])[0].numpy()
    cfg = BCConfig(model=CFG, batch_chunks=1, chunk_len=n)
    raw = sample_batch([Demo(frames=frames, **base)], cfg, np.random.default_rng(2))
    cached = sample_batch(
        [Demo(frames=feats.astype(np.float16), **base)], cfg, np.random.default_rng(2)
    )
    assert cached["frames"].dtype == torch.float16
    with torch.no_grad():
        loss_raw, _ = bc_loss(model, raw, cfg)
        loss_cached, _ = bc_loss(model, cached, cfg)
    assert abs(float(loss_raw) - float(loss_cached)) < 1e-2 * max(1.0, abs(float(loss_raw)))


@pytest.mark.slow
def test_exports_into_the_bundle_graph_with_parity(model, tmp_path):
    export_and_step(model, tmp_path / "b", "effnet-test", (96, 96))
