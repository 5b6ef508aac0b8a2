"""Exact per-action cost labels: try every action from one simulator state and come back.

The safety critic (:mod:`safevla_core.safety_critic`) learns ``P(cost event in category k |
state s, action a)`` for all 20 actions at once. A trajectory only shows the cost of the action
that was taken; the simulator can show all of them. :class:`ActionProbe` snapshots the complete
state of a MuJoCo-backed :class:`~sim_bridge.env.SafeChoresEnv`, runs each action through the
same physics and cost model as :meth:`SafeChoresEnv.step` (:meth:`SafeChoresEnv.advance`),
records the per-category cost, and restores the state before the next action and at the end.

What one label means (``horizon`` = H, default 1)::

    y[a, k] = 1  iff  category k costs > 0 in some step of: a, then a repeated H - 1 times,
                      started from the probed state (same physics, same cost model state)

H = 1 is exactly "the next step's cost if the robot takes ``a`` now", which is what the monitor
decides on. H > 1 ("keep doing it") also flags an action whose harm comes a step later (the
second 0.2 m into a wall corner); there is no no-op continuation because ``end``/``sub_done``
run no physics, so "a then nothing" is the H = 1 label. ``end`` and ``sub_done`` are never costed
(:attr:`SafetySpec.uncosted_actions`): their labels are 0 and they are still run, to keep the
probe honest.

The state that is saved and restored (everything the next step reads):

* MuJoCo: the whole ``MjData`` and the model arrays grasping edits
  (:meth:`sim_bridge.mujoco.physics.SceneSim.snapshot`), the held object, the render-noise RNG;
* the cost model's ignore list, 100-step visibility memory, previous pose and held object
  (:meth:`sim_bridge.costs.CostModel.state`);
* the env's step counter, previous action, motion feedback (``bump``), object states, target
  distance and image RNG.

Each restore is verified (qpos, qvel, act, ctrl, time and the object states are compared with
the snapshot; any difference raises :class:`ProbeRestoreError`), and the test suite checks that
probing and then stepping gives bit-identical observations and costs to stepping alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from safevla_core.actions import NUM_ACTIONS


class ProbeRestoreError(RuntimeError):
    """The simulator did not come back to the probed state; labels after it would be wrong."""


@dataclass
class EnvSnapshot:
    """One probed state: backend snapshot, cost model state, the env's own per-step fields."""

    backend: object
    cost: tuple
    steps: int
    prev_action: int
    bump: np.ndarray
    objects: list
    dist: float
    img_rng: dict


class ActionProbe:
    """Labels the current state of ``env`` with the cost of every action.

    Args:
        env: a :class:`~sim_bridge.env.SafeChoresEnv` whose backend has ``snapshot`` and
            ``restore`` (the embedded MuJoCo backend).
        horizon: steps per label (see the module docstring); 1 = the next step only.
        verify: compare the restored state with the snapshot after every action.
    """

    def __init__(self, env, horizon: int = 1, verify: bool = True) -> None:
        if not hasattr(env.backend, "snapshot") or not hasattr(env.backend, "restore"):
            raise ValueError(
                f"backend {env.backend.name!r} cannot snapshot its state; the action probe "
                "needs the embedded MuJoCo backend (EnvConfig.backend='mujoco')"
            )
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.env = env
        self.horizon = int(horizon)
        self.verify = verify
        self.categories = env.cost_model.spec.categories
        self.states = 0
        self.seconds = 0.0

    @property
    def rate(self) -> float:
        """States labelled per second so far (0 before the first)."""
        return self.states / self.seconds if self.seconds > 0 else 0.0

    def snapshot(self) -> EnvSnapshot:
        env = self.env
        return EnvSnapshot(
            backend=env.backend.snapshot(),
            cost=env.cost_model.state(),
            steps=env.steps,
            prev_action=env._prev_action,
            bump=env._bump.copy(),
            objects=env._objects,
            dist=env._dist,
            img_rng=env._img_rng.bit_generator.state,
        )

    def restore(self, snap: EnvSnapshot) -> None:
        env = self.env
        env.backend.restore(snap.backend)
        env.cost_model.set_state(snap.cost)
        env.steps, env._prev_action = snap.steps, snap.prev_action
        env._bump = snap.bump.copy()
        env._objects, env._dist = snap.objects, snap.dist
        env._img_rng.bit_generator.state = snap.img_rng
        if self.verify:
            self._check(snap)

    def _check(self, snap: EnvSnapshot) -> None:
        sim = self.env.backend._sim
        want = snap.backend[1].data
        for name in ("qpos", "qvel", "act", "ctrl", "time"):
            if not np.array_equal(getattr(sim.data, name), getattr(want, name)):
                raise ProbeRestoreError(f"MuJoCo {name} differs from the snapshot after restore")
        now = self.env.backend.objects()
        if any(not np.array_equal(a.position, b.position) for a, b in zip(now, snap.objects)):
            raise ProbeRestoreError("object positions differ from the snapshot after restore")

    def label(self) -> np.ndarray:
        """``(NUM_ACTIONS, C)`` float32 cost of each action in each category (0/1 events for
        the Safety-CHORES cost model; with ``horizon`` > 1 the max over the steps). The env is
        left exactly where it was."""
        t0 = time.perf_counter()
        env = self.env
        if env.episode is None:
            raise RuntimeError("reset the env before probing it")
        snap = self.snapshot()
        out = np.zeros((NUM_ACTIONS, len(self.categories)), np.float32)
        try:
            for a in range(NUM_ACTIONS):
                for _ in range(self.horizon):
                    _, sc = env.advance(a)
                    out[a] = np.maximum(out[a], [sc.by_category[c] for c in self.categories])
                self.restore(snap)
        except BaseException:
            self.restore(snap)
            raise
        self.states += 1
        self.seconds += time.perf_counter() - t0
        return out
