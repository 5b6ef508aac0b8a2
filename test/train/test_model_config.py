"""Model: sequence/step equivalence (what makes the O(1) runtime exact); config validation."""

from __future__ import annotations

import pytest
import torch

from safevla_train.config import BCConfig, ModelConfig, PPOConfig, apply_overrides
from safevla_train.model import VLAPolicy


@pytest.mark.parametrize("kv", [False, True], ids=["layer-inputs", "keys-values"])
def test_step_cache_reproduces_banded_sequence_across_episodes(kv):
    """Both caches: the exported graph's (layer inputs) and the rollouts' (keys and values)."""
    torch.manual_seed(0)
    m = VLAPolicy(
        ModelConfig(cnn_channels=(8, 16), d_model=32, num_heads=2, context_length=3, num_layers=3)
    ).eval()
    b, t = 2, 12
    tok = m.fuse(
        torch.randn(b, t, m.feature_dim),
        torch.randn(b, t, 384),
        torch.randint(0, 21, (b, t)),
        torch.randint(0, 2, (b, t)).float(),
    )
    ep = torch.tensor([[0] * 5 + [1] * 7, [2] * 12])
    with torch.no_grad():
        seq = m.forward_sequence(tok, ep)
        cache, mask = m.empty_cache(b, kv=kv)
        assert cache.shape[-1] == (2 if kv else 1) * 32
        for i in range(t):
            for k in range(b):
                if i and ep[k, i] != ep[k, i - 1]:
                    cache[:, k] = 0
                    mask[k] = 0
            out, cache, mask = m.step_from_token(tok[:, i], cache, mask, kv=kv)
            for key in ("logits", "value", "cost_value", "cost_q"):
                torch.testing.assert_close(out[key], seq[key][:, i], atol=1e-5, rtol=0)
    assert (seq["cost_q"] >= 0).all()
    # history matters: a different earlier frame changes a later output within the context
    tok2 = tok.clone()
    tok2[1, 9] += torch.randn(32)  # (a constant shift would vanish in LayerNorm)
    with torch.no_grad():
        seq2 = m.forward_sequence(tok2, ep)
    assert not torch.allclose(seq2["logits"][1, 10], seq["logits"][1, 10])
    torch.testing.assert_close(seq2["logits"][1, :9], seq["logits"][1, :9])


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"num_heads": 3}, "num_heads=3"),
        ({"context_length": 1}, "context_length=1"),
        ({"image_std": (1, 0, 1)}, "image_std"),
        ({"image_height": 8}, "image_height=8"),
    ],
)
def test_model_config_errors_name_the_value(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ModelConfig(**kw)


def test_trainer_configs_validate_and_override():
    with pytest.raises(ValueError, match="algo='trpo'"):
        PPOConfig(algo="trpo")
    with pytest.raises(ValueError, match="minibatches=8"):
        PPOConfig(minibatches=8)
    for name in ("encoder_threads", "update_threads"):
        with pytest.raises(ValueError, match=f"ppo.{name}=-1 must be >= 0"):
            PPOConfig(**{name: -1})
    with pytest.raises(ValueError, match="expert_mode='bold'"):
        BCConfig(expert_mode="bold")
    assert BCConfig(expert_mode="explorer-recent:64").expert_mode == "explorer-recent:64"
    for bad in ("explorer-recent:0", "explorer-recent:x", "explorer:64"):
        with pytest.raises(ValueError, match="explorer-recent:N"):
            BCConfig(expert_mode=bad)
    cfg = apply_overrides(PPOConfig(), {"env": {"num_envs": 2}, "cost_limit": 1.5})
    assert cfg.env.num_envs == 2 and cfg.cost_limit == 1.5
    with pytest.raises(ValueError, match=r"unknown config key 'env\.colour'"):
        apply_overrides(PPOConfig(), {"env": {"colour": 1}})


def test_torch_threads_sets_and_restores_the_thread_count():
    from safevla_train.ppo import torch_threads

    before = torch.get_num_threads()
    other = 1 if before > 1 else 2
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(other):  # restored on an error too
        raise RuntimeError("update failed")
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0: left as it is
        assert torch.get_num_threads() == before
