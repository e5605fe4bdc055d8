"""Linkage accuracy metrics: pairwise precision/recall, B-cubed and blocking recall.

Pure numpy, engine-independent. Records are identified by index ``0..n-1``.
Pairs are never materialised: a group of ``k`` records holds ``k*(k-1)/2`` pairs
(in ``"link"`` mode ``(k**2 - sum_s k_s**2)/2`` cross-source ones), so all work
is O(n log n) in records plus O(m) in candidate pairs, processed in chunks.

* ``truth`` holds an entity code per record; a negative code means "unknown" and
  makes that record an entity of its own.
* ``clusters`` holds a cluster label per record; every value, negative ones
  included, is taken literally as a label.
* ``precision`` is 1.0 when nothing is predicted, ``recall`` 1.0 when there is
  nothing to find, ``f1`` 0.0 when both are 0.
* In ``"link"`` mode only cross-source pairs count (true, predicted, cluster and
  candidate pairs alike). Candidate pairs must be distinct (not checked).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .errors import InputError, did_you_mean
from .settings import LINK_TYPES

__all__ = ["LINK_TYPES", "PairMetrics", "BCubed", "Evaluation", "evaluate",
           "pair_metrics_from_clusters", "bcubed", "precision_recall_curve"]

_CHUNK = 1 << 22  # candidate pairs handled per step, to bound temporary memory


def _ratio(num: int, den: int) -> float:
    return float(num / den) if den else 1.0


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return float(2.0 * precision * recall / total) if total > 0 else 0.0


@dataclass(frozen=True)
class PairMetrics:
    """Pairwise confusion counts and the scores derived from them."""

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int) -> PairMetrics:
        """Build from counts: ``precision = tp/(tp+fp)``, ``recall = tp/(tp+fn)``."""
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        return cls(int(tp), int(fp), int(fn), precision, recall, _f1(precision, recall))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BCubed:
    """B-cubed precision, recall and F1, averaged over records."""

    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    """Everything :func:`evaluate` measures."""

    threshold: float
    scored_pairs: PairMetrics
    cluster_pairs: PairMetrics
    bcubed: BCubed
    blocking_recall: float
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready nested dict of plain floats and ints."""
        out = asdict(self)  # nested dataclasses become dicts
        out["counts"] = {k: int(v) for k, v in self.counts.items()}
        return out


# ----------------------------------------------------------------- internals
@dataclass(frozen=True)
class _Records:
    n: int
    ent: np.ndarray  # dense entity id per record (unknown truth -> own id)
    n_ent: int
    src: tuple[np.ndarray, int] | None  # dense source ids, only in "link" mode


def _int_array(name: str, values: Any, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"'{name}' must be a 1-D array, got shape {arr.shape}.")
    if arr.size == 0:
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise InputError(f"'{name}' must hold integer codes, got dtype {arr.dtype}; "
                         "encode labels as integers first.")
    if n is not None and len(arr) != n:
        raise InputError(f"'{name}' has {len(arr)} values but 'truth' has {n} records; "
                         "give exactly one value per record.")
    return arr


def _small_range(n: int, size: int) -> bool:
    """Whether a table of ``size`` slots is cheap next to ``n`` values (no sort needed)."""
    return size <= 4 * n + 1024


def _dense(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Map values to ids ``0..g-1`` (order kept); return ``(ids, g)``."""
    integer = values.dtype.kind in "iu"
    lo, hi = (int(values.min()), int(values.max())) if integer and len(values) else (0, 0)
    if integer and _small_range(len(values), hi - lo + 1):  # O(n + range), no sort
        wide = values if values.itemsize == 8 else values.astype(np.int64)
        shifted = (wide - wide.dtype.type(lo)).astype(np.intp, copy=False)
        present = np.zeros(hi - lo + 1, bool)
        present[shifted] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        ids, g = rank[shifted], int(rank[-1]) + 1
    else:
        uniq, inv = np.unique(values, return_inverse=True)
        ids, g = inv.reshape(-1), len(uniq)
    return ids.astype(np.int32 if g < 2**31 else np.int64, copy=False), g


def _entities(truth: np.ndarray) -> tuple[np.ndarray, int]:
    known = truth >= 0
    ids, n_known = _dense(truth[known])
    ent = np.empty(len(truth), np.int32 if len(truth) < 2**31 else np.int64)
    ent[known] = ids
    n_unknown = len(truth) - len(ids)
    ent[~known] = np.arange(n_known, n_known + n_unknown)
    return ent, n_known + n_unknown


def _prepare(truth: Any, sources: Any, link_type: str) -> _Records:
    if link_type not in LINK_TYPES:
        raise InputError(f"Unknown link_type '{link_type}'; use one of {', '.join(LINK_TYPES)}."
                         + did_you_mean(link_type, LINK_TYPES))
    truth = _int_array("truth", truth)
    n, src = len(truth), None
    if sources is not None:
        sources = np.asarray(sources)
        if sources.ndim != 1 or len(sources) != n:
            raise InputError(f"'sources' must be a 1-D array with one value per record "
                             f"({n}), got shape {sources.shape}.")
        if link_type == "link":
            src = _dense(sources)
    elif link_type == "link":
        raise InputError("link_type='link' needs 'sources' (a source code per record) "
                         "to tell which pairs cross sources.")
    ent, n_ent = _entities(truth)
    return _Records(n, ent, n_ent, src)


def _sum_sq(keys: np.ndarray, size: int) -> int:
    """Sum over distinct keys (in ``0..size-1``) of their count squared."""
    if _small_range(len(keys), size):
        k = np.bincount(keys).astype(np.int64)
    else:
        k = np.unique(keys, return_counts=True)[1].astype(np.int64)
    return int(np.dot(k, k))


def _pairs_within(groups: np.ndarray, n_groups: int, src: tuple[np.ndarray, int] | None) -> int:
    """Number of record pairs sharing a group (cross-source only if ``src``)."""
    if src is None:
        return (_sum_sq(groups, n_groups) - len(groups)) // 2
    by_source = groups.astype(np.int64) * src[1] + src[0]
    return (_sum_sq(groups, n_groups) - _sum_sq(by_source, n_groups * src[1])) // 2


def _candidate_flags(rec: _Records, pair_left: Any, pair_right: Any, pair_probability: Any
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate pairs; return ``(probability, is_true & valid, valid or None)``."""
    left = _int_array("pair_left", pair_left)
    right = _int_array("pair_right", pair_right)
    prob = np.asarray(pair_probability)
    if len(right) != len(left) or prob.ndim != 1 or len(prob) != len(left):
        raise InputError(f"pair_left, pair_right and pair_probability must be 1-D arrays of "
                         f"equal length, got {len(left)}, {len(right)} and {prob.shape}.")
    if prob.dtype.kind != "f":
        prob = prob.astype(np.float64)
    if np.isnan(prob).any():
        raise InputError("'pair_probability' contains NaN; score every candidate pair.")
    m = len(left)
    is_true, valid = np.empty(m, bool), (np.empty(m, bool) if rec.src is not None else None)
    for s in range(0, m, _CHUNK):
        lo, ro = left[s:s + _CHUNK], right[s:s + _CHUNK]
        if min(lo.min(), ro.min()) < 0 or max(lo.max(), ro.max()) >= rec.n:
            raise InputError(f"Candidate pair indices must lie in 0..{rec.n - 1} "
                             "(one index per record in 'truth').")
        if np.any(lo == ro):
            raise InputError("A candidate pair joins a record to itself "
                             "(pair_left == pair_right).")
        is_true[s:s + _CHUNK] = rec.ent[lo] == rec.ent[ro]
        if valid is not None:
            valid[s:s + _CHUNK] = rec.src[0][lo] != rec.src[0][ro]
    if valid is not None:
        is_true &= valid
    return prob, is_true, valid


def _cluster_stats(rec: _Records, clusters: Any) -> tuple[int, int, int, BCubed]:
    """Return ``(n_clusters, cluster_pairs, true_cluster_pairs, bcubed)``."""
    cl, n_cl = _dense(_int_array("clusters", clusters, rec.n))
    inter, n_inter = _dense(cl.astype(np.int64) * rec.n_ent + rec.ent)  # (cluster, entity)
    predicted = _pairs_within(cl, n_cl, rec.src)
    tp = _pairs_within(inter, n_inter, rec.src)
    if rec.n == 0:
        return 0, 0, 0, BCubed(1.0, 1.0, 1.0)
    k_int = np.bincount(inter)[inter].astype(np.float64)
    precision = float(np.mean(k_int / np.bincount(cl)[cl]))
    recall = float(np.mean(k_int / np.bincount(rec.ent)[rec.ent]))
    return n_cl, predicted, tp, BCubed(precision, recall, _f1(precision, recall))


def _bin(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Number of (sorted) ``edges`` <= each value, like ``searchsorted(side="right")``."""
    if len(edges) > 64:
        return np.searchsorted(edges, values, side="right")
    bins, above = np.zeros(len(values), np.uint8), np.empty(len(values), bool)
    for edge in edges:  # a few branch-free passes beat a binary search per value
        bins += np.greater_equal(values, edge, out=above)
    return bins


# -------------------------------------------------------------------- public
def pair_metrics_from_clusters(truth: np.ndarray, clusters: np.ndarray, *,
                               sources: np.ndarray | None = None,
                               link_type: str = "dedupe") -> PairMetrics:
    """Pairwise metrics treating every pair inside a cluster as a predicted match.

    Examples
    --------
    >>> m = pair_metrics_from_clusters(np.array([0, 0, 1, 1]), np.array([5, 5, 5, 5]))
    >>> (m.true_positives, m.false_positives, m.false_negatives, m.precision)
    (2, 4, 0, 0.3333333333333333)
    """
    rec = _prepare(truth, sources, link_type)
    _, predicted, tp, _ = _cluster_stats(rec, clusters)
    true_pairs = _pairs_within(rec.ent, rec.n_ent, rec.src)
    return PairMetrics.from_counts(tp, predicted - tp, true_pairs - tp)


def bcubed(truth: np.ndarray, clusters: np.ndarray) -> BCubed:
    """B-cubed precision/recall: per record ``|C ∩ E|/|C|`` and ``|C ∩ E|/|E|``, averaged.

    Examples
    --------
    >>> b = bcubed(np.array([0, 0, 1]), np.array([7, 7, 7]))
    >>> round(b.precision, 4), b.recall
    (0.5556, 1.0)
    """
    rec = _prepare(truth, None, "dedupe")
    return _cluster_stats(rec, clusters)[3]


def evaluate(*, truth: np.ndarray, clusters: np.ndarray, pair_left: np.ndarray,
             pair_right: np.ndarray, pair_probability: np.ndarray, threshold: float = 0.5,
             sources: np.ndarray | None = None, link_type: str = "dedupe") -> Evaluation:
    """Score candidate pairs and clusters against the true entities.

    Parameters
    ----------
    truth : int array (n,)
        Entity code per record; negative means unknown (a singleton).
    clusters : int array (n,)
        Cluster label per record.
    pair_left, pair_right : int arrays (m,)
        Record indices of the candidate pairs, each unordered pair at most once.
    pair_probability : float array (m,)
        Match probability per candidate pair.
    threshold : float
        Pairs with ``probability >= threshold`` are predicted matches.
    sources : array (n,), optional
        Source code per record; required when ``link_type="link"``.
    link_type : {"dedupe", "link", "link_and_dedupe"}
        In "link" mode only cross-source pairs count.

    Examples
    --------
    >>> ev = evaluate(truth=np.array([0, 0, 1]), clusters=np.array([0, 0, 1]),
    ...               pair_left=np.array([0, 1]), pair_right=np.array([1, 2]),
    ...               pair_probability=np.array([0.9, 0.2]))
    >>> ev.scored_pairs.f1, ev.cluster_pairs.f1, ev.blocking_recall
    (1.0, 1.0, 1.0)
    """
    threshold = float(threshold)
    if np.isnan(threshold):
        raise InputError("'threshold' must be a number, got NaN.")
    rec = _prepare(truth, sources, link_type)
    prob, is_true, valid = _candidate_flags(rec, pair_left, pair_right, pair_probability)
    n_cl, cl_pairs, cl_tp, b3 = _cluster_stats(rec, clusters)
    true_pairs = _pairs_within(rec.ent, rec.n_ent, rec.src)

    predicted = prob >= prob.dtype.type(threshold)
    if valid is not None:
        predicted &= valid
    n_pred, tp = int(np.count_nonzero(predicted)), int(np.count_nonzero(predicted & is_true))
    n_cand = len(prob) if valid is None else int(np.count_nonzero(valid))
    counts = {"records": rec.n, "entities": rec.n_ent, "clusters": n_cl,
              "true_pairs": true_pairs, "candidate_pairs": n_cand,
              "predicted_pairs": n_pred, "cluster_pairs": cl_pairs}
    return Evaluation(
        threshold=threshold,
        scored_pairs=PairMetrics.from_counts(tp, n_pred - tp, true_pairs - tp),
        cluster_pairs=PairMetrics.from_counts(cl_tp, cl_pairs - cl_tp, true_pairs - cl_tp),
        bcubed=b3,
        blocking_recall=_ratio(int(np.count_nonzero(is_true)), true_pairs),
        counts=counts,
    )


def precision_recall_curve(*, truth: np.ndarray, pair_left: np.ndarray, pair_right: np.ndarray,
                           pair_probability: np.ndarray, sources: np.ndarray | None = None,
                           link_type: str = "dedupe",
                           thresholds: np.ndarray | list[float] | None = None
                           ) -> list[dict[str, float]]:
    """Pairwise precision, recall and F1 of the scored pairs at many thresholds.

    Each probability is binned among the sorted thresholds in one vectorised pass,
    and reverse cumulative sums of the bin counts give every row at once. Recall is
    over all true pairs, so pairs missed by blocking count against it. Default
    thresholds: 0.05, 0.10, ..., 0.95 and 0.99.

    Examples
    --------
    >>> rows = precision_recall_curve(truth=np.array([0, 0, 1]),
    ...     pair_left=np.array([0, 1]), pair_right=np.array([1, 2]),
    ...     pair_probability=np.array([0.9, 0.3]), thresholds=[0.2, 0.5])
    >>> [(r["threshold"], r["precision"], r["recall"]) for r in rows]
    [(0.2, 0.5, 1.0), (0.5, 1.0, 1.0)]
    """
    if thresholds is None:
        thresholds = np.append(np.round(np.linspace(0.05, 0.95, 19), 2), 0.99)
    ts = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if np.isnan(ts).any():
        raise InputError("'thresholds' must be numbers, got NaN.")
    rec = _prepare(truth, sources, link_type)
    prob, is_true, valid = _candidate_flags(rec, pair_left, pair_right, pair_probability)
    true_pairs = _pairs_within(rec.ent, rec.n_ent, rec.src)
    order = np.argsort(ts, kind="stable")
    edges = ts[order].astype(prob.dtype)  # compare in the probabilities' own precision
    hist_all, hist_true = np.zeros(len(ts) + 1, np.int64), np.zeros(len(ts) + 1, np.int64)
    for s in range(0, len(prob), _CHUNK):  # bin = how many thresholds are <= probability
        bins = _bin(edges, prob[s:s + _CHUNK])
        hist_all += np.bincount(bins if valid is None else bins[valid[s:s + _CHUNK]],
                                minlength=len(ts) + 1)
        hist_true += np.bincount(bins[is_true[s:s + _CHUNK]], minlength=len(ts) + 1)
    n_pred, n_tp = np.empty(len(ts), np.int64), np.empty(len(ts), np.int64)
    n_pred[order] = np.cumsum(hist_all[::-1])[::-1][1:]  # probability >= k-th threshold
    n_tp[order] = np.cumsum(hist_true[::-1])[::-1][1:]
    curve = [PairMetrics.from_counts(tp, pred - tp, true_pairs - tp)
             for pred, tp in zip(n_pred.tolist(), n_tp.tolist())]
    return [{"threshold": t, "precision": m.precision, "recall": m.recall, "f1": m.f1}
            for t, m in zip(ts.tolist(), curve)]
