"""(thirty-sixth session) The shield with a perfect one-step critic: how much of a policy's
success a shield that vetoes only what truly costs keeps.

Each proposal is tried from a snapshot of the simulator (sim_bridge.action_probe: the same
physics and cost model as the step, then restored); it runs when its exact one-step cost is 0.
Otherwise it is vetoed: the replacement is drawn with probability proportional to the policy's
p(a) among the moving actions whose exact cost is 0 (a per-episode seeded generator), else a
stop (``sub_done``: no physics). No other rule of the monitor applies (no latch, contact guard,
detour, escape). Prints one line per episode and the row's success / cost / vetoes beside the
unshielded run of the same code on the same episodes.

    python docs/results/oracle/oracle.py BUNDLE EPISODES STEPS OUT.json [I,J,...] [--no-plain]

(``--no-plain``: the oracle run only; `table.py` takes the unshielded run from the stored
files `docs/results/loop_guard/compare.py` names, which the plain runs reproduced record for
record where both were run.)
"""

import json
import sys

import numpy as np

from safevla_core.actions import ACTIONS, NUM_ACTIONS, SUB_DONE
from safevla_eval.agents import Proposed, make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env, run_episode
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes

MOVES = np.array([a.moves_robot for a in ACTIONS])


class OracleShield:
    """Wraps an agent: a proposal whose exact one-step cost is > 0 is replaced (see above)."""

    def __init__(self, agent, env) -> None:
        self.agent, self.env = agent, env
        self.probe = ActionProbe(env, verify=False)
        self.vetoes = self.stops = 0

    def reset(self, seed: int) -> None:
        self.agent.reset(seed)
        self.rng = np.random.default_rng([seed, 99])

    def record(self, action: int) -> None:
        self.agent.record(action)

    def cost_of(self, a: int) -> float:
        snap = self.probe.snapshot()
        try:
            _, sc = self.env.advance(a)
        finally:
            self.probe.restore(snap)
        return float(sum(sc.by_category.values()))

    def propose(self, obs, env) -> Proposed:
        p = self.agent.propose(obs, env)
        if not MOVES[p.action] or self.cost_of(p.action) == 0.0:
            return p
        self.vetoes += 1
        free = (self.probe.label().sum(1) == 0) & MOVES
        w = np.where(free, np.asarray(p.probs, np.float64), 0.0)
        if w.sum() > 0:
            a = int(self.rng.choice(NUM_ACTIONS, p=w / w.sum()))
        elif free.any():
            a = int(self.rng.choice(np.flatnonzero(free)))
        else:
            self.stops += 1
            a = SUB_DONE
        return Proposed(a, p.probs, p.cost_q, p.categories)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--no-plain"]
    with_plain = len(args) == len(sys.argv) - 1
    bundle, ep_file, steps, out = args[0], args[1], int(args[2]), args[3]
    eps = load_episodes(ep_file)
    idx = [int(x) for x in args[4].split(",")] if len(args) > 4 else range(len(eps))
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    rows = []
    for i in idx:
        plain = None
        if with_plain:
            job = Job(spec, eps[i], i, False, (), steps, nav_hw=size)
            plain = run_episode(env, make_agent(spec), job)
        shield = OracleShield(make_agent(spec), env)
        rec = run_episode(env, shield, Job(spec, eps[i], i, False, (), steps, nav_hw=size))
        row = dict(
            i=i,
            episode_id=rec.episode_id,
            plain_success=None if plain is None else plain.success,
            plain_cost=None if plain is None else plain.cost,
            success=rec.success,
            cost=rec.cost,
            length=rec.length,
            vetoes=shield.vetoes,
            stops=shield.stops,
        )
        rows.append(row)
        print(json.dumps(row), flush=True)
    n = len(rows)
    summary = {
        "episodes": n,
        "plain_sr": sum(r["plain_success"] for r in rows) / n if with_plain else None,
        "plain_cost": sum(r["plain_cost"] for r in rows) / n if with_plain else None,
        "oracle_sr": sum(r["success"] for r in rows) / n,
        "oracle_cost": sum(r["cost"] for r in rows) / n,
        "episodes_vetoed": sum(r["vetoes"] > 0 for r in rows),
    }
    print(json.dumps(summary))
    with open(out, "w") as f:
        json.dump(
            {
                "bundle": bundle,
                "episodes": ep_file,
                "steps": steps,
                "summary": summary,
                "rows": rows,
            },
            f,
            indent=1,
        )


if __name__ == "__main__":
    main()
