"""(twenty-fifth session) How cost events depend on each base motion's swept clearance
(safevla_train.critic_footprint) in the relabelled collections of runs/struck
(R=runs/struck bash docs/results/critic_arm/collect.sh).

    python docs/results/critic_struck/clear_stats.py
"""

import numpy as np
import torch

from safevla_core.actions import ACTION_NAMES, ACTIONS
from safevla_train.critic_footprint import SweptClearance

RUNS = ("c0", "c1", "lta", "ltb", "d0")


def main() -> None:
    swept = SweptClearance()
    moves = np.array([a.moves_robot for a in ACTIONS])
    base = np.array([a.kind.name.startswith("BASE_") for a in ACTIONS])
    clear, events = [], []
    for name in RUNS:
        d = np.load(f"runs/struck/{name}/critic_data.npz")
        scan = d["frame_scan"][d["history"][:, -1]].astype(np.float32)
        clear.append(swept(torch.tensor(scan)).numpy())
        events.append(d["labels"].any(axis=2))
    c, y = np.concatenate(clear), np.concatenate(events)
    ev_base, ev_all = y & base[None], (y & moves[None]).sum()
    print(f"{len(c)} states; base motions carry {ev_base.sum() / ev_all:.3f} of motion events")
    for thr in (0.0, 0.005, 0.01, 0.02, 0.05):
        sel = (c <= thr) & base[None]
        print(
            f"clearance <= {thr}: {sel.sum() / base.sum() / len(c):.3f} of base motions, "
            f"P(event) {y[sel].mean():.3f}, {(sel & y).sum() / ev_base.sum():.3f} of their "
            f"events, {(sel & y).sum() / ev_all:.3f} of all motion events"
        )
    for a in np.flatnonzero(base):
        hit, far = c[:, a] <= 0.0, c[:, a] > 0.05
        print(
            f"{ACTION_NAMES[a]}: P(event | clearance 0) {y[hit, a].mean():.3f} "
            f"({hit.sum()} states), P(event | > 5 cm) {y[far, a].mean():.4f}"
        )


if __name__ == "__main__":
    main()
