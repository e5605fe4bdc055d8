"""One-to-one linking: when each source holds an entity at most once, a record's partners compete.

Linking two files that are each free of duplicates, a record matches at most
one record of the other file. A pair then is a match only if neither of its
records matches someone else: under that assumption the odds of pair (a, b)
become its own odds over one plus the odds of every rival pair of ``a`` and of
``b``, so

    weight'(a, b) = weight(a, b) - log2(1 + rivals(a) + rivals(b))

where ``rivals(a)`` sums ``2**weight`` over a's other candidate pairs. A pair
without strong rivals keeps its weight; the weaker of two pairs that share a
record (a conference paper and its journal version, one person and a
namesake) loses the odds of the stronger. Settings: ``"one_to_one": true``.

>>> import numpy as np
>>> w = one_to_one_weights(np.array([20.0, 10.0, 5.0]), np.array([0, 0, 2]), np.array([1, 3, 4]), 5)
>>> np.round(w, 2).tolist()  # the weaker pair of record 0 falls; the stronger stays sure
[10.0, -10.0, 5.0]
"""

from __future__ import annotations

import numpy as np

_MAX_WEIGHT = 1000.0  # 2**1000 still fits in a float


def _rival_odds(records: np.ndarray, odds: np.ndarray, n_records: int) -> np.ndarray:
    """For each pair, the summed odds of the other pairs of its record on this side.

    The strongest pair of each record takes the sum of the others directly,
    so that a tiny rival is not lost when subtracting from a huge total.
    """
    total = np.bincount(records, weights=odds, minlength=n_records)
    # The pair of highest odds of each record (first such pair on ties).
    order = np.lexsort((-odds, records))
    first = np.r_[True, records[order][1:] != records[order][:-1]] if len(order) else np.zeros(0, bool)
    strongest = np.zeros(len(odds), dtype=bool)
    strongest[order[first]] = True
    others = np.bincount(records[~strongest], weights=odds[~strongest], minlength=n_records)
    return np.where(strongest, others[records], np.maximum(total[records] - odds, 0.0))


def one_to_one_weights(weights: np.ndarray, left: np.ndarray, right: np.ndarray, n_records: int) -> np.ndarray:
    """Match weights of the pairs ``(left, right)`` with each record's rival pairs taken out of their odds."""
    weights = np.asarray(weights, dtype=float)
    if not len(weights):
        return weights.copy()
    odds = np.exp2(np.minimum(weights, _MAX_WEIGHT))
    rivals = _rival_odds(left, odds, n_records) + _rival_odds(right, odds, n_records)
    return weights - np.log2(1.0 + rivals)
