"""How predictable are a teacher's labels from what the learner sees? Held-out label accuracy
of stage 1 trained on a DAgger run's saved rounds, split by episode (90/10).

    python benchmarks/label_predictability.py runs/dagger-explorer-effnet --rounds 7 \
        --updates 100 300 1000

Uses the run's model config (so a frozen-encoder run trains on its cached features in
seconds per hundred updates) and prints train and held-out accuracy per update budget: a
teacher whose held-out accuracy stays low asks for choices the observations do not determine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from safevla_train.bc import label_accuracy, train_bc
from safevla_train.checkpoint import load_checkpoint
from safevla_train.config import BCConfig, ModelConfig, from_dict
from safevla_train.dagger import load_demos
from safevla_train.model import VLAPolicy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a `safevla train dagger` run folder")
    p.add_argument("--rounds", type=int, default=None, help="use rounds 0..N-1 (default all)")
    p.add_argument("--updates", type=int, nargs="+", default=[100, 300, 1000])
    p.add_argument("--batch-chunks", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    files = sorted((args.run / "data").glob("round_*.npz"))[: args.rounds]
    episodes = [d for f in files for d in load_demos(f)]
    state = load_checkpoint(args.run / "checkpoint.pt")
    model_cfg = from_dict(ModelConfig, state["model_config"])
    order = np.random.default_rng(args.seed).permutation(len(episodes))
    n_val = max(1, len(episodes) // 10)
    val = [episodes[i] for i in order[:n_val]]
    train = [episodes[i] for i in order[n_val:]]
    frames = sum(len(d.actions) for d in episodes)
    print(f"{len(files)} rounds, {frames} labelled frames, {len(train)}/{len(val)} episodes")
    for updates in args.updates:
        torch.manual_seed(args.seed)
        cfg = BCConfig(
            model=model_cfg, updates=updates, batch_chunks=args.batch_chunks, chunk_len=64
        )
        model = VLAPolicy(model_cfg)
        t0 = time.time()
        logs = train_bc(model, train, cfg, progress=False)
        print(
            f"updates {updates:5d}: train accuracy {logs['charts/bc_accuracy']:.3f}, "
            f"held-out accuracy {label_accuracy(model, val):.3f} ({time.time() - t0:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
