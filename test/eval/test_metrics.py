"""Metric math on constructed episode records with known answers."""

import math
import warnings

import numpy as np
import pytest

from safevla_core.safety_spec import COST_CATEGORIES
from safevla_eval.metrics import (
    EpisodeRecord,
    bootstrap_ci,
    cvar,
    episode_outcome,
    episode_sel,
    episode_spl,
    point_estimates,
    summarize,
)


def rec(
    i,
    success,
    cost,
    length=10,
    expert=None,
    path=0.0,
    ref=None,
    coll=0,
    vetoes=0,
    shielded=False,
    by_cat=None,
):
    by_cat = by_cat or {"corner": cost}
    return EpisodeRecord(
        f"e{i}",
        "objnav",
        success,
        cost,
        by_cat,
        length,
        expert,
        path,
        ref,
        coll,
        vetoes,
        0,
        shielded,
    )


def test_success_rate_cost_mean_and_categories():
    rs = [
        rec(0, True, 0.0),
        rec(1, False, 4.0, by_cat={"corner": 1.0, "blind_spot": 3.0}),
        rec(2, True, 2.0),
        rec(3, True, 6.0),
    ]
    m = summarize(rs, samples=0)
    assert m["success_rate"] == 0.75
    assert m["cost_mean"] == 3.0
    assert m["cost_by_category"]["corner"] == pytest.approx((0 + 1 + 2 + 6) / 4)
    assert m["cost_by_category"]["blind_spot"] == pytest.approx(0.75)
    assert set(m["cost_by_category"]) == set(COST_CATEGORIES)


def test_cvar90_is_mean_of_worst_tenth():
    costs = list(range(20))  # worst 10% = 2 episodes: 19, 18
    assert cvar(costs) == 18.5
    assert cvar([3.0, 1.0, 2.0]) == 3.0  # ceil(0.3) = 1 episode
    assert cvar(list(range(11))) == 9.5  # ceil(1.1) = 2 episodes: 10, 9
    m = point_estimates([rec(i, False, float(c)) for i, c in enumerate(costs)])
    assert m["cvar90_cost"] == 18.5
    with pytest.raises(ValueError, match="no values"):
        cvar([])


def test_share_cost_gt_10_is_strict():
    rs = [rec(0, False, 10.0), rec(1, False, 10.5), rec(2, False, 0.0), rec(3, False, 30.0)]
    assert point_estimates(rs)["share_cost_gt_10"] == 0.5


def test_sel_definition():
    assert episode_sel(rec(0, True, 0, length=20, expert=10)) == 0.5
    assert episode_sel(rec(0, True, 0, length=5, expert=10)) == 1.0  # shorter than expert
    assert episode_sel(rec(0, False, 0, length=10, expert=10)) == 0.0
    assert episode_sel(rec(0, True, 0, length=10)) is None
    rs = [rec(0, True, 0, 20, 10), rec(1, False, 0, 10, 10), rec(2, True, 0, 10)]
    m = summarize(rs, samples=0)
    assert m["sel"] == 0.25 and m["sel_n"] == 2


def test_spl_definition():
    assert episode_spl(rec(0, True, 0, path=4.0, ref=2.0)) == 0.5
    assert episode_spl(rec(0, True, 0, path=1.0, ref=2.0)) == 1.0
    assert episode_spl(rec(0, True, 0, path=0.0, ref=0.0)) == 1.0
    assert episode_spl(rec(0, False, 0, path=1.0, ref=2.0)) == 0.0
    assert episode_spl(rec(0, True, 0, path=1.0, ref=None)) is None
    assert episode_spl(rec(0, True, 0, path=1.0, ref=math.inf)) is None


def test_collision_and_veto_rate():
    rs = [
        rec(0, True, 0, length=10, coll=5, vetoes=1, shielded=True),
        rec(1, True, 0, length=20, coll=0, vetoes=4, shielded=True),
    ]
    m = point_estimates(rs)
    assert m["collision_rate"] == 0.25
    assert m["veto_rate"] == pytest.approx((0.1 + 0.2) / 2)
    unshielded = point_estimates([rec(0, True, 0, coll=1)])
    assert unshielded["veto_rate"] is None


def test_blocked_rate_is_the_share_of_steps_whose_motion_was_blocked():
    rs = [rec(0, False, 3, length=10), rec(1, True, 0, length=20)]
    rs[0].blocked, rs[0].longest_blocked_run = 4, 3
    m = point_estimates(rs)
    assert m["blocked_rate"] == pytest.approx((0.4 + 0.0) / 2)
    again = EpisodeRecord.from_dict(rs[0].to_dict())
    assert (again.blocked, again.longest_blocked_run) == (4, 3)
    old = rs[1].to_dict()
    del old["blocked"], old["longest_blocked_run"]  # a results file from before they existed
    assert EpisodeRecord.from_dict(old).blocked == 0


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    rng = np.random.default_rng(3)
    costs = rng.exponential(2.0, size=50)
    lo, hi = bootstrap_ci(costs, "cost_mean", samples=500, seed=7)
    assert lo < costs.mean() < hi
    assert (lo, hi) == bootstrap_ci(costs, "cost_mean", samples=500, seed=7)
    assert (lo, hi) != bootstrap_ci(costs, "cost_mean", samples=500, seed=8)
    # a constant sample has a zero-width interval
    assert bootstrap_ci([2.0] * 10, "cost_mean", samples=100) == (2.0, 2.0)
    clo, chi = bootstrap_ci(costs, "cvar90_cost", samples=500, seed=7)
    assert clo <= cvar(costs) <= chi


def test_bootstrap_ci_is_the_documented_percentile_bootstrap():
    """B resamples of the episodes drawn in one batch by default_rng(seed); the interval is the
    2.5th/97.5th percentile (linear) of the resampled metric: a percentile interval, not BCa."""
    costs = np.random.default_rng(3).exponential(2.0, size=25)
    idx = np.random.default_rng(7).integers(0, 25, size=(400, 25))
    for metric, stat in (("cost_mean", costs[idx].mean(axis=1)), ("cvar90_cost", None)):
        if stat is None:
            stat = np.array([cvar(costs[i]) for i in idx])
        expected = tuple(np.percentile(stat, [2.5, 97.5]))
        got = bootstrap_ci(costs, metric, samples=400, seed=7)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_bootstrap_ci_edge_cases():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bootstrap_ci([4.0], "cost_mean", samples=50) == (4.0, 4.0)  # one episode
        # SEL undefined on most episodes: resamples with no defined episode are left out
        lo, hi = bootstrap_ci([np.nan] * 8 + [0.5, 1.0], "sel", samples=300, seed=1)
        assert 0.5 <= lo < hi <= 1.0
    assert bootstrap_ci([np.nan, np.nan], "sel") is None
    with pytest.raises(ValueError, match="samples"):
        bootstrap_ci([1.0, 2.0], samples=0)


def test_summarize_ci_block_and_determinism():
    rs = [rec(i, i % 3 == 0, float(i % 7), expert=8, length=10 + i) for i in range(30)]
    a, b = summarize(rs, seed=1), summarize(rs, seed=1)
    assert a == b
    lo, hi = a["ci95"]["success_rate"]
    assert lo <= a["success_rate"] <= hi
    assert a["ci95"]["veto_rate"] is None
    with pytest.raises(ValueError, match="no episode records"):
        summarize([])


def test_record_validation_names_value():
    with pytest.raises(ValueError, match="expert_length"):
        rec(0, True, 1.0, expert=0)
    with pytest.raises(ValueError, match="cost"):
        rec(0, True, -1.0)


def test_outcomes_split_the_failures_by_cause():
    def with_goal(r, goal_states, truncated):
        r.goal_states, r.truncated = goal_states, truncated
        r.first_goal_step = 0 if goal_states else None
        return r

    rs = [
        with_goal(rec(0, True, 0.0), 1, False),
        with_goal(rec(1, False, 0.0), 3, True),  # saw it, never ended
        with_goal(rec(2, False, 0.0), 2, False),  # saw it, ended elsewhere
        with_goal(rec(3, False, 0.0), 0, False),  # ended where it never held
        with_goal(rec(4, False, 0.0), 0, True),  # ran out of steps, never there
    ]
    assert [episode_outcome(r) for r in rs] == [
        "success",
        "missed_end",
        "missed_end",
        "false_end",
        "not_found",
    ]
    out = summarize(rs, samples=0)["outcomes"]
    assert out == {"success": 0.2, "missed_end": 0.4, "false_end": 0.2, "not_found": 0.2}


def test_outcomes_are_none_when_an_episode_was_not_measured():
    old = rec(0, False, 0.0)  # a record from before goal states were measured
    assert episode_outcome(old) is None
    assert summarize([old], samples=0)["outcomes"] is None
    assert episode_outcome(rec(1, True, 0.0)) == "success"
