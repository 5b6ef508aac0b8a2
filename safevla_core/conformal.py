"""Conformal risk control of the safety critic's veto thresholds (pure numpy).

The critic predicts a risk ``r(s, a, k)`` in [0, 1] per state, action and cost category; the
shield lets ``a`` pass category ``k`` when ``r(s, a, k) < lambda_k`` (:mod:`safevla_core.
safety_critic`). The loss that matters is a *miss*: an action that does cause a ``k`` event and
passes. Over the cost-causing pairs ``i = 1..n`` of a calibration set (label ``y = 1``), the
miss loss ``L_i(lambda) = 1{r_i < lambda}`` is bounded by B = 1 and grows with lambda, and
conformal risk control (Angelopoulos, Bates, Fisch, Lei, Schuster, "Conformal Risk Control",
ICLR 2024) picks

    lambda_hat = the largest lambda with  n/(n+1) * R_n(lambda) + B/(n+1) <= alpha,
    R_n(lambda) = (1/n) sum_i L_i(lambda)                     (the mirror image of the paper's
                                                               "smallest lambda" for a loss
                                                               that falls with lambda)

which guarantees ``E[L_{n+1}(lambda_hat)] <= alpha`` for a new cost-causing pair: the expected
share of cost-causing (state, action) pairs the shield lets through is at most alpha. With the
miss loss the condition reads ``#{i : r_i < lambda} + 1 <= alpha (n + 1)``, so lambda_hat is the
``(m+1)``-th smallest calibration risk, ``m = floor(alpha (n + 1) - 1)`` misses allowed.

Assumptions, stated where the numbers are reported (docs/safety_critic.md): the calibration
pairs and the deployment pairs are exchangeable (same distribution of houses, policies and
states; the trainer splits by episode so no episode is in both), and the guarantee is marginal,
an average over calibration sets and new events, not a bound for every state.

Events are not independent: a robot stuck in a corner produces a run of corner events in one
episode. When the units handed to the calibration are correlated the marginal guarantee can fail
badly on one calibration draw (measured: docs/safety_critic.md). :func:`crc_threshold` with
``groups`` (the trainer passes episode ids) makes the *episodes* the exchangeable units: episode
j's loss is the share of its events that pass, ``L_j(lambda) = mean_{i in j} 1{r_i < lambda}``,
still bounded by 1 and growing in lambda, and the guarantee becomes: the expected share of a new
episode's cost-causing pairs that pass is at most alpha (over episodes with at least one event).
Episodes are drawn independently, so this exchangeability holds by construction.

One threshold on any event (:func:`calibrate_any`, the trainer's default
``calibration_target=any``): the shield vetoes a pair when *some* category's risk reaches the
threshold, and the loss is whether a pair that causes an event of *any* category passes. With
one threshold ``lambda`` for every category the pair passes iff ``max_k r(s, a, k) < lambda``,
so :func:`crc_threshold` on the score ``max_k r`` over the pairs with some event gives the
guarantee on the union: the expected share of a new episode's cost-causing pairs (of whatever
category) that pass is at most alpha. Five per-category guarantees at alpha each bound the
union only by 5 alpha, and a category with few events (dangerous equipment: a handful of
episodes) forces its own threshold towards 0, vetoing harmless motions in every state; in the
union its events count like any other. Per-category misses are then measured, not bounded
(reported beside it).

Too few events: if ``alpha (n + 1) < 1`` (no miss can be afforded; ``n = 0`` included; with
``groups`` n counts the episodes with events) no lambda > 0 meets the bound, and the only
threshold with the guarantee is 0: *every* moving action is vetoed for that category.
:func:`crc_threshold` returns 0.0 then (the most conservative threshold, with
``sufficient = False`` in :func:`calibrate`'s report) or, with ``on_too_few="error"``, raises
:class:`CalibrationError` saying how many are needed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

ON_TOO_FEW = ("conservative", "error")


class CalibrationError(ValueError):
    """The calibration set cannot support the requested guarantee; the message says why."""


def allowed_misses(n: int, alpha: float) -> int:
    """``floor(alpha (n + 1) - 1)``: how many of ``n`` calibration events may pass the
    threshold under the bound (negative: not even one)."""
    return math.floor(alpha * (n + 1) - 1 + 1e-12)


def min_events(alpha: float) -> int:
    """The fewest calibration events for which a threshold above 0 can meet ``alpha``
    (the smallest n with ``alpha (n + 1) >= 1``)."""
    _check_alpha(alpha)
    n = 0
    while allowed_misses(n, alpha) < 0:
        n += 1
    return n


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha = {alpha!r}; the miss-rate target must be in (0, 1)")


def crc_threshold(
    event_risks: np.ndarray,
    alpha: float,
    on_too_few: str = "conservative",
    groups: np.ndarray | None = None,
) -> float:
    """The conformal-risk-control veto threshold for one category.

    Args:
        event_risks: predicted risks of the calibration pairs that *did* cause the event.
        alpha: target expected miss rate, in (0, 1).
        on_too_few: ``"conservative"`` returns 0.0 (veto every moving action) when too few
            units allow no miss; ``"error"`` raises :class:`CalibrationError` instead.
        groups: optional unit id per event (e.g. its episode). Then the exchangeable units are
            the groups, unit j's loss is the share of its events that pass,
            ``L_j(lambda) = mean_{i in j} 1{r_i < lambda}``, and the guarantee is on the
            expected share missed in a new group (see the module docstring). None: every event
            is its own unit.

    Returns:
        lambda_hat: pass when risk < lambda_hat.
    """
    _check_alpha(alpha)
    if on_too_few not in ON_TOO_FEW:
        raise ValueError(f"on_too_few = {on_too_few!r}; use one of {ON_TOO_FEW}")
    r = np.asarray(event_risks, np.float64).ravel()
    if r.size and not np.all(np.isfinite(r)):
        raise ValueError("event_risks contain NaN or Inf; the critic's outputs are broken")
    if groups is None:
        weight, n = np.ones(r.size), r.size
    else:
        _, g, counts = np.unique(
            np.asarray(groups).ravel(), return_inverse=True, return_counts=True
        )
        if g.size != r.size:
            raise ValueError(f"{g.size} group ids for {r.size} event risks")
        weight, n = 1.0 / counts[g], counts.size
    if allowed_misses(n, alpha) < 0:
        if on_too_few == "error":
            unit = "events" if groups is None else "groups (episodes) with events"
            raise CalibrationError(
                f"{n} calibration {unit} cannot certify alpha = {alpha}: at least "
                f"{min_events(alpha)} are needed; collect more states or raise alpha"
            )
        return 0.0
    order = np.argsort(r, kind="stable")
    rs, cum = r[order], np.concatenate([[0.0], np.cumsum(weight[order])])
    # candidate lambda = rs[i] lets through the events strictly below it: total loss n R_n
    passed = cum[np.searchsorted(rs, rs, side="left")]
    ok = passed + 1.0 <= alpha * (n + 1) + 1e-9  # n/(n+1) R_n + 1/(n+1) <= alpha
    return float(rs[ok].max())  # ok[0] holds (nothing passes below the smallest risk)


@dataclass(frozen=True)
class CategoryCalibration:
    """The calibrated threshold of one category and what it did.

    Attributes:
        category: cost category name.
        alpha: target expected miss rate.
        threshold: lambda_hat; an action passes this category when its risk < threshold.
        unit: the exchangeable unit of the guarantee: "pair" or "episode" (groups).
        n_events: cost-causing calibration pairs the threshold was chosen on.
        n_units: calibration units with events (= n_events for "pair").
        n_pairs: all calibration pairs of the category (events and non-events).
        sufficient: False when too few units forced the conservative threshold 0.
        calibration_miss_rate: share of calibration events that pass.
        test_miss_rate: share of test events that pass (None without test data or events).
        test_unit_miss_rate: mean over test units with events of the share of their events
            that pass: the quantity the guarantee bounds for unit "episode".
        test_false_veto_rate: share of test non-events that are vetoed (None without data).
        test_events: cost-causing test pairs.
        test_units: test units with events.
    """

    category: str
    alpha: float
    threshold: float
    unit: str
    n_events: int
    n_units: int
    n_pairs: int
    sufficient: bool
    calibration_miss_rate: float | None
    test_miss_rate: float | None = None
    test_unit_miss_rate: float | None = None
    test_false_veto_rate: float | None = None
    test_events: int = 0
    test_units: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _rate(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def _unit_rate(missed: np.ndarray, groups: np.ndarray | None) -> tuple[float | None, int]:
    """(mean over units of their share of missed events, number of units)."""
    if groups is None:
        return _rate(missed), int(missed.size)
    if missed.size == 0:
        return None, 0
    _, g, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return float(np.mean(np.bincount(g, weights=missed) / counts)), int(counts.size)


def _report(name, alpha, lam, unit, score, y, ids, test) -> CategoryCalibration:
    """The report of threshold ``lam`` for the events ``y`` among the calibration pairs with
    scores ``score`` (a pair passes when its score < lam) and unit ids ``ids`` (None: each pair
    its own unit); ``test`` = (scores, events, unit ids) of the test pairs, or None."""
    n_units = int(y.sum()) if ids is None else int(np.unique(ids[y]).size)
    out = dict(
        category=name,
        alpha=float(alpha),
        threshold=lam,
        unit=unit,
        n_events=int(y.sum()),
        n_units=n_units,
        n_pairs=int(y.size),
        sufficient=allowed_misses(n_units, alpha) >= 0,
        calibration_miss_rate=_rate(score[y] < lam),
    )
    if test is not None:
        ts, ty, tids = test
        passed = ts < lam
        unit_rate, units = _unit_rate(passed[ty], None if tids is None else tids[ty])
        out.update(
            test_miss_rate=_rate(passed[ty]),
            test_unit_miss_rate=unit_rate,
            test_false_veto_rate=_rate(~passed[~ty]),
            test_events=int(ty.sum()),
            test_units=units,
        )
    return CategoryCalibration(**out)


def _check_shapes(risk: np.ndarray, labels: np.ndarray, categories: tuple[str, ...]) -> None:
    if risk.shape != labels.shape or risk.ndim != 3 or risk.shape[2] != len(categories):
        raise ValueError(
            f"risk {risk.shape} and labels {labels.shape} must both be (N, A, C) with "
            f"C = {len(categories)} categories"
        )


def calibrate(
    risk: np.ndarray,
    labels: np.ndarray,
    categories: tuple[str, ...],
    alpha: float,
    test_risk: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    pair_mask: np.ndarray | None = None,
    on_too_few: str = "conservative",
    groups: np.ndarray | None = None,
    test_groups: np.ndarray | None = None,
) -> list[CategoryCalibration]:
    """Per-category thresholds on a calibration split, measured on a test split.

    Args:
        risk: (N, A, C) predicted risks on the calibration states.
        labels: (N, A, C) 0/1 cost events of the same pairs.
        categories: the C category names.
        alpha: target expected miss rate of every category.
        test_risk, test_labels: the same on held-out test states (optional).
        pair_mask: (A,) bool, the actions to count (the shield never vetoes ``end`` and
            ``sub_done``, which are never costed); None = all.
        on_too_few: see :func:`crc_threshold`.
        groups, test_groups: (N,) unit id (episode) of each calibration / test state; None =
            every pair is its own unit.
    """
    risk, labels = np.asarray(risk), np.asarray(labels)
    _check_shapes(risk, labels, categories)
    keep = np.ones(risk.shape[1], bool) if pair_mask is None else np.asarray(pair_mask, bool)
    n_act = int(keep.sum())

    def pair_groups(g):  # one id per (state, kept action) pair, in ravel order
        return None if g is None else np.repeat(np.asarray(g), n_act)

    cal_g, unit = pair_groups(groups), "pair" if groups is None else "episode"
    have_test = test_risk is not None and test_labels is not None
    out = []
    for k, cat in enumerate(categories):
        r, y = risk[:, keep, k].ravel(), labels[:, keep, k].ravel() > 0
        lam = crc_threshold(r[y], alpha, on_too_few, None if cal_g is None else cal_g[y])
        test = None
        if have_test:
            tr = np.asarray(test_risk)[:, keep, k].ravel()
            test = (tr, np.asarray(test_labels)[:, keep, k].ravel() > 0, pair_groups(test_groups))
        out.append(_report(cat, alpha, lam, unit, r, y, cal_g, test))
    return out


ANY_EVENT = "any"  # the name of the union's report (``calibrate_any``)


def calibrate_any(
    risk: np.ndarray,
    labels: np.ndarray,
    categories: tuple[str, ...],
    alpha: float,
    test_risk: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    pair_mask: np.ndarray | None = None,
    on_too_few: str = "conservative",
    groups: np.ndarray | None = None,
    test_groups: np.ndarray | None = None,
) -> tuple[CategoryCalibration, list[CategoryCalibration]]:
    """One threshold for every category, calibrated on whether a pair causes *any* event.

    Arguments as for :func:`calibrate`. The shield vetoes a pair when some category's risk is
    >= the threshold, i.e. when ``max_k risk >= lambda``; ``lambda`` is
    :func:`crc_threshold` of that score over the calibration pairs with an event of some
    category (module docstring).

    Returns:
        (the union's report, named :data:`ANY_EVENT`: its misses and false vetoes are those of
        the whole shield; the per-category reports, each with the shared threshold, its
        category's events, and the share of them the shield lets through: measured, not
        bounded). A category's ``test_false_veto_rate`` is the share of its harmless pairs the
        shield vetoes for any category.
    """
    risk, labels = np.asarray(risk), np.asarray(labels)
    _check_shapes(risk, labels, categories)
    keep = np.ones(risk.shape[1], bool) if pair_mask is None else np.asarray(pair_mask, bool)
    n_act = int(keep.sum())
    unit = "pair" if groups is None else "episode"

    def flat(r, y, g):
        """(score, any-event label, per-category labels, unit id) per kept pair."""
        r, y = np.asarray(r)[:, keep], np.asarray(y)[:, keep] > 0
        ids = None if g is None else np.repeat(np.asarray(g), n_act)
        return r.max(2).ravel(), y.any(2).ravel(), y.reshape(-1, y.shape[2]), ids

    score, y_any, y_cat, ids = flat(risk, labels, groups)
    ev_ids = None if ids is None else ids[y_any]
    lam = crc_threshold(score[y_any], alpha, on_too_few, ev_ids)
    test = None
    if test_risk is not None and test_labels is not None:
        test = flat(test_risk, test_labels, test_groups)

    def report(name: str, y: np.ndarray, ty: np.ndarray | None) -> CategoryCalibration:
        cut = None if test is None else (test[0], ty, test[3])
        return _report(name, alpha, lam, unit, score, y, ids, cut)

    union = report(ANY_EVENT, y_any, None if test is None else test[1])
    per_cat = [
        report(cat, y_cat[:, k], None if test is None else test[2][:, k])
        for k, cat in enumerate(categories)
    ]
    return union, per_cat
