"""(twenty-fifth session) Replay one shielded episode of the careless expert and print, for
each costed step, the robot geoms in contact and what they touch, the motion's swept
clearance, the critic's risk of it and the threshold.

    python docs/results/critic_struck/contacts.py \
        sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz objnav_s20261202_0065 \
        runs/struck/s1g/bundle 300

PROPOSER (twenty-sixth session): another proposer than the careless expert (a bundle folder);
the clearance printed is then also the object scan's (walls removed). The categories charged,
the corner predicate's free count and the corner guard's estimate of it from the scan
(twenty-seventh session) follow.
"""

import os
import sys

import numpy as np
import torch

from safevla_core.actions import ACTION_NAMES
from safevla_eval import runner
from safevla_eval.agents import make_agent, parse_policy
from safevla_eval.suite import EvalConfig, groups, resolve_episodes
from safevla_train.critic_footprint import SweptClearance
from safevla_train.critic_guard import FreePoints


def main() -> None:
    episodes, episode_id, critic = sys.argv[1:4]
    cfg = EvalConfig(
        [os.environ.get("PROPOSER", "expert:careless")],
        tasks=("objnav",),
        episodes_file=episodes,
        shield="on",
        critic=critic,
    )
    cfg.max_steps = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    ((header, jobs),) = [g for g in groups(cfg, resolve_episodes(cfg)) if g[0]["shield"]]
    job = next(j for j in jobs if j.episode.episode_id == episode_id)
    env = runner.make_env(cfg.max_steps, nav_hw=job.nav_hw, manip=job.manip)
    agent = make_agent(parse_policy(header["bundle"]))
    swept, advance, free = SweptClearance(), env.advance, FreePoints(0.3)

    def traced(a):
        scan, things = env.backend.range_scans()
        clear = float(swept(torch.tensor(scan)[None])[0, a])
        clear_objects = float(swept(torch.tensor(things)[None])[0, a])
        outcome, cost = advance(a)
        if cost.total > 0:
            sim = env.backend._sim
            pairs = set()
            for i in range(sim.data.ncon):
                g1, g2 = sim.data.contact.geom[i]
                for g, o in ((g1, g2), (g2, g1)):
                    if sim.is_robot[g] and not sim.is_robot[o]:
                        pairs.add((sim.model.geom(g).name, sim.model.geom(o).name))
            gate = next(v for k, v in runner._WORKER.items() if k[0] == "critic")
            print(
                f"step {env.steps} {ACTION_NAMES[a]} cost {cost.total:g} contacts "
                f"{sorted(pairs)} clearance {clear:.3f} (objects {clear_objects:.3f}) "
                f"risk {np.round(gate.last.risk[a], 4)} "
                f"threshold {gate.thresholds.max():.4f} "
                f"{[c for c, v in cost.by_category.items() if v]} free count {cost.free_count} "
                f"(scan: {float(free(torch.tensor(scan)[None])[0]):.1f})"
            )
        return outcome, cost

    env.advance = traced
    record = runner.run_episode(env, agent, job)
    print(f"cost {record.cost:g}, success {record.success}, {record.length} steps")


if __name__ == "__main__":
    main()
