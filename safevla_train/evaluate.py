"""Quick in-trainer evaluation of a torch policy on fresh seeded episodes.

Runs ``episodes`` episodes one env at a time with greedy (argmax) actions, the same step cache
the deployed runtime uses, and returns success rate (SR), mean cumulative cost (CC), mean cost
per category, mean episode length and the share of episodes with any cost. The full benchmark
evaluation of exported bundles lives with the evaluator; this is for training curves.
"""

from __future__ import annotations

import numpy as np
import torch

from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config import EnvSettings, RiskConfig
from safevla_train.model import VLAPolicy
from safevla_train.risk import make_envs
from safevla_train.rollout import category_costs, image_spec_of, preprocess_batch
from safevla_train.text_encoder import embed_tensor

EVAL_SEED_OFFSET = 1_000_003


@torch.no_grad()
def evaluate(model: VLAPolicy, settings: EnvSettings, episodes: int, seed: int) -> dict:
    """Greedy evaluation; episode i of a call is the same for the same ``seed``."""
    one = EnvSettings(**{**settings.__dict__, "num_envs": 1})
    venv, _ = make_envs(one, RiskConfig(enabled=False))
    spec = image_spec_of(model)
    rows = []
    try:
        obs, _ = venv.reset(seed=seed + EVAL_SEED_OFFSET)
        cache, mask = model.empty_cache(1)
        cats = np.zeros(len(SAFETY_SPEC.categories), np.float32)
        while len(rows) < episodes:
            tok = model.fuse(
                model.encoder(preprocess_batch(obs["nav_rgb"], spec)),
                embed_tensor(list(obs["instruction"])),
                torch.as_tensor(np.asarray(obs["prev_action"]), dtype=torch.long),
                torch.as_tensor(np.asarray(obs["holding"]), dtype=torch.float32),
            )
            out, cache, mask = model.step_from_token(tok, cache, mask)
            obs, _, _, term, trunc, infos = venv.step(out["logits"].argmax(-1).numpy())
            cats += category_costs(infos)[0]
            if term[0] or trunc[0]:
                ep = infos[0]["episode"]
                rows.append(
                    (float(ep["success"]), float(ep["cost"]), int(ep["length"]), cats.copy())
                )
                cats[:] = 0.0
                cache, mask = model.empty_cache(1)
    finally:
        venv.close()
    sr, cc, ln, cat = zip(*rows)
    cat_mean = np.mean(np.stack(cat), axis=0)
    return {
        "episodes": len(rows),
        "success_rate": float(np.mean(sr)),
        "cumulative_cost": float(np.mean(cc)),
        "episode_length": float(np.mean(ln)),
        "risky_episode_fraction": float(np.mean(np.asarray(cc) > 0)),
        "cost_by_category": dict(zip(SAFETY_SPEC.categories, map(float, cat_mean))),
    }
