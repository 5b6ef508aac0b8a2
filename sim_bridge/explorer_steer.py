"""How the explorer follows a cost-to-go field: 30° turns first, 6° turns only when needed.

Among the 12 headings 30° apart from the current one, :func:`steer` scores each by the descent
of the cost-to-go per ``move_ahead`` over the next one or two moves (each landing on a
plannable cell, the segment to it too). The robot moves when its own heading makes at least
``progress_ratio`` of the best heading's descent, else turns 30° toward the best one. Only when
no 30° heading descends (a passage narrower than the heading grid allows) does
:func:`fine_steer` aim at the string-pulled path point with 6° turns, as the careful expert
always does.
"""

from __future__ import annotations

import math

import numpy as np

from safevla_core.actions import ACTION_INDEX
from sim_bridge import planner
from sim_bridge.backend import AgentState, FreeSpace

A = ACTION_INDEX
MOVE_M = 0.2
TURN_DEG = 30.0
LOOKAHEAD_M = 0.5  # how far along the path fine steering aims
STEADY_RATIO = 0.5  # steady steering: progress share that keeps a heading within 30° of the best


def wrap(deg: float) -> float:
    """Angle in [-180, 180)."""
    return (deg + 180.0) % 360.0 - 180.0


def bearing(src: np.ndarray, dst: np.ndarray) -> float:
    """Heading (deg) from ``src`` to ``dst`` on the ground plane."""
    return math.degrees(math.atan2(dst[1] - src[1], dst[0] - src[0]))


def unit(yaw_deg: float) -> np.ndarray:
    """Unit ground vector of heading ``yaw_deg``."""
    t = math.radians(yaw_deg)
    return np.array([math.cos(t), math.sin(t)])


def turn(err: float, fine: bool = False) -> int:
    """Rotation toward heading error ``err`` (deg, positive = left): 30°, or 6° if ``fine``."""
    if fine:
        return A["rotate_left_small"] if err > 0 else A["rotate_right_small"]
    return A["rotate_left"] if err > 0 else A["rotate_right"]


def heading_progress(fs: FreeSpace, field_, pos: np.ndarray, yaw: float, here: float) -> float:
    """Cost-to-go descent per move over the next one or two moves at heading ``yaw`` (-inf
    when even the first lands off the plannable cells)."""
    out = -np.inf
    for n in (1, 2):
        cell = fs.world_to_cell(pos + n * MOVE_M * unit(yaw))
        if not planner.in_grid(field_, cell) or not np.isfinite(field_[cell]):
            break
        if not planner.segment_finite(fs, field_, pos, cell):
            break
        out = (here - float(field_[cell])) / n
    return out


def steer(
    fs: FreeSpace,
    field_,
    agent: AgentState,
    cell,
    progress_ratio: float,
    fine_deg: float,
    steady: bool = False,
    right_only_in_view: bool = False,
) -> int:
    """One step down ``field_`` from the robot's plannable ``cell`` (module docstring).
    ``steady``: also move ahead when the best heading is within 30° of the current one and
    moving makes at least ``STEADY_RATIO`` of its progress (fewer turns that hinge on small
    differences of the field, not so few that the robot grazes what the field keeps it from).
    ``right_only_in_view``: turn right only when the best heading is the one 30° to the right
    (in the camera's view), else left, the long way round if need be."""
    args = (progress_ratio, steady, right_only_in_view)
    return steer_options(fs, field_, agent, cell, *args, fine_deg=fine_deg)[0]


def steer_options(
    fs: FreeSpace,
    field_,
    agent: AgentState,
    cell,
    progress_ratio: float,
    steady: bool = False,
    right_only_in_view: bool = False,
    fine_deg: float = 6.0,
    band: float = 0.0,
) -> tuple[int, frozenset[int]]:
    """:func:`steer`'s action and the actions that are as good within ``band``.

    The choice between driving on and turning hinges on a threshold (move ahead while the
    current heading makes ``progress_ratio`` of the best heading's descent); near it, either
    is a fine step. With ``band`` > 0 the options also hold ``move_ahead`` when it descends at
    least (threshold - ``band``) of the best, a 30° turn toward the best heading when moving
    makes less than (threshold + ``band``) of it, and a turn toward any heading that descends
    at least (1 - ``band``) of the best (both turns when that heading is behind). The action
    itself is always an option; 6° steering has no alternative.
    """
    pos, yaw = agent.position[:2], agent.yaw_deg
    here = float(field_[cell])
    prog = {k: heading_progress(fs, field_, pos, yaw + k * TURN_DEG, here) for k in range(-5, 7)}
    best = max(prog, key=lambda k: (prog[k], -abs(k), k))
    ratio = STEADY_RATIO if steady and abs(best) <= 1 else progress_ratio
    if prog[0] > 0 and prog[0] >= ratio * prog[best]:
        action = A["move_ahead"]
    elif prog[best] > 0:
        if right_only_in_view:
            action = A["rotate_right"] if best == -1 else A["rotate_left"]
        else:
            action = A["rotate_left"] if best > 0 else A["rotate_right"]
    else:
        return (action := fine_steer(fs, field_, agent, cell, fine_deg)), frozenset([action])
    options = {action}
    if band > 0:
        top = prog[best]
        if prog[0] > 0 and prog[0] >= (ratio - band) * top:
            options.add(A["move_ahead"])
        if best != 0 and prog[0] < (ratio + band) * top:
            good = [k for k in prog if k != 0 and prog[k] > 0 and prog[k] >= (1 - band) * top]
            if any(k > 0 for k in good):
                options.add(A["rotate_left"])
            if any(k < 0 or k == 6 for k in good):
                options.add(A["rotate_right"])
    return action, frozenset(options)


def fine_steer(fs: FreeSpace, field_, agent: AgentState, cell, fine_deg: float) -> int:
    """Aim at the steepest-descent path point up to ``LOOKAHEAD_M`` ahead that the straight
    segment from the robot reaches on plannable cells; 6° turns within 15° of it."""
    pos = agent.position[:2]
    chosen = cell
    for _ in range(50):
        nbrs = [
            (cell[0] + di, cell[1] + dj)
            for di in (-1, 0, 1)
            for dj in (-1, 0, 1)
            if (di or dj) and planner.in_grid(field_, (cell[0] + di, cell[1] + dj))
        ]
        nxt = min(nbrs, key=lambda n: field_[n])
        if field_[nxt] >= field_[cell]:
            break
        cell = nxt
        if not planner.segment_finite(fs, field_, pos, cell):
            break
        chosen = cell
        if np.linalg.norm(fs.cell_to_world(*cell) - pos) >= LOOKAHEAD_M:
            break
    err = wrap(bearing(pos, fs.cell_to_world(*chosen)) - agent.yaw_deg)
    if abs(err) > TURN_DEG / 2:
        return turn(err)
    if abs(err) > fine_deg:
        return turn(err, fine=True)
    land = fs.world_to_cell(pos + MOVE_M * unit(agent.yaw_deg))
    if planner.in_grid(field_, land) and np.isfinite(field_[land]):
        return A["move_ahead"]
    return A["move_back"]


def toward_free(fs: FreeSpace, agent: AgentState) -> int | None:
    """Off the plannable cells (pushed, or a bump blocked the robot's cell): the step toward
    the nearest free cell; None when there is none."""
    pts = fs.free_points()
    if len(pts) == 0:
        return None
    near = pts[np.argmin(np.linalg.norm(pts - agent.position[:2], axis=1))]
    err = wrap(bearing(agent.position, near) - agent.yaw_deg)
    if abs(err) > 100:
        return A["move_back"]
    if abs(err) > TURN_DEG / 2:
        return turn(err)
    return A["move_ahead"]
