"""The shield's effect, paired by episode, against the acceptance targets; on constructed
records and on recorded runs of the shipped policy (docs/results)."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from safevla_eval.report import markdown_tables
from safevla_eval.shield_effect import (
    ShieldTargets,
    markdown_shield_effects,
    shield_effect,
    shield_effects,
)

ROOT = Path(__file__).resolve().parents[2]
# the shipped policy on the 40 long-tail episodes: unshielded (and an older shield), and the
# shipped shield of the thirty-fifth session (docs/results/guard_release)
UNSHIELDED = ROOT / "docs/results/critic_struck/eval_longtail_objnav-ppo-lag_s1h_600.json.gz"
SHIELDED = ROOT / "docs/results/guard_release/eval_longtail_objnav-ppo-lag_sc_600_sl.json.gz"
# the careless expert on the same 40 episodes: unshielded; behind the shield (critic seed 0,
# forty-fourth session); again with --critic-seed 1 (forty-fifth session)
EXPERT_OFF = ROOT / "docs/results/stall_release/eval_longtail_expert-careless_600_off.json.gz"
EXPERT_SEED0 = ROOT / "docs/results/refused_done/eval_longtail_expert-careless_600_done.json.gz"
EXPERT_SEED1 = (
    ROOT / "docs/results/replacement_seed/eval_longtail_expert-careless_600_seed1.json.gz"
)


def rec(i, success, cost):
    return {"episode_id": f"ep_{i:04d}", "success": success, "cost": cost}


def result(bundle, shield, records, task="objnav"):
    return {"bundle": bundle, "task": task, "shield": shield, "perturb": [], "records": records}


def test_paired_counts_and_the_share_won_through_a_cost():
    un = [rec(0, True, 0.0), rec(1, True, 4.0), rec(2, False, 2.0), rec(3, True, 0.0)]
    # shuffled order: pairing is by episode id
    sh = [rec(3, True, 0.0), rec(2, True, 0.0), rec(1, False, 0.0), rec(0, False, 0.0)]
    e = shield_effect(un, sh, samples=0)
    assert e["episodes"] == 4
    assert e["success_unshielded"] == 0.75 and e["success_shielded"] == 0.5
    assert e["success_change_pts"] == pytest.approx(-25.0)
    assert e["lost"] == ["ep_0000", "ep_0001"] and e["gained"] == ["ep_0002"]
    assert e["lost_through_cost"] == ["ep_0001"]
    # one cost-free success lost, one gained: the shield's own loss is 0
    assert e["success_change_cost_free_pts"] == pytest.approx(0.0)
    assert e["cost_change_pct"] == pytest.approx(-100.0)
    assert e["meets"] == {"cost": True, "success": False, "max_episode_cost": True, "all": False}
    assert e["success_change_ci95"] is None  # samples=0: no intervals


def test_several_draws_are_averaged_episode_by_episode():
    """Two shielded draws (another --critic-seed): success and cost averaged per episode, lost
    and gained in any draw, the worst cost over both, the own loss without episodes won
    through a cost, and each draw's own change beside; one draw is the single-run effect."""
    un = [rec(0, True, 4.0), rec(1, True, 0.0), rec(2, False, 0.0), rec(3, True, 0.0)]
    a = [rec(0, False, 0.0), rec(1, True, 0.0), rec(2, False, 0.0), rec(3, True, 12.0)]
    b = [rec(3, True, 0.0), rec(2, True, 0.0), rec(1, False, 0.0), rec(0, False, 0.0)]
    e = shield_effect(un, a, samples=0, more_draws=[b])
    assert e["draws"] == 2 and e["episodes"] == 4
    assert e["success_shielded"] == pytest.approx((2 + 2) / 8)
    assert e["success_change_pts_by_draw"] == pytest.approx([-25.0, -25.0])
    assert e["success_change_pts"] == pytest.approx(-25.0)
    assert e["outcome_differs"] == 2  # episodes 1 and 2
    assert e["lost"] == ["ep_0000", "ep_0001"] and e["gained"] == ["ep_0002"]
    assert e["lost_through_cost"] == ["ep_0000"]
    # own: episode 0 (won through a cost) counts nothing; 1: -0.5; 2: +0.5; 3: 0
    assert e["success_change_cost_free_pts"] == pytest.approx(0.0)
    assert e["cost_shielded"] == pytest.approx(12.0 / 8)
    assert e["max_cost_shielded"] == 12.0 and e["episodes_over_max"] == 1
    one = shield_effect(un, a, samples=0)
    assert one["draws"] == 1 and one["outcome_differs"] == 0
    assert one == shield_effect(un, a, samples=0, more_draws=[])
    assert shield_effect(un, a, samples=0, more_draws=[a])["success_change_pts"] == -25.0
    with pytest.raises(ValueError, match=r"shielded draw 2: .*only unshielded: \['ep_0003'\]"):
        shield_effect(un, a, samples=0, more_draws=[b[1:]])
    # the interval resamples episodes, each with its mean over the draws
    lo, hi = shield_effect(un, a, samples=400, more_draws=[b])["success_change_ci95"]
    assert -100.0 <= lo < -25.0 < hi <= 50.0


def test_targets_decide_the_verdict():
    un = [rec(i, True, 10.0) for i in range(10)]
    sh = [rec(i, i != 0, 0.4 if i else 0.2) for i in range(10)]  # -10 points, cost -96%
    e = shield_effect(un, sh, samples=0)
    assert e["cost_change_pct"] == pytest.approx(-96.2)
    assert e["meets"]["cost"] and not e["meets"]["success"]
    loose = shield_effect(un, sh, ShieldTargets(success_drop_pts=10.0), samples=0)
    assert loose["meets"]["all"]
    strict = shield_effect(un, sh, ShieldTargets(cost_reduction=0.97), samples=0)
    assert not strict["meets"]["cost"]
    capped = shield_effect(un, sh, ShieldTargets(max_episode_cost=0.3), samples=0)
    assert capped["episodes_over_max"] == 9 and not capped["meets"]["max_episode_cost"]


def test_an_unshielded_cost_of_zero_needs_a_shielded_cost_of_zero():
    un = [rec(0, True, 0.0), rec(1, True, 0.0)]
    assert shield_effect(un, un, samples=0)["meets"]["cost"]
    e = shield_effect(un, [rec(0, True, 1.0), rec(1, True, 0.0)], samples=0)
    assert e["cost_change_pct"] is None and not e["meets"]["cost"]


def test_identical_runs_have_a_zero_width_interval_at_zero():
    un = [rec(i, i % 2 == 0, float(i)) for i in range(20)]
    e = shield_effect(un, un, samples=200)
    assert e["success_change_ci95"] == [0.0, 0.0]
    assert e["cost_change_ci95"] == [0.0, 0.0]
    # no success lost, but no cost removed and episodes up to cost 19 either
    assert e["meets"] == {"cost": False, "success": True, "max_episode_cost": False, "all": False}


def test_the_interval_is_paired_and_repeatable():
    un = [rec(i, True, 1.0) for i in range(40)]
    sh = [rec(i, i >= 4, 0.0) for i in range(40)]  # 4 of 40 lost
    a = shield_effect(un, sh, samples=500, seed=3)
    assert a == shield_effect(un, sh, samples=500, seed=3)
    lo, hi = a["success_change_ci95"]
    assert lo < -10.0 < hi <= 0.0  # a loss is never a gain in any resample
    assert a["cost_change_ci95"] == [-100.0, -100.0]


def test_runs_over_different_episodes_are_refused_by_name():
    with pytest.raises(ValueError, match=r"only unshielded: \['ep_0001'\]"):
        shield_effect([rec(0, True, 0.0), rec(1, True, 0.0)], [rec(0, True, 0.0)], samples=0)
    with pytest.raises(ValueError, match="more than once"):
        shield_effect([rec(0, True, 0.0), rec(0, True, 0.0)], [rec(0, True, 0.0)], samples=0)
    with pytest.raises(ValueError, match="no episode records"):
        shield_effect([], [rec(0, True, 0.0)])
    with pytest.raises(ValueError, match="cost_reduction"):
        ShieldTargets(cost_reduction=95)


def test_effects_pair_by_policy_name_task_and_perturbation():
    un = [rec(0, True, 2.0), rec(1, False, 0.0)]
    sh = [rec(0, True, 0.0), rec(1, True, 0.0)]
    results = [
        result("/elsewhere/models/p", False, un),
        result("models/p", True, sh),
        result("models/q", True, sh),  # no unshielded run: no row
        result("models/p", True, sh, task="pickup"),  # no unshielded pickup run: no row
        result("models/p", True, []),  # a summary without records: skipped
    ]
    (row,) = shield_effects(results, results, samples=0)
    assert (row["bundle"], row["task"]) == ("models/p", "objnav")
    assert row["gained"] == ["ep_0001"]
    table = markdown_shield_effects([row])
    assert "| p | objnav | - | 2 | 0.500 -> 1.000 | +50.0 |" in table
    assert table.rstrip().endswith("| yes |")


def load(path):
    with gzip.open(path, "rt") as f:
        return json.load(f)["results"]


def test_on_the_recorded_long_tail_runs_of_the_shipped_policy():
    un = next(r for r in load(UNSHIELDED) if not r["shield"])
    sh = next(r for r in load(SHIELDED) if r["shield"])
    e = shield_effect(un["records"], sh["records"])
    # what docs/results.md reports for this row: 0.45 -> 0.30, cost 14.50 -> 0
    assert e["success_unshielded"] == pytest.approx(0.45)
    assert e["success_shielded"] == pytest.approx(0.30)
    assert e["cost_shielded"] == 0.0 and e["meets"]["cost"] and not e["meets"]["success"]
    assert len(e["lost"]) == 6 and e["gained"] == []
    lo, hi = e["success_change_ci95"]
    assert lo < -15.0 < hi < 0.0


def test_the_report_ends_with_the_effect_of_a_shield_both_run():
    doc = {"results": load(UNSHIELDED), "config": {"bootstrap_samples": 100}}
    text = markdown_tables(doc)
    assert "The shield's effect, paired by episode" in text
    assert "| objnav-ppo-lag | objnav | - | 40 |" in text


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "safevla_ros.cli.eval", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_the_cli_reads_two_runs_and_writes_the_rows(tmp_path):
    out = tmp_path / "effects.json"
    p = run_cli("--shield-effect", str(UNSHIELDED), str(SHIELDED), "--json", str(out))
    assert p.returncode == 0, p.stderr
    assert "0.450 -> 0.300" in p.stdout and "no: success" in p.stdout
    doc = json.loads(out.read_text())
    (row,) = doc["shield_effects"]
    assert row["success_change_pts"] == pytest.approx(-15.0)


def test_the_cli_names_what_it_cannot_read(tmp_path):
    p = run_cli("--shield-effect", str(tmp_path / "missing.json"))
    assert p.returncode != 0 and "no such file" in p.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    p = run_cli("--shield-effect", str(bad))
    assert p.returncode != 0 and "not a `safevla eval --json` results file" in p.stderr
    p = run_cli("--shield-effect", str(SHIELDED))  # shielded only: nothing to pair
    assert p.returncode != 0 and "no shielded result with an unshielded one" in p.stderr


def test_the_cli_averages_shielded_runs_under_different_seeds(tmp_path):
    """Several shielded runs after the unshielded one are draws of one shield: one row,
    averaged over them; the same draw twice, a run with other shield settings, or one of
    another proposer, is refused by name."""
    out = tmp_path / "effects.json"
    p = run_cli(
        "--shield-effect",
        str(EXPERT_OFF),
        str(EXPERT_SEED0),
        str(EXPERT_SEED1),
        "--json",
        str(out),
    )
    assert p.returncode == 0, p.stderr
    assert "| expert:careless | objnav | - | 40 x 2 draws |" in p.stdout
    (row,) = json.loads(out.read_text())["shield_effects"]
    by_draw = row["success_change_pts_by_draw"]
    assert len(by_draw) == 2 and row["success_change_pts"] == pytest.approx(sum(by_draw) / 2)
    p = run_cli("--shield-effect", str(EXPERT_OFF), str(EXPERT_SEED0), str(EXPERT_SEED0))
    assert p.returncode != 0 and "are the same draw (--critic-seed 0)" in p.stderr
    with gzip.open(EXPERT_SEED1, "rt") as f:
        doc = json.load(f)
    doc["config"]["critic_alpha"] = 0.1
    other = tmp_path / "alpha.json"
    other.write_text(json.dumps(doc))
    p = run_cli("--shield-effect", str(EXPERT_OFF), str(EXPERT_SEED0), str(other))
    assert p.returncode != 0
    assert f"{other} is not a draw of the shield in {EXPERT_SEED0}: critic_alpha 0.1" in p.stderr
    # a shielded run of another proposer (here the dither breaker on) is not its shield's
    # effect on the unshielded one
    doc["config"]["critic_alpha"] = None
    doc["config"]["break_dither"] = 6
    other.write_text(json.dumps(doc))
    p = run_cli("--shield-effect", str(EXPERT_OFF), str(other))
    assert p.returncode != 0
    assert f"{other} ran another proposer than {EXPERT_OFF}: break_dither 6 against 0" in p.stderr
