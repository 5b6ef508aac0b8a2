"""(thirty-sixth session) Were a shielded episode's vetoes right? Each critic veto of the
given episodes, with the exact one-step cost of the vetoed proposal and of what ran instead
(sim_bridge.action_probe, probed in the state the monitor judged), whether the proposal would
have been blocked or collided, whether the footprint calls it separating
(safevla_core.footprint.separating_motions), and the veto's reason; then a tally of the vetoes
by the rule that made them and whether the vetoed proposal truly cost.

    python docs/results/oracle/vaudit.py BUNDLE EPISODES CRITIC STEPS I[,I...]|all [-q]
"""

import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loop_guard"))
from episodes import for_each_job, run_episode

from safevla_core.actions import ACTIONS
from safevla_core.footprint import separating_motions
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes

TALLY = collections.Counter()
QUIET = "-q" in sys.argv


def rule(reason: str) -> str:
    """The monitor rule a veto's reason names."""
    for key, name in (
        ("(arm guard)", "arm guard"),
        ("detour", "detour"),
        ("drives the way a motion touched", "contact guard"),
        ("was vetoed and the robot has not moved", "latch"),
        ("risk corner 1 ", "corner guard"),
        (" risk ", "learnt risk / floor"),
    ):
        if key in reason:
            return name
    return "other"


def audit(env, agent, job) -> None:
    probe = ActionProbe(env, verify=False)
    rows = []

    def on_decision(d):
        if not d.critic_outcome:
            return
        lab = probe.label().sum(1) > 0
        p = int(d.proposed_action)
        snap = probe.snapshot()
        outcome, _ = env.advance(p)
        probe.restore(snap)
        ag = env.backend.agent()
        scan = np.asarray(env.backend.range_scan(), np.float32)
        sep = separating_motions(
            scan, max(ag.arm_extension, 0.0), np.radians(ag.wrist_yaw_deg), 0.005
        )
        how = ("blocked" if not outcome.action_succeeded else "moved") + (
            "+collided" if outcome.collided else ""
        )
        e = None if d.safe_stop else int(d.executed_action)
        rows.append(
            (
                env.steps,
                ACTIONS[p].name,
                bool(lab[p]),
                how,
                f"sep={bool(sep[p])}",
                "STOP" if e is None else ACTIONS[e].name,
                None if e is None else bool(lab[e]),
                d.reason[:110],
            )
        )

    rec = run_episode(env, agent, job, on_decision)
    for r in rows:
        TALLY[(rule(r[-1]), "costly" if r[2] else "harmless")] += 1
    print(
        f"== {job.index} {rec.episode_id} success {rec.success} len {rec.length} "
        f"cost {rec.cost} vetoes {len(rows)} of which costly {sum(r[2] for r in rows)}",
        flush=True,
    )
    if not QUIET:
        for r in rows:
            print("  ", *r)


if __name__ == "__main__":
    if sys.argv[5] == "all":
        sys.argv[5] = ",".join(map(str, range(len(load_episodes(sys.argv[2])))))
    for_each_job(audit)
    print("vetoes by rule (proposal truly costly / harmless):")
    for name in sorted({k[0] for k in TALLY}):
        print(f"  {name}: {TALLY[(name, 'costly')]} / {TALLY[(name, 'harmless')]}")
