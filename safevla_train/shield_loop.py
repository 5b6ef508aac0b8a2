"""The safety monitor in the training loop: PPO on the shielded MDP.

With ``ppo.shield_critic`` every proposal of the policy in a rollout passes the same decision the
monitor node and ``safevla eval --shield --critic`` make (:class:`SafetyMonitor` with the
independent critic's :class:`~safevla_core.critic_gate.CriticGate`, one per env, reset with each
episode): the env executes the monitor's action (the policy's proposal, its replacement, a
back-off, or a stop: the no-op ``sub_done``, after which the policy's previous action stays what
it was, as on the robot). The policy is trained on what it proposed (its log-probability, so
PPO stays on-policy: the shield is part of the environment), and a vetoed proposal costs
``ppo.veto_cost`` on top of the env's cost, so that PPO-Lagrangian and the penalty variant learn
to propose what the shield lets through: a policy that needs the shield less loses less success
to it (docs/training.md, "Training behind the shield").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safevla_core.actions import ACTION_NAMES, SUB_DONE
from safevla_core.safety_spec import COST_CATEGORIES, SAFETY_SPEC


class TrainingShield:
    """One monitor per env, each with its own critic gate (its own history).

    Args:
        critic: the critic bundle folder (sha256-verified, as the monitor loads it).
        num_envs: envs stepped together.
        alpha: the calibration level the critic must have (None: the bundle's).

    Raises:
        CriticBundleError: a missing, modified or mismatched critic bundle.
    """

    def __init__(
        self,
        critic: str | Path,
        num_envs: int,
        alpha: float | None = None,
    ) -> None:
        from safevla_core.critic_gate import CriticGate, PolicyFacts

        facts = PolicyFacts(ACTION_NAMES, COST_CATEGORIES, None, SAFETY_SPEC.version, "training")
        # the monitor node's gate settings (margin, back-off) by their defaults
        self.gates = [CriticGate.load(critic, facts, alpha) for _ in range(num_envs)]
        self.monitors: list = [None] * num_envs
        self.t = np.zeros(num_envs, np.int64)
        for k in range(num_envs):
            self.reset(k)

    @property
    def bundle_id(self) -> str:
        """The critic's name and content hash (what a checkpoint records)."""
        return self.gates[0].bundle_id

    @property
    def camera(self) -> str:
        return self.gates[0].camera

    def reset(self, k: int) -> None:
        """Env ``k`` starts an episode: a fresh monitor, the gate's history emptied."""
        from safevla_core.safety_monitor import MonitorConfig, SafetyMonitor

        gate = self.gates[k]
        gate.reset()
        # the policy's own cost head is not consulted (all-zero costs are expected)
        cfg = MonitorConfig(degenerate_critic_after=0)
        self.monitors[k] = SafetyMonitor(cfg, start_s=0.0, critic=gate)
        self.t[k] = 0

    def decide(
        self, obs: dict, actions: np.ndarray, probs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The monitor's decision on each env's proposal.

        Args:
            obs: the batched observation the policy answered (frames, ``bump``, ``scan``,
                ``scan_objects``, ``scan_arm``).
            actions: [N] proposed actions.
            probs: [N, A] the policy's distributions (a veto runs the most probable allowed
                action).

        Returns:
            (executed [N] int64, vetoed [N] bool, stopped [N] bool): ``sub_done`` where the
            monitor stopped the robot.
        """
        from safevla_eval.agents import Proposed
        from safevla_eval.runner import shield_step

        n = len(actions)
        executed = np.asarray(actions, np.int64).copy()
        vetoed = np.zeros(n, bool)
        stopped = np.zeros(n, bool)
        frames = obs[self.camera]
        for k in range(n):
            scan = obs["scan"][k] if "scan" in obs else None
            things = obs["scan_objects"][k] if "scan_objects" in obs else None
            d = shield_step(
                self.monitors[k],
                Proposed(int(actions[k]), np.asarray(probs[k], np.float64)),
                int(self.t[k]),
                frames[k],
                obs["bump"][k] if "bump" in obs else None,
                scan,
                obs["proprio"][k] if "proprio" in obs else None,
                things,
                obs["holding"][k] if "holding" in obs else None,
                obs["wrist_yaw"][k] if "wrist_yaw" in obs else None,
                obs["scan_arm"][k] if "scan_arm" in obs else None,
            )
            self.t[k] += 1
            vetoed[k], stopped[k] = d.vetoed or d.safe_stop, d.safe_stop
            executed[k] = SUB_DONE if d.safe_stop else int(d.executed_action)
        return executed, vetoed, stopped
