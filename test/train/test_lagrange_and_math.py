"""Lagrange multiplier update and the PPO-family math on hand-computed numbers."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from safevla_train.lagrange import Lagrange
from safevla_train.ppo import lagrangian_advantage, ppo_clip_loss
from safevla_train.returns import cost_to_go, discounted_sum, gae


def test_lambda_rises_above_limit_and_first_step_is_adam_lr():
    lag = Lagrange(cost_limit=2.0, init=0.001, lr=0.035)
    # Adam's first step moves by lr * sign(grad): grad = -(5 - 2) < 0 -> lambda += 0.035
    assert math.isclose(lag.update(5.0), 0.036, abs_tol=1e-6)
    values = [lag.update(5.0) for _ in range(10)]
    assert all(b > a for a, b in itertools.pairwise(values))


def test_lambda_decays_below_limit_and_clamps_at_zero():
    lag = Lagrange(cost_limit=2.0, init=0.1, lr=0.035)
    seen = [lag.update(0.5) for _ in range(10)]
    assert seen[0] < 0.1
    assert min(seen) == 0.0 and all(v >= 0.0 for v in seen)
    assert seen[-1] == 0.0


def test_lambda_state_roundtrip_continues_identically():
    a = Lagrange(1.0)
    for c in (3.0, 2.5, 0.2):
        a.update(c)
    b = Lagrange(1.0, init=0.5)
    b.load_state_dict(a.state_dict())
    assert [a.update(4.0) for _ in range(3)] == [b.update(4.0) for _ in range(3)]


@pytest.mark.parametrize(
    "kw", [{"cost_limit": -1}, {"cost_limit": 1, "init": -0.1}, {"cost_limit": 1, "lr": 0}]
)
def test_lagrange_rejects_bad_settings(kw):
    with pytest.raises(ValueError):
        Lagrange(**kw)


def test_ppo_clip_loss_by_hand():
    logp_old = torch.zeros(4)
    logp = torch.log(torch.tensor([1.5, 0.5, 1.05, 0.7]))
    adv = torch.tensor([2.0, 2.0, -1.0, -1.0])
    # per element min(r A, clip(r, .8, 1.2) A): [1.2*2, 0.5*2, -1.05, -0.8]
    want = -(2.4 + 1.0 - 1.05 - 0.8) / 4
    assert math.isclose(float(ppo_clip_loss(logp, logp_old, adv, 0.2)), want, rel_tol=1e-6)


def test_lagrangian_advantage_by_hand():
    out = lagrangian_advantage(torch.tensor([3.0]), torch.tensor([1.0]), 0.5)
    assert math.isclose(float(out), (3.0 - 0.5) / 1.5, rel_tol=1e-6)
    assert float(lagrangian_advantage(torch.tensor([3.0]), torch.tensor([9.0]), 0.0)) == 3.0


def test_gae_by_hand_with_termination():
    x = torch.tensor([[1.0, 0.0, 2.0]])
    v = torch.tensor([[0.5, 0.4, 0.3]])
    nv = torch.tensor([[0.4, 0.3, 0.0]])  # step 2 terminates -> V(s_3) = 0
    done = torch.tensor([[False, False, True]])
    g, lam = 0.9, 0.5
    d2 = 2.0 - 0.3
    d1 = 0.0 + g * 0.3 - 0.4
    d0 = 1.0 + g * 0.4 - 0.5
    a2, a1 = d2, d1 + g * lam * d2
    a0 = d0 + g * lam * a1
    adv, ret = gae(x, v, nv, done, g, lam)
    torch.testing.assert_close(adv, torch.tensor([[a0, a1, a2]]))
    torch.testing.assert_close(ret, adv + v)


def test_gae_does_not_leak_across_episodes():
    x = torch.tensor([[0.0, 5.0]])
    adv, _ = gae(x, torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[True, False]]), 1.0, 1.0)
    assert float(adv[0, 0]) == 0.0


def test_cost_to_go_per_category():
    c = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    done = torch.tensor([[False, True, False]])
    y = cost_to_go(c, done, 0.5)
    torch.testing.assert_close(y, torch.tensor([[[1.0, 0.5], [0.0, 1.0], [1.0, 1.0]]]))
    torch.testing.assert_close(cost_to_go(c, done, 0.0), c)


def test_discounted_sum_is_the_monte_carlo_return_without_done():
    x = torch.tensor([[1.0, 2.0, 4.0]])
    g = 0.5
    want = torch.tensor([[1.0 + g * 2.0 + g * g * 4.0, 2.0 + g * 4.0, 4.0]])
    torch.testing.assert_close(discounted_sum(x, g), want)
    # done cuts the sum; the same recursion is GAE with discount gamma * lambda
    cut = discounted_sum(x, g, torch.tensor([[True, False, False]]))
    torch.testing.assert_close(cut, torch.tensor([[1.0, 2.0 + g * 4.0, 4.0]]))
