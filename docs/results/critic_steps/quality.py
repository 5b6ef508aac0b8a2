"""(fortieth session) Held-out quality at no threshold (`safevla_train.critic_run.heldout_quality`,
as `safevla train critic` now records it) of critic run folders, from their data and weights
(`critic.pt`); runs on the same data share one pass of the frozen encoder. Trains nothing.

    python docs/results/critic_steps/quality.py runs/dense/{repro,st1600,st3200,h512,onpol,op1600}
    # > docs/results/critic_steps/quality.md
"""

import contextlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from safevla_train import critic_run as cr
from safevla_train.config_io import from_dict
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_model import CriticInputs, build_critic, predict


def quiet(*_args) -> None:
    """The run's log, silenced."""


def quality(out: Path, cfg: CriticConfig, data: dict, inputs: CriticInputs | None):
    """(calibration, test) quality of the run folder ``out``, and the inputs to share."""
    with contextlib.redirect_stdout(sys.stderr):  # the encoder's loading message
        net = build_critic(cfg)
    inputs = inputs or CriticInputs(net, data, cfg, quiet)
    net.load_state_dict(torch.load(out / "critic.pt", weights_only=True)["model"])
    net.eval()
    if cfg.footprint_floor:
        cr.fit_floor(net, data, inputs, {}, quiet)
    got = []
    for i, split in ((1, "calibration"), (2, "test")):
        rows = np.flatnonzero(data["split"] == i)
        raw = predict(net, data, rows, cfg, inputs)
        risk = (
            cr.with_clear_pass(raw, data, rows, cfg, {}, split, quiet) if cfg.clear_pass_m else raw
        )
        got.append(cr.heldout_quality(raw, risk, data["labels"][rows]))
    return got, inputs


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
        cfg = from_dict(CriticConfig, yaml.safe_load((out / "config.yaml").read_text()))
        key = tuple(cfg.extra_data)
        data, inputs = shared.get(key) or (cr.get_data(cfg, out, quiet), None)
        (cal, test), inputs = quality(out, cfg, data, inputs)
        shared[key] = (data, inputs)
        union = json.loads((out / "calibration.json").read_text())[0]  # "any" comes first
        cells = [out.name, len(key) + 1, cfg.steps, cfg.hidden, f"{test['bce']:.4f}"]
        cells += [f"{test['auroc_any']:.4f}", f"{test['ap_any']:.3f}", f"{cal['auroc_any']:.4f}"]
        cells += [f"{cal['ap_any']:.3f}", f"{union['threshold']:.4f}"]
        cells += [f"{union['test_unit_miss_rate']:.1%}", f"{union['test_false_veto_rate']:.1%}"]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
