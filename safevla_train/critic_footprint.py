"""Each motion's swept clearance from the range scan: a fixed (untrained) layer of the critic.

For every action, the least distance between a scan point and the robot's base footprint over
the motion: the box ``BASE_HALF`` (x forward, y left, centred on the scan's origin) swept along
a translation (one longer box), or turned through a rotation (the box at ``ROTATION_SAMPLES``
evenly spaced angles up to the turn: at 4 samples for 30 degrees a corner's arc is missed by
under a millimetre); for an action that does not move the base, the current footprint. 0 means
a scan point inside the swept footprint: the motion would run into what the scan sees.

A critic with ``critic.footprint`` reads these clearances besides the ranges themselves: a
learnt layer on the raw ranges must otherwise find the geometry of a rectangle turning among
72 beams from a few thousand contact events, which it does poorly where it matters (measured:
turns against a coffee table the scan sees 2 cm away passed the shield at 1% risk,
docs/safety_critic.md). The layer is plain tensor arithmetic, so it exports inside the critic
graph and the monitor feeds nothing new.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from safevla_core.actions import (
    ACTIONS,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
    ActionKind,
)

BASE_HALF_M = (0.165, 0.17)  # sim_bridge.mujoco.scene_xml.BASE_HALF (the core does not import it)
ROTATION_SAMPLES = 4
FAR_M = 10.0  # a beam that saw nothing: a point this far away


def _poses() -> tuple[torch.Tensor, torch.Tensor]:
    """Per action, ``ROTATION_SAMPLES`` poses (dx, dy, dyaw) of the base along the motion, and
    per pose the box's extension along x (the swept translation: lo, hi in metres)."""
    poses, ext = [], []
    for a in ACTIONS:
        rows, lohi = [], []
        for k in range(1, ROTATION_SAMPLES + 1):
            if a.kind is ActionKind.BASE_ROTATE:  # positive magnitude = clockwise
                rows.append((0.0, 0.0, -math.radians(a.magnitude) * k / ROTATION_SAMPLES))
                lohi.append((0.0, 0.0))
            elif a.kind is ActionKind.BASE_TRANSLATE:  # one box covering the whole sweep
                rows.append((0.0, 0.0, 0.0))
                lohi.append((min(a.magnitude, 0.0), max(a.magnitude, 0.0)))
            else:
                rows.append((0.0, 0.0, 0.0))
                lohi.append((0.0, 0.0))
        poses.append(rows)
        ext.append(lohi)
    return torch.tensor(poses, dtype=torch.float32), torch.tensor(ext, dtype=torch.float32)


class SweptClearance(nn.Module):
    """[B, SCAN_BEAMS] ranges (m) -> [B, NUM_ACTIONS] clearances (m, >= 0)."""

    def __init__(self) -> None:
        super().__init__()
        poses, ext = _poses()
        bearings = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * torch.arange(SCAN_BEAMS)
        self.register_buffer("cos_b", torch.cos(bearings).float(), persistent=False)
        self.register_buffer("sin_b", torch.sin(bearings).float(), persistent=False)
        yaw = poses[..., 2]  # [A, S]
        self.register_buffer("cos_y", torch.cos(yaw), persistent=False)
        self.register_buffer("sin_y", torch.sin(yaw), persistent=False)
        self.register_buffer("lo", ext[..., 0], persistent=False)
        self.register_buffer("hi", ext[..., 1], persistent=False)
        self.hx, self.hy = BASE_HALF_M

    def forward(self, ranges: torch.Tensor) -> torch.Tensor:
        b = ranges.shape[0]
        r = ranges.reshape(b, SCAN_BEAMS)
        r = torch.where(r >= SCAN_RANGE_MAX_M, torch.full_like(r, FAR_M), r)
        px = (r * self.cos_b)[:, None, None, :]  # [B, 1, 1, N]
        py = (r * self.sin_b)[:, None, None, :]
        c, s = self.cos_y[None, :, :, None], self.sin_y[None, :, :, None]  # [1, A, S, 1]
        # the point in the frame of the base turned by yaw (rotation by -yaw)
        qx = c * px + s * py
        qy = -s * px + c * py
        lo, hi = self.lo[None, :, :, None], self.hi[None, :, :, None]
        # distance to the box [lo - hx, hi + hx] x [-hy, hy] (0 inside)
        dx = torch.clamp(torch.maximum(lo - self.hx - qx, qx - hi - self.hx), min=0.0)
        dy = torch.clamp(qy.abs() - self.hy, min=0.0)
        dist = torch.sqrt(dx * dx + dy * dy)  # [B, A, S, N]
        return dist.amin(dim=(2, 3))
