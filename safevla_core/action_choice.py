"""How a policy's action distribution becomes one action: greedy or sampled.

One definition for every consumer of ``p(a|s)`` (the policy runtime's greedy action, the
evaluator's bundle agents, the trainer's periodic evaluation):

* ``greedy``: ``argmax_a p(a|s)`` (the first index on ties);
* ``sample``: a draw from ``p(a|s)`` (renormalised to sum to 1) with the caller's seeded
  ``numpy`` generator, so a run is reproducible from its seed.

PPO's rollouts draw the same distribution for a whole batch of environments with a torch
generator that is saved in the checkpoint (bit-exact resume); that batched draw stays in the
trainer.
"""

from __future__ import annotations

import numpy as np

from safevla_core.actions import ACTIONS, ActionKind

GREEDY = "greedy"
SAMPLE = "sample"
SAMPLING_MODES: tuple[str, ...] = (SAMPLE, GREEDY)


def choose_action(
    probs: np.ndarray, mode: str = GREEDY, rng: np.random.Generator | None = None
) -> int:
    """One action index from the probabilities ``probs`` (shape ``(A,)``).

    Args:
        probs: action probabilities (need not sum to exactly 1).
        mode: ``"greedy"`` or ``"sample"``.
        rng: the generator of ``"sample"`` (required there, unused for ``"greedy"``).

    Raises:
        ValueError: an unknown ``mode``, or ``"sample"`` without ``rng``.
    """
    p = np.asarray(probs, np.float64)
    if mode == GREEDY:
        return int(np.argmax(p))
    if mode != SAMPLE:
        raise ValueError(f"unknown sampling {mode!r}; use one of {SAMPLING_MODES}")
    if rng is None:
        raise ValueError("sampling 'sample' needs a numpy Generator (rng)")
    return int(rng.choice(p.size, p=p / p.sum()))


class BlockedMoves:
    """The motions that bumped where the robot stands, so a policy does not repeat them.

    A policy's input barely changes when its motion is blocked (the same frame, the same
    previous action), so its greedy choice repeats it until the step limit: measured on unseen
    houses, the dearest episodes of the RL policies were 217-568 blocked steps in a row, or
    hundreds of collisions with the base sliding along a wall, each a cost (docs/training.md,
    "Blocked moves"). The expert re-plans after a refusal
    (:class:`safevla_eval.agents.ExpertAgent`); this is the policy's counterpart, fed by the
    motion feedback of each executed action (:data:`~safevla_core.actions.BUMP_FIELDS`:
    odometry and a bumper on a robot):

    * a motion that came back ``blocked`` or ``collided`` is not chosen again until the robot
      has moved cleanly in a way that changes it: a turn without contact clears every masked
      motion (a new heading); a step without contact clears all but the masked steps (backing
      off and driving on along the same heading meets the same wall: measured, a policy that
      always prefers move_ahead otherwise alternates push, blocked turn, back-off, push); an
      arm or wrist motion without contact clears the masked arm and wrist motions (the base did
      not move). Counting collisions, not only blocked motions, is what stops the sliding
      loops: on 100 unseen episodes a PPO policy's mean cost went 4.67 unguarded, 8.37 with
      blocked motions masked, 0.64 with collisions too (docs/training.md);
    * end, sub_done, pickup and dropoff are never masked, and a step with all the probability on
      masked motions keeps the unmasked distribution.

    Without feedback (``None``) nothing is learnt: the guard only removes options it saw fail.
    Call :meth:`executed` with each action the robot executed, and :meth:`choose` with the
    feedback that arrived after it.
    """

    def __init__(self) -> None:
        self.here: set[int] = set()
        self._last: int | None = None

    def reset(self) -> None:
        """A new episode: nothing masked, nothing executed."""
        self.here.clear()
        self._last = None

    def executed(self, action: int) -> None:
        """``action`` was executed; its feedback comes with the next :meth:`choose`."""
        self._last = int(action)

    def feedback(self, bump) -> None:
        """Apply the motion feedback (blocked, collided) of the last executed action (None: none
        arrived)."""
        last, self._last = self._last, None
        if last is None or bump is None or not ACTIONS[last].is_motion:
            return
        if np.any(np.asarray(bump, np.float64).reshape(-1)[:2] >= 0.5):
            self.here.add(last)
            return
        kind = ACTIONS[last].kind
        if kind is ActionKind.BASE_ROTATE:
            self.here.clear()
        elif kind is ActionKind.BASE_TRANSLATE:
            self.here = {a for a in self.here if ACTIONS[a].kind is ActionKind.BASE_TRANSLATE}
        else:  # the arm or wrist moved, the base stands where it stood
            self.here = {a for a in self.here if ACTIONS[a].moves_base}

    def masked(self, probs: np.ndarray) -> np.ndarray:
        """``probs`` with the masked motions at 0 (unchanged if that leaves nothing)."""
        p = np.asarray(probs, np.float64).copy()
        if not self.here:
            return p
        p[sorted(self.here)] = 0.0
        return p if p.sum() > 0 else np.asarray(probs, np.float64)

    def choose(
        self, probs: np.ndarray, bump, mode: str = GREEDY, rng: np.random.Generator | None = None
    ) -> int:
        """:func:`choose_action` over ``probs`` without the motions masked here, after applying
        ``bump``, the feedback of the last executed action."""
        self.feedback(bump)
        return choose_action(self.masked(probs), mode, rng)
