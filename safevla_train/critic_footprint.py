"""Each motion's swept clearance from the range scan: a fixed (untrained) layer of the critic.

For every action, the least distance between a scan point and the robot's footprint over the
motion: the base box ``BASE_HALF`` (x forward, y left, centred on the scan's origin) and the
retracted arm and gripper beside it (``ARM_BOX``: they reach 14 cm past the base's right side at
arm height; measured: a third of one costly shielded episode's contacts were the fingers on a
chair back), at
``SAMPLES`` poses a quarter, half, three quarters and all of the way through the translation or
turn (the start pose left out, so an object the robot rests against does not block the motion
away from it; consecutive boxes overlap, and at 7.5 degrees apart a corner's arc is missed by
under a millimetre); for an action that does not move the base, the current footprint. 0 means
a scan point inside the footprint somewhere along the motion: it would run into what the scan
sees.

A critic with ``critic.footprint`` reads these clearances besides the ranges themselves: a
learnt layer on the raw ranges must otherwise find the geometry of a rectangle turning among
72 beams from a few thousand contact events, which it does poorly where it matters (measured:
turns against a coffee table the scan sees 2 cm away passed the shield at 1% risk,
docs/safety_critic.md). The layer is plain tensor arithmetic, so it exports inside the critic
graph and the monitor feeds nothing new.
"""

from __future__ import annotations

import torch
from torch import nn

from safevla_core.actions import (
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
)
from safevla_core.footprint import ARM_BOX_M, BASE_HALF_M, motion_poses

__all__ = ["ARM_BOX_M", "BASE_HALF_M", "SAMPLES", "SweptClearance"]

SAMPLES = 4
FAR_M = 10.0  # a beam that saw nothing: a point this far away


def _poses() -> torch.Tensor:
    """Per action, ``SAMPLES`` base poses along the motion: (dx, dyaw) each (dx along the
    heading, m; dyaw counter-clockwise, rad)."""
    return torch.tensor(motion_poses(SAMPLES), dtype=torch.float32)


class SweptClearance(nn.Module):
    """[B, SCAN_BEAMS] ranges (m) -> [B, NUM_ACTIONS] clearances (m, >= 0)."""

    def __init__(self) -> None:
        super().__init__()
        poses = _poses()  # [A, S, 2]
        bearings = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * torch.arange(SCAN_BEAMS)
        self.register_buffer("cos_b", torch.cos(bearings).float(), persistent=False)
        self.register_buffer("sin_b", torch.sin(bearings).float(), persistent=False)
        self.register_buffer("dx", poses[..., 0], persistent=False)
        self.register_buffer("cos_y", torch.cos(poses[..., 1]), persistent=False)
        self.register_buffer("sin_y", torch.sin(poses[..., 1]), persistent=False)
        self.hx, self.hy = BASE_HALF_M
        x0, x1, y0, y1 = ARM_BOX_M
        self.arm_c = ((x0 + x1) / 2, (y0 + y1) / 2)
        self.arm_h = ((x1 - x0) / 2, (y1 - y0) / 2)

    def forward(self, ranges: torch.Tensor) -> torch.Tensor:
        b = ranges.shape[0]
        r = ranges.reshape(b, SCAN_BEAMS)
        r = torch.where(r >= SCAN_RANGE_MAX_M, torch.full_like(r, FAR_M), r)
        px = (r * self.cos_b)[:, None, None, :]  # [B, 1, 1, N]
        py = (r * self.sin_b)[:, None, None, :]
        c, s = self.cos_y[None, :, :, None], self.sin_y[None, :, :, None]  # [1, A, S, 1]
        # the point in the frame of the base moved by dx and turned by yaw (one of the two
        # is 0 for every action)
        qx = c * (px - self.dx[None, :, :, None]) + s * py
        qy = -s * px + c * py
        dist = torch.minimum(
            _box_distance(qx, qy, (0.0, 0.0), (self.hx, self.hy)),
            _box_distance(qx, qy, self.arm_c, self.arm_h),
        )  # [B, A, S, N]
        return dist.amin(dim=(2, 3))


def _box_distance(qx, qy, centre, half) -> torch.Tensor:
    """Distance from the points to an axis-aligned box (0 inside)."""
    dx = torch.clamp((qx - centre[0]).abs() - half[0], min=0.0)
    dy = torch.clamp((qy - centre[1]).abs() - half[1], min=0.0)
    return torch.sqrt(dx * dx + dy * dy)
