"""(twenty-eighth session) Which of the shield's vetoes a footprint by height would lift.

Replays shielded episodes and, for every proposal the critic vetoes, computes its swept
clearance two ways: as the shipped footprint does (the base box and the arm beside it against
the scan over the whole height band) and by height (the base box against the scan below the
base's top only, the mast, head and arm column against the whole band). Prints per episode
the vetoes, how many are base motions the whole-band footprint puts into something (<= 5 mm)
while the split one does not, and the episode's outcome.

    python docs/results/critic_height/diag.py EPISODES CRITIC STEPS [FIRST] [COUNT] [PROPOSER]
"""

import sys

import numpy as np
import torch

import sim_bridge.mujoco.backend as B
from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env, run_episode
from safevla_train.critic_footprint import SweptClearance, _box_distance
from sim_bridge.episodes import load_episodes

ALL = B.SCAN_HEIGHTS_M
LOW = tuple(h for h in ALL if h <= 0.2)
HEAD = ((-0.09, 0.10), (0.05, 0.09))
COLUMN = ((-0.04, -0.105), (0.035, 0.205))


class Split(SweptClearance):
    def forward(self, low, full):
        outs = []
        for r, boxes in ((low, [((0.0, 0.0), (self.hx, self.hy))]), (full, [HEAD, COLUMN])):
            r = torch.where(r >= 3.0, torch.full_like(r, 10.0), r)
            px = (r * self.cos_b)[:, None, None, :]
            py = (r * self.sin_b)[:, None, None, :]
            c, s = self.cos_y[None, :, :, None], self.sin_y[None, :, :, None]
            qx = c * (px - self.dx[None, :, :, None]) + s * py
            qy = -s * px + c * py
            d = torch.stack([_box_distance(qx, qy, *bx) for bx in boxes]).amin(0)
            outs.append(d.amin(dim=(2, 3)))
        return torch.minimum(*outs)


ep_file, critic, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
count = int(sys.argv[5]) if len(sys.argv) > 5 else 100
spec = parse_policy(sys.argv[6] if len(sys.argv) > 6 else "expert:careless")
size, manip = render_settings(spec)
env = make_env(steps, size, manip)
agent = make_agent(spec)
eps = load_episodes(ep_file)
sw, sp = SweptClearance(), Split()
tot = np.zeros(6, int)
for i in range(first, min(first + count, len(eps))):
    job = Job(spec, eps[i], i, True, (), steps, critic=critic, nav_hw=size)
    c = np.zeros(6, int)  # vetoes, base-motion vetoes, whole-band strike, lifted by split,
    # base-motion vetoes with a whole-band clearance > 0.1 m, > 0.2 m

    def on_decision(d, c=c):
        if not d.critic_outcome:
            return
        a = d.proposed_action
        c[0] += 1
        if not ACTIONS[a].moves_base:
            return
        c[1] += 1
        full, _ = env.backend.range_scans()
        B.SCAN_HEIGHTS_M = LOW
        low, _ = env.backend.range_scans()
        B.SCAN_HEIGHTS_M = ALL
        cm = float(sw(torch.tensor(full)[None])[0, a])
        cs = float(sp(torch.tensor(low)[None], torch.tensor(full)[None])[0, a])
        c[4] += cm > 0.1
        c[5] += cm > 0.2
        if cm <= 0.005:
            c[2] += 1
            if cs > 0.005:
                c[3] += 1

    rec = run_episode(env, agent, job, on_decision)
    tot += c
    print(
        eps[i].episode_id, "success", int(rec.success), "cost", rec.cost, "vetoes", *c, flush=True
    )
print(
    "total: vetoes, base-motion vetoes, whole-band strikes, lifted by the split, clear by "
    "0.1 m, by 0.2 m:",
    *tot,
)
