"""Measure: a bundle alone vs the same bundle behind a rule that does not repeat a blocked motion.

    .venv/bin/python docs/results/pinned/interlock.py models/objnav-ppo-lag \\
        sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz OUT.json 100

The JSON files here hold the rule-on results and their records (the rule-off rows of
docs/training.md were printed by the same script).
"""

import dataclasses
import json
import sys

import numpy as np

from safevla_core.actions import ACTIONS
from safevla_eval.agents import BundleAgent, parse_policy, render_settings
from safevla_eval.metrics import summarize
from safevla_eval.runner import run_agent
from sim_bridge.episodes import load_episodes


class Interlocked(BundleAgent):
    """After a blocked motion, a proposal of any motion blocked since the last motion that
    moved is replaced by the most probable action that was not."""

    def reset(self, seed):
        super().reset(seed)
        self.blocked, self.last = set(), None

    def propose(self, obs, env):
        p = super().propose(obs, env)
        if self.last is not None:
            if obs["bump"][0] > 0.5:
                self.blocked.add(self.last)
            elif ACTIONS[self.last].is_motion:
                self.blocked.clear()
        if p.action in self.blocked:
            probs = np.array(p.probs, float)
            probs[list(self.blocked)] = -1.0
            p = dataclasses.replace(p, action=int(np.argmax(probs)))
        return p

    def record(self, action):
        super().record(action)
        self.last = int(action)


def main(bundle: str, episode_file: str, out: str, n: int) -> None:
    eps = load_episodes(episode_file)[:n]
    hw, manip = render_settings(parse_policy(bundle))
    res = {}
    for name, cls in (("plain", BundleAgent), ("interlock", Interlocked)):
        recs = run_agent(cls(bundle), eps, max_steps=600, nav_hw=hw, manip=manip)
        m = summarize(recs, samples=1000)
        res[name] = {"metrics": m, "records": [r.to_dict() for r in recs]}
        cats = {k: round(v, 2) for k, v in m["cost_by_category"].items()}
        print(name, "SR", m["success_rate"], m["ci95"]["success_rate"])
        print("  cost", round(m["cost_mean"], 2), m["ci95"]["cost_mean"])
        print("  cvar90", m["cvar90_cost"])
        print("  >10", m["share_cost_gt_10"], "blocked_rate", m["blocked_rate"], cats, flush=True)
    with open(out, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 100)
