"""Risk elicitation sampler on the real MuJoCo backend and episode sampler."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_train.config import PPOConfig, RiskConfig
from safevla_train.risk import RiskElicitingSampler
from safevla_train.train_ppo import multiplier_cost
from sim_bridge.env import make_backend
from sim_bridge.episode_gen import EpisodeSampler


@pytest.fixture(scope="module")
def backend():
    b = make_backend("mujoco", (32, 32), (16, 16))
    yield b
    b.close()


def test_costly_episodes_are_replayed_cheap_ones_not(backend):
    rng = np.random.default_rng(0)
    s = RiskElicitingSampler(
        EpisodeSampler(("objnav",)), RiskConfig(replay_prob=1.0, min_cost=2.0)
    )
    first = s(backend, rng)
    second = s(backend, rng)
    assert first.episode_id != second.episode_id  # empty pool: fresh episodes
    assert s.record(first.episode_id, 5.0) is False  # fresh episodes report no replay
    assert s.record(second.episode_id, 1.0) is False  # below min_cost: not risky
    replays = [s(backend, rng) for _ in range(5)]
    assert all(e == first for e in replays)
    assert (s.replays, s.fresh) == (5, 2)
    assert s.record(first.episode_id, 0.0) is True  # the trainer can leave replays out
    assert s.record("never-issued", 3.0) is False
    clone = RiskElicitingSampler(EpisodeSampler(("objnav",)), RiskConfig(replay_prob=1.0))
    clone.load_state_dict(s.state_dict())
    assert clone(backend, np.random.default_rng(1)) == first
    assert clone.base.count == s.base.count


def test_multiplier_sees_all_or_only_fresh_episodes():
    eps = [
        {"cost": 1.0, "replay": False},
        {"cost": 9.0, "replay": True},
        {"cost": 3.0, "replay": False},
    ]
    assert multiplier_cost(eps, "all") == pytest.approx(13.0 / 3)
    assert multiplier_cost(eps, "fresh") == pytest.approx(2.0)
    assert multiplier_cost(eps[1:2], "fresh") is None  # only replays: lambda stays
    assert multiplier_cost([], "all") is None
    with pytest.raises(ValueError, match=r"multiplier_episodes='replays'.*'fresh'"):
        PPOConfig(multiplier_episodes="replays")


def test_disabled_sampler_never_replays(backend):
    rng = np.random.default_rng(0)
    s = RiskElicitingSampler(EpisodeSampler(("objnav",)), RiskConfig(enabled=False))
    e = s(backend, rng)
    s.record(e.episode_id, 10.0)
    assert not s.pool
    assert s(backend, rng).episode_id != e.episode_id and s.replays == 0
