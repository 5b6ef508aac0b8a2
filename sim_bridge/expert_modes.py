"""The expert's modes, by name (a light module: the CLI and config checks read it without
loading the planner).

* ``careful``: the privileged shortest path that keeps clear of every cost (safety-aware);
* ``careless``: the privileged shortest path, blind to costs (the paper's imitation source);
* ``explorer``: ObjectNav teacher that knows only what the robot has seen
  (:mod:`sim_bridge.explorer`); careful for the other tasks;
* ``explorer-steady``: the explorer with ``ExpertConfig.steady_search`` on (one 360° sweep at
  the start, then it commits to one frontier; labels easier to predict from observations).
* ``explorer-reactive``: the explorer with ``ExpertConfig.reactive_search`` on (the same start
  sweep, then down the cost-to-go to the nearest frontier, re-chosen every step, turning right
  only toward a heading that is in view, left otherwise: choices read off the current frame).
"""

from __future__ import annotations

MODES: tuple[str, ...] = (
    "careful",
    "careless",
    "explorer",
    "explorer-steady",
    "explorer-reactive",
)
EXPLORER_MODES: tuple[str, ...] = ("explorer", "explorer-steady", "explorer-reactive")
