"""(thirty-ninth session) A diagnostic: a critic run folder's one-threshold calibration (alpha,
per episode, as `safevla train critic` does it) over the whole mix and again per task, each on
that task's calibration episodes only, with the test split's miss and false-veto rates at that
threshold. Reuses the folder's data and weights (`critic.pt`); trains nothing.

    python docs/results/critic_onpolicy/pertask.py runs/dense/onpol   # output: pertask.txt
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from safevla_core.conformal import calibrate_any
from safevla_core.safety_critic import always_allowed
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train import critic_run as cr


def quiet(*_args) -> None:
    """The run's log, silenced."""


def main(out: Path) -> None:
    torch.set_num_threads(1)
    cfg, data, net, inputs = cr.load_run(out, quiet)
    tasks = json.loads(str(data["meta"])).get("tasks", ["objnav", "pickup"])
    cal, test = (np.flatnonzero(data["split"] == i) for i in (1, 2))
    risk = {}
    for name, rows in (("cal", cal), ("test", test)):
        risk[name] = cr.split_risks(net, data, rows, cfg, inputs, {}, name, quiet)[1]
    for label, task in [("all", None), *((t, i) for i, t in enumerate(tasks))]:
        cm = np.ones(len(cal), bool) if task is None else data["task"][cal] == task
        tm = np.ones(len(test), bool) if task is None else data["task"][test] == task
        union, reports = calibrate_any(
            risk["cal"][cm],
            data["labels"][cal][cm],
            SAFETY_SPEC.categories,
            cfg.alpha,
            risk["test"][tm],
            data["labels"][test][tm],
            pair_mask=~always_allowed(),
            on_too_few=cfg.on_too_few,
            groups=data["episode"][cal][cm],
            test_groups=data["episode"][test][tm],
        )
        d = union.to_dict()
        worst = max(
            r.to_dict()["test_unit_miss_rate"] or 0.0
            for r in reports
            if r.to_dict().get("test_events")
        )
        print(
            f"{label} threshold {d['threshold']:.4f} units {d['n_units']} "
            f"test miss/unit {d['test_unit_miss_rate']:.3f} worst cat {worst:.3f} "
            f"false veto {d['test_false_veto_rate']:.3f}"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
