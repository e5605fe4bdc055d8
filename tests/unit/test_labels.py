"""Specification tests for linkwise.labels: labelled pairs read, m calibrated, thresholds chosen."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from linkwise.errors import InputError
from linkwise.labels import (
    best_threshold,
    calibrate_m,
    candidate_positions,
    cluster_f1,
    labelled_pairs_of_column,
    read_labelled_pairs,
)
from linkwise.model import ConvergenceWarning, FellegiSunterModel


def records(ids, sources=None):
    names = tuple(sorted(set(sources))) if sources else ("records",)
    codes = np.array([names.index(s) for s in sources]) if sources else np.zeros(len(ids), int)
    return SimpleNamespace(
        ids=pa.array(ids), n=len(ids), source_names=names,
        sources=pa.array([names[c] for c in codes]),
    )


# ------------------------------------------------------------------ reading
def test_labelled_pairs_are_read_as_record_indices_in_either_order_with_any_common_spelling():
    table = pa.table({"id_l": ["c", "a", "b"], "id_r": ["a", "d", "d"], "match": ["yes", "0", "Non-Match"]})
    pairs = read_labelled_pairs(table, records(["a", "b", "c", "d"]))
    assert list(zip(pairs.left, pairs.right, pairs.is_match)) == [(0, 2, True), (0, 3, False), (1, 3, False)]


def test_boolean_and_integer_labels_are_read_too():
    table = pa.table({"id_l": ["a", "b"], "id_r": ["b", "c"], "match": [True, False]})
    assert read_labelled_pairs(table, records(["a", "b", "c"])).is_match.tolist() == [True, False]
    table = pa.table({"id_l": ["a", "b"], "id_r": ["b", "c"], "match": [1, 0]})
    assert read_labelled_pairs(table, records(["a", "b", "c"])).is_match.tolist() == [True, False]


def test_sources_tell_apart_records_whose_ids_repeat_across_sources():
    recs = records(["1", "2", "1", "2"], ["A", "A", "B", "B"])
    table = pa.table({"id_l": ["1"], "source_l": ["A"], "id_r": ["1"], "source_r": ["B"], "match": [1]})
    pairs = read_labelled_pairs(table, recs)
    assert (int(pairs.left[0]), int(pairs.right[0])) == (0, 2)
    with pytest.raises(InputError, match="source_l"):
        read_labelled_pairs(pa.table({"id_l": ["1"], "id_r": ["2"], "match": [1]}), recs)


@pytest.mark.parametrize("table, message", [
    ({"id_l": ["a"], "id_r": ["b"], "label": [1]}, "no column 'match'"),
    ({"id_l": ["a"], "id_r": ["zz"], "match": [1]}, "row 1 names a record"),
    ({"id_l": ["a"], "id_r": ["b"], "match": ["perhaps"]}, "row 1 has match value 'perhaps'"),
    ({"id_l": ["a", "b"], "id_r": ["b", "a"], "match": [1, 0]}, "both a match and a non-match"),
    ({"id_l": ["a"], "id_r": ["a"], "match": [1]}, "to itself"),
])
def test_bad_labels_are_refused_with_the_fault_named(table, message):
    with pytest.raises(InputError, match=message):
        read_labelled_pairs(pa.table(table), records(["a", "b"]))


def test_a_partial_truth_column_labels_all_pairs_of_an_entity_and_candidate_pairs_across_entities():
    codes = np.array([0, -1, 0, 1, 0, 1, -1])
    left, right = np.array([0, 0, 1, 3]), np.array([1, 3, 2, 6])  # candidates
    pairs = labelled_pairs_of_column(codes, left, right, "known")
    labelled = set(zip(pairs.left.tolist(), pairs.right.tolist(), pairs.is_match.tolist()))
    assert labelled == {(0, 2, True), (0, 4, True), (2, 4, True), (3, 5, True), (0, 3, False)}


def test_labelled_pairs_are_found_among_the_candidates():
    pairs = SimpleNamespace(left=np.array([0, 1, 2]), right=np.array([3, 2, 3]))
    left, right = np.array([0, 0, 1, 2]), np.array([1, 3, 2, 4])
    assert candidate_positions(pairs, left, right, 5).tolist() == [1, 2, -1]


# ------------------------------------------------------------------ m
def test_labels_move_m_in_proportion_to_their_number():
    m = [np.array([0.0, 0.9, 0.1])]
    fixed = [np.full(3, np.nan)]
    # Labelled matches agree only half the time.
    levels = np.array([[1], [2]] * 50, dtype=np.uint8)
    few_behind = calibrate_m(m, np.array([100.0]), levels, fixed)[0]
    many_behind = calibrate_m(m, np.array([100_000.0]), levels, fixed)[0]
    assert few_behind[1] == pytest.approx((90 + 50) / 200)
    assert 0.899 < many_behind[1] < 0.9


def test_missing_values_among_labelled_matches_say_nothing_about_m():
    m = [np.array([0.0, 0.8, 0.2])]
    calibrated = calibrate_m(m, np.array([10.0]), np.zeros((30, 1), dtype=np.uint8), [np.full(3, np.nan)])[0]
    np.testing.assert_allclose(calibrated[1:], [0.8, 0.2])


def test_labelled_pairs_keep_their_class_in_em():
    patterns = np.array([[1], [2]], dtype=np.uint8)
    m, u = [np.array([0.0, 0.9, 0.1])], [np.array([0.0, 0.1, 0.9])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = FellegiSunterModel([3]).fit(patterns, np.array([100.0, 100.0]), m=m, u=u, estimate_m=False, estimate_u=True)
        # The same pairs, but the 100 agreeing ones are known non-matches.
        known = FellegiSunterModel([3]).fit(
            patterns, np.array([0.0, 100.0]), m=m, u=u, estimate_m=False, estimate_u=True,
            known=(np.zeros(2), np.array([100.0, 0.0])),
        )
    assert known.u_[0][1] >= 0.5 > plain.u_[0][1]
    assert known.prior_ < plain.prior_ / 100
    assert known.posterior(patterns)[0] < plain.posterior(patterns)[0] / 100


# ------------------------------------------------------------------ thresholds
def test_the_match_threshold_with_the_best_f1_over_the_labels_is_chosen():
    probability = np.array([0.99, 0.95, 0.9, 0.7, 0.6, 0.3, 0.1])
    is_match = np.array([True, True, True, False, True, False, False])
    threshold, f1 = best_threshold(probability, is_match)
    assert 0.3 < threshold < 0.6  # keep the first five pairs: F1 = 8 / 9 (the first three give 6 / 7)
    assert f1 == pytest.approx(8 / 9)


def test_labelled_matches_blocking_missed_count_against_every_threshold():
    probability = np.array([0.9, 0.4])
    is_match = np.array([True, True])
    threshold, f1 = best_threshold(probability, is_match, missed_matches=2)
    assert threshold <= 0.4 and f1 == pytest.approx(2 * 2 / (2 + 4))


def test_cluster_f1_over_labelled_pairs_counts_pairs_in_one_cluster_as_predicted_matches():
    clusters = np.array([0, 0, 0, 1])
    left, right = np.array([0, 0, 2]), np.array([1, 3, 3])
    assert cluster_f1(left, right, np.array([True, False, True]), clusters) == pytest.approx(2 * 1 / (1 + 2))
