"""(thirty-second session) What the critic and the world say where a shielded robot freezes.

Runs shielded episodes of PROPOSER with CRITIC; at the first step where the monitor has stopped
the robot RUN times in a row, prints for every motion its risk / threshold ratio per category,
its swept clearance on the object scan and on the full scan, and the exact one-step cost of
taking it (ActionProbe), then ends that episode.

    python docs/results/freeze/freeze_probe.py PROPOSER CRITIC EPISODES STEPS RUN I[,I...]
"""

import sys

import numpy as np
import torch

from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, critic_gate, episode_steps, make_env
from safevla_train.critic_footprint import SweptClearance
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes


class FrozenError(Exception):
    """The robot froze: this episode is done."""


def main() -> None:
    proposer, critic, ep_file, steps, run = sys.argv[1:6]
    steps, run = int(steps), int(run)
    spec = parse_policy(proposer)
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    agent = make_agent(spec)
    probe = ActionProbe(env, verify=False)
    swept = SweptClearance()
    eps = load_episodes(ep_file)
    for i in (int(x) for x in sys.argv[6].split(",")):
        job = Job(spec, eps[i], i, True, (), steps, critic=critic, nav_hw=size)
        state = {"stops": 0, "n": 0}

        def on_decision(d, state=state, i=i):
            state["n"] += 1
            state["stops"] = state["stops"] + 1 if d.safe_stop else 0
            if state["stops"] < run:
                return
            g = state["g"]
            v = g.last
            labels = probe.label()  # (20, 5) exact one-step cost
            full = swept(torch.tensor(np.asarray(env.backend.range_scan(), np.float32)[None]))
            objs = env.backend.range_scan(objects_only=True)
            obj = swept(torch.tensor(np.asarray(objs, np.float32)[None]))
            ratio = v.risk / np.maximum(v.thresholds, 1e-12)[None]
            print(f"== episode {i} step {state['n']}: {d.reason}")
            print(
                "   action               ratio per category (max)      "
                "obj-clear full-clear  cost  latched"
            )
            for a, act in enumerate(ACTIONS):
                if a >= full.shape[1]:
                    oc = fc = float("nan")
                else:
                    oc, fc = float(obj[0, a]), float(full[0, a])
                print(
                    f"   {act.name:20s} {np.array2string(ratio[a], precision=2):30s} "
                    f"{ratio[a].max():6.2f} {oc:8.3f} {fc:8.3f}  {labels[a].sum():.0f} "
                    f"{int(g.latched[a])}"
                )
            raise FrozenError

        gen = episode_steps(env, agent, job, on_decision)
        try:
            obs = next(gen)
            state["g"] = critic_gate(job)
            while True:
                obs = gen.send(agent.propose(obs, env))
        except (StopIteration, FrozenError):
            pass


if __name__ == "__main__":
    main()
