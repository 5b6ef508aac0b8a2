"""The trainer's periodic evaluation: its torch policy through the evaluator, on fresh seeded
training-distribution episodes.

The policy runs greedily (argmax) with the same step cache the deployed runtime uses, as an
in-process :class:`safevla_eval.agents.Agent`, through :func:`safevla_eval.runner.run_agent`,
the episode loop ``safevla eval`` uses. The metrics are :func:`safevla_eval.metrics.summarize`'s
(``success_rate``, ``cost_mean``, ``cost_by_category``, ``episode_length_mean``, ...), the names
of the ``safevla eval`` results. The full benchmark evaluation of exported bundles is
``safevla eval``; this one is for training curves.
"""

from __future__ import annotations

import numpy as np
import torch

from safevla_core.action_choice import GREEDY, choose_action
from safevla_eval.agents import Proposed
from safevla_eval.metrics import summarize
from safevla_eval.runner import make_env, run_agent
from safevla_train.config import EnvSettings, RiskConfig
from safevla_train.model import VLAPolicy
from safevla_train.risk import RiskElicitingSampler
from safevla_train.rollout import Stepper

EVAL_SEED_OFFSET = 1_000_003


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
        probs = torch.softmax(self.stepper.logits(batch)[0], -1).numpy()
        return Proposed(choose_action(probs, GREEDY), probs)

    def record(self, action: int) -> None:
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


@torch.no_grad()
def evaluate(model: VLAPolicy, settings: EnvSettings, episodes: int, seed: int) -> dict:
    """Greedy evaluation; episode i of a call is the same for the same ``seed``.

    Returns:
        the metrics block of :func:`safevla_eval.metrics.summarize` (95% bootstrap intervals
        in ``ci95``, seeded by ``seed``).
    """
    env = make_env(settings.max_steps, settings.nav_size)
    try:
        eps = draw_episodes(env.backend, settings, episodes, seed)
        records = run_agent(
            TorchAgent(model),
            eps,
            name="trainer",
            max_steps=settings.max_steps,
            seed=seed,
            env=env,
        )
    finally:
        env.close()
    return summarize(records, seed=seed)
