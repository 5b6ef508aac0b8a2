"""``model.prev_action_input=false``: the policy does not see its previous action (against
copying it), and the exported graph still takes the input the runtime feeds it."""

from __future__ import annotations

import numpy as np
import torch
from tiny_model import SMALL

from safevla_core.actions import NUM_ACTIONS
from safevla_train.config import ModelConfig
from safevla_train.model import VLAPolicy


def _outputs(model: VLAPolicy, prev: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(1)
    frames = torch.rand(1, 6, 3, 32, 32)
    feat = model.encoder(frames.flatten(0, 1)).unflatten(0, (1, 6))
    instr = torch.randn(1, 6, 384)
    tok = model.fuse(feat, instr, prev, torch.zeros(1, 6))
    return model.forward_sequence(tok, torch.zeros(1, 6, dtype=torch.long))["logits"]


def test_without_the_input_the_previous_action_changes_nothing():
    a = torch.tensor([[0, 1, 2, 3, 2, 1]])
    b = torch.tensor([[NUM_ACTIONS, 5, 5, 0, 0, 7]])
    for flag in (True, False):
        torch.manual_seed(0)
        model = VLAPolicy(ModelConfig(**{**SMALL, "prev_action_input": flag})).eval()
        with torch.no_grad():
            same = torch.allclose(_outputs(model, a), _outputs(model, b))
        assert same is (not flag)


def test_exports_and_runs_without_the_input(tmp_path):
    from safevla_core.policy_runtime import PolicyRuntime
    from safevla_train.export import export_bundle

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**{**SMALL, "prev_action_input": False})).eval()
    parity = export_bundle(model, tmp_path / "b", "no-prev-action")
    assert max(parity.values()) < 1e-3
    runtime = PolicyRuntime(tmp_path / "b")
    frame = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    probs = [runtime.step(frame, "find the apple", holding=False).probs for _ in range(3)]
    assert all(np.isfinite(p).all() and abs(p.sum() - 1) < 1e-4 for p in probs)
