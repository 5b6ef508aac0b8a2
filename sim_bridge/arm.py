"""The arm's geometry: where the grip point sits for a given base pose and arm state.

The arm is Stretch-like: a lift carriage on a mast and a telescoping arm extending to the
robot's right. In the base frame (x forward, y left) the grip point is

    g = (gx, −(gy0 + e), lift − gz)      e = arm extension, lift = lift height.

Used by the expert's scripted grasp (:mod:`sim_bridge.expert_grasp`) and by the grasp tasks'
distance shaping (:class:`sim_bridge.tasks.base.GraspTask`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim_bridge.backend import AgentState, ObjectState
from sim_bridge.robot import ARM_RANGE_M, LIFT_RANGE_M


@dataclass(frozen=True)
class ArmGeometry:
    """Where the grip point sits relative to the base (see module docstring).

    Attributes:
        gx: forward offset of the arm line, metres.
        gy0: lateral distance of the grip point at zero extension, metres (to the right).
        gz: grip point below the lift height, metres.
        max_extension: arm travel, metres.
        max_lift: lift travel, metres.
    """

    gx: float = -0.04
    gy0: float = 0.28
    gz: float = 0.07
    max_extension: float = ARM_RANGE_M[1]
    max_lift: float = LIFT_RANGE_M[1]


def to_base_frame(agent: AgentState, p: np.ndarray) -> np.ndarray:
    """World point -> base frame (x forward, y left, z up)."""
    t = math.radians(agent.yaw_deg)
    d = np.asarray(p[:2], float) - agent.position[:2]
    return np.array(
        [
            math.cos(t) * d[0] + math.sin(t) * d[1],
            -math.sin(t) * d[0] + math.cos(t) * d[1],
            float(p[2]),
        ]
    )


def grip_point(agent: AgentState, geo: ArmGeometry) -> np.ndarray:
    """World position of the grip point for the agent's current arm state."""
    t = math.radians(agent.yaw_deg)
    local = np.array([geo.gx, -(geo.gy0 + agent.arm_extension)])
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    xy = agent.position[:2] + rot @ local
    return np.array([xy[0], xy[1], agent.lift_height - geo.gz])


def box_distance(p: np.ndarray, obj: ObjectState) -> float:
    """Distance from point ``p`` to the object's axis-aligned box (0 inside)."""
    gap = np.abs(np.asarray(p) - obj.position) - 0.5 * np.asarray(obj.size)
    return float(np.linalg.norm(np.maximum(gap, 0.0)))
