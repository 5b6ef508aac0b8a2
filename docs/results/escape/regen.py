"""Re-collect the teacher-only rounds of models/train_state/objnav-bc.pt (beta 1: the learner's
weights do not change what is executed), so that the run can be resumed with more rounds."""

import shutil
import sys
from pathlib import Path

from safevla_train.checkpoint import load_checkpoint
from safevla_train.config import DAggerConfig
from safevla_train.config_io import from_dict
from safevla_train.dagger import collect_round, save_demos
from safevla_train.model import VLAPolicy


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    state = load_checkpoint(src)
    cfg = from_dict(DAggerConfig, state["dagger"])
    model = VLAPolicy(cfg.bc.model, detector_weights=False)
    model.load_state_dict(state["model"])
    (out / "data").mkdir(parents=True, exist_ok=True)
    for h in state["history"]:
        r = h["round"]
        demos, stats = collect_round(model.eval(), cfg, r, progress=False)
        save_demos(out / "data" / f"round_{r:03d}.npz", demos)
        print(
            r,
            "episodes",
            stats["dagger/episodes"],
            "vs",
            h["dagger/episodes"],
            "success",
            round(stats["dagger/success_rate"], 4),
            "vs",
            round(h["dagger/success_rate"], 4),
            "frames/s",
            round(stats["dagger/labelled_steps_per_s"], 1),
            flush=True,
        )
    shutil.copy(src, out / "checkpoint.pt")


if __name__ == "__main__":
    main()
