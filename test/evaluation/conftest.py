"""Shared fixtures of the evaluation tests."""

import pytest


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A tiny random-weight bundle exported by the trainer's real export path (~4 s)."""
    torch = pytest.importorskip("torch")
    from safevla_train.config import ModelConfig
    from safevla_train.export import export_bundle
    from safevla_train.model import VLAPolicy

    torch.manual_seed(0)
    cfg = ModelConfig(
        image_height=32,
        image_width=32,
        cnn_channels=(8, 16),
        d_model=32,
        num_layers=1,
        num_heads=2,
        context_length=4,
    )
    out = tmp_path_factory.mktemp("bundles") / "tiny-eval"
    export_bundle(VLAPolicy(cfg), out, "tiny-eval")
    return out
