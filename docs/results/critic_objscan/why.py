"""(twenty-seventh session) Why the shielded careless expert stands: replay one shielded
episode and print, for its first 8 vetoed proposals, the proposal, its swept clearance in the
object scan as cast now (53 heights) and as cast before (8 heights), the critic's risk, and
the heights at which the object scan alone would put the motion into something.

    python docs/results/critic_objscan/why.py EPISODES EPISODE_ID CRITIC STEPS
"""

import sys

import numpy as np
import torch

import sim_bridge.mujoco.backend as B
from safevla_core.actions import ACTION_NAMES
from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, critic_gate, episode_steps, make_env
from safevla_train.critic_footprint import SweptClearance
from sim_bridge.episodes import load_episodes

DENSE = B.SCAN_HEIGHTS_M
SPARSE = (0.012, 0.06, 0.15, 0.3, 0.5, 0.75, 1.0, 1.3)
ep_file, eid, critic, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
spec = parse_policy("expert:careless")
size, manip = render_settings(spec)
env = make_env(steps, size, manip)
agent = make_agent(spec)
eps = load_episodes(ep_file)
i = [e.episode_id for e in eps].index(eid)
job = Job(spec, eps[i], i, True, (), steps, critic=critic, nav_hw=size)
sw = SweptClearance()
st = {}
n = [0]


def heights_hit(a):
    # per height, the swept clearance of action a in the object scan at that height alone
    out = []
    for h in DENSE:
        B.SCAN_HEIGHTS_M = (h,)
        _, obj = env.backend.range_scans()
        out.append(float(sw(torch.tensor(obj)[None])[0, a]))
    B.SCAN_HEIGHTS_M = DENSE
    return [round(h, 3) for h, c in zip(DENSE, out) if c <= 0.005]


def on_decision(d):
    v = st["g"].last
    if v is None or not d.critic_outcome or n[0] >= 8:
        return
    n[0] += 1
    a = int(st["p"])
    _, obj = env.backend.range_scans()
    B.SCAN_HEIGHTS_M = SPARSE
    _, obj_s = env.backend.range_scans()
    B.SCAN_HEIGHTS_M = DENSE
    cd = float(sw(torch.tensor(obj)[None])[0, a])
    cs = float(sw(torch.tensor(obj_s)[None])[0, a])
    print(
        env.steps,
        ACTION_NAMES[a],
        "clear dense",
        round(cd, 3),
        "sparse",
        round(cs, 3),
        "risk",
        np.round(v.risk[a], 3),
        "hit heights",
        heights_hit(a),
    )


gen = episode_steps(env, agent, job, on_decision)
try:
    obs = next(gen)
    st["g"] = critic_gate(job)
    while True:
        p = agent.propose(obs, env)
        st["p"] = p.action
        obs = gen.send(p)
except StopIteration as done:
    print("success", done.value.success, "cost", done.value.cost)
