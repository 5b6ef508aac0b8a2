"""(forty-sixth session) Shielded or unshielded episodes of a policy bundle with the dither
breaker, each record with the executed actions and the proposals the breaker changed.

    PYTHONPATH=. python docs/results/dither_breaker/breaker.py BUNDLE EPISODES CRITIC STEPS \
        I[,I...] SHIELD(0|1) AFTER HOLD OUT

The rule is `safevla_core.action_choice.DitherBreaker` (AFTER = `--break-dither`, HOLD =
`DITHER_HOLD`, 12), written here as a wrapper around the episode agent before the class
existed, with the same arithmetic; `verify.md` compares `safevla eval --break-dither 6` with
its records.
"""

import collections
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loop_guard"))
SHIELD, AFTER, HOLD, OUT = sys.argv[6] == "1", int(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
sys.argv = sys.argv[:6]
from episodes import run_watched, shielded_jobs  # noqa: E402

from safevla_core.action_choice import choose_action, inverse_motion  # noqa: E402


class Breaker:
    """The episode agent, its greedy proposal changed when it would undo a dither's last
    motion (`DitherBreaker`'s rule)."""

    def __init__(self, inner) -> None:
        self.inner, self.image = inner, inner.image
        self.hist = collections.deque(maxlen=max(AFTER, 2))
        self.pair, self.held, self.forced = None, 0, 0

    def reset(self, seed: int) -> None:
        self.inner.reset(seed)
        self.hist.clear()
        self.pair, self.held = None, 0

    def dither(self):
        h = list(self.hist)
        if len(h) < AFTER or inverse_motion(h[-1]) != h[-2]:
            return None
        a, b = h[-1], h[-2]
        if all(h[-1 - i] == (a if i % 2 == 0 else b) for i in range(AFTER)):
            return {a, b}
        return None

    def propose(self, obs, env):
        p = self.inner.propose(obs, env)
        if self.pair is None:
            self.pair, self.held = self.dither(), 0
        if self.pair is not None and self.hist:
            undo = inverse_motion(self.hist[-1])
            if undo is not None and p.action == undo:
                q = np.asarray(p.probs, np.float64).copy()
                q[undo] = 0
                if q.sum() > 0:
                    self.forced += 1
                    return dataclasses.replace(p, action=choose_action(q, "greedy"))
        return p

    def record(self, action: int) -> None:
        self.inner.record(action)
        self.hist.append(int(action))
        if self.pair is not None:
            self.held += 1
            if int(action) not in self.pair or self.held >= HOLD:
                self.pair = None
                self.hist.clear()


def main() -> None:
    env, agent, jobs = shielded_jobs()
    agent = Breaker(agent)
    with open(OUT, "w") as f:
        for job in jobs:
            job = dataclasses.replace(job, shield=SHIELD)
            agent.forced, executed = 0, []

            def watch(a, step, executed=executed):
                executed.append(int(a))
                return step(a)

            rec, _ = run_watched(env, agent, job, watch)
            d = rec.to_dict() | {"executed": executed, "forced": agent.forced}
            f.write(json.dumps(d) + "\n")
            f.flush()


if __name__ == "__main__":
    main()
