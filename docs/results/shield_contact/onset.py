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

from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from sim_bridge.action_probe import ActionProbe
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episodes import load_episodes

MOVING = [i for i, a in enumerate(ACTIONS) if a.name not in ("end", "sub_done")]


def main() -> None:
    bundle, episode_file = sys.argv[1], sys.argv[2]
    n, max_steps = int(sys.argv[3]), int(sys.argv[4])
    probe_on = os.environ.get("PROBE", "1") == "1"
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    eps = load_episodes(episode_file)[:n]
    env = make_env(
        eps, EnvConfig(backend="mujoco", max_steps=max_steps, nav_size=size, render_manip=manip)
    )
    agent = make_agent(spec)
    probe = ActionProbe(env, verify=False) if probe_on else None
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
            if probe is not None and ACTIONS[a].name not in ("end", "sub_done"):
                lab = probe.label().sum(1)
                moving_free = int((lab[MOVING] == 0).sum())
                if lab[a] > 0:
                    t[f"{key}_proposed_costly"] += 1
                    t[f"{key}_proposed_costly_free_moves"] += moving_free
                    if moving_free == 0:
                        t[f"{key}_proposed_costly_no_free_move"] += 1
                t[f"{key}_costly_moves"] += int((lab[MOVING] > 0).sum())
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
