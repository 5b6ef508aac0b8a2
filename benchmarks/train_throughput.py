"""Training throughput: environment steps per second of PPO-Lagrangian *including learning*.

Runs the real trainer (MuJoCo env, frozen-encoder rollouts, PPO-Lag updates) for a fixed number
of env steps from random weights and prints the split between rollout and update time.

``--encoder-runtime torch onnxruntime`` measures both runtimes of the frozen encoder
(``ppo.encoder_runtime``) in one run, alternating rollout by rollout over the same envs, so other
load on the machine weighs on both alike (``--steps`` each). ``--init CHECKPOINT`` measures a
trained model (the shipped start: ``models/train_state/objnav-bc.pt``, with its detector)
instead of a fresh one built from the flags.

    .venv/bin/python benchmarks/train_throughput.py --steps 2048 --num-envs 4
    .venv/bin/python benchmarks/train_throughput.py --init models/train_state/objnav-bc.pt \
        --vec-backend subprocess --num-envs 8 --threads 1 --encoder-runtime torch onnxruntime
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from safevla_train.checkpoint import load_checkpoint, model_from_checkpoint
from safevla_train.config import (
    ENCODER_RUNTIMES,
    EnvSettings,
    ModelConfig,
    PPOConfig,
    RiskConfig,
)
from safevla_train.model import VLAPolicy
from safevla_train.ppo import make_algo
from safevla_train.risk import make_envs
from safevla_train.rollout import Collector, frame_encoder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2048, help="env steps to measure")
    ap.add_argument("--num-envs", type=int, default=4)
    ap.add_argument("--rollout-steps", type=int, default=128)
    ap.add_argument("--image", type=int, default=64, help="model image size (square)")
    ap.add_argument("--nav-size", type=int, default=96, help="rendered camera size (square)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument(
        "--encoder",
        choices=("cnn", "efficientnet_lite0"),
        default="cnn",
        help="frame encoder (efficientnet_lite0: frozen, features computed once per step)",
    )
    ap.add_argument(
        "--vec-backend",
        choices=("sync", "subprocess"),
        default="sync",
        help="where the envs run (subprocess: one worker process each, as training runs)",
    )
    ap.add_argument(
        "--encoder-runtime",
        nargs="+",
        choices=ENCODER_RUNTIMES,
        default=["torch"],
        help="what runs the frozen encoder (several: measured in alternating rollouts)",
    )
    ap.add_argument(
        "--init",
        default=None,
        help="a training checkpoint whose model to measure (default: a fresh model)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    env = EnvSettings(
        num_envs=args.num_envs,
        nav_size=(args.nav_size, args.nav_size),
        vec_backend=args.vec_backend,
    )
    cfg = PPOConfig(
        algo="ppo-lag",
        env=env,
        rollout_steps=args.rollout_steps,
        value_warmup_steps=0,
        risk=RiskConfig(),
    )
    if args.init:
        model = model_from_checkpoint(load_checkpoint(args.init)).eval()
    else:
        mcfg = ModelConfig(image_height=args.image, image_width=args.image, encoder=args.encoder)
        model = VLAPolicy(mcfg).eval()
    algo = make_algo(model, cfg)
    venv, samplers = make_envs(env, cfg.risk)
    col = Collector(venv, samplers, model, args.rollout_steps, seed=0)
    runtimes = list(dict.fromkeys(args.encoder_runtime))
    encoders = {rt: frame_encoder(model, rt) for rt in runtimes}
    col.sync_reset(0)
    for rt in runtimes:  # warm-up: loads MiniLM, first renders, first runtime calls
        col.encode = encoders[rt]
        col.collect()
    rng = np.random.default_rng(0)
    per_rollout = args.num_envs * args.rollout_steps
    t_roll = dict.fromkeys(runtimes, 0.0)
    t_upd = dict.fromkeys(runtimes, 0.0)
    steps = dict.fromkeys(runtimes, 0)
    while min(steps.values()) < args.steps:
        for rt in runtimes:
            col.encode = encoders[rt]
            t0 = time.perf_counter()
            ro = col.collect()
            t1 = time.perf_counter()
            costs = [e["cost"] for e in ro.episodes]
            algo.after_rollout(float(np.mean(costs)) if costs else None)
            algo.update(ro, False, rng)
            t_upd[rt] += time.perf_counter() - t1
            t_roll[rt] += t1 - t0
            steps[rt] += per_rollout
    venv.close()
    results = {}
    for rt in runtimes:
        total = t_roll[rt] + t_upd[rt]
        results[rt] = {
            "env_steps": steps[rt],
            "env_steps_per_s_including_learning": round(steps[rt] / total, 1),
            "rollout_steps_per_s": round(steps[rt] / t_roll[rt], 1),
            "update_seconds_per_rollout": round(t_upd[rt] / (steps[rt] / per_rollout), 3),
            "share_of_time_in_updates": round(t_upd[rt] / total, 3),
        }
    # one runtime: the figures at the top level, as before
    out = results[runtimes[0]] if len(runtimes) == 1 else {"by_encoder_runtime": results}
    print(json.dumps({**out, "config": vars(args)}, indent=2))


if __name__ == "__main__":
    main()
