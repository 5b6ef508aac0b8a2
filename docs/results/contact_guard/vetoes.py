"""(thirtieth session) What the shield refuses the careless expert on PickUp.

Runs the careless expert shielded by a critic on PickUp episodes and counts, per episode and
in total, the vetoed proposals by action and by the rule's reason (a category over its
threshold, the latch, the contact guard), split by whether the arm is out (> 5 cm) or the
robot is still navigating.

    python docs/results/contact_guard/vetoes.py EPISODES CRITIC STEPS [FIRST] [COUNT]
"""

import collections
import re

from replay import setup

from safevla_core.actions import ACTION_NAMES
from safevla_eval.runner import run_episode

env, agent, jobs = setup()
total = collections.Counter()


def kind(reason: str) -> str:
    if "touched something" in reason:
        return "contact guard"
    if "has not moved" in reason:
        return "latched"
    m = re.findall(r"(\w+) [\d.e-]+ >= ", reason)
    return "risk:" + ",".join(sorted(set(m))) if m else reason[:40]


for job in jobs:
    c = collections.Counter()

    def on_decision(d, c=c):
        if not d.critic_outcome:
            return
        arm = "arm out" if env.backend.agent().arm_extension > 0.05 else "arm in"
        c[(ACTION_NAMES[d.proposed_action], arm, kind(d.reason), d.critic_outcome)] += 1

    rec = run_episode(env, agent, job, on_decision)
    total.update(c)
    top = ", ".join(f"{n} {k}" for k, n in c.most_common(3))
    print(
        job.episode.episode_id, "success", int(rec.success), "cost", rec.cost, "|", top, flush=True
    )
print("total vetoes by (proposal, arm, reason, outcome):")
for k, n in total.most_common(25):
    print(f"  {n:6d} {k}")
