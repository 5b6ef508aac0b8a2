"""Where a proposer's cost arises: at the onset of a contact, or while the robot is already in one.

For every step of every episode: the step's cost per category, whether the previous action
collided or was blocked (``obs["bump"]`` before the step), and, with PROBE=1, the exact
one-step cost of every action from that state (``ActionProbe``): is the proposed action the only
costly choice (an avoidable cost), or does every motion cost there?

    .venv/bin/python docs/results/shield_contact/onset.py expert:careless \\
        sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz 40 300
"""

import collections
import json
import os
import sys

import numpy as np
from common import MOVES, open_run


def main() -> None:
    bundle, n, max_steps, eps, env, agent, probe = open_run()
    if os.environ.get("PROBE", "1") != "1":
        probe = None
    t = collections.Counter()
    for ep in eps:
        obs, _ = env.reset(options={"episode": ep})
        agent.reset(0)
        done = False
        while not done:
            contact = bool(np.asarray(obs["bump"]).any())
            a = agent.propose(obs, env).action
            key = "contact" if contact else "free"
            t[f"{key}_steps"] += 1
            if probe is not None and MOVES[a]:
                lab = probe.label().sum(1)
                moving_free = int((lab[MOVES] == 0).sum())
                if lab[a] > 0:
                    t[f"{key}_proposed_costly"] += 1
                    t[f"{key}_proposed_costly_free_moves"] += moving_free
                    if moving_free == 0:
                        t[f"{key}_proposed_costly_no_free_move"] += 1
                t[f"{key}_costly_moves"] += int((lab[MOVES] > 0).sum())
            agent.record(a)
            obs, _, c, term, trunc, info = env.step(a)
            t[f"{key}_cost"] += float(c)
            t[f"{key}_cost_steps"] += int(c > 0)
            done = term or trunc
        t["episodes"] += 1
        t["success"] += int(info["success"])
        print(ep.episode_id, f"episodes {t['episodes']}/{n}", dict(t), file=sys.stderr, flush=True)
    print(json.dumps({"bundle": bundle, "episodes": n, "max_steps": max_steps, **t}, indent=1))


if __name__ == "__main__":
    main()
