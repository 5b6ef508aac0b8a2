"""Which proposals the shield stops on PickUp: the careless expert, bump32-a3 (run.sh), the
first N episodes of pickup_unseen_s20261203, 300 steps; prints each episode, then the vetoed
actions, the categories behind the vetoes and the critic's outcomes. From the repository root:

    MUJOCO_GL=egl .venv/bin/python docs/results/critic_bump/pickup_vetoes.py 12
"""

import collections
import sys

from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env, run_episode
from sim_bridge.episodes import load_episodes

n = int(sys.argv[1])
eps = load_episodes("sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz")[:n]
spec = parse_policy("expert:careless")
hw, manip = render_settings(spec)
env = make_env(300, hw, manip)
tally = collections.Counter()
cats = collections.Counter()
kinds = collections.Counter()


def on(d):
    if d.critic_outcome:
        r = d.reason.removeprefix("safety critic: ")
        act = r.split(" ")[0]
        tally[act] += 1
        cats[d.category] += 1
        kinds[d.critic_outcome] += 1


for i, ep in enumerate(eps):
    agent = make_agent(spec)
    job = Job(
        spec,
        ep,
        i,
        shield=True,
        max_steps=300,
        critic="runs/critic/bump32-a3/bundle",
        nav_hw=hw,
        manip=manip,
    )
    rec = run_episode(env, agent, job, on)
    print(ep.episode_id, rec.success, rec.cost, rec.length, rec.stops, flush=True)
print(tally.most_common(12))
print(cats.most_common())
print(kinds)
