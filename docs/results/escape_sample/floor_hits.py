"""(thirty-second session) Can the learnt critic tell the footprint floor's costly hits from
its harmless ones? The floor raises the risk of every base motion whose swept clearance on the
object scan is <= floor_clearance_m to the training split's event rate of such hits (27-45%,
far over the threshold), so every hit is vetoed, and a third of them cost. For the hits of the
calibration and test splits this prints that rate and the ranking quality (ROC AUC) of the
learnt risk (before the floor) between hits that cost and hits that do not, per motion.

    python docs/results/escape_sample/floor_hits.py RUN_DIR [FLOOR_M]

RUN_DIR: a critic run folder with critic.pt, critic_data.npz and config.yaml (the shipped
critic's weights and data: runs/dense/sc05, models/README.md); FLOOR_M: the floor's clearance
(default 0.01, the shipped critic's).
"""

import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from safevla_core.actions import ACTION_NAMES, ACTIONS
from safevla_train.config_io import apply_overrides
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_model import CriticInputs, _logits, build_critic
from safevla_train.critic_run import WEIGHTS, get_data


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of ``score`` for binary ``y`` (ties counted half)."""
    pos, neg = score[y], score[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main() -> None:
    run = Path(sys.argv[1])
    floor = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
    cfg = apply_overrides(
        CriticConfig(),
        yaml.safe_load((run / "config.yaml").read_text()),
        {"floor_clearance_m": floor},
    )
    data = get_data(cfg, run, log=lambda *_: None)
    torch.set_num_threads(cfg.threads)
    net = build_critic(cfg)
    net.load_state_dict(torch.load(run / WEIGHTS, weights_only=True)["model"])
    net.eval()
    inputs = CriticInputs(net, data, cfg)
    rows = np.flatnonzero(data["split"] >= 1)  # calibration and test: not trained on
    risk, clear = [], []
    with torch.no_grad():
        for i in range(0, rows.size, 256):
            x = inputs(rows[i : i + 256])
            c = net.extras.clearance(x[2:])
            risk.append(torch.sigmoid(_logits(net, *x, clear=c)).numpy())
            clear.append(c[..., -1].numpy())
    risk, clear = np.concatenate(risk), np.concatenate(clear)
    labels = data["labels"][rows] > 0
    print(f"{len(rows)} states (calibration + test); floor {cfg.floor_clearance_m} m")
    print(
        "motion                hits  costly  AUC(learnt risk, any cost)  harmless hits released "
        "with 5% / 10% of the costly ones passed"
    )
    for a in range(risk.shape[1]):
        hit = clear[:, a] <= cfg.floor_clearance_m
        if not ACTIONS[a].moves_base or hit.sum() < 50:  # the floor is the base motions'
            continue
        y = labels[hit, a].any(axis=1)
        score = risk[hit, a].max(axis=1)
        if not y.any():
            continue
        # the learnt risk under which 5% (10%) of the costly hits lie: a threshold for hits
        # that would pass that share of them; the harmless hits under it would be released
        released = [float((score[~y] < np.quantile(score[y], q)).mean()) for q in (0.05, 0.10)]
        print(
            f"{ACTION_NAMES[a]:20s} {hit.sum():6d} {y.mean():7.3f}  {auc(score, y):.3f}"
            f"{'':27s}{released[0]:.2f} / {released[1]:.2f}"
        )


if __name__ == "__main__":
    main()
