"""Discounted backward sums: Monte-Carlo returns (BC), GAE and per-category cost-to-go (PPO).

All three are one recursion, run backwards in time along dim 1 of ``[N, T, ...]`` tensors::

    out_t = x_t + discount (1 - done_t) out_{t+1},        out_T = 0

* BC targets: ``x`` = rewards or costs of one whole episode, ``discount = gamma``, no ``done``.
* GAE (:func:`gae`): ``x = delta_t = r_t + gamma V(s_{t+1}) - V(s_t)``,
  ``discount = gamma lambda_GAE``; returns ``G_t = A_t + V(s_t)``.
* Q_c targets (:func:`cost_to_go`): ``x`` = per-category costs ``[N, T, C]``,
  ``discount = gamma_q`` (truncated at the rollout end).
"""

from __future__ import annotations

import torch


def discounted_sum(
    x: torch.Tensor, discount: float, done: torch.Tensor | None = None
) -> torch.Tensor:
    """``out_t = x_t + discount (1 - done_t) out_{t+1}`` backwards along dim 1.

    Args:
        x: ``[N, T, ...]`` values.
        discount: per-step factor.
        done: ``[N, T]`` bool; True cuts the sum after step t (an episode ended there).

    Returns:
        ``[N, T, ...]`` sums, same dtype as ``x``.
    """
    out = torch.zeros_like(x)
    run = torch.zeros_like(x[:, 0])
    trailing = (1,) * (x.dim() - 2)
    for t in range(x.shape[1] - 1, -1, -1):
        if done is None:
            run = x[:, t] + discount * run
        else:
            keep = (~done[:, t]).float().view(-1, *trailing)
            run = x[:, t] + discount * keep * run
        out[:, t] = run
    return out


def gae(
    x: torch.Tensor,
    value: torch.Tensor,
    next_value: torch.Tensor,
    done: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns over ``[N, T]`` tensors.

    ``x`` is the reward (for V_r) or the cost (for V_c); ``next_value`` is V(s_{t+1}), already 0
    where the episode terminated.
    """
    adv = discounted_sum(x + gamma * next_value - value, gamma * lam, done)
    return adv, adv + value


def cost_to_go(cost_cat: torch.Tensor, done: torch.Tensor, gamma_q: float) -> torch.Tensor:
    """Per-category discounted cost-to-go targets ``y [N, T, C]`` of the per-action cost critic."""
    return discounted_sum(cost_cat, gamma_q, done)
