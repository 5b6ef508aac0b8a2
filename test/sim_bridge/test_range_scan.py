"""The range scan on real MuJoCo geometry: walls at known distances, a held object and the robot's
own arm unseen, a low object seen, the arm scan (what lies at the arm's heights) against what the
arm strikes, the env's ``scan`` observation, and the input check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_scenes import SMALL, episode, table_room

from safevla_core.actions import (
    ACTION_NAMES,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
    check_scan,
)
from safevla_core.footprint import arm_strikes
from sim_bridge.env import EnvConfig, SafeChoresEnv
from sim_bridge.mujoco import Layout, MujocoBackend, MujocoConfig, ObjectSpec


def beam(bearing_rad: float) -> int:
    """The beam looking at ``bearing_rad`` in the base frame (0 ahead, counter-clockwise)."""
    return round((bearing_rad - SCAN_ANGLE_MIN) / SCAN_ANGLE_INCREMENT) % SCAN_BEAMS


def test_walls_read_at_their_distance_in_the_base_frame():
    # a 4.5 x 3 m room, walls 0.1 m thick: the robot at (1, 1), facing +y (yaw 90)
    backend = MujocoBackend.from_layout(Layout.box_room(4.5, 3, agent_pose=(1.0, 1.0, 90.0)))
    scan = backend.range_scan()
    assert scan.shape == (SCAN_BEAMS,) and scan.dtype == np.float32
    half = 0.05  # the walls' half thickness
    assert scan[beam(0.0)] == pytest.approx(2.0 - half, abs=0.01)  # ahead: +y wall at 3
    assert scan[beam(math.pi / 2)] == pytest.approx(1.0 - half, abs=0.01)  # left: -x wall
    assert scan[beam(-math.pi / 2)] == pytest.approx(SCAN_RANGE_MAX_M)  # right: 3.5 m
    assert scan[beam(math.pi)] == pytest.approx(1.0 - half, abs=0.01)  # behind: y = 0
    # a beam at 45 degrees to the left of ahead meets the -x wall at (1 - half) * sqrt(2)
    assert scan[beam(math.pi / 4)] == pytest.approx((1.0 - half) * math.sqrt(2), abs=0.01)


def test_a_low_object_is_seen_and_the_robots_own_arm_is_not():
    lay = Layout.box_room(5, 5, agent_pose=(2.5, 2.5, 0.0))
    lay.objects.append(ObjectSpec("Book", (3.2, 2.5, None)))  # 3 cm tall, 0.7 m ahead
    backend = MujocoBackend.from_layout(lay)
    ahead = backend.range_scan()[beam(0.0)]
    assert 0.4 < ahead < 0.75  # the book's near face, not the wall 2.45 m away
    empty = MujocoBackend.from_layout(Layout.box_room(5, 5, agent_pose=(2.5, 2.5, 0.0)))
    before = empty.range_scan()
    empty.step(_action("arm_out"))  # the arm reaches out to the robot's right
    after = empty.range_scan()
    np.testing.assert_allclose(after, before, atol=2e-3)  # the base may settle by a mm


def test_the_object_scan_keeps_furniture_and_objects_and_drops_the_walls():
    """``range_scan(objects_only=True)``: the same rays with walls and floor removed (a scan
    filtered against a static map): the book ahead reads as in the full scan, every beam that
    meets only a wall reads the maximum, and no beam is shorter than the full scan's."""
    lay = Layout.box_room(5, 5, agent_pose=(2.5, 2.5, 0.0))
    lay.objects.append(ObjectSpec("Book", (3.2, 2.5, None)))  # 0.7 m ahead
    backend = MujocoBackend.from_layout(lay)
    scan, things = backend.range_scans()
    np.testing.assert_array_equal(scan, backend.range_scan())
    np.testing.assert_array_equal(things, backend.range_scan(objects_only=True))
    assert things.shape == (SCAN_BEAMS,) and things.dtype == np.float32
    assert things[beam(0.0)] == pytest.approx(scan[beam(0.0)]) and things[beam(0.0)] < 0.75
    # the room's walls, 2.45-3 m away (the book's beams read under 1 m)
    walls = (scan > 1.0) & (scan < SCAN_RANGE_MAX_M - 1e-3)
    assert walls.sum() > SCAN_BEAMS // 2 and (scan < 1.0).sum() >= 1
    np.testing.assert_allclose(things[walls], SCAN_RANGE_MAX_M)
    assert (things >= scan - 1e-6).all()


@pytest.mark.parametrize("lift", [0.08, 1.0])
def test_the_arm_scan_sees_what_the_arm_would_strike_and_nothing_under_it(lift):
    """A book on the floor to the robot's right, 2 cm past where an ``arm_out`` takes the
    gripper. With the lift low (0.08 m) the arm scan sees the book, the arm guard's check
    (:func:`safevla_core.footprint.arm_strikes` on the arm scan) says ``arm_out`` strikes, and
    executing it does strike the book and moves it. With the lift high (1 m) the arm scan does
    not see the book, the check passes ``arm_out``, and executing it touches nothing, while the
    full scan, which sees the book under the arm, would have refused it. One cast gives the
    three scans."""
    out = ACTION_NAMES.index("arm_out")
    lay = Layout.box_room(3, 4, agent_pose=(1.0, 2.0, 0.0))  # facing +x: the arm slides to -y
    lay.objects.append(ObjectSpec("Book", (0.96, 1.5, None)))
    config = MujocoConfig(start_lift=lift, nav_size=(32, 32), manip_size=(32, 32))
    backend = MujocoBackend.from_layout(lay, config)
    scan, _, arm = backend.all_scans()
    np.testing.assert_array_equal(arm, backend.arm_scan())
    np.testing.assert_array_equal(scan, backend.range_scan())
    assert arm.shape == (SCAN_BEAMS,) and arm.dtype == np.float32
    extension = backend.agent().arm_extension
    assert arm_strikes(scan, extension, 0.0, 0.005)[out]  # the book is under the arm's sweep
    low = lift < 0.5
    assert (arm[beam(-math.pi / 2)] < 0.5) == low
    assert arm_strikes(arm, extension, 0.0, 0.005)[out] == low
    before = [o.position.copy() for o in backend.objects()]
    outcome = backend.step(out)
    moved = max(float(np.abs(o.position - p).max()) for o, p in zip(backend.objects(), before))
    assert outcome.struck == low and (moved > 0.01) == low
    assert outcome.struck_with == (["Book|0"] if low else [])


@pytest.mark.parametrize(("book_y", "under"), [(1.70, True), (1.50, False)])
def test_the_lift_pass_lets_down_only_an_arm_with_nothing_under_it(book_y, under):
    """A book on the floor under the retracted gripper (lift at 0.2 m), or 20 cm further out to
    the robot's right. Under it: the full scan's return lies inside the footprint, the clear
    pass with ``lift`` refuses the lift's motions, and executing ``arm_down`` strikes the book
    (the lift held back above its step). Beside it: the footprint as the robot stands clears
    the scan by 6 cm, the pass lets the lift's motions through, and ``arm_down`` touches
    nothing and lowers the lift its full step."""
    from safevla_core.footprint import LIFT_MOTIONS, clear_pass

    down = ACTION_NAMES.index("arm_down")
    lay = Layout.box_room(3, 4, agent_pose=(1.0, 2.0, 0.0))  # facing +x: the arm is at -y
    lay.objects.append(ObjectSpec("Book", (0.96, book_y, None)))
    config = MujocoConfig(start_lift=0.2, nav_size=(32, 32), manip_size=(32, 32))
    backend = MujocoBackend.from_layout(lay, config)
    scan = backend.range_scan()
    passed = clear_pass(scan[None], [backend.agent().arm_extension], 0.03, arm=True)[0]
    assert passed[LIFT_MOTIONS].tolist() == [not under] * 4
    outcome = backend.step(down)
    assert outcome.struck == under
    assert outcome.struck_with == (["Book|0"] if under else [])
    assert (backend.agent().lift_height > 0.11) == under  # the full step ends at 0.1 m


@pytest.mark.parametrize(
    ("book_y", "lift", "struck"), [(1.50, 0.08, True), (1.30, 0.08, False), (1.50, 1.0, False)]
)
def test_the_arm_pass_lets_out_only_an_arm_that_clears_the_arm_scan(book_y, lift, struck):
    """A book on the floor to the robot's right: 2 cm past where an ``arm_out`` takes the
    gripper, or 22 cm past it. With the lift low, the near book lies within 3 cm of the arm's
    swept footprint on the arm scan: the clear pass with ``arm`` refuses ``arm_out`` (and the
    smaller step passes, the book 10 cm beyond it), and executing ``arm_out`` strikes the book;
    the far book leaves it clear, and the arm stops short of it. With the lift at 1 m the arm
    scan does not hold the book: the pass lets ``arm_out`` through and it passes over it."""
    from safevla_core.footprint import TELESCOPE_MOTIONS, clear_pass

    out, small = ACTION_NAMES.index("arm_out"), ACTION_NAMES.index("arm_out_small")
    lay = Layout.box_room(3, 4, agent_pose=(1.0, 2.0, 0.0))  # facing +x: the arm slides to -y
    lay.objects.append(ObjectSpec("Book", (0.96, book_y, None)))
    config = MujocoConfig(start_lift=lift, nav_size=(32, 32), manip_size=(32, 32))
    backend = MujocoBackend.from_layout(lay, config)
    scan, _, arm = backend.all_scans()
    ext = [backend.agent().arm_extension]
    passed = clear_pass(scan[None], ext, 0.03, arm=True, arm_ranges=arm[None])[0]
    assert passed[out] != struck and passed[small]
    assert not clear_pass(scan[None], ext, 0.03, arm=True)[0, TELESCOPE_MOTIONS].any()
    before = [o.position.copy() for o in backend.objects()]
    outcome = backend.step(out)
    moved = max(float(np.abs(o.position - p).max()) for o, p in zip(backend.objects(), before))
    assert outcome.struck == struck and (moved > 0.01) == struck


@pytest.mark.parametrize(("lift", "seen"), [(0.537, True), (0.56, False)])
def test_the_arm_scan_holds_its_bands_edge_between_the_scans_heights(lift, seen):
    """A coffee table to the robot's right, its top at 0.45 m: between two of the scan's
    heights (0.435 and 0.46 m). With the lift at 0.537 m the arm band reaches down to 0.437 m
    (the fingertips at 0.447 m, with the band's 1 cm to spare): the arm scan holds the table's
    top through the band's own edge, and the arm guard refuses ``arm_out`` over it (measured:
    before the edge was cast, such extensions scraped table tops the arm scan put 16 cm clear).
    With the lift at 0.56 m the band clears the top and the arm scan does not hold it."""
    from sim_bridge.mujoco import Furniture

    out = ACTION_NAMES.index("arm_out")
    lay = Layout.box_room(3, 4, agent_pose=(1.0, 2.0, 0.0))  # facing +x: the arm slides to -y
    lay.furniture.append(Furniture("CoffeeTable", (0.96, 1.39), (0.5, 0.5, 0.45)))
    config = MujocoConfig(start_lift=lift, nav_size=(32, 32), manip_size=(32, 32))
    backend = MujocoBackend.from_layout(lay, config)
    scan, _, arm = backend.all_scans()
    right = beam(-math.pi / 2)
    assert scan[right] == pytest.approx(0.36, abs=0.01)  # the table's near side
    assert (arm[right] < 0.5) == seen
    assert arm_strikes(arm, 0.0, 0.0, 0.005)[out] == seen


def test_the_env_reports_the_scan_only_when_asked():
    def env(scan: bool) -> SafeChoresEnv:
        backend = MujocoBackend.from_layout(table_room())
        # facing the x = 0 wall from x = 1
        ep = episode("objnav", "Apple", pose=(1.0, 2.0, 180.0))
        config = EnvConfig(nav_size=SMALL, manip_size=SMALL, range_scan=scan)
        return SafeChoresEnv(backend, ep, config=config)

    on, off = env(True), env(False)
    obs, _ = on.reset()
    assert on.observation_space["scan"].contains(obs["scan"])
    assert on.observation_space["scan_objects"].contains(obs["scan_objects"])
    assert on.observation_space["scan_arm"].contains(obs["scan_arm"])
    assert (obs["scan_arm"] >= obs["scan"]).all()
    assert obs["scan_arm"][beam(0.0)] == pytest.approx(0.95, abs=0.01)  # the wall spans it
    assert (obs["scan_objects"] >= obs["scan"]).all()
    assert obs["scan_objects"][beam(0.0)] == pytest.approx(SCAN_RANGE_MAX_M)  # a wall ahead
    assert obs["scan"][beam(0.0)] == pytest.approx(0.95, abs=0.01)
    obs, *_ = on.step(_action("move_ahead"))  # 0.2 m towards the wall
    assert obs["scan"][beam(0.0)] == pytest.approx(0.75, abs=0.02)
    obs, _ = off.reset()
    assert "scan" not in obs and "scan" not in off.observation_space.spaces
    assert "scan_objects" not in obs and "scan_arm" not in obs


def _action(name: str) -> int:
    from safevla_core import ACTION_NAMES

    return ACTION_NAMES.index(name)


def test_check_scan_reads_no_return_as_the_maximum_and_names_bad_input():
    scan = np.full(SCAN_BEAMS, 1.0, np.float32)
    scan[3] = np.inf
    scan[4] = 7.5
    out = check_scan(scan, "critic-x")
    assert out[3] == SCAN_RANGE_MAX_M and out[4] == SCAN_RANGE_MAX_M and out[0] == 1.0
    with pytest.raises(ValueError, match="critic-x takes the range scan"):
        check_scan(None, "critic-x")
    with pytest.raises(ValueError, match="not 72 ranges"):
        check_scan(np.ones(360), "critic-x")
    bad = np.ones(SCAN_BEAMS)
    bad[10] = np.nan
    with pytest.raises(ValueError, match="first at beam 10"):
        check_scan(bad, "critic-x")
    bad[10] = -0.2
    with pytest.raises(ValueError, match="NaN or negative"):
        check_scan(bad, "critic-x")
