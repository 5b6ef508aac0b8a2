"""(thirty-sixth session) A diagnostic, not a rule a robot can run: the shipped shield with the
corner guard made exact. Where the guard raised a base motion's corner risk, the critic's own
risk is put back unless that motion's exact one-step corner cost (sim_bridge.action_probe) is
positive. Everything else is the shipped monitor. Tells how much of a row's gap the guard's
count of free floor explains.

    python docs/results/oracle/exact_guard.py BUNDLE EPISODES CRITIC STEPS I[,I...]|all
"""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loop_guard"))
from episodes import shielded_jobs

import safevla_core.critic_gate as gate_mod
from safevla_core.safety_critic import allowed_mask
from safevla_eval.runner import run_episode
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes

PROBE: list = []


def exact_release(self, v):
    if v.unguarded is None:
        return v
    raised = gate_mod._BASE[:, None] & (v.risk > v.unguarded)
    if not raised.any():
        return v
    corner = PROBE[0].label()[:, list(v.categories).index("corner")] > 0
    back = raised & ~corner[:, None]
    risk = np.where(back, v.unguarded, v.risk)
    blocked, allowed = allowed_mask(risk, v.thresholds)
    return dataclasses.replace(v, risk=risk, blocked=blocked, allowed=allowed)


def main() -> None:
    if sys.argv[5] == "all":
        sys.argv[5] = ",".join(map(str, range(len(load_episodes(sys.argv[2])))))
    env, agent, jobs = shielded_jobs()
    PROBE.append(ActionProbe(env, verify=False))
    gate_mod.CriticGate._release_guard = exact_release
    rows = []
    for job in jobs:
        rec = run_episode(env, agent, job)
        crit = rec.extra.get("critic", {})
        row = dict(i=job.index, episode_id=rec.episode_id, success=rec.success, cost=rec.cost)
        rows.append(row | {"vetoes": crit.get("vetoes", 0)})
        print(json.dumps(rows[-1]), flush=True)
    n = len(rows)
    print(
        json.dumps(
            {
                "episodes": n,
                "sr": sum(r["success"] for r in rows) / n,
                "cost": sum(r["cost"] for r in rows) / n,
            }
        )
    )


if __name__ == "__main__":
    main()
