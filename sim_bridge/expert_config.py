"""The expert's tunable behaviour: :class:`ExpertConfig` and its standard settings per mode.

Plain data for :class:`sim_bridge.expert.Expert` (which re-exports it), the explorer
(:mod:`sim_bridge.explorer`) and the goal cells (:mod:`sim_bridge.expert_goals`); the modes
themselves are described in :mod:`sim_bridge.expert` and named in :mod:`sim_bridge.expert_modes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from sim_bridge import planner
from sim_bridge.expert_modes import (
    AHEAD_TURN_M,
    ESCAPE_SUFFIX,
    MODES,
    RECENT,
    RECENT_MEMORY,
    has_escape,
    split_mode,
)
from sim_bridge.robot import (
    NAV_CAMERA_HEIGHT_M,
    NAV_CAMERA_TILT_DEG,
    NAV_CAMERA_VFOV_DEG,
    REACH_BAND_M,
)


@dataclass
class ExpertConfig:
    """Tunable behaviour of the expert; :meth:`for_mode` gives the standard settings of a mode.

    Attributes:
        mode: one of :data:`sim_bridge.expert_modes.MODES`.
        weights: per-cell cost shaping (see :class:`sim_bridge.planner.CostWeights`).
        lookahead_m: distance along the path to the steering point.
        coarse_deg: heading error above which the expert rotates 30°.
        fine_deg: heading error above which it rotates 6° (when steering precisely).
        check_landing: precise steering: string-pulled look-ahead, fine alignment, and a move
            only onto a plannable cell.
        view_band: (min, max) metres from an objnav target for goal cells.
        reach_band: (min, max) horizontal metres from base centre to the grasp target.
        lift_clearance: metres above the target's top the careful grasp lifts to.
        travel_lift: lift height the careful expert restores before driving (above counters).
        max_replans: give up (call ``end``) after this many excluded goals.
        cam_height, cam_tilt_deg, cam_half_fov_deg: the nav camera (height m, downward tilt,
            half vertical field of view), for objnav goal cells that keep the target in view.
        fov_margin_deg: keep the target this far inside the vertical field of view.
        avoid_floor_objects: plan around movable objects standing on the floor (chairs,
            bins, toys); the careless expert drives into them.
        squeeze_cells: grow the free grid by this many cells before planning, i.e. pass
            closer to walls and furniture than the backend's clearance allows (careless: 1).
        steady_search: explorer only (mode ``explorer-steady``): search in a way a learner can
            predict from its observations: one 360° sweep of left turns at the start, then no
            mid-search looking around; commit to one frontier until it is revealed, reached
            or unreachable; move ahead while that already descends the path and the best
            heading is within 30° (:mod:`sim_bridge.explorer`). Off: the plain explorer.
        reactive_search: explorer only (mode ``explorer-reactive``): the start sweep of
            ``steady_search``, then no commitment: every step heads down the cost-to-go to the
            nearest frontier, moving while that makes half the best heading's progress, turning
            right only when the best heading is the one 30° to the right (in view), left
            otherwise (:mod:`sim_bridge.explorer`).
        memory_steps: explorer only: remember only the last this many steps (views of the
            floor, target sightings, bumps, given-up frontier spots); 0 remembers the whole
            episode. Set to the learner's context length, the teacher knows no more than the
            learner can (mode ``explorer-recent``: the reactive explorer with 32;
            ``explorer-recent:N``: with N).
        frontier_turn_m: explorer only (mode ``explorer-ahead``: the reactive explorer with
            1.5): choose the frontier by path cost plus this many metres per 180° the robot
            would turn to face it, instead of the nearest (0): a frontier in view ahead wins
            over a slightly nearer one behind, and it stays chosen as the robot turns to it.
        escape: try each action in the simulator first; where it would cost, or the robot is
            in contact, act by the escape search of :mod:`sim_bridge.escape` (a mode with the
            suffix ``+escape``).
        escape_depth: the longest sequence of base motions the escape search tries.
    """

    mode: str = "careful"
    weights: planner.CostWeights = field(default_factory=planner.CostWeights)
    lookahead_m: float = 0.5
    coarse_deg: float = 20.0
    fine_deg: float = 4.0
    check_landing: bool = True
    view_band: tuple[float, float] = (0.6, 1.5)
    reach_band: tuple[float, float] = REACH_BAND_M
    lift_clearance: float = 0.08
    travel_lift: float = 1.0
    max_replans: int = 12
    cam_height: float = NAV_CAMERA_HEIGHT_M
    cam_tilt_deg: float = NAV_CAMERA_TILT_DEG
    cam_half_fov_deg: float = NAV_CAMERA_VFOV_DEG / 2
    fov_margin_deg: float = 6.0
    avoid_floor_objects: bool = True
    squeeze_cells: int = 0
    steady_search: bool = False
    reactive_search: bool = False
    memory_steps: int = 0
    frontier_turn_m: float = 0.0
    escape: bool = False
    escape_depth: int = 2

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown expert mode {self.mode!r}; use one of {MODES}")
        if self.steady_search and self.reactive_search:
            raise ValueError("steady_search and reactive_search exclude each other; set one")
        if self.memory_steps < 0:
            raise ValueError(
                f"memory_steps must be >= 0 (0: the whole episode), got {self.memory_steps}"
            )
        if not (self.frontier_turn_m >= 0 and math.isfinite(self.frontier_turn_m)):
            raise ValueError(f"frontier_turn_m must be >= 0, got {self.frontier_turn_m}")
        if self.escape_depth < 1:
            raise ValueError(f"escape_depth must be >= 1, got {self.escape_depth}")
        if not 0 < self.fine_deg <= self.coarse_deg:
            raise ValueError(
                f"need 0 < fine_deg <= coarse_deg, got {self.fine_deg}, {self.coarse_deg}"
            )
        for name in ("view_band", "reach_band"):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi:
                raise ValueError(f"{name} must be (min, max) with 0 <= min < max, got {(lo, hi)}")

    @classmethod
    def for_mode(cls, mode: str) -> ExpertConfig:
        """The standard settings of ``mode``."""
        if has_escape(mode):
            return replace(cls.for_mode(mode.removesuffix(ESCAPE_SUFFIX)), escape=True)
        if mode == "careful":
            return cls(mode, planner.CostWeights(8.0, 0.45, 6.0, 0.55), 0.5, 20.0, 4.0, True)
        if mode == "careless":
            return cls(
                mode,
                planner.CostWeights(),
                0.8,
                25.0,
                25.0,
                False,
                avoid_floor_objects=False,
                squeeze_cells=1,
            )
        if mode == "explorer":  # the careful planner, driven by what the robot has seen
            return replace(cls.for_mode("careful"), mode="explorer")
        if mode == "explorer-steady":  # the explorer, searching predictably
            return replace(cls.for_mode("careful"), mode=mode, steady_search=True)
        if mode == "explorer-reactive":  # the explorer, choosing from what is in view
            return replace(cls.for_mode("careful"), mode=mode, reactive_search=True)
        if mode == "explorer-ahead":  # ... and preferring the frontiers it faces
            return replace(
                cls.for_mode("explorer-reactive"), mode=mode, frontier_turn_m=AHEAD_TURN_M
            )
        name, memory = split_mode(mode)
        if name == RECENT:  # the reactive explorer with the learner's memory
            memory = RECENT_MEMORY if memory is None else memory
            return replace(
                cls.for_mode("careful"), mode=name, reactive_search=True, memory_steps=memory
            )
        raise ValueError(f"unknown expert mode {mode!r}; use one of {MODES}")
