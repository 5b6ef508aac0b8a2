"""Training throughput: environment steps per second of PPO-Lagrangian *including learning*.

Runs the real trainer (MuJoCo env, frozen-encoder rollouts, PPO-Lag updates) for a fixed number
of env steps from random weights and prints the split between rollout and update time.

``--encoder-runtime torch onnxruntime`` measures both runtimes of the frozen encoder
(``ppo.encoder_runtime``) in one run, alternating rollout by rollout over the same envs, so other
load on the machine weighs on both alike (``--steps`` each). ``--init CHECKPOINT`` measures a
trained model (the shipped start: ``models/train_state/objnav-bc.pt``, with its detector)
instead of a fresh one built from the flags. ``--encoder-threads`` (ONNX Runtime intra-op
threads of the rollout encoder) and ``--update-threads`` (torch threads during the update) take
several values too, and so does ``--step-cache`` (what the rollout steps keep of the history:
keys and values, or the exported graph's layer inputs): every combination is a variant,
measured in alternation the same way. The workers sit idle while the main process encodes
frames and updates, so those two phases can use every core.

    .venv/bin/python benchmarks/train_throughput.py --steps 2048 --num-envs 4
    .venv/bin/python benchmarks/train_throughput.py --init models/train_state/objnav-bc.pt \
        --vec-backend subprocess --num-envs 8 --threads 1 --encoder-runtime torch onnxruntime
    .venv/bin/python benchmarks/train_throughput.py --init models/train_state/objnav-bc.pt \
        --vec-backend subprocess --num-envs 8 --threads 1 --encoder-runtime onnxruntime \
        --encoder-threads 1 2 --update-threads 1 2 --step-cache keys-values layer-inputs
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
from safevla_train.ppo import make_algo, torch_threads
from safevla_train.risk import make_envs
from safevla_train.rollout import Collector, frame_encoder

# the rollout's step cache (Collector.kv): keys and values (the trainer's), or the layer inputs
# (the exported graph's, recomputing every cached step's keys and values at every step)
STEP_CACHES = ("keys-values", "layer-inputs")


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
        "--encoder-threads",
        nargs="+",
        type=int,
        default=[0],
        help="ONNX Runtime threads of the rollout encoder (0: --threads; several: alternated)",
    )
    ap.add_argument(
        "--update-threads",
        nargs="+",
        type=int,
        default=[0],
        help="torch threads during the update (0: --threads; several: alternated)",
    )
    ap.add_argument(
        "--step-cache",
        nargs="+",
        choices=STEP_CACHES,
        default=[STEP_CACHES[0]],
        help="what the rollout steps keep of the history (several: alternated)",
    )
    ap.add_argument(
        "--init",
        default=None,
        help="a training checkpoint whose model to measure (default: a fresh model)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.init:
        model = model_from_checkpoint(load_checkpoint(args.init)).eval()
    else:
        mcfg = ModelConfig(image_height=args.image, image_width=args.image, encoder=args.encoder)
        model = VLAPolicy(mcfg).eval()
    env = EnvSettings(
        num_envs=args.num_envs,
        nav_size=(args.nav_size, args.nav_size),
        vec_backend=args.vec_backend,
        # a policy that reads the explored map trains with the envs building it, as here
        explored_map=model.cfg.explored_input,
    )
    print(f"explored map: {'on' if env.explored_map else 'off'} (the model's explored_input)")
    cfg = PPOConfig(
        algo="ppo-lag",
        env=env,
        rollout_steps=args.rollout_steps,
        value_warmup_steps=0,
        risk=RiskConfig(),
    )
    algo = make_algo(model, cfg)
    variants = [
        (rt, et, ut, sc)
        for rt in dict.fromkeys(args.encoder_runtime)
        for et in dict.fromkeys(args.encoder_threads if rt == "onnxruntime" else [0])
        for ut in dict.fromkeys(args.update_threads)
        for sc in dict.fromkeys(args.step_cache)
    ]
    venv, samplers = make_envs(env, cfg.risk)
    col = Collector(venv, samplers, model, args.rollout_steps, seed=0)
    encoders = {(rt, et): frame_encoder(model, rt, et) for rt, et, _, _ in variants}
    col.sync_reset(0)
    for rt, et, _, sc in variants:  # warm-up: loads MiniLM, first renders, first runtime calls
        col.encode = encoders[rt, et]
        col.kv = sc == "keys-values"
        col.collect()
    rng = np.random.default_rng(0)
    per_rollout = args.num_envs * args.rollout_steps
    t_roll = dict.fromkeys(variants, 0.0)
    t_upd = dict.fromkeys(variants, 0.0)
    steps = dict.fromkeys(variants, 0)
    while min(steps.values()) < args.steps:
        for v in variants:
            rt, et, ut, sc = v
            col.encode = encoders[rt, et]
            col.kv = sc == "keys-values"  # the step cache is rebuilt at every rollout's start
            t0 = time.perf_counter()
            ro = col.collect()
            t1 = time.perf_counter()
            costs = [e["cost"] for e in ro.episodes]
            algo.after_rollout(float(np.mean(costs)) if costs else None)
            with torch_threads(ut):
                algo.update(ro, False, rng)
            t_upd[v] += time.perf_counter() - t1
            t_roll[v] += t1 - t0
            steps[v] += per_rollout
    venv.close()
    results = {}
    for v in variants:
        total = t_roll[v] + t_upd[v]
        rt, et, ut, sc = v
        label = f"{rt}, encoder threads {et or args.threads}" if rt == "onnxruntime" else rt
        results[f"{label}, update threads {ut or args.threads}, {sc} cache"] = {
            "env_steps": steps[v],
            "env_steps_per_s_including_learning": round(steps[v] / total, 1),
            "rollout_steps_per_s": round(steps[v] / t_roll[v], 1),
            "update_seconds_per_rollout": round(t_upd[v] / (steps[v] / per_rollout), 3),
            "share_of_time_in_updates": round(t_upd[v] / total, 3),
        }
    # one variant: the figures at the top level, as before
    out = results[next(iter(results))] if len(results) == 1 else {"by_variant": results}
    print(json.dumps({**out, "config": vars(args)}, indent=2))


if __name__ == "__main__":
    main()
