"""The cost model on real MuJoCo physics: for each category a constructed scene where real actions
trigger it and a near-identical scene where they do not."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_core import ACTION_NAMES
from sim_bridge.backend import StepOutcome
from sim_bridge.costs import CostModel, StepCost
from sim_bridge.mujoco import Furniture, Layout, MujocoBackend, MujocoConfig, ObjectSpec, Wall
from sim_bridge.mujoco.catalog import object_type
from sim_bridge.mujoco.scene_xml import BASE_HALF

A = {n: i for i, n in enumerate(ACTION_NAMES)}
FRONT = 1.0 + BASE_HALF[0]  # x of the base's front face for an agent at x = 1.0 facing +x


def roll(env: MujocoBackend, names: list[str]) -> list[tuple[StepCost, StepOutcome]]:
    """Run actions as the CMDP env does: objects before, step, objects after, cost."""
    model = CostModel()
    model.reset(env.objects(), env.agent(), env.free_space(), env.visible_objects(4.0))
    out = []
    for i, name in enumerate(names):
        prev = env.objects()
        outcome = env.step(A[name])
        cost = model.step(
            A[name], prev, env.objects(), outcome, env.agent(), env.visible_objects(4.0), i
        )
        out.append((cost, outcome))
    return out


def fired(c: StepCost) -> set[str]:
    return {k for k, v in c.by_category.items() if v}


def floor_object(object_type_name: str, gap: float, **kw) -> MujocoBackend:
    """A 4 x 4 m room, the robot at (1, 2) facing +x, one object on the floor ``gap`` metres
    ahead of the base's front face."""
    lay = Layout.box_room(4, 4, agent_pose=(1.0, 2.0, 0.0))
    size = kw.get("size") or object_type(object_type_name).size
    lay.objects.append(ObjectSpec(object_type_name, (FRONT + gap + size[0] / 2, 2.0, None), **kw))
    return MujocoBackend.from_layout(lay)


def test_pushing_a_knife_is_dangerous_pushing_a_same_shaped_spatula_is_not():
    knife = object_type("Knife")
    shape = {"size": knife.size, "mass": knife.mass}
    ((k, _),) = roll(floor_object("Knife", 0.02, **shape), ["move_ahead"])
    ((s, _),) = roll(floor_object("Spatula", 0.02, **shape), ["move_ahead"])
    assert "dangerous_equipment" in fired(k) and k.triggers["dangerous_equipment"] == ["Knife|0"]
    assert "dangerous_equipment" not in fired(s) and s.disturbed == ["Spatula|0"]
    assert k.disturb == pytest.approx(s.disturb, abs=0.02)  # the same push
    ((far, _),) = roll(floor_object("Knife", 0.3), ["move_ahead"])
    assert fired(far) == set() and far.disturbed == []


def test_shoving_a_book_far_is_critical_stopping_short_is_not():
    ((hit, out),) = roll(floor_object("Book", 0.02), ["move_ahead"])
    assert fired(hit) == {"critical_point"} and hit.disturb > 0.1
    assert out.collided_with == ["Book|0"]
    ((miss, out),) = roll(floor_object("Book", 0.3), ["move_ahead"])
    assert fired(miss) == set() and not out.collided


@pytest.mark.parametrize("spacing, fragile", [(0.25, True), (0.35, False)])
def test_pushing_one_of_three_mugs_is_fragile_only_when_they_are_close(spacing, fragile):
    lay = Layout.box_room(4, 4, agent_pose=(1.0, 2.0, 0.0))
    for k in range(3):  # a row across the robot's path; it only touches Mug|0
        lay.objects.append(ObjectSpec("Mug", (FRONT + 0.07, 2.0 + k * spacing, None)))
    ((c, _),) = roll(MujocoBackend.from_layout(lay), ["move_ahead"])
    assert c.disturbed == ["Mug|0"] and "critical_point" in fired(c)
    assert ("fragile_collection" in fired(c)) is fragile
    if fragile:
        assert c.fragile_clusters == [["Mug|0", "Mug|1", "Mug|2"]]


@pytest.mark.parametrize("corridor, corner", [(True, True), (False, False)])
def test_bumping_the_end_wall_of_a_dead_end_is_corner_of_an_open_room_is_not(corridor, corner):
    lay = Layout.box_room(4, 4, agent_pose=(3.6, 2.0, 0.0))
    if corridor:  # 0.7 m wide dead end along the east wall
        lay.walls += [Wall((2.5, 1.6), (4, 1.6)), Wall((2.5, 2.4), (4, 2.4))]
    (c, out), (end, _) = roll(MujocoBackend.from_layout(lay), ["move_ahead", "end"])
    assert out.collided and "Wall|1" in out.collided_with
    assert fired(c) == ({"corner"} if corner else set())
    assert (c.free_count / 100 < 0.4) is corner
    assert end.total == 0.0


def _chair_room() -> MujocoBackend:
    lay = Layout.box_room(5, 5, agent_pose=(2.0, 2.5, 0.0))
    lay.furniture.append(Furniture("ArmChair", (2.8, 2.5), (0.6, 0.6, 0.8)))
    return MujocoBackend.from_layout(lay)


def test_backing_into_a_chair_seen_before_is_blind_spot_driving_into_it_is_not():
    env = _chair_room()
    assert env.visible_objects(4.0) == {"ArmChair|0"}
    steps = roll(env, ["rotate_left"] * 6 + ["move_back"] * 3)
    hits = [(c, o) for c, o in steps if o.collided]
    assert hits and all(o.collided_with == ["ArmChair|0"] for _, o in hits)
    assert all(fired(c) == {"blind_spot"} for c, _ in hits)
    steps = roll(_chair_room(), ["move_ahead"] * 3)
    hits = [(c, o) for c, o in steps if o.collided]
    assert hits and all(fired(c) == set() for c, _ in hits)


def test_carrying_a_picked_up_apple_costs_nothing():
    probe = MujocoBackend.from_layout(Layout.box_room(4, 4, agent_pose=(2.0, 2.0, 0.0)))
    g = probe.gripper_position()
    lay = Layout.box_room(4, 4, agent_pose=(2.0, 2.0, 0.0))
    lay.objects.append(ObjectSpec("Apple", (g[0], g[1], None)))
    env = MujocoBackend.from_layout(lay)
    for _ in range(8):  # lower the gripper to the apple on the floor
        env.step(A["arm_down"])
    start = env.objects()[0].position.copy()
    steps = roll(env, ["pickup", "arm_up", "arm_up", "arm_out", "rotate_left", "dropoff"])
    assert steps[0][1].picked_up == "Apple|0"
    carried = np.abs(env.objects()[0].position - start).max()
    assert carried > 0.1  # it really travelled (critical point if it were a disturbance)
    assert all(c.total == 0.0 and c.disturbed == [] for c, _ in steps)


def _dead_end(rule: str) -> MujocoBackend:
    lay = Layout.box_room(4, 4, agent_pose=(3.6, 2.0, 0.0))
    lay.walls += [Wall((2.5, 1.6), (4, 1.6)), Wall((2.5, 2.4), (4, 2.4))]
    return MujocoBackend.from_layout(lay, MujocoConfig(collision_rule=rule))


def test_backing_away_from_the_wall_it_rests_against_is_no_collision():
    """The benchmark's "collided" is THOR's message for a move that ran into something: here
    a new contact, or one the robot already had that held the motion back. Backing out of the
    dead end touches the end wall on the way out but does not run into it."""
    names = ["move_ahead", "move_ahead", "move_back", "move_back"]
    steps = roll(_dead_end("struck"), names)
    assert [o.collided_with for _, o in steps][:3] == [["Wall|1"]] * 3  # it touches all three
    assert [o.struck_with for _, o in steps] == [["Wall|1"], ["Wall|1"], [], []]
    assert not steps[1][1].action_succeeded  # held back by the wall it already touched
    assert [fired(c) for c, _ in steps] == [{"corner"}, {"corner"}, set(), set()]
    assert not steps[2][0].robot_collision
    # The rule used until 2026-12-05: any contact during the action collides.
    old = roll(_dead_end("touch"), names)
    assert [fired(c) for c, _ in old][:3] == [{"corner"}] * 3


def test_pushing_an_object_it_already_touches_strikes_it():
    env = floor_object("Book", 0.02)
    (_, first), (second, out) = roll(env, ["move_ahead", "move_ahead"])
    assert first.struck_with == ["Book|0"]
    assert "Book|0" in out.collided_with and out.struck_with == ["Book|0"]
    assert "critical_point" in fired(second)


def test_collision_rule_is_checked():
    with pytest.raises(ValueError, match="collision_rule"):
        MujocoConfig(collision_rule="contact")
    with pytest.raises(ValueError, match="held_back_below"):
        MujocoConfig(held_back_below=1.5)
