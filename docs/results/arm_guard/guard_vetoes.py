"""(thirty-seventh session) The arm guard's vetoes in shielded runs, each checked against the
exact one-step cost of the vetoed proposal (tried from a snapshot of the simulator,
``sim_bridge.action_probe``, then restored), and a tally of all vetoes by rule.

    PYTHONPATH=<tree> MUJOCO_GL=egl OMP_NUM_THREADS=1 python \
        docs/results/arm_guard/guard_vetoes.py BUNDLE EPISODES CRITIC STEPS I[,I...]|all
"""

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loop_guard"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))
from episodes import for_each_job, run_episode
from vaudit import rule

from safevla_core.actions import ACTIONS
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes

TALLY = collections.Counter()
GUARD = collections.Counter()


def audit(env, agent, job) -> None:
    probe = ActionProbe(env, verify=False)
    mine = []

    def on_decision(d):
        if not d.critic_outcome:
            return
        TALLY[rule(d.reason)] += 1
        if "(arm guard)" not in d.reason:
            return
        snap = probe.snapshot()
        _, sc = env.advance(int(d.proposed_action))
        probe.restore(snap)
        costly = sc.total > 0
        GUARD[("costly" if costly else "harmless", ACTIONS[int(d.proposed_action)].name)] += 1
        mine.append((env.steps, ACTIONS[int(d.proposed_action)].name, costly))

    rec = run_episode(env, agent, job, on_decision)
    print(
        f"== {job.index} {rec.episode_id} success {rec.success} cost {rec.cost} "
        f"arm guard vetoes {len(mine)} (costly {sum(c for *_, c in mine)})",
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[5] == "all":
        sys.argv[5] = ",".join(map(str, range(len(load_episodes(sys.argv[2])))))
    for_each_job(audit)
    print("vetoes by rule:", dict(sorted(TALLY.items())))
    print("arm guard vetoes by exact cost of the proposal:", dict(sorted(GUARD.items())))
