"""The rule `safevla select` ships by: near-ties in success are broken on cost."""

from __future__ import annotations

import json

import pytest

from safevla_train.checkpoint import CheckpointError
from safevla_train.select import choose, rerank_selection


def _row(name: str, sr: float, cost: float) -> dict:
    return {"checkpoint": name, "success_rate": sr, "cost_mean": cost}


# the fixed-penalty run of 2026-12-03 on 100 validation episodes: 0.39 / 4.25 won on success
# alone; 0.38 / 2.83 is one episode less successful at two thirds of the cost
PENALTY = [_row("it75", 0.38, 2.83), _row("it15", 0.39, 4.25), _row("it45", 0.36, 9.33)]


def test_success_within_one_standard_error_goes_to_the_cheapest():
    assert choose(PENALTY, "success", 3.0, 100, 1.0)["checkpoint"] == "it75"
    # tie_se 0: success alone (the trainer's best_key)
    assert choose(PENALTY, "success", 3.0, 100, 0.0)["checkpoint"] == "it15"
    # a clearly more successful policy still wins over a cheaper one: 0.42 vs 0.32 is 2 SE
    rows = [_row("a", 0.42, 2.94), _row("b", 0.32, 0.5), _row("c", 0.38, 7.73)]
    assert choose(rows, "success", 3.0, 100, 1.0)["checkpoint"] == "a"
    # with 10x the episodes the same gap is no longer a tie
    assert choose(PENALTY, "success", 3.0, 10_000, 1.0)["checkpoint"] == "it15"


def test_within_limit_ties_only_among_the_policies_under_the_limit():
    rows = [_row("over", 0.47, 6.17), _row("under", 0.40, 2.9), _row("cheap", 0.36, 1.0)]
    # "over" is the most successful but over the limit; among the two under it, 0.36 is
    # within one SE (0.049) of 0.40, so the cheaper wins
    assert choose(rows, "success_within_limit", 3.0, 100, 1.0)["checkpoint"] == "cheap"
    assert choose(rows, "success_within_limit", 3.0, 100, 0.0)["checkpoint"] == "under"
    # none under the limit: the cheapest, whatever its success
    rows = [_row("x", 0.47, 6.17), _row("y", 0.38, 3.25), _row("z", 0.42, 7.85)]
    assert choose(rows, "success_within_limit", 3.0, 100, 1.0)["checkpoint"] == "y"


def test_choose_needs_rows():
    with pytest.raises(ValueError, match="no evaluated policies"):
        choose([], "success", 3.0, 100, 1.0)


def test_rerank_refuses_a_bad_rule_before_touching_the_run(tmp_path):
    with pytest.raises(CheckpointError, match="run `safevla select` first"):
        rerank_selection(tmp_path)
    sel = {"best_by": "success", "cost_limit": 3.0, "n_episodes": 100, "shortlist": PENALTY}
    (tmp_path / "selection.json").write_text(json.dumps(sel))
    with pytest.raises(ValueError, match="tie_se must be >= 0, got -1"):
        rerank_selection(tmp_path, tie_se=-1)
    with pytest.raises(ValueError, match="best_by 'cost'"):
        rerank_selection(tmp_path, best_by="cost")
    assert json.loads((tmp_path / "selection.json").read_text()) == sel  # nothing rewritten
    assert not (tmp_path / "checkpoint_selected.pt").exists()
