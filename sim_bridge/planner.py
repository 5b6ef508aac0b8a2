"""Grid planning for the expert: clearance, traversal costs and cost-to-go fields.

The map is the backend's :class:`~sim_bridge.backend.FreeSpace` grid (True where the base
centre can stand). The expert plans with a *cost-to-go field*: multi-source Dijkstra from the
goal cells over the 8-connected free grid, so "replanning every step" is a lookup of the
field around the robot's current cell.

Edge cost between neighbouring free cells ``u, v`` at distance ``ℓ`` (metres)::

    w(u, v) = ℓ · (c(u) + c(v)) / 2

with the per-cell cost ``c``:

* careless: ``c = 1`` (pure shortest path; it hugs corners and furniture);
* careful: ``c = 1 + k_clear · max(0, 1 − d_clear / r_clear)² + k_haz · [cell within r_haz of a
  fragile cluster or dangerous object]``, where ``d_clear`` is the distance to the nearest
  blocked cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from sim_bridge.backend import FreeSpace, ObjectState

_OFFSETS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))


@dataclass(frozen=True)
class CostWeights:
    """Per-cell cost shaping of the careful planner (all zero = careless).

    Attributes:
        clear_weight: ``k_clear``, penalty scale for cells close to obstacles.
        clear_radius: ``r_clear`` in metres; cells at least this far from obstacles cost 1.
        hazard_weight: ``k_haz``, penalty for cells near fragile clusters / dangerous objects.
        hazard_radius: ``r_haz`` in metres.
    """

    clear_weight: float = 0.0
    clear_radius: float = 0.5
    hazard_weight: float = 0.0
    hazard_radius: float = 0.6

    def __post_init__(self) -> None:
        for name in ("clear_weight", "clear_radius", "hazard_weight", "hazard_radius"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def clearance(free: np.ndarray, resolution: float) -> np.ndarray:
    """Metres from each cell to the nearest blocked cell (0 on blocked cells)."""
    padded = np.pad(free, 1, constant_values=False)
    return ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * resolution


def disk_mask(fs: FreeSpace, points: np.ndarray, radius: float) -> np.ndarray:
    """Cells whose centre is within ``radius`` of any of the (N, 2) ``points``."""
    mask = np.zeros(fs.free.shape, bool)
    if len(points) == 0:
        return mask
    xs = fs.origin[0] + (np.arange(fs.free.shape[0]) + 0.5) * fs.resolution
    ys = fs.origin[1] + (np.arange(fs.free.shape[1]) + 0.5) * fs.resolution
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    for p in np.asarray(points, float).reshape(-1, 2):
        mask |= (gx - p[0]) ** 2 + (gy - p[1]) ** 2 <= radius**2
    return mask


def box_distance_map(fs: FreeSpace, obj: ObjectState) -> np.ndarray:
    """Ground distance from each cell centre to ``obj``'s axis-aligned footprint (0 inside)."""
    xs = fs.origin[0] + (np.arange(fs.free.shape[0]) + 0.5) * fs.resolution
    ys = fs.origin[1] + (np.arange(fs.free.shape[1]) + 0.5) * fs.resolution
    half = 0.5 * np.asarray(obj.size[:2], float)
    gx = np.maximum(np.abs(xs - obj.position[0]) - half[0], 0.0)
    gy = np.maximum(np.abs(ys - obj.position[1]) - half[1], 0.0)
    return np.hypot(gx[:, None], gy[None, :])


def hazard_points(objects: list[ObjectState], link_m: float = 0.3, min_cluster: int = 3):
    """(N, 2) ground positions of dangerous objects and members of fragile clusters.

    Cluster rule as in the cost model: non-static, non-drawer objects linked at < ``link_m``,
    groups of at least ``min_cluster``; fragile objects count on their own as well.
    """
    movable = [o for o in objects if not o.static and not o.is_drawer and not o.held]
    pts = [o.position[:2] for o in objects if o.dangerous or (o.fragile and not o.held)]
    if movable:
        xyz = np.array([o.position for o in movable])
        d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
        n, labels = _components(d < link_m)
        sizes = np.bincount(labels, minlength=n)
        pts += [xyz[i, :2] for i in range(len(movable)) if sizes[labels[i]] >= min_cluster]
    return np.array(pts, float).reshape(-1, 2)


def _components(adj: np.ndarray) -> tuple[int, np.ndarray]:
    from scipy.sparse.csgraph import connected_components

    return connected_components(coo_matrix(adj.astype(np.int8)), directed=False)


def cell_costs(
    fs: FreeSpace, free: np.ndarray, weights: CostWeights, hazards: np.ndarray
) -> np.ndarray:
    """Per-cell traversal cost ``c`` (see module docstring)."""
    cost = np.ones(free.shape)
    if weights.clear_weight > 0:
        d = clearance(free, fs.resolution)
        cost += weights.clear_weight * np.clip(1.0 - d / weights.clear_radius, 0.0, 1.0) ** 2
    if weights.hazard_weight > 0 and len(hazards):
        cost += weights.hazard_weight * disk_mask(fs, hazards, weights.hazard_radius)
    return cost


def _shift(d: int, n: int) -> tuple[slice, slice]:
    """Slices pairing index ``i`` (first) with ``i + d`` (second) inside ``[0, n)``."""
    return slice(max(0, -d), n - max(0, d)), slice(max(0, d), n - max(0, -d))


def cost_to_go(free: np.ndarray, cost: np.ndarray, goals: np.ndarray, resolution: float):
    """Cost-to-go to the nearest goal cell (``inf`` where unreachable), shape ``free.shape``."""
    nx, ny = free.shape
    idx = np.arange(nx * ny).reshape(nx, ny)
    rows, cols, vals = [], [], []
    for di, dj in _OFFSETS:
        ra, rb = _shift(di, nx)
        ca, cb = _shift(dj, ny)
        ok = free[ra, ca] & free[rb, cb]
        if di and dj:  # no diagonal squeezing between two blocked cells
            ok &= free[rb, ca] & free[ra, cb]
        ia = idx[ra, ca][ok]
        ib = idx[rb, cb][ok]
        step = resolution * np.hypot(di, dj)
        rows.append(ia)
        cols.append(ib)
        vals.append(step * 0.5 * (cost.ravel()[ia] + cost.ravel()[ib]))
    graph = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nx * ny,) * 2
    ).tocsr()
    sources = idx[goals & free]
    if len(sources) == 0:
        return np.full(free.shape, np.inf)
    dist = dijkstra(graph, directed=True, indices=sources, min_only=True)
    out = dist.reshape(nx, ny)
    out[~free] = np.inf
    return out


def line_of_sight(fs: FreeSpace, walls: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """No ``walls`` cell on the segment ``a -> b`` (sampled at half the grid resolution).

    All samples at once (:meth:`FreeSpace.world_to_cells`)."""
    a, b = np.asarray(a), np.asarray(b)
    n = max(2, int(np.linalg.norm(b - a) / (0.5 * fs.resolution)))
    i, j = fs.world_to_cells(a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)).T
    inside = (i >= 0) & (i < walls.shape[0]) & (j >= 0) & (j < walls.shape[1])
    return not bool(walls[i[inside], j[inside]].any())


def footprint_mask(fs: FreeSpace, objects: list[ObjectState], margin: float) -> np.ndarray:
    """Cells covered by any object's ground footprint grown by ``margin`` metres."""
    mask = np.zeros(fs.free.shape, bool)
    xs = fs.origin[0] + (np.arange(fs.free.shape[0]) + 0.5) * fs.resolution
    ys = fs.origin[1] + (np.arange(fs.free.shape[1]) + 0.5) * fs.resolution
    for o in objects:
        half = 0.5 * np.asarray(o.size[:2]) + margin
        inx = np.abs(xs - o.position[0]) <= half[0]
        iny = np.abs(ys - o.position[1]) <= half[1]
        mask |= inx[:, None] & iny[None, :]
    return mask


def in_grid(arr: np.ndarray, c: tuple[int, int]) -> bool:
    """Cell index ``c`` lies inside ``arr``."""
    return 0 <= c[0] < arr.shape[0] and 0 <= c[1] < arr.shape[1]


def nearest_finite_cell(
    fs: FreeSpace, field: np.ndarray, pos: np.ndarray, radius: float = 0.5
) -> tuple[int, int] | None:
    """The cell of ``pos``, or -- when it is off the plannable grid (finite ``field``), e.g.
    the robot was pushed against furniture or cut a corner -- the nearest plannable cell
    within ``radius`` metres (None if there is none)."""
    cell = fs.world_to_cell(pos)
    if in_grid(field, cell) and np.isfinite(field[cell]):
        return cell
    r = math.ceil(radius / fs.resolution)
    best, best_d = None, np.inf
    for i in range(cell[0] - r, cell[0] + r + 1):
        for j in range(cell[1] - r, cell[1] + r + 1):
            if in_grid(field, (i, j)) and np.isfinite(field[i, j]):
                d = np.linalg.norm(fs.cell_to_world(i, j) - pos[:2])
                if d < best_d and d <= radius:
                    best, best_d = (i, j), d
    return best


def segment_finite(fs: FreeSpace, field: np.ndarray, pos: np.ndarray, cell) -> bool:
    """The straight segment from ``pos`` to ``cell``'s centre stays on finite ``field`` cells."""
    end = fs.cell_to_world(*cell)
    n = max(2, int(np.linalg.norm(end - pos) / (0.5 * fs.resolution)))
    for t in np.linspace(0.0, 1.0, n)[1:]:
        c = fs.world_to_cell(pos + t * (end - pos))
        if not in_grid(field, c) or not np.isfinite(field[c]):
            return False
    return True
