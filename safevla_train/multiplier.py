"""The interface of a CMDP multiplier: what PPO-Lagrangian needs from lambda.

PPO-Lagrangian solves ``max_pi min_{lambda >= 0} J_r(pi) - lambda (J_c(pi) - d)``; ``J_c`` is the
expected episode cost and ``d`` the cost limit. A multiplier turns the measured mean episode cost
of each rollout into the next lambda. Implementations (each with its update rule in its class
docstring) are listed by name in :data:`safevla_train.registry.MULTIPLIERS`:

* ``lagrange`` (:class:`safevla_train.lagrange.Lagrange`): gradient ascent on lambda with Adam,
  as in SafeVLA (the default).
* ``pid`` (:class:`safevla_train.pid_lagrange.PIDLagrange`): a PID controller on the cost error
  (Stooke, Achiam & Abbeel 2020), which overshoots the limit less.

Every multiplier saves its whole state, so a resumed run continues with bit-identical lambdas.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar


def check_cost(mean_episode_cost: float) -> float:
    """``mean_episode_cost`` as a float.

    Raises:
        ValueError: the cost is NaN or infinite (a broken rollout must not move lambda).
    """
    cost = float(mean_episode_cost)
    if not math.isfinite(cost):
        raise ValueError(f"mean episode cost must be finite, got {mean_episode_cost}")
    return cost


class Multiplier(abc.ABC):
    """A non-negative multiplier lambda, updated once per rollout from the measured cost.

    Args:
        cost_limit: d, the allowed expected episode cost (>= 0).

    Attributes:
        name: the registry name (``--multiplier NAME``); also stored in :meth:`state_dict`.
    """

    name: ClassVar[str]

    def __init__(self, cost_limit: float) -> None:
        if cost_limit < 0:
            raise ValueError(f"cost_limit must be >= 0, got {cost_limit}")
        self.cost_limit = float(cost_limit)

    @classmethod
    @abc.abstractmethod
    def from_config(cls, cfg: Any) -> Multiplier:
        """Build from a :class:`safevla_train.config.PPOConfig` (its ``cost_limit`` and gains)."""

    @property
    @abc.abstractmethod
    def value(self) -> float:
        """Current lambda (>= 0)."""

    @abc.abstractmethod
    def update(self, mean_episode_cost: float) -> float:
        """One update from the mean episode cost of a rollout; returns the new lambda."""

    @abc.abstractmethod
    def state_dict(self) -> dict:
        """Everything the next :meth:`update` depends on (saved in checkpoints)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""

    def _check_kind(self, state: dict) -> None:
        # Checkpoints written before multipliers had names hold a Lagrange state.
        kind = state.get("kind", "lagrange")
        if kind != self.name:
            raise ValueError(f"multiplier state is of kind {kind!r}, not {self.name!r}")
