"""The motion feedback ("bump": the last action was blocked / collided) as a policy input: the
simulator reports it, a trained policy can take it without changing, the exported graph and the
runtime require it, and rollouts recompute exactly with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import SMALL, TINY_ENV

from safevla_core.actions import ACTION_INDEX, BUMP_FIELDS, END, bump_feedback
from safevla_train.config import ModelConfig, RiskConfig
from safevla_train.model import VLAPolicy

MOVE_AHEAD, ROTATE_LEFT = ACTION_INDEX["move_ahead"], ACTION_INDEX["rotate_left"]


def test_bump_feedback_marks_only_motions_that_did_not_happen():
    assert bump_feedback(None, True, False) == (0.0, 0.0)  # nothing executed yet
    assert bump_feedback(MOVE_AHEAD, False, True) == (1.0, 1.0)
    assert bump_feedback(MOVE_AHEAD, True, True) == (0.0, 1.0)  # moved, brushing something
    assert bump_feedback(ACTION_INDEX["arm_out"], False, False) == (1.0, 0.0)
    # a failed grasp or an `end` is not a blocked motion
    assert bump_feedback(ACTION_INDEX["pickup"], False, False) == (0.0, 0.0)
    assert bump_feedback(END, False, False) == (0.0, 0.0)


def test_the_simulator_reports_a_blocked_move_and_resets_it():
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episode_gen import EpisodeSampler

    env = make_env(EpisodeSampler(("objnav",)), EnvConfig(nav_size=(32, 32), max_steps=400))
    try:
        obs, _ = env.reset(seed=0)
        assert obs["bump"].dtype == np.float32 and obs["bump"].tolist() == [0.0, 0.0]
        assert env.observation_space["bump"].contains(obs["bump"])
        blocked = None
        for _ in range(300):  # straight ahead until a wall or furniture stops the base
            obs, _, _, _, _, info = env.step(MOVE_AHEAD)
            assert obs["bump"].tolist() == [
                float(not info["action_succeeded"]),
                float(info["collided"]),
            ]
            if not info["action_succeeded"]:
                blocked = obs["bump"]
                break
        assert blocked is not None and blocked[0] == 1.0 and blocked[1] == 1.0
        freed = False
        for _ in range(12):  # turning away: some rotation gets the base free again
            obs, _, _, _, _, info = env.step(ROTATE_LEFT)
            if info["action_succeeded"]:
                freed = True
                assert obs["bump"][0] == 0.0
                break
        assert freed
        obs, _ = env.reset(seed=1)
        assert obs["bump"].tolist() == [0.0, 0.0]
    finally:
        env.close()


def _sequence_logits(model: VLAPolicy, bump: torch.Tensor | None) -> torch.Tensor:
    torch.manual_seed(1)
    feat = model.encoder(torch.rand(6, 3, 32, 32)).unsqueeze(0)
    instr = torch.randn(1, 6, 384)
    prev = torch.tensor([[20, 0, 0, 3, 0, 0]])
    tok = model.fuse(feat, instr, prev, torch.zeros(1, 6), bump=bump)
    return model.forward_sequence(tok, torch.zeros(1, 6, dtype=torch.long))["logits"]


def test_adding_the_input_to_a_trained_policy_changes_nothing_until_it_is_trained():
    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL)).eval()
    bump = torch.tensor([[[0, 0], [1, 1], [1, 1], [0, 1], [1, 0], [0, 0]]], dtype=torch.float32)
    with torch.no_grad():
        before = _sequence_logits(model, None)
        model.add_bump_input()
        assert model.cfg.bump_input
        torch.testing.assert_close(_sequence_logits(model, bump), before, atol=0, rtol=0)
        with pytest.raises(ValueError, match="bump"):
            _sequence_logits(model, None)
        model.bump_proj.weight.normal_()
        after = _sequence_logits(model, bump)
    assert not torch.allclose(after, before)
    # steps where the feedback is zero are untouched by the projection
    torch.testing.assert_close(after[0, 0], before[0, 0])


def test_the_exported_graph_and_the_runtime_take_the_feedback(tmp_path):
    from safevla_core.policy_runtime import PolicyRuntime
    from safevla_train.export import export_bundle

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL, bump_input=True)).eval()
    with torch.no_grad():
        model.bump_proj.weight.normal_()
    parity = export_bundle(model, tmp_path / "b", "bump")
    assert max(parity.values()) < 1e-3
    runtime = PolicyRuntime(tmp_path / "b")
    assert runtime.takes_bump and runtime.bundle.graph.input_names[-1] == "bump"
    frame = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="motion feedback"):
        runtime.step(frame, "find the apple")
    for bad in ((1.0,), (0.0, float("nan")), (2.0, 0.0), "blocked"):
        with pytest.raises(ValueError, match="bump="):
            runtime.step(frame, "find the apple", bump=bad)
    probs = {}
    for b in ((0.0, 0.0), (1.0, 1.0)):
        runtime.reset()
        probs[b] = runtime.step(frame, "find the apple", bump=b).probs
        assert abs(probs[b].sum() - 1) < 1e-4
    assert not np.allclose(probs[(0.0, 0.0)], probs[(1.0, 1.0)])  # the graph reads it

    plain = VLAPolicy(ModelConfig(**SMALL)).eval()
    export_bundle(plain, tmp_path / "p", "plain")
    old = PolicyRuntime(tmp_path / "p")
    assert not old.takes_bump and "bump" not in old.bundle.graph.input_names
    a = old.step(frame, "find the apple", bump=(1.0, 1.0)).probs  # ignored
    old.reset()
    np.testing.assert_array_equal(a, old.step(frame, "find the apple").probs)


@pytest.mark.slow
def test_rollouts_with_the_feedback_recompute_exactly():
    from safevla_train.risk import make_envs
    from safevla_train.rollout import Collector

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL, bump_input=True)).eval()
    with torch.no_grad():
        model.bump_proj.weight.normal_(std=3.0)
    venv, samplers = make_envs(TINY_ENV, RiskConfig(enabled=False))
    try:
        col = Collector(venv, samplers, model, rollout_steps=10, seed=0)
        col.sync_reset(1)
        for _ in range(2):
            ro = col.collect()
            assert ro.bump.shape == (*ro.holding.shape, len(BUMP_FIELDS))
            tok = model.fuse(ro.feat, ro.instr, ro.prev_action, ro.holding, bump=ro.bump)
            with torch.no_grad():
                out = model.forward_sequence(tok, ro.ep_id, ro.valid)
            logp = out["logits"][:, -10:].log_softmax(-1)
            logp = logp.gather(-1, ro.actions[..., None]).squeeze(-1)
            torch.testing.assert_close(logp, ro.logp, atol=1e-5, rtol=0)
    finally:
        venv.close()


def test_ppo_adds_the_input_to_its_start_without_changing_it(tmp_path):
    from safevla_train.checkpoint import save_checkpoint
    from safevla_train.config import to_dict
    from safevla_train.train_ppo import _initial_model

    torch.manual_seed(0)
    start = VLAPolicy(ModelConfig(**SMALL)).eval()
    path = save_checkpoint(
        tmp_path / "start.pt",
        {
            "kind": "bc",
            "config": {},
            "model_config": to_dict(start.cfg),
            "model": start.state_dict(),
        },
    )
    model, info = _initial_model(str(path), None, 0, bump_input=True)
    assert model.cfg.bump_input and info["path"] == str(path)
    bump = torch.ones(1, 6, 2)
    with torch.no_grad():
        torch.testing.assert_close(
            _sequence_logits(model.eval(), bump), _sequence_logits(start, None), atol=0, rtol=0
        )
    same, _ = _initial_model(str(path), None, 0)
    assert not same.cfg.bump_input and same.bump_proj is None
