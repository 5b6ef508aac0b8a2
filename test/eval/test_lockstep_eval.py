"""Lockstep evaluation (several episodes at once, one batched model step) gives the records of
the one-after-another episode loop, on the real simulator with a real torch policy."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
from tiny_model import SMALL

from safevla_core.actions import ACTION_NAMES
from safevla_eval.agents import Agent, PolicySpec, Proposed, RandomAgent
from safevla_eval.runner import (
    Job,
    make_env,
    run_agent,
    run_agent_batched,
    run_batched,
)
from safevla_train.config import EnvSettings, ModelConfig
from safevla_train.evaluate import BatchedTorchAgent, TorchAgent, draw_episodes, evaluate
from safevla_train.model import VLAPolicy

SETTINGS = EnvSettings(num_envs=1, max_steps=12, tasks=("objnav", "pickup"), nav_size=(32, 32))
SEED = 3
MOTIONS = (
    "move_ahead",
    "move_back",
    "rotate_right",
    "rotate_left",
    "rotate_right_small",
    "rotate_left_small",
)


@pytest.fixture(scope="module")
def moving_model() -> VLAPolicy:
    """Random weights whose greedy actions follow the frames: the actor chooses among the
    motions and ``end`` (every other action far below), the previous-action embedding is
    damped and the image projection amplified, so the robot moves, turns and ends episodes at
    different steps."""
    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL)).eval()
    with torch.no_grad():
        model.act_emb.weight.mul_(0.05)
        model.img_proj.weight.normal_(0.0, 1.0)
        model.actor.weight.normal_(0.0, 1.0)
        model.actor.bias.fill_(-10.0)
        model.actor.bias[[ACTION_NAMES.index(a) for a in MOTIONS]] = 0.0
        model.actor.bias[ACTION_NAMES.index("end")] = -1.0
    return model


@pytest.fixture(scope="module")
def episodes():
    env = make_env(SETTINGS.max_steps, SETTINGS.nav_size)
    try:
        return draw_episodes(env.backend, SETTINGS, 5, seed=SEED)
    finally:
        env.close()


class PerSlotAgents:
    """A :class:`safevla_eval.runner.BatchedAgent` made of one
    :class:`~safevla_eval.agents.Agent` per slot, each proposing alone (only the stepping order
    is batched): the random agent's seeds must reach their own episodes.

    Args:
        make: builds one agent (called once per slot).
        slots: number of slots.
    """

    def __init__(self, make: Callable[[], Agent], slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.agents = [make() for _ in range(slots)]

    def reset(self, slot: int, seed: int) -> None:
        self.agents[slot].reset(seed)

    def propose(
        self, slots: Sequence[int], observations: Sequence[dict], envs: Sequence
    ) -> list[Proposed]:
        return [
            self.agents[k].propose(obs, env)
            for k, obs, env in zip(slots, observations, envs, strict=True)
        ]

    def record(self, slot: int, action: int) -> None:
        self.agents[slot].record(action)


class _Logged(TorchAgent):
    """:class:`TorchAgent` keeping the actions it proposed."""

    def __init__(self, model: VLAPolicy) -> None:
        super().__init__(model)
        self.actions: list[int] = []

    def propose(self, obs, env):
        p = super().propose(obs, env)
        self.actions.append(p.action)
        return p


def _batched(model, episodes, batch: int, agent=BatchedTorchAgent, envs=()):
    return run_agent_batched(
        lambda slots: agent(model, slots),
        episodes,
        batch=batch,
        max_steps=SETTINGS.max_steps,
        nav_hw=SETTINGS.nav_size,
        seed=SEED,
        envs=envs,
    )


def _sequential(model, episodes) -> tuple[list, list[int]]:
    agent = _Logged(model)
    env = make_env(SETTINGS.max_steps, SETTINGS.nav_size)
    try:
        records = run_agent(agent, episodes, max_steps=SETTINGS.max_steps, seed=SEED, env=env)
    finally:
        env.close()
    return records, agent.actions


def test_lockstep_records_equal_the_sequential_ones(moving_model, episodes):
    sequential, actions = _sequential(moving_model, episodes)
    # the test has teeth: varied greedy actions, episodes ending at different steps (so the
    # slots start new episodes at different times)
    assert len(set(actions)) >= 3
    assert len({r.length for r in sequential}) >= 3
    for batch in (1, 2, 3, 8):  # 3 does not divide the 5 episodes; 8 exceeds them
        assert _batched(moving_model, episodes, batch) == sequential, f"batch {batch}"


def test_a_new_episode_in_a_slot_starts_with_an_empty_history(moving_model, episodes):
    """Keeping a slot's cache into its next episode changes the records (so the equality above
    depends on the reset)."""

    class KeepsHistory(BatchedTorchAgent):
        def reset(self, slot: int, seed: int) -> None:
            pass

    sequential, _ = _sequential(moving_model, episodes)
    for batch in (1, 2):
        assert _batched(moving_model, episodes, batch, KeepsHistory) != sequential


def test_evaluate_batch_sizes_agree(moving_model):
    one = evaluate(moving_model, SETTINGS, 3, seed=SEED, batch=1)
    assert evaluate(moving_model, SETTINGS, 3, seed=SEED, batch=2) == one
    with pytest.raises(ValueError, match="batch"):
        evaluate(moving_model, SETTINGS, 3, seed=SEED, batch=0)


def test_evaluate_shares_episodes_among_worker_processes(moving_model):
    """A share of the episodes in a spawned process (the weights copied there) gives the
    records of one process: each episode is seeded by its index in the call."""
    one = evaluate(moving_model, SETTINGS, 3, seed=SEED, batch=1)
    assert evaluate(moving_model, SETTINGS, 3, seed=SEED, batch=2, workers=2) == one
    # more workers than episodes: the empty shares are not started
    assert evaluate(moving_model, SETTINGS, 2, seed=SEED, workers=4)["n_episodes"] == 2
    with pytest.raises(ValueError, match="workers must be >= 1"):
        evaluate(moving_model, SETTINGS, 3, seed=SEED, workers=0)


def test_per_slot_agents_replay_the_sequential_episodes(episodes):
    """Any agent runs in lockstep through one agent per slot; each episode's seed reaches its
    own slot (the random agent draws its actions from it)."""
    kw = dict(max_steps=SETTINGS.max_steps, nav_hw=SETTINGS.nav_size, seed=SEED)
    sequential = run_agent(RandomAgent(), episodes, **kw)
    lockstep = run_agent_batched(lambda n: PerSlotAgents(RandomAgent, n), episodes, batch=2, **kw)
    assert lockstep == sequential


def test_bad_arguments_are_refused(moving_model, episodes):
    with pytest.raises(ValueError, match="batch must be >= 1"):
        _batched(moving_model, episodes, 0)
    with pytest.raises(ValueError, match="slots must be >= 1"):
        BatchedTorchAgent(moving_model, 0)
    with pytest.raises(ValueError, match="slots must be >= 1"):
        PerSlotAgents(RandomAgent, 0)
    shielded = Job(PolicySpec("b", "bundle", "/nonexistent"), episodes[0], 0, shield=True)
    with pytest.raises(ValueError, match="unshielded"):
        run_batched(lambda n: PerSlotAgents(RandomAgent, n), [shielded])
    spec = PolicySpec("a", "agent")
    mixed = [Job(spec, episodes[0], 0, max_steps=5), Job(spec, episodes[1], 1, max_steps=6)]
    with pytest.raises(ValueError, match="one env kind"):
        run_batched(lambda n: PerSlotAgents(RandomAgent, n), mixed)
    env = make_env(SETTINGS.max_steps - 1, SETTINGS.nav_size)
    try:
        with pytest.raises(ValueError, match="step limit"):
            _batched(moving_model, episodes, 2, envs=[env])
    finally:
        env.close()
    env = make_env(SETTINGS.max_steps, (24, 24))
    try:
        with pytest.raises(ValueError, match="camera size"):
            _batched(moving_model, episodes, 2, envs=[env])
    finally:
        env.close()

    class Mute(PerSlotAgents):
        def propose(self, slots, observations, envs):
            return []

    with pytest.raises(ValueError, match="0 proposals for 2 slots"):
        run_batched(
            lambda n: Mute(RandomAgent, n), [Job(spec, e, i) for i, e in enumerate(episodes[:2])]
        )
    assert run_batched(lambda n: PerSlotAgents(RandomAgent, n), []) == []
