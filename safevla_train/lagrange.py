"""The Lagrange multiplier of the CMDP min-max problem (PPO-Lagrangian, SafeVLA).

Problem: ``max_pi min_{lambda >= 0} J_r(pi) - lambda (J_c(pi) - d)`` where ``J_c`` is the expected
episode cost and ``d`` the cost limit.

Update rule (once per rollout, as in the paper and omnisafe's ``Lagrange``):

    loss(lambda) = -lambda * (Jc_hat - d)            # Jc_hat: mean episode cost of the rollout
    lambda <- Adam_step(lambda, d loss / d lambda = -(Jc_hat - d), lr)
    lambda <- max(lambda, 0)

So lambda rises while the measured cost exceeds the limit, decays when it is below it, and is
clamped at 0. Paper values: lambda_0 = 0.001, Adam lr 0.035. The multiplier and its optimiser
state are saved in every checkpoint (the paper's released code lost lambda on resume).
"""

from __future__ import annotations

import copy
from typing import Any

from safevla_train.multiplier import Multiplier, check_cost


class Lagrange(Multiplier):
    """A non-negative Lagrange multiplier with an Adam update (rule in the module docstring).

    Args:
        cost_limit: d, the allowed expected episode cost (>= 0).
        init: lambda_0 (>= 0).
        lr: Adam learning rate of lambda (> 0).
    """

    name = "lagrange"

    def __init__(self, cost_limit: float, init: float = 0.001, lr: float = 0.035) -> None:
        # torch is imported here, not at the top: the multiplier registry is read by the CLI
        # parser and the config checks, which must work without the training extra.
        import torch

        super().__init__(cost_limit)
        if init < 0:
            raise ValueError(f"lagrange init must be >= 0, got {init}")
        if lr <= 0:
            raise ValueError(f"lagrange lr must be > 0, got {lr}")
        self.param = torch.nn.Parameter(torch.tensor(float(init)))
        self.optimizer = torch.optim.Adam([self.param], lr=lr)

    @classmethod
    def from_config(cls, cfg: Any) -> Lagrange:
        """``cost_limit``, ``lagrange_init`` and ``lagrange_lr`` of a PPOConfig."""
        return cls(cfg.cost_limit, cfg.lagrange_init, cfg.lagrange_lr)

    @property
    def value(self) -> float:
        """Current lambda."""
        return float(self.param.detach())

    def update(self, mean_episode_cost: float) -> float:
        """One Adam step on ``-lambda (mean_episode_cost - d)``, then clamp at 0.

        Returns:
            the new lambda.
        """
        import torch

        cost = check_cost(mean_episode_cost)
        self.optimizer.zero_grad()
        loss = -self.param * (cost - self.cost_limit)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.param.clamp_(min=0.0)
        return self.value

    def state_dict(self) -> dict:
        """lambda, the limit and the Adam state (for checkpoints)."""
        return {
            "kind": self.name,
            "lambda": self.value,
            "cost_limit": self.cost_limit,
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        import torch

        self._check_kind(state)
        with torch.no_grad():
            self.param.fill_(float(state["lambda"]))
        self.cost_limit = float(state["cost_limit"])
        self.optimizer.load_state_dict(state["optimizer"])
