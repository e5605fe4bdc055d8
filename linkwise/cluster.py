"""Cluster: connected components of the pairs at or above the cluster threshold, then refined.

Connected components chain: one wrong link at the cluster threshold joins two
people and every record of each. Refinement regroups the records of each
component by *greedy additive edge contraction* (Keuper et al., 2015), a
heuristic for correlation clustering: every scored pair inside the component
counts its match weight less the weight of the refinement threshold (bits:
positive for a likely match, negative for a likely non-match, 0 for a pair
never scored), and the two groups with the largest positive sum between them
are merged, again and again, until no merge gains. A clique of strong links
stays whole; two dense groups joined by one link whose weight is outweighed
by the unlikely pairs across them are split. Refinement only splits: records
in different components are never joined.

Each cluster gets a confidence: its weakest link (the lowest probability at
which its records are still connected by scored pairs, i.e. the bottleneck of
their maximum spanning tree) and the mean probability of its scored pairs.

Labels are numbered 0..k-1 in order of each cluster's first record, which
(records being numbered by source and id) does not depend on the input row
order. The work is compiled: no Python loop runs per record or per pair.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import kernels

DENSE_LIMIT = 4000
"""Largest component regrouped at once (its pair weights are held as a dense square
table, 8 bytes each). Larger ones are first cut at rising thresholds."""


def connected_components(n_records: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cluster label of each record (0..k-1); singletons get their own label.

    >>> connected_components(5, np.array([0, 3]), np.array([1, 4])).tolist()
    [0, 0, 1, 2, 2]
    """
    left, right = _index_arrays(left, right)
    return kernels.components(int(n_records), left, right)


def cluster_sizes(labels: np.ndarray) -> np.ndarray:
    """Size of each record's cluster."""
    return np.bincount(labels)[labels]


def _index_arrays(left, right) -> tuple[np.ndarray, np.ndarray]:
    left, right = np.asarray(left), np.asarray(right)
    if left.dtype.kind not in "iu":  # e.g. an empty list
        left, right = left.astype(np.int64), right.astype(np.int64)
    return left, right


def bits(probability: float) -> float:
    """The match weight (log2 odds) of a probability."""
    probability = min(max(probability, 1e-15), 1 - 1e-15)
    return math.log2(probability / (1 - probability))


def refine_clusters(
    labels: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    match_weight: np.ndarray,
    *,
    threshold: float = 0.5,
    dense_limit: int = DENSE_LIMIT,
) -> np.ndarray:
    """Split clusters held together by weak links; returns new labels (0..k-1).

    ``labels`` are the connected components; ``left``, ``right`` and
    ``match_weight`` are every scored pair (not only those over the cluster
    threshold). A pair counts for keeping its records together by its weight
    less that of ``threshold``.

    >>> # Two triangles of strong links (10 bits), joined by one link (5 bits),
    >>> # with the other pairs across them scored as unlikely (-3 bits).
    >>> left = np.array([0, 0, 1, 3, 3, 4, 2, 0, 1, 2, 2])
    >>> right = np.array([1, 2, 2, 4, 5, 5, 3, 3, 4, 4, 5])
    >>> weight = np.array([10, 10, 10, 10, 10, 10, 5, -3, -3, -3, -3], dtype=float)
    >>> refine_clusters(np.zeros(6, np.int64), left, right, weight).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64)
    left, right = _index_arrays(left, right)
    offset = bits(threshold)
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes > dense_limit)
    if len(big):
        labels = _cut_big_components(labels, left, right, match_weight, big, offset, dense_limit)
    return _refine(labels, left, right, np.asarray(match_weight, dtype=np.float64), offset)


def _cut_big_components(labels, left, right, match_weight, big, offset, dense_limit) -> np.ndarray:
    """Cut components over ``dense_limit`` records at rising weights until every piece fits.

    A rare path (one chain of tens of thousands of records): each round keeps
    only the internal pairs above a higher weight.
    """
    labels = labels.copy()
    is_big = np.zeros(int(labels.max()) + 1, dtype=bool)
    is_big[big] = True
    inside = is_big[labels[left]] & (labels[left] == labels[right])
    cut_at = max(offset, 0.0)
    while inside.any():
        cut_at += 2.0
        keep = inside & (match_weight >= cut_at)
        pieces = kernels.components(len(labels), left[keep], right[keep])
        # Records of small components keep their label; records of big ones take their piece's.
        members = is_big[labels]
        new = labels.copy()
        new[members] = int(labels.max()) + 1 + pieces[members]
        labels = _renumber(new)
        sizes = np.bincount(labels)
        is_big = sizes > dense_limit
        inside = is_big[labels[left]] & (labels[left] == labels[right])
    return labels


def _renumber(labels: np.ndarray) -> np.ndarray:
    return _first_seen_order(np.asarray(labels, dtype=np.int64))


def _refine(labels, left, right, match_weight, offset) -> np.ndarray:
    n_components = int(labels.max()) + 1 if len(labels) else 0
    order, starts = _group_records(labels, n_components)
    pairs, pair_starts = _pairs_by_cluster(labels, left, right, n_components)
    return _contract_all(labels, order, starts, left, right, match_weight, pairs, pair_starts, offset)


@njit(cache=True, nogil=True)
def _group_records(labels, n_labels):  # pragma: no cover - compiled
    """Records in order of their label (a counting sort), and where each label's run starts."""
    starts = np.zeros(n_labels + 1, np.int64)
    for x in range(len(labels)):
        starts[labels[x] + 1] += 1
    for c in range(n_labels):
        starts[c + 1] += starts[c]
    fill = starts[:-1].copy()
    order = np.empty(len(labels), np.int64)
    for x in range(len(labels)):
        order[fill[labels[x]]] = x
        fill[labels[x]] += 1
    return order, starts


@njit(cache=True, nogil=True)
def _pairs_by_cluster(labels, left, right, n_labels):  # pragma: no cover - compiled
    """Positions of the pairs whose records share a label, grouped by label, and where each label's run starts."""
    starts = np.zeros(n_labels + 1, np.int64)
    for p in range(len(left)):
        label = labels[left[p]]
        if label == labels[right[p]]:
            starts[label + 1] += 1
    for c in range(n_labels):
        starts[c + 1] += starts[c]
    fill = starts[:-1].copy()
    pairs = np.empty(starts[n_labels], np.int64)
    for p in range(len(left)):
        label = labels[left[p]]
        if label == labels[right[p]]:
            pairs[fill[label]] = p
            fill[label] += 1
    return pairs, starts


@njit(cache=True, nogil=True)
def _first_seen_order(labels):  # pragma: no cover - compiled
    """Renumber labels 0..k-1 in order of each label's first record."""
    seen = np.full(labels.max() + 1 if len(labels) else 0, -1, np.int64)
    out = np.empty(len(labels), np.int64)
    count = 0
    for x in range(len(labels)):
        label = labels[x]
        if seen[label] < 0:
            seen[label] = count
            count += 1
        out[x] = seen[label]
    return out


@njit(cache=True, nogil=True)
def _contract_all(labels, order, starts, left, right, weight, pairs, pair_starts, offset):  # pragma: no cover - compiled
    n = len(labels)
    out = labels.copy()
    next_label = labels.max() + 1 if n else 0
    local = np.full(n, -1, np.int64)
    for component in range(len(starts) - 1):
        size = starts[component + 1] - starts[component]
        first, last = pair_starts[component], pair_starts[component + 1]
        if size < 3:
            continue
        # Only a pair that counts against keeping its records together can split a component.
        splittable = False
        for p in range(first, last):
            if weight[pairs[p]] - offset <= 0:
                splittable = True
                break
        if not splittable:
            continue
        members = order[starts[component] : starts[component + 1]]
        for i in range(size):
            local[members[i]] = i
        table = np.zeros((size, size))
        for p in range(first, last):
            i = local[left[pairs[p]]]
            j = local[right[pairs[p]]]
            w = weight[pairs[p]] - offset
            table[i, j] += w
            table[j, i] += w
        group = _contract(table)
        # Keep the component's label for the group of its first record; new labels for the others.
        group_label = np.full(size, -1, np.int64)
        group_label[group[0]] = labels[members[0]]
        for i in range(size):
            g = group[i]
            if group_label[g] < 0:
                group_label[g] = next_label
                next_label += 1
            out[members[i]] = group_label[g]
        for i in range(size):
            local[members[i]] = -1
    return _first_seen_order(out)


@njit(cache=True, nogil=True)
def _contract(table):  # pragma: no cover - compiled
    """Greedy additive edge contraction on a dense symmetric table of weights; group of each row.

    Each row caches its best partner; a merge adds the absorbed row and column
    into the kept one and refreshes only the rows whose best partner changed.
    """
    size = table.shape[0]
    alive = np.ones(size, np.bool_)
    best = np.full(size, -1, np.int64)
    best_value = np.full(size, -np.inf)
    for i in range(size):
        table[i, i] = -np.inf
        for j in range(size):
            if j != i and table[i, j] > best_value[i]:
                best_value[i] = table[i, j]
                best[i] = j
    group = np.arange(size)
    while True:
        i = -1
        top = 0.0
        for r in range(size):
            if alive[r] and best_value[r] > top:
                top = best_value[r]
                i = r
        if i < 0:
            break
        j = best[i]
        if j < i:
            i, j = j, i
        # Merge j into i.
        alive[j] = False
        for r in range(size):
            if alive[r] and r != i:
                table[i, r] += table[j, r]
                table[r, i] = table[i, r]
        for r in range(size):
            if group[r] == j:
                group[r] = i
        best_value[j] = -np.inf
        best_value[i] = -np.inf
        best[i] = -1
        for r in range(size):
            if alive[r] and r != i and table[i, r] > best_value[i]:
                best_value[i] = table[i, r]
                best[i] = r
        for r in range(size):
            if not alive[r] or r == i:
                continue
            if best[r] == i or best[r] == j:
                best_value[r] = -np.inf
                best[r] = -1
                for c in range(size):
                    if alive[c] and c != r and table[r, c] > best_value[r]:
                        best_value[r] = table[r, c]
                        best[r] = c
            elif table[r, i] > best_value[r]:
                best_value[r] = table[r, i]
                best[r] = i
    return group


def cluster_confidence(
    labels: np.ndarray, left: np.ndarray, right: np.ndarray, match_weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: the weakest link and the mean probability of its scored pairs (NaN for singletons).

    The weakest link is the lowest probability at which the cluster's records
    are still connected by its scored pairs: the bottleneck of their maximum
    spanning tree.

    >>> weakest, mean = cluster_confidence(np.array([0, 0, 0, 1]), np.array([0, 1, 0]),
    ...                                    np.array([1, 2, 2]), np.array([10.0, 3.0, -2.0]))
    >>> [round(float(x), 3) for x in weakest[:1]], [round(float(x), 3) for x in mean[:1]]
    ([0.889], [0.696])
    """
    labels = np.asarray(labels, dtype=np.int64)
    left, right = _index_arrays(left, right)
    n_clusters = int(labels.max()) + 1 if len(labels) else 0
    pairs, starts = _pairs_by_cluster(labels, left, right, n_clusters)
    order, record_starts = _group_records(labels, n_clusters)
    return _confidence(order, record_starts, left, right, np.asarray(match_weight, dtype=np.float64), pairs, starts)


@njit(cache=True, nogil=True)
def _confidence(order, record_starts, left, right, weight, pairs, starts):  # pragma: no cover - compiled
    """Per cluster, Kruskal over its pairs, strongest first: the probability of the link that completes it; and the mean."""
    n_clusters = len(starts) - 1
    weakest = np.full(n_clusters, np.nan)
    mean = np.full(n_clusters, np.nan)
    parent = np.arange(len(order))
    most = 0
    for c in range(n_clusters):
        most = max(most, starts[c + 1] - starts[c])
    ranked = np.empty(most, np.int64)
    for c in range(n_clusters):
        first, last = starts[c], starts[c + 1]
        n_pairs = last - first
        if n_pairs == 0:
            continue
        total = 0.0
        for q in range(first, last):
            total += 1.0 / (1.0 + np.exp2(-weight[pairs[q]]))
        mean[c] = total / n_pairs
        if n_pairs == 1:
            weakest[c] = mean[c]
            continue
        # The cluster's pairs, strongest first (insertion sort: clusters hold few pairs).
        if n_pairs <= 64:
            for k in range(n_pairs):
                p = pairs[first + k]
                j = k
                while j > 0 and weight[ranked[j - 1]] < weight[p]:
                    ranked[j] = ranked[j - 1]
                    j -= 1
                ranked[j] = p
        else:
            own = pairs[first:last]
            ranked[:n_pairs] = own[np.argsort(-weight[own], kind="mergesort")]
        missing = record_starts[c + 1] - record_starts[c] - 1
        for k in range(n_pairs):
            p = ranked[k]
            a = kernels._root(parent, left[p])
            b = kernels._root(parent, right[p])
            if a == b:
                continue
            if a < b:
                parent[b] = a
            else:
                parent[a] = b
            missing -= 1
            if missing == 0:
                weakest[c] = 1.0 / (1.0 + np.exp2(-weight[p]))
                break
    return weakest, mean
