"""Stage 1: behaviour cloning of the VLA on expert demonstrations (and DAgger data).

Demonstrations come from ``sim_bridge.expert.Expert(mode)`` (``careless`` by default: the paper's
safety-unaware imitation start) acting in ``SyncVecEnv``; frames are resized exactly as the
deployed runtime resizes them. Only successful episodes are kept unless ``keep_failures``.

Per step of a chunk (B chunks of ``chunk_len`` consecutive steps of one episode)::

    L = w(a*_t) CE(logits_t, a*_t) + vf_coef [(V_r - G^r_t)^2 + (V_c - G^c_t)^2]
        + cost_q_coef sum_k (Q_c(s_t, a*_t, k) - y_{t,k})^2 + goal_coef BCE(g_t, [end succeeds])

with ``w(end) = end_weight`` (``end`` is ~2% of ObjectNav labels), the label ``a*_t`` set to
``end`` wherever the simulator's success check holds (``end_relabel_tasks``), the critic terms
read through a stop-gradient at the trunk (``detach_critics``: imitation shapes the trunk for
the policy alone), and ``g_t`` the optional train-time goal head (``model.goal_head``).
Optional terms: ``seen_coef`` x the seen head's multi-label BCE (``model.seen_head``) and
``readout_coef`` x BCE of the target readout's 2 m output against ``[end succeeds]``
(``model.target_readout``, ObjectNav), plus the type head's cross-entropy on the recorded
target types and, with ``type_bank``, on every training instruction (:func:`instruction_bank`).

with Monte-Carlo targets ``G^r_t = sum_i gamma^i r_{t+i}``, ``G^c_t = sum_i gamma^i c_{t+i}``
and ``y_{t,k} = sum_i gamma_q^i c_{t+i,k}``. A chunk that starts mid-episode sees less history
than at run time for its first steps (a mild augmentation; documented deviation).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from safevla_core.actions import BUMP_FIELDS, END, EXPLORED_SHAPE, PROPRIO_FIELDS
from safevla_core.image_preprocessing import compose_frame, resize_rgb
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config import BCConfig, RiskConfig, to_dict
from safevla_train.model import VLAPolicy
from safevla_train.returns import discounted_sum
from safevla_train.risk import make_envs
from safevla_train.rollout import category_costs, explored_tensor, image_spec_for
from safevla_train.text_encoder import embed_texts
from sim_bridge.instructions import fill, object_names, templates
from sim_bridge.tasks.objnav import OBJNAV_TARGETS, SEEN_DIM


@dataclass
class Demo:
    """One demonstration episode (frames already at the model's image size)."""

    frames: np.ndarray  # [T,h,w,3] uint8, or [T,F] float16 frozen-encoder features
    instr: np.ndarray  # [384]
    actions: np.ndarray  # [T] int64
    prev_action: np.ndarray  # [T] int64
    holding: np.ndarray  # [T] float32
    ret_r: np.ndarray  # [T]
    ret_c: np.ndarray  # [T]
    y_q: np.ndarray  # [T,C]
    success: bool
    cost: float
    goal: np.ndarray | None = None  # [T] bool: `end` would succeed at this step
    seen: np.ndarray | None = None  # [T, SEEN_DIM] bool: target types in view (train-time)
    taken: np.ndarray | None = None  # [T] int64 action executed (None: the label, as in demos)
    target_type: int = -1  # index in OBJNAV_TARGETS of the instructed type; -1: not ObjectNav
    bump: np.ndarray | None = None  # [T,2] float32 the last action's feedback (BUMP_FIELDS)
    proprio: np.ndarray | None = None  # [T,2] float32 the arm's joint state (PROPRIO_FIELDS)
    # [T,*EXPLORED_SHAPE] uint8 the explored map, recorded for a model.explored_input policy
    # only (None: not recorded)
    explored: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.actions)
        if self.goal is None:
            self.goal = np.zeros(n, bool)
        if self.seen is None:
            self.seen = np.zeros((n, SEEN_DIM), bool)
        if self.taken is None:
            self.taken = self.actions.copy()
        if self.bump is None:
            self.bump = np.zeros((n, len(BUMP_FIELDS)), np.float32)
        if self.proprio is None:
            self.proprio = np.zeros((n, len(PROPRIO_FIELDS)), np.float32)


# Each type is in view in a few percent of frames: weigh the positives up.
SEEN_POS_WEIGHT = torch.tensor(4.0)


def _mc_returns(x: np.ndarray, gamma: float) -> np.ndarray:
    """Monte-Carlo targets ``out_t = sum_i gamma^i x_{t+i}`` of one episode (along axis 0)."""
    return discounted_sum(torch.from_numpy(x)[None], gamma)[0].numpy()


def demo_settings(cfg: BCConfig):
    """``cfg.env`` with episodes cut at ``cfg.demo_max_steps`` (demonstrations, DAgger rounds
    and their evaluations)."""
    return cfg.env.__class__(**dict(to_dict(cfg.env), max_steps=cfg.demo_max_steps))


def collect_demos(cfg: BCConfig, progress: bool = True) -> list[Demo]:
    """Run the expert for ``cfg.demo_steps`` env steps; return finished episodes."""
    venv, _ = make_envs(demo_settings(cfg), RiskConfig(enabled=False))
    recorder = EpisodeRecorder(venv.num_envs, cfg, (cfg.model.image_height, cfg.model.image_width))
    obs, _ = venv.reset(seed=cfg.seed)
    demos: list[Demo] = []
    bar = tqdm(total=cfg.demo_steps, desc="demos", disable=not progress, unit="step")
    for _ in range(0, cfg.demo_steps, venv.num_envs):
        actions, goal, seen, _ = venv.expert_labels(cfg.expert_mode)
        nobs, r, _, term, trunc, infos = venv.step(actions)
        for demo in recorder.record(obs, actions, goal, r, term | trunc, infos, seen=seen):
            if demo.success or cfg.keep_failures:
                demos.append(demo)
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


class EpisodeRecorder:
    """Per-env buffers of labelled steps, turned into :class:`Demo` episodes when they end.

    Frames are stored at the model's image size, resized exactly as the deployed runtime
    resizes them (:func:`safevla_core.image_preprocessing.resize_rgb`).
    """

    KEYS = ("frames", "actions", "taken", "prev_action", "holding", "reward", "cost", "goal")
    KEYS += ("seen", "bump", "proprio", "explored")

    def __init__(self, num_envs: int, cfg: BCConfig, image_hw: tuple[int, int]) -> None:
        self.cfg = cfg
        self.hw = image_hw
        self.spec = image_spec_for(cfg.model)
        self.resize = self.spec.resize
        self.buf = [self._empty() for _ in range(num_envs)]

    def _empty(self) -> dict:
        return {k: [] for k in self.KEYS}

    def record(
        self, obs, labels, goal, reward, done, infos, taken=None, features=None, seen=None
    ) -> list[Demo]:
        """Add one step of every env (observation before the step, the expert's label, the
        step's outcome, the action executed when it was not the label, the frozen encoder's
        features of the frames when there are any: they are stored instead of the frames, and
        the target types in view); returns the episodes that ended with it."""
        taken = labels if taken is None else taken
        seen = np.zeros((len(labels), SEEN_DIM), bool) if seen is None else seen
        cats = category_costs(infos)
        h, w = self.hw
        finished = []
        for k, b in enumerate(self.buf):
            if features is not None:
                b["frames"].append(np.asarray(features[k], np.float16))
            else:
                frame = compose_frame({c: obs[c][k] for c in self.spec.cameras}, self.spec)
                b["frames"].append(resize_rgb(frame, w, h, self.resize))
            b["instruction"] = obs["instruction"][k]
            b["task"] = infos[k].get("task", "")
            b["target_type"] = infos[k].get("target_type", "")
            for key, v in (
                ("actions", labels[k]),
                ("taken", taken[k]),
                ("prev_action", obs["prev_action"][k]),
                ("holding", obs["holding"][k]),
                ("reward", reward[k]),
                ("cost", cats[k]),
                ("goal", goal[k]),
                ("seen", seen[k]),
                ("bump", obs["bump"][k]),
                ("proprio", obs["proprio"][k]),
            ):
                b[key].append(v)
            if self.cfg.model.explored_input:  # 1.6 kB a step: only where it is read
                b["explored"].append(np.asarray(obs["explored"][k], np.uint8))
            if done[k]:
                finished.append(_to_demo(b, bool(infos[k]["success"]), self.cfg))
                self.buf[k] = self._empty()
        return finished

    def flush(self) -> list[Demo]:
        """The unfinished episodes as they stand (unsuccessful); the buffers start empty."""
        out = [_to_demo(b, False, self.cfg) for b in self.buf if b["actions"]]
        self.buf = [self._empty() for _ in self.buf]
        return out


def _to_demo(b: dict, success: bool, cfg: BCConfig) -> Demo:
    cost_cat = np.asarray(b["cost"], np.float32)
    actions = np.asarray(b["actions"], np.int64)
    goal = np.asarray(b["goal"], bool)
    taken = np.asarray(b["taken"], np.int64)
    if b.get("task") in cfg.end_relabel_tasks:
        actions = np.where(goal, END, actions)  # `end` is right wherever it would succeed
    return Demo(
        frames=np.stack(b["frames"]),
        instr=embed_texts([b["instruction"]])[0],
        actions=actions,
        prev_action=np.asarray(b["prev_action"], np.int64),
        holding=np.asarray(b["holding"], np.float32),
        ret_r=_mc_returns(np.asarray(b["reward"], np.float32), cfg.gamma),
        ret_c=_mc_returns(cost_cat.sum(1), cfg.gamma),
        y_q=_mc_returns(cost_cat, cfg.cost_q_gamma),
        success=success,
        cost=float(cost_cat.sum()),
        goal=goal,
        taken=taken,
        seen=np.asarray(b["seen"], bool).reshape(len(actions), SEEN_DIM) if "seen" in b else None,
        target_type=target_index(b.get("target_type", "")) if b.get("task") == "objnav" else -1,
        bump=(
            np.asarray(b["bump"], np.float32).reshape(len(actions), len(BUMP_FIELDS))
            if "bump" in b
            else None
        ),
        proprio=(
            np.asarray(b["proprio"], np.float32).reshape(len(actions), len(PROPRIO_FIELDS))
            if "proprio" in b
            else None
        ),
        explored=np.stack(b["explored"]) if b.get("explored") else None,
    )


def target_index(target_type: str) -> int:
    """Index of ``target_type`` in :data:`OBJNAV_TARGETS` (the seen head's type axis), -1 for
    anything else (PickUp's objects, no type)."""
    return OBJNAV_TARGETS.index(target_type) if target_type in OBJNAV_TARGETS else -1


SEQ_KEYS = (
    "frames",
    "actions",
    "taken",
    "goal",
    "prev_action",
    "holding",
    "ret_r",
    "ret_c",
    "y_q",
    "seen",
    "bump",
    "proprio",
)


def sample_batch(demos: list[Demo], cfg: BCConfig, rng: np.random.Generator) -> dict:
    """B chunks of up to ``chunk_len`` steps, right-padded (``valid`` False on padding;
    ``loss`` also False on the ``context_burn_in`` first steps of a chunk that starts
    mid-episode)."""
    lens = np.array([len(d.actions) for d in demos], np.float64)
    idx = rng.choice(len(demos), size=cfg.batch_chunks, p=lens / lens.sum())
    b, t = cfg.batch_chunks, cfg.chunk_len
    first = demos[0].frames
    out = {
        "frames": np.zeros((b, t, *first.shape[1:]), first.dtype),
        "instr": np.zeros((b, t, 384), np.float32),
        "valid": np.zeros((b, t), bool),
        "loss": np.zeros((b, t), bool),
        "actions": np.zeros((b, t), np.int64),
        "taken": np.zeros((b, t), np.int64),
        "goal": np.zeros((b, t), np.float32),
        "seen": np.zeros((b, t, SEEN_DIM), np.float32),
        "bump": np.zeros((b, t, len(BUMP_FIELDS)), np.float32),
        "proprio": np.zeros((b, t, len(PROPRIO_FIELDS)), np.float32),
        "target_type": np.full(b, -1, np.int64),
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
        for key in SEQ_KEYS:
            out[key][i, :n] = getattr(d, key)[start:end]
        if d.explored is not None:
            if "explored" not in out:
                out["explored"] = np.zeros((b, t, *EXPLORED_SHAPE), np.uint8)
            out["explored"][i, :n] = d.explored[start:end]
        out["instr"][i, :n] = d.instr
        out["target_type"][i] = d.target_type
        out["valid"][i, :n] = True
        out["loss"][i, (cfg.context_burn_in if start > 0 else 0) : n] = True
    return {k: torch.from_numpy(v) for k, v in out.items()}


def normalise(frames: torch.Tensor, model: VLAPolicy) -> torch.Tensor:
    """uint8 [...,h,w,3] -> float [...,3,h,w], the runtime's ``(x/255 - mean)/std``."""
    x = frames.float() * (1.0 / 255.0)
    mean = torch.tensor(model.cfg.image_mean)
    std = torch.tensor(model.cfg.image_std)
    return ((x - mean) / std).movedim(-1, -3)


def frame_features(model: VLAPolicy, frames: torch.Tensor) -> torch.Tensor:
    """[B,T,...] stored frames (uint8 images, or cached frozen-encoder features) -> [B,T,F]."""
    b, t = frames.shape[:2]
    if frames.is_floating_point():  # cached features of a frozen encoder
        return frames.float()
    img = normalise(frames.reshape(b * t, *frames.shape[2:]), model)
    with torch.set_grad_enabled(torch.is_grad_enabled() and not model.frozen_encoder):
        return model.encoder(img).reshape(b, t, -1)


def _context(batch: dict) -> tuple[torch.Tensor, ...]:
    return batch["instr"], batch["prev_action"], batch["holding"]


def _bump(model: VLAPolicy, batch: dict) -> torch.Tensor | None:
    """The motion feedback for a policy that reads it (``model.bump_input``), else None."""
    return batch["bump"] if model.cfg.bump_input else None


def _proprio(model: VLAPolicy, batch: dict) -> torch.Tensor | None:
    """The arm's joint state for a policy that reads it (``model.proprio_input``), else None."""
    return batch["proprio"] if model.cfg.proprio_input else None


def _explored(model: VLAPolicy, batch: dict) -> torch.Tensor | None:
    """The explored map for a policy that reads it (``model.explored_input``), else None."""
    return explored_tensor(batch["explored"]) if model.cfg.explored_input else None


_BANK: tuple[torch.Tensor, torch.Tensor] | None = None


def instruction_bank() -> tuple[torch.Tensor, torch.Tensor]:
    """Every ObjectNav training instruction: each ``train`` template filled with each spoken
    name of each of :data:`OBJNAV_TARGETS`; ([N,384] embeddings, [N] type indices), embedded
    once per process (no spoken name belongs to two types)."""
    global _BANK
    if _BANK is None:
        texts, types = [], []
        for k, object_type in enumerate(OBJNAV_TARGETS):
            for i in range(len(object_names(object_type))):
                for template in templates("objnav", "train"):
                    texts.append(fill(template, object_type, i))
                    types.append(k)
        _BANK = (torch.from_numpy(embed_texts(texts)), torch.tensor(types))
    return _BANK


def bc_loss(model: VLAPolicy, batch: dict, cfg: BCConfig) -> tuple[torch.Tensor, dict]:
    """The stage-1 loss (module docstring) over valid positions of a batch."""
    b, t = batch["actions"].shape
    feat = frame_features(model, batch["frames"])
    if cfg.feature_dropout and model.training:
        feat = torch.nn.functional.dropout(feat, cfg.feature_dropout)
    seen_logits = model.seen_logits(feat) if model.reads_seen else None
    tok = model.fuse(
        feat,
        *_context(batch),
        seen_logits=seen_logits,
        bump=_bump(model, batch),
        proprio=_proprio(model, batch),
        explored=_explored(model, batch),
    )
    ep = torch.zeros(b, t, dtype=torch.long)
    out = model.forward_sequence(tok, ep, batch["valid"], detach_critics=cfg.detach_critics)
    v = batch.get("loss", batch["valid"]).float()  # attention: valid; loss: past the burn-in
    denom = v.sum().clamp_min(1.0)
    act = batch["actions"]
    ce = torch.nn.functional.cross_entropy(out["logits"].transpose(1, 2), act, reduction="none")
    weight = torch.where(act == END, cfg.end_weight, 1.0)
    cq = out["cost_q"]
    taken = batch["taken"]  # Q_c's targets follow the executed action
    q_taken = cq.gather(2, taken[:, :, None, None].expand(-1, -1, 1, cq.shape[-1])).squeeze(2)
    terms = {
        "losses/bc_ce": (ce * weight * v).sum() / (weight * v).sum().clamp_min(1.0),
        "losses/value": ((out["value"] - batch["ret_r"]) ** 2 * v).sum() / denom,
        "losses/cost_value": ((out["cost_value"] - batch["ret_c"]) ** 2 * v).sum() / denom,
        "losses/cost_q": (((q_taken - batch["y_q"]) ** 2).sum(-1) * v).sum() / denom,
    }
    if "goal_logit" in out:
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            out["goal_logit"], batch["goal"], reduction="none"
        )
        terms["losses/goal"] = (bce * v).sum() / denom
    if model.seen_head is not None:
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            seen_logits, batch["seen"], reduction="none", pos_weight=SEEN_POS_WEIGHT
        )
        terms["losses/seen"] = (bce.mean(-1) * v).sum() / denom
    if model.type_head is not None:
        p_near = model.readout(seen_logits, batch["instr"])[..., 0].clamp(1e-6, 1.0 - 1e-6)
        bce = torch.nn.functional.binary_cross_entropy(p_near, batch["goal"], reduction="none")
        terms["losses/readout"] = (bce * v).sum() / denom
        known = batch["target_type"] >= 0  # chunks whose instructed type is known
        if bool(known.any()):
            type_logits = model.type_logits(batch["instr"][:, 0])
            terms["losses/readout"] = terms["losses/readout"] + torch.nn.functional.cross_entropy(
                type_logits[known], batch["target_type"][known]
            )
        if cfg.type_bank:
            texts, types = instruction_bank()
            terms["losses/type_bank"] = torch.nn.functional.cross_entropy(
                model.type_logits(texts), types
            )
    acc = ((out["logits"].argmax(-1) == act).float() * v).sum() / denom
    loss = (
        terms["losses/bc_ce"]
        + cfg.vf_coef * (terms["losses/value"] + terms["losses/cost_value"])
        + cfg.cost_q_coef * terms["losses/cost_q"]
        + cfg.goal_coef * terms.get("losses/goal", 0.0)
        + cfg.seen_coef * terms.get("losses/seen", 0.0)
        + cfg.readout_coef
        * (terms.get("losses/readout", 0.0) + terms.get("losses/type_bank", 0.0))
    )
    logs = {k: float(x.detach()) for k, x in terms.items()}
    logs["charts/bc_accuracy"] = float(acc)
    return loss, logs


def check_recorded_inputs(model_cfg, demos: list[Demo]) -> None:
    """Refuse episodes that lack an optional input the policy ``model_cfg`` reads (recorded
    before it existed, or without it), instead of training on zeros.

    Raises:
        ValueError: naming the input and how to collect the episodes again.
    """
    if model_cfg.proprio_input and any(np.isnan(d.proprio).any() for d in demos):
        raise ValueError(
            "this policy reads the arm's joint state (model.proprio_input) but some episodes "
            "were recorded without it (DAgger rounds saved before it existed); collect them "
            "again in a new run folder"
        )
    if model_cfg.explored_input and any(
        d.explored is None or d.explored.shape[1:] != EXPLORED_SHAPE for d in demos
    ):
        raise ValueError(
            f"this policy reads the explored map (model.explored_input, {EXPLORED_SHAPE}) but "
            "some episodes were recorded without it, or with another grid (rounds collected "
            "before bc.model.explored_input was set, or before the map's format changed); "
            "collect them again with bc.model.explored_input=true and bc.env.explored_map=true "
            "in a new run folder"
        )


def train_bc(
    model: VLAPolicy,
    demos: list[Demo],
    cfg: BCConfig,
    writer=None,
    progress: bool = True,
    opt: torch.optim.Optimizer | None = None,
    rng: np.random.Generator | None = None,
    step0: int = 0,
) -> dict:
    """``cfg.updates`` AdamW steps of :func:`bc_loss`; returns the last logged scalars.

    With ``cfg.heldout_every`` some episodes are held out (:func:`heldout_split`), their label
    accuracy is measured every ``heldout_every`` updates and the best weights are kept (early
    stopping: on a few tens of thousands of frames the policy memorises its episodes within a few
    hundred updates, and held-out accuracy falls after that).

    ``opt``, ``rng`` and ``step0`` continue an earlier call (DAgger rounds); by default a fresh
    optimiser and a generator seeded ``cfg.seed``.
    """
    check_recorded_inputs(model.cfg, demos)
    rng = np.random.default_rng(cfg.seed) if rng is None else rng
    if opt is None:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    demos, held = heldout_split(demos, cfg)
    best = (-1.0, 0, None)  # held-out accuracy, update, weights
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
        if held and (step % cfg.heldout_every == 0 or step == cfg.updates):
            acc = label_accuracy(model, held)
            model.train()
            if acc > best[0]:
                best = (acc, step, copy.deepcopy(model.state_dict()))
        if step % cfg.log_every == 0 or step == cfg.updates:
            logs["charts/frames_per_s"] = (
                step * cfg.batch_chunks * cfg.chunk_len / (time.time() - t0)
            )
            bar.set_postfix(
                ce=f"{logs['losses/bc_ce']:.3f}", acc=f"{logs['charts/bc_accuracy']:.2f}"
            )
            if writer is not None:
                for k, v in logs.items():
                    writer.add_scalar(k, v, step0 + step)
    if best[2] is not None:  # early stopping: the weights of the best held-out accuracy
        model.load_state_dict(best[2])
        logs["charts/heldout_accuracy"], logs["charts/heldout_best_update"] = best[:2]
    model.eval()
    return logs


def heldout_split(demos: list[Demo], cfg: BCConfig) -> tuple[list[Demo], list[Demo]]:
    """(train, held out): every ``cfg.heldout_stride``-th episode is held out when
    ``cfg.heldout_every`` is on. By position, so an episode aggregated by DAgger stays on its
    side of the split in every later round."""
    if not cfg.heldout_every or len(demos) < 2:
        return demos, []
    k = cfg.heldout_stride
    return [d for i, d in enumerate(demos) if i % k], demos[::k]


@torch.no_grad()
def label_accuracy(model: VLAPolicy, episodes: list[Demo]) -> float:
    """Share of steps whose greedy action equals the label, each episode run whole from its
    first step (as at run time, with ``context_length`` steps of attention)."""
    model.eval()
    correct = total = 0
    for d in episodes:
        t = len(d.actions)
        feat = frame_features(model, torch.from_numpy(np.asarray(d.frames))[None])
        tok = model.fuse(
            feat,
            torch.from_numpy(d.instr)[None, None].expand(1, t, -1),
            torch.from_numpy(d.prev_action)[None],
            torch.from_numpy(d.holding)[None].float(),
            bump=torch.from_numpy(d.bump)[None] if model.cfg.bump_input else None,
            proprio=torch.from_numpy(d.proprio)[None] if model.cfg.proprio_input else None,
            explored=explored_tensor(d.explored)[None] if model.cfg.explored_input else None,
        )
        out = model.forward_sequence(tok, torch.zeros(1, t, dtype=torch.long))
        correct += int((out["logits"].argmax(-1)[0].numpy() == d.actions).sum())
        total += t
    return correct / max(total, 1)
