"""The one list of training algorithms and of CMDP multipliers, by name.

The CLI (``safevla train ALGO``, ``--multiplier NAME``), the config checks and the trainer's
factories all read these. Adding a multiplier is one file with a :class:`Multiplier` subclass
and one line here. Nothing here imports torch: the CLI parser reads it for ``--help``.
"""

from __future__ import annotations

from typing import Any

from safevla_train.lagrange import Lagrange
from safevla_train.multiplier import Multiplier
from safevla_train.pid_lagrange import PIDLagrange

BC = "bc"
DAGGER = "dagger"
PPO = "ppo"
PPO_LAG = "ppo-lag"
PPO_PENALTY = "ppo-penalty"

# name -> one-line description (the CLI's help text), in the order the CLI lists them.
ALGORITHMS: dict[str, str] = {
    BC: "behaviour cloning on expert demonstrations",
    DAGGER: "stage 1 with DAgger: the learner drives, the teacher labels every visited state",
    PPO: "unconstrained PPO (baseline)",
    PPO_LAG: "PPO-Lagrangian (SafeVLA)",
    PPO_PENALTY: "PPO with a fixed cost penalty (baseline)",
}
# The stage-2 algorithms (:mod:`safevla_train.ppo`, ``PPOConfig.algo``).
PPO_ALGORITHMS: tuple[str, ...] = (PPO, PPO_LAG, PPO_PENALTY)

# name -> Multiplier class; the first entry is the default.
MULTIPLIERS: dict[str, type[Multiplier]] = {cls.name: cls for cls in (Lagrange, PIDLagrange)}
DEFAULT_MULTIPLIER = next(iter(MULTIPLIERS))


def make_multiplier(cfg: Any) -> Multiplier:
    """The multiplier named by ``cfg.multiplier`` (a PPOConfig), built from its fields.

    Raises:
        ValueError: an unknown name, listing the known ones.
    """
    try:
        cls = MULTIPLIERS[cfg.multiplier]
    except KeyError:
        raise ValueError(
            f"unknown multiplier {cfg.multiplier!r}; use one of {tuple(MULTIPLIERS)}"
        ) from None
    return cls.from_config(cfg)
