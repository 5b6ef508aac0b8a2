"""``ppo.encoder_runtime = "onnxruntime"``: the frozen encoder exported to ONNX Runtime gives
torch's features to float32 rounding, the rollouts it drives take the same actions, the update
still reproduces the rollout's outputs exactly, and --resume stays bit-exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import SMALL as TINY
from tiny_model import TINY_ENV as ENV
from tiny_model import tiny_ppo_config

from safevla_train.checkpoint import load_checkpoint
from safevla_train.config import ModelConfig, PPOConfig, RiskConfig
from safevla_train.model import VLAPolicy
from safevla_train.onnx_encoder import OnnxEncoder
from safevla_train.risk import make_envs
from safevla_train.rollout import Collector, frame_encoder, image_spec_of, preprocess_batch
from safevla_train.train_ppo import run_ppo

EFFNET = ModelConfig(
    encoder="efficientnet_lite0",
    image_height=32,
    image_width=32,
    d_model=32,
    num_heads=2,
    num_layers=1,
    context_length=4,
)


@pytest.fixture(scope="module")
def model() -> VLAPolicy:
    torch.manual_seed(0)
    return VLAPolicy(EFFNET).eval()


@pytest.mark.parametrize("size", [32, 64])
def test_onnxruntime_features_match_torch(size):
    """Preprocessed frames, batches of 1 and 4: max abs difference below 1e-4."""
    torch.manual_seed(0)
    m = VLAPolicy(ModelConfig(**{**vars(EFFNET), "image_height": size, "image_width": size}))
    enc = frame_encoder(m.eval(), "onnxruntime")
    assert isinstance(enc, OnnxEncoder) and enc.parity < 1e-4
    frames = np.random.default_rng(1).integers(0, 256, (4, 96, 96, 3), dtype=np.uint8)
    for batch in (frames[:1], frames):
        x = preprocess_batch(batch, image_spec_of(m))
        with torch.no_grad():
            want = m.encoder(x)
        got = enc(x)
        assert got.shape == want.shape == (len(batch), m.feature_dim)
        assert float((got - want).abs().max()) < 1e-4
        assert torch.equal(enc(x), got)  # deterministic


def test_runtime_choice_is_checked():
    torch.manual_seed(0)
    cnn = VLAPolicy(ModelConfig(**TINY)).eval()
    assert frame_encoder(cnn, "torch") is cnn.encoder
    with pytest.raises(ValueError, match="frozen frame encoder"):
        frame_encoder(cnn, "onnxruntime")  # a CNN that trains: its features would go stale
    cnn.encoder.requires_grad_(False)  # what ppo.freeze_encoder does
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = cnn.encoder(x)
    assert float((frame_encoder(cnn, "onnxruntime")(x) - want).abs().max()) < 1e-4
    with pytest.raises(ValueError, match="encoder_runtime"):
        frame_encoder(cnn, "tensorrt")
    with pytest.raises(ValueError, match="encoder_runtime"):
        PPOConfig(encoder_runtime="tensorrt")


def _rollouts(model: VLAPolicy, runtime: str, n: int = 2):
    venv, samplers = make_envs(ENV, RiskConfig(enabled=False))
    try:
        col = Collector(venv, samplers, model, rollout_steps=10, seed=0, encoder_runtime=runtime)
        col.sync_reset(1)
        return [col.collect() for _ in range(n)]
    finally:
        venv.close()


@pytest.mark.slow
def test_onnxruntime_rollouts_take_torchs_actions_and_update_exactly(model):
    ref = _rollouts(model, "torch")
    got = _rollouts(model, "onnxruntime")
    for a, b in zip(ref, got):
        assert torch.equal(a.actions, b.actions)
        assert torch.equal(a.reward, b.reward) and torch.equal(a.done, b.done)
        assert float((a.feat - b.feat).abs().max()) < 1e-4
        assert float((a.logp - b.logp).abs().max()) < 1e-4
    assert got[-1].done.any(), "max_steps=12 over 20 steps must end episodes"
    for ro in got:  # the update re-runs the policy on the stored features: ratio exactly 1
        tok = model.fuse(ro.feat, ro.instr, ro.prev_action, ro.holding)
        with torch.no_grad():
            out = model.forward_sequence(tok, ro.ep_id, ro.valid)
        logp = out["logits"][:, -10:].log_softmax(-1).gather(-1, ro.actions[..., None])
        torch.testing.assert_close(logp.squeeze(-1), ro.logp, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_resume_with_onnxruntime_is_exact(tmp_path):
    """With the encoder and the update on two threads each (what a run alone on 2 cores uses):
    a resumed run still ends where the straight one does."""

    def cfg(rollouts: int) -> PPOConfig:
        return tiny_ppo_config(
            rollouts * ENV.num_envs * 8,
            value_warmup_steps=0,
            encoder_runtime="onnxruntime",
            encoder_threads=2,
            update_threads=2,
        )

    kw = dict(progress=False, tensorboard=False)
    straight = run_ppo(cfg(4), tmp_path / "a", model_cfg=EFFNET, **kw)
    run_ppo(cfg(2), tmp_path / "b", model_cfg=EFFNET, **kw)
    resumed = run_ppo(cfg(4), tmp_path / "b", resume=True, **kw)
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["algo"]["lagrange"]["lambda"] == b["algo"]["lagrange"]["lambda"]
    assert straight["losses/policy"] == resumed["losses/policy"]
    for c in (a["counters"], b["counters"]):
        c.pop("wall_s")  # training time, the one counter a resume does not reproduce
    assert a["counters"] == b["counters"]
