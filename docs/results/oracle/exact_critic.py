"""(thirty-sixth session) A diagnostic, not a rule a robot can run: the shipped monitor with a
perfect one-step critic. Every critic step's risks are replaced by the exact one-step labels of
all 20 actions in the state the monitor judges (sim_bridge.action_probe: 1 where the action
would cost in that category, else 0; the guard's view the same), so every rule of the monitor
(latch, contact guard, detour, escape, back-off, replacement margin) runs as shipped on exact
risks. Against `oracle.py` (exact risks, no rules) it separates what the critic's precision
costs from what the monitor's rules cost.

    python docs/results/oracle/exact_critic.py BUNDLE EPISODES CRITIC STEPS OUT.json [I,J|all]
"""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loop_guard"))
from episodes import shielded_jobs

import safevla_core.safety_critic as critic_mod
from safevla_eval.runner import run_episode
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes

PROBE: list = []
_step = critic_mod.SafetyCritic.step


def exact_step(self, *args, **kwargs):
    v = _step(self, *args, **kwargs)  # keeps the critic's history as shipped
    risk = (PROBE[0].label() > 0).astype(np.float32)
    blocked, allowed = critic_mod.allowed_mask(risk, v.thresholds)
    return dataclasses.replace(
        v, risk=risk, unguarded=risk.copy(), blocked=blocked, allowed=allowed
    )


def main() -> None:
    out = sys.argv.pop(5)
    if len(sys.argv) < 6 or sys.argv[5] == "all":
        sys.argv[5:] = [",".join(map(str, range(len(load_episodes(sys.argv[2])))))]
    env, agent, jobs = shielded_jobs()
    PROBE.append(ActionProbe(env, verify=False))
    critic_mod.SafetyCritic.step = exact_step
    rows = []
    for job in jobs:
        reasons = []

        def note(d, reasons=reasons):
            if d.critic_outcome:
                reasons.append(d.reason[14:80])

        rec = run_episode(env, agent, job, note)
        crit = rec.extra.get("critic", {})
        rows.append(
            dict(
                i=job.index,
                episode_id=rec.episode_id,
                success=rec.success,
                cost=rec.cost,
                length=rec.length,
                vetoes=crit.get("vetoes", 0),
                stops=crit.get("stops", 0),
                reasons=reasons,
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    n = len(rows)
    summary = {
        "episodes": n,
        "sr": sum(r["success"] for r in rows) / n,
        "cost": sum(r["cost"] for r in rows) / n,
    }
    print(json.dumps(summary))
    Path(out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
