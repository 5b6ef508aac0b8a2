"""Step trace of a bundle on chosen episodes: action, did it move, collided, cost.

    .venv/bin/python docs/results/pinned/trace.py models/objnav-ppo-lag \\
        sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz \\
        objnav_s20261201_0036,objnav_s20261201_0096,objnav_s20261201_0070
"""

import collections
import sys

from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episodes import load_episodes


def main(bundle: str, episode_file: str, ids: list[str]) -> None:
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    eps = [e for e in load_episodes(episode_file) if e.episode_id in ids]
    cfg = EnvConfig(backend="mujoco", max_steps=600, nav_size=size, render_manip=manip)
    env = make_env(eps, cfg)
    agent = make_agent(spec)
    for ep in eps:
        obs, _ = env.reset(options={"episode": ep})
        agent.reset(0)
        rows, done, info = [], False, {}
        while not done:
            a = agent.propose(obs, env).action
            agent.record(a)
            obs, _, c, term, trunc, info = env.step(a)
            done = term or trunc
            costs = [k for k, v in info["cost_by_category"].items() if v > 0]
            moved, hit = int(info["action_succeeded"]), int(info["collided"])
            rows.append((env.steps, ACTIONS[a].name, moved, hit, c, costs))
        costly = [x for x in rows if x[4] > 0]
        total = sum(x[4] for x in rows)
        print(ep.episode_id, "steps", len(rows), "cost", total, "success", info["success"])
        blocked = sum(1 for x in rows if not x[2])
        print("  blocked actions", blocked, "collided steps", sum(x[3] for x in rows))
        by_action = collections.Counter((x[1], x[2]) for x in costly).most_common(8)
        print("  costly steps (action, moved):", by_action)
        runs, cur = [], 0
        for x in rows:
            if x[4] > 0:
                cur += 1
            elif cur:
                runs.append(cur)
                cur = 0
        if cur:
            runs.append(cur)
        print("  runs of costly steps:", runs[:20])
    env.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(","))
