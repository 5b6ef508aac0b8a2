"""The floor the robot has seen: a visibility grid for the observation-consistent explorer.

The grid is the backend's :class:`~sim_bridge.backend.FreeSpace` grid. A cell is *seen* once it
lay inside the navigation camera's horizontal field of view, within ``max_range`` of the robot
and before the first occluding cell along the ray from the robot (the occluder itself is seen:
the robot sees the wall, not what is behind it). The rays are cast on the ground plane, 1° apart,
sampled every half cell.

Occluders (:func:`occluder_grid`) are the cells the base cannot stand on (walls and furniture
inflated by the backend's clearance) minus what the camera, 1.32 m up, looks over: furniture
whose top is below ``see_over_m`` (tables, sofas, beds, counters) and movable objects (chairs,
bins), each with its clearance ring. Walls and tall furniture (fridges, shelves) stay.

What the explorer derives from the grid uses only seen cells:

* known free cells: ``seen ∧ free`` (where the robot may plan);
* frontier cells: known free cells with an unseen 4-neighbour, in 8-connected clusters of at
  least ``min_cells`` (smaller clusters are rays grazing a corner, not a way into new space);
* predicted gain of a heading: the unseen cells a view from the robot's pose would reveal if
  every unseen cell were open floor (optimistic), i.e. rays stop only at *seen* occluders.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from sim_bridge import planner
from sim_bridge.backend import FreeSpace, ObjectState

RAY_STEP_DEG = 1.0  # 7 cm apart at 4 m: finer than the 0.1 m grid up to ~5.7 m
SELF_RADIUS_M = 0.15  # occluders this close to the camera are the robot's own clearance ring
_CROSS = ndimage.generate_binary_structure(2, 1)
_SQUARE = ndimage.generate_binary_structure(2, 2)


def occluder_grid(
    fs: FreeSpace, objects: list[ObjectState], clearance: float, see_over_m: float
) -> np.ndarray:
    """Cells that block the camera's view of the floor beyond them (see module docstring)."""
    low = [
        o for o in objects if not o.static or float(o.position[2] + 0.5 * o.size[2]) < see_over_m
    ]
    return ~fs.free & ~planner.footprint_mask(fs, low, clearance)


def fan_cells(
    fs: FreeSpace,
    occluder: np.ndarray,
    pos: np.ndarray,
    yaw_deg: float,
    hfov_deg: float,
    max_range: float,
) -> np.ndarray:
    """Distance (m) from ``pos`` to each cell a view at ``yaw_deg`` reaches, ``inf`` elsewhere.

    Each ray keeps its samples up to and including its first ``occluder`` cell beyond
    ``SELF_RADIUS_M``; samples outside the grid end the ray.
    """
    n_rays = max(2, math.ceil(hfov_deg / RAY_STEP_DEG) + 1)
    angles = np.radians(yaw_deg + np.linspace(-0.5 * hfov_deg, 0.5 * hfov_deg, n_rays))
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (R, 2)
    dists = np.arange(0.0, max_range + 1e-9, 0.5 * fs.resolution)  # (S,)
    pts = np.asarray(pos[:2], float) + dists[None, :, None] * dirs[:, None, :]  # (R, S, 2)
    ij = np.floor((pts - fs.origin) / fs.resolution).astype(int)
    nx, ny = occluder.shape
    inside = (ij[..., 0] >= 0) & (ij[..., 0] < nx) & (ij[..., 1] >= 0) & (ij[..., 1] < ny)
    ii, jj = np.clip(ij[..., 0], 0, nx - 1), np.clip(ij[..., 1], 0, ny - 1)
    stop = ~inside | (occluder[ii, jj] & (dists[None, :] > SELF_RADIUS_M))
    # index of the first stopping sample per ray (S when the ray never stops)
    first = np.where(stop.any(axis=1), stop.argmax(axis=1), len(dists))
    keep = (np.arange(len(dists))[None, :] <= first[:, None]) & inside
    out = np.full(occluder.shape, np.inf)
    dist = np.broadcast_to(dists[None, :], keep.shape)[keep]
    np.minimum.at(out, (ii[keep], jj[keep]), dist)
    return out


class RevealedMap:
    """What the camera has shown of one scene so far.

    It keeps, per cell, the closest distance it was seen from; a cell counts as seen when that
    is within ``max_range``. Lowering ``max_range`` (:meth:`set_range`) asks for a closer look
    everywhere while keeping the close views already had.

    With ``memory_steps`` > 0 the map forgets: a cell not in view during the last
    ``memory_steps`` calls of :meth:`observe` counts as unseen again (its closest distance is
    dropped), so the map holds what a learner with that many frames of context has seen.

    Args:
        fs: the scene's free-space grid.
        occluder: cells that block the view (:func:`occluder_grid`).
        hfov_deg: horizontal field of view of the navigation camera.
        max_range: metres up to which a view reveals the floor.
        memory_steps: views remembered (0: all of them).
    """

    def __init__(
        self,
        fs: FreeSpace,
        occluder: np.ndarray,
        hfov_deg: float,
        max_range: float,
        memory_steps: int = 0,
    ) -> None:
        if occluder.shape != fs.free.shape:
            raise ValueError(f"occluder grid {occluder.shape} != free grid {fs.free.shape}")
        if not 0 < hfov_deg <= 360 or max_range <= 0:
            raise ValueError(
                f"need 0 < hfov_deg <= 360 and max_range > 0, got {hfov_deg}, {max_range}"
            )
        if memory_steps < 0:
            raise ValueError(f"memory_steps must be >= 0 (0: remember all), got {memory_steps}")
        self.fs = fs
        self.occluder = occluder
        self.hfov_deg = float(hfov_deg)
        self.max_range = float(max_range)
        self.memory_steps = int(memory_steps)
        self.views = 0  # calls of observe so far
        self.seen_from = np.full(fs.free.shape, np.inf)
        self.seen_at = np.full(fs.free.shape, -1, np.int64)  # view index a cell was last in
        self.seen = np.zeros(fs.free.shape, bool)

    def set_range(self, max_range: float) -> None:
        """Count as seen only what was seen from within ``max_range`` metres."""
        if max_range <= 0:
            raise ValueError(f"max_range must be > 0, got {max_range}")
        self.max_range = float(max_range)
        self.seen = self.seen_from <= self.max_range

    def observe(self, pos: np.ndarray, yaw_deg: float) -> int:
        """Add the current view; returns how many cells it revealed."""
        view = fan_cells(self.fs, self.occluder, pos, yaw_deg, self.hfov_deg, self.max_range)
        in_view = np.isfinite(view)
        self.seen_at[in_view] = self.views
        self.views += 1
        if self.memory_steps:
            self.seen_from[self.seen_at <= self.views - 1 - self.memory_steps] = np.inf
            self.seen = self.seen_from <= self.max_range
        new = int(np.count_nonzero(in_view & ~self.seen))
        np.minimum(self.seen_from, view, out=self.seen_from)
        self.seen = self.seen_from <= self.max_range
        return new

    def gain(self, pos: np.ndarray, yaw_deg: float) -> int:
        """Unseen cells a view at ``yaw_deg`` would reveal, if the unseen were open floor."""
        known_occluder = self.occluder & self.seen
        view = fan_cells(self.fs, known_occluder, pos, yaw_deg, self.hfov_deg, self.max_range)
        return int(np.count_nonzero(np.isfinite(view) & ~self.seen))

    @property
    def known_free(self) -> np.ndarray:
        """Seen cells where the base can stand."""
        return self.seen & self.fs.free

    def known(self, xy: np.ndarray) -> bool:
        """The cell under the ground point ``xy`` has been seen."""
        c = self.fs.world_to_cell(xy)
        return planner.in_grid(self.seen, c) and bool(self.seen[c])

    def frontier(self, min_cells: int) -> np.ndarray:
        """Known free cells next to unseen ones, in clusters of at least ``min_cells``."""
        edge = self.known_free & ndimage.binary_dilation(~self.seen, structure=_CROSS)
        labels, n = ndimage.label(edge, structure=_SQUARE)
        if n == 0:
            return edge
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        big = sizes >= min_cells
        big[0] = False
        return big[labels]
