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
