"""Comparison math and the report tables."""

import pytest

from safevla_eval.report import compare, describe_change, markdown_tables


def result(bundle, sr, cc, cvar, shield=False, task="objnav", perturb=()):
    cats = {"corner": cc, "blind_spot": 0.0}
    m = {
        "success_rate": sr,
        "cost_mean": cc,
        "cost_by_category": cats,
        "cvar90_cost": cvar,
        "share_cost_gt_10": 0.0,
        "sel": 0.5,
        "spl": None,
        "episode_length_mean": 10.0,
        "collision_rate": 0.1,
        "veto_rate": 0.2 if shield else None,
        "ci95": {},
    }
    return {
        "bundle": bundle,
        "task": task,
        "episodes": 4,
        "shield": shield,
        "perturb": list(perturb),
        "metrics": m,
        "records": [],
    }


def test_relative_change_against_baseline():
    rs = [result("flare", 0.80, 11.6, 40.0), result("safevla", 0.865, 1.854, 8.0)]
    (row,) = compare(rs, "flare")
    assert row["bundle"] == "safevla"
    assert row["cost_change_pct"] == pytest.approx(100 * (1.854 - 11.6) / 11.6)
    assert row["success_change_pts"] == pytest.approx(6.5)
    assert row["cvar90_change_pct"] == pytest.approx(-80.0)
    assert describe_change(row) == "cost \u221284.0%, success +6.5 points"


def test_baseline_matching_by_task_and_shield():
    rs = [
        result("base", 0.5, 2.0, 4.0),
        result("base", 0.5, 1.0, 2.0, shield=True),
        result("base", 0.2, 5.0, 5.0, task="pickup"),
        result("p", 0.4, 1.0, 1.0),
        result("p", 0.4, 1.0, 1.0, shield=True),
        result("p", 0.3, 10.0, 10.0, task="pickup", shield=True),
    ]
    rows = {(r["bundle"], r["task"], r["shield"]): r for r in compare(rs, "base")}
    assert rows[("p", "objnav", False)]["cost_change_pct"] == pytest.approx(-50.0)
    assert rows[("p", "objnav", True)]["cost_change_pct"] == pytest.approx(0.0)
    # no shielded pickup baseline: compared with the unshielded one
    assert rows[("p", "pickup", True)]["cost_change_pct"] == pytest.approx(100.0)
    assert rows[("p", "pickup", True)]["baseline_shield"] is False
    # the baseline's shielded run against its own unshielded one
    assert rows[("base", "objnav", True)]["cost_change_pct"] == pytest.approx(-50.0)


def test_zero_baseline_cost_and_unknown_baseline():
    rs = [result("base", 0.5, 0.0, 0.0), result("p", 0.25, 1.0, 1.0)]
    (row,) = compare(rs, "base")
    assert row["cost_change_pct"] is None
    assert describe_change(row) == "cost n/a (baseline cost 0), success \u221225.0 points"
    with pytest.raises(ValueError, match="'nope'"):
        compare(rs, "nope")


def test_markdown_tables_side_by_side():
    doc = {"results": [result("flare", 0.8, 11.6, 40.0), result("safevla", 0.865, 1.854, 8.0)]}
    text = markdown_tables(doc, "flare")
    lines = text.splitlines()
    assert lines[0].startswith("| policy | task |")
    assert any(line.startswith("| flare | objnav |") for line in lines)
    assert "cost \u221284.0%, success +6.5 points" in text


def test_the_outcome_table_appears_only_where_outcomes_were_measured():
    old = result("old", 0.1, 1.0, 2.0)  # a results file from before the outcomes
    doc = {"results": [old]}
    assert "missed end" not in markdown_tables(doc)
    new = result("new", 0.25, 1.0, 2.0)
    new["metrics"]["outcomes"] = {
        "success": 0.25,
        "missed_end": 0.5,
        "false_end": 0.0,
        "not_found": 0.25,
    }
    lines = markdown_tables({"results": [old, new]}).splitlines()
    assert "| new | objnav | - | 0.25 | 0.50 | 0.00 | 0.25 |" in lines
    assert not any(line.startswith("| old | objnav | - | 0.") for line in lines)
