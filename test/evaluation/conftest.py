"""Shared fixtures of the evaluation tests."""

import pytest
import torch
from tiny_model import SMALL

from safevla_train.config import ModelConfig
from safevla_train.export import export_bundle
from safevla_train.model import VLAPolicy


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A tiny random-weight bundle exported by the trainer's real export path (~4 s)."""
    torch.manual_seed(0)
    cfg = ModelConfig(**{**SMALL, "num_layers": 1})
    out = tmp_path_factory.mktemp("bundles") / "tiny-eval"
    export_bundle(VLAPolicy(cfg), out, "tiny-eval")
    return out
