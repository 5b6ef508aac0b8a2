"""(twenty-sixth session) Summarise an audit.py run: how right the vetoes were, and why the
wrong ones fired (the footprint floor's clearance, or the learnt risk).

    python docs/results/critic_audit/summary.py OUT.npz
"""

import sys

import numpy as np

from safevla_core.actions import ACTION_NAMES, ACTIONS

MOVES = np.array([a.moves_robot for a in ACTIONS])
BASE = np.array([a.kind.name.startswith("BASE_") for a in ACTIONS])
FLOOR_M = 0.005


def main() -> None:
    d = np.load(sys.argv[1])
    n = len(d["ep"])
    print(
        f"{len(d['success'])} episodes, SR {d['success'].mean():.2f}, cost {d['cost'].mean():.2f}"
    )
    p, lab, ratio, clear = d["proposed"], d["label"], d["ratio"], d["clear"]
    rows = np.arange(n)
    mv = MOVES[p]
    pl, pr, pc = lab[rows, p], ratio[rows, p], clear[rows, p]
    blocked = (pr >= 1.0) & mv
    print(
        f"{n} judged steps; proposals blocked by the critic's risk {blocked.sum()}; "
        f"veto outcomes {d['vetoed'].sum()} (incl. latched), stops {d['stop'].sum()}"
    )
    tp, fp = (blocked & pl).sum(), (blocked & ~pl).sum()
    print(
        f"blocked proposals that would have cost: {tp}; harmless: {fp} "
        f"(precision {tp / max(tp + fp, 1):.3f}); "
        f"costly proposals passed {(~blocked & pl & mv).sum()}"
    )
    floor = BASE[p] & (pc <= FLOOR_M)
    print(
        "harmless blocked with clearance <= 5 mm (base motion, floor): "
        f"{(blocked & ~pl & floor).sum()}; "
        f"clearance > 5 mm: {(blocked & ~pl & ~floor).sum()}"
    )
    print(
        f"costly blocked with floor: {(blocked & pl & floor).sum()}, "
        f"without: {(blocked & pl & ~floor).sum()}"
    )
    # over all moving actions of all judged states
    allb = (ratio >= 1.0) & MOVES[None]
    allfloor = BASE[None] & (clear <= FLOOR_M)
    print(
        f"all motions of judged states: {MOVES.sum() * n}; costly {(lab & MOVES[None]).sum()}; "
        f"blocked {allb.sum()}; blocked harmless {(allb & ~lab).sum()} "
        f"(floor {(allb & ~lab & allfloor).sum()}); "
        f"costly passed {(~allb & lab & MOVES[None]).sum()}"
    )
    print(
        f"P(cost | floor) {lab[allfloor].mean():.3f} over {allfloor.sum()}; "
        f"P(cost | base, clearance in (5mm, 5cm]) "
        f"{lab[BASE[None] & (clear > FLOOR_M) & (clear <= 0.05)].mean():.3f}"
    )
    # states where the critic left no motion vs states where the labels leave none
    none_clear = ~(~allb & MOVES[None]).any(1)
    none_free = ~(~lab & MOVES[None]).any(1)
    print(
        f"states with no motion under the threshold: {none_clear.sum()}; with no free motion: "
        f"{none_free.sum()}"
    )
    print("harmless blocked proposals by action (floor / head):")
    for a in np.flatnonzero(MOVES):
        s = blocked & ~pl & (p == a)
        if s.sum():
            print(
                f"  {ACTION_NAMES[a]}: {s.sum()} ({(s & floor).sum()} / {(s & ~floor).sum()}); "
                f"costly blocked {(blocked & pl & (p == a)).sum()}"
            )
    fail = np.flatnonzero(~d["success"])
    print("failed episodes: steps, stops, harmless-blocked proposals")
    for e in fail:
        s = d["ep"] == e
        print(
            f"  ep {e}: {s.sum()} steps, {d['stop'][s].sum()} stops, {(blocked & ~pl)[s].sum()} "
            f"harmless blocked ({(blocked & ~pl & floor)[s].sum()} floor), "
            f"{(blocked & pl)[s].sum()} costly blocked"
        )


if __name__ == "__main__":
    main()
