"""The critic's swept-clearance layer (``critic.footprint``) against the simulator's own range
scan and against a brute-force sweep of the base footprint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from safevla_core.actions import (
    ACTION_NAMES,
    ACTIONS,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
    ActionKind,
)
from safevla_train.critic_footprint import ARM_BOX_M, BASE_HALF_M, SweptClearance
from sim_bridge.mujoco import Furniture, Layout, MujocoBackend
from sim_bridge.mujoco.scene_xml import BASE_HALF

A = {n: i for i, n in enumerate(ACTION_NAMES)}


def assert_gripper_inside_the_arm_box(env: MujocoBackend, ext: float = 0.0) -> None:
    """The wrist and gripper geoms of the robot at (2, 2) facing +x lie inside the arm box
    grown outwards (-y) by ``ext`` (inward of its y1 the base box covers them)."""
    sim = env._sim
    x0, x1, y0, _ = ARM_BOX_M
    for g in range(sim.model.ngeom):
        name = sim.model.geom(g).name
        if name.split(":")[-1] in ("wrist", "palm", "finger_l", "finger_r"):
            half = np.abs(sim.data.geom_xmat[g].reshape(3, 3)[:2]) @ sim.model.geom_size[g]
            x, y = sim.data.geom_xpos[g][:2] - 2.0
            assert x0 - 0.005 <= x - half[0] and x + half[0] <= x1 + 0.005, name
            assert y0 - ext - 0.005 <= y - half[1], (name, ext)


def test_the_footprint_is_the_simulators():
    """The base box, and the arm box covers the wrist and gripper of the retracted arm where
    they stick out of the base."""
    assert BASE_HALF_M == BASE_HALF
    assert_gripper_inside_the_arm_box(
        MujocoBackend.from_layout(Layout.box_room(4, 4, agent_pose=(2.0, 2.0, 0.0)))
    )


@pytest.mark.parametrize("lift", [0.3, 1.0])
def test_the_arm_band_covers_the_simulators_arm_and_gripper(lift):
    """The arm scan's heights (``ARM_BAND_M`` about the lift's height) hold every arm, wrist and
    gripper geom of the robot, with at least 5 mm to spare, whatever the lift's height."""
    from safevla_core.footprint import ARM_BAND_M
    from sim_bridge.mujoco import MujocoConfig

    config = MujocoConfig(start_lift=lift, nav_size=(32, 32), manip_size=(32, 32))
    env = MujocoBackend.from_layout(Layout.box_room(4, 4, agent_pose=(2.0, 2.0, 0.0)), config)
    sim = env._sim
    seen = []
    for g in range(sim.model.ngeom):
        name = sim.model.geom(g).name.split(":")[-1]
        if name in ("arm_outer", "arm_inner", "wrist", "palm", "finger_l", "finger_r"):
            half = np.abs(sim.data.geom_xmat[g].reshape(3, 3)[2]) @ sim.model.geom_size[g]
            z = sim.data.geom_xpos[g][2] - sim.q("lift")
            assert ARM_BAND_M[0] + 0.005 <= z - half and z + half <= ARM_BAND_M[1] - 0.005, name
            seen.append(name)
    assert len(seen) == 6


def test_clearances_of_a_robot_5cm_from_a_table():
    """Facing a table 5 cm ahead in an open room: moving ahead or turning 30 degrees runs into
    it (0), a small turn keeps a few centimetres, arm motions keep the 5 cm, and backing off
    is judged from a quarter of the way back (5 cm more): an object the robot touches does
    not block the motion away from it."""
    lay = Layout.box_room(5, 5, agent_pose=(2.0, 2.5, 0.0))
    lay.furniture.append(
        Furniture("CoffeeTable", (2.0 + 0.165 + 0.05 + 0.3, 2.5), (0.6, 0.6, 0.45))
    )
    scan = torch.tensor(MujocoBackend.from_layout(lay).range_scan())[None]
    c = SweptClearance()(scan)[0].numpy()
    assert c[A["move_ahead"]] == 0 and c[A["rotate_right"]] == 0 and c[A["rotate_left"]] == 0
    assert 0.01 < c[A["rotate_right_small"]] < 0.045
    for name in ("arm_out", "arm_up", "pickup", "end"):
        assert c[A[name]] == pytest.approx(0.05, abs=0.01), name
    assert c[A["move_back"]] == pytest.approx(0.10, abs=0.01)


def _brute(ranges: np.ndarray, action: int, ext: float = 0.0, start: float = 0.25) -> float:
    """The least distance from a scan point to the footprint (the arm box reaching ``ext``
    further out) at 181 poses from ``start`` of the motion to its end."""
    a = ACTIONS[action]
    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    seen = ranges < SCAN_RANGE_MAX_M
    pts = np.stack([ranges * np.cos(th), ranges * np.sin(th)], 1)[seen]
    best = math.inf
    for s in np.linspace(start, 1.0, 181):
        dx = a.magnitude * s if a.kind is ActionKind.BASE_TRANSLATE else 0.0
        yaw = -math.radians(a.magnitude) * s if a.kind is ActionKind.BASE_ROTATE else 0.0
        q = pts - [dx, 0.0]
        c, sn = math.cos(yaw), math.sin(yaw)
        q = np.stack([c * q[:, 0] + sn * q[:, 1], -sn * q[:, 0] + c * q[:, 1]], 1)
        d = np.maximum(np.abs(q) - BASE_HALF, 0.0)
        x0, x1, y0, y1 = ARM_BOX_M
        y0 -= ext
        e = np.maximum(
            np.abs(q - [(x0 + x1) / 2, (y0 + y1) / 2]) - [(x1 - x0) / 2, (y1 - y0) / 2], 0
        )
        dist = np.minimum(np.sqrt((d**2).sum(1)), np.sqrt((e**2).sum(1)))
        best = min(best, float(dist.min()))
    return best


def test_the_layer_agrees_with_a_brute_force_sweep():
    rng = np.random.default_rng(0)
    scans = rng.uniform(0.17, 0.6, (6, SCAN_BEAMS)).astype(np.float32)
    scans[rng.uniform(size=scans.shape) < 0.3] = SCAN_RANGE_MAX_M  # beams that saw nothing
    got = SweptClearance()(torch.tensor(scans)).numpy()
    for i, ranges in enumerate(scans):
        for a in range(len(ACTIONS)):
            assert got[i, a] == pytest.approx(_brute(ranges, a), abs=2e-3), (i, ACTION_NAMES[a])


def test_the_floor_raises_the_risk_of_motions_into_a_scan_point_only():
    """``footprint_floor``: fitted on states where a wall stands 2 cm ahead (moving ahead
    runs into it; half of those moves caused an event), the floor of move_ahead is 0.5 in
    that category, and it raises only the risks of states with the wall ahead."""
    from safevla_train.critic_config import CriticConfig
    from safevla_train.critic_model import ExtraInputs

    cfg = CriticConfig(scan_input=True, footprint=True, footprint_floor=True)
    extras = ExtraInputs(cfg)
    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    near = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
    ahead = np.abs(th) < 0.2
    near[ahead] = (BASE_HALF[0] + 0.02) / np.cos(th[ahead])  # a wall 2 cm ahead
    far = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
    scans = torch.tensor(np.stack([near] * 60 + [far] * 60))
    labels = np.zeros((120, len(ACTIONS), 5), np.uint8)
    labels[:30, A["move_ahead"], 1] = 1  # half the moves into the wall: a blind-spot event
    labels[60:, A["move_back"], 0] = 1  # motions with room: no floor, whatever their events
    floor = extras.fit_floor((scans,), labels)
    assert floor[A["move_ahead"], 1] == pytest.approx(0.5) and floor.sum() == pytest.approx(0.5)
    risk = torch.full((2, len(ACTIONS), 5), 0.01)
    out = extras.apply_floor(risk, extras.clearance((scans[[0, 60]],))).numpy()
    assert out[0, A["move_ahead"], 1] == pytest.approx(0.5)
    assert np.count_nonzero(out != 0.01) == 1  # nothing else moved, the far state not at all
    with pytest.raises(ValueError, match="footprint_floor=true needs"):
        CriticConfig(scan_input=True, footprint_floor=True)


def test_the_floor_clearance_decides_which_motions_run_into_a_scan_point():
    """``floor_clearance_m``: a wall 8 mm beside the base leaves move_ahead 8 mm clear, over
    the default 5 mm (no floor), under 1 cm (its event rate becomes the floor); out of
    range values are refused, and the clearance does not decide the trained weights."""
    from safevla_train.critic_config import CriticConfig
    from safevla_train.critic_model import ExtraInputs

    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    side = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
    left = (th > 0.35) & (th < np.pi - 0.35)
    side[left] = (BASE_HALF[1] + 0.008) / np.sin(th[left])  # a wall 8 mm to the left
    scans = torch.tensor(np.stack([side] * 60))
    labels = np.zeros((60, len(ACTIONS), 5), np.uint8)
    labels[:15, A["move_ahead"], 1] = 1
    cfg = CriticConfig(scan_input=True, footprint=True, footprint_floor=True)
    clear = ExtraInputs(cfg).clearance((scans[:1],))[0, A["move_ahead"], -1]
    assert 0.005 < float(clear) < 0.01
    assert ExtraInputs(cfg).fit_floor((scans,), labels)[A["move_ahead"]].sum() == 0.0
    wide = CriticConfig(
        scan_input=True, footprint=True, footprint_floor=True, floor_clearance_m=0.01
    )
    assert ExtraInputs(wide).fit_floor((scans,), labels)[A["move_ahead"], 1] == pytest.approx(0.25)
    assert wide.train_key() == cfg.train_key()
    for bad in (0.0, -0.01, 0.2, float("nan")):
        with pytest.raises(ValueError, match="floor_clearance_m"):
            CriticConfig(floor_clearance_m=bad)


def test_with_the_object_scan_the_floor_reads_only_what_is_not_a_wall():
    """``object_scan``: the clearances come from both scans ([B, A, 2]), and the floor is
    fitted on and applied to the object scan's: a wall 2 cm ahead (in the scan, not in the
    object scan) gets no floor, a cabinet 2 cm ahead (in both) does."""
    from safevla_train.critic_config import CriticConfig
    from safevla_train.critic_model import ExtraInputs

    cfg = CriticConfig(scan_input=True, footprint=True, footprint_floor=True, object_scan=True)
    extras = ExtraInputs(cfg)
    assert extras.names == ("scan", "scan_objects")
    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    near = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
    ahead = np.abs(th) < 0.2
    near[ahead] = (BASE_HALF[0] + 0.02) / np.cos(th[ahead])  # something 2 cm ahead
    far = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
    scans = torch.tensor(np.stack([near] * 120))
    things = torch.tensor(np.stack([near] * 60 + [far] * 60))  # a cabinet, then a wall
    labels = np.zeros((120, len(ACTIONS), 5), np.uint8)
    labels[:30, A["move_ahead"], 1] = 1  # half the moves into the cabinet cost
    clear = extras.clearance((scans, things))
    assert clear.shape == (120, len(ACTIONS), 2)
    assert float(clear[60, A["move_ahead"], 0]) == 0.0  # the scan sees the wall
    assert float(clear[60, A["move_ahead"], 1]) > 1.0  # the object scan does not
    floor = extras.fit_floor((scans, things), labels)
    assert floor[A["move_ahead"], 1] == pytest.approx(0.5) and floor.sum() == pytest.approx(0.5)
    risk = torch.full((2, len(ACTIONS), 5), 0.01)
    out = extras.apply_floor(risk, extras.clearance((scans[[0, 60]], things[[0, 60]]))).numpy()
    assert out[0, A["move_ahead"], 1] == pytest.approx(0.5)  # the cabinet
    assert np.count_nonzero(out != 0.01) == 1  # the wall: no floor
    with pytest.raises(ValueError, match="object_scan=true reads"):
        CriticConfig(scan_input=True, object_scan=True)


def test_the_extended_arm_stays_inside_the_arm_aware_box():
    """The telescoping arm slides out to the right (-y): at each extension the wrist and
    gripper stay inside the arm box grown outwards by the arm's joint reading."""
    env = MujocoBackend.from_layout(Layout.box_room(4, 4, agent_pose=(2.0, 2.0, 0.0)))
    for _ in range(3):
        env.step(A["arm_out"])
        assert_gripper_inside_the_arm_box(env, env.agent().arm_extension)
    assert env.agent().arm_extension > 0.25  # the arm did extend


def test_the_arm_aware_clearance_agrees_with_a_brute_force_sweep():
    """The clear pass's clearance (:func:`safevla_core.footprint.base_clearance`): the sweep
    of the base and of the arm box grown by the arm's extension, from the first of
    PASS_SAMPLES poses to the end, per base motion; other actions are not judged (inf)."""
    from safevla_core.footprint import PASS_SAMPLES, base_clearance

    rng = np.random.default_rng(1)
    scans = rng.uniform(0.17, 0.9, (5, SCAN_BEAMS)).astype(np.float32)
    scans[rng.uniform(size=scans.shape) < 0.3] = SCAN_RANGE_MAX_M
    ext = np.array([0.0, 0.1, 0.25, 0.4, 0.52], np.float32)
    got = base_clearance(scans, ext)
    for i, ranges in enumerate(scans):
        for a in range(len(ACTIONS)):
            if not ACTIONS[a].moves_base:
                assert got[i, a] == np.inf, ACTION_NAMES[a]
                continue
            want = _brute(ranges, a, float(ext[i]), 1.0 / PASS_SAMPLES)
            assert got[i, a] == pytest.approx(want, abs=2e-3), (i, ACTION_NAMES[a])
    assert (got[1:] <= base_clearance(scans, np.zeros(5))[1:]).all()  # the arm only adds
    assert (base_clearance(np.full((1, SCAN_BEAMS), SCAN_RANGE_MAX_M), [0.3]) == np.inf).all()


def test_the_clear_pass_takes_only_base_motions_clear_of_the_scan():
    """``clear_pass``: a wall 10 cm past the retracted arm's side leaves the base motions that
    do not swing the arm into it clear; with the arm 10 cm out they run into it. Arm motions
    and ``end`` never pass, and 0 passes nothing; the trainer refuses bad settings."""
    from safevla_core.footprint import clear_pass
    from safevla_train.critic_config import CriticConfig

    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    wall = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
    right = (th < -0.35) & (th > -np.pi + 0.35)
    wall[right] = (-ARM_BOX_M[2] + 0.10) / np.sin(-th[right])  # 10 cm past the arm's side
    passed = clear_pass(np.stack([wall, wall]), [0.0, 0.10], 0.03)
    for name in ("move_ahead", "move_back", "rotate_right_small", "rotate_left_small"):
        assert passed[0, A[name]] and not passed[1, A[name]], name
    for name in ("arm_out", "arm_in", "arm_up", "pickup", "end"):
        assert not passed[:, A[name]].any(), name
    assert not clear_pass(np.stack([wall]), [0.0], 0.0).any()
    assert not clear_pass(np.stack([wall]), [0.0], 0.2)[0, A["move_ahead"]]  # 10 cm < 20 cm
    for bad in (-0.01, 0.6, float("nan")):
        with pytest.raises(ValueError, match="clear_pass_m"):
            CriticConfig(scan_input=True, clear_pass_m=bad)
    with pytest.raises(ValueError, match="clear_pass_m reads the range scan"):
        CriticConfig(scan_input=False, clear_pass_m=0.03)
    on = CriticConfig(scan_input=True, clear_pass_m=0.03)
    assert on.train_key() == CriticConfig(scan_input=True).train_key()


def test_the_lift_pass_takes_the_lifts_motions_where_the_standing_footprint_is_clear():
    """``clear_pass(arm=True)``: the lift's four motions pass where the footprint as the robot
    stands (base, arm at its extension, gripper turned by the wrist) clears the scan by
    ``clear_pass_m``, and no other action gains a pass: a wall 10 cm past the retracted arm
    passes them, the arm 10 cm out against it, or the wrist turned the gripper into a return
    beside it, does not. Without ``arm`` they never pass, and the base motions' passes are
    the same either way."""
    from safevla_core.footprint import LIFT_MOTIONS, clear_pass, standing_clearance

    assert [ACTIONS[a].name for a in np.flatnonzero(LIFT_MOTIONS)] == [
        "arm_up",
        "arm_down",
        "arm_up_small",
        "arm_down_small",
    ]
    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    wall = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
    right = (th < -0.35) & (th > -np.pi + 0.35)
    wall[right] = (-ARM_BOX_M[2] + 0.10) / np.sin(-th[right])  # 10 cm past the arm's side
    scans = np.stack([wall, wall])
    standing = standing_clearance(scans, [0.0, 0.10])
    assert standing[0] == pytest.approx(0.10, abs=0.002) and standing[1] < 0.001
    lifted = clear_pass(scans, [0.0, 0.10], 0.03, arm=True)
    plain = clear_pass(scans, [0.0, 0.10], 0.03)
    assert lifted[0, LIFT_MOTIONS].all() and not lifted[1, LIFT_MOTIONS].any()
    assert not plain[:, LIFT_MOTIONS].any()
    np.testing.assert_array_equal(lifted[:, ~LIFT_MOTIONS], plain[:, ~LIFT_MOTIONS])
    assert not clear_pass(scans, [0.0, 0.10], 0.11, arm=True)[:, LIFT_MOTIONS].any()  # 10 cm
    assert not clear_pass(scans, [0.0, 0.0], 0.0, arm=True).any()
    # one return ahead of the wrist and to its right, on a beam (about (0.06, -0.24) m): clear
    # with the wrist at its zero, within 3 cm of the gripper turned forward (90 degrees)
    ahead = np.full(SCAN_BEAMS, np.inf)
    k = int(np.argmin(np.abs(th - math.atan2(-0.24, 0.06))))
    ahead[k] = math.hypot(0.06, 0.24)
    zero, turned = standing_clearance(np.stack([ahead, ahead]), [0.0, 0.0], [0.0, math.pi / 2])
    assert zero >= 0.03 > turned
    turning = clear_pass(np.stack([ahead, ahead]), [0.0, 0.0], 0.03, [0.0, math.pi / 2], True)
    assert turning[0, LIFT_MOTIONS].all() and not turning[1, LIFT_MOTIONS].any()
    assert standing_clearance(np.full((1, SCAN_BEAMS), np.inf), [0.0])[0] == np.inf


def test_the_telescoping_arms_swept_clearance_and_its_pass():
    """``telescope_clearance``: a wall 10 cm past the retracted arm's side is 10 cm from what
    ``arm_in`` sweeps (the arm cannot go below 0), 8 cm from ``arm_out_small``'s and touched by
    ``arm_out``'s; the clear pass with ``arm`` and that scan as the arm scan lets through
    exactly the first two, and the other actions get +inf. With the wrist turned, each motion's
    clearance is the least over a dense sweep of its extensions (the turned gripper's sweep,
    not its two ends)."""
    from safevla_core.footprint import (
        TELESCOPE_MOTIONS,
        _footprint_distance,
        clear_pass,
        telescope_clearance,
    )

    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    wall = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
    right = (th < -0.35) & (th > -np.pi + 0.35)
    wall[right] = (-ARM_BOX_M[2] + 0.10) / np.sin(-th[right])  # 10 cm past the arm's side
    c = telescope_clearance(wall, 0.0)
    assert c[A["arm_in"]] == pytest.approx(0.10, abs=0.002)
    assert c[A["arm_in_small"]] == pytest.approx(0.10, abs=0.002)
    assert c[A["arm_out_small"]] == pytest.approx(0.08, abs=0.002)
    assert c[A["arm_out"]] < 0.001
    assert np.isinf(c[~TELESCOPE_MOTIONS]).all()
    none = np.full((1, SCAN_BEAMS), np.inf)
    passed = clear_pass(none, [0.0], 0.03, arm=True, arm_ranges=wall[None])[0]
    assert [ACTIONS[a].name for a in np.flatnonzero(passed & TELESCOPE_MOTIONS)] == [
        "arm_in",
        "arm_in_small",
        "arm_out_small",
    ]
    rng = np.random.default_rng(5)
    scan = rng.uniform(0.25, 0.9, SCAN_BEAMS)
    px, py = scan * np.cos(th), scan * np.sin(th)
    for ext, yaw in ((0.0, 1.2), (0.25, -0.7), (0.05, math.pi / 2)):
        got = telescope_clearance(scan, ext, yaw)
        for a in np.flatnonzero(TELESCOPE_MOTIONS):
            ends = np.maximum(ext + ACTIONS[a].magnitude * np.linspace(0, 1, 201), 0.0)
            want = min(_footprint_distance(px, py, e, yaw).min() for e in ends)
            assert want <= got[a] <= want + 0.01, (ext, yaw, ACTIONS[a].name)


def test_a_maneuvers_clearance_chains_the_motions_in_the_start_frame():
    """:func:`safevla_core.footprint.maneuver_clearance` (the monitor's detour planning): one
    base motion at PASS_SAMPLES poses is the clear pass's clearance; three left turns then
    move_ahead is the turns' clearance or the clearance of move_ahead on the scan as seen
    after the turns (the same returns 90 degrees further clockwise), whichever is smaller; an
    arm motion is refused."""
    from safevla_core.footprint import (
        PASS_SAMPLES,
        base_clearance,
        maneuver_clearance,
        maneuver_clearances,
    )

    rng = np.random.default_rng(2)
    scans = rng.uniform(0.25, 1.2, (4, SCAN_BEAMS))
    scans[rng.uniform(size=scans.shape) < 0.3] = SCAN_RANGE_MAX_M
    quarter = round(math.pi / 2 / SCAN_ANGLE_INCREMENT)
    left, ahead = A["rotate_left"], A["move_ahead"]
    for ranges, ext in zip(scans, (0.0, 0.1, 0.3, 0.5), strict=True):
        single = base_clearance(ranges[None], [ext])[0]
        for a in (ahead, A["move_back"], A["rotate_right"], left, A["rotate_left_small"]):
            got = maneuver_clearance(ranges, ext, [a], PASS_SAMPLES)
            assert got == pytest.approx(single[a], abs=1e-9), ACTION_NAMES[a]
        turned = np.roll(ranges, -quarter)  # facing +y: a return at bearing b is now at b - 90
        want = min(
            maneuver_clearance(ranges, ext, [left] * 3, PASS_SAMPLES),
            base_clearance(turned[None], [ext])[0, ahead],
        )
        got = maneuver_clearance(ranges, ext, [left] * 3 + [ahead], PASS_SAMPLES)
        assert got == pytest.approx(want, abs=1e-6)
        # within_m: the same yes/no against a margin, with less work
        plans = [[left] * 3 + [ahead] * 2, [A["move_back"], A["rotate_right"]], [ahead] * 3]
        exact = maneuver_clearances(ranges, ext, plans)
        for margin in (0.03, 0.1, 0.3):
            fast = maneuver_clearances(ranges, ext, plans, within_m=margin)
            assert ((fast >= margin) == (exact >= margin)).all(), margin
            assert (fast >= exact - 1e-12).all()
    with pytest.raises(ValueError, match="arm_out does not move the base"):
        maneuver_clearance(scans[0], 0.0, [ahead, A["arm_out"]])


GRIPPER_GEOMS = ("wrist", "palm", "finger_l", "finger_r")


def _gripper_corners(sim) -> np.ndarray:
    """[N, 2] the corners of the wrist and gripper geoms (the robot at (2, 2) facing +x), in
    the base frame."""
    out = []
    for g in range(sim.model.ngeom):
        if sim.model.geom(g).name.split(":")[-1] in GRIPPER_GEOMS:
            rot = sim.data.geom_xmat[g].reshape(3, 3)[:2, :2]
            sx, sy = sim.model.geom_size[g][:2]
            for cx, cy in ((sx, sy), (sx, -sy), (-sx, sy), (-sx, -sy)):
                out.append(sim.data.geom_xpos[g][:2] - 2.0 + rot @ np.array([cx, cy]))
    return np.array(out)


def test_the_footprint_follows_the_wrists_yaw():
    """The simulator's wrist and gripper geoms, the wrist turned from -90 to 180 degrees and
    the arm in or out, lie inside the footprint given the wrist's yaw; without the yaw the
    turned fingers stick out of it by centimetres (the gap a wrist-blind footprint leaves).
    The yaw only adds to the footprint: the clear pass passes a subset of what it passed at the
    wrist's zero. A yaw that is not a finite angle is refused, naming it."""
    import mujoco

    from safevla_core.footprint import (
        GRIPPER_BOX_M,
        WRIST_AXIS_M,
        _footprint_distance,
        base_clearance,
        check_wrist_yaw,
    )

    env = MujocoBackend.from_layout(Layout.box_room(4, 4, agent_pose=(2.0, 2.0, 0.0)))
    sim = env._sim
    m, d = sim.model, sim.data
    for ext in (0.0, 0.3):
        for deg in (-90.0, -39.5, 0.0, 45.0, 90.0, 180.0):
            d.qpos[sim.jnt_qpos["arm"]] = ext
            d.qpos[sim.jnt_qpos["wrist"]] = math.radians(deg)
            mujoco.mj_forward(m, d)
            corners = _gripper_corners(sim)
            yaw = math.radians(deg)
            inside = _footprint_distance(corners[:, 0], corners[:, 1], ext, yaw)
            assert inside.max() <= 1e-6, (ext, deg, inside.max())
            blind = _footprint_distance(corners[:, 0], corners[:, 1], ext)
            if deg not in (0.0, 180.0):  # at 180 the gripper lies along the arm
                assert blind.max() > 0.03, (ext, deg, blind.max())
            # the fingertips' middle, 2 cm further out along the gripper: 2 cm from it
            axis = np.array([WRIST_AXIS_M[0], WRIST_AXIS_M[1] - ext])
            out = GRIPPER_BOX_M[2] - 0.02
            probe = axis + out * np.array([-math.sin(yaw), math.cos(yaw)])
            got = _footprint_distance(probe[:1], probe[1:], ext, yaw)[0]
            if deg in (-90.0, 45.0):  # elsewhere the base or the arm box is nearer
                assert got == pytest.approx(0.02, abs=1e-6), (ext, deg)

    rng = np.random.default_rng(3)
    scans = rng.uniform(0.4, 1.2, (7, SCAN_BEAMS)).astype(np.float32)
    # one return 6 cm ahead of the wrist's axis and 6 cm to its right: the gripper turned
    # forward (90 degrees) comes within 2.5 cm of it; the base and arm boxes stay 6 cm away
    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    beam = int(np.argmin(np.abs(th - math.atan2(-0.24, 0.06))))
    scans[6] = SCAN_RANGE_MAX_M
    scans[6, beam] = math.hypot(0.06, 0.24)
    ext = np.array([0.0, 0.1, 0.0, 0.3, 0.52, 0.2, 0.0])
    yaw = np.radians([0.0, -39.5, 90.0, 180.0, -90.0, 30.0, 90.0])
    turned, zero = base_clearance(scans, ext, yaw), base_clearance(scans, ext)
    assert (turned <= zero).all() and (turned[0] == zero[0]).all()
    back = A["move_back"]  # away from it: the footprint's start is nearest
    assert zero[6, back] > 0.06 and turned[6, back] < 0.03  # the turned gripper is nearer
    for bad in (float("nan"), 7.0, "a", [0.1, 0.2]):
        with pytest.raises(ValueError, match="wrist yaw"):
            check_wrist_yaw(bad)
    assert check_wrist_yaw(np.float32(-1.5)) == pytest.approx(-1.5)


def test_a_motion_away_from_what_the_robot_touches_strikes_nothing_new():
    """``separating_motions`` (the monitor's guard release): one return 2 mm behind the base.
    Moving ahead takes the robot away from it; moving back and turning (a corner of the base
    swings through it) strike it. With the gripper turned back (wrist at -90 degrees, its
    fingers behind the arm), a return just past the fingertips (on the nearest beam) is struck
    by turning right, which swings them into it, and not by moving ahead or turning left."""
    from safevla_core.footprint import (
        GRIPPER_BOX_M,
        WRIST_AXIS_M,
        separating_motions,
    )

    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)

    def one_return(x: float, y: float) -> np.ndarray:
        scan = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M, np.float32)
        beam = int(np.argmin(np.abs(np.angle(np.exp(1j * (th - math.atan2(y, x)))))))
        scan[beam] = math.hypot(x, y)
        return scan

    behind = one_return(-BASE_HALF_M[0] - 0.002, 0.0)
    free = separating_motions(behind, 0.0, 0.0, 0.005)
    assert free[A["move_ahead"]] and not free[A["move_back"]]
    assert not free[A["rotate_left"]] and not free[A["rotate_right"]]
    assert not free[[i for i, a in enumerate(ACTIONS) if not a.moves_base]].any()
    # the fingertips turned back: x = axis - 0.13 m, the return 2 mm further
    tip = one_return(WRIST_AXIS_M[0] + GRIPPER_BOX_M[2] - 0.002, WRIST_AXIS_M[1])
    turned = separating_motions(tip, 0.0, -math.pi / 2, 0.005)
    assert turned[A["move_ahead"]] and not turned[A["move_back"]]
    assert turned[A["rotate_left"]] and not turned[A["rotate_right"]]


def test_the_arm_guard_refuses_an_extension_into_a_return_not_one_beside_the_arm():
    """``arm_strikes``: a return 3 mm past the gripper's tip (on the arm's line, 0.4 m out) is
    struck by either extension; one 3 mm beside the arm, whatever the
    extension, stays as near as it is (the arm slides along it) and is not; one 3.3 cm past the
    tip is struck only by the 10 cm ``arm_out``. Base motions and the other arm motions are
    never the arm guard's."""
    from safevla_core.footprint import ARM_EXTENDS, arm_strikes

    out, small = A["arm_out"], A["arm_out_small"]
    assert np.flatnonzero(ARM_EXTENDS).tolist() == sorted([out, small])
    bearings = SCAN_ANGLE_MIN + 2 * math.pi / SCAN_BEAMS * np.arange(SCAN_BEAMS)

    def scan_with(x: float, y: float) -> np.ndarray:
        """A scan with one return at the beam nearest (x, y) in the base frame, read at the
        range that puts it on that beam at the point's distance; and the point it stands for."""
        r = np.full(SCAN_BEAMS, SCAN_RANGE_MAX_M)
        k = int(np.argmin(np.abs(np.angle(np.exp(1j * (bearings - math.atan2(y, x)))))))
        r[k] = math.hypot(x, y)
        return r, (r[k] * math.cos(bearings[k]), r[k] * math.sin(bearings[k]))

    x0, x1, y0, _ = ARM_BOX_M
    r, (_, py) = scan_with((x0 + x1) / 2, -0.4)
    ext = -py + y0 - 0.003  # the tip 3 mm short of the return
    hit = arm_strikes(r, ext, 0.0, 0.005)
    assert hit[out] and hit[small] and hit.sum() == 2
    assert not arm_strikes(r, ext - 0.03, 0.0, 0.005)[small]  # 3.3 cm short: the 2 cm stops short
    assert arm_strikes(r, ext - 0.03, 0.0, 0.005)[out]
    r, _ = scan_with(x1 + 0.003, -0.25)  # beside the arm, 3-5 mm off its side
    for e in (0.0, 0.2, 0.4):
        assert not arm_strikes(r, e, 0.0, 0.005).any(), e
