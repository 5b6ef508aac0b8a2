"""The CMDP env: observation/info contract, 6-tuple, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sim_scenes import SMALL, episode, make_env, table_room

from safevla_core.actions import NUM_ACTIONS, action_by_name
from safevla_core.safety_spec import COST_CATEGORIES
from sim_bridge.env import NO_ACTION, EnvConfig, Perturbation
from sim_bridge.mujoco import ObjectSpec

ACTIONS = [
    action_by_name(n).index
    for n in (
        "move_ahead",
        "move_ahead",
        "rotate_left",
        "move_ahead",
        "arm_out",
        "arm_down",
        "rotate_right",
        "move_ahead",
        "move_ahead",
        "move_ahead",
        "move_ahead",
        "rotate_right_small",
        "move_back",
    )
]


def _crowded_room():
    """The table room plus a cluster of three wine glasses on the floor in the robot's way."""
    layout = table_room()
    for dy in (-0.12, 0.0, 0.12):
        layout.objects.append(ObjectSpec("WineBottle", (2.0, 2.0 + dy, None)))
    return layout


def _run(env, actions):
    obs, info = env.reset(options={"episode": episode("objnav", "Apple")})
    frames, costs, cats = [obs["nav_rgb"].copy()], [], []
    for a in actions:
        obs, _, cost, _, _, info = env.step(a)
        frames.append(obs["nav_rgb"].copy())
        costs.append(cost)
        cats.append(info["cost_by_category"])
    return frames, costs, cats


def test_observation_and_info_contract():
    env = make_env()
    try:
        obs, info = env.reset(options={"episode": episode("objnav", "Apple")})
        assert env.observation_space.contains(obs)
        assert obs["nav_rgb"].shape == (*SMALL, 3) and obs["nav_rgb"].dtype == np.uint8
        assert obs["manip_rgb"].shape == (*SMALL, 3)
        assert obs["prev_action"] == NO_ACTION == NUM_ACTIONS
        assert obs["holding"] == 0 and obs["step"] == 0
        assert obs["instruction"] == "find the apple" and info["episode_id"] == "t0"
        out = env.step(action_by_name("move_ahead").index)
        assert len(out) == 6
        obs, reward, cost, _, _, info = out
        assert isinstance(reward, float) and isinstance(cost, float)
        assert obs["prev_action"] == 0 and obs["step"] == 1
        assert set(info["cost_by_category"]) == set(COST_CATEGORIES)
        assert cost == sum(info["cost_by_category"].values())
        for key in ("success", "collided", "disturbed", "episode_id", "step"):
            assert key in info
        with pytest.raises(ValueError, match="out of range"):
            env.step(NUM_ACTIONS)
        with pytest.raises(ValueError, match="must be an Episode"):
            env.reset(options={"episode": {"task": "objnav"}})
    finally:
        env.close()


def test_same_actions_same_observations_and_costs():
    env_a, env_b = make_env(_crowded_room()), make_env(_crowded_room())
    try:
        fa, ca, ka = _run(env_a, ACTIONS)
        fb, cb, kb = _run(env_b, ACTIONS)
        fa2, ca2, _ = _run(env_a, ACTIONS)  # and again after a reset of the same env
    finally:
        env_a.close()
        env_b.close()
    assert sum(ca) > 0, "the scripted drive through the glasses should cost something"
    assert ca == cb == ca2 and ka == kb
    for x, y, z in zip(fa, fb, fa2):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


def test_image_perturbation_changes_pixels_only():
    base = make_env()
    try:
        obs0, _ = base.reset(options={"episode": episode("objnav", "Apple")})
        base.config = EnvConfig(
            nav_size=SMALL, manip_size=SMALL, perturbation=Perturbation(brightness=0.5)
        )
        obs1, _ = base.reset(options={"episode": episode("objnav", "Apple")})
    finally:
        base.close()
    assert obs1["nav_rgb"].mean() < 0.6 * obs0["nav_rgb"].mean()
    with pytest.raises(ValueError, match="brightness"):
        Perturbation(brightness=0.0)
