"""The robot's fixed facts that several parts of the stack rely on, each defined once.

The embedded MuJoCo robot (:mod:`sim_bridge.mujoco.scene_xml`) is built from these numbers, the
AI2-THOR backend configures its Stretch camera with the same field of view, the expert plans its
goal cells with them (:mod:`sim_bridge.expert`), the tasks and the evaluator's reference paths
use the reach, and the ROS sim bridge node publishes the camera model from the field of view.

Source: the benchmark's Stretch set-up (navigation camera with a 59 deg vertical field of view,
docs/benchmark.md); the embedded robot's mast puts that camera 1.32 m above the floor, tilted
20 deg down (THOR's Stretch pitches it 27 deg, :mod:`sim_bridge.thor.backend`).
"""

from __future__ import annotations

import math

CAMERA_SIZE_HW: tuple[int, int] = (128, 128)
"""(H, W) the simulator renders a camera at when nothing asks for another size, pixels."""

TRAINING_NAV_SIZE_HW: tuple[int, int] = (96, 96)
"""(H, W) the trainer renders the navigation camera at by default; a bundle records the size it
was trained at in its manifest, and whoever runs that bundle renders at that size instead."""

NAV_CAMERA_VFOV_DEG = 59.0
"""Vertical field of view of the navigation camera, degrees (square pixels)."""

NAV_CAMERA_HEIGHT_M = 1.32
"""Height of the embedded robot's navigation camera above the floor, metres."""

NAV_CAMERA_TILT_DEG = 20.0
"""Downward pitch of the embedded robot's navigation camera, degrees."""

MANIP_CAMERA_VFOV_DEG = 70.0
"""Vertical field of view of the embedded robot's wrist (manipulation) camera, degrees."""

REACH_BAND_M: tuple[float, float] = (0.45, 0.75)
"""(min, max) horizontal distance from the base centre to an object the arm can grasp, metres.

The arm extends sideways from the mast; closer than the minimum the gripper cannot get around
the object, farther than the maximum the fully extended arm falls short."""

REACH_M = REACH_BAND_M[1]
"""The arm's reach: the farthest horizontal base-to-object distance of a grasp, metres."""

LIFT_RANGE_M: tuple[float, float] = (0.0, 1.1)
"""Travel of the lift carriage on the mast, metres above its lowest position."""

ARM_RANGE_M: tuple[float, float] = (0.0, 0.52)
"""Travel of the telescoping arm, metres from fully retracted."""

GRASP_RADIUS_M = 0.06
"""``pickup`` grasps an object whose bounding box is within this of the grip point, metres."""

SCAN_KEYS: tuple[str, ...] = ("scan", "scan_objects", "scan_arm")
"""The observation keys of the range scans a simulator that casts them reports, from one set of
rays (the MuJoCo backend's ``all_scans``): the range scan, the same without the building's
structure, and the same at the arm's heights only (``EnvConfig.range_scan``)."""


def nav_camera_hfov_deg(width: int, height: int, vfov_deg: float = NAV_CAMERA_VFOV_DEG) -> float:
    """Horizontal field of view of a ``width`` x ``height`` frame with square pixels, degrees:
    ``hfov = 2·atan(tan(vfov / 2) · width / height)``."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    return math.degrees(2.0 * math.atan(math.tan(math.radians(vfov_deg) / 2.0) * width / height))
