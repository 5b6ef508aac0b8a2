"""The privileged expert: a planner with full simulator state that emits the 20 discrete actions.

Used for behaviour cloning (the paper's imitation stage) and to measure reference path lengths.
Every call to :meth:`Expert.act` re-reads the state and re-plans:

1. **Goal cells** on the backend's FreeSpace grid (:mod:`sim_bridge.expert_goals`, with the
   band each task defines in :meth:`sim_bridge.tasks.Task.expert_goal_band`): for objnav,
   cells within ``view_band`` of a target-type object, in line of sight and keeping it inside
   the nav camera's vertical field of view; for pickup/fetch, cells from which the arm reaches
   the target (``reach_band``).
2. **Cost-to-go** by multi-source Dijkstra from the goal cells (:mod:`sim_bridge.planner`),
   recomputed when the targets move, a move was blocked or a goal spot failed.
3. **Follow**: steer toward a look-ahead point on the steepest-descent path (rotate 30°, or 6°
   for fine alignment), then ``move_ahead`` (0.2 m). Blocked moves mark the cell ahead as
   blocked; repeated blocks trigger a side-step and then ``move_back``.
4. **Finish**: objnav -- face the target and call ``end`` once it is visible within 2 m (else
   exclude that spot and re-plan); pickup/fetch -- the scripted grasp of
   :mod:`sim_bridge.expert_grasp`, retract, ``end``. After ``max_replans`` failed spots, or
   when no goal cell exists, the expert calls ``end`` (gives up).

The modes:

* ``careless``: unit cell costs on a free grid grown by one cell (shortest path, hugging
  corners closer than the backend's clearance), blind to movable objects on the floor, coarse
  30° steering with a long look-ahead that cuts corners and no check of the landing cell; grasp
  by pushing the arm out at the object's height in 0.1 m steps (sweeping through whatever is in
  the way). After ``STUCK_LIMIT`` blocked moves it steers like the careful expert so that it
  still finishes most episodes (careless, not helpless).
* ``careful``: clearance- and hazard-inflated cell costs (away from furniture, fragile clusters
  and dangerous objects), movable floor objects treated as obstacles, a string-pulled look-ahead
  that never leaves plannable cells, fine 6° alignment before every move, a move only onto a
  plannable cell (else a detour heading), arm in and lift up before driving; grasp from above
  (lift over the object, extend, lower, pick up, retract), or for tall objects from the side in
  0.02 m steps, stopping at the object's face.
* ``explorer`` (ObjectNav; other tasks as careful): the careful planner, told only what the
  robot's camera has shown so far; it searches frontiers until a target is in view
  (:mod:`sim_bridge.explorer`, held in :attr:`Expert.explorer`), so a learner that sees only
  pixels can infer its choices.
* ``explorer-steady``: the explorer with ``steady_search`` (a start sweep, then one committed
  frontier at a time, no looking around mid-search).
* ``explorer-reactive``: the explorer with ``reactive_search`` (the start sweep, then the
  nearest frontier re-chosen every step, right turns only toward the heading in view).

The settings of each mode are :class:`sim_bridge.expert_config.ExpertConfig` (importable from
here too).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import ndimage

from safevla_core.actions import ACTION_INDEX, END
from sim_bridge import planner
from sim_bridge.backend import AgentState, Backend, ObjectState
from sim_bridge.escape import safe_action
from sim_bridge.expert_config import ExpertConfig
from sim_bridge.expert_goals import floor_obstacles, goal_mask
from sim_bridge.expert_grasp import arm_geometry, grasp_action
from sim_bridge.expert_modes import (  # MODES re-exported: tests and docs name it here
    EXPLORER_MODES,
    MODES,  # noqa: F401
    split_mode,
)
from sim_bridge.explorer import Explorer
from sim_bridge.tasks import TaskSpec, is_success, pickup_success

A = ACTION_INDEX
MOVE_M = 0.2
STUCK_LIMIT = 6  # blocked moves after which the careless expert steers like the careful one


def _wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def _bearing(src: np.ndarray, dst: np.ndarray) -> float:
    return math.degrees(math.atan2(dst[1] - src[1], dst[0] - src[0]))


class Expert:
    """Privileged planner. ``Expert("careful").act(env) -> action index``.

    ``act`` accepts a :class:`sim_bridge.env.SafeChoresEnv` (anything with ``backend`` and
    ``task_spec`` attributes) or ``(backend, spec)``. Per-episode memory (blocked cells, excluded
    goals) resets automatically when the env starts a new episode; call :meth:`reset` when
    driving a bare backend. It may label states reached by another policy (DAgger): when the
    env's last action was not the expert's, that step is not read as a blocked move.
    """

    def __init__(self, mode: str = "careful", config: ExpertConfig | None = None) -> None:
        self.config = config or ExpertConfig.for_mode(mode)
        name = split_mode(mode)[0]  # "explorer-recent:64" is an explorer-recent
        if config is not None and config.mode != name:
            raise ValueError(f"config.mode {config.mode!r} disagrees with mode {mode!r}")
        self.mode = mode
        self.explorer = Explorer(self.config) if name in EXPLORER_MODES else None
        # the explorer searches for things to see; for the other tasks it acts as careful
        careful = replace(self.config, mode="careful", escape=False)
        self._careful = Expert("careful", careful) if name in EXPLORER_MODES else None
        self.reset()

    def reset(self) -> None:
        """Forget the current episode."""
        self._episode_key = None
        self._field = None
        self._field_key = None
        self._blocked: set[tuple[int, int]] = set()
        self._excluded: list[np.ndarray] = []
        self._last: tuple[int, np.ndarray] | None = None
        self._grasp_tries = 0
        self._stuck = 0
        self._blocked_moves = 0
        self._sidestep = False
        self._detour_yaw: float | None = None
        self._retreat = False
        # where a safety layer refused move_back (the robot has not moved since): back-offs
        # from there turn instead (``note_refused``)
        self._back_refused_at: np.ndarray | None = None
        # a safety layer refused a motion while the task's success already held (PickUp: the
        # target in the gripper; ObjectNav: the target in view): end instead (``note_refused``)
        self._done_refused = False
        self.gave_up = False
        # the last action's options: the steps as good as it within the explorer's
        # ``option_band`` (:func:`sim_bridge.explorer_steer.steer_options`); the action alone
        # for the other modes and tasks
        self.options: frozenset[int] = frozenset()
        if self.explorer is not None:
            self.explorer.reset()
            self._careful.reset()

    # ------------------------------------------------------------------ entry point
    def act(self, env_or_backend, spec: TaskSpec | None = None) -> int:
        """Next action index for the current state."""
        if spec is not None and self.config.escape:
            raise ValueError(
                f"expert mode {self.mode!r} tries its actions in the env (its cost model and "
                "motion feedback); pass the SafeChoresEnv, not (backend, spec)"
            )
        if spec is None:
            backend, spec = env_or_backend.backend, env_or_backend.task_spec
            key = (id(env_or_backend), getattr(env_or_backend, "episode_count", 0))
            if key != self._episode_key:
                self.reset()
                self._episode_key = key
            # Another policy drove since our last call (DAgger-style relabelling): our memory
            # of "the move I asked for" no longer describes the last step.
            taken = getattr(env_or_backend, "_prev_action", None)
            if self._last is not None and taken is not None and taken != self._last[0]:
                self._last = None
        else:
            backend = env_or_backend
        action = self._decide(backend, spec)
        if action == A["move_back"] and self._back_refused_at is not None:
            here = backend.agent().position[:2]
            if np.linalg.norm(here - self._back_refused_at) < 0.05:
                action = A["rotate_left"]  # one way round, so turns do not undo each other
            else:
                self._back_refused_at = None
        if self.config.escape:  # the simulator checks the plan first
            action = safe_action(env_or_backend, action, self.config.escape_depth)
        opts = self.explorer.options if self.explorer is not None and spec.task == "objnav" else ()
        self.options = opts if action in opts else frozenset([action])
        agent = backend.agent()
        self._last = (action, agent.position[:2].copy())
        self._last_lift = agent.lift_height
        self._last_ext = agent.arm_extension
        return action

    def _decide(self, backend: Backend, spec: TaskSpec) -> int:
        if self.explorer is not None:
            if spec.task == "objnav":
                action = self.explorer.decide(backend, spec, self._last)
                self.gave_up = self.explorer.gave_up
            else:
                self._careful._last = self._last  # None after another policy's step
                action = self._careful.act(backend, spec)
                self.gave_up = self._careful.gave_up
            return action
        if self._done_refused and is_success(spec, backend):
            return END
        agent, objects = backend.agent(), backend.objects()
        if spec.needs_pickup and pickup_success(agent, objects, spec.target_type):
            # careful: lift the object clear of its neighbours before pulling it in
            high = agent.lift_height >= arm_geometry(backend).max_lift - 0.02
            careful = self.config.mode == "careful"
            if (
                careful
                and agent.arm_extension > 0.05
                and not high
                and self._last_action_moved(agent)
            ):
                return A["arm_up"]
            if agent.arm_extension > 0.05:
                return A["arm_in"]
            return END
        if self.gave_up or len(self._excluded) > self.config.max_replans:
            self.gave_up = True
            return END
        targets = [o for o in objects if o.object_type == spec.target_type and not o.held]
        if spec.needs_pickup:  # out of the lift's reach (e.g. on top of a tall shelf)
            geo = arm_geometry(backend)
            top_reach = geo.max_lift - geo.gz + 0.05
            targets = [o for o in targets if o.position[2] - 0.5 * o.size[2] <= top_reach]
        if not targets:
            self.gave_up = True
            return END
        self._note_block(backend, agent)
        fs = backend.free_space()
        field_ = self._ensure_field(fs, objects, targets, spec, agent)
        if not self._goals.any():  # no spot to see / reach a target from: nothing to do
            self.gave_up = True
            return END
        cell = planner.nearest_finite_cell(fs, field_, agent.position)
        if cell is None:
            return self._escape(fs, field_, agent)
        if self._goals[cell]:
            return self._finish(backend, agent, targets, spec)
        if self.config.mode == "careful":  # travel with the arm in and up, clear of furniture
            if agent.arm_extension > 0.03:
                return A["arm_in"]
            if agent.lift_height < self.config.travel_lift - 0.05 and self._last_action_moved(
                agent
            ):
                return A["arm_up"]
        return self._follow(fs, field_, agent, cell)

    @property
    def _precise(self) -> bool:
        """Steer finely and check landing cells: always when careful; the careless expert
        falls back to it after getting stuck repeatedly (it is careless, not helpless)."""
        return self.config.check_landing or self._blocked_moves >= STUCK_LIMIT

    def _last_action_moved(self, agent: AgentState) -> bool:
        """False right after an ``arm_up`` that did not raise the lift (blocked)."""
        if self._last is None or self._last[0] != A["arm_up"]:
            return True
        return abs(agent.lift_height - self._last_lift) > 0.005

    # ------------------------------------------------------------------ planning
    def _ensure_field(self, fs, objects, targets, spec, agent) -> np.ndarray:
        key = (
            tuple(np.round(np.concatenate([o.position for o in targets]), 1)),
            len(self._blocked),
            len(self._excluded),
            self._blocked_moves >= STUCK_LIMIT,
        )
        if self._field is None or key != self._field_key:
            free = fs.free.copy()
            if self.config.squeeze_cells > 0 and self._blocked_moves < STUCK_LIMIT:
                # careless: ignore part of the clearance margin (until it keeps getting stuck)
                free = ndimage.binary_dilation(free, iterations=self.config.squeeze_cells)
            if self.config.avoid_floor_objects:
                free &= ~floor_obstacles(fs, objects, targets)
            for c in self._blocked:
                if planner.in_grid(free, c):
                    free[c] = False
            hz = planner.hazard_points(objects) if self.config.weights.hazard_weight else []
            cost = planner.cell_costs(fs, free, self.config.weights, np.asarray(hz))
            goals = goal_mask(self.config, fs, objects, targets, spec, self._excluded)
            self._field = planner.cost_to_go(free, cost, goals, fs.resolution)
            self._field_key = key
            self._goals = goals
        return self._field

    def _note_block(self, backend: Backend, agent: AgentState) -> None:
        """After a move_ahead that did not move us, block the cell we tried to enter."""
        if self._last is None or self._last[0] != A["move_ahead"]:
            return
        if np.linalg.norm(agent.position[:2] - self._last[1]) >= 0.1:
            self._stuck = 0
        else:
            self._block_ahead(backend, agent)

    def _block_ahead(self, backend: Backend, agent: AgentState) -> None:
        """Count a blocked ``move_ahead`` and take the cell in front of the robot out of the
        plan."""
        self._stuck += 1
        self._blocked_moves += 1
        fs = backend.free_space()
        t = math.radians(agent.yaw_deg)
        ahead = agent.position[:2] + MOVE_M * np.array([math.cos(t), math.sin(t)])
        cell = fs.world_to_cell(ahead)
        if cell == fs.world_to_cell(agent.position):
            ahead = agent.position[:2] + 1.5 * MOVE_M * np.array([math.cos(t), math.sin(t)])
            cell = fs.world_to_cell(ahead)
        self._blocked.add(cell)

    def note_refused(self, env_or_backend, action: int) -> None:
        """A safety layer refused ``action`` (the robot stayed put): a refused ``move_ahead``
        counts as a blocked one (the cell ahead is planned around, and repeated blocks make the
        careless expert steer precisely), so the next plan differs instead of proposing the
        same move again. A refused ``move_back`` (a back-off with something behind the robot)
        turns the robot instead, always the same way round, until it has moved: measured, a
        careless expert backing out of a corner otherwise alternated a refused back-off with
        small turns either way until the step limit. Other refusals change nothing (the
        explorer modes keep their own map and ignore it).

        A motion refused while the task's success already holds ends the episode instead
        (the next decision is ``end`` if it still holds): what the expert does then is its own
        finish, not the task. PickUp, the target in the gripper: the lift and retraction that
        tidy the arm up (measured: a careless expert refused its retraction with the target
        held proposed it again to the step limit). ObjectNav, the target in view within the
        task's distance: the turn that faces it squarely (measured: refused that turn, the
        careless expert turned away and back to the step limit, with the target in view every
        second step: unseen set 2 episode 72, the long tail's episode 147)."""
        if self.explorer is not None:
            return
        backend = getattr(env_or_backend, "backend", env_or_backend)
        spec = getattr(env_or_backend, "task_spec", None)
        if spec is not None and is_success(spec, backend):
            self._done_refused = True
            return
        if action not in (A["move_ahead"], A["move_back"]):
            return
        if action == A["move_back"]:
            self._back_refused_at = backend.agent().position[:2].copy()
            return
        self._block_ahead(backend, backend.agent())
        self._last = None  # the refused move was not taken: nothing to learn from it

    # ------------------------------------------------------------------ following
    def _waypoint(self, fs, field_, agent: AgentState, cell) -> np.ndarray:
        """Walk steepest descent from ``cell`` until ``lookahead_m`` from the robot.

        The careful expert stops earlier where the straight segment from the robot would leave
        the plannable cells (no cutting of corners); the careless one does not check.
        """
        pos = agent.position[:2]
        chosen = cell
        lookahead = min(self.config.lookahead_m, 0.5) if self._precise else self.config.lookahead_m
        for _ in range(200):
            best, best_v = None, field_[cell]
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    n = (cell[0] + di, cell[1] + dj)
                    if (di or dj) and planner.in_grid(field_, n) and field_[n] < best_v:
                        best, best_v = n, field_[n]
            if best is None:
                break
            cell = best
            if self._precise and not planner.segment_finite(fs, field_, pos, cell):
                break
            chosen = cell
            if np.linalg.norm(fs.cell_to_world(*cell) - pos) >= lookahead:
                break
        return fs.cell_to_world(*chosen)

    def _rotate_toward(self, err: float, allow_fine: bool = True) -> int:
        """Rotation action reducing heading error ``err`` (deg, positive = turn left)."""
        if abs(err) > self.config.coarse_deg or not allow_fine:
            return A["rotate_left"] if err > 0 else A["rotate_right"]
        return A["rotate_left_small"] if err > 0 else A["rotate_right_small"]

    def _landing(self, fs, field_, agent: AgentState, yaw_deg: float) -> float:
        """Cost-to-go of the cell one ``move_ahead`` away at heading ``yaw_deg`` (inf if bad)."""
        t = math.radians(yaw_deg)
        land = fs.world_to_cell(agent.position[:2] + MOVE_M * np.array([math.cos(t), math.sin(t)]))
        return float(field_[land]) if planner.in_grid(field_, land) else np.inf

    def _detour(self, fs, field_, agent: AgentState) -> float | None:
        """Heading (multiple of 30° from the current one) whose landing cell is best."""
        options = [
            (self._landing(fs, field_, agent, agent.yaw_deg + k * 30.0), abs(k), k)
            for k in range(-6, 6)
        ]
        best = min(options)
        return None if not np.isfinite(best[0]) else _wrap(agent.yaw_deg + best[2] * 30.0)

    def _follow(self, fs, field_, agent: AgentState, cell) -> int:
        if self._detour_yaw is not None:  # committed to a detour heading until we move
            err = _wrap(self._detour_yaw - agent.yaw_deg)
            if abs(err) > 15.0:
                return self._rotate_toward(err, allow_fine=False)
            self._detour_yaw = None
            return A["move_ahead"]
        wp = self._waypoint(fs, field_, agent, cell)
        err = _wrap(_bearing(agent.position, wp) - agent.yaw_deg)
        if self._stuck >= 3:  # repeatedly blocked: back off, then try another heading
            self._stuck = 0
            return A["move_back"]
        if self._sidestep:  # just turned away from a blocked heading: try this one
            self._sidestep = False
            return A["move_ahead"]
        if self._stuck >= 1 and abs(err) <= self.config.coarse_deg:
            self._sidestep = True
            return A["rotate_left"] if err >= 0 else A["rotate_right"]
        if abs(err) > self.config.coarse_deg:
            return self._rotate_toward(err)
        if self._precise:
            if abs(err) > min(self.config.fine_deg, 4.0):
                return self._rotate_toward(err)
            if not np.isfinite(self._landing(fs, field_, agent, agent.yaw_deg)):
                self._detour_yaw = self._detour(fs, field_, agent)
                if self._detour_yaw is None:
                    return A["move_back"]
                return self._follow(fs, field_, agent, cell)
        return A["move_ahead"]

    def _escape(self, fs, field_, agent: AgentState) -> int:
        """Off the plannable grid (pushed into an obstacle): head for the nearest good cell."""
        finite = np.argwhere(np.isfinite(field_))
        if len(finite) == 0:
            self._excluded.append(agent.position[:2].copy())
            if len(self._excluded) > self.config.max_replans:
                self.gave_up = True
                return END
            return A["rotate_left"]
        pts = fs.origin + (finite + 0.5) * fs.resolution
        near = pts[np.argmin(np.linalg.norm(pts - agent.position[:2], axis=1))]
        err = _wrap(_bearing(agent.position, near) - agent.yaw_deg)
        if abs(err) > 100:
            return A["move_back"]
        if abs(err) > self.config.coarse_deg:
            return self._rotate_toward(err)
        return A["move_ahead"]

    # ------------------------------------------------------------------ finishing
    def _finish(self, backend: Backend, agent, targets: list[ObjectState], spec) -> int:
        pts = np.array([o.position[:2] for o in targets])
        target = targets[int(np.argmin(np.linalg.norm(pts - agent.position[:2], axis=1)))]
        if not spec.needs_pickup:  # the goal is to see it: face it, then `end`
            err = _wrap(_bearing(agent.position, target.position) - agent.yaw_deg)
            if abs(err) > self.config.fine_deg:
                return self._rotate_toward(err)
            ids = {o.object_id for o in targets}
            if ids & backend.visible_objects(max_distance=spec.visible_distance):
                return END
            self._excluded.append(agent.position[:2].copy())
            return A["rotate_left_small"]
        action = grasp_action(self, backend, agent, target)
        if action is None:  # grasp impossible from here: try another spot
            self._excluded.append(agent.position[:2].copy())
            return A["arm_in"] if agent.arm_extension > 0.03 else A["rotate_left_small"]
        return action
