"""Train / calibration / test risks of a critic run, saved for the offline calibration checks
of this folder (2026-12-05): ``risk0..2``, ``y0..2``, ``ep0..2``, ``contact0..2``.

    python docs/results/critic_joint/risks.py runs/critic32/scan-lt   # writes risks.npz there
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "critic_bump"))
from split_risk import split_risks


def main() -> None:
    run = Path(sys.argv[1])
    out = split_risks(run, (0, 1, 2))
    np.savez(run / "risks.npz", **{f"{k}{s}": v for s, d in out.items() for k, v in d.items()})
    print({f"{k}{s}": v.shape for s, d in out.items() for k, v in d.items()})


if __name__ == "__main__":
    main()
