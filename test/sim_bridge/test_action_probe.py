"""The action probe on the real MuJoCo simulator: restoring is exact, labels are real costs."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_core.actions import NUM_ACTIONS
from safevla_core.safety_spec import SAFETY_SPEC
from sim_bridge.action_probe import ActionProbe, ProbeRestoreError
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episode_gen import EpisodeSampler

SIZE = (32, 32)
STEPS = 40


def _env():
    return make_env(
        EpisodeSampler(("objnav", "pickup")), EnvConfig(nav_size=SIZE, manip_size=SIZE)
    )


def _actions(n: int = STEPS) -> list[int]:
    """A fixed random walk (never ``end``) that bumps into things in the sampled house."""
    rng = np.random.default_rng(3)
    return [int(a) if a != 4 else 0 for a in rng.integers(0, NUM_ACTIONS, n)]


def _run(probe: bool):
    env = _env()
    obs, _ = env.reset(seed=0)
    p = ActionProbe(env) if probe else None
    trace, labels = [obs], []
    for a in _actions():
        if p is not None:
            labels.append(p.label())
        trace.append(env.step(a))
    env.close()
    return trace, labels


def _same(x, y) -> bool:
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, tuple | list):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y))
    if isinstance(x, np.ndarray):
        return x.dtype == y.dtype and np.array_equal(x, y)
    return x == y


def test_probing_then_stepping_is_bit_identical_to_stepping_alone():
    probed, labels = _run(probe=True)
    plain, _ = _run(probe=False)
    assert _same(probed, plain)  # frames, rewards, costs, info of every step
    # the walk probed states where some action costs something, so restores were exercised
    assert sum(float(y.sum()) for y in labels) > 0


def test_labels_equal_the_cost_of_really_taking_each_action():
    walk = _actions()
    env = _env()
    env.reset(seed=0)
    probe = ActionProbe(env)
    checked = []
    for t, a in enumerate(walk):
        y = probe.label()
        if y.sum() > 0 and len(checked) < 2:
            checked.append((t, y))
        env.step(a)
    assert checked, "the walk never reached a state with a costly action"
    for t, y in checked:
        for a in range(NUM_ACTIONS):  # replay the prefix from scratch, then really step a
            env.reset(seed=0)
            for b in walk[:t]:
                env.step(b)
            info = env.step(a)[5]
            real = [info["cost_by_category"][c] for c in SAFETY_SPEC.categories]
            assert y[a].tolist() == real, (t, a)
    env.close()


def test_horizon_labels_cover_the_one_step_labels():
    env = _env()
    env.reset(seed=0)
    one, two = ActionProbe(env), ActionProbe(env, horizon=2)
    for a in _actions(25):
        y1, y2 = one.label(), two.label()
        assert np.all(y2 >= y1)  # the first step of a horizon-2 label is the 1-step label
        env.step(a)
    assert one.rate > 0
    env.close()


def test_a_failed_restore_is_detected():
    env = _env()
    env.reset(seed=0)
    probe = ActionProbe(env)
    snap = probe.snapshot()
    env.advance(0)  # moved on without restoring
    with pytest.raises(ProbeRestoreError, match="qpos"):
        probe._check(snap)
    probe.restore(snap)  # and a real restore passes the same check
    env.close()
