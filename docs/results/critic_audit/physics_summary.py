"""(twenty-sixth session) Summarise a physics.py run: of the base motions whose swept
clearance is <= 5 mm (the footprint floor's), how many strike something, how many strike only
walls, and what they cost.

    python docs/results/critic_audit/physics_summary.py OUT.npz
"""

import sys

import numpy as np

from safevla_core.actions import ACTION_NAMES, ACTIONS

BASE = [i for i, a in enumerate(ACTIONS) if a.kind.name.startswith("BASE_")]


def main() -> None:
    d = np.load(sys.argv[1])
    clear, struck, walls, free, cats, ratio = (
        d[k] for k in ("clear", "struck", "walls", "free", "cost", "ratio")
    )
    cost = cats.sum(2) > 0  # [n, base motions]
    fl = clear <= 0.005
    st = fl & struck
    print("states", len(clear))
    print(
        f"floor motions {fl.sum()}: struck {struck[fl].mean():.3f}, struck wall-only "
        f"{walls[fl].mean():.3f}, cost {cost[fl].mean():.3f}"
    )
    print(
        f"non-floor motions {(~fl).sum()}: struck {struck[~fl].mean():.3f}, "
        f"cost {cost[~fl].mean():.3f}"
    )
    print(
        f"floor & struck {st.sum()}: cost {cost[st].mean():.3f}; per category {cats[st].mean(0)}"
    )
    print(
        f"floor & struck objects {(st & ~walls).sum()} cost {cost[st & ~walls].mean():.3f}; "
        f"walls only {(st & walls).sum()} cost {cost[st & walls].mean():.3f}"
    )
    print(f"floor & not struck {(fl & ~struck).sum()} cost {cost[fl & ~struck].mean():.3f}")
    for j, a in enumerate(BASE):
        f = fl[:, j]
        print(
            f"  {ACTION_NAMES[a]}: floor {f.sum()}, struck {struck[f, j].mean():.3f}, cost "
            f"{cost[f, j].mean():.3f}; blocked(ratio>=1) {(ratio[f, j] >= 1).mean():.3f}"
        )
    for lo, hi in ((0, 20), (20, 30), (30, 40), (40, 60), (60, 1e9)):
        s = st & (free >= lo) & (free < hi)
        corner = cats[s][:, 0].mean() if s.any() else 0.0
        print(
            f"  struck, free {lo}-{hi}: n {s.sum()} corner {corner:.3f} "
            f"cost {cost[s].mean() if s.any() else 0:.3f}"
        )


if __name__ == "__main__":
    main()
