"""(twenty-sixth session) Which of a shielded run's vetoes were right: the shielded evaluation
of `safevla eval --shield on --critic CRITIC`, with every judged state probed for the exact
one-step cost of all 20 actions (ActionProbe) and each motion's swept clearance
(safevla_train.critic_footprint) recorded beside the critic's risk.

    python docs/results/critic_audit/audit.py PROPOSER CRITIC EPISODES N STEPS OUT.npz

OUT.npz: per judged step, the proposal, what ran, whether the critic vetoed or stopped, the
(20,) labels (any category), risk / threshold ratio and clearance; per episode, success/cost.
"""

import sys

import numpy as np
import torch

from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, critic_gate, episode_steps, make_env
from safevla_train.critic_footprint import SweptClearance
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes


def main() -> None:
    proposer, critic, ep_file = sys.argv[1], sys.argv[2], sys.argv[3]
    n, steps, out = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    spec = parse_policy(proposer)
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    agent = make_agent(spec)
    probe = ActionProbe(env, verify=False)
    swept = SweptClearance()
    rows, eps = [], []
    for i, ep in enumerate(load_episodes(ep_file)[:n]):
        job = Job(spec, ep, i, True, (), steps, critic=critic, nav_hw=size)
        gate = {}

        def on_decision(d, gate=gate, i=i):
            g = gate["g"]
            v = g.last
            lab = probe.label().sum(1) > 0 if v is not None else None
            if v is None:
                return
            scan = torch.tensor(np.asarray(env.backend.range_scan(), np.float32)[None])
            clear = swept(scan).numpy()[0]
            ratio = (v.risk / np.maximum(v.thresholds, 1e-12)[None]).max(1)
            rows.append(
                dict(
                    ep=i,
                    proposed=-1,  # filled in below, once the proposal is known
                    executed=-1 if d.executed_action is None else int(d.executed_action),
                    vetoed=bool(d.critic_outcome),
                    stop=bool(d.safe_stop),
                    label=lab,
                    ratio=ratio,
                    clear=clear,
                )
            )

        gen = episode_steps(env, agent, job, on_decision)
        try:
            obs = next(gen)
            gate["g"] = critic_gate(job)
            while True:
                p = agent.propose(obs, env)
                rows_before = len(rows)
                obs = gen.send(p)
                if len(rows) > rows_before:
                    rows[-1]["proposed"] = int(p.action)
        except StopIteration as done:
            r = done.value
            eps.append((r.success, r.cost))
            print(ep.episode_id, r.success, r.cost, file=sys.stderr, flush=True)
    np.savez_compressed(
        out,
        ep=np.array([r["ep"] for r in rows]),
        proposed=np.array([r["proposed"] for r in rows]),
        executed=np.array([r["executed"] for r in rows]),
        vetoed=np.array([r["vetoed"] for r in rows]),
        stop=np.array([r["stop"] for r in rows]),
        label=np.array([r["label"] for r in rows]),
        ratio=np.array([r["ratio"] for r in rows]),
        clear=np.array([r["clear"] for r in rows]),
        success=np.array([e[0] for e in eps]),
        cost=np.array([e[1] for e in eps]),
    )


if __name__ == "__main__":
    main()
