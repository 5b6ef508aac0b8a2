"""How well does a safety critic separate costly from harmless motions, in contact and out of it?

    python benchmarks/critic_contact.py runs/critic/base runs/critic/bump

For each ``safevla train critic`` run (its config, data with ``extra_data``, trained weights
and calibrated thresholds), on the test split's states (episodes the critic was neither trained
nor calibrated on), over the moving actions only (the ones a veto can refuse), split by whether
the robot is in contact: the motion feedback of the action before the state (blocked or
collided; the data's ``frame_bump`` of the newest frame):

* per category: events, AUROC of the risk for that category's events (how well it ranks them),
  and at the run's calibrated thresholds the share of events that pass (miss) and of harmless
  pairs vetoed (false veto);
* over all categories: the share of harmless moving pairs that some category vetoes, and the
  share of states where every moving action is vetoed (a proposer with no other choice stops).

The first is what the calibration trades; the second is what decides whether a shielded robot
still moves. Uses only data on disk; no simulation. Needs data with ``frame_bump`` (collected
since 2026-12-04).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from safevla_core.actions import ACTIONS
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config_io import from_dict
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_model import CriticInputs, build_critic, predict
from safevla_train.critic_run import CALIBRATION, WEIGHTS, get_data
from safevla_train.detector import auroc

MOVING = np.array([a.moves_robot for a in ACTIONS])


def test_risk(run: Path) -> dict:
    """Risk, labels, contact flags of the run's test states and its thresholds."""
    cfg = from_dict(CriticConfig, yaml.safe_load((run / "config.yaml").read_text()))
    data = get_data(cfg, run, log=lambda line: None)
    if "frame_bump" not in data:
        sys.exit(f"{run}: its data has no frame_bump (collected before 2026-12-04)")
    net = build_critic(cfg)
    net.load_state_dict(torch.load(run / WEIGHTS, weights_only=True)["model"])
    torch.set_num_threads(max(1, min(cfg.threads, 2)))
    rows = np.flatnonzero(data["split"] == 2)
    risk = predict(net, data, rows, cfg, CriticInputs(net, data, cfg))
    newest = data["history"][rows, -1]
    table = json.loads((run / CALIBRATION).read_text())
    return {
        "risk": risk[:, MOVING],
        "labels": data["labels"][rows][:, MOVING] > 0,
        "contact": data["frame_bump"][newest].any(axis=1),
        "thresholds": np.array([r["threshold"] for r in table]),
        "alpha": table[0]["alpha"],
        "bump_input": cfg.bump_input,
    }


def pct(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{100 * v:.1f}%"


def category_rows(name: str, t: dict) -> list[str]:
    risk, y, contact, thr = t["risk"], t["labels"], t["contact"], t["thresholds"]
    veto = risk >= thr[None, None, :]  # (N, A_moving, C)
    lines = []
    for k, cat in enumerate(SAFETY_SPEC.categories):
        cells = []
        for where in (np.ones_like(contact), ~contact, contact):
            r, yy, v = risk[where, :, k], y[where, :, k], veto[where, :, k]
            cells.append(
                f"{int(yy.sum())} | {auroc(yy.ravel(), r.ravel()):.2f} | "
                f"{pct(np.mean(~v[yy]) if yy.any() else np.nan)} | {pct(np.mean(v[~yy]))}"
            )
        lines.append(f"| {name} | {cat} | " + " | ".join(cells) + " |")
    return lines


def by_contact(veto: np.ndarray, costly: np.ndarray, contact: np.ndarray) -> dict[str, dict]:
    """(N, A_moving) vetoes (some category) and costly pairs (some category), (N,) contact
    flags -> per "free" / "contact": states, share with a costly motion, costly motions passed,
    harmless motions vetoed, states with every motion vetoed."""
    out = {}
    for label, where in (("free", ~contact), ("contact", contact)):
        v, c = veto[where], costly[where]
        out[label] = {
            "states": int(where.sum()),
            "with_costly": float(np.mean(c.any(axis=1))),
            "costly_passed": float(np.mean(~v[c])) if c.any() else float("nan"),
            "harmless_vetoed": float(np.mean(v[~c])),
            "all_vetoed": float(np.mean(v.all(axis=1))),
        }
    return out


def overall_rows(name: str, t: dict) -> list[str]:
    veto = (t["risk"] >= t["thresholds"][None, None, :]).any(axis=2)  # (N, A_moving)
    return [
        f"| {name} | {label} | {r['states']} | {pct(r['with_costly'])} | "
        f"{pct(r['costly_passed'])} | {pct(r['harmless_vetoed'])} | {pct(r['all_vetoed'])} |"
        for label, r in by_contact(veto, t["labels"].any(axis=2), t["contact"]).items()
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="safevla train critic run folders")
    args = ap.parse_args(argv)
    risks = {}
    for run in args.runs:
        t = test_risk(run)
        risks[f"{run.name} (bump_input {t['bump_input']}, alpha {t['alpha']:g})"] = t
    head = "events | AUROC | miss | false veto"
    print(f"| run | category | all: {head} | free: {head} | contact: {head} |")
    print("|---|---|" + "---|" * 12)
    for name, t in risks.items():
        print("\n".join(category_rows(name, t)))
    print()
    print(
        "| run | robot | states | with a costly motion | costly motions passed (any category) | "
        "harmless motions vetoed | every motion vetoed |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, t in risks.items():
        print("\n".join(overall_rows(name, t)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
