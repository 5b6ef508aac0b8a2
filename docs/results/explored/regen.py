"""Re-collect the teacher-only rounds of a DAgger run (beta 1: the learner's weights do not
change what is executed) with the explored map recorded, so that the run can be resumed with
``bc.model.explored_input=true`` (docs/training.md, "The explored map as an input").

    MUJOCO_GL=egl .venv/bin/python docs/results/explored/regen.py SRC_CHECKPOINT OUT [ROUNDS]

SRC_CHECKPOINT: a run's checkpoint.pt whose first rounds were teacher-only (beta0 1);
OUT: the new run folder (its data/ and a copy of the checkpoint); ROUNDS: how many of the
rounds to re-collect (default: all of the checkpoint's).
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
    state = load_checkpoint(src)
    raw = state["dagger"]
    raw["bc"]["model"]["explored_input"] = True
    raw["bc"]["env"]["explored_map"] = True
    cfg = from_dict(DAggerConfig, raw)
    rounds = [h["round"] for h in state["history"]]
    if len(sys.argv) > 3:
        rounds = rounds[: int(sys.argv[3])]
    if any(beta_of(cfg, r) < 1.0 for r in rounds):
        sys.exit("the rounds to re-collect must be teacher-only (beta 1)")
    model = VLAPolicy(cfg.bc.model, detector_weights=False)
    missing, unexpected = model.load_state_dict(state["model"], strict=False)
    assert not unexpected and all(k.startswith("explored_proj.") for k in missing), missing
    (out / "data").mkdir(parents=True, exist_ok=True)
    for h in state["history"][: len(rounds)]:
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
