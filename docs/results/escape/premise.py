"""At the states after a blocked motion in chosen episodes of a bundle: the teacher's label,
what it costs, and which actions are free (MODE=explorer-reactive+escape for the escape teacher).

    MODE=explorer-reactive .venv/bin/python docs/results/escape/premise.py models/objnav-ppo-lag \\
        sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz \\
        objnav_s20261201_0036,objnav_s20261201_0096,objnav_s20261201_0070
"""

import collections
import os
import sys

import numpy as np

from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from sim_bridge.action_probe import ActionProbe
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episodes import load_episodes
from sim_bridge.expert import Expert

bundle, episode_file, ids = sys.argv[1], sys.argv[2], sys.argv[3].split(",")

MODE = os.environ.get("MODE", "explorer-reactive")
spec = parse_policy(bundle)
size, manip = render_settings(spec)
eps = [e for e in load_episodes(episode_file) if e.episode_id in ids]
env = make_env(eps, EnvConfig(backend="mujoco", max_steps=600, nav_size=size, render_manip=manip))
agent = make_agent(spec)
probe = ActionProbe(env, verify=False)
tally = collections.Counter()
for ep in eps:
    obs, _ = env.reset(options={"episode": ep})
    agent.reset(0)
    teacher = Expert(MODE)
    done, blocked_prev, total = False, False, 0.0
    while not done:
        label = teacher.act(env)
        a = agent.propose(obs, env).action
        if blocked_prev:
            lab = probe.label().sum(1)
            tally["pinned"] += 1
            tally["policy_costly"] += int(lab[a] > 0)
            tally["label_costly"] += int(lab[label] > 0)
            tally["label_eq_policy"] += int(label == a)
            tally["label_" + ACTIONS[label].name] += 1
            tally["any_free"] += int((lab == 0).any())
            for k in np.flatnonzero(lab == 0):
                tally["free_" + ACTIONS[k].name] += 1
        agent.record(a)
        obs, _, c, term, trunc, info = env.step(a)
        total += c
        blocked_prev = not info["action_succeeded"] and ACTIONS[a].name != "end"
        done = term or trunc
    print(ep.episode_id, "cost", total, "success", info["success"], dict(tally), flush=True)
