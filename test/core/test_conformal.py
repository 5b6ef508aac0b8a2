"""Conformal risk control of the critic's thresholds, on synthetic scores with known laws."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_core.conformal import (
    CalibrationError,
    allowed_misses,
    calibrate,
    calibrate_any,
    crc_threshold,
    min_events,
)


def _event_risks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Risks a mediocre critic gives cost-causing pairs: Beta(2, 2), plus ties at 0.5."""
    r = rng.beta(2.0, 2.0, n)
    r[rng.random(n) < 0.1] = 0.5
    return r


@pytest.mark.parametrize(("alpha", "n"), [(0.1, 30), (0.05, 200), (0.2, 12)])
def test_expected_miss_rate_is_at_most_alpha_over_repeated_trials(alpha, n):
    rng = np.random.default_rng(0)
    misses = []
    for _ in range(2000):
        lam = crc_threshold(_event_risks(rng, n), alpha)
        misses.append(np.mean(_event_risks(rng, 400) < lam))
    mean = float(np.mean(misses))
    assert mean <= alpha + 0.005  # the guarantee (Monte-Carlo slack of ~4 standard errors)
    assert mean >= alpha - 1.0 / (n + 1) - 0.02  # and it is not vacuous: nearly tight


def test_a_miscalibrated_rule_breaks_the_bound():
    # the test above can fail: the plain empirical alpha-quantile (no +1 correction) of a
    # small calibration set misses more than alpha on average
    rng = np.random.default_rng(1)
    alpha, n = 0.1, 15
    misses = [
        np.mean(_event_risks(rng, 400) < np.quantile(_event_risks(rng, n), alpha))
        for _ in range(2000)
    ]
    assert np.mean(misses) > alpha + 0.005


def test_threshold_is_monotone_in_alpha_and_in_the_scores():
    rng = np.random.default_rng(2)
    r = _event_risks(rng, 300)
    lams = [crc_threshold(r, a) for a in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.9)]
    assert lams == sorted(lams) and lams[0] < lams[-1]
    assert crc_threshold(r + 0.05, 0.1) >= crc_threshold(r, 0.1)  # riskier scores, later veto


def test_the_finite_sample_condition_holds_at_the_threshold_and_fails_above_it():
    rng = np.random.default_rng(3)
    r = np.round(_event_risks(rng, 57), 2)  # many ties
    alpha, n = 0.1, 57
    lam = crc_threshold(r, alpha)
    assert n / (n + 1) * np.mean(r < lam) + 1 / (n + 1) <= alpha
    above = r[r > lam].min()  # the next larger candidate threshold
    assert n / (n + 1) * np.mean(r < above + 1e-9) + 1 / (n + 1) > alpha


def test_too_few_events_give_the_most_conservative_threshold_or_a_clear_error():
    assert min_events(0.1) == 9 and allowed_misses(9, 0.1) == 0 and allowed_misses(8, 0.1) < 0
    assert crc_threshold(np.full(8, 0.9), 0.1) == 0.0  # nothing passes: veto every action
    assert crc_threshold(np.array([]), 0.1) == 0.0
    assert crc_threshold(np.full(9, 0.9), 0.1) == pytest.approx(0.9)
    with pytest.raises(CalibrationError, match="at least 9 are needed"):
        crc_threshold(np.full(8, 0.9), 0.1, on_too_few="error")
    with pytest.raises(ValueError, match="alpha"):
        crc_threshold(np.ones(10), 1.0)


def test_calibrate_reports_every_category_and_measures_on_the_test_split():
    rng = np.random.default_rng(4)
    cats = ("a", "b")
    labels = (rng.random((400, 20, 2)) < [0.1, 0.0]).astype(np.uint8)  # "b" never happens
    risk = np.clip(0.5 * labels + rng.random(labels.shape) * 0.6, 0, 1)
    test_labels = (rng.random((400, 20, 2)) < 0.1).astype(np.uint8)
    test_risk = np.clip(0.5 * test_labels + rng.random(test_labels.shape) * 0.6, 0, 1)
    mask = np.ones(20, bool)
    mask[[4, 5]] = False
    a, b = calibrate(risk, labels, cats, 0.1, test_risk, test_labels, pair_mask=mask)
    assert (a.category, a.sufficient, b.sufficient) == ("a", True, False)
    assert a.n_pairs == 400 * 18 and a.n_events == int(labels[:, mask, 0].sum())
    assert 0 < a.threshold < 1 and a.calibration_miss_rate <= 0.1
    assert a.test_miss_rate == pytest.approx(0.1, abs=0.03)
    assert 0 < a.test_false_veto_rate < 1
    assert b.threshold == 0.0 and b.test_miss_rate == 0.0 and b.test_false_veto_rate == 1.0


def _clustered(rng: np.random.Generator, episodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Events clustered by episode: most episodes have one hard-to-see event (low risk), a few
    have a run of 30 obvious ones (a robot stuck in a corner: high risk)."""
    risks, groups = [], []
    for j in range(episodes):
        stuck = rng.random() < 0.3
        n = 30 if stuck else 1
        risks.append(rng.beta(5, 2, n) if stuck else rng.beta(2, 5, n))
        groups.append(np.full(n, j))
    return np.concatenate(risks), np.concatenate(groups)


def _episode_miss(risks, groups, lam) -> float:
    _, g, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return float(np.mean(np.bincount(g, weights=risks < lam) / counts))


def test_episode_units_keep_the_per_episode_guarantee_where_pair_units_break_it():
    rng = np.random.default_rng(5)
    alpha, by_episode, by_pair = 0.1, [], []
    for _ in range(400):
        r, g = _clustered(rng, 60)
        new_r, new_g = _clustered(rng, 200)
        by_episode.append(_episode_miss(new_r, new_g, crc_threshold(r, alpha, groups=g)))
        by_pair.append(_episode_miss(new_r, new_g, crc_threshold(r, alpha)))
    assert np.mean(by_episode) <= alpha + 0.01
    assert np.mean(by_pair) > 2 * alpha  # the clusters dominate the pooled quantile


def test_singleton_groups_are_the_pair_rule_and_groups_count_as_units():
    rng = np.random.default_rng(6)
    r = _event_risks(rng, 80)
    assert crc_threshold(r, 0.1, groups=np.arange(80)) == crc_threshold(r, 0.1)
    # 40 events in 8 episodes: 8 units are too few for alpha = 0.1
    assert crc_threshold(r[:40], 0.1, groups=np.repeat(np.arange(8), 5)) == 0.0
    (rep,) = calibrate(
        np.full((10, 2, 1), 0.5), np.ones((10, 2, 1)), ("a",), 0.1, groups=np.arange(10)
    )
    assert (rep.unit, rep.n_events, rep.n_units, rep.sufficient) == ("episode", 20, 10, True)


def _two_category_world(rng: np.random.Generator, episodes: int):
    """(risk, labels, episode) with a common category "a" and a rare one "b" (about one
    episode in twelve), whose events the critic ranks less well."""
    risk, labels, eps = [], [], []
    for j in range(episodes):
        y = np.zeros((10, 6, 2), np.uint8)
        y[..., 0] = rng.random((10, 6)) < 0.08
        if rng.random() < 0.08:
            y[rng.integers(10), rng.integers(6), 1] = 1
        r = np.stack(
            [
                np.clip(0.4 * y[..., 0] + rng.random((10, 6)) * 0.6, 0, 1),
                np.clip(0.01 * y[..., 1] + rng.random((10, 6)) * 0.02, 0, 1),
            ],
            axis=-1,
        )
        risk.append(r)
        labels.append(y)
        eps.append(np.full(10, j))
    return np.concatenate(risk), np.concatenate(labels), np.concatenate(eps)


def test_one_threshold_on_any_event_bounds_the_union_and_spares_a_rare_category():
    rng = np.random.default_rng(7)
    alpha, cats = 0.1, ("a", "b")
    misses, fv_any, fv_cat = [], [], []
    for _ in range(40):
        cal = _two_category_world(rng, 60)
        test = _two_category_world(rng, 200)
        union, (a, b) = calibrate_any(
            *cal[:2], cats, alpha, *test[:2], groups=cal[2], test_groups=test[2]
        )
        assert union.category == "any" and a.threshold == b.threshold == union.threshold
        assert union.n_events == int(cal[1].any(2).sum())
        assert b.n_events == int(cal[1][..., 1].sum()) and b.test_events == int(
            test[1][..., 1].sum()
        )
        misses.append(union.test_unit_miss_rate)
        fv_any.append(union.test_false_veto_rate)
        per = calibrate(*cal[:2], cats, alpha, groups=cal[2])
        veto = (test[0] >= [r.threshold for r in per]).any(2)
        fv_cat.append(veto[~test[1].any(2)].mean())
    # the guarantee is on the union (an average over calibration draws)
    assert np.mean(misses) <= alpha + 0.02
    # per category, the rare category's few episodes force a threshold near 0 for "b": the
    # per-category shield vetoes most harmless pairs, the union's threshold does not
    assert np.mean(fv_cat) > 0.5 > np.mean(fv_any) + 0.2


def test_calibrate_any_without_events_vetoes_every_pair():
    risk, labels = np.full((5, 4, 2), 0.3), np.zeros((5, 4, 2), np.uint8)
    union, per = calibrate_any(risk, labels, ("a", "b"), 0.1, risk, labels)
    assert union.threshold == 0.0 and not union.sufficient
    assert union.test_false_veto_rate == 1.0 and all(r.threshold == 0.0 for r in per)
    with pytest.raises(CalibrationError):
        calibrate_any(risk, labels, ("a", "b"), 0.1, on_too_few="error")
    with pytest.raises(ValueError, match="must both be"):
        calibrate_any(risk, labels[:, :, :1], ("a", "b"), 0.1)
