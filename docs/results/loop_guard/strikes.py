"""(thirty-first session) Why the shield passed the motions that struck: replays shielded
episodes of a policy bundle and, for every executed motion that collided, prints the step, the
proposal and what ran, whether the critic replaced it, the cost, and the motion's swept clearance
(`safevla_train.critic_footprint.SweptClearance`, the critic graph's own layer) on the scan and
on the object scan of the state it started from, with the nearest object-scan return.

    python docs/results/loop_guard/strikes.py BUNDLE EPISODES CRITIC STEPS I[,I...]
"""

import numpy as np
import torch
from episodes import for_each_job, run_watched

from safevla_core.actions import ACTIONS
from safevla_train.critic_footprint import SweptClearance

SWEPT = SweptClearance()


def clearance(ranges) -> np.ndarray:
    with torch.no_grad():
        return SWEPT(torch.as_tensor(np.asarray(ranges, np.float32))[None])[0].numpy()


def strikes(env, agent, job) -> None:
    rows, steps = [], [0]

    def watch(a, step):
        scan, objects = env.backend.range_scans()
        out = step(a)
        if out[5]["collided"]:  # the monitor decided every step: decision t is step t's
            rows.append((steps[0], a, float(out[2]), scan, objects))
        steps[0] += 1
        return out

    rec, decisions = run_watched(env, agent, job, watch)
    print(f"== {job.index} {rec.episode_id} success {rec.success} cost {rec.cost}")
    for t, a, cost, scan, objects in rows:
        d = decisions[t]
        name = ACTIONS[a].name
        how = "replacing " + ACTIONS[d.proposed_action].name if d.critic_outcome else "proposed"
        c_all, c_obj = clearance(scan)[a], clearance(objects)[a]
        near = float(np.min(objects))
        print(
            f"  step {t:3d} {name:18s} {how:28s} cost {cost:.0f} clearance: scan {c_all:.3f} m,"
            f" objects {c_obj:.3f} m (nearest object return {near:.3f} m)"
        )


if __name__ == "__main__":
    for_each_job(strikes)
