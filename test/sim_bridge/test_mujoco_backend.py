"""Behaviour of the embedded MuJoCo backend on real physics and real offscreen rendering."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_core.actions import action_by_name
from sim_bridge.backend import Backend
from sim_bridge.mujoco import Furniture, Layout, MujocoBackend, MujocoConfig, ObjectSpec

A = {
    name: action_by_name(name).index
    for name in (
        "move_ahead",
        "move_back",
        "rotate_right",
        "rotate_left",
        "rotate_right_small",
        "pickup",
        "dropoff",
        "arm_out",
        "arm_up",
        "arm_down",
        "end",
    )
}


def _room(**kwargs) -> Layout:
    return Layout.box_room(4.0, 4.0, **kwargs)


def _obj(backend: MujocoBackend, oid: str):
    return next(o for o in backend.objects() if o.object_id == oid)


@pytest.fixture(scope="module")
def house():
    backend = MujocoBackend()
    backend.reset(3)
    yield backend
    backend.close()


def test_implements_protocol(house):
    assert isinstance(house, Backend)
    assert house.name == "mujoco"


def test_same_seed_same_actions_identical_states_and_images():
    rng = np.random.default_rng(0)
    actions = [int(a) for a in rng.integers(0, 20, size=25)]
    runs = []
    for _ in range(2):
        b = MujocoBackend()
        b.reset(5)
        outcomes = [b.step(a) for a in actions]
        runs.append(
            (
                b.agent(),
                [(o.object_id, o.position, o.rotation) for o in b.objects()],
                b.render("nav"),
                b.render("manip"),
                outcomes,
            )
        )
        b.close()
    (ag1, ob1, nav1, man1, out1), (ag2, ob2, nav2, man2, out2) = runs
    np.testing.assert_array_equal(ag1.position, ag2.position)
    assert ag1.yaw_deg == ag2.yaw_deg and ag1.arm_extension == ag2.arm_extension
    for (i1, p1, r1), (i2, p2, r2) in zip(ob1, ob2):
        assert i1 == i2
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(nav1, nav2)
    np.testing.assert_array_equal(man1, man2)
    assert out1 == out2


def test_different_seeds_give_different_houses():
    a, b = MujocoBackend(), MujocoBackend()
    a.reset(1)
    b.reset(2)
    assert [o.object_type for o in a.objects()] != [o.object_type for o in b.objects()]


def test_move_ahead_moves_and_wall_blocks():
    b = MujocoBackend.from_layout(_room(agent_pose=(2.0, 2.0, 0.0)))
    out = b.step(A["move_ahead"])
    assert not out.collided and out.action_succeeded
    assert b.agent().position[0] == pytest.approx(2.2, abs=0.02)
    assert b.agent().position[1] == pytest.approx(2.0, abs=0.01)
    b.reset(0, start_pose=(3.7, 2.0, 0.0))  # base front 0.085 m from the wall at x = 3.95
    before = b.agent().position.copy()
    out = b.step(A["move_ahead"])
    assert out.collided and not out.action_succeeded
    assert any(c.startswith("Wall|") for c in out.collided_with)
    assert b.agent().position[0] - before[0] < 0.15


def test_rotations_change_yaw_by_magnitude():
    b = MujocoBackend.from_layout(_room(agent_pose=(2.0, 2.0, 0.0)))
    b.step(A["rotate_right"])
    assert b.agent().yaw_deg == pytest.approx(-30.0, abs=1.5)
    b.step(A["rotate_left"])
    b.step(A["rotate_left"])
    assert b.agent().yaw_deg == pytest.approx(30.0, abs=2.0)
    y0 = b.agent().yaw_deg
    b.step(A["rotate_right_small"])
    assert y0 - b.agent().yaw_deg == pytest.approx(6.0, abs=0.5)


def test_bumping_a_free_object_pushes_it():
    layout = _room(agent_pose=(1.5, 2.0, 0.0))
    layout.objects.append(ObjectSpec("BasketBall", (2.05, 2.0, None)))
    b = MujocoBackend.from_layout(layout)
    ball = b.objects()[0].object_id
    p0 = _obj(b, ball).position.copy()
    hits = [b.step(A["move_ahead"]) for _ in range(3)]
    assert any(ball in h.collided_with for h in hits)
    assert np.linalg.norm(_obj(b, ball).position[:2] - p0[:2]) > 0.1


def test_pickup_moves_with_arm_and_dropoff_releases():
    probe = MujocoBackend.from_layout(_room(agent_pose=(2.0, 2.0, 0.0)))
    grip = probe.gripper_position()
    layout = _room(agent_pose=(2.0, 2.0, 0.0))
    layout.furniture.append(Furniture("SideTable", (grip[0], grip[1] - 0.15), (0.6, 0.5, 0.8)))
    layout.objects.append(ObjectSpec("Apple", (grip[0], grip[1], None)))
    b = MujocoBackend.from_layout(layout)
    apple = next(o.object_id for o in b.objects() if o.object_type == "Apple")
    out = b.step(A["pickup"])
    assert out.picked_up == apple and out.action_succeeded
    assert b.agent().held_object == apple and _obj(b, apple).held
    p0 = _obj(b, apple).position.copy()
    b.step(A["arm_up"])
    b.step(A["arm_out"])
    p1 = _obj(b, apple).position
    assert p1[1] - p0[1] == pytest.approx(-0.1, abs=0.02)  # arm extends to the robot's right
    assert p1[2] - p0[2] == pytest.approx(0.1, abs=0.02)
    out = b.step(A["dropoff"])
    assert out.action_succeeded and b.agent().held_object is None
    assert _obj(b, apple).position[2] < p1[2] - 0.05  # it fell back towards the table
    assert not b.step(A["dropoff"]).action_succeeded


def test_pickup_with_nothing_in_reach_fails():
    b = MujocoBackend.from_layout(_room(agent_pose=(2.0, 2.0, 0.0)))
    out = b.step(A["pickup"])
    assert out.picked_up is None and not out.action_succeeded


def test_images_shape_dtype_and_change_when_turning():
    cfg = MujocoConfig(nav_size=(64, 96), manip_size=(48, 48))  # (H, W)
    layout = _room(agent_pose=(2.0, 2.0, 0.0))
    layout.furniture.append(Furniture("Fridge", (3.5, 2.0), (0.75, 0.8, 1.8)))
    b = MujocoBackend.from_layout(layout, cfg)
    nav, manip = b.render("nav"), b.render("manip")
    assert nav.shape == (64, 96, 3) and nav.dtype == np.uint8
    assert manip.shape == (48, 48, 3) and manip.dtype == np.uint8
    b.step(A["rotate_right"])
    assert np.abs(b.render("nav").astype(int) - nav).mean() > 5
    with pytest.raises(ValueError, match="camera"):
        b.render("top")


def test_visible_objects_front_not_behind():
    layout = _room(agent_pose=(2.0, 2.0, 0.0))
    layout.objects += [
        ObjectSpec("BasketBall", (3.2, 2.0, None)),
        ObjectSpec("BasketBall", (0.8, 2.0, None)),
    ]
    b = MujocoBackend.from_layout(layout)
    front, behind = (o.object_id for o in b.objects())
    seen = b.visible_objects()
    assert front in seen and behind not in seen
    assert front not in b.visible_objects(max_distance=0.5)


def test_free_space_excludes_walls_and_furniture():
    layout = _room(agent_pose=(1.0, 1.0, 0.0))
    layout.furniture.append(Furniture("Bed", (3.0, 3.0), (1.0, 1.0, 0.6)))
    b = MujocoBackend.from_layout(layout)
    fs = b.free_space()
    assert fs.free[fs.world_to_cell(np.array([2.0, 2.0]))]
    assert not fs.free[fs.world_to_cell(np.array([0.05, 2.0]))]  # wall
    assert not fs.free[fs.world_to_cell(np.array([3.0, 3.0]))]  # bed
    pts = fs.free_points()
    assert pts[:, 0].min() > 0.2 and pts[:, 0].max() < 3.8


@pytest.mark.parametrize("pose", [(0.0, 2.0, 0.0), (9.0, 2.0, 0.0), (3.0, 3.0, 0.0)])
def test_impossible_start_pose_raises(pose):
    layout = _room(agent_pose=(1.0, 1.0, 0.0))
    layout.furniture.append(Furniture("Bed", (3.0, 3.0), (1.0, 1.0, 0.6)))
    b = MujocoBackend.from_layout(layout)
    with pytest.raises(ValueError, match="start pose"):
        b.reset(0, start_pose=pose)


def test_perturbations_change_image_deterministically():
    layout = _room(agent_pose=(2.0, 2.0, 0.0))
    layout.furniture.append(Furniture("Fridge", (3.5, 2.0), (0.75, 0.8, 1.8)))
    b = MujocoBackend.from_layout(layout)
    clean = b.render()
    frames = []
    for _ in range(2):
        b.set_perturbation(
            lighting=0.4, color_shift=True, material=True, camera_noise=8.0, blur=3, seed=11
        )
        frames.append(b.render())
    assert np.abs(frames[0].astype(int) - clean).mean() > 5
    np.testing.assert_array_equal(frames[0], frames[1])
    b.set_perturbation()
    np.testing.assert_array_equal(b.render(), clean)


def test_bad_action_raises(house):
    with pytest.raises(ValueError, match="action"):
        house.step(20)


def test_the_arm_model_finds_the_simulated_grip_point():
    """:func:`sim_bridge.arm.grip_point` (the expert's grasp and the grasp tasks' shaping) is
    where the simulated grip site is, as the base turns and the lift and arm move."""
    from sim_bridge.arm import ArmGeometry, grip_point

    b = MujocoBackend.from_layout(_room(agent_pose=(2.0, 2.0, 30.0)))
    moves = ["arm_up", "arm_out", "arm_out", "rotate_left", "arm_down", "rotate_right_small"]
    for name in [None, *moves]:
        if name is not None:
            b.step(A[name])
        model = grip_point(b.agent(), ArmGeometry())
        err = np.linalg.norm(model - b.gripper_position())
        assert err < 0.005, name
