"""(forty-third session) `arm_sound.py`'s states: how many arm motions the arm pass would let
through at clearance s, and how many of them cost; "all-8" = states where every arm motion
costs (an object still moving from an earlier strike: no motion avoids it).
Rows: episode, step, held, quiet, lift, extension, standing clearance (full scan), swept
clearance of arm_out, arm_in, arm_out_small, arm_in_small on the arm scan and on the full scan,
their costs, then the costs of arm_up, arm_down, arm_up_small, arm_down_small.

    python docs/results/arm_pass/as_table.py OUT.npz [...]
"""

import sys

import numpy as np

NAMES = ["arm_out", "arm_in", "arm_out_small", "arm_in_small"]


def table(path: str) -> None:
    r = np.load(path)["rows"]
    held, quiet = r[:, 2] > 0, r[:, 3] > 0
    standing, tel, tel_full = r[:, 6], r[:, 7:11], r[:, 11:15]
    cost_t, cost_l = r[:, 15:19] > 0, r[:, 19:23] > 0
    ok = ~held & quiet
    every = cost_t.all(1) & cost_l.all(1)
    print(
        f"{path}: {len(r)} states; costly telescoping motions {int(cost_t.sum())} of "
        f"{cost_t.size}, costly lift motions {int(cost_l.sum())} of {cost_l.size}"
    )
    for s in (0.01, 0.03, 0.05):
        p = ok[:, None] & (tel >= s)
        bad = p & cost_t
        print(
            f"  telescoping, arm scan, s={s}: passed {int(p.sum())}, costly passed "
            f"{int(bad.sum())} (all-8: {int((bad & every[:, None]).sum())}); harmless passed "
            f"{int((p & ~cost_t).sum())} of {int((~cost_t).sum())}"
        )
        pf = ok[:, None] & (tel_full >= s)
        print(f"    (full scan: passed {int(pf.sum())}, costly {int((pf & cost_t).sum())})")
        pl = (ok & (standing >= s))[:, None] & np.ones_like(cost_l)
        bad = pl & cost_l
        print(
            f"  lift, s={s}: passed {int(pl.sum())}, costly passed {int(bad.sum())} "
            f"(all-8: {int((bad & every[:, None]).sum())}); harmless passed "
            f"{int((pl & ~cost_l).sum())} of {int((~cost_l).sum())}"
        )
    bad = ok[:, None] & (tel >= 0.03) & cost_t & ~every[:, None]
    print("  costly telescoping passed at 3 cm, not all-8:", dict(zip(NAMES, bad.sum(0).tolist())))
    for i in np.flatnonzero(bad.any(1))[:15]:
        print(
            f"    episode {int(r[i, 0])} step {int(r[i, 1])} lift {r[i, 4]:.2f} ext "
            f"{r[i, 5]:.2f} clearance {np.round(tel[i], 3).tolist()} costly "
            f"{cost_t[i].astype(int).tolist()} lift costly {cost_l[i].astype(int).tolist()}"
        )


if __name__ == "__main__":
    for f in sys.argv[1:]:
        table(f)
