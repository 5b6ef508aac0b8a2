"""(twenty-fourth session) A critic run's test split by task: at the run's calibrated threshold
(its bundle's), the mean per-episode miss of cost events and the share of harmless motions
vetoed, for ObjectNav and PickUp states, arm motions and base motions apart. A run with
``refit`` gets its refit again (deterministic) before predicting.

    python docs/results/critic_arm/by_task.py runs/arm/a1 [runs/joint/f1 ...]
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "critic_bump"))
from split_risk import load_run

from safevla_core.actions import ACTIONS, ActionKind
from safevla_train.critic_model import predict
from safevla_train.critic_run import fit_refit

MOV = np.array([a.moves_robot for a in ACTIONS])
BASE = np.array([a.kind in (ActionKind.BASE_TRANSLATE, ActionKind.BASE_ROTATE) for a in ACTIONS])


def per_episode_miss(veto, costly, episodes) -> float:
    shares = [
        (costly[e] & ~veto[e]).sum() / costly[e].sum()
        for e in (episodes == i for i in np.unique(episodes))
        if costly[e].any()
    ]
    return float(np.mean(shares)) if shares else float("nan")


def main() -> None:
    for run in map(Path, sys.argv[1:]):
        cfg, data, net, inputs = load_run(run, threads=1)
        if cfg.refit:
            cal = np.flatnonzero(data["split"] == 1)
            fit_refit(net, data, cal, cfg, inputs, {}, lambda line: None)
        rows = np.flatnonzero(data["split"] == 2)
        risk = predict(net, data, rows, cfg, inputs).max(axis=2)
        thr = json.loads((run / "bundle" / "critic.json").read_text())["thresholds"]
        thr = min(thr.values())
        costly = data["labels"][rows].any(axis=2)
        veto = risk >= thr
        tasks = json.loads(str(data["meta"]))["tasks"]
        print(f"{run} (threshold {thr:.4g}):")
        for t, name in enumerate(tasks):
            on = data["task"][rows] == t
            for what, acts in (("all motions", MOV), ("base", BASE), ("arm", MOV & ~BASE)):
                v, c = veto[on][:, acts], costly[on][:, acts]
                miss = per_episode_miss(v, c, data["episode"][rows][on])
                false = (v & ~c).sum() / (~c).sum()
                print(
                    f"  {name:7s} {what:11s} states {on.sum():5d}  events {c.sum():5d}  miss/ep "
                    f"{100 * miss:5.1f}%  harmless vetoed {100 * false:5.1f}%"
                    f"  states with every such motion vetoed {100 * v.all(axis=1).mean():5.1f}%"
                )


if __name__ == "__main__":
    main()
