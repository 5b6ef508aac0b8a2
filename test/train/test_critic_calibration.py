"""The repeated-split check of the critic's bound (benchmarks/critic_calibration.py) on a
synthetic pool: re-splits keep episodes whole, and the per-episode breakdown it reports agrees
with the project's calibration."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from safevla_core.actions import NUM_ACTIONS
from safevla_core.safety_spec import SAFETY_SPEC

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import critic_calibration as cc


def test_resplit_keeps_episodes_whole_and_the_halves_disjoint():
    episode = np.repeat(np.arange(41), np.random.default_rng(0).integers(1, 6, 41))
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(20):
        cal, test = cc.resplit(episode, rng)
        assert not np.any(cal & test) and np.all(cal | test)
        cal_ids, test_ids = set(episode[cal]), set(episode[test])
        assert not cal_ids & test_ids and len(cal_ids) == 20 and len(test_ids) == 21
        seen.add(frozenset(cal_ids))
    assert len(seen) > 1  # the splits are random


def test_repeated_splits_on_exchangeable_episodes_stay_under_alpha():
    rng = np.random.default_rng(2)
    n_ep, per_ep, n_cat = 120, 6, len(SAFETY_SPEC.categories)
    episode = np.repeat(np.arange(n_ep), per_ep)
    labels = (rng.random((episode.size, NUM_ACTIONS, n_cat)) < 0.05).astype(np.uint8)
    risk = np.clip(0.4 * labels + rng.beta(2, 5, labels.shape), 0, 1).astype(np.float32)
    pool = {"risk": risk, "labels": labels, "episode": episode}
    stats = cc.run_splits(pool, alpha=0.2, unit="episode", splits=30, seed=0)
    rows = cc.summarise(stats, cc.event_counts(pool), 0.2, "episode")
    assert [r["category"] for r in rows] == list(SAFETY_SPEC.categories)
    for r in rows:
        assert r["tested"] == 30 and r["too_few"] == 0
        assert r["mean"] <= 0.2 + 2 * r["ep_se"]
    assert "| corner | 0.2 | episode |" in cc.table(rows, 30)
