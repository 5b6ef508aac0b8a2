"""The explored map as an observation: what the robot's camera has shown of the floor so far,
around the robot, in the robot's frame.

A learner that sees only frames cannot tell where it has been, so it cannot predict where an
observation-consistent explorer (:mod:`sim_bridge.explorer`) heads next: the next frontier.
This observation gives it the explorer's own evidence, as a robot with a depth camera and
odometry builds it (a coverage map of the floor in view): a
:class:`~sim_bridge.explorer_map.RevealedMap` of the episode (the explorer's default view
range and occluders, the camera's horizontal field of view), sampled on an egocentric grid
(:data:`safevla_core.actions.EXPLORED_SHAPE`, cells of :data:`~safevla_core.actions.
EXPLORED_CELL_M`, the robot at the centre facing row 0) with three channels
(:data:`~safevla_core.actions.EXPLORED_CHANNELS`):

* ``free``: the share of the cell's ground points on seen floor the base can stand on;
* ``blocked``: the share on seen cells it cannot (the walls and furniture that bound the seen
  floor);
* ``frontier``: 1 where any ground point of the cell is a seen free cell next to unseen ones
  (clusters of at least the explorer's ``min_frontier_cells``): where new floor would come
  into view (a frontier is a thin line, so a share would hide it);
* ``target``: 1 where an object of the instructed type stood when it was in view within the
  explorer's ``sight_range_m`` (within ``TARGET_RADIUS_M`` of its centre): where the teacher
  remembers a sighting, which a robot's detector gives with depth.

Quantised to uint8 (0..255 for 0..1). The map grows once per observation (reset and every
step), never during the action probe's trial steps.
"""

from __future__ import annotations

import numpy as np

from safevla_core.actions import EXPLORED_CELL_M, EXPLORED_SHAPE
from sim_bridge import planner
from sim_bridge.backend import Backend
from sim_bridge.explorer import ExplorerConfig
from sim_bridge.explorer_map import RevealedMap, occluder_grid

SUBSAMPLES = 5  # ground points per cell side (0.1 m apart: the free-space grid's resolution)
TARGET_RADIUS_M = 0.25  # a sighted target marks the cells this close to its centre


def _ego_offsets() -> np.ndarray:
    """(H*S, W*S, 2) (forward, left) offsets in metres of the ground points, robot-centred:
    row 0 farthest ahead, column 0 farthest left."""
    _, h, w = EXPLORED_SHAPE
    step = EXPLORED_CELL_M / SUBSAMPLES
    fwd = (0.5 * h * EXPLORED_CELL_M) - (np.arange(h * SUBSAMPLES) + 0.5) * step
    left = (0.5 * w * EXPLORED_CELL_M) - (np.arange(w * SUBSAMPLES) + 0.5) * step
    return np.stack(np.meshgrid(fwd, left, indexing="ij"), axis=-1)


_OFFSETS = _ego_offsets()


class ExploredMap:
    """One episode's explored map; :meth:`observe` adds the current view and returns the grid.

    Args:
        backend: the scene (its free space and objects are read once).
        hfov_deg: the navigation camera's horizontal field of view.
        config: view range, occluders and frontier size (the explorer's defaults).
    """

    def __init__(self, backend: Backend, hfov_deg: float, config: ExplorerConfig | None = None):
        c = config or ExplorerConfig()
        self.fs = backend.free_space()
        occ = occluder_grid(self.fs, backend.objects(), c.clearance_m, c.see_over_m)
        self.map = RevealedMap(self.fs, occ, hfov_deg, c.view_range_m)
        self.min_frontier_cells = c.min_frontier_cells
        self.sight_range_m = c.sight_range_m
        self.target = np.zeros(self.fs.free.shape, bool)  # cells of sighted targets

    def observe(self, position: np.ndarray, yaw_deg: float, sighted=()) -> np.ndarray:
        """Add the view from ``position`` / ``yaw_deg`` and the ground points ``sighted``
        ((x, y) of the instructed type's objects in view now); the uint8 EXPLORED_SHAPE grid
        around the robot."""
        self.map.observe(position, yaw_deg)
        if len(sighted):
            self.target |= planner.disk_mask(self.fs, np.asarray(sighted), TARGET_RADIUS_M)
        seen, free = self.map.seen, self.fs.free
        frontier = self.map.frontier(self.min_frontier_cells)
        layers = np.stack([seen & free, seen & ~free, frontier, self.target], axis=0)
        return ego_grid(
            layers, self.fs.origin, self.fs.resolution, position, yaw_deg, any_layers=(2, 3)
        )


def ego_grid(
    layers: np.ndarray,
    origin: np.ndarray,
    resolution: float,
    position,
    yaw_deg: float,
    any_layers: tuple[int, ...] = (),
) -> np.ndarray:
    """Sample boolean world grids ``layers`` (C, NX, NY) on the egocentric grid around
    ``position`` facing ``yaw_deg``: (C, H, W) uint8, per cell the share of its ground points
    that are set, or for the ``any_layers`` 255 where any is (points outside the world grid
    count as unset)."""
    yaw = np.radians(yaw_deg)
    c, s = np.cos(yaw), np.sin(yaw)
    fwd, left = _OFFSETS[..., 0], _OFFSETS[..., 1]
    x = position[0] + c * fwd - s * left
    y = position[1] + s * fwd + c * left
    i = np.floor((x - origin[0]) / resolution).astype(np.int64)
    j = np.floor((y - origin[1]) / resolution).astype(np.int64)
    c, nx, ny = layers.shape
    if c > 8:
        raise ValueError(f"at most 8 layers, got {c}")
    # one gather for all layers: each a bit of a packed byte grid
    bit = np.arange(c, dtype=np.uint8)
    packed = np.bitwise_or.reduce(layers.astype(np.uint8) << bit[:, None, None], axis=0)
    inside = (i >= 0) & (i < nx) & (j >= 0) & (j < ny)
    vals = packed[np.clip(i, 0, nx - 1), np.clip(j, 0, ny - 1)] * inside.astype(np.uint8)
    hit = (vals[None] >> bit[:, None, None]) & 1
    _, h, w = EXPLORED_SHAPE
    n = SUBSAMPLES * SUBSAMPLES
    count = hit.reshape(c, h, SUBSAMPLES, w, SUBSAMPLES).sum(axis=(2, 4), dtype=np.int32)
    count[list(any_layers)] = np.where(count[list(any_layers)] > 0, n, 0)
    return ((count * 255 + n // 2) // n).astype(np.uint8)
