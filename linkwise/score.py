"""Score: a match weight and a probability for each candidate pair.

The weight, in bits, is the prior's log-odds plus each comparison's
``log2(m/u)`` at the pair's level, plus, on exact levels with term-frequency
adjustment, ``log2(u0 / f)`` where ``f`` is the share of records holding the
agreed value and ``u0`` the chance that two random records agree exactly:
agreeing on a common name counts for less than on a rare one.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .model import FellegiSunterModel, probability
from .prepare import PreparedComparison


def _tf_parts(model: FellegiSunterModel, prepared: list[PreparedComparison]):
    """Yield (comparison, level, value code per record, adjustment per value) for each adjusted level."""
    for c, prep in enumerate(prepared):
        for level, frequencies in prep.tf_frequencies.items():
            population_u = getattr(model, "tf_u_", model.u_)[c][level]
            yield c, level, frequencies.codes, np.log2(population_u / frequencies.shares())


def tf_adjustments(
    model: FellegiSunterModel, prepared: list[PreparedComparison], levels: np.ndarray, left: np.ndarray
) -> np.ndarray:
    """The term-frequency part of each pair's weight, per comparison: shape (pairs, comparisons)."""
    out = np.zeros(levels.shape, dtype=float)
    for c, level, codes, adjustment in _tf_parts(model, prepared):
        at_level = np.flatnonzero(levels[:, c] == level)
        out[at_level, c] = adjustment[codes[left[at_level]]]
    return out


def match_weights(
    model: FellegiSunterModel,
    prepared: list[PreparedComparison],
    levels: np.ndarray,
    left: np.ndarray,
    *,
    patterns: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Total match weight of each pair, term-frequency adjustments included.

    ``patterns`` (distinct agreement patterns, and each pair's index among
    them) lets the weights be summed once per pattern instead of once per pair.
    """
    if patterns is None:
        weights = model.pattern_weights(levels)
    else:
        distinct, inverse = patterns
        weights = model.pattern_weights(distinct)[inverse]
    for c, level, codes, adjustment in _tf_parts(model, prepared):
        kernels.add_at_level(weights, levels, c, level, codes, left, adjustment)
    return weights


def pairs_at_or_above(weights: np.ndarray, threshold: float, *, batch: int = 1_000_000) -> np.ndarray:
    """Positions of the pairs whose match probability is at least ``threshold``.

    Probabilities are worked out a batch at a time, so no array of them for
    every pair is ever held.
    """
    # Positions fit in int32 below 2**31 pairs: half the memory of int64.
    dtype = np.int32 if len(weights) < 2**31 else np.int64
    found = [
        (start + np.flatnonzero(probability(weights[start : start + batch]) >= threshold)).astype(dtype)
        for start in range(0, len(weights), batch)
    ]
    return np.concatenate(found) if found else np.empty(0, dtype)
