"""Correlated evidence: find comparisons that are not independent, and score them jointly.

Fellegi–Sunter multiplies the evidence of each comparison as if comparisons
were independent within matches and within non-matches. Some are not.
Members of one household share a surname, an address, a postal code and
often a landline: among non-matches, agreeing on the address makes agreeing
on the phone far likelier than the phone's own rate says, so a household
member collects the evidence of several agreements and passes for the same
person. A person who moved changes address and postal code together, so among
matches two disagreements come as one.

Everything here is numpy over the small table of agreement patterns, split
between the classes by each pattern's posterior:

1. :func:`find_dependences` compares, for every pair of comparisons and each
   class, the counts of their level combinations with the counts that
   independence predicts. The mutual information, in bits, is the evidence
   counted twice on average per pair of that class; the likelihood-ratio
   statistic ``G`` keeps noise in small tables from passing for dependence.
   Blocking makes its own fields look dependent among the pairs it makes (a
   rule on first and last name makes only pairs agreeing on both), so each
   pair of comparisons is judged on the pairs made by rules that involve
   neither of them.
2. :func:`dependence_forest` keeps, in a class, the strongest dependences
   that form a forest (Chow and Liu's maximum spanning tree under mutual
   information). The product of the comparisons' own rates and, over the
   forest's edges, the ratio of each pair's joint rate to the product of its
   two rates is a normalised joint distribution: evidence is no longer counted
   twice, and nothing is counted less than once.
3. :class:`Interaction` holds those ratios for one pair of comparisons. The
   ratios are measured where selection did not act and moved to the pairs
   being scored by iterative proportional fitting, which keeps the odds ratios
   and takes the scored pairs' own rates; a combination seen in few pairs is
   shrunk towards independence.

>>> import numpy as np
>>> patterns = np.array([[1, 1, 1], [1, 2, 2], [2, 1, 2], [2, 2, 1]], dtype=np.uint8)
>>> non_match = np.array([40.0, 10.0, 10.0, 40.0])   # the first two comparisons agree together
>>> together = Interaction.estimate((0, 1), patterns, (None, non_match), (None, non_match), [3, 3, 3],
...                                 classes=(False, True), pseudo_count=0.0)
>>> [round(float(w), 2) for w in together.weights(patterns)]   # bits added to each pattern's weight
[-0.68, 1.32, 1.32, -0.68]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

_LN2 = math.log(2.0)

PSEUDO_COUNT = 2.0
"""Pairs of pseudo-count per level combination, spread as independence would spread them:
a combination that few pairs show keeps a ratio near 1 (no correction), not a noisy one."""


@dataclass(frozen=True)
class Dependence:
    """How far two comparisons are from independent within one class."""

    comparisons: tuple[int, int]
    in_matches: bool
    information: float  # mutual information, bits per pair of the class
    statistic: float  # likelihood-ratio G statistic
    degrees_of_freedom: int
    pairs: float  # pairs of the class it was measured on (posterior-weighted)

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "comparisons": [names[c] for c in self.comparisons],
            "class": "matches" if self.in_matches else "non-matches",
            "information_bits": round(self.information, 5),
            "g_statistic": round(self.statistic, 1),
            "degrees_of_freedom": self.degrees_of_freedom,
            "pairs": round(self.pairs, 1),
        }


def combination_codes(patterns: np.ndarray, group: Sequence[int], n_levels: Sequence[int]) -> np.ndarray:
    """One code per pattern for the levels of the comparisons in ``group`` (mixed radix, first slowest)."""
    code = np.zeros(len(patterns), dtype=np.int64)
    for c in group:
        code = code * n_levels[c] + patterns[:, c]
    return code


def _joint_and_margins(
    patterns: np.ndarray, weights: np.ndarray, group: Sequence[int], n_levels: Sequence[int]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Weighted counts of the group's level combinations (an array with an axis per member) and of each member's levels."""
    shape = [n_levels[c] for c in group]
    joint = np.bincount(combination_codes(patterns, group, n_levels), weights=weights, minlength=math.prod(shape))
    margins = [np.bincount(patterns[:, c], weights=weights, minlength=n_levels[c]) for c in group]
    return joint.reshape(shape), margins


def _independent(margins: Sequence[np.ndarray]) -> np.ndarray:
    """The table of products of the margins (each a vector of shares)."""
    out = np.ones(())
    for margin in margins:
        out = np.multiply.outer(out, margin)
    return out


def chi_square_quantile(probability: float, degrees_of_freedom: int) -> float:
    """The chi-square quantile: exact for one and two degrees of freedom, else by
    Wilson and Hilferty's cube-root normal approximation.

    >>> round(chi_square_quantile(0.95, 10), 1)   # 18.307 in the tables
    18.3
    """
    if degrees_of_freedom == 1:
        return NormalDist().inv_cdf((1.0 + probability) / 2.0) ** 2
    if degrees_of_freedom == 2:
        return -2.0 * math.log1p(-probability)
    k = float(degrees_of_freedom)
    z = NormalDist().inv_cdf(probability)
    return k * (1.0 - 2.0 / (9.0 * k) + z * math.sqrt(2.0 / (9.0 * k))) ** 3


def find_dependences(
    patterns: np.ndarray,
    counts_for: Callable[[tuple[int, int]], np.ndarray | None],
    posterior: np.ndarray,
    n_levels: Sequence[int],
    *,
    min_information: float,
    significance: float = 1e-6,
) -> list[Dependence]:
    """Pairs of comparisons dependent within matches or within non-matches, strongest first.

    ``counts_for(pair)`` gives the pattern counts to judge a pair of
    comparisons on (pairs that blocking did not select through them), or None
    where there are none. ``posterior`` is each pattern's match probability.
    A pair is reported in a class when the mutual information of its levels
    there is at least ``min_information`` bits and its G statistic lies beyond
    the chi-square quantile of ``1 - significance``.
    """
    patterns = np.asarray(patterns)
    posterior = np.asarray(posterior, dtype=float)
    found = []
    for a in range(len(n_levels)):
        for b in range(a + 1, len(n_levels)):
            counts = counts_for((a, b))
            if counts is None:
                continue
            for in_matches, weights in ((True, counts * posterior), (False, counts * (1.0 - posterior))):
                total = float(weights.sum())
                if total <= 0:
                    continue
                joint, (margin_a, margin_b) = _joint_and_margins(patterns, weights, (a, b), n_levels)
                expected = np.multiply.outer(margin_a, margin_b) / total
                seen = joint > 0
                statistic = 2.0 * float((joint[seen] * np.log(joint[seen] / expected[seen])).sum())
                information = statistic / (2.0 * total * _LN2)
                dof = max((np.count_nonzero(margin_a) - 1) * (np.count_nonzero(margin_b) - 1), 1)
                if information >= min_information and statistic > chi_square_quantile(1.0 - significance, dof):
                    found.append(Dependence((a, b), in_matches, information, statistic, int(dof), total))
    found.sort(key=lambda d: -d.information)
    return found


def dependence_forest(dependences: Sequence[Dependence], n_comparisons: int, *, in_matches: bool) -> list[tuple[int, int]]:
    """The pairs of one class that form its maximum spanning forest under mutual information.

    Dependences are taken strongest first and kept unless they close a cycle
    (Kruskal): over a forest, pairwise ratios multiply into an exactly
    normalised joint distribution, and Chow and Liu showed this forest to fit
    the counts best.
    """
    parent = list(range(n_comparisons))

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    kept = []
    for dep in sorted((d for d in dependences if d.in_matches == in_matches), key=lambda d: -d.information):
        a, b = (root(c) for c in dep.comparisons)
        if a != b:
            parent[max(a, b)] = min(a, b)
            kept.append(dep.comparisons)
    return sorted(kept)


def fit_margins(table: np.ndarray, margins: Sequence[np.ndarray], *, iterations: int = 200, tolerance: float = 1e-12) -> np.ndarray:
    """Iterative proportional fitting: scale ``table`` until its one-way margins are ``margins`` (shares).

    The odds ratios of ``table`` are kept; a zero margin empties its row.
    """
    table = table / table.sum()
    for _ in range(iterations):
        worst = 0.0
        for axis, target in enumerate(margins):
            other = tuple(a for a in range(table.ndim) if a != axis)
            current = table.sum(axis=other)
            worst = max(worst, float(np.abs(current - target).max()))
            scale = np.divide(target, current, out=np.zeros_like(target, dtype=float), where=current > 0)
            shape = [1] * table.ndim
            shape[axis] = -1
            table = table * scale.reshape(shape)
        if worst < tolerance:
            break
    return table


@dataclass(frozen=True)
class Interaction:
    """Joint rates of a few comparisons, as log ratios to the product of their own rates.

    ``log_ratio_m`` and ``log_ratio_u`` hold, for each level combination
    (mixed-radix order of ``comparisons``, the first varying slowest), the
    natural log of its joint rate over the product of its members' rates
    among matches and among non-matches; 0 where a class has no correction.
    """

    comparisons: tuple[int, ...]
    n_levels: tuple[int, ...]  # levels of every comparison of the model
    log_ratio_m: np.ndarray
    log_ratio_u: np.ndarray

    @classmethod
    def estimate(
        cls,
        group: Sequence[int],
        patterns: np.ndarray,
        sample: tuple[np.ndarray | None, np.ndarray | None],
        target: tuple[np.ndarray | None, np.ndarray | None],
        n_levels: Sequence[int],
        *,
        classes: tuple[bool, bool] = (True, True),
        pseudo_count: float = PSEUDO_COUNT,
    ) -> Interaction:
        """Joint rates of ``group`` in the classes flagged by ``classes`` (matches, non-matches).

        ``sample`` holds each class's pattern counts on which the dependence is
        measured, ``target`` those of the pairs to be scored. The sample's joint
        table, with ``pseudo_count`` pairs a combination spread as
        independence would, is fitted to the target's own rates.
        """
        cells = math.prod(n_levels[c] for c in group)
        ratios = []
        for estimated, sample_weights, target_weights in zip(classes, sample, target):
            if not estimated:
                ratios.append(np.zeros(cells))
                continue
            joint, margins = _joint_and_margins(patterns, np.asarray(sample_weights, float), group, n_levels)
            total = max(float(joint.sum()), 1e-300)
            joint = joint + pseudo_count * cells * _independent([m / total for m in margins])
            target_weights = np.asarray(target_weights, float)
            shares = [
                np.bincount(patterns[:, c], weights=target_weights, minlength=n_levels[c]) / max(float(target_weights.sum()), 1e-300)
                for c in group
            ]
            fitted = fit_margins(joint, shares).reshape(-1)
            independent = _independent(shares).reshape(-1)
            ratio = np.zeros(cells)
            ok = (fitted > 0) & (independent > 0)
            ratio[ok] = np.log(fitted[ok] / independent[ok])
            ratios.append(ratio)
        return cls(tuple(int(c) for c in group), tuple(int(k) for k in n_levels), ratios[0], ratios[1])

    def log_terms(self, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Natural-log correction of each pattern's match and non-match likelihoods."""
        code = combination_codes(patterns, self.comparisons, self.n_levels)
        return self.log_ratio_m[code], self.log_ratio_u[code]

    def weights(self, patterns: np.ndarray) -> np.ndarray:
        """The correction of each pattern's match weight, in bits."""
        log_m, log_u = self.log_terms(patterns)
        return (log_m - log_u) / _LN2

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "comparisons": [names[c] for c in self.comparisons],
            "log_ratio_m": [float(x) for x in self.log_ratio_m],
            "log_ratio_u": [float(x) for x in self.log_ratio_u],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any], names: Sequence[str], n_levels: Sequence[int]) -> Interaction:
        """Rebuild from :meth:`to_dict`; ValueError if it does not fit the comparisons."""
        group = tuple(names.index(n) for n in doc["comparisons"])
        cells = math.prod(n_levels[c] for c in group)
        log_m = np.asarray(doc["log_ratio_m"], dtype=float)
        log_u = np.asarray(doc["log_ratio_u"], dtype=float)
        if log_m.shape != (cells,) or log_u.shape != (cells,):
            raise ValueError(f"{doc['comparisons']} need {cells} ratios per class, found {len(log_m)} and {len(log_u)}")
        return cls(group, tuple(int(k) for k in n_levels), log_m, log_u)


def correct_non_match_dependences(
    model: Any,
    patterns: np.ndarray,
    counts: np.ndarray,
    *,
    min_information: float,
    counts_for: Callable[[tuple[int, int]], np.ndarray | None] | None = None,
) -> list[Dependence]:
    """Measure dependences on a fitted model's posteriors; score the non-matches' forest of them jointly.

    ``model`` is a fitted :class:`~linkwise.model.FellegiSunterModel`, fitted
    as if comparisons were independent; its ``interactions_`` are replaced
    (in place) by one :class:`Interaction` per edge of the non-match class's
    forest. ``counts_for`` gives the counts to judge each pair of comparisons
    on (default: ``counts``). Returns every dependence found, in both classes.

    The ratios are measured once and not re-estimated by EM alongside u and
    the prior: left free, EM can use joint tables to redraw the line between
    the classes. Dependences among matches are reported, not corrected.
    """
    counts = np.asarray(counts, dtype=float)
    if counts_for is None:
        def counts_for(pair: tuple[int, int]) -> np.ndarray:
            return counts
    model.interactions_ = []
    posterior = model.posterior(patterns)
    found = find_dependences(patterns, counts_for, posterior, model.n_levels, min_information=min_information)
    non_match = counts * (1.0 - posterior)
    model.interactions_ = [
        Interaction.estimate(
            pair,
            patterns,
            (None, counts_for(pair) * (1.0 - posterior)),
            (None, non_match),
            model.n_levels,
            classes=(False, True),
        )
        for pair in dependence_forest(found, len(model.n_levels), in_matches=False)
    ]
    return found
