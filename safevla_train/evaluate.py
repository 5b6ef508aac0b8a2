"""The trainer's periodic evaluation: its torch policy through the evaluator, on fresh seeded
training-distribution episodes.

The policy runs greedily (argmax) with the same step cache the deployed runtime uses, through
the episode loop ``safevla eval`` uses: up to ``batch`` episodes in lockstep, one model step for
all of them (:class:`BatchedTorchAgent`, :func:`safevla_eval.runner.run_agent_batched`), or one
after another as an in-process :class:`safevla_eval.agents.Agent` (:class:`TorchAgent`,
:func:`safevla_eval.runner.run_agent`). Both give the same records: each slot's history is its
own episode's, and the greedy action of a step is the same unless its two largest logits lie
within float32 rounding of each other (torch's kernels round a batch of one and a larger batch
differently, by up to ~1e-5 in the logits).

The metrics are :func:`safevla_eval.metrics.summarize`'s (``success_rate``, ``cost_mean``,
``cost_by_category``, ``episode_length_mean``, ...), the names of the ``safevla eval`` results.
The full benchmark evaluation of exported bundles is ``safevla eval``; this one is for training
curves.
"""

from __future__ import annotations

import numpy as np
import torch

from safevla_core.action_choice import GREEDY, choose_action
from safevla_eval.agents import Proposed
from safevla_eval.metrics import summarize
from safevla_eval.runner import Job, PolicySpec, make_env, run_agent, run_batched
from safevla_train.config import EnvSettings, RiskConfig
from safevla_train.model import VLAPolicy
from safevla_train.risk import RiskElicitingSampler
from safevla_train.rollout import Stepper

EVAL_SEED_OFFSET = 1_000_003
# Episodes evaluated at once, an env each (~15 MB): 24 episodes of the objnav start (300 steps)
# take ~31 s at 8, ~29 s at 24, ~57 s one after another (one CPU thread).
EVAL_BATCH = 8


def _add_explored(batch: dict, model: VLAPolicy, envs) -> None:
    """For a policy that reads the explored map: each env's map of this step (the evaluation
    envs do not report it in their observations; ``env.explored()`` grows it once a step)."""
    if model.cfg.explored_input:
        batch["explored"] = [env.explored() for env in envs]


class TorchAgent:
    """A :class:`VLAPolicy` as an evaluator agent: greedy actions, history in the step cache.

    The action history comes from the env's ``prev_action`` observation, which is the
    executed action (the trainer's evaluation runs unshielded), exactly as in training.
    """

    def __init__(self, model: VLAPolicy) -> None:
        self.model = model
        self.stepper = Stepper(model, 1)

    def reset(self, seed: int) -> None:
        self.stepper = Stepper(self.model, 1)

    def propose(self, obs: dict, env) -> Proposed:
        batch = {key: [value] for key, value in obs.items()}  # a batch of one
        _add_explored(batch, self.model, [env])
        probs = torch.softmax(self.stepper.logits(batch)[0], -1).numpy()
        return Proposed(choose_action(probs, GREEDY), probs)

    def record(self, action: int) -> None:
        """The next observation's ``prev_action`` carries it."""


class BatchedTorchAgent:
    """:class:`TorchAgent` for ``slots`` episodes at once (a
    :class:`safevla_eval.runner.BatchedAgent`): one :class:`Stepper` cache row per slot, and
    one model step for all the slots asked together.

    Raises:
        ValueError: ``slots < 1``.
    """

    def __init__(self, model: VLAPolicy, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.slots = slots
        self.stepper = Stepper(model, slots)

    def reset(self, slot: int, seed: int) -> None:
        """Empty ``slot``'s cache and mask: what :class:`TorchAgent`'s fresh stepper holds."""
        self.stepper.cache[:, slot] = 0.0
        self.stepper.mask[slot] = 0.0

    def propose(self, slots, observations, envs) -> list[Proposed]:
        batch = {key: [obs[key] for obs in observations] for key in observations[0]}
        _add_explored(batch, self.stepper.model, envs)
        rows = list(slots)
        # the asked rows only (finished slots wait for their next episode with their caches)
        logits = self.stepper.logits(batch, None if rows == list(range(self.slots)) else rows)
        probs = torch.softmax(logits, -1).numpy()
        return [Proposed(choose_action(p, GREEDY), p) for p in probs]

    def record(self, slot: int, action: int) -> None:
        """The next observation's ``prev_action`` carries it."""


def draw_episodes(backend, settings: EnvSettings, episodes: int, seed: int) -> list:
    """``episodes`` fresh training-distribution episodes, seeded by ``seed`` (the episode
    source the trainer's envs use, risk replay off)."""
    from sim_bridge.episode_gen import EpisodeSampler

    sampler = RiskElicitingSampler(
        EpisodeSampler(settings.tasks, "train", scene_count=settings.scene_count),
        RiskConfig(enabled=False),
    )
    rng = np.random.default_rng(seed + EVAL_SEED_OFFSET)
    return [sampler(backend, rng) for _ in range(episodes)]


def _jobs(settings: EnvSettings, episodes: list, seed: int) -> list[Job]:
    """The evaluator's jobs for ``episodes``; each is seeded by its index in the call, wherever
    it runs."""
    spec = PolicySpec("trainer", "agent")
    common = dict(max_steps=settings.max_steps, seed=seed, manip=settings.render_manip)
    return [
        Job(spec, ep, i, nav_hw=tuple(settings.nav_size), **common)
        for i, ep in enumerate(episodes)
    ]


def _run_share(model: VLAPolicy, jobs: list[Job], batch: int, env) -> list:
    """``jobs`` in lockstep, up to ``batch`` at once (``env`` as the first slot)."""
    return run_batched(
        lambda slots: BatchedTorchAgent(model, slots),
        jobs,
        batch=min(batch, len(jobs)),
        envs=[env] if env is not None else (),
    )


def _worker_share(model_cfg, state: dict, settings: EnvSettings, jobs: list[Job], batch: int):
    """A worker process's share: the policy rebuilt from its weights, one torch thread."""
    torch.set_num_threads(1)
    model = VLAPolicy(model_cfg, detector_weights=False)
    model.load_state_dict(state)
    with torch.no_grad():
        return _run_share(model.eval(), jobs, batch, None)


@torch.no_grad()
def evaluate(
    model: VLAPolicy,
    settings: EnvSettings,
    episodes: int,
    seed: int,
    *,
    batch: int = EVAL_BATCH,
    workers: int = 1,
) -> dict:
    """Greedy evaluation; episode i of a call is the same for the same ``seed``.

    Args:
        model: the policy.
        settings: the training envs' settings (task mix, step limit, camera size).
        episodes: number of episodes.
        seed: evaluation seed.
        batch: episodes run at once in lockstep, each in its own env (1: one after another
            in one env, with :class:`TorchAgent`).
        workers: processes the episodes are shared among (contiguous shares; this process
            runs the first, spawned processes the others, each with a copy of the weights and
            one torch thread). The records are the same as in one process: each episode is
            seeded by its index in the call and each slot's history is its own.

    Returns:
        the metrics block of :func:`safevla_eval.metrics.summarize` (95% bootstrap intervals
        in ``ci95``, seeded by ``seed``).

    Raises:
        ValueError: ``batch < 1`` or ``workers < 1``.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    env = make_env(settings.max_steps, settings.nav_size, settings.render_manip)
    try:
        eps = draw_episodes(env.backend, settings, episodes, seed)
        if workers == 1 and batch == 1:
            records = run_agent(
                TorchAgent(model),
                eps,
                env=env,
                name="trainer",
                max_steps=settings.max_steps,
                seed=seed,
            )
        else:
            jobs = _jobs(settings, eps, seed)
            shares = [s.tolist() for s in np.array_split(np.arange(len(jobs)), workers) if len(s)]
            records = _run_shares(model, settings, jobs, shares, batch, env)
    finally:
        env.close()
    return summarize(records, seed=seed)


def _run_shares(model, settings, jobs, shares, batch, env) -> list:
    """The first share here, the others in spawned worker processes; records in job order."""
    if len(shares) == 1:
        return _run_share(model, jobs, batch, env)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with ProcessPoolExecutor(len(shares) - 1, mp_context=mp.get_context("spawn")) as pool:
        futures = [
            pool.submit(_worker_share, model.cfg, state, settings, [jobs[i] for i in share], batch)
            for share in shares[1:]
        ]
        records = _run_share(model, [jobs[i] for i in shares[0]], batch, env)
        for future in futures:
            records += future.result()
    return records
