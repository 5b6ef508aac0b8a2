"""Robot poses on the ground plane: what blocks the base, and whether a start pose is possible.

The robot occupies its base rectangle (``BASE_HALF`` around the base centre, rotated by the
yaw) and, at the start lift height, the retracted arm and gripper sticking out on its right
(``ARM_OVERHANG``). A start pose is impossible if it is off the map, if the base overlaps any
wall, furniture or floor-standing object, or if the arm overlaps one taller than the hanging
gripper.
"""

from __future__ import annotations

import math

import numpy as np

from sim_bridge.mujoco.geometry import Rect, rects_overlap
from sim_bridge.mujoco.layout import Layout
from sim_bridge.mujoco.scene_xml import BASE_HALF

# The retracted arm and gripper stick out on the robot's right (-y in the base frame):
# (centre offset in the base frame, half extents), metres.
ARM_OVERHANG: tuple[tuple[float, float], tuple[float, float]] = ((-0.04, -0.235), (0.045, 0.07))


def obstacles(layout: Layout) -> list[tuple[str, Rect, float]]:
    """(id, footprint, top height) of walls, furniture and free objects standing on the floor
    (at their start positions), with the ids the backend gives them."""
    out = [(f"Wall|{k}", w.box(), w.height) for k, w in enumerate(layout.walls)]
    nf = len(layout.furniture)
    out += [(f"{f.object_type}|{k}", f.box(), f.top) for k, f in enumerate(layout.furniture)]
    for k, spec in enumerate(layout.objects):
        bottom = layout.object_centre_z(spec) - spec.size[2] / 2
        if bottom < 0.05:
            rect = (np.array(spec.position[:2]), np.array(spec.size[:2]) / 2, spec.yaw_deg)
            out.append((f"{spec.object_type}|{nf + k}", rect, spec.size[2]))
    return out


def check_pose(
    layout: Layout,
    pose,
    start_lift: float,
    blockers: list[tuple[str, Rect, float]] | None = None,
) -> tuple[float, float, float]:
    """Validate a start pose (x, y, yaw_deg); return it as floats.

    ``blockers``: :func:`obstacles` of ``layout`` when the caller keeps them (they depend on
    the layout only); None computes them.

    Raises:
        ValueError: naming the pose and what it is off or inside.
    """
    try:
        x, y, yaw = (float(v) for v in pose)
    except (TypeError, ValueError):
        raise ValueError(f"start pose must be (x, y, yaw_deg), got {pose!r}") from None
    if not all(math.isfinite(v) for v in (x, y, yaw)):
        raise ValueError(f"start pose {pose!r} is not finite")
    xmin, ymin, xmax, ymax = layout.bounds()
    if not (xmin < x < xmax and ymin < y < ymax):
        raise ValueError(
            f"start pose {(x, y, yaw)} is off the map "
            f"(x in ({xmin:.2f}, {xmax:.2f}), y in ({ymin:.2f}, {ymax:.2f}))"
        )
    t = math.radians(yaw)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    base: Rect = (np.array([x, y]), np.array(BASE_HALF), yaw)
    arm: Rect = (
        np.array([x, y]) + rot @ np.array(ARM_OVERHANG[0]),
        np.array(ARM_OVERHANG[1]),
        yaw,
    )
    arm_bottom = start_lift - 0.1  # the retracted gripper hangs this far below the lift
    for oid, rect, height in obstacles(layout) if blockers is None else blockers:
        if rects_overlap(base, rect) or (height > arm_bottom and rects_overlap(arm, rect)):
            raise ValueError(
                f"start pose {(x, y, yaw)} puts the robot inside {oid}; "
                "pick a pose in free space (see free_space())"
            )
    return x, y, yaw
