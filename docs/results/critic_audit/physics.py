"""(twenty-sixth session) What the base motions a shielded run's states offer would do: for
every judged state of the shielded run (as audit.py), each base motion is executed from a
snapshot and its outcome recorded (struck, what it struck, the corner predicate's free count,
the cost per category), beside the swept clearance and the scan.

    python docs/results/critic_audit/physics.py PROPOSER CRITIC EPISODES N STEPS OUT.npz
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

BASE = [i for i, a in enumerate(ACTIONS) if a.kind.name.startswith("BASE_")]


def main() -> None:
    proposer, critic, ep_file = sys.argv[1], sys.argv[2], sys.argv[3]
    n, steps, out = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    spec = parse_policy(proposer)
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    agent = make_agent(spec)
    probe = ActionProbe(env, verify=False)
    swept = SweptClearance()
    rec = {
        k: []
        for k in (
            "ep",
            "scan",
            "clear",
            "ratio",
            "struck",
            "walls",
            "free",
            "cost",
            "proposed",
            "vetoed",
        )
    }
    for i, ep in enumerate(load_episodes(ep_file)[:n]):
        job = Job(spec, ep, i, True, (), steps, critic=critic, nav_hw=size)
        st = {}

        def on_decision(d, st=st, i=i):
            v = st["g"].last
            if v is None:
                return
            scan = np.asarray(env.backend.range_scan(), np.float32)
            snap = probe.snapshot()
            ids = {x.object_id for x in env.backend.objects()}
            struck, walls, free, cost = [], [], [], []
            for a in BASE:
                o, sc = env.advance(a)
                struck.append(bool(o.struck))
                walls.append(bool(o.struck) and not set(o.struck_with) & ids)
                free.append(-1 if sc.free_count is None else sc.free_count)
                cost.append([sc.by_category[c] for c in sc.by_category])
                probe.restore(snap)
            rec["ep"].append(i)
            rec["scan"].append(scan)
            rec["clear"].append(swept(torch.tensor(scan[None])).numpy()[0][BASE])
            rec["ratio"].append((v.risk / np.maximum(v.thresholds, 1e-12)[None]).max(1)[BASE])
            rec["struck"].append(struck)
            rec["walls"].append(walls)
            rec["free"].append(free)
            rec["cost"].append(cost)
            rec["vetoed"].append(bool(d.critic_outcome))

        gen = episode_steps(env, agent, job, on_decision)
        try:
            obs = next(gen)
            st["g"] = critic_gate(job)
            while True:
                p = agent.propose(obs, env)
                k = len(rec["ep"])
                obs = gen.send(p)
                if len(rec["ep"]) > k:
                    rec["proposed"].append(int(p.action))
        except StopIteration as done:
            r = done.value
            print(ep.episode_id, r.success, r.cost, file=sys.stderr, flush=True)
    np.savez_compressed(out, **{k: np.array(v) for k, v in rec.items()})


if __name__ == "__main__":
    main()
