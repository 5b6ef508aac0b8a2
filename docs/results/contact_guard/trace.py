"""(thirtieth session) Which executed actions pay PickUp's shielded cost, and with the arm where.

Runs the careless expert shielded by a critic on PickUp episodes and prints, for every step
that costs, the executed action, the proposal, whether the critic judged it, the arm's joint
state and the categories charged; then totals by executed action and by arm extension.

    python docs/results/contact_guard/trace.py EPISODES CRITIC STEPS [FIRST] [COUNT]
"""

import collections

from replay import setup

from safevla_core.actions import ACTIONS
from safevla_eval.runner import run_episode

env, agent, jobs = setup()
by_action = collections.Counter()
by_ext = collections.Counter()
judged = collections.Counter()
inner = env.step
last = {}


def on_decision(d):
    last["d"] = d


def step(a):
    ag = env.backend.agent()
    proprio = (round(float(ag.lift_height), 2), round(float(ag.arm_extension), 2))
    out = inner(a)
    cats = {k: v for k, v in out[5]["cost_by_category"].items() if v}
    if cats:
        d = last.get("d")
        name = ACTIONS[a].name
        by_action[name] += sum(cats.values())
        by_ext["extended" if proprio[1] > 0.05 else "retracted"] += sum(cats.values())
        j = "" if d is None else (d.critic_outcome or "passed")
        judged[j] += sum(cats.values())
        print(
            "  step",
            name,
            "proposed",
            ACTIONS[d.proposed_action].name if d else "-",
            j,
            "proprio",
            proprio,
            cats,
            "ok",
            out[5]["action_succeeded"],
            "hit",
            out[5]["collided"],
            flush=True,
        )
    return out


env.step = step
for job in jobs:
    last.clear()
    rec = run_episode(env, agent, job, on_decision)
    print(job.episode.episode_id, "success", int(rec.success), "cost", rec.cost, flush=True)
print("cost by executed action:", dict(by_action))
print("cost by arm:", dict(by_ext))
print("cost by critic outcome:", dict(judged))
