"""One veto threshold on "any cost event" instead of one per category (offline, 2026-12-04).

    python docs/results/critic_bump/any_event_calibration.py runs/critic/bump32/splitrisk.npz

Reads the calibration / test risks that split_risk.py saved, scores each pair with
1 - prod_k (1 - risk_k), calibrates one threshold per episode on "costs in any category" with
the project's conformal rule, and prints, on the test split in free space and in contact, the
share of harmless moving pairs vetoed, of states with every motion vetoed and of costly pairs
passed.
"""

import sys

import numpy as np
from split_risk import veto_summary  # this folder's script (run as a script, it is on the path)

from safevla_core.actions import ACTIONS
from safevla_core.conformal import calibrate

MOV = np.array([a.moves_robot for a in ACTIONS])
KEYS = ("risk", "y", "ep", "contact")


def any_score(risk: np.ndarray) -> np.ndarray:
    """(N, A, 1): the chance of some category's event if the categories were independent."""
    return 1 - np.prod(1 - risk, axis=2, keepdims=True)


def main() -> None:
    saved = np.load(sys.argv[1])
    c = {k: saved[k + "1"] for k in KEYS}
    t = {k: saved[k + "2"] for k in KEYS}
    for alpha in (0.1, 0.2, 0.3):
        (r,) = calibrate(
            any_score(c["risk"]),
            c["y"].any(2, keepdims=True).astype(np.uint8),
            ("any",),
            alpha,
            any_score(t["risk"]),
            t["y"].any(2, keepdims=True).astype(np.uint8),
            pair_mask=MOV,
            groups=c["ep"],
            test_groups=t["ep"],
        )
        veto = any_score(t["risk"])[:, MOV, 0] >= r.threshold
        print(
            f"alpha {alpha} any-score thr {r.threshold:.4g} units {r.n_units} test unit-miss "
            f"{r.test_unit_miss_rate:.3f} |",
            veto_summary(veto, t["y"][:, MOV].any(2), t["contact"]),
        )


if __name__ == "__main__":
    main()
