"""PID Lagrangian multiplier (Stooke, Achiam & Abbeel 2020, "Responsive Safety in Reinforcement
Learning by PID Lagrangian Methods", ICML; their Algorithm 2 plus EMA smoothing).

The gradient-ascent Lagrange multiplier is an integral controller alone: lambda keeps rising
until the cost has been below the limit for a while, so the cost oscillates around the limit
and overshoots it. Adding a proportional term (react to the current error) and a derivative term
(react to a rising cost before it crosses the limit) damps that.

Update rule, once per rollout k = 1, 2, ... with measured mean episode cost J_k and limit d::

    e_k = J_k - d                                         error
    I_k = max(0, I_{k-1} + e_k)                           integral, I_0 = 0; the clamp keeps a
                                                          long safe stretch from winding it down
                                                          below 0 (anti-windup)
    S_k = J_1 (k = 1),  a_c S_{k-1} + (1 - a_c) J_k       EMA of the cost (a_c = 0: raw cost)
    r_k = 0   (k = 1),  max(0, S_k - S_{k-1})             rise of the smoothed cost (only rises
                                                          push lambda; a falling cost leaves it)
    D_k = a_d D_{k-1} + (1 - a_d) r_k                     EMA of the rise, D_0 = 0 (a_d = 0: raw)
    lambda_k = max(0, Kp (S_k - d) + Ki I_k + Kd D_k)

With ``a_c = a_d = 0`` this is ``lambda = max(0, Kp e + Ki sum(e) + Kd max(0, delta e))``, the
paper's rule. One deviation: the paper starts with a previous cost of 0, so its first derivative
is the whole first cost; here the first update has no derivative (there is no earlier
measurement to compare with). Before the first update lambda is ``init``.
"""

from __future__ import annotations

from typing import Any

from safevla_train.multiplier import Multiplier, check_cost


class PIDLagrange(Multiplier):
    """A multiplier set by a PID controller on the episode-cost error (rule in the module doc).

    Args:
        cost_limit: d, the allowed expected episode cost (>= 0).
        kp: proportional gain (>= 0).
        ki: integral gain (>= 0).
        kd: derivative gain (>= 0).
        cost_ema: a_c, EMA weight of the previous smoothed cost in [0, 1) (0 = no smoothing).
        deriv_ema: a_d, EMA weight of the previous derivative term in [0, 1) (0 = no smoothing).
        init: lambda before the first update (>= 0).
    """

    name = "pid"

    def __init__(
        self,
        cost_limit: float,
        kp: float = 0.1,
        ki: float = 0.01,
        kd: float = 0.01,
        cost_ema: float = 0.0,
        deriv_ema: float = 0.0,
        init: float = 0.0,
    ) -> None:
        super().__init__(cost_limit)
        for label, gain in (("kp", kp), ("ki", ki), ("kd", kd), ("init", init)):
            if gain < 0:
                raise ValueError(f"pid {label} must be >= 0, got {gain}")
        for label, weight in (("cost_ema", cost_ema), ("deriv_ema", deriv_ema)):
            if not 0.0 <= weight < 1.0:
                raise ValueError(f"pid {label} must be in [0, 1), got {weight}")
        self.kp, self.ki, self.kd = float(kp), float(ki), float(kd)
        self.cost_ema, self.deriv_ema = float(cost_ema), float(deriv_ema)
        self.integral = 0.0
        self.smoothed_cost: float | None = None  # S_{k-1}; None before the first update
        self.derivative = 0.0
        self._lambda = float(init)

    @classmethod
    def from_config(cls, cfg: Any) -> PIDLagrange:
        """``cost_limit``, the ``pid_*`` gains and ``lagrange_init`` of a PPOConfig."""
        return cls(
            cfg.cost_limit,
            kp=cfg.pid_kp,
            ki=cfg.pid_ki,
            kd=cfg.pid_kd,
            cost_ema=cfg.pid_cost_ema,
            deriv_ema=cfg.pid_deriv_ema,
            init=cfg.lagrange_init,
        )

    @property
    def value(self) -> float:
        """Current lambda."""
        return self._lambda

    def update(self, mean_episode_cost: float) -> float:
        """One controller step from the rollout's mean episode cost; returns the new lambda."""
        cost = check_cost(mean_episode_cost)
        self.integral = max(0.0, self.integral + (cost - self.cost_limit))
        previous = self.smoothed_cost
        if previous is None:
            smoothed, rise = cost, 0.0
        else:
            smoothed = self.cost_ema * previous + (1.0 - self.cost_ema) * cost
            rise = max(0.0, smoothed - previous)
        self.smoothed_cost = smoothed
        self.derivative = self.deriv_ema * self.derivative + (1.0 - self.deriv_ema) * rise
        raw = (
            self.kp * (smoothed - self.cost_limit)
            + self.ki * self.integral
            + self.kd * self.derivative
        )
        self._lambda = max(0.0, raw)
        return self._lambda

    def state_dict(self) -> dict:
        """lambda, the limit, the gains and the controller memory (for checkpoints)."""
        return {
            "kind": self.name,
            "lambda": self._lambda,
            "cost_limit": self.cost_limit,
            "gains": {"kp": self.kp, "ki": self.ki, "kd": self.kd},
            "ema": {"cost": self.cost_ema, "deriv": self.deriv_ema},
            "integral": self.integral,
            "smoothed_cost": self.smoothed_cost,
            "derivative": self.derivative,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        self._check_kind(state)
        self._lambda = float(state["lambda"])
        self.cost_limit = float(state["cost_limit"])
        self.kp, self.ki, self.kd = (float(state["gains"][k]) for k in ("kp", "ki", "kd"))
        self.cost_ema = float(state["ema"]["cost"])
        self.deriv_ema = float(state["ema"]["deriv"])
        self.integral = float(state["integral"])
        smoothed = state["smoothed_cost"]
        self.smoothed_cost = None if smoothed is None else float(smoothed)
        self.derivative = float(state["derivative"])
