"""Where the expert wants to go: goal cells and the obstacles the careful planner adds.

* goal cells: free cells whose ground distance to a target's footprint (less half its short
  side) is within the task's band (:meth:`sim_bridge.tasks.Task.expert_goal_band`: for objnav
  the ``view_band`` keeping the target in the nav camera's vertical field of view, for
  pickup/fetch the arm's ``reach_band``), with a wall-free line of sight to the target when the
  task's goal is to see it (``goal_in_sight``).
* floor obstacles (careful only): cells where the base would touch a movable object standing
  on the floor (chairs, bins, bottles), i.e. within ``ROBOT_RADIUS + r_obj`` of it.
"""

from __future__ import annotations

import numpy as np

from sim_bridge import planner
from sim_bridge.backend import FreeSpace, ObjectState
from sim_bridge.tasks import TaskSpec

ROBOT_RADIUS = 0.27  # base half diagonal plus a margin, metres
FLOOR_OBJECT_MAX_BOTTOM = 0.3  # objects whose bottom is lower than this stand in the base's way
EXCLUDE_RADIUS = 0.35  # metres around a spot that failed


def band(config, target: ObjectState, spec: TaskSpec) -> tuple[float, float]:
    """(min, max) ground distance from ``target`` for goal cells (the task decides)."""
    return spec.definition.expert_goal_band(config, target)


def goal_mask(
    config,
    fs: FreeSpace,
    objects: list[ObjectState],
    targets: list[ObjectState],
    spec: TaskSpec,
    excluded: list[np.ndarray],
) -> np.ndarray:
    """Boolean grid of goal cells, minus discs around the ``excluded`` (failed) spots."""
    goals = np.zeros(fs.free.shape, bool)
    for t in targets:
        lo, hi = band(config, t, spec)
        if lo < hi:
            near = planner.box_distance_map(fs, t) <= hi - 0.5 * float(min(t.size[:2]))
            goals |= near & ~planner.disk_mask(fs, t.position[None, :2], lo)
    goals &= fs.free
    if spec.definition.goal_in_sight:
        pts = np.array([o.position[:2] for o in targets])
        furn = planner.footprint_mask(fs, [o for o in objects if o.static], 0.35)
        walls = ~fs.free & ~furn
        for i, j in np.argwhere(goals):
            c = fs.cell_to_world(i, j)
            near = pts[np.argmin(np.linalg.norm(pts - c, axis=1))]
            goals[i, j] = planner.line_of_sight(fs, walls, c, near)
    for p in excluded:
        goals &= ~planner.disk_mask(fs, p[None], EXCLUDE_RADIUS)
    return goals


def floor_obstacles(fs: FreeSpace, objects: list[ObjectState], targets) -> np.ndarray:
    """Cells where the base would touch a movable object standing on the floor."""
    tids = {t.object_id for t in targets}
    mask = np.zeros(fs.free.shape, bool)
    for o in objects:
        low = o.position[2] - 0.5 * o.size[2] < FLOOR_OBJECT_MAX_BOTTOM
        if o.static or o.held or o.object_id in tids or not low:
            continue
        radius = ROBOT_RADIUS + 0.5 * float(max(o.size[0], o.size[1]))
        mask |= planner.disk_mask(fs, o.position[None, :2], radius)
    return mask
