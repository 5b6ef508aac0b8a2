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
        self.issued: dict[str, tuple[Episode, bool]] = {}  # id -> (episode, is a replay)
        self.replays = 0
        self.fresh = 0
        self.generation_failures = 0

    def __call__(self, backend, rng: np.random.Generator) -> Episode:
        replay = bool(self.cfg.enabled and self.pool and rng.random() < self.cfg.replay_prob)
        if replay:
            costs = np.array([c for _, c in self.pool], np.float64)
            ep = self.pool[int(rng.choice(len(self.pool), p=costs / costs.sum()))][0]
            self.replays += 1
        else:
            ep = self._fresh(backend, rng)
            self.fresh += 1
        self.issued[ep.episode_id] = (ep, replay)
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

    def record(self, episode_id: str, cost: float) -> bool:
        """Report a finished episode's total cost (from the vec env's ``info["episode"]``).

        Returns:
            whether that episode was a replay from the risky pool (False for one this sampler
            did not issue).
        """
        ep, replay = self.issued.pop(episode_id, (None, False))
        if ep is None or not self.cfg.enabled or cost < self.cfg.min_cost:
            return replay
        self.pool = deque(
            [(e, c) for e, c in self.pool if e.episode_id != episode_id], maxlen=self.cfg.pool_size
        )
        self.pool.append((ep, float(cost)))
        return replay

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


class WorkerSampler:
    """Env k's :class:`RiskElicitingSampler` seen from the learner while it lives in a worker
    process or a Ray actor: the same methods and counters, each one a call to that worker
    (through the vec env's ``source_call``). The collector feeds an episode's cost back right
    after the step that ended it, before the worker draws again, exactly as in-process."""

    def __init__(self, venv, k: int) -> None:
        self.venv, self.k = venv, k

    def _call(self, name: str, *args):
        return self.venv.source_call(self.k, name, args)

    def record(self, episode_id: str, cost: float) -> bool:
        return bool(self._call("record", episode_id, float(cost)))

    def forget_running(self) -> None:
        self._call("forget_running")

    def state_dict(self) -> dict:
        return self._call("state_dict")

    def load_state_dict(self, state: dict) -> None:
        self._call("load_state_dict", state)

    @property
    def replays(self) -> int:
        return self.venv.source_call(self.k, "replays", None)

    @property
    def fresh(self) -> int:
        return self.venv.source_call(self.k, "fresh", None)

    @property
    def generation_failures(self) -> int:
        return self.venv.source_call(self.k, "generation_failures", None)


def make_envs(settings: EnvSettings, risk: RiskConfig, subprocess: bool = False):
    """A vectorised env of ``settings.num_envs`` envs and their risk samplers.

    Args:
        settings: which envs; ``settings.vec_backend`` says where they run ("sync": this
            process; "subprocess": a worker process each; "ray": a Ray actor each, at
            ``settings.ray_address``).
        risk: risk-eliciting replay settings of the samplers.
        subprocess: run "sync" envs in worker processes instead (DAgger's own switch).

    Returns:
        (venv, samplers): samplers[k] is env k's episode source: the sampler itself in this
        process, or a :class:`WorkerSampler` reaching it in its worker. Env k is built with
        the same sampler state and reset with the same seeds on every backend, so the
        observations, rewards, costs and episodes are the same.
    """
    import functools

    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episode_gen import EpisodeSampler
    from sim_bridge.vec_env import SyncVecEnv, vec_env_of

    env_cfg = EnvConfig(
        nav_size=settings.nav_size,
        manip_size=settings.nav_size if settings.render_manip else (16, 16),
        max_steps=settings.max_steps,
        shaping_coef=settings.shaping_coef,
        render_manip=settings.render_manip,
        explored_map=settings.explored_map,
        range_scan=settings.range_scan,
    )
    samplers = [
        RiskElicitingSampler(
            EpisodeSampler(settings.tasks, "train", scene_count=settings.scene_count), risk
        )
        for _ in range(settings.num_envs)
    ]
    kind = settings.vec_backend
    if kind == "sync" and subprocess:
        kind = "subprocess"
    if kind == "sync":
        return SyncVecEnv([lambda s=s: make_env(s, env_cfg) for s in samplers]), samplers
    fns = [functools.partial(make_env, s, env_cfg) for s in samplers]
    venv = vec_env_of(fns, kind, settings.ray_address)
    return venv, [WorkerSampler(venv, k) for k in range(venv.num_envs)]
