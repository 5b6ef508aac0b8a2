"""PPO behind the shield (``ppo.shield_critic``) on the real MuJoCo env with a real ONNX critic:
what the policy proposes is what it is trained on, what the monitor refused never runs, each
veto costs ``ppo.veto_cost``, a stop leaves the policy's previous action as it was, and a
shielded run resumes bit-exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_critic import risk_table, write_tiny_critic
from tiny_model import SMALL as TINY
from tiny_model import TINY_ENV as ENV
from tiny_model import tiny_ppo_config

from safevla_core.actions import ACTION_NAMES, ACTIONS, SUB_DONE
from safevla_core.image_preprocessing import ImageSpec
from safevla_train.checkpoint import CheckpointError, load_checkpoint
from safevla_train.config import ModelConfig, PPOConfig, RiskConfig
from safevla_train.model import VLAPolicy
from safevla_train.risk import make_envs
from safevla_train.rollout import Collector
from safevla_train.shield_loop import TrainingShield
from safevla_train.train_ppo import run_ppo

SMALL = ModelConfig(**TINY)
AHEAD = ACTION_NAMES.index("move_ahead")
STEPS, VETO_COST = 24, 0.5


def _critic(tmp_path, risky: dict[int, float]):
    image = ImageSpec(height=16, width=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    return write_tiny_critic(tmp_path / "critic", image, risk_table(risky))


def _ahead_model() -> VLAPolicy:
    """A small random policy that proposes move_ahead about half the time."""
    torch.manual_seed(0)
    model = VLAPolicy(SMALL).eval()
    with torch.no_grad():
        model.actor.bias[AHEAD] += 4.0
    return model


def _rollout(model, shield=None):
    venv, samplers = make_envs(ENV, RiskConfig(enabled=False))
    try:
        col = Collector(
            venv, samplers, model, rollout_steps=STEPS, seed=0, shield=shield, veto_cost=VETO_COST
        )
        col.sync_reset(1)
        return col.collect()
    finally:
        venv.close()


def _executed_next(ro) -> tuple[np.ndarray, np.ndarray]:
    """(proposals, the previous action the next step reports) for the steps whose episode
    goes on (the next step's ``prev_action`` is what the env executed, or kept after a stop)."""
    p = ro.prev_action.shape[1] - STEPS
    proposed = ro.actions[:, :-1].numpy()
    nxt = ro.prev_action[:, p + 1 :].numpy()
    going_on = ~ro.done[:, :-1].numpy()
    return proposed[going_on], nxt[going_on]


@pytest.mark.slow
def test_a_vetoed_proposal_is_trained_on_never_executed_and_costs_the_veto(tmp_path):
    model = _ahead_model()
    plain = _rollout(model)
    proposed, executed = _executed_next(plain)
    assert ((proposed == AHEAD) & (executed == AHEAD)).any()  # unshielded, it runs

    shield = TrainingShield(_critic(tmp_path, {AHEAD: 0.9}), ENV.num_envs)
    ro = _rollout(model, shield)
    proposed, executed = _executed_next(ro)
    assert (proposed == AHEAD).sum() >= 5  # the policy still proposes it, and is trained on it
    assert not (executed == AHEAD).any()  # the monitor never let it run
    vetoed = (ro.actions == AHEAD).float()
    env_cost = ro.cost_cat.sum(-1)
    torch.testing.assert_close(ro.cost, env_cost + VETO_COST * vetoed)
    assert ro.episodes, "12-step episodes over 24 steps must end"
    for ep in ro.episodes:
        assert ep["vetoes"] >= 1
        assert ep["cost"] == pytest.approx(ep["env_cost"] + VETO_COST * ep["vetoes"])
        assert 0 <= ep["stops"] <= ep["vetoes"]


@pytest.mark.slow
def test_a_stop_executes_nothing_and_the_policy_keeps_its_previous_action(tmp_path):
    motions = {a: 0.9 for a, spec in enumerate(ACTIONS) if spec.moves_robot}
    shield = TrainingShield(_critic(tmp_path, motions), ENV.num_envs)
    ro = _rollout(_ahead_model(), shield)
    p = ro.prev_action.shape[1] - STEPS
    prev = ro.prev_action[:, p:].numpy()
    stopped = 0
    for k in range(ENV.num_envs):
        for t in range(STEPS - 1):
            if ro.done[k, t] or not ACTIONS[int(ro.actions[k, t])].moves_robot:
                continue
            stopped += 1  # every motion was refused: the robot stood, its history unchanged
            assert prev[k, t + 1] == prev[k, t], (k, t)
            assert prev[k, t + 1] != SUB_DONE
    assert stopped >= 5
    assert sum(ep["stops"] for ep in ro.episodes) >= 1


def test_the_shield_settings_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"veto_cost=0\.5 needs ppo\.shield_critic"):
        PPOConfig(veto_cost=0.5)
    with pytest.raises(ValueError, match=r"shield_critic='nowhere' is not a folder"):
        PPOConfig(shield_critic="nowhere")
    with pytest.raises(ValueError, match=r"veto_cost=-1\.0 must be"):
        PPOConfig(veto_cost=-1.0)
    critic = _critic(tmp_path, {})
    cfg = PPOConfig(shield_critic=str(critic), veto_cost=1.0)
    assert cfg.env.range_scan  # the critic in the loop reads the scans the envs then cast


@pytest.mark.slow
def test_a_shielded_run_logs_its_vetoes_and_resumes_exactly(tmp_path):
    critic = _critic(tmp_path, {AHEAD: 0.9})
    per_rollout = ENV.num_envs * 8

    def cfg(rollouts):
        return tiny_ppo_config(rollouts * per_rollout, shield_critic=str(critic), veto_cost=1.0)

    straight = run_ppo(cfg(4), tmp_path / "a", model_cfg=SMALL, progress=False, tensorboard=False)
    assert straight["safety/veto_rate"] > 0
    assert straight["safety/env_episode_cost"] >= 0
    run_ppo(cfg(2), tmp_path / "b", model_cfg=SMALL, progress=False, tensorboard=False)
    other = write_tiny_critic(
        tmp_path / "other",
        ImageSpec(height=16, width=16, mean=(0.5,) * 3, std=(0.25,) * 3),
        risk_table({AHEAD: 0.8}),
    )
    moved = tiny_ppo_config(4 * per_rollout, shield_critic=str(other), veto_cost=1.0)
    with pytest.raises(CheckpointError, match="behind the same critic bundle"):
        run_ppo(moved, tmp_path / "b", resume=True, progress=False, tensorboard=False)
    resumed = run_ppo(cfg(4), tmp_path / "b", resume=True, progress=False, tensorboard=False)
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert straight["losses/policy"] == resumed["losses/policy"]
    assert not ENV.range_scan  # the shared settings the config was given are unchanged
