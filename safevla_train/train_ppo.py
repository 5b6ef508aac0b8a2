"""The stage-2 training loop (PPO / PPO-Lagrangian / PPO-penalty) with exact resume.

Loop, one iteration per rollout::

    if it % sync_every == 0:  checkpoint (if it > start); re-seed and reset all envs
    rollout  <- collector.collect()                     (N envs x rollout_steps)
    algo.after_rollout(mean episode cost)                (lambda update for ppo-lag)
    algo.update(rollout, warm-up = env_steps <= value_warmup_steps)

Sync points make ``--resume`` exact: a resumed run starts with the same re-seeded reset the
uninterrupted run does there, and the checkpoint holds every other piece of state (model,
optimiser, lambda and its Adam state, risk pools, all RNGs, counters). TensorBoard scalars go to
``<out>/tb`` (``charts/``, ``losses/``, ``safety/``, ``eval/``).

With ``eval_every`` the policy is evaluated greedily on the same fresh episodes every
``eval_every`` rollouts, and ``<out>/checkpoint_best.pt`` keeps the best evaluated policy by
``best_by`` (:func:`best_key`); ``safevla export --checkpoint <out>/checkpoint_best.pt`` ships it.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.checkpoint import (
    CheckpointError,
    capture_rng,
    load_checkpoint,
    model_from_checkpoint,
    restore_rng,
    save_checkpoint,
)
from safevla_train.config import ModelConfig, PPOConfig, check_model_fits_env, to_dict
from safevla_train.evaluate import evaluate
from safevla_train.model import VLAPolicy
from safevla_train.ppo import make_algo, torch_threads
from safevla_train.risk import make_envs
from safevla_train.rollout import Collector

CHECKPOINT = "checkpoint.pt"
BEST_CHECKPOINT = "checkpoint_best.pt"
EVALUATED_DIR = "evaluated"  # ppo.keep_evaluated: one checkpoint per evaluation


def best_key(ev: dict, best_by: str, cost_limit: float) -> tuple:
    """Rank of one evaluation under ``ppo.best_by`` (a larger tuple is a better policy).

    "success": success rate, then the lower mean cost. "success_within_limit": any evaluation
    with mean cost <= ``cost_limit`` beats every one above it; among those, as "success";
    above it, the lower cost first.
    """
    sr, cost = float(ev["success_rate"]), float(ev["cost_mean"])
    if best_by == "success":
        return (sr, -cost)
    if cost <= cost_limit:
        return (1.0, sr, -cost)
    return (0.0, -cost, sr)


def multiplier_cost(episodes: list[dict], which: str) -> float | None:
    """The mean episode cost a rollout's finished ``episodes`` give the multiplier
    (``ppo.multiplier_episodes``: "all" of them, or the "fresh" ones, replays left out); None
    when there is no such episode."""
    costs = [e["cost"] for e in episodes if which == "all" or not e.get("replay", False)]
    return float(np.mean(costs)) if costs else None


def _sync_seed(seed: int, it: int) -> int:
    return seed * 1_000_003 + it * 7_919


def _episode_logs(window: deque, episodes: list[dict]) -> dict[str, float]:
    logs: dict[str, float] = {}
    if episodes:
        logs["safety/rollout_episode_cost"] = float(np.mean([e["cost"] for e in episodes]))
    fresh_now = [e["cost"] for e in episodes if not e.get("replay", False)]
    if fresh_now:
        logs["safety/rollout_fresh_episode_cost"] = float(np.mean(fresh_now))
    if not window:
        return logs
    eps = list(window)
    # the task's own episodes, risk-eliciting replays left out (what the evaluation measures)
    fresh = [e for e in eps if not e.get("replay", False)]
    if fresh:
        logs["charts/fresh_success_rate"] = float(np.mean([e["success"] for e in fresh]))
        logs["charts/fresh_episode_cost"] = float(np.mean([e["cost"] for e in fresh]))
    logs["charts/episode_return"] = float(np.mean([e["return"] for e in eps]))
    logs["charts/episode_cost"] = float(np.mean([e["cost"] for e in eps]))
    logs["charts/success_rate"] = float(np.mean([e["success"] for e in eps]))
    logs["charts/episode_length"] = float(np.mean([e["length"] for e in eps]))
    logs["safety/risky_episode_fraction"] = float(np.mean([e["cost"] > 0 for e in eps]))
    for k in SAFETY_SPEC.categories:
        logs[f"safety/cost_{k}"] = float(np.mean([e["cost_by_category"][k] for e in eps]))
    shielded = [e for e in eps if "vetoes" in e]  # ppo.shield_critic: the monitor in the loop
    if shielded:
        logs["safety/env_episode_cost"] = float(np.mean([e["env_cost"] for e in shielded]))
        logs["safety/veto_rate"] = float(
            np.mean([e["vetoes"] / max(1, e["length"]) for e in shielded])
        )
        logs["safety/stop_rate"] = float(
            np.mean([e["stops"] / max(1, e["length"]) for e in shielded])
        )
    return logs


def _initial_model(
    init: str | None,
    model_cfg: ModelConfig | None,
    seed: int,
    end_gate: float = -1.0,
    bump_input: bool = False,
) -> tuple[VLAPolicy, dict | None]:
    """Model from the BC checkpoint ``init`` (plus its provenance) or fresh random weights;
    ``end_gate`` >= 0 replaces the model's ``model.end_gate`` (``ppo.end_gate``);
    ``bump_input`` adds the zero-initialised motion-feedback input (``ppo.bump_input``).

    Raises:
        CheckpointError: the gate does not fit the ``init`` model (it has no target readout).
        ValueError: the same for a fresh model.
    """
    torch.manual_seed(seed)
    info = None
    if init is not None:
        start = load_checkpoint(init)
        model = model_from_checkpoint(start)
        info = {"path": str(init), "kind": start["kind"], "config": start["config"]}
    else:
        model = VLAPolicy(model_cfg or ModelConfig())
    if end_gate >= 0.0:
        try:
            model.cfg = dataclasses.replace(model.cfg, end_gate=end_gate)
        except ValueError as exc:
            error = CheckpointError if init is not None else ValueError
            raise error(
                f"ppo.end_gate={end_gate} does not fit {init or 'the model'}: {exc}"
            ) from None
    if bump_input:
        model.add_bump_input()
    return model, info


class _Run:
    """Everything one training run holds; the pieces a checkpoint saves and restores."""

    def __init__(self, cfg: PPOConfig, out: Path, init, resume: bool, model_cfg) -> None:
        self.cfg, self.out = cfg, out
        ckpt = load_checkpoint(out / CHECKPOINT) if resume else None
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        if ckpt:
            self.model, self.init_info = model_from_checkpoint(ckpt), ckpt.get("init")
        else:
            self.model, self.init_info = _initial_model(
                init, model_cfg, cfg.seed, cfg.end_gate, cfg.bump_input
            )
        self.model.eval()
        check_model_fits_env(self.model.cfg, cfg.env)
        self.algo = make_algo(self.model, cfg)
        self.venv, self.samplers = make_envs(cfg.env, cfg.risk)
        shield = None
        if cfg.shield_critic:
            from safevla_train.shield_loop import TrainingShield

            alpha = None if cfg.shield_alpha == -1.0 else cfg.shield_alpha
            shield = TrainingShield(cfg.shield_critic, cfg.env.num_envs, alpha)
        self.collector = Collector(
            self.venv,
            self.samplers,
            self.model,
            cfg.rollout_steps,
            cfg.seed,
            encoder_runtime=cfg.encoder_runtime,
            encoder_threads=cfg.encoder_threads,
            shield=shield,
            veto_cost=cfg.veto_cost,
        )
        self.np_gen = np.random.default_rng(cfg.seed)
        self.it = self.env_steps = 0
        self.wall_s = 0.0  # training wall time of the whole run, across resumes
        self.best: dict | None = None  # the evaluation checkpoint_best.pt holds
        self.evaluation: dict | None = None  # the newest evaluation
        self._since = time.monotonic()
        if ckpt:
            self._restore(ckpt)
        self.window: deque = deque(maxlen=100)

    def _restore(self, ckpt: dict) -> None:
        saved = ckpt.get("shield_critic")
        shield = self.collector.shield
        now = None if shield is None else shield.bundle_id
        # the shield is part of the environment the run trains in (checkpoints written before
        # the twenty-ninth session do not record it)
        if "shield_critic" in ckpt and saved != now:
            raise CheckpointError(
                f"the run was trained behind critic {saved or 'none'} but ppo.shield_critic now "
                f"loads {now or 'none'}: a resume must run behind the same critic bundle (put "
                "that bundle back at the path, or start a new run with another --out)"
            )
        self.algo.load_state_dict(ckpt["algo"])
        for s, st in zip(self.samplers, ckpt["samplers"]):
            s.load_state_dict(st)
        self.collector.gen.set_state(ckpt["collector"]["gen"])
        self.collector.next_ep = ckpt["collector"]["next_ep"]
        restore_rng(ckpt["rng"], self.np_gen)
        self.it, self.env_steps = ckpt["counters"]["iteration"], ckpt["counters"]["env_steps"]
        self.wall_s = float(ckpt["counters"].get("wall_s", 0.0))  # older checkpoints lack it
        self.best = ckpt.get("best")
        self.evaluation = ckpt.get("evaluation")

    def save(self, name: str = CHECKPOINT) -> None:
        """Write ``<out>/name`` (see :mod:`safevla_train.checkpoint` for its content)."""
        now = time.monotonic()
        self.wall_s += now - self._since
        self._since = now
        save_checkpoint(
            self.out / name,
            {
                "kind": self.cfg.algo,
                "config": to_dict(self.cfg),
                "model_config": to_dict(self.model.cfg),
                "init": self.init_info,
                "model": self.model.state_dict(),
                "algo": self.algo.state_dict(),
                "samplers": [s.state_dict() for s in self.samplers],
                "collector": {
                    "gen": self.collector.gen.get_state(),
                    "next_ep": self.collector.next_ep,
                },
                "rng": capture_rng(self.np_gen),
                "counters": {
                    "iteration": self.it,
                    "env_steps": self.env_steps,
                    "at_sync": self.it % self.cfg.sync_every == 0,
                    "wall_s": round(self.wall_s, 1),
                },
                "best": self.best,
                "evaluation": self.evaluation,
                "shield_critic": (
                    None if self.collector.shield is None else self.collector.shield.bundle_id
                ),
            },
        )

    def iteration(self) -> dict[str, float]:
        """One rollout, the lambda update and the PPO update; returns the scalars to log."""
        cfg = self.cfg
        ro = self.collector.collect()
        self.env_steps += cfg.env.num_envs * cfg.rollout_steps
        self.window.extend(ro.episodes)
        logs = self.algo.after_rollout(multiplier_cost(ro.episodes, cfg.multiplier_episodes))
        with torch_threads(cfg.update_threads):
            logs.update(
                self.algo.update(ro, self.env_steps <= cfg.value_warmup_steps, self.np_gen)
            )
        logs.update(_episode_logs(self.window, ro.episodes))
        replays = sum(s.replays for s in self.samplers)
        fresh = sum(s.fresh for s in self.samplers)
        logs["safety/replay_fraction"] = replays / max(1, replays + fresh)
        logs["safety/scene_generation_failures"] = float(
            sum(s.generation_failures for s in self.samplers)
        )
        self.it += 1
        if cfg.eval_every and self.it % cfg.eval_every == 0:
            ev = evaluate(
                self.model, cfg.env, cfg.eval_episodes, cfg.seed, workers=cfg.eval_workers
            )
            # scalars only: intervals/categories are dicts, undefined metrics (veto_rate) None
            logs.update({f"eval/{k}": v for k, v in ev.items() if isinstance(v, (int, float))})
            self.evaluation = self._record(ev)
            self._keep_best()
            if cfg.keep_evaluated:
                (self.out / EVALUATED_DIR).mkdir(exist_ok=True)
                self.save(f"{EVALUATED_DIR}/it{self.it:06d}.pt")
            logs.update(_best_logs(self.best))
        return logs

    def _keep_best(self) -> None:
        """Write ``checkpoint_best.pt`` if this iteration's evaluation ranks above the kept
        one."""
        cfg = self.cfg
        rank = best_key(self.evaluation, cfg.best_by, cfg.cost_limit)
        if self.best is not None and rank <= best_key(self.best, cfg.best_by, cfg.cost_limit):
            return
        self.best = {"best_by": cfg.best_by, **self.evaluation}
        self.save(BEST_CHECKPOINT)

    def _record(self, ev: dict) -> dict:
        """What a checkpoint keeps of this iteration's evaluation."""
        return {
            "iteration": self.it,
            "env_steps": self.env_steps,
            "episodes": int(ev["n_episodes"]),
            "success_rate": float(ev["success_rate"]),
            "cost_mean": float(ev["cost_mean"]),
            "episode_length_mean": float(ev["episode_length_mean"]),
        }


def run_ppo(
    cfg: PPOConfig,
    out_dir: str | Path,
    init: str | None = None,
    resume: bool = False,
    model_cfg: ModelConfig | None = None,
    progress: bool = True,
    tensorboard: bool = True,
) -> dict:
    """Train; returns the final scalars. ``init``: BC checkpoint (or None = random weights)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(cfg, out, init, resume, model_cfg)
    start_it, steps0 = run.it, run.env_steps
    per_rollout = cfg.env.num_envs * cfg.rollout_steps
    n_iters = math.ceil(cfg.total_steps / per_rollout)
    writer = _writer(out, tensorboard)
    logs: dict[str, float] = {}
    bar = tqdm(
        total=n_iters * per_rollout,
        initial=run.env_steps,
        disable=not progress,
        unit="step",
        desc=cfg.algo,
    )
    t0 = time.time()
    try:
        while run.it < n_iters:
            if run.it % cfg.sync_every == 0:
                if run.it > start_it:
                    run.save()
                run.collector.sync_reset(_sync_seed(cfg.seed, run.it))
            logs = run.iteration()
            logs["charts/env_steps_per_s"] = (run.env_steps - steps0) / (time.time() - t0)
            _log(writer, logs, run.env_steps)
            bar.update(per_rollout)
            bar.set_postfix(
                cost=f"{logs.get('charts/episode_cost', float('nan')):.2f}",
                sr=f"{logs.get('charts/success_rate', float('nan')):.2f}",
                lam=f"{logs.get('safety/lambda', 0.0):.3f}",
            )
        run.save()
    finally:
        bar.close()
        run.venv.close()
        if writer is not None:
            writer.close()
    logs["counters/env_steps"] = run.env_steps
    logs["counters/iteration"] = run.it
    logs["counters/wall_s"] = round(run.wall_s, 1)
    if run.best is not None:  # what checkpoint_best.pt holds, whenever it was evaluated
        logs.update(_best_logs(run.best))
    return logs


def _best_logs(best: dict) -> dict[str, float]:
    """The scalars that name the kept policy (its evaluation and when it was taken)."""
    return {
        "eval/best_success_rate": best["success_rate"],
        "eval/best_cost_mean": best["cost_mean"],
        "eval/best_env_steps": best["env_steps"],
    }


def _writer(out: Path, enabled: bool):
    if not enabled:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(out / "tb"))


def _log(writer, logs: dict[str, float], step: int) -> None:
    if writer is None:
        return
    for k, v in logs.items():
        writer.add_scalar(k, v, step)
    writer.flush()
