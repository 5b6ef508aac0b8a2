"""Shared fixtures of the trainer tests: one small random-weight bundle per session."""

from __future__ import annotations

import pytest
import torch

from safevla_train.config import ModelConfig
from safevla_train.export import export_bundle
from safevla_train.model import VLAPolicy

SMALL = dict(
    image_height=32,
    image_width=32,
    cnn_channels=(8, 16),
    d_model=32,
    num_layers=2,
    num_heads=2,
    context_length=4,
)


@pytest.fixture(scope="session")
def small_model() -> VLAPolicy:
    torch.manual_seed(0)
    return VLAPolicy(ModelConfig(**SMALL)).eval()


@pytest.fixture(scope="session")
def small_bundle(small_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "small"
    parity = export_bundle(small_model, out, "small-test", training={"test": True})
    return out, parity
