"""Risk elicitation: episodes in which the policy violated a constraint are replayed more often.

The paper elicits unsafe behaviour by concentrating training on the situations that produce it.
Here every training environment draws its episodes from a :class:`RiskElicitingSampler`:

    P(replay) = replay_prob  if the risky pool is non-empty, else 0
    replayed episode e ~ pool, with P(e) proportional to its episode cost C(e)

An episode (scene seed, start pose, target, instruction) enters the pool when it finishes with
cost ``C >= min_cost``; the pool keeps the ``pool_size`` most recent ones. Replaying the same
scene and start lets the policy practise exactly where it caused harm. Switched by
``RiskConfig.enabled``; its effect is logged as ``safety/replay_fraction`` and measured by the
share of episodes with cost in ``charts/`` and the benchmark report.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from safevla_train.config import EnvSettings, RiskConfig
from sim_bridge.episodes import Episode


class RiskElicitingSampler:
    """Episode source ``(backend, rng) -> Episode`` with a replay pool of risky episodes.

    Args:
        base: the fresh-episode source (``sim_bridge.episode_gen.EpisodeSampler``).
        cfg: replay settings; ``cfg.enabled = False`` makes this a pass-through.
    """

    def __init__(self, base, cfg: RiskConfig) -> None:
        self.base = base
        self.cfg = cfg
        self.pool: deque[tuple[Episode, float]] = deque(maxlen=cfg.pool_size)
        self.issued: dict[str, Episode] = {}
        self.replays = 0
        self.fresh = 0
        self.generation_failures = 0

    def __call__(self, backend, rng: np.random.Generator) -> Episode:
        if self.cfg.enabled and self.pool and rng.random() < self.cfg.replay_prob:
            costs = np.array([c for _, c in self.pool], np.float64)
            ep = self.pool[int(rng.choice(len(self.pool), p=costs / costs.sum()))][0]
            self.replays += 1
        else:
            ep = self._fresh(backend, rng)
            self.fresh += 1
        self.issued[ep.episode_id] = ep
        return ep

    def _fresh(self, backend, rng: np.random.Generator, tries: int = 5) -> Episode:
        """A fresh episode; a scene the generator fails on is skipped (counted), so one bad
        procedural scene cannot kill a long training run."""
        for attempt in range(tries):
            try:
                return self.base(backend, rng)
            except (ValueError, RuntimeError):
                self.generation_failures += 1
                if attempt == tries - 1:
                    raise
        raise AssertionError("unreachable")

    def record(self, episode_id: str, cost: float) -> None:
        """Report a finished episode's total cost (from the vec env's ``info["episode"]``)."""
        ep = self.issued.pop(episode_id, None)
        if ep is None or not self.cfg.enabled or cost < self.cfg.min_cost:
            return
        self.pool = deque(
            [(e, c) for e, c in self.pool if e.episode_id != episode_id], maxlen=self.cfg.pool_size
        )
        self.pool.append((ep, float(cost)))

    def forget_running(self) -> None:
        """Drop in-flight episodes (at a sync point every env is reset)."""
        self.issued.clear()

    def state_dict(self) -> dict:
        """Pool, counters and the base sampler's counter (for exact resume)."""
        return {
            "pool": [(e.to_dict(), c) for e, c in self.pool],
            "replays": self.replays,
            "fresh": self.fresh,
            "base_count": getattr(self.base, "count", 0),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.pool = deque(
            [(Episode.from_dict(e), float(c)) for e, c in state["pool"]],
            maxlen=self.cfg.pool_size,
        )
        self.replays, self.fresh = int(state["replays"]), int(state["fresh"])
        if hasattr(self.base, "count"):
            self.base.count = int(state["base_count"])
        self.issued.clear()


def make_envs(settings: EnvSettings, risk: RiskConfig, subprocess: bool = False):
    """A vectorised env of ``settings.num_envs`` envs and their risk samplers.

    Args:
        settings: which envs.
        risk: risk-eliciting replay settings of the samplers.
        subprocess: one worker process per env (``SubprocVecEnv``; the samplers then live in
            the workers, so only for sources that need no feedback, e.g. risk replay off);
            default ``SyncVecEnv`` in this process.

    Returns:
        (venv, samplers): samplers[k] is env k's episode source.
    """
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episode_gen import EpisodeSampler
    from sim_bridge.vec_env import SyncVecEnv

    env_cfg = EnvConfig(
        nav_size=settings.nav_size,
        manip_size=(16, 16),
        max_steps=settings.max_steps,
        shaping_coef=settings.shaping_coef,
        render_manip=False,
    )
    samplers = [
        RiskElicitingSampler(
            EpisodeSampler(settings.tasks, "train", scene_count=settings.scene_count), risk
        )
        for _ in range(settings.num_envs)
    ]
    if subprocess:
        import functools

        from sim_bridge.vec_env import SubprocVecEnv

        return SubprocVecEnv([functools.partial(make_env, s, env_cfg) for s in samplers]), samplers
    fns = [lambda s=s: make_env(s, env_cfg) for s in samplers]
    return SyncVecEnv(fns), samplers
