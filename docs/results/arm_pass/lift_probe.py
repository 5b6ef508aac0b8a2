"""(forty-third session) The shielded PickUp episodes the careless expert lost: at the first 6
states where the monitor vetoed an arm motion (lift or extension), the exact one-step cost of
the proposal (ActionProbe: every action tried from a snapshot), the arm's state and the veto.

    cd docs/results/loop_guard && python ../arm_pass/lift_probe.py expert:careless \\
        ../../../sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz \\
        ../../../models/safety-critic 600 10,2,12,40,61,62,68,77,28,58,75
"""

import sys

sys.path.insert(0, ".")
from episodes import for_each_job

from safevla_core.actions import ACTION_INDEX as A
from safevla_core.actions import ACTIONS
from safevla_eval.runner import run_episode
from sim_bridge.action_probe import ActionProbe

ARM = {A[n] for n in ("arm_down", "arm_down_small", "arm_up", "arm_up_small")}
ARM |= {A["arm_out"], A["arm_out_small"]}
FIRST = 6


def probe_episode(env, agent, job) -> None:
    probe = ActionProbe(env, verify=False)
    decisions, seen = [], []

    def watch(a, step):
        d = decisions[-1] if decisions else None
        if d is not None and d.critic_outcome and d.proposed_action in ARM and len(seen) < FIRST:
            cost = probe.label()[d.proposed_action].tolist()
            ag = env.backend.agent()
            seen.append(
                f"   {env.steps} {ACTIONS[d.proposed_action].name} cost {cost} lift "
                f"{ag.lift_height:.3f} ext {ag.arm_extension:.3f} {d.reason[:60]}"
            )
        return step(a)

    inner = env.step
    env.step = lambda a: watch(a, inner)
    try:
        rec = run_episode(env, agent, job, decisions.append)
    finally:
        env.step = inner
    print(f"== {job.index} success {rec.success} len {rec.length}")
    print("\n".join(seen))


if __name__ == "__main__":
    for_each_job(probe_episode)
