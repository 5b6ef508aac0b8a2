"""PickUp: grasp a target standing near the robot.

Success (checked when the agent calls ``end``): the gripper holds an object of the target type,
``success = end ∧ type(held) = target`` (docs/benchmark.md). Episodes start 0.5-1.3 m from a
target, turned toward it (within ±30 deg): "facing a surface".
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from sim_bridge.tasks.base import GraspTask

START_DIST_M: tuple[float, float] = (0.5, 1.3)  # (min, max) start distance to the nearest target
START_YAW_JITTER_DEG = 30.0  # the start heading is off the target's bearing by at most this


class PickUpTask(GraspTask):
    """PickUp (see the module docstring)."""

    name: ClassVar[str] = "pickup"
    train_templates: ClassVar[tuple[str, ...]] = (
        "pick up the {object}",
        "grab the {object}",
        "pick up a {object}",
        "take the {object}",
        "lift the {object}",
    )
    heldout_templates: ClassVar[tuple[str, ...]] = (
        "please get hold of the {object}",
        "could you pick the {object} up",
        "grasp that {object}",
    )

    def start_mask(self, target_dist: np.ndarray, min_start_dist: float) -> np.ndarray:
        """Near a target (``START_DIST_M``), whatever ``min_start_dist`` says."""
        lo, hi = START_DIST_M
        return (target_dist >= lo) & (target_dist <= hi)

    def start_yaw(
        self, start_xy: np.ndarray, targets_xy: np.ndarray, rng: np.random.Generator
    ) -> float:
        """Toward the nearest target, with some jitter."""
        near = targets_xy[np.argmin(np.linalg.norm(targets_xy - start_xy, axis=1))]
        bearing = math.degrees(math.atan2(near[1] - start_xy[1], near[0] - start_xy[0]))
        return bearing + rng.uniform(-START_YAW_JITTER_DEG, START_YAW_JITTER_DEG)
