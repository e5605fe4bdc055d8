"""Specification tests for linkwise.evaluate (linkage accuracy metrics)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkwise.errors import InputError, LinkwiseError
from linkwise.evaluate import (
    BCubed,
    PairMetrics,
    bcubed,
    evaluate,
    pair_metrics_from_clusters,
    precision_recall_curve,
)

A = np.array


def _eval(truth, clusters, left=(), right=(), prob=(), **kw):
    return evaluate(truth=A(truth), clusters=A(clusters), pair_left=A(left, dtype=np.int64),
                    pair_right=A(right, dtype=np.int64), pair_probability=A(prob, dtype=float),
                    **kw)


# ------------------------------------------------------------------ hand-made cases
def test_perfect_clustering_scores_one_everywhere():
    truth = [0, 0, 0, 1, 1, 2]
    ev = _eval(truth, [9, 9, 9, 4, 4, 7], [0, 0, 1, 3], [1, 2, 2, 4], [0.9, 0.8, 0.7, 0.6])
    for m in (ev.scored_pairs, ev.cluster_pairs):
        assert (m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0)
        assert (m.true_positives, m.false_positives, m.false_negatives) == (4, 0, 0)
    assert ev.bcubed == BCubed(1.0, 1.0, 1.0)
    assert ev.blocking_recall == 1.0
    assert ev.counts == {"records": 6, "entities": 3, "clusters": 3, "true_pairs": 4,
                         "candidate_pairs": 4, "predicted_pairs": 4, "cluster_pairs": 4}


def test_merging_two_entities_lowers_precision_by_the_cross_pairs():
    # entities {0,1,2} and {3,4} merged: 10 cluster pairs, 3 + 1 true ones
    m = pair_metrics_from_clusters(A([0, 0, 0, 1, 1]), A([0, 0, 0, 0, 0]))
    assert (m.true_positives, m.false_positives, m.false_negatives) == (4, 6, 0)
    assert m.precision == pytest.approx(0.4) and m.recall == 1.0
    assert m.f1 == pytest.approx(2 * 0.4 / 1.4)
    b = bcubed(A([0, 0, 0, 1, 1]), A([0, 0, 0, 0, 0]))
    assert b.precision == pytest.approx((3 * 3 / 5 + 2 * 2 / 5) / 5)  # 13/25
    assert b.recall == 1.0


def test_splitting_an_entity_lowers_recall_but_keeps_precision():
    # entity of 4 split 3 + 1: 3 of the 6 true pairs are found
    m = pair_metrics_from_clusters(A([5, 5, 5, 5]), A([1, 1, 1, 2]))
    assert (m.true_positives, m.false_positives, m.false_negatives) == (3, 0, 3)
    assert (m.precision, m.recall) == (1.0, 0.5)
    b = bcubed(A([5, 5, 5, 5]), A([1, 1, 1, 2]))
    assert b.precision == 1.0
    assert b.recall == pytest.approx((3 * 3 / 4 + 1 / 4) / 4)  # 10/16


def test_unknown_truth_records_are_singletons_never_matching_each_other():
    # records 0,1,2 have unknown truth (-1, -1, -3); clustering them together is all wrong
    m = pair_metrics_from_clusters(A([-1, -1, -3, 0, 0]), A([0, 0, 0, 1, 1]))
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 3, 0)
    ev = _eval([-1, -1, -3, 0, 0], [0, 1, 2, 3, 3])
    assert ev.counts["entities"] == 4 and ev.counts["true_pairs"] == 1
    assert ev.cluster_pairs.f1 == 1.0  # unknown records kept apart: nothing wrong
    # no candidate pairs at all: nothing predicted (precision 1.0), nothing found (recall 0.0)
    sp = ev.scored_pairs
    assert (sp.precision, sp.recall, sp.f1) == (1.0, 0.0, 0.0)
    assert bcubed(A([-1, -1]), A([0, 0])).precision == 0.5


def test_link_mode_ignores_within_source_pairs():
    truth, sources = [0, 0, 0, 1], [0, 0, 1, 1]
    # all in one cluster: 6 pairs, of which only (0,2) (0,3) (1,2) (1,3) cross sources
    ev = _eval(truth, [0, 0, 0, 0], [0, 0, 1], [1, 2, 3], [0.9, 0.9, 0.9],
               sources=A(sources), link_type="link")
    assert ev.counts["true_pairs"] == 2  # (0,2) and (1,2)
    assert ev.counts["cluster_pairs"] == 4
    assert ev.cluster_pairs.true_positives == 2 and ev.cluster_pairs.false_positives == 2
    assert ev.counts["candidate_pairs"] == 2  # (0,1) is within source 0; (0,2) (1,3) cross
    assert ev.scored_pairs.true_positives == 1 and ev.scored_pairs.false_positives == 1
    assert ev.counts["predicted_pairs"] == 2
    assert ev.blocking_recall == 0.5
    dedupe = _eval(truth, [0, 0, 0, 0], [0, 0, 1], [1, 2, 3], [0.9, 0.9, 0.9],
                   sources=A(sources), link_type="link_and_dedupe")
    assert dedupe.counts["true_pairs"] == 3 and dedupe.counts["cluster_pairs"] == 6


def test_blocking_recall_counts_only_true_candidate_pairs():
    # 4 true pairs: (0,1) (0,2) (1,2) (3,4); candidates hit two of them plus a false one
    ev = _eval([0, 0, 0, 1, 1], [0, 0, 0, 1, 1], [0, 4, 2], [1, 3, 3], [0.1, 0.2, 0.9])
    assert ev.blocking_recall == 0.5  # regardless of the probabilities (threshold 0.5)
    assert ev.scored_pairs.true_positives == 0 and ev.scored_pairs.false_positives == 1
    assert ev.counts["candidate_pairs"] == 3


def test_threshold_excludes_low_probability_pairs_and_is_inclusive():
    args = ([0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 1, 2], [1, 2, 2, 3], [0.9, 0.5, 0.4, 0.8])
    ev = _eval(*args, threshold=0.5)
    assert ev.counts["predicted_pairs"] == 3  # 0.9, 0.5 (inclusive) and 0.8
    assert ev.scored_pairs.true_positives == 2 and ev.scored_pairs.false_positives == 1
    assert ev.scored_pairs.false_negatives == 1  # (1,2) scored 0.4
    high = _eval(*args, threshold=0.95)
    assert high.counts["predicted_pairs"] == 0
    assert high.scored_pairs.precision == 1.0 and high.scored_pairs.recall == 0.0


def test_undefined_scores_follow_the_documented_conventions():
    m = PairMetrics.from_counts(0, 0, 0)
    assert (m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0)
    assert PairMetrics.from_counts(0, 3, 2).f1 == 0.0
    ev = _eval([], [])
    assert ev.blocking_recall == 1.0 and ev.bcubed == BCubed(1.0, 1.0, 1.0)
    assert ev.counts["records"] == 0


def test_to_dict_is_json_ready_plain_numbers():
    ev = _eval([0, 0, 1], [0, 0, 1], [0], [1], [0.7])
    d = ev.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["scored_pairs"]["true_positives"] == 1 and d["threshold"] == 0.5
    assert set(d["counts"]) == {"records", "entities", "clusters", "true_pairs",
                                "candidate_pairs", "predicted_pairs", "cluster_pairs"}

    def leaves(x):
        return [v for y in x.values() for v in leaves(y)] if isinstance(x, dict) else [x]
    assert all(type(v) in (int, float) for v in leaves(d))


def test_precision_recall_curve_default_thresholds_and_known_values():
    rows = precision_recall_curve(truth=A([0, 0, 1, 1]), pair_left=A([0, 2, 0]),
                                  pair_right=A([1, 3, 2]), pair_probability=A([0.9, 0.3, 0.6]))
    assert [r["threshold"] for r in rows][:3] == [0.05, 0.1, 0.15]
    assert len(rows) == 20 and rows[-1]["threshold"] == 0.99
    by_t = {r["threshold"]: r for r in rows}
    assert (by_t[0.3]["precision"], by_t[0.3]["recall"]) == (pytest.approx(2 / 3), 1.0)
    assert (by_t[0.5]["precision"], by_t[0.5]["recall"]) == (0.5, 0.5)
    assert (by_t[0.95]["precision"], by_t[0.95]["recall"], by_t[0.95]["f1"]) == (1.0, 0.0, 0.0)


def test_labels_of_any_integer_width_and_spread_give_the_same_metrics():
    truth, clusters = [-5, 100, 100, -120, 7, 7], [127, 127, -128, 0, 0, 3]
    expected = _eval(truth, clusters)
    for dtype in (np.int8, np.int16, np.int64):
        assert _eval(A(truth, dtype), A(clusters, dtype)) == expected
    spread = _eval(A(truth, np.int64) * 10**15, A(clusters, np.int64) * 10**15)
    assert spread == expected
    shifted = _eval(A([t + 2**62 if t >= 0 else t for t in truth]), A(clusters) - 2**62)
    assert shifted == expected


def test_precision_recall_curve_with_many_thresholds_agrees_with_evaluate():
    rng = np.random.default_rng(7)
    n, m = 300, 3000
    truth, sources = rng.integers(-3, 40, n), rng.integers(0, 3, n)
    left = rng.integers(0, n, m)
    right = (left + rng.integers(1, n, m)) % n
    keep = np.unique(np.minimum(left, right) * n + np.maximum(left, right), return_index=True)[1]
    left, right = left[keep], right[keep]
    prob = np.round(rng.random(len(left)), 2).astype(np.float32)  # many exact ties
    thresholds = np.linspace(0.0, 1.0, 101)[::-1]  # > 64 thresholds, unsorted order
    for link_type in ("dedupe", "link"):
        rows = precision_recall_curve(truth=truth, pair_left=left, pair_right=right,
                                      pair_probability=prob, sources=sources,
                                      link_type=link_type, thresholds=thresholds)
        assert [r["threshold"] for r in rows] == thresholds.tolist()
        for row in rows:
            sp = evaluate(truth=truth, clusters=truth, pair_left=left, pair_right=right,
                          pair_probability=prob, threshold=row["threshold"], sources=sources,
                          link_type=link_type).scored_pairs
            assert (row["precision"], row["recall"], row["f1"]) == (sp.precision, sp.recall,
                                                                   sp.f1)


def test_huge_entities_are_counted_without_materialising_pairs():
    n = 1_000_000
    truth = np.zeros(n, np.int64)
    clusters = (np.arange(n) % 2).astype(np.int64)  # split in halves
    m = pair_metrics_from_clusters(truth, clusters)
    half = n // 2
    assert m.true_positives == 2 * (half * (half - 1) // 2)
    assert m.false_negatives == half * half and m.false_positives == 0
    src = (np.arange(n) // half).astype(np.int8)  # halves are also the two sources
    link = pair_metrics_from_clusters(truth, clusters, sources=src, link_type="link")
    assert link.true_positives == 2 * (half // 2) ** 2 and link.false_negatives == half * half // 2


@pytest.mark.parametrize("kwargs, message", [
    ({"link_type": "lnk"}, "Did you mean 'link'"),
    ({"link_type": "link"}, "needs 'sources'"),
    ({"sources": A([0, 1])}, "one value per record"),
    ({"clusters": A([0, 0])}, "'clusters' has 2 values"),
    ({"clusters": A([0.5, 1.0, 2.0])}, "integer codes"),
    ({"pair_right": A([1, 2])}, "equal length"),
    ({"pair_right": A([3])}, "must lie in 0..2"),
    ({"pair_right": A([0])}, "to itself"),
    ({"pair_probability": A([np.nan])}, "NaN"),
    ({"threshold": float("nan")}, "NaN"),
])
def test_invalid_inputs_raise_input_error_with_a_clear_message(kwargs, message):
    base = {"truth": A([0, 0, 1]), "clusters": A([0, 0, 1]), "pair_left": A([0]),
            "pair_right": A([1]), "pair_probability": A([0.5])}
    with pytest.raises(InputError, match=message) as info:
        evaluate(**{**base, **kwargs})
    assert isinstance(info.value, LinkwiseError)


# ------------------------------------------------------------ brute-force reference
def _reference(truth, clusters, sources, link_type, pairs, probs, threshold):
    n = len(truth)
    ent = [t if t >= 0 else ("unknown", i) for i, t in enumerate(truth)]

    def counts(i, j):
        return link_type != "link" or sources[i] != sources[j]

    all_pairs = [(i, j) for i, j in itertools.combinations(range(n), 2) if counts(i, j)]
    true = {(i, j) for i, j in all_pairs if ent[i] == ent[j]}
    in_cluster = {(i, j) for i, j in all_pairs if clusters[i] == clusters[j]}
    cand = {tuple(sorted(p)): pr for p, pr in zip(pairs, probs) if counts(*p)}
    predicted = {p for p, pr in cand.items() if pr >= threshold}
    b_p = [sum(clusters[j] == clusters[i] and ent[j] == ent[i] for j in range(n))
           / sum(clusters[j] == clusters[i] for j in range(n)) for i in range(n)]
    b_r = [sum(clusters[j] == clusters[i] and ent[j] == ent[i] for j in range(n))
           / sum(ent[j] == ent[i] for j in range(n)) for i in range(n)]
    return {
        "scored": (len(predicted & true), len(predicted - true), len(true - predicted)),
        "cluster": (len(in_cluster & true), len(in_cluster - true), len(true - in_cluster)),
        "bcubed": (np.mean(b_p), np.mean(b_r)) if n else (1.0, 1.0),
        "blocking_recall": len(set(cand) & true) / len(true) if true else 1.0,
        "true": true, "cand": cand,
        "counts": {"records": n, "entities": len(set(ent)), "clusters": len(set(clusters)),
                   "true_pairs": len(true), "candidate_pairs": len(cand),
                   "predicted_pairs": len(predicted), "cluster_pairs": len(in_cluster)},
    }


@st.composite
def linkage_problems(draw):
    n = draw(st.integers(0, 30))
    labels = st.lists(st.integers(-2, 5), min_size=n, max_size=n)
    truth, clusters = draw(labels), draw(labels)
    sources = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    all_pairs = list(itertools.combinations(range(n), 2))
    chosen = draw(st.lists(st.sampled_from(all_pairs), unique=True, max_size=60)) if all_pairs \
        else []
    pairs = [(j, i) if draw(st.booleans()) else (i, j) for i, j in chosen]
    grid = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])  # ties with thresholds on purpose
    probs = draw(st.lists(st.one_of(grid, st.floats(0, 1)), min_size=len(pairs),
                          max_size=len(pairs)))
    threshold = draw(st.one_of(grid, st.floats(0, 1)))
    link_type = draw(st.sampled_from(["dedupe", "link", "link_and_dedupe"]))
    # widely spread labels take the sorting path; narrow ones the table path
    spread = draw(st.sampled_from([1, 1, 10**12]))
    truth, clusters = [t * spread for t in truth], [c * spread for c in clusters]
    return truth, clusters, sources, link_type, pairs, probs, threshold


def _arrays(truth, clusters, sources, pairs, probs):
    left = A([p[0] for p in pairs], dtype=np.int64)
    right = A([p[1] for p in pairs], dtype=np.int64)
    labels = np.int8 if max(map(abs, truth + clusters), default=0) < 100 else np.int64
    return (A(truth, dtype=labels), A(clusters, dtype=labels), A(sources, dtype=np.int64),
            left, right, A(probs, dtype=np.float64))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linkage_problems())
def test_vectorised_evaluation_matches_brute_force_reference(problem):
    truth, clusters, sources, link_type, pairs, probs, threshold = problem
    t, c, s, left, right, p = _arrays(truth, clusters, sources, pairs, probs)
    ev = evaluate(truth=t, clusters=c, pair_left=left, pair_right=right, pair_probability=p,
                  threshold=threshold, sources=s, link_type=link_type)
    ref = _reference(truth, clusters, sources, link_type, pairs, probs, threshold)
    sp, cp = ev.scored_pairs, ev.cluster_pairs
    assert (sp.true_positives, sp.false_positives, sp.false_negatives) == ref["scored"]
    assert (cp.true_positives, cp.false_positives, cp.false_negatives) == ref["cluster"]
    assert ev.counts == ref["counts"]
    assert ev.blocking_recall == pytest.approx(ref["blocking_recall"])
    assert (ev.bcubed.precision, ev.bcubed.recall) == pytest.approx(ref["bcubed"])
    standalone = pair_metrics_from_clusters(t, c, sources=s, link_type=link_type)
    assert standalone == cp
    assert bcubed(t, c) == ev.bcubed
    for m in (sp, cp, ev.bcubed):
        assert 0.0 <= m.precision <= 1.0 and 0.0 <= m.recall <= 1.0 and 0.0 <= m.f1 <= 1.0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linkage_problems(), st.lists(st.floats(0, 1), max_size=6))
def test_precision_recall_curve_matches_brute_force_at_every_threshold(problem, extra):
    truth, clusters, sources, link_type, pairs, probs, _ = problem
    t, _, s, left, right, p = _arrays(truth, clusters, sources, pairs, probs)
    thresholds = sorted(set(extra) | set(probs[:4]) | {0.0, 1.0})
    rows = precision_recall_curve(truth=t, pair_left=left, pair_right=right, pair_probability=p,
                                  sources=s, link_type=link_type, thresholds=thresholds)
    ref = _reference(truth, clusters, sources, link_type, pairs, probs, 0.0)
    assert [r["threshold"] for r in rows] == thresholds
    for row in rows:
        predicted = {q for q, pr in ref["cand"].items() if pr >= row["threshold"]}
        expected = PairMetrics.from_counts(len(predicted & ref["true"]),
                                           len(predicted - ref["true"]),
                                           len(ref["true"] - predicted))
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx(
            (expected.precision, expected.recall, expected.f1))
        single = evaluate(truth=t, clusters=t, pair_left=left, pair_right=right,
                          pair_probability=p, threshold=row["threshold"], sources=s,
                          link_type=link_type).scored_pairs
        assert single.precision == pytest.approx(row["precision"])
        assert single.recall == pytest.approx(row["recall"])
