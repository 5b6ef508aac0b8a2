"""Stage 1: behaviour cloning of the VLA on privileged-expert demonstrations.

Demonstrations come from ``sim_bridge.expert.Expert(mode)`` (``careless`` by default: the paper's
safety-unaware imitation start) acting in ``SyncVecEnv``; frames are resized exactly as the
deployed runtime resizes them. Only successful episodes are kept unless ``keep_failures``.

Per step of a chunk (B chunks of ``chunk_len`` consecutive steps of one episode)::

    L = CE(logits_t, a*_t) + vf_coef [(V_r - G^r_t)^2 + (V_c - G^c_t)^2]
        + cost_q_coef sum_k (Q_c(s_t, a*_t, k) - y_{t,k})^2

with Monte-Carlo targets ``G^r_t = sum_i gamma^i r_{t+i}``, ``G^c_t = sum_i gamma^i c_{t+i}``
and ``y_{t,k} = sum_i gamma_q^i c_{t+i,k}``. A chunk that starts mid-episode sees less history
than at run time for its first steps (a mild augmentation; documented deviation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from tqdm import tqdm

from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config import BCConfig, RiskConfig, to_dict
from safevla_train.model import VLAPolicy
from safevla_train.returns import discounted_sum
from safevla_train.risk import make_envs
from safevla_train.rollout import category_costs
from safevla_train.text_encoder import embed_texts


@dataclass
class Demo:
    """One demonstration episode (frames already at the model's image size)."""

    frames: np.ndarray  # [T,h,w,3] uint8
    instr: np.ndarray  # [384]
    actions: np.ndarray  # [T] int64
    prev_action: np.ndarray  # [T] int64
    holding: np.ndarray  # [T] float32
    ret_r: np.ndarray  # [T]
    ret_c: np.ndarray  # [T]
    y_q: np.ndarray  # [T,C]
    success: bool
    cost: float


def _mc_returns(x: np.ndarray, gamma: float) -> np.ndarray:
    """Monte-Carlo targets ``out_t = sum_i gamma^i x_{t+i}`` of one episode (along axis 0)."""
    return discounted_sum(torch.from_numpy(x)[None], gamma)[0].numpy()


def collect_demos(cfg: BCConfig, progress: bool = True) -> list[Demo]:
    """Run the expert for ``cfg.demo_steps`` env steps; return finished episodes."""
    settings = cfg.env.__class__(**dict(to_dict(cfg.env), max_steps=cfg.demo_max_steps))
    venv, _ = make_envs(settings, RiskConfig(enabled=False))
    hw = (cfg.model.image_width, cfg.model.image_height)
    obs, _ = venv.reset(seed=cfg.seed)
    cur = [_empty_buf() for _ in range(venv.num_envs)]
    demos: list[Demo] = []
    bar = tqdm(total=cfg.demo_steps, desc="demos", disable=not progress, unit="step")
    for _ in range(0, cfg.demo_steps, venv.num_envs):
        actions = venv.expert_actions(cfg.expert_mode)
        nobs, r, _, term, trunc, infos = venv.step(actions)
        cats = category_costs(infos)
        for k in range(venv.num_envs):
            b = cur[k]
            b["frames"].append(cv2.resize(obs["nav_rgb"][k], hw, interpolation=cv2.INTER_AREA))
            b["instruction"] = obs["instruction"][k]
            for key, v in (
                ("actions", actions[k]),
                ("prev_action", obs["prev_action"][k]),
                ("holding", obs["holding"][k]),
                ("reward", r[k]),
                ("cost", cats[k]),
            ):
                b[key].append(v)
            if term[k] or trunc[k]:
                demo = _to_demo(b, bool(infos[k]["success"]), cfg)
                if demo.success or cfg.keep_failures:
                    demos.append(demo)
                cur[k] = _empty_buf()
        obs = nobs
        bar.update(venv.num_envs)
        bar.set_postfix(episodes=len(demos))
    bar.close()
    venv.close()
    if not demos:
        raise RuntimeError(
            f"no usable demonstration in {cfg.demo_steps} steps; raise bc.demo_steps or set "
            "bc.keep_failures=true"
        )
    return demos


def _empty_buf() -> dict:
    return {k: [] for k in ("frames", "actions", "prev_action", "holding", "reward", "cost")}


def _to_demo(b: dict, success: bool, cfg: BCConfig) -> Demo:
    cost_cat = np.asarray(b["cost"], np.float32)
    return Demo(
        frames=np.stack(b["frames"]),
        instr=embed_texts([b["instruction"]])[0],
        actions=np.asarray(b["actions"], np.int64),
        prev_action=np.asarray(b["prev_action"], np.int64),
        holding=np.asarray(b["holding"], np.float32),
        ret_r=_mc_returns(np.asarray(b["reward"], np.float32), cfg.gamma),
        ret_c=_mc_returns(cost_cat.sum(1), cfg.gamma),
        y_q=_mc_returns(cost_cat, cfg.cost_q_gamma),
        success=success,
        cost=float(cost_cat.sum()),
    )


def sample_batch(demos: list[Demo], cfg: BCConfig, rng: np.random.Generator) -> dict:
    """B chunks of up to ``chunk_len`` steps, right-padded (``valid`` False on padding)."""
    lens = np.array([len(d.actions) for d in demos], np.float64)
    idx = rng.choice(len(demos), size=cfg.batch_chunks, p=lens / lens.sum())
    b, t = cfg.batch_chunks, cfg.chunk_len
    h, w = demos[0].frames.shape[1:3]
    out = {
        "frames": np.zeros((b, t, h, w, 3), np.uint8),
        "instr": np.zeros((b, t, 384), np.float32),
        "valid": np.zeros((b, t), bool),
        "actions": np.zeros((b, t), np.int64),
        "prev_action": np.zeros((b, t), np.int64),
        "holding": np.zeros((b, t), np.float32),
        "ret_r": np.zeros((b, t), np.float32),
        "ret_c": np.zeros((b, t), np.float32),
        "y_q": np.zeros((b, t, len(SAFETY_SPEC.categories)), np.float32),
    }
    for i, j in enumerate(idx):
        d = demos[j]
        end = int(rng.integers(1, len(d.actions) + 1))
        start = max(0, end - t)
        n = end - start
        for key in ("frames", "actions", "prev_action", "holding", "ret_r", "ret_c", "y_q"):
            out[key][i, :n] = getattr(d, key)[start:end]
        out["instr"][i, :n] = d.instr
        out["valid"][i, :n] = True
    return {k: torch.from_numpy(v) for k, v in out.items()}


def normalise(frames: torch.Tensor, model: VLAPolicy) -> torch.Tensor:
    """uint8 [...,h,w,3] -> float [...,3,h,w], the runtime's ``(x/255 - mean)/std``."""
    x = frames.float() * (1.0 / 255.0)
    mean = torch.tensor(model.cfg.image_mean)
    std = torch.tensor(model.cfg.image_std)
    return ((x - mean) / std).movedim(-1, -3)


def bc_loss(model: VLAPolicy, batch: dict, cfg: BCConfig) -> tuple[torch.Tensor, dict]:
    """The stage-1 loss (module docstring) over valid positions of a batch."""
    b, t = batch["actions"].shape
    img = normalise(batch["frames"].reshape(b * t, *batch["frames"].shape[2:]), model)
    feat = model.encoder(img).reshape(b, t, -1)
    tok = model.fuse(feat, batch["instr"], batch["prev_action"], batch["holding"])
    ep = torch.zeros(b, t, dtype=torch.long)
    out = model.forward_sequence(tok, ep, batch["valid"])
    v = batch["valid"].float()
    denom = v.sum().clamp_min(1.0)
    act = batch["actions"]
    ce = torch.nn.functional.cross_entropy(out["logits"].transpose(1, 2), act, reduction="none")
    cq = out["cost_q"]
    q_taken = cq.gather(2, act[:, :, None, None].expand(-1, -1, 1, cq.shape[-1])).squeeze(2)
    terms = {
        "losses/bc_ce": (ce * v).sum() / denom,
        "losses/value": ((out["value"] - batch["ret_r"]) ** 2 * v).sum() / denom,
        "losses/cost_value": ((out["cost_value"] - batch["ret_c"]) ** 2 * v).sum() / denom,
        "losses/cost_q": (((q_taken - batch["y_q"]) ** 2).sum(-1) * v).sum() / denom,
    }
    acc = ((out["logits"].argmax(-1) == act).float() * v).sum() / denom
    loss = (
        terms["losses/bc_ce"]
        + cfg.vf_coef * (terms["losses/value"] + terms["losses/cost_value"])
        + cfg.cost_q_coef * terms["losses/cost_q"]
    )
    logs = {k: float(x.detach()) for k, x in terms.items()}
    logs["charts/bc_accuracy"] = float(acc)
    return loss, logs


def train_bc(
    model: VLAPolicy, demos: list[Demo], cfg: BCConfig, writer=None, progress: bool = True
) -> dict:
    """``cfg.updates`` AdamW steps of :func:`bc_loss`; returns the last logged scalars."""
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    logs: dict = {}
    t0 = time.time()
    bar = tqdm(range(1, cfg.updates + 1), desc="bc", disable=not progress, unit="upd")
    for step in bar:
        loss, logs = bc_loss(model, sample_batch(demos, cfg, rng), cfg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % cfg.log_every == 0 or step == cfg.updates:
            logs["charts/frames_per_s"] = (
                step * cfg.batch_chunks * cfg.chunk_len / (time.time() - t0)
            )
            bar.set_postfix(
                ce=f"{logs['losses/bc_ce']:.3f}", acc=f"{logs['charts/bc_accuracy']:.2f}"
            )
            if writer is not None:
                for k, v in logs.items():
                    writer.add_scalar(k, v, step)
    model.eval()
    return logs
