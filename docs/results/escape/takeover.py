"""A bundle, with the teacher taking over while the robot is in contact (upper bound of a
learner that copies the teacher's labels there)."""

import sys

import numpy as np

from safevla_eval.agents import make_agent, parse_policy, render_settings
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episodes import load_episodes
from sim_bridge.expert import Expert

bundle, episode_file, sel = sys.argv[1], sys.argv[2], sys.argv[3]
modes = sys.argv[4].split(",")  # none, explorer-reactive, explorer-reactive+escape
spec = parse_policy(bundle)
size, manip = render_settings(spec)
eps = load_episodes(episode_file)
eps = [e for e in eps if e.episode_id in sel.split(",")] if "_" in sel else eps[: int(sel)]
env = make_env(eps, EnvConfig(backend="mujoco", max_steps=600, nav_size=size, render_manip=manip))
agent = make_agent(spec)
for mode in modes:
    costs, succ, took = [], [], 0
    for ep in eps:
        obs, _ = env.reset(options={"episode": ep})
        agent.reset(0)
        teacher = None if mode == "none" else Expert(mode)
        done, total = False, 0.0
        while not done:
            label = teacher.act(env) if teacher else None
            a = agent.propose(obs, env).action
            if teacher is not None and env._bump.any():
                a = label
                took += 1
            agent.record(a)
            obs, _, c, term, trunc, info = env.step(a)
            total += c
            done = term or trunc
        costs.append(total)
        succ.append(info["success"])
    print(
        f"{mode:28s} n {len(eps)} SR {np.mean(succ):.2f} cost {np.mean(costs):.2f} "
        f"max {max(costs):.0f} takeover steps {took} costs {costs if len(eps) < 6 else ''}",
        flush=True,
    )
