"""Experiment: the contact guard without its base-motion bars (arm bars kept).
python runs/s44/nobase.py BUNDLE EPISODES CRITIC STEPS I,J,... OUT.jsonl [on]"""
import json
import sys

sys.path.insert(0, "docs/results/loop_guard")
import safevla_core.critic_gate as cg
from episodes import shielded_jobs
from safevla_eval.runner import run_episode

orig = cg.CriticGate._update_pressing


def patched(self):
    a = self.prev_action
    if a is not None and cg._BASE[a] and self.contact_guard and self.bump is not None:
        self.pressing[:] = False  # a base motion never bars; it lifts the arm's bars
        return
    orig(self)


out = sys.argv.pop(6)
if len(sys.argv) > 6 and sys.argv.pop(6) == "on":
    pass  # the shipped rule, for a check
else:
    cg.CriticGate._update_pressing = patched
env, agent, jobs = shielded_jobs()
with open(out, "w") as f:
    for job in jobs:
        rec = run_episode(env, agent, job)
        f.write(json.dumps(rec.to_dict()) + "\n")
        f.flush()
