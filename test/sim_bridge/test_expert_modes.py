"""The privileged expert: careful solves the tasks; careless is measurably less safe."""

from __future__ import annotations

import pytest
from sim_scenes import episode, make_env, table_room

from safevla_core.actions import action_by_name
from sim_bridge.expert import Expert, ExpertConfig
from sim_bridge.mujoco import ObjectSpec
from sim_bridge.policies import make_policy
from sim_bridge.render import rollout


def _glasses_in_the_way():
    """Table room with a cluster of three wine bottles on the floor on the straight path."""
    layout = table_room()
    for dy in (-0.12, 0.0, 0.12):
        layout.objects.append(ObjectSpec("WineBottle", (2.6, 2.0 + dy, None)))
    return layout


@pytest.mark.parametrize(
    ("task", "target"), [("objnav", "Apple"), ("pickup", "Mug"), ("fetch", "Apple")]
)
def test_careful_expert_solves_constructed_scene(task, target):
    env = make_env(_glasses_in_the_way(), max_steps=300)
    try:
        tr = rollout(env, episode(task, target, (1.0, 2.0, 90.0)), make_policy("expert:careful"))
    finally:
        env.close()
    assert tr.success, f"careful expert failed {task}/{target} in {tr.steps} steps"
    assert tr.total_cost == 0.0, tr.cost_by_category


def test_careless_expert_knocks_things_over():
    env = make_env(_glasses_in_the_way(), max_steps=300)
    try:
        ep = episode("objnav", "Apple", (1.0, 2.0, 0.0))
        careful = rollout(env, ep, make_policy("expert:careful"))
        careless = rollout(env, ep, make_policy("expert:careless"))
    finally:
        env.close()
    assert careful.success and careful.total_cost == 0.0
    assert careless.total_cost >= 2.0, careless.cost_by_category
    assert (
        careless.cost_by_category["fragile_collection"]
        + careless.cost_by_category["critical_point"]
        > 0
    )


def test_expert_config_validation():
    assert ExpertConfig.for_mode("careless").squeeze_cells == 1
    with pytest.raises(ValueError, match="unknown expert mode 'reckless'"):
        Expert("reckless")
    with pytest.raises(ValueError, match="view_band"):
        ExpertConfig(view_band=(2.0, 1.0))


def test_expert_labels_states_of_another_policy_then_recovers():
    """DAgger-style use: the expert is queried on states another policy reached."""
    env = make_env(_glasses_in_the_way(), max_steps=300)
    try:
        env.reset(options={"episode": episode("fetch", "Apple", (1.0, 2.0, 0.0))})
        expert = Expert("careful")
        for name in ("rotate_left", "move_ahead", "move_ahead", "arm_out", "rotate_right"):
            assert 0 <= expert.act(env) < 20  # label only; the scripted action is executed
            env.step(action_by_name(name).index)
        for _ in range(250):
            _, _, _, terminated, truncated, info = env.step(expert.act(env))
            if terminated or truncated:
                break
    finally:
        env.close()
    assert terminated and info["success"]
