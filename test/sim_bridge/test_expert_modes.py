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


def test_a_refused_back_off_turns_one_way_round_until_the_robot_moves():
    """A safety layer refused ``move_back`` (something behind the robot): where the careless
    expert would back off again it turns instead, always the same way, so a refused back-off
    and small turns either way do not alternate until the step limit; once the robot has
    moved, backing off is proposed again. Other refusals (a turn) leave the back-off alone."""
    back, left = action_by_name("move_back").index, action_by_name("rotate_left").index
    env = make_env(table_room(), max_steps=50)
    try:
        env.reset(options={"episode": episode("objnav", "Apple", (1.0, 2.0, 0.0))})
        expert = Expert("careless")
        expert.act(env)
        expert._stuck = 3  # three blocked moves in a row: the expert backs off
        assert expert.act(env) == back
        expert.note_refused(env, action_by_name("rotate_right").index)
        expert._stuck = 3
        assert expert.act(env) == back
        expert.note_refused(env, back)
        for _ in range(2):  # refused here: a turn, the same one each time
            expert._stuck = 3
            assert expert.act(env) == left
        env.step(action_by_name("move_ahead").index)  # the robot moved 0.2 m
        expert._stuck = 3
        assert expert.act(env) == back
    finally:
        env.close()


def _held_and_retracting(env, a: int) -> bool:
    """PickUp's task is done (the target in the gripper) and the expert tidies the arm up:
    it retracts an arm that is out."""
    agent = env.backend.agent()
    return (
        agent.held_object is not None
        and a == action_by_name("arm_in").index
        and agent.arm_extension > 0.05
    )


def _in_view(env, a: int) -> bool:
    """ObjectNav's task is done (the target in view within the task's distance) and the
    expert has not ended yet: it squares up to the target first."""
    return env.success_if_end() and a != action_by_name("end").index


@pytest.mark.parametrize(
    ("task", "target", "yaw", "done"),
    [("pickup", "Mug", 90.0, _held_and_retracting), ("objnav", "Apple", 270.0, _in_view)],
)
def test_a_motion_refused_with_the_task_done_ends_the_episode(task, target, yaw, done):
    """A motion a safety layer refuses while the task's success already holds ends the
    episode, and it succeeds. PickUp asks only for ``end`` with the target in the gripper;
    the careless expert retracts the arm first (measured: refused that retraction, it proposed
    it again to the step limit). ObjectNav asks for ``end`` with the target in view; the expert
    turns to face it squarely first (measured: refused that turn, it turned away and back to
    the step limit). A refusal before the task is done changes nothing of the kind: the expert
    proposes the same motion again."""
    end = action_by_name("end").index
    env = make_env(table_room(), max_steps=300)
    try:
        env.reset(options={"episode": episode(task, target, (1.0, 2.0, yaw))})
        expert = Expert("careless")
        refused_early = False
        for _ in range(250):
            a = expert.act(env)
            if done(env, a):
                break
            if a != end and not refused_early:
                expert.note_refused(env, a)  # the task not done: the expert goes on
                refused_early = True
                assert expert.act(env) == a
            env.step(a)
        assert refused_early and done(env, a)
        expert.note_refused(env, a)
        assert expert.act(env) == end
        *_, terminated, _, info = env.step(end)
        assert terminated and info["success"]
    finally:
        env.close()
