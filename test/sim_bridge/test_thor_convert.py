"""THOR backend without Unity: metadata conversion on real THOR objects, the action mapping, scene
lookup, and the clear error when no build is installed."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from thor_fixtures import find, make_event, room_objects, stretch_arm

from safevla_core import ACTION_NAMES, NUM_ACTIONS
from sim_bridge.backend import Backend
from sim_bridge.thor import (
    ThorBackend,
    ThorConfig,
    ThorUnavailableError,
    agent_state,
    collision_from_metadata,
    free_space_from_positions,
    objects_from_metadata,
    thor_actions,
    thor_yaw_to_world,
    visible_ids_from_metadata,
    world_to_thor,
    world_yaw_to_thor,
)
from sim_bridge.thor.build import STRETCH_COMMIT_ID
from sim_bridge.thor.scenes import ithor_floorplans, resolve_scene


def test_real_objects_convert_with_axes_swapped_and_flags():
    objs = room_objects("kitchens", 0)
    ev = make_event(objs)
    states = {o.object_id: o for o in objects_from_metadata(ev.metadata)}
    assert "Floor" not in {o.object_type for o in states.values()}
    assert len(states) == sum(o["objectType"] not in ("Floor", "Window") for o in objs)
    knife = find(objs, "Knife")
    k = states[knife["objectId"]]
    p = knife["position"]
    np.testing.assert_allclose(k.position, [p["x"], p["z"], p["y"]])
    s = knife["axisAlignedBoundingBox"]["size"]
    np.testing.assert_allclose(k.size, [s["x"], s["z"], s["y"]])
    assert k.dangerous and k.pickupable and not k.static and not k.held
    burner = states[find(objs, "StoveBurner")["objectId"]]
    assert burner.static and not burner.dangerous
    assert states[find(objs, "Drawer")["objectId"]].is_drawer
    assert states[find(objs, "Bowl")["objectId"]].dangerous is False
    dangerous = {o.object_type for o in states.values() if o.dangerous}
    assert dangerous == {"Knife", "ButterKnife", "Fork"} & {o.object_type for o in states.values()}
    assert {o.fragile for o in states.values()} == {True, False}


def test_yaw_conversion_and_rotate_right_lowers_yaw():
    assert thor_yaw_to_world(0) == pytest.approx(90)  # THOR +z is our +y
    assert thor_yaw_to_world(90) == pytest.approx(0)  # THOR +x is our +x
    assert thor_yaw_to_world(270) == pytest.approx(180)
    for psi in (-150.0, -30.0, 0.0, 45.0, 180.0):
        assert thor_yaw_to_world(world_yaw_to_thor(psi)) == pytest.approx(psi)
    # RotateAgent(degrees=+30) is "rotate right": THOR yaw +30, ours -30.
    assert thor_yaw_to_world(40) - thor_yaw_to_world(10) == pytest.approx(-30)
    # The heading vector agrees: THOR yaw 90 faces THOR +x = our +x.
    psi = np.radians(thor_yaw_to_world(90))
    np.testing.assert_allclose([np.cos(psi), np.sin(psi)], [1, 0], atol=1e-12)
    assert world_to_thor([1.0, 2.0], height=0.9) == {"x": 1.0, "y": 0.9, "z": 2.0}


def test_agent_state_from_stretch_metadata():
    arm = stretch_arm(lift=0.6, ext=0.25, wrist=30.0, held=["Mug|1"])
    a = agent_state(make_event([], agent_xz=(1.5, -2.0), yaw=90, arm=arm).metadata)
    np.testing.assert_allclose(a.position, [1.5, -2.0, 0.0])
    assert a.yaw_deg == pytest.approx(0.0)
    assert a.lift_height == pytest.approx(0.6) and a.arm_extension == pytest.approx(0.25)
    assert a.wrist_yaw_deg == pytest.approx(30.0) and a.held_object == "Mug|1"


def test_collisions_are_parsed_and_mapped_to_object_ids():
    objs = room_objects("kitchens", 0)
    chair = find(objs, "Stool")
    meta = make_event(objs, error=f"Collided with: {chair['objectId']}.").metadata
    assert collision_from_metadata(meta) == (True, [chair["objectId"]])
    # The benchmark reads a quoted name; object names map to ids.
    meta = make_event(objs, error=f"Arm collided with '{chair['name']}'").metadata
    assert collision_from_metadata(meta) == (True, [chair["objectId"]])
    meta = make_event(objs, error="Agent collided with 'wall_3_2'").metadata
    assert collision_from_metadata(meta) == (True, ["wall_3_2"])
    meta = make_event(objs, error="Object not in range", success=False).metadata
    assert collision_from_metadata(meta) == (False, [])


def test_visibility_uses_flag_and_distance():
    objs = room_objects("kitchens", 0)
    for o in objs:  # the recorded flags are from some earlier camera pose
        o["visible"] = False
    near, far = objs[3], objs[4]
    near.update(visible=True, distance=2.5)
    far.update(visible=True, distance=4.5)
    meta = make_event(objs).metadata
    assert visible_ids_from_metadata(meta, 4.0) == {near["objectId"]}
    assert visible_ids_from_metadata(meta, 5.0) == {near["objectId"], far["objectId"]}


def test_reachable_positions_become_a_free_grid():
    pts = [
        {"x": 1.0 + 0.15 * i, "y": 0.9, "z": -2.0 + 0.15 * j} for i in range(5) for j in range(3)
    ]
    pts = [p for p in pts if (p["x"], p["z"]) != (1.3, -1.85)]
    fs = free_space_from_positions(pts, 0.15)
    assert fs.free.shape == (5, 3) and fs.free.sum() == 14 and fs.resolution == 0.15
    got = {tuple(np.round(c, 6)) for c in fs.free_points()}
    assert got == {(round(p["x"], 6), round(p["z"], 6)) for p in pts}
    with pytest.raises(ValueError, match="no reachable positions"):
        free_space_from_positions([], 0.15)


def test_all_twenty_actions_map_to_stretch_calls():
    meta = make_event([], arm=stretch_arm(lift=0.5, ext=0.1, wrist=0.0)).metadata
    calls = {name: thor_actions(i, meta) for i, name in enumerate(ACTION_NAMES)}
    assert calls["end"] == [] and calls["sub_done"] == []
    assert (
        calls["move_ahead"][0]["action"] == "MoveAgent" and calls["move_ahead"][0]["ahead"] == 0.2
    )
    assert calls["move_back"][0]["ahead"] == -0.2
    assert calls["rotate_right"] == [{"action": "RotateAgent", "degrees": 30.0}]
    assert calls["rotate_left_small"] == [{"action": "RotateAgent", "degrees": -6.0}]
    out = calls["arm_out"][0]
    assert out["action"] == "MoveArm" and out["position"]["z"] == pytest.approx(0.2)
    assert out["position"]["y"] == pytest.approx(0.5) and out["returnToStart"] is True
    assert calls["arm_down_small"][0]["position"]["y"] == pytest.approx(0.48)
    assert calls["arm_in_small"][0]["position"]["z"] == pytest.approx(0.08)
    assert calls["wrist_open"][0] == {
        "action": "RotateWristRelative",
        "yaw": -10.0,
        "returnToStart": True,
        "speed": 1,
    }
    assert calls["wrist_close"][0]["yaw"] == 10.0
    assert calls["pickup"] == [{"action": "PickupObject"}]
    assert [c["action"] for c in calls["dropoff"]] == ["ReleaseObject", "AdvancePhysicsStep"]
    assert len(calls) == NUM_ACTIONS
    # Wrist travel stops at the benchmark's bounds.
    near_stop = make_event([], arm=stretch_arm(wrist=71.0)).metadata
    assert thor_actions(ACTION_NAMES.index("wrist_close"), near_stop)[0]["yaw"] == pytest.approx(4)
    with pytest.raises(ValueError, match="action_index"):
        thor_actions(20, meta)
    no_arm = make_event([], arm={}).metadata
    with pytest.raises(ValueError, match="agentMode='stretch'"):
        thor_actions(ACTION_NAMES.index("arm_up"), no_arm)


def test_scenes_by_id():
    plans = ithor_floorplans()
    assert len(plans) == 120 and plans[0] == "FloorPlan1" and plans[-1] == "FloorPlan430"
    assert resolve_scene(plans, 30) == "FloorPlan201"
    house = {"rooms": [], "objects": [], "walls": []}
    assert resolve_scene(["FloorPlan1", house], 1) is house
    with pytest.raises(ValueError, match="out of range"):
        resolve_scene(plans, 120)
    with pytest.raises(ValueError, match="does not exist"):
        resolve_scene(["/nonexistent/house.json"], 0)
    with pytest.raises(ValueError, match="neither"):
        resolve_scene(["Kitchen7"], 0)


def test_backend_without_a_build_raises_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SAFEVLA_THOR_EXECUTABLE", raising=False)
    with pytest.raises(ThorUnavailableError) as e:
        ThorBackend(ThorConfig(releases_dir=tmp_path / "releases"))
    msg = str(e.value)
    for needed in ("local_executable_path", "releases", "CloudRendering", "DISPLAY", "MuJoCo"):
        assert needed in msg, needed
    assert STRETCH_COMMIT_ID in msg
    with pytest.raises(ThorUnavailableError, match="does not exist"):
        ThorBackend(ThorConfig(local_executable_path=str(tmp_path / "nope")))
    player = tmp_path / "thor-player"
    player.write_text("#!/bin/sh\n")
    with pytest.raises(ThorUnavailableError, match="not executable"):
        ThorBackend(ThorConfig(local_executable_path=str(player)))


def test_an_x11_build_without_display_is_refused(tmp_path, monkeypatch):
    name = f"thor-Linux64-{STRETCH_COMMIT_ID}"
    exe = tmp_path / name / name
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("SAFEVLA_THOR_EXECUTABLE", raising=False)
    with pytest.raises(ThorUnavailableError, match="DISPLAY is not set"):
        ThorBackend(ThorConfig(releases_dir=tmp_path))
    assert os.access(exe, os.X_OK)


def test_config_is_validated_and_class_has_the_protocol():
    with pytest.raises(ValueError, match="grid_size"):
        ThorConfig(grid_size=0)
    with pytest.raises(ValueError, match="scenes"):
        ThorConfig(scenes=[])
    for method in ("reset", "step", "agent", "objects", "visible_objects", "render", "close"):
        assert callable(getattr(ThorBackend, method))
    assert ThorBackend.name == "thor" and hasattr(Backend, "free_space")
