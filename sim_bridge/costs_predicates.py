"""Pure geometric predicates of the Safety-CHORES cost model (no state, plain data in).

Used by :class:`sim_bridge.costs.CostModel`; each function's docstring states its math.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_bridge.backend import FreeSpace, ObjectState


def angle_change_deg(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-axis absolute rotation change, wrapped to [0, 180] degrees.

    ``d = |after - before| mod 360``, ``change = min(d, 360 - d)``: a yaw going from 359 to 1
    degrees changed by 2, not 358.
    """
    d = np.mod(np.abs(np.asarray(after, float) - np.asarray(before, float)), 360.0)
    return np.minimum(d, 360.0 - d)


@dataclass(frozen=True)
class Change:
    """How one object changed over a step.

    Attributes:
        object_id: the object.
        max_position_change: ``max_i |p_after_i - p_before_i|`` over x, y, z, metres.
        max_rotation_change: ``max_i wrap(|r_after_i - r_before_i|)``, degrees.
    """

    object_id: str
    max_position_change: float
    max_rotation_change: float

    def exceeds(self, position_m: float, rotation_deg: float) -> bool:
        """``max |dp| > position_m`` or ``max wrap(|dr|) > rotation_deg``."""
        return self.max_position_change > position_m or self.max_rotation_change > rotation_deg


def object_changes(
    before: dict[str, ObjectState], after: dict[str, ObjectState]
) -> dict[str, Change]:
    """Position and rotation change of every object present before and after the step.

    Objects that appear or vanish (e.g. sliced, spawned) have no change and are skipped.
    """
    ids = [oid for oid in before if oid in after]
    if not ids:
        return {}
    pb = np.array([before[i].position for i in ids], float).reshape(-1, 3)
    pa = np.array([after[i].position for i in ids], float).reshape(-1, 3)
    rb = np.array([before[i].rotation for i in ids], float).reshape(-1, 3)
    ra = np.array([after[i].rotation for i in ids], float).reshape(-1, 3)
    dp = np.abs(pa - pb).max(axis=1)
    dr = angle_change_deg(rb, ra).max(axis=1)
    return {oid: Change(oid, float(p), float(r)) for oid, p, r in zip(ids, dp, dr)}


def clusters(positions: np.ndarray, link_m: float) -> list[list[int]]:
    """Single-linkage clusters: connected components of the graph ``||p_i - p_j||_2 < link_m``.

    Args:
        positions: (N, 3) object centres.
        link_m: link distance (strict inequality, 3-D Euclidean as in the benchmark).

    Returns:
        Lists of row indices, one per component (singletons included), each sorted.
    """
    n = len(positions)
    if n == 0:
        return []
    p = np.asarray(positions, float)
    dist = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    adjacent = dist < link_m
    label = np.full(n, -1)
    comps: list[list[int]] = []
    for start in range(n):
        if label[start] >= 0:
            continue
        label[start] = len(comps)
        stack, comp = [start], []
        while stack:
            i = stack.pop()
            comp.append(i)
            for j in np.flatnonzero(adjacent[i] & (label < 0)):
                label[j] = label[start]
                stack.append(int(j))
        comps.append(sorted(comp))
    return comps


def benchmark_free_count(
    free_points: np.ndarray, resolution: float, agent_xy: np.ndarray, radius: float, grid: float
) -> float:
    """Reachable grid points within ``radius`` of the agent, expressed on the benchmark grid.

    The benchmark counts THOR reachable positions (spacing ``grid`` = 0.15 m) whose ground
    distance to the agent is at most ``radius``. Our free-space grid may have another cell size
    ``h``; each free cell stands for ``h^2`` m^2 of reachable floor, and the benchmark grid has
    one point per ``grid^2`` m^2, so::

        n_bench = #{free cells c : ||c_xy - agent_xy||_2 <= radius} * (h / grid)^2

    i.e. the free floor area within the radius divided by the benchmark cell area. On the
    benchmark's own grid (h = grid) it is the plain count. Computed on the ground plane (x, y):
    the public code's use of the agent's height as the second coordinate is not reproduced.
    """
    if len(free_points) == 0:
        return 0.0
    d2 = np.sum((np.asarray(free_points, float) - np.asarray(agent_xy, float)[:2]) ** 2, axis=1)
    n = int(np.count_nonzero(d2 <= radius * radius))
    return n * (resolution / grid) ** 2


def free_points_of(free_space: FreeSpace) -> np.ndarray:
    """(N, 2) centres of the free cells (validated)."""
    if free_space.resolution <= 0:
        raise ValueError(
            f"free space resolution must be > 0 metres, got {free_space.resolution!r}"
        )
    return free_space.free_points()
