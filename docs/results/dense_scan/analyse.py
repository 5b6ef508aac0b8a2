"""(thirty-third session) Cost of the base motions by their swept clearance, on a dense scan
and on the same scan thinned to the critic's 72 beams.

For the states of ``probe_dense.py`` (ObjectNav training episodes): each base motion's swept
clearance at ``safevla_core.footprint.PASS_SAMPLES`` poses (the base box and the arm box; with
``--arm`` the arm box grown by the arm's extension, as the clear pass does), and the share of
motions that cost something (any category) per clearance bin, with the arm retracted and
extended apart. A state where every base motion costs (objects still moving from an earlier
strike) is left out: nothing the shield does there avoids it.

    python docs/results/dense_scan/analyse.py FILE.npz [FILE.npz ...] [--arm]
"""

import itertools
import sys

import numpy as np

from safevla_core.actions import ACTIONS, SCAN_BEAMS, SCAN_RANGE_MAX_M
from safevla_core.footprint import BASE_MOTIONS, base_clearance

BINS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, np.inf)
NAMES = [a.name for a in ACTIONS if a.moves_base]


def thinned(full: np.ndarray, beams: int) -> np.ndarray:
    """The dense scan at the critic's bearings (beam i of SCAN_BEAMS from SCAN_ANGLE_MIN)."""
    assert beams % SCAN_BEAMS == 0
    return full[:, :: beams // SCAN_BEAMS]


def main() -> None:
    files = [a for a in sys.argv[1:] if not a.startswith("--")]
    arm = "--arm" in sys.argv
    d = [np.load(f) for f in files]
    labels = np.concatenate([x["labels"] for x in d])  # [N, 20, 5]
    full = np.concatenate([x["full"] for x in d]).astype(np.float64)
    proprio = np.concatenate([x["proprio"] for x in d])
    beams = int(d[0]["beams"])
    cost = labels[:, BASE_MOTIONS].sum(axis=2) > 0  # [N, base motions]
    every = cost.all(axis=1)
    ext = proprio[:, 1] if arm else np.zeros(len(proprio))
    retracted = proprio[:, 1] < 0.02
    print(
        f"{len(labels)} states, {beams} beams; {every.sum()} where every base motion costs; "
        f"arm retracted in {retracted.mean():.2f}; arm box grown by the extension: {arm}"
    )
    scans = ((f"{beams} beams", full), ("72 beams (the critic's)", thinned(full, beams)))
    for name, scan in scans:
        c = base_clearance(np.minimum(scan, SCAN_RANGE_MAX_M), ext)[:, BASE_MOTIONS]
        for group, sel in (("arm retracted", retracted), ("arm extended", ~retracted)):
            keep = sel & ~every
            print(f"\n== {name}, {group}: costly / motions (share) per clearance bin")
            print("bin (m)          " + "".join(f"{n[:14]:>18s}" for n in NAMES))
            for lo, hi in itertools.pairwise(BINS):
                cells = []
                for j in range(len(NAMES)):
                    m = keep & (c[:, j] >= lo) & (c[:, j] < hi)
                    share = cost[m, j].mean() if m.any() else 0.0
                    cells.append(f"{cost[m, j].sum():5d}/{m.sum():5d} {share:4.2f}")
                print(f"[{lo:.3f},{hi:.3f})   " + "".join(f"{x:>18s}" for x in cells))
            for eps in (0.01, 0.02, 0.03):
                m = keep[:, None] & (c >= eps)
                print(
                    f"clearance >= {eps:.2f} m: {cost[m].sum()} costly of {m.sum()} motions; "
                    f"costly motions in all: {cost[keep].sum()}"
                )


if __name__ == "__main__":
    main()
