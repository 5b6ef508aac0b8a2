"""(thirty-third session) The clear pass on a critic's probed states: how many base motions it
lets through, how many of them cost, and how many it would release among the harmless ones the
critic vetoes today, by clearance and by the quiet window (no contact in the motion feedback of
the last K frames).

    python docs/results/dense_scan/clear_pass_data.py RUN_DIR [THRESHOLD]

RUN_DIR: a critic run folder (config.yaml and critic_data.npz, with its extra_data; the shipped
critic's: runs/dense/sc05, models/README.md). THRESHOLD: the critic's calibrated threshold, with
``risk.npy`` in RUN_DIR ([N, base motions] max-over-categories risk of every state, the floor
applied or not: the floor's hits never clear 1 cm, so none is passed) to count the harmless
vetoes the pass would release; without it only the costs are counted.
"""

import sys
from pathlib import Path

import numpy as np
import yaml

from safevla_core.actions import PROPRIO_FIELDS
from safevla_core.footprint import BASE_MOTIONS, base_clearance
from safevla_train.config_io import apply_overrides
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_run import get_data


def main() -> None:
    run = Path(sys.argv[1])
    cfg = apply_overrides(CriticConfig(), yaml.safe_load((run / "config.yaml").read_text()), {})
    d = get_data(cfg, run, log=lambda *_: None)
    newest = d["history"][:, -1]
    ext = d["frame_proprio"][newest][:, PROPRIO_FIELDS.index("arm_extension")]
    clear = base_clearance(d["frame_scan"][newest], ext)[:, BASE_MOTIONS]
    cost = d["labels"][:, BASE_MOTIONS].any(axis=2)
    every = cost.all(axis=1)  # every base motion costs: objects still moving
    touched = d["frame_bump"][d["history"]].max(axis=2) > 0  # [N, T] contact per slot
    split = d["split"]
    risk = None
    if len(sys.argv) > 2 and (run / "risk.npy").is_file():
        risk, thr = np.load(run / "risk.npy"), float(sys.argv[2])
    print(
        f"{len(cost)} states, {cost.size} base motions, {cost.sum()} costly "
        f"({(cost & every[:, None]).sum()} in states where every base motion costs)"
    )
    print("clear_m quiet  passed  costly passed (cascade) [train/cal/test]  vetoes released")
    for eps in (0.02, 0.03, 0.05):
        for quiet in (0, 1, 2, 4, 8, 16):
            ok = clear >= eps
            if quiet:
                ok &= ~touched[:, -quiet:].any(axis=1)[:, None]
            hit = ok & cost
            by = [int(hit[split == s].sum()) for s in (0, 1, 2)]
            released = ""
            if risk is not None:
                vetoed = ~cost & (risk >= thr)
                released = f"{(ok & vetoed).sum()} of {vetoed.sum()}"
            print(
                f"{eps:7.2f} {quiet:5d} {ok.sum():7d}  {hit.sum():5d} "
                f"({(hit & every[:, None]).sum():4d}) {by}  {released}"
            )


if __name__ == "__main__":
    main()
