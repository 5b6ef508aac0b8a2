"""The teacher's way out of contact: try actions in the simulator, take the cheapest way free.

A robot pinned against an obstacle it no longer sees pays a cost on nearly every step, whatever
it does: in two of the costliest episodes of the shipped PPO-Lagrangian policy even an arm
action costs at 83% of the steps after a blocked motion, because the contact lasts
(docs/training.md, fourteenth session). The planners do not model that contact: at those
states the reactive explorer's own label costs 82% of the time, mostly a blocked turn. So the
expert (mode suffix ``+escape``) checks its choice with the simulator before it acts:

1. where the robot is not in contact (the last step neither was blocked nor collided) and the
   planned action costs nothing on the next step, the plan stands;
2. otherwise it searches sequences of up to ``depth`` base motions (:data:`ESCAPE_MOTIONS`)
   from the current state, each stepped in the simulator and undone (the action probe's
   snapshot and restore, :mod:`sim_bridge.action_probe`), for one that ends out of contact
   with no cost on its last step, at the least total cost, shortest first; the plan's own
   action wins ties, then the order of :data:`ESCAPE_MOTIONS`; the label is that sequence's
   first action;
3. where no sequence gets free within ``depth`` steps, the first motion of the cheapest
   sequence (the plan on ties).

This uses the simulator's full state, as the planners do: it makes labels, it does not run on a
robot. A learner can follow it only if it knows it is in contact (the motion feedback,
``model.bump_input``).
"""

from __future__ import annotations

import itertools

from safevla_core.actions import ACTION_INDEX
from sim_bridge.action_probe import ActionProbe

# base motions the search tries, in the order that breaks ties: back off first
ESCAPE_MOTIONS: tuple[int, ...] = tuple(
    ACTION_INDEX[n]
    for n in (
        "move_back",
        "rotate_right",
        "rotate_left",
        "rotate_right_small",
        "rotate_left_small",
        "move_ahead",
    )
)


def in_contact(env) -> bool:
    """Whether the env's last step was blocked or collided (its motion feedback)."""
    return bool(env._bump.any())


def safe_action(env, planned: int, depth: int = 2) -> int:
    """``planned`` where it is free and the robot is not in contact, else the escape search's
    first motion (module docstring). The env is left exactly where it was."""
    probe = ActionProbe(env, verify=False)
    root = probe.snapshot()
    if not in_contact(env):
        try:
            _, sc = env.advance(planned)
        finally:
            probe.restore(root)
        if sc.total == 0:
            return planned
    order = sorted(ESCAPE_MOTIONS, key=lambda a: a != planned)  # the plan first, if a motion
    best: tuple[float, int] | None = None  # (cost, first action) of the cheapest stuck path
    for length in range(1, depth + 1):
        found: tuple[float, int] | None = None  # (cost, first action) of the best free path
        for seq in itertools.product(order, repeat=length):
            cost, free = _try(env, probe, root, seq)
            if free and (found is None or cost < found[0]):
                found = (cost, seq[0])
            if best is None or cost < best[0]:
                best = (cost, seq[0])
        if found is not None:
            return found[1]
    return best[1]


def _try(env, probe, root, seq: tuple[int, ...]) -> tuple[float, bool]:
    """(total cost, ended free) of stepping ``seq`` from ``root``; the env is restored."""
    total, outcome, last = 0.0, None, 0.0
    try:
        for a in seq:
            outcome, sc = env.advance(a)
            total += sc.total
            last = sc.total
    finally:
        probe.restore(root)
    free = outcome is not None and outcome.action_succeeded and not outcome.collided
    return total, bool(free and last == 0)
