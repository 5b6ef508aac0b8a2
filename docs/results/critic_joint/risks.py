"""Train / calibration / test risks of a critic run, saved for the offline calibration checks
of this folder (2026-12-05).

    python docs/results/critic_joint/risks.py runs/critic32/scan-lt   # writes risks.npz there
"""

import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from safevla_train.config_io import from_dict
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_model import CriticInputs, build_critic, predict
from safevla_train.critic_run import WEIGHTS, get_data


def main() -> None:
    run = Path(sys.argv[1])
    cfg = from_dict(CriticConfig, yaml.safe_load((run / "config.yaml").read_text()))
    data = get_data(cfg, run, log=lambda line: None)
    net = build_critic(cfg)
    net.load_state_dict(torch.load(run / WEIGHTS, weights_only=True)["model"])
    net.eval()
    torch.set_num_threads(2)
    inputs = CriticInputs(net, data, cfg)
    out = {}
    for split in (0, 1, 2):
        rows = np.flatnonzero(data["split"] == split)
        out[f"risk{split}"] = predict(net, data, rows, cfg, inputs)
        out[f"y{split}"] = data["labels"][rows]
        out[f"ep{split}"] = data["episode"][rows]
        out[f"contact{split}"] = data["frame_bump"][data["history"][rows, -1]].any(1)
    np.savez(run / "risks.npz", **out)
    print({k: v.shape for k, v in out.items()})


if __name__ == "__main__":
    main()
