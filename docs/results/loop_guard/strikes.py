"""(thirty-first session) Why the shield passed the motions that struck: replays shielded
episodes of a policy bundle and, for every executed motion that collided, prints the step, the
proposal and what ran, whether the critic replaced it, the cost, and the motion's swept clearance
(`safevla_train.critic_footprint.SweptClearance`, the critic graph's own layer) on the scan and
on the object scan of the state it started from, with the nearest object-scan return.

    python docs/results/loop_guard/strikes.py BUNDLE EPISODES CRITIC STEPS I[,I...]
"""

import sys

import numpy as np
import torch

from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env, run_episode
from safevla_train.critic_footprint import SweptClearance
from sim_bridge.episodes import load_episodes

SWEPT = SweptClearance()


def clearance(ranges) -> np.ndarray:
    with torch.no_grad():
        return SWEPT(torch.as_tensor(np.asarray(ranges, np.float32))[None])[0].numpy()


def strikes(env, agent, job) -> None:
    decisions, rows = [], []
    inner = env.step

    def step(a):
        scan, objects = env.backend.range_scans()
        out = inner(a)
        info = out[5]
        if info["collided"]:
            rows.append((len(decisions) - 1, a, float(out[2]), scan, objects))
        return out

    env.step = step
    try:
        rec = run_episode(env, agent, job, decisions.append)
    finally:
        env.step = inner
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


def main() -> None:
    bundle, episodes, critic, steps = sys.argv[1:5]
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    env = make_env(int(steps), size, manip)
    agent = make_agent(spec)
    eps = load_episodes(episodes)
    for i in (int(x) for x in sys.argv[5].split(",")):
        strikes(env, agent, Job(spec, eps[i], i, True, (), int(steps), critic=critic, nav_hw=size))


if __name__ == "__main__":
    main()
