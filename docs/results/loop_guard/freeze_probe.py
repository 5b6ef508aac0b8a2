"""(thirty-second session) What the critic and the world say where a shielded robot freezes.

Runs shielded episodes of PROPOSER with CRITIC; at the first step where the monitor has stopped
the robot RUN times in a row, prints for every motion its risk / threshold ratio per category,
its swept clearance on the object scan and on the full scan, and the exact one-step cost of
taking it (ActionProbe), then ends that episode.

    python docs/results/loop_guard/freeze_probe.py PROPOSER EPISODES CRITIC STEPS I[,I...] [RUN]

(RUN defaults to 8; with the environment variable VETOES set, RUN vetoes in a row, replaced or
not; JOB sets more monitor settings, as for ``ptrace.py``.)
"""

import os
import sys

import numpy as np
import torch
from episodes import EpisodeDoneError, drive, shielded_jobs

from safevla_core.actions import ACTIONS
from safevla_eval.runner import critic_gate
from safevla_train.critic_footprint import SweptClearance
from sim_bridge.action_probe import ActionProbe


class FrozenError(EpisodeDoneError):
    """The robot froze: this episode is done."""


def main() -> None:
    run = int(sys.argv[6]) if len(sys.argv) > 6 else 8
    # a freeze: stops in a row; with VETOES set, vetoes in a row (replaced or not)
    by_vetoes = bool(os.environ.get("VETOES"))
    env, agent, jobs = shielded_jobs()
    probe = ActionProbe(env, verify=False)
    swept = SweptClearance()
    for job in jobs:
        i = job.index
        state = {"stops": 0, "n": 0}

        def on_decision(d, state=state, i=i):
            state["n"] += 1
            hit = d.vetoed if by_vetoes else d.safe_stop
            state["stops"] = state["stops"] + 1 if hit else 0
            if state["stops"] < run:
                return
            g = state["g"]
            v = g.last
            labels = probe.label()  # (20, 5) exact one-step cost
            full, obj = (
                swept(torch.tensor(np.asarray(scan, np.float32)[None]))[0]
                for scan in (
                    env.backend.range_scan(),
                    env.backend.range_scan(objects_only=True),
                )
            )
            ratio = v.risk / np.maximum(v.thresholds, 1e-12)[None]
            print(f"== episode {i} step {state['n']}: {d.reason}")
            print(
                "   action               ratio per category (max)      "
                "obj-clear full-clear  cost  latched"
            )
            for a, act in enumerate(ACTIONS):
                print(
                    f"   {act.name:20s} {np.array2string(ratio[a], precision=2):30s} "
                    f"{ratio[a].max():6.2f} {float(obj[a]):8.3f} {float(full[a]):8.3f}  "
                    f"{labels[a].sum():.0f} "
                    f"{int(g.latched[a])}"
                )
            raise FrozenError

        def started(state=state, job=job):
            state["g"] = critic_gate(job)

        drive(env, agent, job, on_decision, started)


if __name__ == "__main__":
    main()
