"""The explorer: an ObjectNav expert that knows only what the robot has seen.

The privileged experts plan to a target the robot has not seen yet, so a learner that sees only
pixels cannot infer their turns. The explorer's choices depend only on the observation history:

1. **Map**: every step the current view is added to a :class:`~sim_bridge.explorer_map.
   RevealedMap` (floor cells inside the camera's horizontal field of view, within
   ``view_range_m``, not behind walls or tall furniture). It plans only on seen free cells, and
   avoids only objects it has seen (floor obstacles, fragile clusters, dangerous objects).
2. **Sighting**: a target-type object counts as found once it is visible in the navigation
   camera within ``sight_range_m`` (the simulator's visibility test, the one ObjectNav success
   uses). Unseen targets are never used.
3. **Search** (nothing found yet): turn 30° in place when that view would reveal at least
   ``look_gain_m2`` of unseen floor (assuming the unseen is open), else go to the nearest
   frontier (seen free cells next to unseen ones) along the careful cost-to-go. With no
   frontier left and nothing found, look again with a shorter view range (``rescan_factor``):
   the target may stand where the floor was seen but the object was too far or hidden.
4. **Approach** (a target found): the careful expert's goal cells around the seen targets and its
   clearance/hazard cell costs (:mod:`sim_bridge.expert_goals`, :mod:`sim_bridge.planner`), on
   the seen free cells; if none is reachable yet, keep searching.
5. **Finish**: ``end`` as soon as a found target is visible within ``visible_distance -
   end_margin_m``; on a goal cell, face the target (30° turns, 6° only when it is still out of
   view) and ``end``.

With ``ExpertConfig.steady_search`` (mode ``explorer-steady``) the search is easier to predict
from observations alone: the first ``SWEEP_TURNS`` steps turn left in place (one 360° sweep),
step 3's look-around rule is off, the explorer commits to one frontier (the nearest when it
chooses) and keeps heading for it until it is revealed (no frontier left within
``GOAL_RADIUS_M`` of it), reached or unreachable, and it moves ahead whenever that descends the
path and the best heading is within 30° (while searching; a seen target is approached as by
the plain explorer). On a reached frontier it does not look around either
(except during a closer look, step 3's rescan): it drops the spot and chooses the next. The
planning grid and its costs are the same, so it is as safety-aware as the plain explorer.

Steering (:mod:`sim_bridge.explorer_steer`) prefers 30° turns: it keeps a heading while it
descends the cost-to-go nearly as fast as the best of the 12 headings 30° apart, else turns 30°
toward that one; 6° turns only where no 30° heading descends (a narrow passage) or to bring a
target into view at the end. Blocked moves mark the cell ahead as blocked (a bump is an
observation too); three in a row trigger ``move_back``.

The explorer is the ``explorer`` mode of :class:`sim_bridge.expert.Expert`, which owns it and
calls :meth:`Explorer.decide` once per step; the map only grows on steps it is asked about, so
label every step (behaviour cloning and DAgger do). Other tasks than ObjectNav use the careful
expert's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from safevla_core.actions import ACTION_INDEX, END
from sim_bridge import planner
from sim_bridge.backend import AgentState, Backend, FreeSpace, ObjectState
from sim_bridge.expert_goals import floor_obstacles, goal_mask
from sim_bridge.explorer_map import RevealedMap, occluder_grid
from sim_bridge.explorer_steer import (
    MOVE_M,
    TURN_DEG,
    bearing,
    steer_options,
    toward_free,
    turn,
    unit,
    wrap,
)
from sim_bridge.robot import NAV_CAMERA_VFOV_DEG
from sim_bridge.tasks import TaskSpec

A = ACTION_INDEX
STUCK_BACKOFF = 3  # blocked moves in a row before backing off
DEAD_RADIUS_M = 0.6  # frontier cells this close to a spot that revealed nothing are dropped
SWEEP_TURNS = 12  # steady search: 30° left turns of the start sweep
GOAL_RADIUS_M = 0.5  # frontier cells this close to a chosen point form one frontier spot


def faced_frontier(
    fs: FreeSpace,
    cost: np.ndarray,
    agent: AgentState,
    frontier: np.ndarray,
    cell: tuple[int, int],
    turn_m: float,
) -> np.ndarray:
    """The frontier spot (the ``frontier`` cells within ``GOAL_RADIUS_M`` of one frontier
    cell) whose cell minimises the path cost from the robot's ``cell`` plus ``turn_m`` per
    180° the robot would turn to face it (``ExpertConfig.frontier_turn_m``); all False when no
    frontier cell can be reached."""
    start = np.zeros(fs.free.shape, bool)
    start[cell] = True
    from_here = planner.cost_to_go(fs.free, cost, start, fs.resolution)
    ij = np.argwhere(frontier & np.isfinite(from_here))
    if len(ij) == 0:
        return np.zeros(fs.free.shape, bool)
    xy = fs.origin + (ij + 0.5) * fs.resolution - agent.position[:2]
    bearing_deg = np.degrees(np.arctan2(xy[:, 1], xy[:, 0]))
    turn_deg = np.abs((bearing_deg - agent.yaw_deg + 180.0) % 360.0 - 180.0)
    score = from_here[ij[:, 0], ij[:, 1]] + turn_m * turn_deg / 180.0
    best = fs.origin + (ij[int(np.argmin(score))] + 0.5) * fs.resolution
    return frontier & planner.disk_mask(fs, best[None], GOAL_RADIUS_M)


@dataclass
class ExplorerConfig:
    """Tunable behaviour of the explorer (the careful settings come from the expert's config).

    Attributes:
        hfov_deg: horizontal field of view of the navigation camera; the default is that of
            square frames (the trainer's and ``safevla sim expert``'s), see
            :func:`sim_bridge.robot.nav_camera_hfov_deg` for others. A narrower fan than the
            camera's only makes the explorer look around more.
        view_range_m: metres within which a view reveals the floor.
        sight_range_m: metres within which a visible target counts as found; longer than
            ``view_range_m`` so that an object standing on seen floor is in range.
        rescan_factor: when every frontier is explored and nothing was found, the view range
            shrinks by this factor and the search goes on (a closer look), down to
            ``min_view_range_m``; then the explorer gives up.
        min_view_range_m: the shortest view range of a closer look.
        see_over_m: furniture lower than this does not hide the floor behind it.
        clearance_m: the backend's free-space clearance (the ring around obstacles).
        look_gain_m2: turn in place when one 30° turn would reveal at least this much unseen
            floor: a little more than one ``move_ahead`` into unseen space reveals (a 0.2 m
            strip across the view at ``view_range_m``, about 0.7 m² at 3 m).
        min_frontier_cells: smallest frontier cluster worth visiting.
        progress_ratio: keep the heading while it makes at least this share of the best 30°
            heading's progress.
        end_margin_m: call ``end`` once a target is visible within ``visible_distance`` minus
            this.
        floor_object_margin_m: keep this much farther from seen floor objects than the
            careful expert does (its radius is the object's half long side: a chair's corners
            reach farther, and the explorer turns in place more often).
        option_band: how far from its steering thresholds another step still counts as one
            of its options (:attr:`Explorer.options`, :func:`sim_bridge.explorer_steer.
            steer_options`).
    """

    hfov_deg: float = NAV_CAMERA_VFOV_DEG
    view_range_m: float = 3.0
    sight_range_m: float = 3.5
    rescan_factor: float = 0.6
    min_view_range_m: float = 1.0
    see_over_m: float = 1.2
    clearance_m: float = 0.25
    look_gain_m2: float = 1.0
    min_frontier_cells: int = 3
    progress_ratio: float = 0.85
    end_margin_m: float = 0.2
    floor_object_margin_m: float = 0.1
    option_band: float = 0.15

    def __post_init__(self) -> None:
        if not 0 < self.hfov_deg <= 360:
            raise ValueError(f"hfov_deg must be in (0, 360], got {self.hfov_deg}")
        if self.sight_range_m < self.view_range_m:
            raise ValueError(
                f"sight_range_m ({self.sight_range_m}) must be >= view_range_m "
                f"({self.view_range_m})"
            )
        if not 0 < self.rescan_factor < 1:
            raise ValueError(f"rescan_factor must be in (0, 1), got {self.rescan_factor}")
        for name in ("view_range_m", "see_over_m", "clearance_m", "look_gain_m2"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.min_frontier_cells < 1:
            raise ValueError(f"min_frontier_cells must be >= 1, got {self.min_frontier_cells}")
        if not 0 < self.progress_ratio <= 1:
            raise ValueError(f"progress_ratio must be in (0, 1], got {self.progress_ratio}")
        if self.floor_object_margin_m < 0:
            raise ValueError(
                f"floor_object_margin_m must be >= 0, got {self.floor_object_margin_m}"
            )
        if self.end_margin_m < 0:
            raise ValueError(f"end_margin_m must be >= 0, got {self.end_margin_m}")
        if not 0 <= self.option_band < 1:
            raise ValueError(f"option_band must be in [0, 1), got {self.option_band}")


class Explorer:
    """Observation-consistent ObjectNav expert; see the module docstring.

    Args:
        expert_config: the careful settings (an ``ExpertConfig``: ``weights``, ``view_band``,
            camera geometry, ``fine_deg``, ``travel_lift``, ``max_replans``,
            ``avoid_floor_objects``).
        config: exploration settings.
    """

    def __init__(self, expert_config, config: ExplorerConfig | None = None) -> None:
        self.expert_config = expert_config
        self.config = config or ExplorerConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the current episode (map, sightings, blocked cells, failed spots)."""
        self.map: RevealedMap | None = None
        self.seen_ids: set[str] = set()  # the objects it remembers seeing
        self._sighted: dict[str, int] = {}  # object id -> step it was last visible
        self.found_at: int | None = None  # step of the first sighting
        self.steps = 0
        self.gave_up = False
        self._blocked: dict[tuple[int, int], int] = {}  # cell -> step of the bump
        self._dead = None  # frontier spots given up
        self._dead_at = None  # ... and the step they were given up
        self._excluded: list[np.ndarray] = []
        self._stuck = 0
        self._last_action: int | None = None
        self._last_lift = 0.0
        self._sweep = 0  # steady search: sweep turns made
        self._goal: np.ndarray | None = None  # steady search: the committed frontier point
        self._looks = 0  # reactive search: left turns made on the current frontier cell
        self.options: frozenset[int] = frozenset()  # the last decision's options
        self._steered: tuple[int, frozenset[int]] | None = None  # this step's steering

    # ------------------------------------------------------------------ entry point
    def decide(self, backend: Backend, spec: TaskSpec, last=None) -> int:
        """Next action. ``last`` is ``(action, position before it)`` of the previous step when
        this explorer chose it, else None (another policy drove, or the first step)."""
        agent, objects = backend.agent(), backend.objects()
        fs = backend.free_space()
        if self.map is None or self.map.fs is not fs:
            c = self.config
            occ = occluder_grid(fs, objects, c.clearance_m, c.see_over_m)
            memory = self.expert_config.memory_steps
            self.map = RevealedMap(fs, occ, c.hfov_deg, c.view_range_m, memory)
            self._dead = np.zeros(fs.free.shape, bool)
            self._dead_at = np.zeros(fs.free.shape, np.int64)
        self._note_block(fs, agent, last)
        self.map.observe(agent.position, agent.yaw_deg)
        for oid in backend.visible_objects(max_distance=self.config.sight_range_m):
            self._sighted[oid] = self.steps
        self._forget()
        self.seen_ids = set(self._sighted)
        self.steps += 1
        targets = [
            o
            for o in objects
            if o.object_type == spec.target_type and o.object_id in self.seen_ids and not o.held
        ]
        if targets and self.found_at is None:
            self.found_at = self.steps - 1
        self._last_action = None if last is None else last[0]
        self._steered = None
        action = self._decide(backend, spec, agent, objects, targets)
        self._last_lift = agent.lift_height
        steered = self._steered
        self.options = steered[1] if steered and steered[0] == action else frozenset([action])
        return action

    def _forget(self) -> None:
        """With ``memory_steps``: drop sightings, bumps and given-up spots older than that
        many steps (the map forgets its views itself)."""
        memory = self.expert_config.memory_steps
        if not memory:
            return
        oldest = self.steps - memory + 1  # the first step still remembered
        self._sighted = {k: t for k, t in self._sighted.items() if t >= oldest}
        self._blocked = {k: t for k, t in self._blocked.items() if t >= oldest}
        self._dead &= self._dead_at >= oldest

    def _give_up(self, mask: np.ndarray) -> None:
        """Drop the frontier cells in ``mask`` from the search."""
        self._dead |= mask
        self._dead_at[mask] = self.steps

    def _decide(self, backend, spec, agent, objects, targets) -> int:
        if self.gave_up or len(self._excluded) > self.expert_config.max_replans:
            self.gave_up = True
            return END
        if targets:
            ids = {o.object_id for o in targets}
            near = spec.visible_distance - self.config.end_margin_m
            if ids & backend.visible_objects(max_distance=near):
                return END
        arm = self._arm_action(agent)
        if arm is not None:
            return arm
        cfg = self.expert_config
        sweep = cfg.steady_search or cfg.reactive_search
        if sweep and not targets and self._sweep < SWEEP_TURNS:
            self._sweep += 1
            return A["rotate_left"]
        action = self._plan_and_act(backend, spec, agent, objects, targets)
        if action is None:  # searched everywhere in view range: look again, closer
            action = self._plan_and_act(backend, spec, agent, objects, targets)
        return END if action is None else action

    def _plan_and_act(self, backend, spec, agent, objects, targets) -> int | None:
        """Approach a found target, else search; None after shrinking the view range."""
        fs = self.map.fs
        known = [
            o for o in objects if o.object_id in self.seen_ids or self.map.known(o.position[:2])
        ]
        plan, cost = self._plan_grid(fs, known, targets)
        plan_fs = FreeSpace(fs.origin, fs.resolution, plan)
        if targets:
            goals = goal_mask(self.expert_config, plan_fs, known, targets, spec, self._excluded)
            field_ = planner.cost_to_go(plan, cost, goals, fs.resolution)
            cell = planner.nearest_finite_cell(plan_fs, field_, agent.position)
            if cell is not None and goals[cell]:
                return self._finish(backend, agent, targets, spec)
            if cell is not None:
                return self._steer(plan_fs, field_, agent, cell, steady=False)
        return self._search(plan_fs, cost, agent)

    def _arm_action(self, agent: AgentState) -> int | None:
        """Arm in and lift up before driving, as the careful expert does (but not again right
        after an ``arm_up`` that did not raise the lift: something is above it)."""
        if agent.arm_extension > 0.03:
            return A["arm_in"]
        blocked = self._last_action == A["arm_up"] and (
            abs(agent.lift_height - self._last_lift) <= 0.005
        )
        if agent.lift_height < self.expert_config.travel_lift - 0.05 and not blocked:
            return A["arm_up"]
        return None

    # ------------------------------------------------------------------ map and costs
    def _plan_grid(self, fs: FreeSpace, known: list[ObjectState], targets):
        """Plannable cells (seen, free, not blocked, clear of seen floor objects) and the
        careful cell costs, with clearance measured to seen obstacles only."""
        cfg = self.expert_config
        plan = self.map.known_free.copy()
        open_ = ~(self.map.seen & ~fs.free)  # unseen cells are not known obstacles
        if cfg.avoid_floor_objects:
            obstacles = floor_obstacles(fs, known, targets)
            grow = round(self.config.floor_object_margin_m / fs.resolution)
            if grow > 0:
                obstacles = ndimage.binary_dilation(obstacles, iterations=grow)
            plan &= ~obstacles
            open_ &= ~obstacles
        for c in self._blocked:
            plan[c] = open_[c] = False
        hazards = planner.hazard_points(known) if cfg.weights.hazard_weight else []
        cost = planner.cell_costs(fs, open_, cfg.weights, np.asarray(hazards))
        return plan, cost

    def _note_block(self, fs: FreeSpace, agent: AgentState, last) -> None:
        """After a move_ahead that did not move us, block the cell we tried to enter."""
        if last is None or last[0] != A["move_ahead"]:
            return
        if np.linalg.norm(agent.position[:2] - last[1][:2]) >= 0.1:
            self._stuck = 0
            return
        self._stuck += 1
        ahead = unit(agent.yaw_deg)
        cell = fs.world_to_cell(agent.position[:2] + MOVE_M * ahead)
        if cell == fs.world_to_cell(agent.position):
            cell = fs.world_to_cell(agent.position[:2] + 1.5 * MOVE_M * ahead)
        if planner.in_grid(fs.free, cell):
            self._blocked[cell] = self.steps

    # ------------------------------------------------------------------ search
    def _search(self, fs: FreeSpace, cost: np.ndarray, agent: AgentState) -> int | None:
        """Look around where a turn reveals enough, else head for the nearest frontier; when
        none is left, shrink the view range and return None (the caller re-plans)."""
        if self.expert_config.steady_search:
            return self._steady_search(fs, cost, agent)
        if self.expert_config.reactive_search:
            return self._reactive_search(fs, cost, agent)
        pos, yaw = agent.position[:2], agent.yaw_deg
        gains = {k: self.map.gain(pos, yaw + k * TURN_DEG) for k in (1, -1)}
        k = max(gains, key=lambda d: (gains[d], d))  # ties: turn left
        cell_m2 = fs.resolution**2
        if gains[k] * cell_m2 >= self.config.look_gain_m2:
            return A["rotate_left"] if k > 0 else A["rotate_right"]
        frontier, field_, cell = self._nearest_frontier(fs, cost, agent)
        if cell is None:
            return self._no_reachable_frontier(fs, agent, frontier)
        if frontier[cell]:  # arrived: look at what lies beyond, or give this frontier up
            best = max(range(1, 12), key=lambda d: self.map.gain(pos, yaw + d * TURN_DEG))
            if self.map.gain(pos, yaw + best * TURN_DEG) >= self.config.min_frontier_cells:
                return A["rotate_left"] if best <= 6 else A["rotate_right"]
            self._give_up(planner.disk_mask(fs, pos[None], DEAD_RADIUS_M))
            return self._search(fs, cost, agent)
        return self._steer(fs, field_, agent, cell)

    def _nearest_frontier(self, fs: FreeSpace, cost: np.ndarray, agent: AgentState):
        """The live frontier cells, the cost-to-go to the nearest of them, and the robot's
        plannable cell on it (None when no frontier can be reached). With
        ``frontier_turn_m`` the field leads to the frontier spot with the least path cost
        plus turn cost (:func:`faced_frontier`) instead."""
        frontier = self.map.frontier(self.config.min_frontier_cells) & ~self._dead & fs.free
        field_ = planner.cost_to_go(fs.free, cost, frontier, fs.resolution)
        cell = planner.nearest_finite_cell(fs, field_, agent.position)
        turn_m = self.expert_config.frontier_turn_m
        if turn_m > 0 and cell is not None and not frontier[cell]:
            goal = faced_frontier(fs, cost, agent, frontier, cell, turn_m)
            field_ = planner.cost_to_go(fs.free, cost, goal, fs.resolution)
            cell = planner.nearest_finite_cell(fs, field_, agent.position)
        return frontier, field_, cell

    def _no_reachable_frontier(
        self, fs: FreeSpace, agent: AgentState, frontier: np.ndarray
    ) -> int | None:
        """No frontier can be reached from here. Some left: step toward free space (or give up
        with ``end``). All seen and no target: look again with a shorter range (None: plan
        again), or give up when the range is down to ``min_view_range_m``."""
        if frontier.any():
            step = toward_free(fs, agent)
            self.gave_up = step is None
            return END if step is None else step
        closer = self.map.max_range * self.config.rescan_factor
        if closer < self.config.min_view_range_m:
            self.gave_up = True
            return END
        self.map.set_range(closer)
        self._dead[:] = False
        return None

    def _steady_search(self, fs: FreeSpace, cost: np.ndarray, agent: AgentState) -> int | None:
        """Steady search (module docstring): head for the committed frontier point; choose the
        nearest frontier when there is none (or it is revealed or unreachable)."""
        pos, yaw = agent.position[:2], agent.yaw_deg
        frontier = self.map.frontier(self.config.min_frontier_cells) & ~self._dead & fs.free
        goal, field_, cell = None, None, None
        if self._goal is not None:
            goal = frontier & planner.disk_mask(fs, self._goal[None], GOAL_RADIUS_M)
            if goal.any():
                field_ = planner.cost_to_go(fs.free, cost, goal, fs.resolution)
                cell = planner.nearest_finite_cell(fs, field_, agent.position)
                if cell is None:  # unreachable now: give it up
                    self._give_up(goal)
            if cell is None:
                self._goal = goal = None
        if goal is None:
            field_ = planner.cost_to_go(fs.free, cost, frontier, fs.resolution)
            cell = planner.nearest_finite_cell(fs, field_, agent.position)
            if cell is None:
                return self._no_reachable_frontier(fs, agent, frontier)
            # commit to the frontier cell nearest along the cost-to-go from here
            start = np.zeros(fs.free.shape, bool)
            start[cell] = True
            from_here = planner.cost_to_go(fs.free, cost, start, fs.resolution)
            from_here = np.where(frontier, from_here, np.inf)
            ij = np.unravel_index(int(np.argmin(from_here)), from_here.shape)
            self._goal = fs.cell_to_world(*ij)
            goal = frontier & planner.disk_mask(fs, self._goal[None], GOAL_RADIUS_M)
            field_ = planner.cost_to_go(fs.free, cost, goal, fs.resolution)
            cell = planner.nearest_finite_cell(fs, field_, agent.position)
            if cell is None:  # cannot happen (the chosen cell is reachable); stay safe
                self._give_up(goal)
                self._goal = None
                return self._steady_search(fs, cost, agent)
        if goal[cell]:  # reached
            if self.map.max_range < self.config.view_range_m:  # a closer look: look around
                best = max(range(1, 12), key=lambda d: self.map.gain(pos, yaw + d * TURN_DEG))
                if self.map.gain(pos, yaw + best * TURN_DEG) >= self.config.min_frontier_cells:
                    return A["rotate_left"] if best <= 6 else A["rotate_right"]
            self._give_up(goal | planner.disk_mask(fs, pos[None], DEAD_RADIUS_M))
            self._goal = None
            return self._steady_search(fs, cost, agent)
        return self._steer(fs, field_, agent, cell)

    def _reactive_search(self, fs: FreeSpace, cost: np.ndarray, agent: AgentState) -> int | None:
        """Reactive search (module docstring): down the cost-to-go to the nearest frontier,
        re-chosen every step; right turns only toward the heading in view."""
        pos, yaw = agent.position[:2], agent.yaw_deg
        frontier, field_, cell = self._nearest_frontier(fs, cost, agent)
        if cell is None:
            return self._no_reachable_frontier(fs, agent, frontier)
        if frontier[cell]:  # arrived: look left while that reveals, then give the spot up
            gain = self.map.gain(pos, yaw + TURN_DEG)
            if self._looks < SWEEP_TURNS and gain >= self.config.min_frontier_cells:
                self._looks += 1
                return A["rotate_left"]
            self._looks = 0
            self._give_up(planner.disk_mask(fs, pos[None], DEAD_RADIUS_M))
            return self._reactive_search(fs, cost, agent)
        self._looks = 0
        if self._stuck >= STUCK_BACKOFF:
            self._stuck = 0
            return A["move_back"]
        return self._steer(fs, field_, agent, cell, steady=True, right_only_in_view=True)

    def _steer(
        self, fs: FreeSpace, field_, agent: AgentState, cell, steady=None, right_only_in_view=False
    ) -> int:
        """One step down ``field_`` (:func:`sim_bridge.explorer_steer.steer_options`, which
        also gives the step's options), or back off after repeated bumps. ``steady``
        (default: the config's ``steady_search``) keeps headings longer; the approach to a seen
        target steers as the plain explorer does."""
        if self._stuck >= STUCK_BACKOFF:
            self._stuck = 0
            return A["move_back"]
        c = self.config
        steady = self.expert_config.steady_search if steady is None else steady
        self._steered = steer_options(
            fs,
            field_,
            agent,
            cell,
            c.progress_ratio,
            steady,
            right_only_in_view,
            fine_deg=self.expert_config.fine_deg,
            band=c.option_band,
        )
        return self._steered[0]

    # ------------------------------------------------------------------ finishing
    def _finish(self, backend: Backend, agent: AgentState, targets, spec: TaskSpec) -> int:
        """On a goal cell: face the nearest found target and ``end`` once it is in view."""
        pts = np.array([o.position[:2] for o in targets])
        target = targets[int(np.argmin(np.linalg.norm(pts - agent.position[:2], axis=1)))]
        err = wrap(bearing(agent.position, target.position) - agent.yaw_deg)
        if abs(err) > TURN_DEG / 2:
            return turn(err)
        ids = {o.object_id for o in targets}
        if ids & backend.visible_objects(max_distance=spec.visible_distance):
            return END
        if abs(err) > self.expert_config.fine_deg:
            return turn(err, fine=True)
        self._excluded.append(agent.position[:2].copy())  # in line but hidden: try elsewhere
        return A["rotate_left_small"]
