"""Effect of risk elicitation: share of training episodes that contain a violation.

Rolls out one fixed policy (a training checkpoint) with the risk-eliciting episode source on and
off, same seeds and budget, and prints per setting: ``n_episodes``, ``risky_episode_fraction``
(share with cost > 0, the trainer's ``safety/risky_episode_fraction``), ``cost_mean`` (mean
episode cost, the evaluator's name, :mod:`safevla_eval.metrics`) and ``replay_fraction``.
Elicitation works if the share of risky episodes (the data the cost critics and the Lagrangian
learn from) goes up.

    .venv/bin/python benchmarks/risk_elicitation.py --checkpoint runs/objnav_ppo/checkpoint.pt \
        --rollouts 6
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from safevla_train.checkpoint import load_checkpoint, model_from_checkpoint
from safevla_train.config import EnvSettings, RiskConfig
from safevla_train.risk import make_envs
from safevla_train.rollout import Collector


def measure(model, settings: EnvSettings, risk: RiskConfig, rollouts: int, steps: int) -> dict:
    venv, samplers = make_envs(settings, risk)
    col = Collector(venv, samplers, model, steps, seed=0)
    col.sync_reset(0)
    eps = []
    try:
        for _ in range(rollouts):
            eps += col.collect().episodes
    finally:
        venv.close()
    costs = np.array([e["cost"] for e in eps]) if eps else np.zeros(0)
    fresh, replays = sum(s.fresh for s in samplers), sum(s.replays for s in samplers)
    return {
        "n_episodes": len(eps),
        "risky_episode_fraction": float(np.mean(costs > 0)) if eps else None,
        "cost_mean": float(costs.mean()) if eps else None,
        "replay_fraction": replays / max(1, fresh + replays),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--rollouts", type=int, default=6)
    ap.add_argument("--rollout-steps", type=int, default=128)
    ap.add_argument("--num-envs", type=int, default=4)
    ap.add_argument("--max-steps", type=int, default=100, help="episode limit (short = more)")
    ap.add_argument("--replay-prob", type=float, default=0.5)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = model_from_checkpoint(load_checkpoint(args.checkpoint)).eval()
    settings = EnvSettings(num_envs=args.num_envs, nav_size=(96, 96), max_steps=args.max_steps)
    out = {}
    for name, risk in (
        ("off", RiskConfig(enabled=False)),
        ("on", RiskConfig(enabled=True, replay_prob=args.replay_prob)),
    ):
        out[name] = measure(model, settings, risk, args.rollouts, args.rollout_steps)
    out["config"] = vars(args)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
