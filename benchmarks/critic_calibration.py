"""Does the safety critic's conformal guarantee hold? A repeated-split check of the bound.

    python benchmarks/critic_calibration.py runs/critic-12k --alpha 0.1 --splits 200
    python benchmarks/critic_calibration.py runs/critic-12k --unit pair     # for contrast

Loads a ``safevla train critic`` run's data (``critic_data.npz``) and trained critic
(``critic.pt``), computes the critic's risk once on every state of the calibration and test
episodes, and pools them (the critic was trained on neither, so they are exchangeable given
the weights). Then, for ``--splits`` random re-splits of the pooled *episodes* into
calibration / test halves (no episode in both), it calibrates every category with the
project's :func:`safevla_core.conformal.calibrate` and measures on the test half:

* per episode: the mean over test episodes with events of the share of their cost-causing
  (state, action) pairs that pass, the quantity whose expectation the guarantee bounds
  (``calibration_unit=episode``: E[share of a new episode's events that pass] <= alpha);
* per pair: the share of all test cost-causing pairs that pass;
* false veto: the share of test harmless moving pairs that are vetoed.

Two standard errors are printed for the mean per-episode miss. ``mc se`` is the spread over
splits / sqrt(splits): how well the splits estimate the mean over splits of *this* pool; it
shrinks with more splits and says nothing about a new pool of episodes. ``ep se`` is the one
to compare with alpha: each episode with events gets its mean miss over the splits that
tested it, and ``ep se`` = their standard deviation / sqrt(episodes with events), the error
of a mean over that many episodes (approximate: it ignores the correlation the shared
threshold adds). Uses only data on disk; no simulation.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from safevla_core.conformal import calibrate
from safevla_core.safety_critic import always_allowed
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config_io import from_dict
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_data import DATA_FILE, load_data
from safevla_train.critic_model import build_critic, predict
from safevla_train.critic_run import WEIGHTS, with_history

POOLED_SPLITS = (1, 2)  # calibration, test (critic_data.SPLITS)


def resplit(episodes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(cal, test) boolean row masks: the distinct episodes of ``episodes`` (one id per row)
    shuffled and cut in halves (calibration gets the smaller half when the count is odd).
    Every episode's rows land on one side only, and both sides are disjoint."""
    ids = np.unique(episodes)
    cal_ids = rng.permutation(ids)[: ids.size // 2]
    cal = np.isin(episodes, cal_ids)
    return cal, ~cal


def load_run(run: Path) -> tuple[CriticConfig, dict, torch.nn.Module]:
    """The run's config, data and trained critic (eval mode)."""
    cfg = from_dict(CriticConfig, yaml.safe_load((run / "config.yaml").read_text()))
    data = with_history(load_data(run / DATA_FILE), cfg.history_length)
    net = build_critic(cfg)
    net.load_state_dict(torch.load(run / WEIGHTS, weights_only=True)["model"])
    net.eval()
    return cfg, data, net


def pooled_risk(cfg: CriticConfig, data: dict, net: torch.nn.Module) -> dict[str, np.ndarray]:
    """Risk, labels and episode id of every state of the calibration and test episodes."""
    rows = np.flatnonzero(np.isin(data["split"], POOLED_SPLITS))
    torch.set_num_threads(max(1, min(cfg.threads, 2)))
    with torch.no_grad():
        risk = predict(net, data, rows, cfg)
    return {"risk": risk, "labels": data["labels"][rows], "episode": data["episode"][rows]}


def episode_misses(risk, labels, episode, threshold: float, k: int, keep) -> dict[int, float]:
    """{episode: share of its category-k cost-causing pairs with risk < threshold}."""
    r, y = risk[:, keep, k], labels[:, keep, k] > 0
    ep = np.broadcast_to(episode[:, None], y.shape)[y]
    missed = r[y] < threshold
    if ep.size == 0:
        return {}
    ids, g, counts = np.unique(ep, return_inverse=True, return_counts=True)
    share = np.bincount(g, weights=missed) / counts
    return dict(zip(ids.tolist(), share.tolist(), strict=True))


def run_splits(pool: dict, alpha: float, unit: str, splits: int, seed: int) -> dict:
    """Calibrate and test on ``splits`` re-splits; per category, arrays over splits."""
    cats, keep = SAFETY_SPEC.categories, ~always_allowed()
    risk, labels, episode = pool["risk"], pool["labels"], pool["episode"]
    rng = np.random.default_rng(seed)
    out = {
        c: {"threshold": [], "pair": [], "episode": [], "false_veto": [], "sufficient": []}
        for c in cats
    }
    per_episode = {c: {} for c in cats}  # episode -> its test misses over splits
    for _ in range(splits):
        cal, test = resplit(episode, rng)
        reports = calibrate(
            risk[cal],
            labels[cal],
            cats,
            alpha,
            risk[test],
            labels[test],
            pair_mask=keep,
            groups=episode[cal] if unit == "episode" else None,
            test_groups=episode[test],  # per-episode test miss in both units
        )
        for k, rep in enumerate(reports):
            o = out[rep.category]
            o["threshold"].append(rep.threshold)
            o["sufficient"].append(rep.sufficient)
            o["false_veto"].append(rep.test_false_veto_rate)
            o["pair"].append(rep.test_miss_rate)
            o["episode"].append(rep.test_unit_miss_rate)
            shares = episode_misses(
                risk[test], labels[test], episode[test], rep.threshold, k, keep
            )
            if shares:  # the breakdown must agree with the project's own measurement
                assert np.isclose(np.mean(list(shares.values())), rep.test_unit_miss_rate)
            for ep, s in shares.items():
                per_episode[rep.category].setdefault(ep, []).append(s)
    for c in cats:
        out[c] = {
            key: np.array([np.nan if v is None else v for v in vals], np.float64)
            for key, vals in out[c].items()
        }
        out[c]["episode_means"] = np.array([np.mean(v) for v in per_episode[c].values()])
    return out


def event_counts(pool: dict) -> dict[str, tuple[int, int]]:
    """{category: (cost-causing moving pairs, episodes with at least one)} in the pool."""
    y = pool["labels"][:, ~always_allowed()] > 0
    return {
        c: (int(y[..., k].sum()), np.unique(pool["episode"][y[..., k].any(1)]).size)
        for k, c in enumerate(SAFETY_SPEC.categories)
    }


def summarise(stats: dict, counts: dict, alpha: float, unit: str) -> list[dict]:
    rows = []
    for cat, s in stats.items():
        ep = s["episode"][~np.isnan(s["episode"])]
        em = s["episode_means"]
        rows.append(
            dict(
                category=cat,
                alpha=alpha,
                unit=unit,
                events=counts[cat][0],
                episodes=counts[cat][1],
                mean=float(ep.mean()) if ep.size else np.nan,
                mc_se=float(ep.std(ddof=1) / np.sqrt(ep.size)) if ep.size > 1 else np.nan,
                ep_se=float(em.std(ddof=1) / np.sqrt(em.size)) if em.size > 1 else np.nan,
                p90=float(np.percentile(ep, 90)) if ep.size else np.nan,
                pair=float(np.nanmean(s["pair"])) if ep.size else np.nan,
                pair_p90=float(np.nanpercentile(s["pair"], 90)) if ep.size else np.nan,
                threshold=float(s["threshold"].mean()),
                false_veto=float(np.nanmean(s["false_veto"])),
                too_few=int((s["sufficient"] == 0).sum()),
                tested=ep.size,
            )
        )
    return rows


def table(rows: list[dict], splits: int) -> str:
    def pct(v):
        return "-" if np.isnan(v) else f"{100 * v:.1f}%"

    lines = [
        "| category | alpha | unit | events (episodes) | test miss per episode: mean "
        "(mc se, ep se) | p90 over splits | test miss: pairs (p90) | mean threshold | "
        "false veto | splits with too few |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        se = "-" if np.isnan(r["mean"]) else f"({pct(r['mc_se'])}, {pct(r['ep_se'])})"
        lines.append(
            f"| {r['category']} | {r['alpha']:g} | {r['unit']} | "
            f"{r['events']} ({r['episodes']}) | {pct(r['mean'])} {se} | {pct(r['p90'])} | "
            f"{pct(r['pair'])} ({pct(r['pair_p90'])}) | {r['threshold']:.3g} | "
            f"{pct(r['false_veto'])} | {r['too_few']}/{splits} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a `safevla train critic` run folder")
    p.add_argument("--alpha", type=float, default=0.1)
    p.add_argument("--splits", type=int, default=200)
    p.add_argument("--unit", choices=("episode", "pair"), default="episode")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    t0 = time.time()
    cfg, data, net = load_run(args.run)
    pool = pooled_risk(cfg, data, net)
    n_ep = np.unique(pool["episode"]).size
    print(
        f"{args.run}: {len(pool['risk'])} pooled calibration + test states, {n_ep} episodes "
        f"(risk computed in {time.time() - t0:.0f} s)",
        flush=True,
    )
    t1 = time.time()
    stats = run_splits(pool, args.alpha, args.unit, args.splits, args.seed)
    print(f"{args.splits} re-splits into halves by episode ({time.time() - t1:.0f} s)\n")
    rows = summarise(stats, event_counts(pool), args.alpha, args.unit)
    print(table(rows, args.splits))


if __name__ == "__main__":
    main()
