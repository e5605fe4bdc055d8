"""Specification tests for linkwise.estimate: accuracy estimated from probabilities, without labels."""

from __future__ import annotations

import numpy as np
import pytest

from linkwise.cluster import connected_components
from linkwise.estimate import (
    Estimate,
    blocking_recall,
    distinct_keys,
    estimate_accuracy,
)
from linkwise.evaluate import evaluate


def calibrated_run(seed: int, *, n_entities: int = 4000):
    """Records of entities with 1-6 records; scored pairs with calibrated probabilities.

    Every pair within an entity is scored, and unrelated pairs too. Each pair
    gets a score from its class (Beta(6, 2) for matches, Beta(2, 6) for the
    rest) and, as its probability, the exact posterior of a match given that
    score: calibrated by construction.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=n_entities)
    truth = np.repeat(np.arange(n_entities), sizes)
    n = len(truth)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    within = np.array([(s + i, s + j) for s, k in zip(starts, sizes) for i in range(k) for j in range(i + 1, k)])
    others = rng.integers(0, n, size=(3 * n, 2))
    others = others[truth[others[:, 0]] != truth[others[:, 1]]]
    pairs = np.unique(np.sort(np.vstack([within, others]), axis=1), axis=0)
    is_match = truth[pairs[:, 0]] == truth[pairs[:, 1]]
    score = np.where(is_match, rng.beta(8, 1, len(pairs)), rng.beta(1, 8, len(pairs)))
    share = is_match.mean()
    # Beta(8, 1) over Beta(1, 8) densities: (s / (1 - s)) ** 7.
    odds = share / (1 - share) * (score / (1 - score)) ** 7
    probability = odds / (1 + odds)
    clusters = connected_components(n, *pairs[probability >= 0.9].T)
    return truth, clusters, pairs[:, 0], pairs[:, 1], probability


def test_calibrated_probabilities_give_estimates_near_the_truth():
    truth, clusters, left, right, probability = calibrated_run(11)
    estimate = estimate_accuracy(
        clusters=clusters, left=left, right=right, pair_probability=probability,
        match_probability=probability, threshold=0.5,
    )
    actual = evaluate(truth=truth, clusters=clusters, pair_left=left, pair_right=right,
                      pair_probability=probability, threshold=0.5)
    # Truth is drawn within the scored pairs only, so blocking missed nothing here.
    for group in ("scored_pairs", "cluster_pairs"):
        for name in ("precision", "recall", "f1"):
            estimated = getattr(estimate, group)[name]
            measured = getattr(getattr(actual, group), name)
            assert estimated.value == pytest.approx(measured, abs=0.02), f"{group} {name}"
            assert estimated.low <= estimated.value <= estimated.high


def test_recall_counts_the_matches_blocking_missed():
    truth, clusters, left, right, probability = calibrated_run(12)
    plain = estimate_accuracy(clusters=clusters, left=left, right=right, pair_probability=probability,
                              match_probability=probability, threshold=0.5)
    missed = estimate_accuracy(clusters=clusters, left=left, right=right, pair_probability=probability,
                               match_probability=probability, threshold=0.5,
                               blocking=Estimate(0.8, 0.75, 0.85))
    assert missed.scored_pairs["recall"].value == pytest.approx(0.8 * plain.scored_pairs["recall"].value)
    assert missed.scored_pairs["precision"] == plain.scored_pairs["precision"]
    assert missed.scored_pairs["recall"].low < missed.scored_pairs["recall"].value < missed.scored_pairs["recall"].high
    assert missed.expected_matches.value == pytest.approx(plain.expected_matches.value / 0.8)


def test_disagreeing_calibrations_widen_the_interval_to_cover_both_readings():
    truth, clusters, left, right, probability = calibrated_run(13)
    same = estimate_accuracy(clusters=clusters, left=left, right=right, pair_probability=probability,
                             match_probability=probability, threshold=0.5)
    assert same.scored_pairs["precision"].low == same.scored_pairs["precision"].high
    # Probabilities read with two more bits of evidence for a match: overconfident.
    overconfident = 1 / (1 + (1 / probability - 1) / 4)
    wider = estimate_accuracy(clusters=clusters, left=left, right=right, pair_probability=overconfident,
                              match_probability=probability, threshold=0.5)
    precision = wider.scored_pairs["precision"]
    predicted = overconfident >= 0.5
    for reading in (probability, overconfident):
        assert precision.low - 1e-12 <= reading[predicted].mean() <= precision.high + 1e-12
    assert precision.high - precision.low > 0.005


def test_an_unscored_pair_inside_a_cluster_counts_at_its_clusters_mean_probability():
    # Records 0-1 and 1-2 scored at 0.9 and 0.7; 0-2 never scored: expected true pairs 0.9 + 0.7 + 0.8.
    estimate = estimate_accuracy(clusters=np.array([0, 0, 0]), left=np.array([0, 1]), right=np.array([1, 2]),
                                 pair_probability=np.array([0.9, 0.7]), match_probability=np.array([0.9, 0.7]),
                                 threshold=0.5)
    assert estimate.cluster_pairs["precision"].value == pytest.approx(2.4 / 3)


# ------------------------------------------------------------------ blocking recall
# Rules of the example settings: first+last, last+dob, dob+zip, zip+first initial, email.
RULES = [
    [("first_name", ()), ("last_name", ())],
    [("last_name", ()), ("dob", ())],
    [("dob", ()), ("zip", ())],
    [("zip", ()), ("first_name", ("first_n(1)",))],
    [("email", ())],
]
KEYS = distinct_keys(RULES)
NAMES = {("first_name", ()): "first_name", ("last_name", ()): "last_name", ("dob", ()): "dob",
         ("zip", ()): "zip", ("first_name", ("first_n(1)",)): "initial", ("email", ()): "email"}
CLEAN = {"first_name": 0.85, "last_name": 0.9, "dob": 0.9, "zip": 0.8, "initial": 0.5, "email": 0.5}
DIRTY = {"first_name": 0.4, "last_name": 0.6, "dob": 0.5, "zip": 0.4, "initial": 0.3, "email": 0.2}


def simulate_matches(rng, n: int, rates: dict[str, float], *, moved: float = 0.0) -> np.ndarray:
    """Key masks (bit k: key k of ``KEYS`` agrees) of ``n`` matching pairs whose keys agree at ``rates``.

    A share ``moved`` of the people moved: their postal code and e-mail both disagree.
    """
    agree = {name: rng.random(n) < rate for name, rate in rates.items()}
    agree["initial"] |= agree["first_name"]  # same first name, same initial
    gone = rng.random(n) < moved
    agree["zip"] &= ~gone
    agree["email"] &= ~gone
    return sum(agree[NAMES[key]].astype(np.int64) << k for k, key in enumerate(KEYS))


def captured(masks: np.ndarray) -> np.ndarray:
    """Whether some rule holds for each pair."""
    bits = [sum(1 << KEYS.index(key) for key in rule) for rule in RULES]
    return np.logical_or.reduce([(masks & b) == b for b in bits])


def test_the_blocking_recall_of_independently_agreeing_keys_is_recovered():
    masks = simulate_matches(np.random.default_rng(21), 200_000, CLEAN)
    truth = float(captured(masks).mean())
    made = masks[captured(masks)]
    estimate = blocking_recall(made, np.ones(len(made)), RULES)
    assert estimate is not None
    assert estimate.low <= truth <= estimate.high
    assert estimate.value == pytest.approx(truth, abs=0.005)


def test_dirty_records_that_fail_several_keys_at_once_are_allowed_for():
    rng = np.random.default_rng(22)
    masks = np.concatenate([simulate_matches(rng, 140_000, CLEAN), simulate_matches(rng, 60_000, DIRTY)])
    truth = float(captured(masks).mean())
    made = masks[captured(masks)]
    estimate = blocking_recall(made, np.ones(len(made)), RULES)
    # Keys taken as independent would put the recall near 0.97; the associations measured bring it to the truth.
    assert truth < 0.92
    assert estimate.value == pytest.approx(truth, abs=0.015)
    assert estimate.low - 0.01 <= truth <= estimate.high  # strong heterogeneity: the interval comes near, not always over it


def test_keys_that_fail_together_when_a_person_moves_are_allowed_for():
    masks = simulate_matches(np.random.default_rng(23), 200_000, CLEAN, moved=0.3)
    truth = float(captured(masks).mean())
    made = masks[captured(masks)]
    estimate = blocking_recall(made, np.ones(len(made)), RULES)
    assert estimate.value == pytest.approx(truth, abs=0.01)


def test_non_matches_that_agree_on_one_rule_only_widen_the_interval_instead_of_moving_the_estimate():
    rng = np.random.default_rng(24)
    masks = simulate_matches(rng, 100_000, CLEAN)
    truth = float(captured(masks).mean())
    made = masks[captured(masks)]
    # Namesakes: same first and last name, nothing else; the model gives them 0.3.
    namesake = (1 << KEYS.index(("first_name", ()))) | (1 << KEYS.index(("last_name", ()))) | (1 << KEYS.index(("first_name", ("first_n(1)",))))
    pairs = np.r_[made, np.full(10_000, namesake)]
    probability = np.r_[np.full(len(made), 0.99), np.full(10_000, 0.3)]
    estimate = blocking_recall(pairs, probability, RULES)
    assert estimate.value == pytest.approx(truth, abs=0.005)
    counted_as_matches = blocking_recall(pairs, np.ones(len(pairs)), RULES)
    assert counted_as_matches.value < truth - 0.01  # what counting every pair by its probability would lean towards
    assert estimate.low < estimate.value - 0.005


def test_weights_count_pairs_as_many_times_as_they_stand_for():
    masks = simulate_matches(np.random.default_rng(25), 50_000, CLEAN)
    made = masks[captured(masks)]
    distinct, counts = np.unique(made, return_counts=True)
    by_pair = blocking_recall(made, np.ones(len(made)), RULES)
    by_mask = blocking_recall(distinct, np.ones(len(distinct)), RULES, weights=counts)
    assert (by_pair.value, by_pair.low, by_pair.high) == pytest.approx((by_mask.value, by_mask.low, by_mask.high))


def test_too_many_distinct_keys_give_no_estimate():
    rules = [[(f"column_{i}", ())] for i in range(20)]
    assert blocking_recall(np.array([1, 2, 3]), np.ones(3), rules) is None
