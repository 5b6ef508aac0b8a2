"""Re-collect the teacher-only rounds of a DAgger run (beta 1: the learner's weights do not
change what is executed), so that the run can be resumed with more rounds.

    MUJOCO_GL=egl .venv/bin/python docs/results/escape/regen.py SRC_CHECKPOINT OUT [--explored]

SRC_CHECKPOINT: the run's checkpoint (e.g. models/train_state/objnav-bc.pt); OUT: the new run
folder (its data/ and a copy of the checkpoint). With ``--explored`` the rounds record the
explored map, so that the run can be resumed with ``bc.model.explored_input=true``
(docs/training.md, "The explored map as an input").
"""

import shutil
import sys
from pathlib import Path

from safevla_train.checkpoint import load_checkpoint
from safevla_train.config import DAggerConfig
from safevla_train.config_io import from_dict
from safevla_train.dagger import beta_of, collect_round, save_demos
from safevla_train.model import VLAPolicy


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    explored = "--explored" in sys.argv[3:]
    state = load_checkpoint(src)
    raw = state["dagger"]
    if explored:
        raw["bc"]["model"]["explored_input"] = True
        raw["bc"]["env"]["explored_map"] = True
    cfg = from_dict(DAggerConfig, raw)
    if any(beta_of(cfg, h["round"]) < 1.0 for h in state["history"]):
        sys.exit("the rounds to re-collect must be teacher-only (beta 1)")
    model = VLAPolicy(cfg.bc.model, detector_weights=False)
    # the map's projection is new (zero), the rest the run's: the same actions
    missing, unexpected = model.load_state_dict(state["model"], strict=not explored)
    assert not unexpected and all(k.startswith("explored_proj.") for k in missing), missing
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
