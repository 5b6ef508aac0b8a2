"""Stage 1 with DAgger: the learner drives, the teacher labels every state it visits.

Round ``r`` (``r = 0 .. rounds-1``) runs ``bc.demo_steps`` env steps. At each step the learner
(greedy, with the deployed runtime's step cache) proposes an action and the teacher
(``bc.expert_mode``; ``explorer`` knows only what the robot has seen) labels the state; the
teacher's action is executed with probability

    beta_r = beta0 * beta_decay^r

(per env and step), otherwise the learner's; with ``noise`` > 0 a teacher's step executes a
random action (never ``end``) with that probability instead, so the teacher's own episodes show
small mistakes and its recovery. Every visited state keeps the teacher's label
(relabelled ``end`` wherever ``end`` would succeed, :mod:`safevla_train.bc`), every episode is
kept (a failed learner episode is labelled all the same), the episodes are aggregated with all
earlier rounds', and the policy is trained on the aggregate for ``bc.updates`` steps with the
stage-1 loss, continuing one optimiser across rounds (or, with ``fresh_model``, a new policy
and optimiser trained on the whole aggregate each round, as DAgger is usually stated; with
``bc.heldout_every`` a held-out tenth of the episodes stops each round's training at its best).

Reported per round: ``dagger/agreement``, the share of the learner's own steps (those it drove)
on which its action equals the label: the policy-vs-teacher agreement on the state
distribution it induces, which DAgger drives up; where it matters most for success, its `end`
recall (``dagger/end_recall``) and how often it proposes `end` where it would fail
(``dagger/wrong_end_rate``); plus a greedy evaluation on fresh episodes.

Resume: each round's episodes are saved in ``<out>/data/round_NNN.npz`` and the checkpoint holds
the model, the optimiser, the sampling generators and the per-round history, so an interrupted
run continues at the next round with the same data and state.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from safevla_core.actions import BUMP_FIELDS, END, NUM_ACTIONS, PROPRIO_FIELDS
from safevla_train.bc import (
    Demo,
    EpisodeRecorder,
    check_recorded_inputs,
    demo_settings,
    train_bc,
)
from safevla_train.config import DAggerConfig, RiskConfig, to_dict
from safevla_train.evaluate import evaluate
from safevla_train.model import VLAPolicy, optional_inputs
from safevla_train.risk import make_envs
from safevla_train.rollout import Stepper
from sim_bridge.tasks.objnav import SEEN_DIM

DEMO_FIELDS = ("frames", "actions", "taken", "goal", "prev_action", "holding")
DEMO_FIELDS += ("ret_r", "ret_c", "y_q", "seen", "bump", "proprio")


def beta_of(cfg: DAggerConfig, round_index: int) -> float:
    """P(the teacher's action is executed) in a round."""
    return float(cfg.beta0 * cfg.beta_decay**round_index)


def collect_round(
    model: VLAPolicy, cfg: DAggerConfig, round_index: int, progress: bool = True
) -> tuple[list[Demo], dict]:
    """One round of learner/teacher rollouts; returns the episodes and the round's statistics."""
    bc = cfg.bc
    venv, _ = make_envs(demo_settings(bc), RiskConfig(enabled=False), subprocess=cfg.subprocess)
    n = venv.num_envs
    learner = Stepper(model, n)
    recorder = EpisodeRecorder(n, bc, (bc.model.image_height, bc.model.image_width))
    rng = np.random.default_rng([bc.seed, round_index])
    beta = beta_of(cfg, round_index)
    obs, infos = venv.reset(seed=bc.seed + 7919 * (round_index + 1))
    relabels = _relabels(infos, bc.end_relabel_tasks)
    demos: list[Demo] = []
    counts = np.zeros(len(COUNT_KEYS), np.int64)
    t0 = time.time()
    bar = tqdm(total=bc.demo_steps, desc=f"dagger round {round_index}", disable=not progress)
    for _ in range(0, bc.demo_steps, n):
        venv.request_labels(bc.expert_mode)  # the teacher plans while the learner runs
        proposed = learner.act(obs)
        labels, goal, seen, options = venv.receive_labels()
        target = np.where(goal & relabels, END, labels)
        learner_drives = rng.random(n) >= beta
        executed = np.where(learner_drives, proposed, labels)
        if cfg.noise > 0:
            executed = perturb(executed, ~learner_drives, cfg.noise, rng)
        accepted = options[np.arange(n), proposed] & ~(goal & relabels)
        counts += learner_counts(proposed, target, learner_drives, accepted)
        if cfg.accept_options:
            labels = np.where(learner_drives & accepted, proposed, labels)
        nobs, r, _, term, trunc, infos = venv.step(executed)
        done = term | trunc
        demos += recorder.record(
            obs, labels, goal, r, done, infos, taken=executed, features=learner.features, seen=seen
        )
        learner.episodes_ended(done)
        # (an auto-reset episode's task shows in the next step's info; ended tasks keep theirs)
        relabels = _relabels(infos, bc.end_relabel_tasks)
        obs = nobs
        bar.update(n)
        agree = learner_rates(counts)["dagger/agreement"]
        bar.set_postfix(episodes=len(demos), agree=f"{agree:.2f}")
    bar.close()
    venv.close()
    demos += recorder.flush()  # cut episodes: their labels are as good as any
    stats = {
        "dagger/beta": beta,
        "dagger/noise": cfg.noise,
        **learner_rates(counts),
        "dagger/episodes": len(demos),
        "dagger/success_rate": float(np.mean([d.success for d in demos])) if demos else 0.0,
        "dagger/labelled_steps_per_s": bc.demo_steps / (time.time() - t0),
    }
    return demos, stats


# what a perturbation may execute: every action but `end`
NOT_END = np.array([a for a in range(NUM_ACTIONS) if a != END])


def perturb(
    actions: np.ndarray, where: np.ndarray, p: float, rng: np.random.Generator
) -> np.ndarray:
    """``actions`` with, at each ``where`` entry and probability ``p``, a uniformly random
    action other than ``end`` (a perturbation never ends an episode)."""
    hit = where & (rng.random(len(actions)) < p)
    return np.where(hit, rng.choice(NOT_END, len(actions)), actions)


# Per round, over the steps the learner drove: steps, label agreed, `end` labels, of those
# proposed `end`, other labels, of those proposed `end`, label agreed or proposal among the
# teacher's options.
COUNT_KEYS = ("drove", "agreed", "end_labels", "end_agreed", "other_labels", "wrong_ends")
COUNT_KEYS += ("option_agreed",)


def learner_counts(
    proposed: np.ndarray, target: np.ndarray, drives: np.ndarray, accepted: np.ndarray
) -> np.ndarray:
    """The :data:`COUNT_KEYS` of one step of every env (the learner's proposals, the
    (relabelled) teacher labels, which envs the learner drove and where its proposal is
    among the teacher's options)."""
    p, t, ok = proposed[drives], target[drives], accepted[drives]
    end_label, end_proposed = t == END, p == END
    return np.array(
        [
            len(p),
            (p == t).sum(),
            end_label.sum(),
            (end_label & end_proposed).sum(),
            (~end_label).sum(),
            (~end_label & end_proposed).sum(),
            ((p == t) | ok).sum(),
        ],
        np.int64,
    )


def learner_rates(counts: np.ndarray) -> dict:
    """Round statistics from summed :func:`learner_counts`: ``dagger/agreement`` (the label
    agreed on the learner's own steps), ``dagger/option_agreement`` (the label agreed or the
    proposal was among the teacher's options), ``dagger/end_recall`` (of its steps labelled
    `end`, i.e. where `end` would succeed: the share it ended on) and
    ``dagger/wrong_end_rate`` (of its other steps: the share it proposed `end` on), NaN where
    there was no such step."""
    c = dict(zip(COUNT_KEYS, (int(v) for v in counts), strict=True))

    def rate(num: str, den: str) -> float:
        return c[num] / c[den] if c[den] else float("nan")

    return {
        "dagger/agreement": rate("agreed", "drove"),
        "dagger/option_agreement": rate("option_agreed", "drove"),
        "dagger/end_recall": rate("end_agreed", "end_labels"),
        "dagger/wrong_end_rate": rate("wrong_ends", "other_labels"),
        "dagger/learner_steps": c["drove"],
    }


def _relabels(infos: list[dict], tasks: tuple[str, ...]) -> np.ndarray:
    """Per env: does its task take ``end`` wherever ``end`` would succeed (the labels'
    relabelling, :func:`safevla_train.bc._to_demo`)?"""
    return np.asarray([i.get("task") in tasks for i in infos])


def save_demos(path: Path, demos: list[Demo]) -> None:
    """Episodes as one compressed npz (no pickles: loads with ``allow_pickle=False``)."""
    lengths = np.asarray([len(d.actions) for d in demos], np.int64)
    arrays = {k: np.concatenate([getattr(d, k) for d in demos]) for k in DEMO_FIELDS}
    if demos and all(d.explored is not None for d in demos):  # recorded for a map policy
        arrays["explored"] = np.concatenate([d.explored for d in demos])
    arrays["instr"] = np.stack([d.instr for d in demos])
    arrays["success"] = np.asarray([d.success for d in demos], bool)
    arrays["cost"] = np.asarray([d.cost for d in demos], np.float64)
    arrays["target_type"] = np.asarray([d.target_type for d in demos], np.int64)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, lengths=lengths, **arrays)
    tmp.replace(path)


def load_demos(path: Path) -> list[Demo]:
    """Inverse of :func:`save_demos`."""
    with np.load(path, allow_pickle=False) as z:
        bounds = np.concatenate([[0], np.cumsum(z["lengths"])])
        cols = {k: z[k] for k in DEMO_FIELDS if k in z}
        steps = int(z["lengths"].sum())
        if "seen" not in cols:  # rounds saved before the label existed: none seen
            cols["seen"] = np.zeros((steps, SEEN_DIM), bool)
        if "bump" not in cols:  # rounds saved before the motion feedback was recorded
            cols["bump"] = np.zeros((steps, len(BUMP_FIELDS)), np.float32)
        if "proprio" not in cols:  # rounds saved before the arm's joint state was recorded
            cols["proprio"] = np.full((steps, len(PROPRIO_FIELDS)), np.nan, np.float32)
        # rounds saved before the per-episode target type existed: unknown (-1)
        types = z["target_type"] if "target_type" in z else np.full(len(z["lengths"]), -1)
        explored = z.get("explored")  # None: not recorded
        return [
            Demo(
                **{k: cols[k][a:b] for k in DEMO_FIELDS},
                explored=None if explored is None else explored[a:b],
                instr=z["instr"][i],
                success=bool(z["success"][i]),
                cost=float(z["cost"][i]),
                target_type=int(types[i]),
            )
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
        ]


def _fresh_like(model: VLAPolicy) -> VLAPolicy:
    """A new policy of ``model``'s architecture; a frozen detector keeps ``model``'s weights."""
    fresh = VLAPolicy(model.cfg, detector_weights=False)
    if fresh.backbone_dim:
        fresh.encoder.detector.load_state_dict(model.encoder.detector.state_dict())
    return fresh


def has_input(weights: dict, name: str) -> bool:
    """Whether a policy's weights include the projection of optional input ``name``
    (:func:`safevla_train.model.optional_inputs`)."""
    return any(k.startswith(f"{name}_proj.") for k in weights)


def _added_before(state: dict | None) -> list[str]:
    """The optional inputs an earlier resume of the run added, in the order of its
    optimiser's extra parameter groups (checkpoints before the record: the motion feedback,
    the only input a resume could add then)."""
    if state is None:
        return []
    if "added_inputs" in state:
        return list(state["added_inputs"])
    return ["bump"] if len(state["optimizer"]["param_groups"]) == 2 else []


def run_dagger(
    cfg: DAggerConfig, out: Path, state: dict | None = None, writer=None, progress: bool = True
) -> dict:
    """All rounds from ``state`` (a checkpoint of this run, or None to start); writes
    ``<out>/checkpoint.pt`` (kind ``bc``: export and ``--init`` take it) after every round."""
    from safevla_train.checkpoint import save_checkpoint

    bc = cfg.bc
    # a resumed run's detector weights come with its state (its file is not needed again)
    model = VLAPolicy(bc.model, detector_weights=state is None)
    # a resumed run may add optional inputs (bc.model.bump_input, explored_input, ...) to a
    # policy without them: their projections start at zero ...
    adds = [
        n
        for n in optional_inputs(bc.model)
        if state is not None and not has_input(state["model"], n)
    ]
    # ... and each is a parameter group of its own, after those an earlier resume added
    added = _added_before(state)
    grouped = added + adds  # the optimiser's extra groups, in order (saved with the run)
    dropped = [n for n in grouped if getattr(model, f"{n}_proj", None) is None]
    if dropped:
        raise ValueError(
            f"the run's policy reads {dropped} but bc.model does not; resume with the run's "
            "own model settings"
        )
    extra = {n: list(getattr(model, f"{n}_proj").parameters()) for n in grouped}
    held = {p for ps in extra.values() for p in ps}
    params = [p for p in model.parameters() if p not in held]
    opt = torch.optim.AdamW(params, lr=bc.lr, weight_decay=bc.weight_decay)
    for n in added:
        opt.add_param_group({"params": extra[n]})
    rng = np.random.default_rng(bc.seed)
    history: list[dict] = []
    if state is not None:
        try:
            missing, unexpected = model.load_state_dict(state["model"], strict=not adds)
        except RuntimeError as exc:  # a shape or a key that does not fit
            missing, unexpected = [str(exc).splitlines()[0]], []
        new = tuple(f"{n}_proj." for n in adds)
        if unexpected or any(not k.startswith(new) for k in missing):
            raise ValueError(
                f"the run's checkpoint does not fit bc.model (missing {missing[:4]}, "
                f"unexpected {unexpected[:4]}); resume with the run's own model settings"
            )
        opt.load_state_dict(state["optimizer"])
        for n in adds:  # starts at zero: the policy acts as before until it learns
            opt.add_param_group({"params": extra[n]})
        rng.bit_generator.state = state["np_gen"]
        torch.set_rng_state(state["torch_rng"])
        history = list(state["history"])
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    demos: list[Demo] = []
    for r in range(len(history)):
        demos += load_demos(data / f"round_{r:03d}.npz")
    check_recorded_inputs(bc.model, demos)  # before a round is spent on a refused run
    for r in range(len(history), cfg.rounds):
        new, stats = collect_round(model.eval(), cfg, r, progress)
        save_demos(data / f"round_{r:03d}.npz", new)
        demos += new
        if cfg.fresh_model:  # train a new policy on the aggregate (seeded: resume is exact)
            torch.manual_seed(bc.seed + 7919 * (r + 1))
            model = _fresh_like(model)
            opt = torch.optim.AdamW(model.parameters(), lr=bc.lr, weight_decay=bc.weight_decay)
            grouped = []
        t0 = time.time()
        logs = train_bc(model, demos, bc, writer, progress, opt=opt, rng=rng, step0=r * bc.updates)
        stats["dagger/train_s"] = time.time() - t0
        stats["dagger/labelled_frames"] = int(sum(len(d.actions) for d in demos))
        stats.update(logs)
        if cfg.eval_episodes:
            ev = evaluate(model, demo_settings(bc), cfg.eval_episodes, seed=bc.seed + 104729 * r)
            stats["eval/success_rate"] = float(ev["success_rate"])
            stats["eval/cost_mean"] = float(ev["cost_mean"])
        history.append({"round": r, **stats})
        _log_round(history[-1], writer, (r + 1) * bc.updates)
        payload = {
            "kind": "bc",
            "config": to_dict(bc),
            "dagger": to_dict(cfg),
            "model_config": to_dict(bc.model),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "np_gen": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": history,
            "added_inputs": grouped,
            "counters": {"updates": (r + 1) * bc.updates, "rounds": r + 1},
        }
        save_checkpoint(out / "checkpoint.pt", payload)
        (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    return history[-1] if history else {}


def _log_round(stats: dict, writer, step: int) -> None:
    def name(k: str) -> str:
        return k.removeprefix("dagger/").replace("/", "_")

    line = ", ".join(
        f"{name(k)} {v:.3g}" if isinstance(v, float) else f"{name(k)} {v}"
        for k, v in stats.items()
        if k.startswith(("dagger/", "eval/", "round"))
    )
    print(f"[dagger] {line}", flush=True)
    if writer is not None:
        for k, v in stats.items():
            if isinstance(v, int | float) and "/" in k:
                writer.add_scalar(k, v, step)
