"""The 20 discrete Safety-CHORES actions: the one definition of the action space.

Order, names and magnitudes follow the benchmark (docs/benchmark.md). The exported model bundle
records this table; nodes, simulator and trainer read it from here or from the bundle.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np


class ActionKind(enum.Enum):
    """What part of the robot an action moves."""

    BASE_TRANSLATE = "base_translate"  # magnitude in metres along the heading
    BASE_ROTATE = "base_rotate"  # magnitude in degrees, positive = clockwise (right)
    ARM_EXTEND = "arm_extend"  # telescoping arm, metres, positive = out
    ARM_LIFT = "arm_lift"  # lift, metres, positive = up
    WRIST = "wrist"  # wrist yaw, degrees
    GRASP = "grasp"  # pick up the nearest reachable pickupable object
    RELEASE = "release"  # drop off the held object
    TERMINAL = "terminal"  # end / sub_done: no motion, never costed


@dataclass(frozen=True)
class Action:
    """One discrete action.

    Attributes:
        index: position in the action space (the policy's logit index).
        name: stable snake_case name used in messages, bundles and logs.
        kind: which actuator it drives.
        magnitude: signed step size in the kind's unit (m or deg); 0 for grasp/release/terminal.
    """

    index: int
    name: str
    kind: ActionKind
    magnitude: float

    @property
    def moves_robot(self) -> bool:
        """True for actions that move an actuator (everything but end/sub_done)."""
        return self.kind is not ActionKind.TERMINAL

    @property
    def moves_base(self) -> bool:
        """True for the base's translations and turns."""
        return self.kind in (ActionKind.BASE_TRANSLATE, ActionKind.BASE_ROTATE)

    @property
    def is_motion(self) -> bool:
        """True for actions that command a displacement (base or arm joints): the ones that
        can be blocked. ``pickup``/``release`` change the grip, not a position."""
        return self.kind not in (ActionKind.TERMINAL, ActionKind.GRASP, ActionKind.RELEASE)


_TABLE = [
    ("move_ahead", ActionKind.BASE_TRANSLATE, 0.2),
    ("move_back", ActionKind.BASE_TRANSLATE, -0.2),
    ("rotate_right", ActionKind.BASE_ROTATE, 30.0),
    ("rotate_left", ActionKind.BASE_ROTATE, -30.0),
    ("end", ActionKind.TERMINAL, 0.0),
    ("sub_done", ActionKind.TERMINAL, 0.0),
    ("rotate_right_small", ActionKind.BASE_ROTATE, 6.0),
    ("rotate_left_small", ActionKind.BASE_ROTATE, -6.0),
    ("pickup", ActionKind.GRASP, 0.0),
    ("arm_in", ActionKind.ARM_EXTEND, -0.1),
    ("arm_out", ActionKind.ARM_EXTEND, 0.1),
    ("arm_up", ActionKind.ARM_LIFT, 0.1),
    ("arm_down", ActionKind.ARM_LIFT, -0.1),
    ("wrist_open", ActionKind.WRIST, 10.0),
    ("wrist_close", ActionKind.WRIST, -10.0),
    ("arm_in_small", ActionKind.ARM_EXTEND, -0.02),
    ("arm_out_small", ActionKind.ARM_EXTEND, 0.02),
    ("arm_up_small", ActionKind.ARM_LIFT, 0.02),
    ("arm_down_small", ActionKind.ARM_LIFT, -0.02),
    ("dropoff", ActionKind.RELEASE, 0.0),
]

ACTIONS: tuple[Action, ...] = tuple(
    Action(i, name, kind, mag) for i, (name, kind, mag) in enumerate(_TABLE)
)
ACTION_NAMES: tuple[str, ...] = tuple(a.name for a in ACTIONS)
NUM_ACTIONS = len(ACTIONS)
END = ACTION_NAMES.index("end")
SUB_DONE = ACTION_NAMES.index("sub_done")
# name -> index into ACTIONS (the policy's logits, the simulator's action ids).
ACTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(ACTION_NAMES)}
_BY_NAME = {a.name: a for a in ACTIONS}


def action_by_name(name: str) -> Action:
    """Look up an action by name.

    Raises:
        ValueError: naming the unknown action and listing the valid ones.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown action {name!r}; valid actions: {', '.join(ACTION_NAMES)}"
        ) from None


# Motion feedback ("bump"): what the last executed action did to the robot, an optional policy
# input (``model.bump_input``). ``blocked``: it commanded a displacement (:attr:`Action.is_motion`)
# and the base or joint did not cover it (an obstacle or a joint limit; odometry / joint states
# on a robot, ``action_succeeded`` in the simulator); ``collided``: the robot touched something
# other than the floor during it (a bumper or contact sensor; the simulator's ``collided``).
BUMP_FIELDS: tuple[str, ...] = ("blocked", "collided")


def bump_feedback(action: int | None, succeeded: bool, collided: bool) -> tuple[float, float]:
    """The :data:`BUMP_FIELDS` values after executing ``action`` (None: nothing executed yet,
    both 0). ``blocked`` is 1 only for a motion that did not happen."""
    if action is None or not 0 <= int(action) < NUM_ACTIONS:
        return (0.0, 0.0)
    blocked = ACTIONS[int(action)].is_motion and not succeeded
    return (float(blocked), float(bool(collided)))


def _finite_vector(values, n: int, lo: float, hi: float) -> np.ndarray | None:
    """``values`` as a float32 (n,) array of finite numbers in [lo, hi], else None."""
    try:
        v = np.asarray(values, np.float32).reshape(-1)
    except (TypeError, ValueError):
        return None
    if v.shape != (n,) or not np.all(np.isfinite(v)) or v.min() < lo or v.max() > hi:
        return None
    return v


def check_bump(bump, bundle_id: str = "") -> np.ndarray:
    """``bump`` as a float32 (2,) array of 0/1 feedback values (blocked, collided), for the
    model ``bundle_id`` (a policy or critic bundle) that takes it.

    Raises:
        ValueError: missing, the wrong length, not finite or outside [0, 1]; naming the value.
    """
    n = len(BUMP_FIELDS)
    if bump is None:
        raise ValueError(
            f"bundle {bundle_id} takes the motion feedback of the last action: pass bump = "
            f"{BUMP_FIELDS} (0/1 each; zeros at episode start)"
        )
    b = _finite_vector(bump, n, 0.0, 1.0)
    if b is None:
        raise ValueError(
            f"bump={bump!r} is not {n} values in [0, 1] for {BUMP_FIELDS}; pass the last "
            "action's motion feedback as 0/1 flags"
        )
    return b


# Proprioception ("proprio"): the arm's joint state, an optional policy input
# (``model.proprio_input``): the lift's height and the arm's extension in metres, as a robot's
# joint states report them (the simulator's ``AgentState.lift_height`` / ``arm_extension``).
PROPRIO_FIELDS: tuple[str, ...] = ("lift_height", "arm_extension")
PROPRIO_MAX_M = 3.0  # no joint of a mobile manipulator reports more
PROPRIO_TOL_M = 0.02  # joint readings this far below 0 are sensor noise (read as 0)


def check_proprio(proprio, bundle_id: str = "") -> np.ndarray:
    """``proprio`` as a float32 (2,) array of joint positions in metres (lift height, arm
    extension), for the policy bundle ``bundle_id`` that takes it; readings down to
    ``-PROPRIO_TOL_M`` (a joint at its zero, read with noise) are returned as 0.

    Raises:
        ValueError: missing, the wrong length, not finite or outside
            [-PROPRIO_TOL_M, PROPRIO_MAX_M]; naming the value.
    """
    n = len(PROPRIO_FIELDS)
    if proprio is None:
        raise ValueError(
            f"bundle {bundle_id} takes the arm's joint state: pass proprio = {PROPRIO_FIELDS} "
            "in metres (from the robot's joint states)"
        )
    p = _finite_vector(proprio, n, -PROPRIO_TOL_M, PROPRIO_MAX_M)
    if p is None:
        raise ValueError(
            f"proprio={proprio!r} is not {n} values in [0, {PROPRIO_MAX_M}] m for "
            f"{PROPRIO_FIELDS}; pass the lift height and arm extension in metres"
        )
    return np.maximum(p, 0.0)


# The explored map ("explored"), an optional policy input (``model.explored_input``): what the
# robot's camera has shown of the floor, on an egocentric grid of EXPLORED_SHAPE cells of
# EXPLORED_CELL_M metres (the robot at the centre, facing row 0; column 0 to its left), one
# channel per EXPLORED_CHANNELS: the share of the cell that is seen free floor, the share that is
# a seen obstacle, 1 where a frontier (seen free floor next to unseen floor) crosses it, and 1
# where an object of the instructed type was seen. A robot builds it from depth, odometry and
# its detector; the simulator from its floor visibility (sim_bridge.explored_obs).
EXPLORED_CHANNELS: tuple[str, ...] = ("free", "blocked", "frontier", "target")
EXPLORED_SHAPE: tuple[int, int, int] = (len(EXPLORED_CHANNELS), 20, 20)
EXPLORED_CELL_M = 0.5


def check_explored(explored, bundle_id: str = "") -> np.ndarray:
    """``explored`` as a float32 EXPLORED_SHAPE array of shares in [0, 1], for the policy
    bundle ``bundle_id`` that takes it: uint8 grids (0..255, as the simulator and a mapper
    publish them) are scaled to [0, 1]; float grids must already be in [0, 1].

    Raises:
        ValueError: missing, the wrong shape, not finite or out of range; naming the value.
    """
    if explored is None:
        raise ValueError(
            f"bundle {bundle_id} takes the explored map: pass explored = a {EXPLORED_SHAPE} "
            f"grid of {EXPLORED_CHANNELS} shares around the robot (sim_bridge.explored_obs)"
        )
    try:
        arr = np.asarray(explored)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.shape != EXPLORED_SHAPE or arr.dtype.kind not in "uif":
        got = getattr(arr, "shape", None), getattr(arr, "dtype", None)
        raise ValueError(
            f"explored map of shape/dtype {got} is not a {EXPLORED_SHAPE} uint8 or float grid "
            f"of {EXPLORED_CHANNELS} shares"
        )
    if arr.dtype.kind in "ui":
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(
                f"explored map values {arr.min()}..{arr.max()} are outside 0..255 (uint8 shares)"
            )
        return arr.astype(np.float32) / 255.0
    v = arr.astype(np.float32)
    if not np.all(np.isfinite(v)):
        raise ValueError(
            f"explored map holds {int(np.sum(~np.isfinite(v)))} NaN/Inf values, outside "
            "[0, 1]: pass shares, or uint8 0..255"
        )
    if v.min() < 0.0 or v.max() > 1.0:
        raise ValueError(
            f"explored map values {v.min()}..{v.max()} are outside [0, 1]: pass shares, or "
            "uint8 0..255"
        )
    return v


# The range scan ("scan"), an optional safety-critic input (``critic.scan_input``): a 360-degree
# virtual laser scan of the nearest obstacle in the robot's height band, as a 3D lidar or a
# depth camera ring reduced to a planar scan gives it (the lowest range over the heights, per
# bearing; ROS: sensor_msgs/LaserScan from pointcloud_to_laserscan with min/max height). Beam i
# looks at bearing SCAN_ANGLE_MIN + i * SCAN_ANGLE_INCREMENT in the base frame (0 = ahead,
# counter-clockwise), measured from the base's centre; no return within SCAN_RANGE_MAX_M reads
# SCAN_RANGE_MAX_M. The simulator casts rays at SCAN_HEIGHTS_M (sim_bridge.mujoco.backend):
# 2 cm above the floor (small objects), then every 2.5 cm up to the top of the mast (1.29 m),
# so nothing 2.5 cm thick or more in the band is missed (a table top is 4 cm, a shelf board
# 3 cm). Until the twenty-seventh session it cast at 8 heights (0.012 ... 1.3 m) and missed
# table tops between them: the mast struck coffee and dining tables whose legs the scan saw
# 13-20 cm away (docs/safety_critic.md).
SCAN_BEAMS = 72
SCAN_ANGLE_MIN = -math.pi
SCAN_ANGLE_INCREMENT = 2.0 * math.pi / SCAN_BEAMS
SCAN_RANGE_MAX_M = 3.0
SCAN_HEIGHT_STEP_M = 0.025
SCAN_HEIGHTS_M: tuple[float, ...] = (
    0.012,
    *(round(0.035 + SCAN_HEIGHT_STEP_M * i, 4) for i in range(52)),
)


def check_scan(
    scan, bundle_id: str = "", what: str = "range scan", topic: str = "scan_topic"
) -> np.ndarray:
    """``scan`` as a float32 (SCAN_BEAMS,) array of ranges in [0, SCAN_RANGE_MAX_M], for the
    critic bundle ``bundle_id`` that takes it: +inf (no return, REP 117) and ranges beyond the
    maximum read as the maximum. ``what`` names the scan in errors (e.g. the object scan), and
    ``topic`` the monitor's parameter it arrives on.

    Raises:
        ValueError: missing, the wrong length, NaN, -inf or negative; naming the value.
    """
    if scan is None:
        raise ValueError(
            f"bundle {bundle_id} takes the {what}: pass {SCAN_BEAMS} ranges in metres "
            f"(bearings from {SCAN_ANGLE_MIN:.4f} rad, behind the robot, counter-clockwise in "
            f"steps of {SCAN_ANGLE_INCREMENT:.6f} rad; a LaserScan on the monitor's "
            f"{topic})"
        )
    try:
        v = np.asarray(scan, np.float32).reshape(-1)
    except (TypeError, ValueError):
        v = None
    if v is None or v.shape != (SCAN_BEAMS,):
        raise ValueError(
            f"{what} of shape {getattr(v, 'shape', None)} is not {SCAN_BEAMS} ranges; resample "
            f"the scan to {SCAN_BEAMS} beams {SCAN_ANGLE_INCREMENT:.6f} rad apart from "
            f"{SCAN_ANGLE_MIN:.4f} rad"
        )
    bad = np.isnan(v) | (v < 0.0)
    if bad.any():
        raise ValueError(
            f"{what} holds {int(bad.sum())} NaN or negative ranges (first at beam "
            f"{int(np.argmax(bad))}: {v[bad][0]!r}); pass ranges in metres, +inf for no return"
        )
    return np.minimum(v, SCAN_RANGE_MAX_M)
