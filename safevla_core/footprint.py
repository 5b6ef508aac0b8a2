"""The robot's footprint against the range scan (ROS-free, numpy): each base motion's swept
clearance, and the clear pass that trusts it (and the arm pass, for the arm's motions);
which base motions separate from what the robot touches (the guard release); and which arm
extensions strike what the arm scan sees (the arm guard, :func:`arm_strikes`).

The footprint is the base box (``BASE_HALF_M``, x forward, y left, centred on the scan's
origin) and the arm beside it (``ARM_BOX_M``: the retracted arm, wrist and gripper, reaching
14 cm past the base's right side; the telescoping arm slides out along -y, so an arm extended by
``e`` metres reaches ``e`` further). A base motion's swept clearance is the least distance from
a scan return to the footprint at ``samples`` poses along the motion (the start pose left out:
an object the robot rests against does not block the motion away from it).

**The clear pass** (a critic bundle's ``clear_pass_m``, thirty-third session). Every
Safety-CHORES cost needs the robot to strike something in that step (or an object still moving
from an earlier strike, which no motion avoids). A base motion whose arm-aware swept clearance
is at least ``clear_pass_m`` therefore strikes nothing the scan sees, and the runtime sets its
risks to 0 (:class:`safevla_core.safety_critic.SafetyCritic`). Measured on the shipped critic's
46,742 probed states (docs/safety_critic.md): at 3 cm, 275 of 11,663 costly base motions pass,
259 of them in states where every base motion costs. The critic's own risks cannot make this
call: they do not see the arm's extension, so they hedge against an arm that may be out and veto
base motions 10 cm clear of everything.

**The arm pass** (a critic bundle's ``clear_pass_arm``, forty-third session; off in the shipped
critic). The lift's motions (``arm_up``, ``arm_down``, small or not) move the arm and gripper
straight up or down: their footprint on the floor plan does not change, and the range scan
spans the arm's whole travel (1.2 cm to 1.31 m; the gripper reaches from 9 cm below the lift to
2 cm above it, the lift from 0 to 1.1 m). So where the footprint as the robot stands clears
every return by ``clear_pass_m`` (:func:`standing_clearance`), a lift motion strikes nothing
the scan sees. The telescoping arm's motions (``arm_out``, ``arm_in``, small or not) slide the
arm at the lift's height: given the arm scan (what lies at the heights the arm occupies), one
whose swept footprint clears it by ``clear_pass_m`` (:func:`telescope_clearance`) strikes
nothing it sees. With ``clear_pass_arm`` the clear pass sets their risks to 0 under the base
motions' conditions (gripper empty, no contact in the last ``clear_pass_quiet`` feedbacks).
Measured (docs/safety_critic.md, "The arm pass"): every lowering the shield refused in the
careless expert's lost PickUp episodes was harmless, and the pass lets through a few in ten
thousand of the costly arm motions outside states where every arm motion costs; but behind it
the careless expert met the next refusals (its ``pickup``, an extension the arm guard bars) and
lost more PickUp episodes than it gained, so the shipped critic leaves it off.

**The wrist's yaw** (thirty-fifth session). ``ARM_BOX_M`` holds the gripper as it hangs with
the wrist at its zero (fingers along -y). A turned wrist swings the gripper about the wrist's
axis (``WRIST_AXIS_M``, moving out with the arm) and its fingers out of that box (measured in
the simulator: at -39.5 degrees the fingers reach x = -0.15 m, past the box's -0.075). Given the
wrist's yaw, the footprint adds the gripper's box (``GRIPPER_BOX_M``, in the wrist's frame)
turned by it. The arm box keeps the gripper's place at the zero, so a turned wrist only adds to
the footprint: every clearance is at most what it was without the yaw, and the clear pass
passes a subset of what it passed before (the calibration's measured miss rate, made with the
wrist taken at its zero, still bounds it).

What the footprint does not cover: an object the gripper holds (the scan does not see it and
the box does not include it), so the pass holds only while the gripper is known to be empty
(``holding`` False). The trainer calibrates the thresholds with the pass applied to every
state (holding or not), so the calibrated miss rate counts every costly motion it passes.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from safevla_core.actions import (
    ACTIONS,
    NUM_ACTIONS,
    SCAN_ANGLE_MIN,
    SCAN_RANGE_MAX_M,
    ActionKind,
)

BASE_HALF_M = (0.165, 0.17)  # sim_bridge.mujoco.scene_xml.BASE_HALF (the core does not import it)
# the retracted arm, wrist and gripper in the base frame: (x0, x1, y0, y1), m (the simulator's
# robot geoms at arm extension 0; the arm slides out along -y)
ARM_BOX_M = (-0.075, -0.005, -0.31, -0.17)
# the wrist's axis in the base frame with the arm retracted (it moves out along -y with the
# arm), and the gripper (wrist, palm and fingers) in the wrist's frame, (x0, x1, y0, y1), m: at
# yaw 0 (the fingers along -y) the gripper's box lies inside ARM_BOX_M (the simulator's geoms;
# the wrist turns counter-clockwise for a positive yaw, as a joint about +z)
WRIST_AXIS_M = (-0.04, -0.18)
GRIPPER_BOX_M = (-0.035, 0.035, -0.13, 0.02)
WRIST_YAW_MAX_RAD = 2.0 * math.pi  # no wrist turns further from its zero
# a scan return that stays within this of its distance at the start of a motion is one the
# motion slides along, not one it strikes (the guard release, :func:`separating_motions`)
SEPARATE_TOL_M = 0.001
# poses along a motion for the clear pass: at 16, an arm 0.52 m out sweeps 2.7 cm between two
# poses of a 30 degree turn, under its box's 7 cm width (at the critic's 4 it would sweep 11 cm)
PASS_SAMPLES = 16
BASE_MOTIONS = np.array([a.moves_base for a in ACTIONS])
PASS_MAX_M = 0.5  # a larger clear_pass_m would pass nothing in a room


def motion_poses(samples: int) -> np.ndarray:
    """[NUM_ACTIONS, samples, 2] base poses along each action, (dx along the heading m, dyaw
    counter-clockwise rad) at k / samples of the motion, k = 1..samples; (0, 0) for an action
    that does not move the base."""
    s = np.arange(1, samples + 1) / samples
    out = np.zeros((NUM_ACTIONS, samples, 2))
    for a in ACTIONS:
        if a.kind is ActionKind.BASE_ROTATE:  # positive magnitude = clockwise
            out[a.index, :, 1] = -math.radians(a.magnitude) * s
        elif a.kind is ActionKind.BASE_TRANSLATE:
            out[a.index, :, 0] = a.magnitude * s
    return out


# per base motion and pose, [M, S, 1]: the translation and the turn's cosine and sine (fixed:
# computed once here, not on every monitor decision)
_DX = motion_poses(PASS_SAMPLES)[BASE_MOTIONS][..., 0][..., None]
_YAW = motion_poses(PASS_SAMPLES)[BASE_MOTIONS][..., 1][..., None]
_COS, _SIN = np.cos(_YAW), np.sin(_YAW)
_MAX_DX = float(np.abs(_DX).max())
# the lift's motions (arm_up, arm_down and their small steps): the arm and gripper move
# straight up or down, their footprint on the floor plan unchanged
LIFT_MOTIONS = np.array([a.kind is ActionKind.ARM_LIFT for a in ACTIONS])
# the telescoping arm's motions (arm_out, arm_in and their small steps): the arm slides along
# -y at the lift's height
TELESCOPE_MOTIONS = np.array([a.kind is ActionKind.ARM_EXTEND for a in ACTIONS])
# the actions that slide the arm out (the footprint's arm box grows along -y) and their longest
# step (m)
ARM_EXTENDS = np.array([a.kind is ActionKind.ARM_EXTEND and a.magnitude > 0 for a in ACTIONS])
_MAX_ARM_STEP = max(a.magnitude for a, out in zip(ACTIONS, ARM_EXTENDS) if out)
# the heights the arm and gripper occupy, relative to the lift's height (m): the arm's top 2 cm
# above it, the gripper's palm and fingers down to 9 cm below (sim_bridge.mujoco.scene_xml's
# robot geoms), each with 1 cm to spare. The arm scan is the range scan over these heights only.
ARM_BAND_M = (-0.10, 0.03)


@functools.lru_cache(maxsize=4)
def _beam_directions(beams: int) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin) of the bearings of a ``beams``-beam scan from SCAN_ANGLE_MIN."""
    bearings = SCAN_ANGLE_MIN + 2.0 * math.pi / beams * np.arange(beams)
    return np.cos(bearings), np.sin(bearings)


def _box_distance(qx, qy, x0, x1, y0, y1):
    dx = np.maximum(np.maximum(x0 - qx, qx - x1), 0.0)
    dy = np.maximum(np.maximum(y0 - qy, qy - y1), 0.0)
    return np.sqrt(dx * dx + dy * dy)


def _footprint_distance(qx, qy, arm_extension: float, wrist_yaw: float = 0.0):
    """Distance (m) of points in the base frame to the footprint: the base box, the arm box
    grown by ``arm_extension`` (m, >= 0) along -y and, with a turned wrist (``wrist_yaw`` rad,
    counter-clockwise), the gripper's box turned about the wrist's axis."""
    x0, x1, y0, y1 = ARM_BOX_M
    hx, hy = BASE_HALF_M
    d = np.minimum(
        _box_distance(qx, qy, -hx, hx, -hy, hy),
        _box_distance(qx, qy, x0, x1, y0 - arm_extension, y1),
    )
    if wrist_yaw == 0.0:  # the gripper's box lies inside the arm box
        return d
    return np.minimum(
        d, _box_distance(*_wrist_frame(qx, qy, arm_extension, wrist_yaw), *GRIPPER_BOX_M)
    )


def _wrist_frame(qx, qy, arm_extension: float, wrist_yaw: float):
    """Points in the base frame in the frame of the wrist (at its axis, turned by its yaw)."""
    c, s = math.cos(wrist_yaw), math.sin(wrist_yaw)
    wx, wy = qx - WRIST_AXIS_M[0], qy - (WRIST_AXIS_M[1] - arm_extension)
    return c * wx + s * wy, -s * wx + c * wy


def _signed_box(qx, qy, x0, x1, y0, y1):
    """Signed distance (m) of points to a box: positive outside, minus the depth inside."""
    out = _box_distance(qx, qy, x0, x1, y0, y1)
    depth = np.minimum(np.minimum(qx - x0, x1 - qx), np.minimum(qy - y0, y1 - qy))
    return np.where(out > 0, out, -np.maximum(depth, 0.0))


def _exact_signed_distance(qx, qy, arm_extension: float, wrist_yaw: float):
    """Signed distance (m) of points in the base frame to the footprint as the robot is: the
    base box, the arm up to the wrist (the arm box without the gripper's place at the zero) and
    the gripper's box turned by ``wrist_yaw``; negative inside (the deepest box's depth)."""
    hx, hy = BASE_HALF_M
    x0, x1, _, y1 = ARM_BOX_M
    wrist_y = WRIST_AXIS_M[1] - arm_extension
    d = np.minimum(
        _signed_box(qx, qy, -hx, hx, -hy, hy),
        _signed_box(qx, qy, x0, x1, wrist_y + GRIPPER_BOX_M[3], y1),
    )
    gripper = _signed_box(*_wrist_frame(qx, qy, arm_extension, wrist_yaw), *GRIPPER_BOX_M)
    return np.minimum(d, gripper)


def _returns_within(ranges: np.ndarray, reach_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) in the base frame (m) of the scan's returns no farther than ``reach_m``."""
    r = np.asarray(ranges, np.float64).reshape(-1)
    cos_b, sin_b = _beam_directions(r.size)
    seen = (r < SCAN_RANGE_MAX_M) & (r <= reach_m)
    return r[seen] * cos_b[seen], r[seen] * sin_b[seen]


def separating_motions(
    ranges: np.ndarray,
    arm_extension: float,
    wrist_yaw: float,
    strike_m: float,
    tol_m: float = SEPARATE_TOL_M,
) -> np.ndarray:
    """[NUM_ACTIONS] True for the base motions that bring no scan return within ``strike_m``
    of the robot's footprint as it is (:func:`_exact_signed_distance`: base, arm, the gripper
    turned by ``wrist_yaw``) at any of the PASS_SAMPLES poses along the motion unless that
    return stays as far (within ``tol_m``) as it was at the start: a motion that moves away from
    what the robot already touches strikes nothing new. (Sliding along a wall carries the
    footprint past returns it was not touching: not separating.) False for other actions.
    ``ranges``: one scan as for :func:`base_clearance`."""
    ext = max(float(arm_extension), 0.0)
    # a return beyond the footprint's reach, the longest translation and the strike distance
    # is never within strike_m of the footprint
    px, py = _returns_within(ranges, _reach(ext, wrist_yaw) + _MAX_DX + strike_m)
    start = _exact_signed_distance(px, py, ext, wrist_yaw)
    # the returns in the base's frame at every pose of every base motion: [M, S, N]
    qx = _COS * (px - _DX) + _SIN * py
    qy = -_SIN * (px - _DX) + _COS * py
    d = _exact_signed_distance(qx, qy, ext, wrist_yaw).min(axis=1)
    out = np.zeros(NUM_ACTIONS, bool)
    out[BASE_MOTIONS] = ~((d <= strike_m) & (d < start - tol_m)).any(axis=1)
    return out


def arm_strikes(
    ranges: np.ndarray,
    arm_extension: float,
    wrist_yaw: float,
    strike_m: float,
    tol_m: float = SEPARATE_TOL_M,
) -> np.ndarray:
    """[NUM_ACTIONS] True for the arm's extensions (``arm_out``, ``arm_out_small``) that bring a
    return of ``ranges`` within ``strike_m`` of the footprint as it will be
    (:func:`_exact_signed_distance` with the arm out by the action's step) while that return is
    closer than it is now (by more than ``tol_m``): the gripper would strike something new.
    False for every other action. ``ranges``: the arm scan (ARM_BAND_M: only what lies at the
    heights the arm and gripper occupy), one scan as for :func:`base_clearance`. The step is
    taken as commanded: at the joint's limit the arm does not move and the answer is cautious.
    """
    out = np.zeros(NUM_ACTIONS, bool)
    ext = max(float(arm_extension), 0.0)
    # a return beyond the footprint's reach at the longest extension and the strike distance
    # is never within strike_m of it
    px, py = _returns_within(ranges, _reach(ext + _MAX_ARM_STEP, wrist_yaw) + strike_m)
    if not px.size:
        return out
    start = _exact_signed_distance(px, py, ext, wrist_yaw)
    for a in np.flatnonzero(ARM_EXTENDS):
        d = _exact_signed_distance(px, py, ext + ACTIONS[a].magnitude, wrist_yaw)
        out[a] = bool(((d <= strike_m) & (d < start - tol_m)).any())
    return out


def check_wrist_yaw(wrist_yaw) -> float:
    """``wrist_yaw`` (rad from the wrist's zero, counter-clockwise) as a float.

    Raises:
        ValueError: not one finite number within +-WRIST_YAW_MAX_RAD, naming the value.
    """
    try:
        y = float(np.asarray(wrist_yaw, np.float64).reshape(()))
    except (TypeError, ValueError):
        y = math.nan
    if not (math.isfinite(y) and abs(y) <= WRIST_YAW_MAX_RAD):
        raise ValueError(
            f"wrist yaw {wrist_yaw!r} is not one finite angle within +-{WRIST_YAW_MAX_RAD:.3f} "
            "rad; pass the wrist yaw joint's position in radians (0 for a robot without one)"
        )
    return y


def _reach(arm_extension: float, wrist_yaw: float) -> float:
    """The footprint's farthest point from the scan's origin (m)."""
    x0, x1, y0, y1 = ARM_BOX_M
    hx, hy = BASE_HALF_M
    far = math.hypot(max(hx, -x0, x1), max(hy, arm_extension - y0, y1))
    if wrist_yaw:
        gx0, gx1, gy0, gy1 = GRIPPER_BOX_M
        tip = math.hypot(max(-gx0, gx1), max(-gy0, gy1))
        far = max(far, math.hypot(WRIST_AXIS_M[0], WRIST_AXIS_M[1] - arm_extension) + tip)
    return far


def base_clearance(
    ranges: np.ndarray, arm_extension: np.ndarray, wrist_yaw: np.ndarray | None = None
) -> np.ndarray:
    """[B, NUM_ACTIONS] swept clearance (m) of each base motion at PASS_SAMPLES poses, the arm
    box grown by ``arm_extension`` [B] (m; negative readings count as 0) and the gripper turned
    by ``wrist_yaw`` [B] (rad; None = the wrist at its zero); +inf for actions that do not move
    the base and where the scan has no return. ``ranges``: [B, N] metres at N bearings from
    SCAN_ANGLE_MIN, 2 pi / N apart, counter-clockwise (the critic's scan: N = SCAN_BEAMS,
    :func:`safevla_core.actions.check_scan`), capped at SCAN_RANGE_MAX_M."""
    r = np.asarray(ranges, np.float64)
    r = r.reshape(-1, r.shape[-1])
    cos_b, sin_b = _beam_directions(r.shape[1])
    ext = np.maximum(np.asarray(arm_extension, np.float64).reshape(-1), 0.0)
    yaw = np.zeros(len(r)) if wrist_yaw is None else np.asarray(wrist_yaw, np.float64).reshape(-1)
    out = np.full((r.shape[0], NUM_ACTIONS), np.inf)
    for i in range(r.shape[0]):
        seen = r[i] < SCAN_RANGE_MAX_M
        if not seen.any():
            continue
        px, py = r[i, seen] * cos_b[seen], r[i, seen] * sin_b[seen]
        # the returns in the frame of the base moved by dx and turned by yaw
        qx = _COS * (px - _DX) + _SIN * py
        qy = -_SIN * px + _COS * py
        d = _footprint_distance(qx, qy, ext[i], float(yaw[i]))  # [M, S, N]
        out[i, BASE_MOTIONS] = d.min(axis=(1, 2))
    return out


def standing_clearance(
    ranges: np.ndarray, arm_extension: np.ndarray, wrist_yaw: np.ndarray | None = None
) -> np.ndarray:
    """[B] least distance (m) from a return of the scan to the footprint as the robot stands
    (the base, the arm grown by ``arm_extension`` [B], the gripper turned by ``wrist_yaw`` [B]);
    +inf where the scan has no return. ``ranges`` as for :func:`base_clearance`."""
    r = np.asarray(ranges, np.float64)
    r = r.reshape(-1, r.shape[-1])
    cos_b, sin_b = _beam_directions(r.shape[1])
    ext = np.maximum(np.asarray(arm_extension, np.float64).reshape(-1), 0.0)
    yaw = np.zeros(len(r)) if wrist_yaw is None else np.asarray(wrist_yaw, np.float64).reshape(-1)
    out = np.full(len(r), np.inf)
    for i in range(len(r)):
        seen = r[i] < SCAN_RANGE_MAX_M
        if seen.any():
            px, py = r[i, seen] * cos_b[seen], r[i, seen] * sin_b[seen]
            out[i] = _footprint_distance(px, py, ext[i], float(yaw[i])).min()
    return out


def telescope_clearance(
    ranges: np.ndarray, arm_extension: float, wrist_yaw: float = 0.0
) -> np.ndarray:
    """[NUM_ACTIONS] least distance (m) from a return of ``ranges`` (the arm scan: what lies at
    the heights the arm and gripper occupy) to the footprint swept by each of the telescoping
    arm's motions (:data:`TELESCOPE_MOTIONS`: the arm at PASS_SAMPLES extensions from where it
    is to its step's end, out or in, never below 0, the gripper turned by ``wrist_yaw``); +inf
    for other actions and where the scan has no return. ``ranges``: one scan as for
    :func:`base_clearance`."""
    out = np.full(NUM_ACTIONS, np.inf)
    r = np.asarray(ranges, np.float64).reshape(-1)
    cos_b, sin_b = _beam_directions(r.size)
    seen = r < SCAN_RANGE_MAX_M
    if not seen.any():
        return out
    px, py = r[seen] * cos_b[seen], r[seen] * sin_b[seen]
    ext = max(float(arm_extension), 0.0)
    for a in np.flatnonzero(TELESCOPE_MOTIONS):
        ends = np.maximum(ext + ACTIONS[a].magnitude * np.linspace(0.0, 1.0, PASS_SAMPLES), 0.0)
        out[a] = min(_footprint_distance(px, py, e, wrist_yaw).min() for e in ends)
    return out


def clear_pass(
    ranges: np.ndarray,
    arm_extension: np.ndarray,
    clear_pass_m: float,
    wrist_yaw: np.ndarray | None = None,
    arm: bool = False,
    arm_ranges: np.ndarray | None = None,
) -> np.ndarray:
    """[B, NUM_ACTIONS] True for the base motions whose arm-aware swept clearance
    (:func:`base_clearance`, the gripper turned by ``wrist_yaw``) is at least ``clear_pass_m``.
    With ``arm`` (see the module docstring, "The arm pass"), also for the lift's motions
    (:data:`LIFT_MOTIONS`) where the footprint as the robot stands clears ``ranges`` by that
    much (:func:`standing_clearance`), and, given the arm scan ``arm_ranges`` ([B, N], what
    lies at the arm's heights), for the telescoping arm's motions (:data:`TELESCOPE_MOTIONS`)
    whose swept footprint clears it by that much (:func:`telescope_clearance`). Never for
    other actions, and nothing at ``clear_pass_m`` 0 (no pass)."""
    swept = base_clearance(ranges, arm_extension, wrist_yaw)
    passed = BASE_MOTIONS[None] & (swept >= clear_pass_m)
    if arm:
        standing = standing_clearance(ranges, arm_extension, wrist_yaw)
        passed |= LIFT_MOTIONS[None] & (standing >= clear_pass_m)[:, None]
    if arm and arm_ranges is not None:
        ar = np.asarray(arm_ranges, np.float64)
        ar = ar.reshape(-1, ar.shape[-1])
        ext = np.asarray(arm_extension, np.float64).reshape(-1)
        yaw = np.zeros(len(ar)) if wrist_yaw is None else np.asarray(wrist_yaw).reshape(-1)
        sweeps = [telescope_clearance(r, e, float(y)) for r, e, y in zip(ar, ext, yaw)]
        passed |= TELESCOPE_MOTIONS[None] & (np.stack(sweeps) >= clear_pass_m)
    return passed & (clear_pass_m > 0)


@functools.lru_cache(maxsize=64)
def _maneuver_poses(actions: tuple[int, ...], samples: int) -> np.ndarray:
    """[len(actions) * samples, 3] poses (x, y, yaw counter-clockwise) along a sequence of
    base motions from the origin, ``samples`` per motion (each motion's :func:`motion_poses`
    from where the one before ended), the start pose left out."""
    local = motion_poses(samples)
    x = y = yaw = 0.0
    poses = []
    for a in actions:
        if not ACTIONS[a].moves_base:
            raise ValueError(
                f"{ACTIONS[a].name} does not move the base; a maneuver is base motions"
            )
        for dx, dyaw in local[a]:
            poses.append((x + dx * math.cos(yaw), y + dx * math.sin(yaw), yaw + dyaw))
        x, y, yaw = poses[-1]
    return np.array(poses, np.float64).reshape(-1, 3)


def maneuver_clearances(
    ranges: np.ndarray,
    arm_extension: float,
    maneuvers: list[list[int]],
    samples: int = 8,
    within_m: float = math.inf,
    wrist_yaw: float = 0.0,
) -> np.ndarray:
    """Per maneuver (a sequence of base motions from the scan's pose), the least distance (m)
    from the scan's returns to the footprint (base box, arm box grown by ``arm_extension``, the
    gripper turned by ``wrist_yaw`` rad) at ``samples`` poses per motion (the start pose left
    out); +inf for an empty maneuver and where the scan has no return. With a finite
    ``within_m`` (a yes/no against a margin) the answer is at least ``within_m`` (the least
    distance, or +inf) where no return comes within ``within_m`` of the footprint, and a value
    under it (not always the least: the poses are taken one motion at a time, and the first
    motion that comes closer ends it) where one does. The world is taken as the one scan shows:
    what the robot will see on the way is not known yet, which is why the monitor judges every
    step of a detour again when it runs.

    Raises:
        ValueError: a maneuver with an action that does not move the base.
    """
    r = np.asarray(ranges, np.float64).reshape(-1)
    seen = r < SCAN_RANGE_MAX_M
    cos_b, sin_b = _beam_directions(r.size)
    px, py = r[seen] * cos_b[seen], r[seen] * sin_b[seen]
    ext = max(float(arm_extension), 0.0)
    reach = _reach(ext, wrist_yaw)
    out = np.full(len(maneuvers), np.inf)
    for i, m in enumerate(maneuvers):
        p = _maneuver_poses(tuple(int(a) for a in m), samples)
        if not len(p) or not len(px):
            continue
        # a return farther from the origin than the path and the footprint reach, plus
        # within_m, is more than within_m from the footprint at every pose
        near = np.hypot(px, py) <= math.hypot(*np.abs(p[:, :2]).max(axis=0)) + reach + within_m
        if not near.any():
            continue
        qx0, qy0 = px[near], py[near]
        step = samples if math.isfinite(within_m) else len(p)
        for k in range(0, len(p), step):
            q = p[k : k + step]
            c, s = np.cos(q[:, 2])[:, None], np.sin(q[:, 2])[:, None]
            dx, dy = qx0[None, :] - q[:, 0:1], qy0[None, :] - q[:, 1:2]
            qx, qy = c * dx + s * dy, -s * dx + c * dy  # the returns in the frame of each pose
            out[i] = min(out[i], _footprint_distance(qx, qy, ext, wrist_yaw).min())
            if out[i] < within_m:
                break
    return out


def maneuver_clearance(
    ranges: np.ndarray,
    arm_extension: float,
    actions: list[int],
    samples: int = 8,
    wrist_yaw: float = 0.0,
) -> float:
    """:func:`maneuver_clearances` of one maneuver."""
    return float(
        maneuver_clearances(ranges, arm_extension, [actions], samples, wrist_yaw=wrist_yaw)[0]
    )
