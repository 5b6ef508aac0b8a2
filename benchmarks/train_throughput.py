"""Training throughput: environment steps per second of PPO-Lagrangian *including learning*.

Runs the real trainer (MuJoCo env, frozen-encoder rollouts, PPO-Lag updates) for a fixed number
of env steps from random weights and prints the split between rollout and update time.

    .venv/bin/python benchmarks/train_throughput.py --steps 2048 --num-envs 4
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from safevla_train.config import EnvSettings, ModelConfig, PPOConfig, RiskConfig
from safevla_train.model import VLAPolicy
from safevla_train.ppo import make_algo
from safevla_train.risk import make_envs
from safevla_train.rollout import Collector


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
    mcfg = ModelConfig(image_height=args.image, image_width=args.image, encoder=args.encoder)
    model = VLAPolicy(mcfg).eval()
    algo = make_algo(model, cfg)
    venv, samplers = make_envs(env, cfg.risk)
    col = Collector(venv, samplers, model, args.rollout_steps, seed=0)
    col.sync_reset(0)
    col.collect()  # warm-up: loads MiniLM, first renders
    rng = np.random.default_rng(0)
    t_roll = t_upd = 0.0
    steps = 0
    while steps < args.steps:
        t0 = time.perf_counter()
        ro = col.collect()
        t1 = time.perf_counter()
        costs = [e["cost"] for e in ro.episodes]
        algo.after_rollout(float(np.mean(costs)) if costs else None)
        algo.update(ro, False, rng)
        t_upd += time.perf_counter() - t1
        t_roll += t1 - t0
        steps += args.num_envs * args.rollout_steps
    venv.close()
    total = t_roll + t_upd
    print(
        json.dumps(
            {
                "env_steps": steps,
                "env_steps_per_s_including_learning": round(steps / total, 1),
                "rollout_steps_per_s": round(steps / t_roll, 1),
                "update_seconds_per_rollout": round(
                    t_upd / (steps / (args.num_envs * args.rollout_steps)), 3
                ),
                "share_of_time_in_updates": round(t_upd / total, 3),
                "config": vars(args),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
