"""Shared fixtures of the trainer tests: one small random-weight bundle per session."""

from __future__ import annotations

import pytest
import torch
from tiny_model import SMALL

from safevla_train.config import ModelConfig
from safevla_train.export import export_bundle
from safevla_train.model import VLAPolicy


@pytest.fixture(scope="session")
def small_model() -> VLAPolicy:
    torch.manual_seed(0)
    return VLAPolicy(ModelConfig(**SMALL)).eval()


@pytest.fixture(scope="session")
def small_bundle(small_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "small"
    parity = export_bundle(small_model, out, "small-test", training={"test": True})
    return out, parity
