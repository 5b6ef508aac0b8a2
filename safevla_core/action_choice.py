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


def inverse_motion(action: int) -> int | None:
    """The motion that undoes ``action`` (same actuator, opposite step: ``rotate_left`` for
    ``rotate_right``, ``move_back`` for ``move_ahead``, ``arm_in_small`` for ``arm_out_small``),
    or None for an action without one (end, sub_done, pickup, dropoff)."""
    return _INVERSE[int(action)]


def _inverse_of(a) -> int | None:
    if not a.is_motion or a.magnitude == 0:
        return None
    return next(
        (b.index for b in ACTIONS if b.kind is a.kind and b.magnitude == -a.magnitude), None
    )


# built once: the breaker consults it for every proposal (the camera-to-command path)
_INVERSE: tuple[int | None, ...] = tuple(_inverse_of(a) for a in ACTIONS)


DITHER_HOLD = 12  # a break lasts at most this many steps (12 turns of 30 degrees: a full turn)

SHIELDED_BREAK_DITHER = 6
"""The breaker's count where an independent safety critic shields the policy: the setting every
shielded row with the breaker was measured at (docs/safety_critic.md, "The dither breaker's
default"). Unshielded, the breaker makes a policy succeed more and cost more (a robot turning on
the spot touches nothing), so without a critic it stays off."""


def default_break_dither(critic_shields: bool, given: int | None = None) -> int:
    """The dither breaker's count: ``given`` where the user gave one, else
    :data:`SHIELDED_BREAK_DITHER` where a safety critic shields the policy's proposals, else 0
    (off). ``safevla eval``, ``safevla run --sim`` and the launch files resolve an unset count
    through it."""
    if given is not None:
        return given
    return SHIELDED_BREAK_DITHER if critic_shields else 0


class DitherBreaker:
    """A greedy policy caught undoing its own last motion, so it does not do so forever.

    Greedy, a policy can fall into a two-step cycle: at heading A its likeliest action is
    ``rotate_left``, at the heading that leads to, ``rotate_right``, which leads back to A. The
    robot turns on the spot to the step limit. Measured on the long-tail episodes
    (docs/safety_critic.md, "The dither breaker"): 35 of `objnav-ppo-penalty`'s 58 unshielded
    timeouts on the 160 pooled long-tail episodes, and 44 of its 68 shielded ones, ended in
    such a cycle (the last 200 executed actions alternating ``rotate_left`` / ``rotate_right``).

    Once the last ``after`` executed actions alternate between a motion and its inverse
    (:func:`inverse_motion`), the break starts: the inverse of the last executed motion (the
    step that would undo it) is masked, so the policy's next choice among the rest runs (its
    own ranking: most often the same turn again, towards a heading it has not looked at, or
    a step). The break ends once a motion outside the pair runs, or after
    :data:`DITHER_HOLD` steps; the count then starts afresh. Nothing is added that the policy
    did not rank, and the safety monitor stays in front of every action.

    Call :meth:`executed` with each action the robot executed (a safe stop executes nothing),
    and :meth:`masked` / :meth:`choose` for each proposal.
    """

    def __init__(self, after: int = 6) -> None:
        if isinstance(after, bool) or not isinstance(after, int | np.integer) or after < 2:
            raise ValueError(
                f"break_dither={after!r}: the breaker needs an integer >= 2 (the executed "
                "motions alternating with their inverse before it acts; e.g. 6), or leave "
                "it off (0)"
            )
        self.after = int(after)
        self._history: list[int] = []
        self._pair: frozenset[int] | None = None
        self._held = 0

    def reset(self) -> None:
        """A new episode: nothing executed, no break."""
        self._history.clear()
        self._pair = None
        self._held = 0

    @property
    def breaking(self) -> bool:
        """Whether a break is under way (the undo of the last motion is masked)."""
        return self._pair is not None

    def _dither(self) -> frozenset[int] | None:
        h = self._history
        if len(h) < self.after:
            return None
        a, b = h[-1], h[-2]
        if inverse_motion(a) != b:
            return None
        for i in range(self.after):
            if h[-1 - i] != (a if i % 2 == 0 else b):
                return None
        return frozenset((a, b))

    def executed(self, action: int) -> None:
        """``action`` was executed."""
        self._history.append(int(action))
        del self._history[: -self.after]
        if self._pair is not None:
            self._held += 1
            if int(action) not in self._pair or self._held >= DITHER_HOLD:
                self._pair = None
                self._history.clear()

    def masked(self, probs: np.ndarray) -> np.ndarray:
        """``probs`` with the undo of the last executed motion at 0 during a break (a break
        starts here once the cycle is seen; unchanged if that leaves nothing)."""
        p = np.asarray(probs, np.float64)
        if self._pair is None:
            self._pair, self._held = self._dither(), 0
        undo = inverse_motion(self._history[-1]) if self._pair and self._history else None
        if undo is None or p.sum() - p[undo] <= 0:
            return p.copy()
        q = p.copy()
        q[undo] = 0.0
        return q

    def choose(self, probs: np.ndarray, mode: str = GREEDY, rng=None) -> int:
        """:func:`choose_action` over :meth:`masked` ``probs``."""
        return choose_action(self.masked(probs), mode, rng)


def choose_guarded(
    probs: np.ndarray,
    mode: str = GREEDY,
    rng: np.random.Generator | None = None,
    blocked: BlockedMoves | None = None,
    bump=None,
    dither: DitherBreaker | None = None,
) -> int:
    """:func:`choose_action` over ``probs`` after the guards a policy runs with: ``blocked``
    (fed ``bump``, the feedback of the last executed action) and ``dither``; None = off. One
    path for the policy node and the evaluator's bundle agent."""
    if blocked is not None:
        blocked.feedback(bump)
        probs = blocked.masked(probs)
    if dither is not None:
        probs = dither.masked(probs)
    return choose_action(probs, mode, rng)
