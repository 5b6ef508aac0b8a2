"""The shipped validation sets and the on-the-fly training sampler."""

from __future__ import annotations

import numpy as np
import pytest

from sim_bridge.env import EnvConfig, make_backend, make_env
from sim_bridge.episode_gen import VAL_SCENE_BASE, EpisodeSampler, reachable
from sim_bridge.episodes import load_episodes, shipped_path
from sim_bridge.instructions import PLACEHOLDER, object_names, templates
from sim_bridge.policies import make_policy
from sim_bridge.render import rollout

SIZES = {"objnav": 200, "pickup": 171, "fetch": 172}


def _is_train_instruction(task: str, target: str, text: str) -> bool:
    return any(
        t.replace(PLACEHOLDER, n) == text
        for t in templates(task, "train")
        for n in object_names(target)
    )


@pytest.mark.parametrize("task", sorted(SIZES))
def test_shipped_set_is_complete_and_valid(task):
    episodes = load_episodes(shipped_path(task))
    assert len(episodes) == SIZES[task]
    assert {e.task for e in episodes} == {task}
    assert all(e.scene_seed >= VAL_SCENE_BASE for e in episodes)
    assert all(e.expert_length is not None and 1 <= e.expert_length <= 600 for e in episodes)
    assert all(_is_train_instruction(task, e.target_type, e.instruction) for e in episodes)
    assert len({e.scene_seed for e in episodes}) > 0.9 * len(episodes)


@pytest.fixture(scope="module")
def env():
    e = make_env(
        config=EnvConfig(nav_size=(32, 32), manip_size=(32, 32), max_steps=600, render_manip=False)
    )
    yield e
    e.close()


@pytest.mark.parametrize("task", sorted(SIZES))
def test_careful_expert_reproduces_shipped_episodes(env, task):
    """Guards against scene-generator drift: the recorded expert length must still hold."""
    for ep in load_episodes(shipped_path(task))[:2]:
        tr = rollout(env, ep, make_policy("expert:careful"))
        assert tr.success and tr.steps == ep.expert_length, (ep.episode_id, tr.summary())


def test_training_sampler_draws_reachable_training_scenes():
    backend = make_backend("mujoco", (32, 32), (32, 32))
    sampler = EpisodeSampler(("objnav", "pickup", "fetch"))
    rng = np.random.default_rng(0)
    try:
        for _ in range(4):
            ep = sampler(backend, rng)
            assert ep.scene_seed < VAL_SCENE_BASE and ep.expert_length is None
            assert _is_train_instruction(ep.task, ep.target_type, ep.instruction)
            backend.reset(ep.scene_seed, ep.start_pose)
            assert ep.target_type in {o.object_type for o in backend.objects()}
            assert reachable(backend, ep.task, ep.start_pose, ep.target_type)
    finally:
        backend.close()
    with pytest.raises(ValueError, match="disjoint from validation"):
        EpisodeSampler(scene_count=VAL_SCENE_BASE + 1)


def test_careless_expert_costs_more_on_shipped_pickups(env):
    episodes = load_episodes(shipped_path("pickup"))[:4]
    cost = {
        m: sum(rollout(env, ep, make_policy(f"expert:{m}")).total_cost for ep in episodes)
        for m in ("careful", "careless")
    }
    assert cost["careless"] >= cost["careful"] + 5.0, cost


@pytest.mark.parametrize("task", sorted(SIZES))
def test_heldout_language_sets_mirror_the_val_sets(task):
    val = load_episodes(shipped_path(task))
    held = load_episodes(shipped_path(task, "val_heldout"))
    assert len(held) == len(val)
    for v, h in zip(val, held):
        assert h.episode_id == v.episode_id + "_heldout"
        assert (h.scene_seed, h.start_pose, h.target_type, h.expert_length) == (
            v.scene_seed,
            v.start_pose,
            v.target_type,
            v.expert_length,
        )
        assert not _is_train_instruction(task, h.target_type, h.instruction)
        assert any(
            t.replace(PLACEHOLDER, n) == h.instruction
            for t in templates(task, "heldout")
            for n in object_names(h.target_type)
        )


@pytest.mark.parametrize(
    "task, seed", [("objnav", 20261201), ("objnav", 20261202), ("pickup", 20261203)]
)
def test_unseen_seed_sets_regenerate_from_their_documented_command(tmp_path, task, seed):
    """The first episodes of each unseen-seed set are what `safevla sim episodes --seed S
    --scenes val` writes (README of the episode folder), and none of its scenes is a training
    scene."""
    import subprocess
    import sys

    name = f"{task}_unseen_s{seed}.jsonl.gz"
    out = tmp_path / name
    cmd = ["sim", "episodes", "--task", task, "--count", "2", "--seed", str(seed)]
    proc = subprocess.run(
        [sys.executable, "-m", "safevla_ros.cli.main", *cmd, "--scenes", "val", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    shipped = load_episodes(shipped_path(task, "val").parent / name)
    assert len(shipped) == 100
    assert load_episodes(out) == shipped[:2]
    assert all(e.scene_seed >= VAL_SCENE_BASE for e in shipped)
