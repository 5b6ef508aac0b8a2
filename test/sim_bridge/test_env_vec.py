"""Vectorised envs: stacked shapes, instruction lists, auto-reset, in-process and subprocess."""

from __future__ import annotations

import functools

import numpy as np
from sim_scenes import SMALL, env_with_episodes, episode

from safevla_core.actions import END, action_by_name
from sim_bridge.vec_env import SubprocVecEnv, SyncVecEnv

TURN = action_by_name("rotate_left").index


EPISODES = [
    episode("objnav", "Apple", (3.0, 2.0, 0.0), "near"),
    episode("objnav", "Mug", (1.0, 2.0, 0.0), "far"),
]


def _check(venv):
    obs, infos = venv.reset(seed=0)
    assert obs["nav_rgb"].shape == (2, *SMALL, 3) and obs["nav_rgb"].dtype == np.uint8
    assert obs["manip_rgb"].shape == (2, *SMALL, 3)
    assert obs["prev_action"].shape == obs["holding"].shape == obs["step"].shape == (2,)
    assert obs["instruction"] == ["find the apple", "find the apple"]
    assert [i["episode_id"] for i in infos] == ["near", "near"]
    obs, rew, cost, term, trunc, infos = venv.step([END, TURN])
    assert rew.shape == cost.shape == term.shape == trunc.shape == (2,)
    assert term.tolist() == [True, False] and rew.tolist() == [10.0, 0.0]
    # env 0 auto-reset into its next episode; the finished one is summarised in info
    assert infos[0]["episode"] == {
        "return": 10.0,
        "cost": 0.0,
        "length": 1,
        "success": True,
        "episode_id": "near",
    }
    assert infos[0]["final_obs"]["step"] == 1
    assert obs["step"].tolist() == [0, 1] and obs["instruction"][0] == "find the mug"
    actions = venv.expert_actions("careful")
    assert actions.shape == (2,) and actions.dtype == np.int64


def test_sync_vec_env():
    venv = SyncVecEnv([functools.partial(env_with_episodes, EPISODES)] * 2)
    try:
        _check(venv)
    finally:
        venv.close()


def test_subproc_vec_env_matches_sync():
    fns = [functools.partial(env_with_episodes, EPISODES)] * 2
    venv = SubprocVecEnv(fns)
    sync = SyncVecEnv(fns)
    try:
        _check(venv)
        _check(sync)
        a, _ = venv.reset(seed=1)
        b, _ = sync.reset(seed=1)
        for _ in range(3):
            a = venv.step([TURN, END])[0]
            b = sync.step([TURN, END])[0]
        np.testing.assert_array_equal(a["nav_rgb"], b["nav_rgb"])
        # each env's episode source, reached in its worker (method call, attribute read)
        assert venv.source_call(1, "__len__") == sync.source_call(1, "__len__") == 2
        assert venv.source_call(0, "__class__", None) is list
    finally:
        venv.close()
        sync.close()


def test_make_vec_env_with_training_sampler():
    from sim_bridge.env import EnvConfig
    from sim_bridge.vec_env import make_vec_env

    cfg = EnvConfig(nav_size=SMALL, manip_size=SMALL, max_steps=2)
    venv = make_vec_env(2, config=cfg, subprocess=False, tasks=("fetch",))
    try:
        obs, infos = venv.reset(seed=3)
        assert len(obs["instruction"]) == 2 and all(i["task"] == "fetch" for i in infos)
        venv.step([TURN, TURN])
        _, _, _, term, trunc, infos = venv.step([TURN, TURN])
        assert trunc.all() and not term.any()  # max_steps=2, then auto-reset
        assert all(i["episode"]["length"] == 2 for i in infos)
    finally:
        venv.close()
