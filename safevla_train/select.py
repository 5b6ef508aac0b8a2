"""Choose the policy to ship from a run's evaluated checkpoints, on a larger episode set.

A run with ``ppo.keep_evaluated`` writes every policy its in-run evaluation scored to
``<run>/evaluated/it<iteration>.pt``. That evaluation is small (24-48 fresh episodes) and the
run keeps the best of many noisy draws, so the kept score flatters the kept policy. Here the
``shortlist`` best of them by their in-run score are evaluated again, greedily, on the episodes
given (the shipped validation set, typically 100+ episodes, at the benchmark's 600-step limit)
and ranked there by the run's rule (:func:`safevla_train.train_ppo.best_key` with the run's
``best_by`` and ``cost_limit``). The shortlist is by in-run success (ties: lower cost) whatever
the rule: 24-48 episodes measure success well enough to prune, but not a heavy-tailed cost.
Success on 100 episodes is itself noisy (one standard error is ~0.05 at 0.4), so among the
policies whose success is within ``tie_se`` standard errors of the best one (of those within
the cost limit, for "success_within_limit") the cheapest is chosen: a success-only rule would
otherwise pick a policy one episode more successful at twice the cost.
The chosen checkpoint is copied to ``<run>/checkpoint_selected.pt`` with the ranking in its
``selection`` record (which ``safevla export`` writes into the bundle), and the whole ranking
to ``<run>/selection.json``.
The episodes used to choose must not be the ones the shipped policy is reported on.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from safevla_eval.metrics import summarize
from safevla_eval.runner import run_agent_batched
from safevla_train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from safevla_train.config import BEST_BY, PPOConfig, from_dict
from safevla_train.evaluate import EVAL_BATCH, BatchedTorchAgent
from safevla_train.train_ppo import EVALUATED_DIR, best_key

SELECTED_CHECKPOINT = "checkpoint_selected.pt"
SELECTION_FILE = "selection.json"


def _in_run_rank(record: dict) -> tuple:
    # shortlist by in-run success: a few dozen episodes measure it, not the cost (heavy-tailed:
    # a few episodes carry most of it), so the cost only counts on the larger set
    return best_key(record, "success", 0.0)


def scan_evaluated(run_dir: str | Path, shortlist: int) -> tuple[list, dict, list]:
    """Read every ``<run>/evaluated/it*.pt`` once.

    Returns:
        (candidates, config, shortlisted): ``candidates`` = (path, in-run evaluation record) in
        iteration order; ``config`` = the run's training config (of its last checkpoint);
        ``shortlisted`` = (path, record, checkpoint) of the ``shortlist`` best by in-run success
        (ties: lower cost), best first, kept loaded so that no file is read twice.

    Raises:
        CheckpointError: no evaluated checkpoints (the run did not set ``keep_evaluated``), or
            one without its evaluation record.
    """
    folder = Path(run_dir) / EVALUATED_DIR
    paths = sorted(folder.glob("it*.pt")) if folder.is_dir() else []
    if not paths:
        raise CheckpointError(
            f"{folder}: no evaluated checkpoints; train with --set keep_evaluated=true to keep "
            "every evaluated policy"
        )
    candidates, top, config = [], [], {}
    for p in paths:
        ckpt = load_checkpoint(p)
        record = ckpt.get("evaluation")
        if not record:
            raise CheckpointError(f"{p}: no in-run evaluation record; not a keep_evaluated file")
        candidates.append((p, record))
        config = ckpt["config"]
        top.append((p, record, ckpt))
        # stable sort: among equal ranks the earlier iteration stays ahead
        top = sorted(top, key=lambda t: _in_run_rank(t[1]), reverse=True)[:shortlist]
    return candidates, config, top


@torch.no_grad()
def evaluate_checkpoint(
    ckpt: dict, name: str, episodes: list, max_steps: int, seed: int = 0, batch: int = EVAL_BATCH
) -> dict:
    """Greedy evaluation of one loaded checkpoint's policy on ``episodes`` (the trainer's
    batched torch agent; the metrics of :func:`safevla_eval.metrics.summarize`)."""
    model = model_from_checkpoint(ckpt).eval()
    env = from_dict(PPOConfig, ckpt["config"]).env
    nav_hw = tuple(env.nav_size)
    records = run_agent_batched(
        lambda slots: BatchedTorchAgent(model, slots),
        episodes,
        batch=min(batch, len(episodes)),
        name=name,
        max_steps=max_steps,
        nav_hw=nav_hw,
        seed=seed,
        manip=env.render_manip,
    )
    return summarize(records, seed=seed)


def choose(rows: list[dict], best_by: str, cost_limit: float, n: int, tie_se: float) -> dict:
    """The row to ship among evaluated ``rows`` (``success_rate``, ``cost_mean``) on ``n``
    episodes: the rule of :func:`safevla_train.train_ppo.best_key`, except that successes
    within ``tie_se`` standard errors of the best (``sqrt(p (1 - p) / n)`` at the best ``p``)
    count as tied and the cheapest of them wins (0 = the plain rule).

    With "success_within_limit" and no row within ``cost_limit``, the cheapest row wins.
    """
    if not rows:
        raise ValueError("no evaluated policies to choose from")
    group = rows
    if best_by == "success_within_limit":
        group = [r for r in rows if r["cost_mean"] <= cost_limit]
        if not group:
            return max(rows, key=lambda r: best_key(r, best_by, cost_limit))
    top = max(r["success_rate"] for r in group)
    margin = tie_se * math.sqrt(top * (1.0 - top) / max(n, 1))
    near = [r for r in group if r["success_rate"] >= top - margin - 1e-12]
    return min(near, key=lambda r: (r["cost_mean"], -r["success_rate"]))


def select_policy(
    run_dir: str | Path,
    episodes: list,
    *,
    max_steps: int,
    shortlist: int = 4,
    best_by: str | None = None,
    cost_limit: float | None = None,
    tie_se: float = 1.0,
    episodes_name: str = "",
    seed: int = 0,
    log=print,
) -> dict:
    """Evaluate the run's ``shortlist`` most successful evaluated policies (in-run) on
    ``episodes`` and keep the best by the run's rule; returns the selection record (also in
    ``selection.json``).

    ``best_by`` / ``cost_limit`` default to the run's own (``ppo.best_by``, ``ppo.cost_limit``);
    near-ties in success are broken on cost (:func:`choose`, ``tie_se``).

    Raises:
        ValueError: ``shortlist < 1``, ``tie_se < 0``, no episodes, an unknown ``best_by``.
        CheckpointError: see :func:`scan_evaluated`.
    """
    run = Path(run_dir)
    if shortlist < 1:
        raise ValueError(f"shortlist must be >= 1, got {shortlist}")
    if not episodes:
        raise ValueError("no episodes to select on")
    candidates, config, shortlisted = scan_evaluated(run, shortlist)
    cfg = from_dict(PPOConfig, config)
    best_by = best_by or cfg.best_by
    _check_rule(best_by, tie_se)
    limit = cfg.cost_limit if cost_limit is None else float(cost_limit)
    rows, loaded = [], {}
    for i, (path, in_run, ckpt) in enumerate(shortlisted):
        t0 = time.perf_counter()
        ev = evaluate_checkpoint(ckpt, path.stem, episodes, max_steps, seed)
        loaded[f"{EVALUATED_DIR}/{path.name}"] = ckpt
        rows.append(
            {
                "checkpoint": f"{EVALUATED_DIR}/{path.name}",
                "in_run": in_run,
                "success_rate": float(ev["success_rate"]),
                "cost_mean": float(ev["cost_mean"]),
                "cvar90_cost": float(ev["cvar90_cost"]),
                "ci95": {k: ev["ci95"][k] for k in ("success_rate", "cost_mean")},
                "episode_length_mean": float(ev["episode_length_mean"]),
            }
        )
        log(
            f"select {i + 1}/{len(shortlisted)}: {path.name} (in-run "
            f"{in_run['success_rate']:.2f} / {in_run['cost_mean']:.2f}) -> success "
            f"{rows[-1]['success_rate']:.2f}, cost {rows[-1]['cost_mean']:.2f} on "
            f"{len(episodes)} episodes ({time.perf_counter() - t0:.0f} s)"
        )
    chosen = choose(rows, best_by, limit, len(episodes), tie_se)
    selection = {
        "best_by": best_by,
        "cost_limit": limit,
        "tie_se": tie_se,
        "episodes": episodes_name,
        "n_episodes": len(episodes),
        "max_steps": max_steps,
        "seed": seed,
        "candidates": len(candidates),
        "shortlist": rows,
        "chosen": chosen["checkpoint"],
    }
    _write_selection(run, selection, chosen, dict(loaded[chosen["checkpoint"]]))
    return selection


def rerank_selection(
    run_dir: str | Path,
    *,
    best_by: str | None = None,
    cost_limit: float | None = None,
    tie_se: float = 1.0,
) -> dict:
    """Choose again among the policies a previous :func:`select_policy` evaluated (its
    ``selection.json``), under another rule, without evaluating anything: rewrites
    ``checkpoint_selected.pt`` and ``selection.json``. ``best_by`` / ``cost_limit`` default to
    those of the previous selection.

    Raises:
        CheckpointError: no ``selection.json`` in the run, or its chosen file is gone.
        ValueError: ``tie_se < 0``, an unknown ``best_by``.
    """
    run = Path(run_dir)
    path = run / SELECTION_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no selection to rerank; run `safevla select` first")
    selection = json.loads(path.read_text(encoding="utf-8"))
    best_by = best_by or selection["best_by"]
    _check_rule(best_by, tie_se)
    limit = selection["cost_limit"] if cost_limit is None else float(cost_limit)
    rows = selection["shortlist"]
    chosen = choose(rows, best_by, limit, selection["n_episodes"], tie_se)
    selection |= {
        "best_by": best_by,
        "cost_limit": limit,
        "tie_se": tie_se,
        "chosen": chosen["checkpoint"],
    }
    _write_selection(run, selection, chosen, load_checkpoint(run / chosen["checkpoint"]))
    return selection


def _check_rule(best_by: str, tie_se: float) -> None:
    if best_by not in BEST_BY:
        raise ValueError(f"best_by {best_by!r} is not one of {list(BEST_BY)}")
    if tie_se < 0:
        raise ValueError(f"tie_se must be >= 0, got {tie_se}")


def _write_selection(run: Path, selection: dict, chosen: dict, ckpt: dict) -> None:
    """``checkpoint_selected.pt`` (the chosen weights with the record export reads) and
    ``selection.json`` (the whole ranking)."""
    ckpt["selection"] = {k: v for k, v in selection.items() if k != "shortlist"} | {
        "result": {k: chosen[k] for k in ("success_rate", "cost_mean", "cvar90_cost", "ci95")}
    }
    save_checkpoint(run / SELECTED_CHECKPOINT, ckpt)
    (run / SELECTION_FILE).write_text(json.dumps(selection, indent=2) + "\n", encoding="utf-8")
