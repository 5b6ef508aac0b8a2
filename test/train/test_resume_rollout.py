"""PPO on the real MuJoCo env: rollout/update consistency and bit-exact --resume (incl. lambda)."""

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
from safevla_train.risk import make_envs
from safevla_train.rollout import Collector
from safevla_train.train_ppo import best_key, run_ppo

SMALL = ModelConfig(**TINY)


def _cfg(total_steps: int, ref_kl_coef: float = 0.0) -> PPOConfig:
    return tiny_ppo_config(total_steps, ref_kl_coef=ref_kl_coef)


@pytest.mark.slow
@pytest.mark.parametrize("kv", [True, False], ids=["keys-values", "layer-inputs"])
def test_update_recomputes_rollout_outputs_exactly(kv):
    torch.manual_seed(0)
    model = VLAPolicy(SMALL).eval()
    venv, samplers = make_envs(ENV, RiskConfig(enabled=False))
    try:
        col = Collector(venv, samplers, model, rollout_steps=10, seed=0)
        col.kv = kv
        col.sync_reset(1)
        for _ in range(2):  # the second rollout starts from a carried context ring
            ro = col.collect()
            tok = model.fuse(ro.feat, ro.instr, ro.prev_action, ro.holding)
            with torch.no_grad():
                out = model.forward_sequence(tok, ro.ep_id, ro.valid)
            logp = (
                out["logits"][:, -10:]
                .log_softmax(-1)
                .gather(-1, ro.actions[..., None])
                .squeeze(-1)
            )
            torch.testing.assert_close(logp, ro.logp, atol=1e-5, rtol=0)
            torch.testing.assert_close(out["value"][:, -10:], ro.value, atol=1e-5, rtol=0)
        assert ro.done.any(), "max_steps=12 over 20 steps must end episodes"
        assert len(ro.episodes) >= 1
    finally:
        venv.close()


@pytest.mark.slow
@pytest.mark.parametrize("ref_kl_coef", [0.0, 0.5])
def test_resume_is_exact_including_lambda(tmp_path, ref_kl_coef):
    per_rollout = ENV.num_envs * 8

    def cfg(rollouts):
        return _cfg(rollouts * per_rollout, ref_kl_coef)

    straight = run_ppo(cfg(4), tmp_path / "a", model_cfg=SMALL, progress=False, tensorboard=False)
    run_ppo(cfg(2), tmp_path / "b", model_cfg=SMALL, progress=False, tensorboard=False)
    first = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    wall = first["counters"].pop("wall_s")
    assert first["counters"] == {"iteration": 2, "env_steps": 32, "at_sync": True}
    assert wall > 0  # the run's training time, carried on by a resume
    # the start policy of the KL term travels in the checkpoint (it is not the current one)
    assert ("reference" in first["algo"]) == (ref_kl_coef > 0)
    resumed = run_ppo(cfg(4), tmp_path / "b", resume=True, progress=False, tensorboard=False)
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["algo"]["lagrange"]["lambda"] == b["algo"]["lagrange"]["lambda"]
    assert a["algo"]["lagrange"]["lambda"] != 0.5  # lambda moved (cost 0 < limit 1 -> decays)
    assert straight["safety/lambda"] == resumed["safety/lambda"]
    assert straight["losses/policy"] == resumed["losses/policy"]
    assert b["counters"].pop("wall_s") > wall  # the first part's time plus the resumed part's
    a["counters"].pop("wall_s")
    assert a["counters"] == b["counters"]


def test_the_start_policy_kl_holds_the_policy_near_its_start():
    """``ref_kl_coef``: the KL is to a frozen copy of the start policy, grows as PPO moves the
    policy, is smaller with a larger coefficient from the same start and rollout, and never
    moves the copy."""
    from safevla_train.ppo import make_algo

    torch.manual_seed(0)
    start = VLAPolicy(SMALL).eval()
    venv, samplers = make_envs(ENV, RiskConfig(enabled=False))
    try:
        col = Collector(venv, samplers, start, rollout_steps=10, seed=0)
        col.sync_reset(1)
        ro = col.collect()
    finally:
        venv.close()
    # an advantage that drives the policy away from its start: reward every step
    ro.reward = torch.ones_like(ro.reward)
    kl = {}
    for coef in (0.0, 10.0):
        model = VLAPolicy(SMALL).eval()
        model.load_state_dict(start.state_dict())
        # 1e-9: the KL is measured and logged, its pull is nil
        cfg = PPOConfig(env=ENV, rollout_steps=10, lr=3e-3, epochs=8, ref_kl_coef=coef or 1e-9)
        algo = make_algo(model, cfg)
        before = {k: v.clone() for k, v in algo.reference.state_dict().items()}
        for k, v in model.state_dict().items():  # the copy is the start policy
            assert torch.equal(v, before[k]), k
        algo.update(ro, False, np.random.default_rng(0))
        last = algo.update(ro, False, np.random.default_rng(1))
        kl[coef] = last["losses/ref_kl"]
        for k, v in algo.reference.state_dict().items():
            assert torch.equal(v, before[k]), k
    assert kl[0.0] > 0.0 and kl[10.0] < 0.5 * kl[0.0], kl
    with pytest.raises(ValueError, match="ref_kl_coef"):
        PPOConfig(ref_kl_coef=-1.0)


def test_best_key_orders_evaluations_as_documented():
    a = {"success_rate": 0.4, "cost_mean": 3.0}
    b = {"success_rate": 0.3, "cost_mean": 0.5}
    c = {"success_rate": 0.4, "cost_mean": 1.0}
    # by success: success first, then the lower cost
    assert best_key(c, "success", 1.0) > best_key(a, "success", 1.0) > best_key(b, "success", 1.0)
    # within a limit of 1: b and c are within it (c more successful), a is not
    assert best_key(c, "success_within_limit", 1.0) > best_key(b, "success_within_limit", 1.0)
    assert best_key(b, "success_within_limit", 1.0) > best_key(a, "success_within_limit", 1.0)
    # while no evaluation is within the limit, the cheaper one leads whatever its success
    lo, hi = {"success_rate": 0.0, "cost_mean": 2.0}, {"success_rate": 0.9, "cost_mean": 5.0}
    assert best_key(lo, "success_within_limit", 1.0) > best_key(hi, "success_within_limit", 1.0)
    with pytest.raises(ValueError, match="best_by='last'"):
        PPOConfig(best_by="last")


@pytest.mark.slow
def test_best_checkpoint_holds_the_evaluated_policy_and_survives_a_resume(tmp_path):
    per_rollout = ENV.num_envs * 8

    def cfg(rollouts):
        return tiny_ppo_config(
            rollouts * per_rollout, eval_every=1, eval_episodes=1, best_by="success_within_limit"
        )

    kw = dict(model_cfg=SMALL, progress=False, tensorboard=False)
    straight = run_ppo(cfg(4), tmp_path / "a", **kw)
    run_ppo(cfg(2), tmp_path / "b", **kw)
    resumed = run_ppo(cfg(4), tmp_path / "b", resume=True, progress=False, tensorboard=False)
    best_a = load_checkpoint(tmp_path / "a" / "checkpoint_best.pt")
    best_b = load_checkpoint(tmp_path / "b" / "checkpoint_best.pt")
    info = best_a["best"]
    assert info == best_b["best"] == load_checkpoint(tmp_path / "a" / "checkpoint.pt")["best"]
    assert info["best_by"] == "success_within_limit" and info["episodes"] == 1
    assert 1 <= info["iteration"] <= 4 and info["env_steps"] == info["iteration"] * per_rollout
    assert straight["eval/best_cost_mean"] == resumed["eval/best_cost_mean"] == info["cost_mean"]
    assert straight["eval/best_env_steps"] == resumed["eval/best_env_steps"] == info["env_steps"]
    for k, v in best_a["model"].items():
        assert torch.equal(v, best_b["model"][k]), k
    # it is the policy of that iteration: a run stopped there ends with the same weights
    run_ppo(cfg(info["iteration"]), tmp_path / "c", **kw)
    stopped = load_checkpoint(tmp_path / "c" / "checkpoint.pt")
    for k, v in best_a["model"].items():
        assert torch.equal(v, stopped["model"][k]), k
