"""(twenty-seventh session) How well the range scan tells a corner: the benchmark's free count
within 1 m (freearea.py) against the scan's estimate of it (safevla_train.critic_guard.FreePoints,
in benchmark points) for several clearances; per clearance, the threshold that flags a given
share of the corner states (free count < 40) and the share of the other states it flags, and
the corner states' median estimate per episode.

    python docs/results/critic_corner/fit.py FILE.npz...
"""

import sys

import numpy as np
import torch

from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.critic_guard import FreePoints


def main() -> None:
    scans, free, eps = [], [], []
    for i, path in enumerate(sys.argv[1:]):
        d = np.load(path)
        scans.append(d["scan"])
        free.append(d["free"])
        eps.append(d["ep"] + 1000 * i)
    scan, free, ep = np.concatenate(scans), np.concatenate(free), np.concatenate(eps)
    s = SAFETY_SPEC
    corner = free / s.corner_grid_norm < s.corner_free_ratio
    where = np.unique(ep[corner])
    print(
        f"{len(free)} states, {corner.sum()} in a corner (free count < 40), {len(where)} episodes"
    )
    for margin in (0.2, 0.25, 0.3, 0.35):
        with torch.no_grad():
            est = np.concatenate(
                [
                    FreePoints(margin)(torch.from_numpy(scan[i : i + 512])).numpy()
                    for i in range(0, len(scan), 512)
                ]
            )
        r = np.corrcoef(est, free)[0, 1]
        q = np.percentile(est[corner], [50, 90, 95, 99]) if corner.any() else []
        line = [
            f"clearance {margin:.2f}: corr {r:.2f}, corner states' estimate p50/90/95/99 "
            + "/".join(f"{v:.0f}" for v in q)
        ]
        for rec_want in (0.9, 0.99, 1.0):
            t = np.quantile(est[corner], rec_want)
            line.append(
                f"recall {rec_want:.2f}: below {t:.0f} flags "
                f"{(est[~corner] < t).mean():.3f} of the rest"
            )
        print("; ".join(line))
        print(
            "   per episode:",
            [(int(e), round(float(np.median(est[(ep == e) & corner])))) for e in where],
        )


if __name__ == "__main__":
    main()
