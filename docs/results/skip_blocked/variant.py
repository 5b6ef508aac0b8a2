# (twenty-first session) run while BlockedMoves still had a `collisions` flag (now always on):
# the "coll" lines of variant_ppo_coll.log are what `--skip-blocked` does today.
import sys

from safevla_core.action_choice import BlockedMoves
from safevla_core.bundle import load_bundle
from safevla_eval.agents import BundleAgent
from safevla_eval.runner import run_agent
from safevla_eval.suite import load_episode_files

ids = set(sys.argv[3].split(","))
eps = [
    e
    for e in load_episode_files(
        [
            "sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz",
            "sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz",
        ]
    )
    if e.episode_id in ids
]
b = sys.argv[1]
agent = BundleAgent(b, "greedy", skip_blocked=True)
agent.blocked = BlockedMoves(collisions=sys.argv[2] == "coll")
hw = load_bundle(b).render_size
out = []
for r in run_agent(agent, eps, max_steps=600, nav_hw=hw):
    d = r.to_dict()
    out.append(d)
    print(
        b,
        sys.argv[2],
        d["episode_id"],
        d["success"],
        d["cost"],
        d["blocked"],
        d["longest_blocked_run"],
        d["collisions"],
        flush=True,
    )
