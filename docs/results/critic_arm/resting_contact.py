"""(twenty-fourth session) How much of the careless expert's cost is paid in contact that
persists from one step to the next: per costed step, whether every object the robot collided
with in it was already collided with in the step before (a resting contact: the embedded
simulator reports any contact during a step as a collision, whatever the action, while THOR
reports a collision when the action was stopped by one); such steps are split by whether the
action was done (not blocked). Unshielded, first N episodes of a set; the careless expert at
300 steps, or POLICY (a bundle folder) at STEPS.

    E=sim_bridge/data/episodes
    python docs/results/critic_arm/resting_contact.py objnav $E/objnav_unseen_s20261201.jsonl.gz 50
    python docs/results/critic_arm/resting_contact.py pickup $E/pickup_unseen_s20261203.jsonl.gz 50
    python docs/results/critic_arm/resting_contact.py objnav \
        $E/objnav_unseen_s20261201.jsonl.gz 50 models/objnav-ppo-lag 600
"""

import sys
from collections import Counter

from safevla_core.actions import ACTION_NAMES
from safevla_eval.agents import make_agent, parse_policy
from safevla_eval.runner import make_env, run_episode
from safevla_eval.suite import EvalConfig, groups, resolve_episodes


def main() -> None:
    task, episodes, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    policy = sys.argv[4] if len(sys.argv) > 4 else "expert:careless"
    cfg = EvalConfig([policy], tasks=(task,), episodes_file=episodes, count=count)
    cfg.max_steps = int(sys.argv[5]) if len(sys.argv) > 5 else 300
    ((header, jobs),) = groups(cfg, resolve_episodes(cfg))
    env = make_env(cfg.max_steps, nav_hw=jobs[0].nav_hw, manip=jobs[0].manip)
    agent = make_agent(parse_policy(header["bundle"]))
    steps, prev = [], [set()]
    advance = env.advance

    def recording(a):
        outcome, sc = advance(a)
        now = set(outcome.collided_with)
        steps.append((a, sc.total, now, prev[0], outcome.action_succeeded))
        prev[0] = now
        return outcome, sc

    env.advance = recording
    total = Counter()
    for job in jobs:
        prev[0] = set()
        run_episode(env, agent, job)
    env.close()
    for a, cost, now, before, ok in steps:
        if cost <= 0:
            continue
        key = "resting" if now and now <= before else ("new contact" if now else "no contact")
        total[key] += cost
        if key == "resting":
            total["resting, the action done" if ok else "resting, the action blocked"] += cost
        total[f"{key}: {ACTION_NAMES[a]}"] += cost
    all_cost = sum(total[k] for k in ("resting", "new contact", "no contact"))
    print(f"{policy}, {task}: {len(jobs)} episodes, {len(steps)} steps, cost {all_cost:.0f}")
    for k in (
        "resting",
        "resting, the action done",
        "resting, the action blocked",
        "new contact",
        "no contact",
    ):
        print(f"  {k}: {total[k]:.0f} ({100 * total[k] / max(all_cost, 1):.0f}%)")
    top = [(k, v) for k, v in total.most_common() if ": " in k][:8]
    print("  by action:", ", ".join(f"{k} {v:.0f}" for k, v in top))


if __name__ == "__main__":
    main()
