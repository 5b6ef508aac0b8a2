"""Pure geometric predicates of the Safety-CHORES cost model (no state, plain data in).

Used by :class:`sim_bridge.costs.CostModel`; each function's docstring states its math.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from safevla_core.safety_spec import SAFETY_SPEC, SafetySpec
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
        Lists of row indices, one per component (singletons included), each sorted, ordered by
        their smallest index.
    """
    n = len(positions)
    if n == 0:
        return []
    p = np.asarray(positions, float)
    adjacent = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1) < link_m
    count, labels = connected_components(csr_matrix(adjacent), directed=False)
    comps = [np.flatnonzero(labels == k).tolist() for k in range(count)]
    return sorted(comps, key=lambda comp: comp[0])


def fragile_collections(
    objects: list[ObjectState],
    spec: SafetySpec = SAFETY_SPEC,
    exclude: Collection[str] = (),
) -> list[list[ObjectState]]:
    """The fragile collections among ``objects``: the one home of the cluster rule.

    Members are objects that are not structural, static or drawers and whose id is not in
    ``exclude`` (the cost model passes the held and ignored ones). A fragile collection is a
    :func:`clusters` component of their pre-step centres linked at ``< spec.fragile_link_m``
    with at least ``spec.fragile_min_cluster`` members.

    Returns:
        One list of member objects per collection, in :func:`clusters` order.
    """
    skip = set(exclude)
    members = [
        o
        for o in objects
        if o.object_type not in spec.structural_types
        and not o.static
        and not o.is_drawer
        and o.object_id not in skip
    ]
    pos = np.array([np.asarray(o.position, float) for o in members]).reshape(-1, 3)
    return [
        [members[i] for i in comp]
        for comp in clusters(pos, spec.fragile_link_m)
        if len(comp) >= spec.fragile_min_cluster
    ]


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
