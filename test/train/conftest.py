"""Shared fixtures of the trainer tests: one small random-weight bundle and one small safety-critic
run per session."""

from __future__ import annotations

import pytest
import torch
from tiny_critic import CRITIC_RUN_SETTINGS
from tiny_model import SMALL

from safevla_ros.cli.main import main
from safevla_train.config import ModelConfig
from safevla_train.config_io import apply_overrides, parse_dotted
from safevla_train.critic_config import CriticConfig
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


@pytest.fixture(scope="session")
def critic_run(tmp_path_factory):
    """``safevla train critic`` on the real simulator with small settings: (run folder,
    config). Shared by the CNN and the frozen-encoder critic tests (the latter reuses its
    data)."""
    out = tmp_path_factory.mktemp("critic") / "run"
    args = ["train", "critic", "--out", str(out), "--no-tensorboard"]
    for s in CRITIC_RUN_SETTINGS:
        args += ["--set", s]
    assert main(args) == 0
    return out, apply_overrides(CriticConfig(), parse_dotted(CRITIC_RUN_SETTINGS))
