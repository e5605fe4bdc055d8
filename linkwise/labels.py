"""Learning from labels: pairs known to match or not calibrate m and choose the thresholds.

Labels come either as a file (or table) of pairs, ``id_l``, ``id_r`` and a
``match`` column (1/0, true/false, yes/no, match/non-match; ``source_l`` and
``source_r`` too when ids repeat across sources), or as a *partial truth
column*: an entity id known for some records and null for the rest, every two
of whose labelled records that blocking pairs are labelled.

What they change:

- **m**: each comparison's m, learnt from the blocking rules, is pooled with
  the levels of the labelled matches, each weighing by the matches behind it
  (see :func:`calibrate_m`). Labelled matches that blocking did not pair
  count too: they show the levels of the matches blocking misses.
- **u and the prior**: the labelled candidate pairs keep their class in EM.
- **thresholds**: the match threshold becomes the probability that gives the
  labelled pairs the best F1, and the cluster threshold the one whose
  clusters do, unless they were given explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError, did_you_mean

CLUSTER_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
"""Cluster thresholds tried when labels choose one."""

_TRUE = {"1", "1.0", "true", "t", "yes", "y", "match", "same"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "non-match", "non_match", "nonmatch", "different"}


@dataclass(frozen=True)
class LabelledPairs:
    """Pairs of record indices (left < right) and whether each is a match."""

    left: np.ndarray
    right: np.ndarray
    is_match: np.ndarray
    where: str

    def __len__(self) -> int:
        return len(self.left)


def _as_bool(values: pa.Array, where: str) -> np.ndarray:
    """1/0, true/false, yes/no or match/non-match as booleans; anything else is an error naming the row."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(values, pa.string()))).to_pylist()
    out = np.empty(len(text), dtype=bool)
    for i, value in enumerate(text):
        if value in _TRUE:
            out[i] = True
        elif value in _FALSE:
            out[i] = False
        else:
            raise InputError(
                f"{where}: row {i + 1} has match value {value!r}; use 1/0, true/false, yes/no or match/non-match"
            )
    return out


def read_labelled_pairs(labels: Any, records: Any, *, engine: Any = None) -> LabelledPairs:
    """Labelled pairs from a file (CSV or Parquet), a data frame or an Arrow table, as record indices."""
    from .ingest import to_arrow

    where = f"labels '{labels}'" if isinstance(labels, (str, bytes)) or hasattr(labels, "__fspath__") else "labels"
    table = to_arrow(labels, where=where, engine=engine)
    names = table.column_names
    for needed in ("id_l", "id_r", "match"):
        if needed not in names:
            raise InputError(
                f"{where} has no column '{needed}'; a labels file holds id_l, id_r and match "
                f"(and source_l, source_r where ids repeat across sources).{did_you_mean(needed, names)}"
            )
    if not table.num_rows:
        raise InputError(f"{where} holds no pairs")
    with_sources = "source_l" in names and "source_r" in names
    ids = pc.cast(records.ids, pa.string())

    def index_of(side: str) -> np.ndarray:
        given = pc.cast(table[f"id_{side}"].combine_chunks(), pa.string())
        if with_sources:
            key = pc.binary_join_element_wise(pc.cast(table[f"source_{side}"].combine_chunks(), pa.string()), given, "\x1f")
            found = pc.index_in(key, value_set=pc.binary_join_element_wise(records.sources, ids, "\x1f"))
        else:
            found = pc.index_in(given, value_set=ids)
        if found.null_count:
            row = int(np.flatnonzero(found.is_null().to_numpy(zero_copy_only=False))[0])
            raise InputError(f"{where}: row {row + 1} names a record ('id_{side}') that is not in the input")
        return found.to_numpy(zero_copy_only=False).astype(np.int64)

    left, right = index_of("l"), index_of("r")
    if with_sources is False and len(records.source_names) > 1:
        # Ids must then be unique across sources to say which record is meant.
        if len(pc.unique(ids)) != len(ids):
            raise InputError(f"{where}: ids repeat across sources; add columns source_l and source_r")
    if np.any(left == right):
        raise InputError(f"{where}: a pair joins a record to itself")
    is_match = _as_bool(table["match"].combine_chunks(), where)
    low, high = np.minimum(left, right), np.maximum(left, right)
    # One label a pair; a pair labelled twice must agree.
    key = low * records.n + high
    order = np.argsort(key, kind="stable")
    key, low, high, is_match = key[order], low[order], high[order], is_match[order]
    first = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(first) - 1
    agree = np.bincount(group, weights=is_match)
    size = np.bincount(group)
    if np.any((agree > 0) & (agree < size)):
        raise InputError(f"{where}: a pair is labelled both a match and a non-match")
    return LabelledPairs(low[first], high[first], is_match[first], where)


MAX_LABELLED_PAIRS = 20_000_000
"""Pairs within labelled entities made at most (a column with one value for many records would make too many)."""


def labelled_pairs_of_column(codes: np.ndarray, left: np.ndarray, right: np.ndarray, column: str) -> LabelledPairs:
    """Labels from a partial truth column (an entity code per record, -1 where unknown).

    Every two records of one labelled entity are a labelled match, whether
    blocking paired them or not; every candidate pair of two labelled records
    of different entities a labelled non-match.
    """
    labelled = np.flatnonzero(codes >= 0)
    order = labelled[np.argsort(codes[labelled], kind="stable")]
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, sizes)
    later = np.repeat(sizes, sizes) - rank - 1  # partners after each record in its entity
    if later.sum() > MAX_LABELLED_PAIRS:
        raise InputError(
            f"label column '{column}': its entities make {int(later.sum()):,} pairs; is it really an entity id?"
        )
    first = np.repeat(np.arange(len(order)), later)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(later) - later, later) + 1
    match_left, match_right = order[first], order[first + offset]
    both = (codes[left] >= 0) & (codes[right] >= 0) & (codes[left] != codes[right])
    pair_left = np.r_[np.minimum(match_left, match_right), left[both].astype(np.int64)]
    pair_right = np.r_[np.maximum(match_left, match_right), right[both].astype(np.int64)]
    is_match = np.r_[np.ones(len(match_left), bool), np.zeros(int(both.sum()), bool)]
    if not len(is_match):
        raise InputError(f"label column '{column}' labels no pair: give at least two records an entity id")
    return LabelledPairs(pair_left, pair_right, is_match, f"label column '{column}'")


def candidate_positions(labels: LabelledPairs, left: np.ndarray, right: np.ndarray, n_records: int) -> np.ndarray:
    """Position of each labelled pair among the candidate pairs (sorted by left, then right), or -1."""
    key = left.astype(np.int64) * n_records + right
    wanted = labels.left * n_records + labels.right
    at = np.searchsorted(key, wanted)
    at = np.minimum(at, max(len(key) - 1, 0))
    found = (len(key) > 0) & (key[at] == wanted) if len(key) else np.zeros(len(wanted), bool)
    return np.where(found, at, -1)


def calibrate_m(
    m: list[np.ndarray], weight: np.ndarray, match_levels: np.ndarray, fixed_m: list[np.ndarray]
) -> list[np.ndarray]:
    """m of each comparison pooled with the levels of labelled matches, each side by the matches behind it.

    ``weight`` holds, per comparison, the (estimated) matches from which its
    m was learnt; each labelled match counts as one. Labels thus move m in
    proportion to their number: much on small data, little where m was learnt
    from many matches (and where labels picked for review, being the hard
    cases, would bias it).
    """
    from .model import _normalise

    out = []
    for c, given in enumerate(m):
        seen = np.bincount(match_levels[:, c], minlength=len(given)).astype(float)
        seen[0] = 0.0  # a missing value says nothing
        out.append(_normalise(float(weight[c]) * given + seen, fixed_m[c]))
    return out


def best_threshold(probability: np.ndarray, is_match: np.ndarray, missed_matches: int = 0) -> tuple[float, float]:
    """The probability threshold with the best F1 over labelled pairs, and that F1.

    ``missed_matches`` labelled matches were not scored (blocking missed
    them): they count as false negatives at every threshold.
    """
    order = np.argsort(-probability, kind="stable")
    p, truth = probability[order], is_match[order]
    true_positives = np.cumsum(truth)
    predicted = np.arange(1, len(p) + 1)
    matches = int(truth.sum()) + missed_matches
    # Only where the next probability is lower can a threshold split the pairs.
    cut = np.r_[p[1:] < p[:-1], True]
    f1 = np.where(cut, 2 * true_positives / (predicted + matches), -1.0)
    best = int(np.argmax(f1))
    if f1[best] <= 0:
        return 0.5, 0.0
    # Halfway (in weight) between the last pair kept and the next one.
    if best + 1 < len(p):
        low, high = float(p[best + 1]), float(p[best])
        weight = (np.log2(low / (1 - low)) + np.log2(high / (1 - high))) / 2 if 0 < low < 1 and 0 < high < 1 else None
        threshold = float(1 / (1 + 2.0 ** -weight)) if weight is not None else (low + high) / 2
    else:
        threshold = float(p[best])
    return threshold, float(f1[best])


def cluster_f1(left: np.ndarray, right: np.ndarray, is_match: np.ndarray, clusters: np.ndarray) -> float:
    """F1 of 'in one cluster' as the prediction of 'a match', over labelled pairs."""
    together = clusters[left] == clusters[right]
    true_positives = int(np.count_nonzero(together & is_match))
    denominator = int(np.count_nonzero(together)) + int(np.count_nonzero(is_match))
    return 2 * true_positives / denominator if denominator else 0.0


@dataclass(frozen=True)
class LabelEvidence:
    """What training needs of the labels: each labelled pair's levels, class and place among the candidates."""

    left: np.ndarray  # record indices
    right: np.ndarray
    levels: np.ndarray  # (labelled pairs, comparisons)
    is_match: np.ndarray
    position: np.ndarray  # among the candidate pairs, -1 if blocking did not pair it

    def known_by_pattern(self, inverse: np.ndarray, n_patterns: int) -> tuple[np.ndarray, np.ndarray]:
        """Labelled candidate pairs per agreement pattern: (matches, non-matches)."""
        scored = self.position >= 0
        pattern = inverse[self.position[scored]]
        is_match = self.is_match[scored]
        return (
            np.bincount(pattern[is_match], minlength=n_patterns).astype(float),
            np.bincount(pattern[~is_match], minlength=n_patterns).astype(float),
        )

    def summary(self) -> dict:
        scored = self.position >= 0
        return {
            "pairs": int(len(self.is_match)),
            "matches": int(self.is_match.sum()),
            "non_matches": int((~self.is_match).sum()),
            "not_candidates": int((~scored).sum()),
        }


@dataclass(frozen=True)
class LabelOptions:
    """Labels given to a run, and which thresholds they may choose (those not given explicitly)."""

    labels: Any
    column: str | None
    choose_match_threshold: bool
    choose_cluster_threshold: bool

    @property
    def given(self) -> bool:
        return self.labels is not None or self.column is not None


def label_evidence(options: LabelOptions, records: Any, engine: Any, kernels: Any, left: np.ndarray, right: np.ndarray,
                   levels: np.ndarray) -> LabelEvidence:
    """The labelled pairs' levels, classes and places among the candidates."""
    from .compare import compare_pairs
    from .evaluate_run import truth_codes

    if options.labels is not None:
        labelled = read_labelled_pairs(options.labels, records, engine=engine)
    else:
        labelled = labelled_pairs_of_column(truth_codes(records, options.column), left, right, options.column)
    position = candidate_positions(labelled, left, right, records.n)
    pair_levels = np.empty((len(labelled), levels.shape[1]), dtype=np.uint8)
    scored = position >= 0
    pair_levels[scored] = levels[position[scored]]
    if (~scored).any():
        # Labelled pairs that blocking missed still show which levels matches reach.
        pair_levels[~scored] = compare_pairs(kernels, labelled.left[~scored], labelled.right[~scored])
    return LabelEvidence(labelled.left, labelled.right, pair_levels, labelled.is_match, position)


def choose_thresholds(settings: Any, options: LabelOptions, evidence: LabelEvidence, n_records: int,
                       left: np.ndarray, right: np.ndarray, weights: np.ndarray) -> tuple[Any, dict]:
    """The match and cluster thresholds with the best F1 over the labelled pairs (those not given explicitly)."""
    from .cluster import connected_components, refine_clusters
    from .model import probability
    from .score import pairs_at_or_above

    info = evidence.summary()
    scored = evidence.position >= 0
    if options.choose_match_threshold and scored.any():
        missed = int(np.count_nonzero(evidence.is_match[~scored]))
        threshold, f1 = best_threshold(probability(weights[evidence.position[scored]]), evidence.is_match[scored], missed)
        settings = settings.with_options(match_threshold=round(threshold, 6))
        info.update(match_threshold=settings.match_threshold, match_f1_on_labels=f1)
    if options.choose_cluster_threshold:
        tried = {}
        for threshold in CLUSTER_THRESHOLDS:
            linked = pairs_at_or_above(weights, threshold)
            clusters = connected_components(n_records, left[linked], right[linked])
            if settings.cluster_refinement.method == "edge_contraction":
                clusters = refine_clusters(clusters, left, right, weights, threshold=settings.cluster_refinement.threshold)
            tried[threshold] = cluster_f1(evidence.left, evidence.right, evidence.is_match, clusters)
        # Of thresholds equally good on the labels, the middle one.
        tied = sorted(t for t in tried if tried[t] == max(tried.values()))
        best = tied[len(tied) // 2]
        settings = settings.with_options(cluster_threshold=best)
        info.update(cluster_threshold=best, cluster_f1_on_labels=tried[best])
    return settings, info
