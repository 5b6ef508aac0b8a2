"""(thirtieth session) Which executed actions pay PickUp's shielded cost, and with the arm where.

Runs the careless expert shielded by a critic on PickUp episodes and prints, for every step
that costs, the executed action, the proposal, whether the critic judged it, the arm's joint
state and the categories charged; then totals by executed action and by arm extension.

    python docs/results/pickup_arm/trace.py EPISODES CRITIC STEPS [FIRST] [COUNT]
"""

import collections
import sys

from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env, run_episode
from sim_bridge.episodes import load_episodes

ep_file, critic, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
count = int(sys.argv[5]) if len(sys.argv) > 5 else 100
spec = parse_policy("expert:careless")
size, manip = render_settings(spec)
env = make_env(steps, size, manip)
agent = make_agent(spec)
eps = load_episodes(ep_file)
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
for i in range(first, min(first + count, len(eps))):
    job = Job(spec, eps[i], i, True, (), steps, critic=critic, nav_hw=size)
    last.clear()
    rec = run_episode(env, agent, job, on_decision)
    print(eps[i].episode_id, "success", int(rec.success), "cost", rec.cost, flush=True)
print("cost by executed action:", dict(by_action))
print("cost by arm:", dict(by_ext))
print("cost by critic outcome:", dict(judged))
