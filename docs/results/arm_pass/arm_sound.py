"""(forty-third session) Is an arm motion that geometry vouches for harmless? States from the
careless expert on validation episodes, a share EPS of its actions replaced by uniform random
ones; at every state the arm's eight motions (arm_out, arm_in, arm_up, arm_down, small or not)
tried from a snapshot (exact one-step cost), beside the telescoping motions' swept clearance on
the arm scan (and on the full scan), the footprint's standing clearance on the full scan, the
holding flag and whether the last 4 steps reported contact. `as_table.py OUT.npz` tabulates.

    python docs/results/arm_pass/arm_sound.py sim_bridge/data/episodes/pickup_val.jsonl.gz \\
        171 0.3 1 OUT.npz
"""

import math
import sys
import time

import numpy as np

from safevla_core.actions import ACTION_INDEX as A
from safevla_core.actions import NUM_ACTIONS
from safevla_core.footprint import standing_clearance, telescope_clearance
from safevla_eval.runner import make_env
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes
from sim_bridge.expert import Expert

TEL = [A["arm_out"], A["arm_in"], A["arm_out_small"], A["arm_in_small"]]
LIFT = [A["arm_up"], A["arm_down"], A["arm_up_small"], A["arm_down_small"]]


def main(path: str, n: int, eps: float, seed: int, out: str) -> None:
    env = make_env(400)
    probe = ActionProbe(env, verify=False)
    rng = np.random.default_rng(seed)
    episodes = load_episodes(path)
    rows, t0 = [], time.time()
    for k, i in enumerate(rng.permutation(len(episodes))[:n]):
        expert = Expert("careless")
        env.reset(options={"episode": episodes[int(i)]})
        bumps = []
        for t in range(400):
            ag = env.backend.agent()
            scan, _, arm = env.backend.all_scans()
            yaw = math.radians(ag.wrist_yaw_deg)
            tel = telescope_clearance(arm, ag.arm_extension, yaw)[TEL]
            tel_full = telescope_clearance(scan, ag.arm_extension, yaw)[TEL]
            standing = standing_clearance(scan[None], [ag.arm_extension], [yaw])[0]
            snap = probe.snapshot()
            costs = []
            for a in TEL + LIFT:
                _, c = env.advance(a)
                costs.append(sum(c.by_category.values()))
                probe.restore(snap)
            quiet = not any(b > 0 for b in bumps[-4:])
            arm_state = (ag.held_object is not None, quiet, ag.lift_height, ag.arm_extension)
            rows.append((k, t, *arm_state, standing, *tel, *tel_full, *costs))
            a = expert.act(env)
            if rng.random() < eps:
                a = int(rng.integers(NUM_ACTIONS))
                if a in (A["end"], A["sub_done"]):
                    a = A["arm_out"]
            obs, _, _, term, trunc, _ = env.step(a)
            bumps.append(float(np.max(obs["bump"])))
            if term or trunc:
                break
        if k % 10 == 0:
            print(k, len(rows), f"{time.time() - t0:.0f}s", flush=True)
    np.savez_compressed(out, rows=np.array(rows, np.float64))
    print("done", len(rows), f"{time.time() - t0:.0f}s")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
