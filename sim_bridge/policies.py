"""The built-in (non-learned) policies, by name: one spelling for every tool.

* ``expert:<mode>``: the privileged planner of :mod:`sim_bridge.expert` in one of its
  :data:`~sim_bridge.expert.MODES` (``expert:careful``, ``expert:careless``, ...);
* ``random``: uniform over the actions, seeded.

``safevla eval --bundle``, ``safevla sim expert`` and ``safevla sim render --policy`` read these
names; a model bundle is named by its folder instead (see :mod:`safevla_eval.agents`).
``sim render --policy`` used to spell the experts ``expert-careful``; :func:`canonical_policy`
still accepts that spelling so old command lines keep working.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from safevla_core.actions import NUM_ACTIONS
from sim_bridge.expert_modes import MODES

EXPERT_PREFIX = "expert:"
RANDOM = "random"
_LEGACY_EXPERT_PREFIX = "expert-"  # the old `sim render --policy` spelling


def builtin_policies() -> tuple[str, ...]:
    """Every built-in policy name: ``expert:<mode>`` per expert mode, then ``random``."""
    return (*(f"{EXPERT_PREFIX}{m}" for m in MODES), RANDOM)


def canonical_policy(name: str) -> str:
    """``name`` in the one spelling (``expert-careful`` -> ``expert:careful``).

    Raises:
        ValueError: not a built-in policy, naming the value and the valid names.
    """
    if name.startswith(_LEGACY_EXPERT_PREFIX):
        name = EXPERT_PREFIX + name[len(_LEGACY_EXPERT_PREFIX) :]
    if name not in builtin_policies():
        raise ValueError(f"unknown policy {name!r}; use one of {', '.join(builtin_policies())}")
    return name


def expert_mode(name: str) -> str | None:
    """The expert mode of a built-in policy name, None for ``random``."""
    name = canonical_policy(name)
    return name[len(EXPERT_PREFIX) :] if name.startswith(EXPERT_PREFIX) else None


def make_policy(name: str, seed: int = 0) -> Callable:
    """A ``(env, obs) -> action`` callable for a built-in policy (a fresh expert or a random
    generator seeded ``seed``)."""
    mode = expert_mode(name)
    if mode is not None:
        from sim_bridge.expert import Expert

        expert = Expert(mode)
        return lambda env, obs: expert.act(env)
    rng = np.random.default_rng(seed)
    return lambda env, obs: int(rng.integers(NUM_ACTIONS))
