"""Score: a match weight and a probability for each candidate pair.

The weight, in bits, is the prior's log-odds plus each comparison's
``log2(m/u)`` at the pair's level, plus, on exact levels with term-frequency
adjustment, ``log2(u0 / f)`` where ``f`` is the share of records holding the
agreed value and ``u0`` the chance that two random records agree exactly:
agreeing on a common name counts for less than on a rare one.
"""

from __future__ import annotations

import numpy as np

from .model import FellegiSunterModel, probability
from .prepare import PreparedComparison


def _tf_parts(model: FellegiSunterModel, prepared: list[PreparedComparison], levels: np.ndarray, left: np.ndarray):
    """Yield (comparison, pair indices, adjustment) for each term-frequency-adjusted level."""
    for c, prep in enumerate(prepared):
        for level, freqs in prep.tf_frequencies.items():
            at_level = np.flatnonzero(levels[:, c] == level)
            if not len(at_level):
                continue
            n_valid = np.count_nonzero(~np.isnan(freqs))
            share = np.maximum(freqs[left[at_level]], 1.0 / max(n_valid, 1))
            population_u = getattr(model, "tf_u_", model.u_)[c][level]
            yield c, at_level, np.log2(population_u / share)


def tf_adjustments(
    model: FellegiSunterModel, prepared: list[PreparedComparison], levels: np.ndarray, left: np.ndarray
) -> np.ndarray:
    """The term-frequency part of each pair's weight, per comparison: shape (pairs, comparisons)."""
    out = np.zeros(levels.shape, dtype=float)
    for c, at_level, adjustment in _tf_parts(model, prepared, levels, left):
        out[at_level, c] = adjustment
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
    for _, at_level, adjustment in _tf_parts(model, prepared, levels, left):
        weights[at_level] += adjustment
    return weights


def match_probabilities(weights: np.ndarray) -> np.ndarray:
    return probability(weights)
