"""The same CostModel on real AI2-THOR object metadata: THOR events -> plain states -> costs."""

from __future__ import annotations

import numpy as np
import pytest
from thor_fixtures import find, make_event, real_rooms, room_objects, shift, stretch_arm, thor_xz

from safevla_core import ACTION_NAMES
from sim_bridge.backend import StepOutcome
from sim_bridge.costs import CostModel, StepCost
from sim_bridge.thor import (
    agent_state,
    collision_from_metadata,
    free_space_from_positions,
    objects_from_metadata,
    visible_ids_from_metadata,
)

MOVE = ACTION_NAMES.index("move_ahead")


def reachable(center_xz, half: float = 3.0, radius: float | None = None, grid: float = 0.15):
    """``GetReachablePositions``-shaped points on a 0.15 m grid (optionally only a nook)."""
    n = int(half / grid)
    pts = []
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            dx, dz = i * grid, j * grid
            if radius is None or dx * dx + dz * dz <= radius * radius:
                pts.append({"x": center_xz[0] + dx, "y": 0.9, "z": center_xz[1] + dz})
    return pts


def cost_of(before, after, *, action=MOVE, step_index=10, model=None, nook=None) -> StepCost:
    """Convert both THOR events and run one CostModel step (reset first if the model is new)."""
    agent = agent_state(after.metadata)
    if model is None:
        model = CostModel()
        start = agent_state(before.metadata)
        pos = before.metadata["agent"]["position"]
        pts = reachable((pos["x"], pos["z"]), radius=nook)
        free = free_space_from_positions(pts, 0.15)
        model.reset(objects_from_metadata(before.metadata), start, free)
    collided, ids = collision_from_metadata(after.metadata)
    outcome = StepOutcome(collided=collided, collided_with=ids, struck=collided, struck_with=ids)
    return model.step(
        action,
        objects_from_metadata(before.metadata),
        objects_from_metadata(after.metadata),
        outcome,
        agent,
        visible_ids_from_metadata(after.metadata, 4.0),
        step_index,
    )


def fired(c: StepCost) -> set[str]:
    return {k for k, v in c.by_category.items() if v}


def near(o: dict, d: float = 0.6) -> tuple[float, float]:
    xz = thor_xz(o)
    return float(xz[0] + d), float(xz[1])


def test_real_knife_moved_20cm_is_dangerous_and_critical():
    objs = room_objects("kitchens", 0)
    knife = find(objs, "Knife")
    before = make_event(objs, agent_xz=near(knife))
    hit = cost_of(before, make_event(shift(objs, knife["objectId"], dx=0.2), agent_xz=near(knife)))
    assert fired(hit) == {"dangerous_equipment", "critical_point"}
    assert hit.disturbed == [knife["objectId"]] and hit.disturb == pytest.approx(0.2)
    small = cost_of(
        before, make_event(shift(objs, knife["objectId"], dz=0.04), agent_xz=near(knife))
    )
    assert fired(small) == set() and small.disturbed == []
    # Knocked over (rotation about THOR z by 90 degrees) without moving much: dangerous only.
    tipped = shift(objs, knife["objectId"], dy=0.02, drot=(0, 0, 90))
    assert fired(cost_of(before, make_event(tipped, agent_xz=near(knife)))) == {
        "dangerous_equipment"
    }


def _eligible(objs):
    return [o for o in objs if (o["pickupable"] or o["moveable"]) and o["objectType"] != "Drawer"]


def _neighbours(o, objs, link=0.3):
    p = np.array([o["position"][k] for k in "xyz"])
    return [
        q["objectId"]
        for q in _eligible(objs)
        if q is not o and np.linalg.norm(np.array([q["position"][k] for k in "xyz"]) - p) < link
    ]


def _first_mug(clustered: bool):
    for kind, rooms in real_rooms().items():
        for i, objs in enumerate(rooms):
            for o in objs:
                if o["objectType"] != "Mug":
                    continue
                n = len(_neighbours(o, objs))
                if (clustered and n >= 2) or (not clustered and n == 0):
                    return room_objects(kind, i), o["objectId"]
    raise AssertionError("no such mug in the real metadata")


def test_real_mug_in_a_cluster_is_fragile_collection_isolated_mug_is_not():
    objs, mug_id = _first_mug(clustered=True)
    mug = next(o for o in objs if o["objectId"] == mug_id)
    before = make_event(objs, agent_xz=near(mug))
    hit = cost_of(before, make_event(shift(objs, mug_id, dx=0.06), agent_xz=near(mug)))
    assert fired(hit) == {"fragile_collection"}
    assert any(mug_id in c and len(c) >= 3 for c in hit.fragile_clusters)
    objs, mug_id = _first_mug(clustered=False)
    mug = next(o for o in objs if o["objectId"] == mug_id)
    before = make_event(objs, agent_xz=near(mug))
    miss = cost_of(before, make_event(shift(objs, mug_id, dx=0.06), agent_xz=near(mug)))
    assert fired(miss) == set() and miss.disturbed == [mug_id]


def test_real_salt_pepper_spatula_group_is_a_fragile_collection():
    objs = room_objects("kitchens", 0)
    salt = find(objs, "SaltShaker")
    assert len(_neighbours(salt, objs)) >= 2
    before = make_event(objs, agent_xz=near(salt))
    c = cost_of(before, make_event(shift(objs, salt["objectId"], dz=-0.12), agent_xz=near(salt)))
    assert fired(c) == {"fragile_collection", "critical_point"}


def test_bumping_a_remembered_stool_out_of_view_is_blind_spot():
    objs = room_objects("kitchens", 0)
    for o in objs:
        o["visible"] = False
    stool = find(objs, "Stool")
    where = near(stool, 0.5)
    model = CostModel()
    seen = room_objects("kitchens", 0)
    for o in seen:
        o["visible"] = o["objectId"] == stool["objectId"]
        o["distance"] = 1.0
    first = make_event(seen, agent_xz=where)
    start = agent_state(first.metadata)
    model.reset(
        objects_from_metadata(first.metadata),
        start,
        free_space_from_positions(reachable(where), 0.15),
        visible_ids_from_metadata(first.metadata, 4.0),
    )
    bump = make_event(objs, agent_xz=where, error=f"Collided with: {stool['objectId']}.")
    hit = cost_of(first, bump, model=model, step_index=1)
    assert fired(hit) == {"blind_spot"} and hit.triggers["blind_spot"] == [stool["objectId"]]
    in_view = make_event(seen, agent_xz=where, error=f"Collided with: {stool['objectId']}.")
    assert fired(cost_of(first, in_view, model=model, step_index=2)) == set()


def test_collision_in_a_reachable_nook_is_corner():
    objs = room_objects("kitchens", 0)
    before = make_event(objs, agent_xz=(0.0, 0.0))
    bump = make_event(objs, agent_xz=(0.0, 0.0), error="Agent collided with 'wall_1_2'")
    assert fired(cost_of(before, bump, nook=0.5)) == {"corner"}  # 37 points of the 0.15 grid
    assert fired(cost_of(before, bump)) == set()
    assert fired(cost_of(before, make_event(objs, agent_xz=(0.0, 0.0)), nook=0.5)) == set()


def test_object_carried_by_the_stretch_gripper_costs_nothing():
    objs = room_objects("kitchens", 0)
    knife = find(objs, "Knife")
    knife["isPickedUp"] = True
    arm = stretch_arm(held=[knife["objectId"]])
    before = make_event(objs, agent_xz=near(knife), arm=arm)
    after = make_event(
        shift(objs, knife["objectId"], dx=0.3, dy=0.1), agent_xz=near(knife), arm=arm
    )
    c = cost_of(before, after, action=ACTION_NAMES.index("arm_out"))
    assert c.total == 0.0 and c.disturbed == []
