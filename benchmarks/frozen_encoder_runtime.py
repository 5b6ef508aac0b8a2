"""The frozen EfficientNet-Lite0 encoder on torch vs ONNX Runtime: milliseconds per batch.

What the trainer's main process pays per rollout step for the frame features
(``ppo.encoder_runtime``): a batch of ``num_envs`` frames at the model's input size, one thread
each. The two runtimes are timed in alternating rounds, so other load on the machine weighs on
both alike; the max abs difference of their features is printed with the times.

    .venv/bin/python benchmarks/frozen_encoder_runtime.py --batch 4 --image 64 --threads 1
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from safevla_train.config import ModelConfig
from safevla_train.onnx_encoder import OnnxEncoder
from safevla_train.pretrained import FrozenBackbone


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4, help="frames per forward (= num_envs)")
    ap.add_argument("--image", type=int, default=64, help="model image size (square)")
    ap.add_argument("--threads", type=int, default=1, help="threads of each runtime")
    ap.add_argument("--rounds", type=int, default=10, help="alternating timing rounds")
    ap.add_argument("--calls", type=int, default=20, help="forwards per round")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    c = ModelConfig(image_height=args.image, image_width=args.image)
    enc = FrozenBackbone((args.image, args.image), c.image_mean, c.image_std)
    t0 = time.perf_counter()
    ort_enc = OnnxEncoder(enc, (args.image, args.image), threads=args.threads)
    export_s = time.perf_counter() - t0
    x = torch.randn(
        args.batch, 3, args.image, args.image, generator=torch.Generator().manual_seed(1)
    )

    def run_torch() -> torch.Tensor:
        with torch.no_grad():
            return enc(x)

    runs = {"torch": run_torch, "onnxruntime": lambda: ort_enc(x)}
    for f in runs.values():  # warm-up
        for _ in range(3):
            f()
    ms: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, f in runs.items():
            t = time.perf_counter()
            for _ in range(args.calls):
                f()
            ms[name].append((time.perf_counter() - t) / args.calls * 1e3)
    med = {k: float(np.median(v)) for k, v in ms.items()}
    print(
        json.dumps(
            {
                "ms_per_batch_median": {k: round(v, 2) for k, v in med.items()},
                "ms_per_batch_min": {k: round(min(v), 2) for k, v in ms.items()},
                "speedup_onnxruntime": round(med["torch"] / med["onnxruntime"], 2),
                "max_abs_diff": float((run_torch() - ort_enc(x)).abs().max()),
                "export_and_session_s": round(export_s, 2),
                "config": vars(args),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
