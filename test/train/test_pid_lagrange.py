"""PID Lagrangian multiplier: the controller on hand-computed sequences, exact resume, the
multiplier registry and its use by PPO-Lagrangian."""

from __future__ import annotations

import copy

import pytest
import torch

from safevla_train import registry
from safevla_train.config import ModelConfig, PPOConfig, apply_overrides
from safevla_train.lagrange import Lagrange
from safevla_train.model import VLAPolicy
from safevla_train.pid_lagrange import PIDLagrange
from safevla_train.ppo import ALGORITHM_CLASSES, PPOLag


def test_pid_follows_the_hand_computed_sequence():
    pid = PIDLagrange(cost_limit=2.0, kp=0.5, ki=0.1, kd=1.0, init=0.3)
    assert pid.value == 0.3  # before any update
    # (cost, lambda) by hand: e = J - 2, I = max(0, I + e), rise = max(0, J - J_prev), none at k=1
    steps = [
        (5.0, 0.5 * 3 + 0.1 * 3),  # e=3, I=3, no derivative on the first update
        (3.0, 0.5 * 1 + 0.1 * 4),  # e=1, I=4, cost fell: rise 0
        (1.0, 0.0),  # e=-1, I=3: 0.5*-1 + 0.3 < 0 -> clamped to 0
        (0.0, 0.0),  # e=-2, I=1: -1 + 0.1 < 0
        (4.0, 0.5 * 2 + 0.1 * 3 + 1.0 * 4),  # e=2, I=3, rise 4
        (0.0, 0.0),  # e=-2, I=1
        (0.0, 0.0),  # e=-2, I=max(0, -1)=0: the integral clamp (anti-windup)
        (3.0, 0.5 * 1 + 0.1 * 1 + 1.0 * 3),  # e=1, I=1 (unclamped it would be 0), rise 3
    ]
    for cost, want in steps:
        assert pid.update(cost) == pytest.approx(want, abs=1e-12), cost
    assert pid.integral == pytest.approx(1.0)


def test_pid_ema_smooths_cost_and_derivative():
    pid = PIDLagrange(cost_limit=1.0, kp=1.0, ki=0.0, kd=1.0, cost_ema=0.5, deriv_ema=0.5)
    # S = .5 S + .5 J (S_1 = J_1); rise = max(0, S - S_prev); D = .5 D + .5 rise
    # J=3: S=3,   D=0          -> 2
    # J=5: S=4,   rise 1, D=.5 -> 3 + .5
    # J=5: S=4.5, rise .5, D=.5 -> 3.5 + .5
    # J=1: S=2.75, rise 0, D=.25 -> 1.75 + .25
    got = [pid.update(c) for c in (3.0, 5.0, 5.0, 1.0)]
    assert got == pytest.approx([2.0, 3.5, 4.0, 2.0], abs=1e-12)


def test_pid_state_roundtrip_continues_identically():
    a = PIDLagrange(1.5, kp=0.2, ki=0.05, kd=0.3, cost_ema=0.9, deriv_ema=0.7, init=0.1)
    for c in (3.0, 2.5, 0.2, 4.1):
        a.update(c)
    saved = copy.deepcopy(a.state_dict())
    b = PIDLagrange(9.0, kp=5.0, ki=5.0, kd=5.0, init=2.0)  # every setting differs
    b.load_state_dict(saved)
    assert b.value == a.value
    seq = (4.0, 0.0, 7.3, 1.2)
    assert [a.update(c) for c in seq] == [b.update(c) for c in seq]


def test_pid_rejects_bad_settings_and_costs():
    with pytest.raises(ValueError, match="kd must be >= 0, got -1"):
        PIDLagrange(1.0, kd=-1)
    with pytest.raises(ValueError, match="cost_ema must be in"):
        PIDLagrange(1.0, cost_ema=1.0)
    with pytest.raises(ValueError, match="cost_limit"):
        PIDLagrange(-1.0)
    with pytest.raises(ValueError, match="finite"):
        PIDLagrange(1.0).update(float("nan"))


def test_state_of_another_multiplier_is_refused():
    with pytest.raises(ValueError, match="'pid', not 'lagrange'"):
        Lagrange(1.0).load_state_dict(PIDLagrange(1.0).state_dict())
    with pytest.raises(ValueError, match="'lagrange', not 'pid'"):
        PIDLagrange(1.0).load_state_dict(Lagrange(1.0).state_dict())


def test_config_selects_and_checks_the_multiplier():
    cfg = apply_overrides(PPOConfig(), {"multiplier": "pid", "pid_kp": 0.4, "cost_limit": 3})
    m = registry.make_multiplier(cfg)
    assert isinstance(m, PIDLagrange) and (m.kp, m.cost_limit) == (0.4, 3.0)
    assert m.value == cfg.lagrange_init
    assert isinstance(registry.make_multiplier(PPOConfig()), Lagrange)  # default unchanged
    with pytest.raises(ValueError, match="multiplier='adam'"):
        PPOConfig(multiplier="adam")
    with pytest.raises(ValueError, match=r"pid_ki=-0\.5"):
        PPOConfig(pid_ki=-0.5)
    with pytest.raises(ValueError, match=r"pid_deriv_ema=1\.5"):
        PPOConfig(pid_deriv_ema=1.5)


def test_registries_name_every_class_once():
    assert set(ALGORITHM_CLASSES) == set(registry.PPO_ALGORITHMS)
    assert set(registry.ALGORITHMS) == {registry.BC, registry.DAGGER, *registry.PPO_ALGORITHMS}
    assert all(name == cls.name for name, cls in registry.MULTIPLIERS.items())
    assert registry.DEFAULT_MULTIPLIER == "lagrange" == PPOConfig().multiplier


def test_ppo_lag_uses_the_configured_multiplier_and_saves_it():
    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(cnn_channels=(8,), d_model=16, num_heads=2, context_length=2))
    cfg = PPOConfig(multiplier="pid", cost_limit=1.0, pid_kp=1.0, pid_ki=0.0, pid_kd=0.0)
    algo = PPOLag(model, cfg)
    assert algo.after_rollout(3.0) == {"safety/lambda": 2.0}
    assert algo.after_rollout(None) == {"safety/lambda": 2.0}  # no finished episode: no update
    state = algo.state_dict()
    assert state["lagrange"]["kind"] == "pid"
    again = PPOLag(model, cfg)
    again.load_state_dict(state)
    assert again.multiplier.value == 2.0
