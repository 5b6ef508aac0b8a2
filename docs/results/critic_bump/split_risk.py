"""Calibration / test risks of a critic run, saved for the offline checks, and the per-category
calibration on all states against one on free-space states only (2026-12-04). A category with
too few free-space calibration episodes (dangerous equipment: 1) keeps its all-states threshold
in the free-space calibration, instead of the conservative 0 that would veto every motion.

    python docs/results/critic_bump/split_risk.py runs/critic/bump32   # writes splitrisk.npz
"""

import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from safevla_core.actions import ACTIONS
from safevla_core.conformal import calibrate
from safevla_core.safety_critic import always_allowed
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config_io import from_dict
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_model import CriticInputs, build_critic, predict
from safevla_train.critic_run import WEIGHTS, get_data

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from critic_contact import by_contact

MOV = np.array([a.moves_robot for a in ACTIONS])
KEYS = ("risk", "y", "ep", "contact")


def veto_summary(veto: np.ndarray, costly: np.ndarray, contact: np.ndarray) -> str:
    """Harmless vetoed, states with every motion vetoed and costly passed, in free space and in
    contact (``by_contact`` of benchmarks/critic_contact.py)."""
    return " | ".join(
        f"{where}: harmless vetoed {r['harmless_vetoed']:.2f} all-vetoed {r['all_vetoed']:.2f} "
        f"costly passed {r['costly_passed']:.2f}"
        for where, r in by_contact(veto, costly, contact).items()
    )


def load_run(run: Path, threads: int = 2):
    """A critic run's config, data, trained net (eval mode) and network inputs."""
    cfg = from_dict(CriticConfig, yaml.safe_load((run / "config.yaml").read_text()))
    data = get_data(cfg, run, log=lambda line: None)
    net = build_critic(cfg)
    net.load_state_dict(torch.load(run / WEIGHTS, weights_only=True)["model"])
    net.eval()
    torch.set_num_threads(threads)
    return cfg, data, net, CriticInputs(net, data, cfg)


def split_risks(run: Path, splits=(1, 2)) -> dict[int, dict[str, np.ndarray]]:
    """Per split (0 train, 1 calibration, 2 test; ``splits``): risks, labels, episodes,
    contact flags."""
    cfg, data, net, inputs = load_run(run)
    out = {}
    for split in splits:
        rows = np.flatnonzero(data["split"] == split)
        out[split] = {
            "risk": predict(net, data, rows, cfg, inputs),
            "y": data["labels"][rows],
            "ep": data["episode"][rows],
            "contact": data["frame_bump"][data["history"][rows, -1]].any(1),
        }
    return out


def main() -> None:
    run = Path(sys.argv[1])
    out = split_risks(run)
    np.savez(run / "splitrisk.npz", **{f"{k}{s}": v for s, d in out.items() for k, v in d.items()})
    c, t = out[1], out[2]
    for alpha in (0.1, 0.2, 0.3):
        groups = (("all", np.ones_like(c["contact"])), ("free", ~c["contact"]))
        thr_all = None
        for name, cm in groups:
            rep = calibrate(
                c["risk"][cm],
                c["y"][cm],
                SAFETY_SPEC.categories,
                alpha,
                t["risk"],
                t["y"],
                pair_mask=~always_allowed(),
                groups=c["ep"][cm],
                test_groups=t["ep"],
            )
            thr = np.array([r.threshold for r in rep])
            if thr_all is None:
                thr_all = thr
            else:  # too few free-space episodes: the all-states threshold
                thr = np.where([r.sufficient for r in rep], thr, thr_all)
            veto = (t["risk"][:, MOV] >= thr).any(2)
            print(
                f"alpha {alpha} cal on {name}: thr {np.round(thr, 5).tolist()} units "
                f"{[r.n_units for r in rep]}"
            )
            print("   ", veto_summary(veto, (t["y"][:, MOV] > 0).any(2), t["contact"]))


if __name__ == "__main__":
    main()
