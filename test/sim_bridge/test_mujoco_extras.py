"""Occlusion, contacts of the arm, the THOR catalog table and perturbation details."""

from __future__ import annotations

import json

import numpy as np
import pytest

from safevla_core.actions import action_by_name
from sim_bridge.mujoco import (
    Furniture,
    Layout,
    MujocoBackend,
    ObjectSpec,
    Perturbation,
    Wall,
    catalog,
)
from sim_bridge.mujoco.catalog import CATALOG_PATH, load_catalog
from sim_bridge.mujoco.derive_catalog import derive, metadata_path


def _act(name: str) -> int:
    return action_by_name(name).index


def test_wall_occludes_objects():
    layout = Layout.box_room(6.0, 4.0, agent_pose=(1.0, 2.0, 0.0))
    layout.walls.append(Wall((3.0, 0.0), (3.0, 4.0)))
    layout.objects += [
        ObjectSpec("BasketBall", (2.5, 2.0, None)),
        ObjectSpec("BasketBall", (4.0, 2.0, None)),
    ]
    b = MujocoBackend.from_layout(layout)
    near, hidden = (o.object_id for o in b.objects())
    seen = b.visible_objects(max_distance=5.0)
    assert near in seen and hidden not in seen


def test_lowering_the_arm_onto_a_table_is_a_collision():
    probe = MujocoBackend.from_layout(Layout.box_room(4.0, 4.0, agent_pose=(2.0, 2.0, 0.0)))
    grip = probe.gripper_position()
    layout = Layout.box_room(4.0, 4.0, agent_pose=(2.0, 2.0, 0.0))
    layout.furniture.append(Furniture("DiningTable", (grip[0], grip[1] - 0.3), (0.8, 0.6, 0.75)))
    b = MujocoBackend.from_layout(layout)
    hits = [b.step(_act("arm_down")) for _ in range(3)]
    assert any("DiningTable|0" in h.collided_with for h in hits)
    assert b.agent().lift_height > 0.75  # the table stopped the lift


def test_held_object_does_not_count_as_a_collision_and_arm_limits_hold():
    probe = MujocoBackend.from_layout(Layout.box_room(4.0, 4.0, agent_pose=(2.0, 2.0, 0.0)))
    grip = probe.gripper_position()
    layout = Layout.box_room(4.0, 4.0, agent_pose=(2.0, 2.0, 0.0))
    layout.furniture.append(Furniture("SideTable", (grip[0], grip[1] - 0.15), (0.6, 0.5, 0.8)))
    layout.objects.append(ObjectSpec("Mug", (grip[0], grip[1], None)))
    b = MujocoBackend.from_layout(layout)
    assert b.step(_act("pickup")).picked_up == "Mug|1"
    b.step(_act("arm_up"))
    outs = [b.step(_act("arm_out")) for _ in range(6)]
    assert all("Mug|1" not in o.collided_with for o in outs)
    assert b.agent().arm_extension == pytest.approx(0.52, abs=0.01)
    assert not outs[-1].action_succeeded  # already at the limit


def test_committed_catalog_matches_the_thor_metadata_and_loader_falls_back(monkeypatch, tmp_path):
    with open(CATALOG_PATH) as f:
        committed = json.load(f)["types"]
    assert CATALOG_PATH.stat().st_size < 200_000
    with open(metadata_path()) as f:
        assert derive(json.load(f)) == committed
    monkeypatch.setattr(catalog, "CATALOG_PATH", tmp_path / "missing.json")
    fallback = catalog.load_catalog.__wrapped__()  # derives from the procthor wheel
    assert fallback == load_catalog()
    cat = load_catalog()
    assert cat["Mug"].fragile and cat["Mug"].pickupable and not cat["Sofa"].pickupable
    assert cat["Knife"].dangerous and not cat["Bowl"].dangerous
    with pytest.raises(ValueError, match="does not exist"):
        catalog.load_catalog.__wrapped__(str(tmp_path / "other.json"))


def test_each_perturbation_alone_changes_the_image_and_seeds_differ():
    layout = Layout.box_room(4.0, 4.0, agent_pose=(1.0, 2.0, 0.0))
    layout.furniture.append(Furniture("Fridge", (3.5, 2.0), (0.75, 0.8, 1.8)))
    b = MujocoBackend.from_layout(layout)
    clean = b.render().astype(int)
    for kwargs in (
        {"lighting": 0.3},
        {"color_shift": True},
        {"material": True},
        {"camera_noise": 10.0},
        {"blur": 5},
    ):
        b.set_perturbation(Perturbation(seed=1, **kwargs))
        diff = np.abs(b.render().astype(int) - clean)
        assert diff.max() > 20 and diff.mean() > 0.1, kwargs
    b.set_perturbation(color_shift=True, seed=1)
    one = b.render()
    b.set_perturbation(color_shift=True, seed=2)
    assert np.abs(b.render().astype(int) - one).mean() > 1.0
    b.set_perturbation(lighting=0.3)
    assert b.render().mean() < clean.mean() - 10
    b.reset(0)  # perturbations persist across resets
    assert b.render().mean() < clean.mean() - 10
    with pytest.raises(ValueError, match="blur"):
        Perturbation(blur=4)


def test_sweeping_arm_knocks_a_bottle_off_the_table():
    layout = Layout.box_room(4.0, 4.0, agent_pose=(2.0, 2.0, 0.0))
    layout.furniture.append(Furniture("DiningTable", (2.0, 1.2), (1.6, 0.7, 0.75), shape="table"))
    layout.objects.append(ObjectSpec("WineBottle", (2.2, 1.53, None)))
    b = MujocoBackend.from_layout(layout)
    start = b.objects()[1]
    for name in ("arm_out", "arm_out", "rotate_left_small", "rotate_left_small"):
        assert not b.step(_act(name)).collided
    out = b.step(_act("rotate_left"))
    assert out.collided_with == ["WineBottle|1"]
    bottle = b.objects()[1]
    moved = np.linalg.norm(bottle.position - start.position)
    tilted = np.abs(bottle.rotation[:2]).max()
    assert moved > 0.1 and tilted > 10.0


def test_layout_validation_names_the_bad_value():
    with pytest.raises(ValueError, match="size must be > 0"):
        Furniture("DiningTable", (1.0, 1.0), (1.0, -0.5, 0.75))
    with pytest.raises(ValueError, match="shape"):
        Furniture("DiningTable", (1.0, 1.0), (1.0, 0.5, 0.75), shape="round")
    with pytest.raises(ValueError, match="unknown THOR object type 'Mugg'"):
        ObjectSpec("Mugg", (1.0, 1.0, None))
    with pytest.raises(ValueError, match="zero length"):
        Wall((1.0, 1.0), (1.0, 1.0))


def test_objects_rest_on_furniture_tops_but_not_on_paintings():
    layout = Layout.box_room(4.0, 4.0, agent_pose=(1.0, 1.0, 0.0))
    layout.furniture += [
        Furniture("CounterTop", (2.0, 3.6), (1.5, 0.6, 0.9)),
        Furniture("Painting", (2.0, 3.93), (0.8, 0.03, 0.6), 180.0, elevation=1.3),
    ]
    layout.objects.append(ObjectSpec("Apple", (2.0, 3.6, None)))
    b = MujocoBackend.from_layout(layout)
    apple = b.objects()[2]
    assert apple.position[2] == pytest.approx(0.9 + apple.size[2] / 2, abs=0.01)
    painting = b.objects()[1]
    assert painting.static and painting.position[2] == pytest.approx(1.6)
