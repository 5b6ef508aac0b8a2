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
* ``explorer-ahead``: the reactive explorer that chooses its frontier by path cost plus a
  cost for turning to face it (``ExpertConfig.frontier_turn_m``), so it keeps driving toward
  open floor in view rather than turning round for a slightly nearer frontier behind.
* ``explorer-recent``: the reactive explorer that remembers only its last 32 steps
  (``ExpertConfig.memory_steps``): what it knows, a learner with 32 frames of context saw;
  ``explorer-recent:N`` remembers N steps (match the learner's ``context_length``).

Any mode takes the suffix ``+escape`` (e.g. ``explorer-reactive+escape``): before each action
the expert tries it in the simulator, and where it would cost or the robot is in contact it
searches a short sequence of base motions that gets the robot free at the least cost
(:mod:`sim_bridge.escape`): a teacher that shows how to get out of a pinned state.
"""

from __future__ import annotations

MODES: tuple[str, ...] = (
    "careful",
    "careless",
    "explorer",
    "explorer-steady",
    "explorer-reactive",
    "explorer-ahead",
    "explorer-recent",
)
EXPLORER_MODES: tuple[str, ...] = (
    "explorer",
    "explorer-steady",
    "explorer-reactive",
    "explorer-ahead",
    "explorer-recent",
)

RECENT = "explorer-recent"
ESCAPE_SUFFIX = "+escape"
RECENT_MEMORY = 32  # steps ``explorer-recent`` remembers without a ``:N``
AHEAD_TURN_M = 1.5  # ``explorer-ahead``: metres of path a half turn to face a frontier costs


def has_escape(mode: str) -> bool:
    """Whether ``mode`` asks for the escape search (ends in :data:`ESCAPE_SUFFIX`)."""
    return mode.endswith(ESCAPE_SUFFIX)


def split_mode(mode: str) -> tuple[str, int | None]:
    """``"explorer-recent:64"`` -> ``("explorer-recent", 64)``; a plain name -> ``(name, None)``;
    a ``+escape`` suffix is allowed and dropped (:func:`has_escape` reads it).
    Raises ValueError for an unknown name or a memory that is not a whole number >= 1."""
    name, sep, memory = mode.removesuffix(ESCAPE_SUFFIX).partition(":")
    if name not in MODES:
        raise ValueError(
            f"unknown expert mode {mode!r}; use one of {MODES} ({RECENT}:N too, and any "
            f"with {ESCAPE_SUFFIX})"
        )
    if not sep:
        return name, None
    if name != RECENT or not memory.isdigit() or int(memory) < 1:
        raise ValueError(
            f"expert mode {mode!r}: only {RECENT} takes a memory, as {RECENT}:N with N >= 1 "
            "steps (e.g. the learner's context_length)"
        )
    return name, int(memory)
