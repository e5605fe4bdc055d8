"""One-to-one linking: a record's rival pairs take their odds out of its pairs' odds."""

from __future__ import annotations

import numpy as np
import pytest

from linkwise.one_to_one import one_to_one_weights


def test_a_pair_without_rivals_keeps_its_weight():
    w = one_to_one_weights(np.array([7.5, -3.0]), np.array([0, 2]), np.array([1, 3]), 4)
    assert w.tolist() == pytest.approx([7.5, -3.0])


def test_the_weaker_of_two_pairs_sharing_a_record_falls_below_even_odds():
    # Record 0 (source A) looks like both 1 and 2 (source B); 0-1 is far likelier.
    w = one_to_one_weights(np.array([20.0, 12.0]), np.array([0, 0]), np.array([1, 2]), 3)
    assert w[0] == pytest.approx(20.0 - np.log2(1 + 2.0**12))  # about 8: still a sure match
    assert w[1] < 0  # no longer a match: record 0 is taken


def test_the_odds_are_those_of_one_match_among_the_rivals():
    # Three equally likely partners for one record: each has a third of the probability mass
    # that is not "no partner" (odds o / (1 + 2o)).
    w = one_to_one_weights(np.full(3, 10.0), np.zeros(3, int), np.array([1, 2, 3]), 4)
    expected = 10.0 - np.log2(1 + 2 * 2.0**10)
    assert w.tolist() == pytest.approx([expected] * 3)


def test_a_tiny_rival_is_not_lost_next_to_a_huge_weight():
    w = one_to_one_weights(np.array([60.0, -20.0]), np.array([0, 0]), np.array([1, 2]), 3)
    assert w[0] == pytest.approx(60.0 - np.log2(1 + 2.0**-20), abs=1e-12)
    assert w[0] < 60.0


def test_rivals_count_on_both_sides_of_a_pair():
    # 0-1 competes with 0-2 (through record 0) and with 3-1 (through record 1).
    w = one_to_one_weights(np.array([5.0, 5.0, 5.0]), np.array([0, 0, 3]), np.array([1, 2, 1]), 4)
    assert w[0] < w[1] == pytest.approx(w[2])


def test_no_pairs_give_no_weights():
    assert one_to_one_weights(np.zeros(0), np.zeros(0, int), np.zeros(0, int), 0).tolist() == []
