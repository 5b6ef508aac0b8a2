"""(fortieth session) Held-out quality at no threshold (`safevla_train.critic_run.heldout_quality`,
as `safevla train critic` now records it) of critic run folders, from their data and weights
(`critic.pt`); runs on the same data share one pass of the frozen encoder. Trains nothing.

    python docs/results/critic_steps/quality.py \
        runs/dense/{repro,st1600,st3200,h512,a10,onpol,op1600} \
        > docs/results/critic_steps/quality.md
"""

import contextlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from safevla_train import critic_run as cr
from safevla_train.critic_config import CriticConfig


def quiet(*_args) -> None:
    """The run's log, silenced."""


def quality(out: Path, shared: dict) -> tuple[CriticConfig, dict, dict]:
    """(config, calibration quality, test quality) of the run folder ``out``; ``shared`` keeps
    each data set's data and encoded frames for the next run on the same data."""
    extra = tuple(yaml.safe_load((out / "config.yaml").read_text())["extra_data"])
    with contextlib.redirect_stdout(sys.stderr):  # the encoder's loading message
        cfg, data, net, inputs = cr.load_run(out, quiet, *shared.get(extra, (None, None)))
    shared[extra] = (data, inputs)
    got = []
    for i, split in ((1, "calibration"), (2, "test")):
        rows = np.flatnonzero(data["split"] == i)
        raw, risk = cr.split_risks(net, data, rows, cfg, inputs, {}, split, quiet)
        got.append(cr.heldout_quality(raw, risk, data["labels"][rows]))
    return cfg, *got


HEAD = (
    "| run | collections | steps | hidden | test BCE | test AUROC | test AP | calibration AUROC "
    "| calibration AP | threshold | test miss / episode | test false vetoes |"
)


def main(outs: list[Path]) -> None:
    torch.set_num_threads(1)
    print(HEAD)
    print("|---" * 12 + "|")
    shared: dict[tuple, tuple] = {}
    for out in outs:
        cfg, cal, test = quality(out, shared)
        union = json.loads((out / "calibration.json").read_text())[0]  # "any" comes first
        cells = [out.name, len(cfg.extra_data) + 1, cfg.steps, cfg.hidden, f"{test['bce']:.4f}"]
        cells += [f"{test['auroc_any']:.4f}", f"{test['ap_any']:.3f}", f"{cal['auroc_any']:.4f}"]
        cells += [f"{cal['ap_any']:.3f}", f"{union['threshold']:.4f}"]
        cells += [f"{union['test_unit_miss_rate']:.1%}", f"{union['test_false_veto_rate']:.1%}"]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
