"""Cluster: connected components of the pairs at or above the cluster threshold.

Pure numpy: hook each component onto its smallest record index and compress
paths until every edge joins records with the same label. Labels are then
numbered 0..k-1 in order of each cluster's first record, which (records being
sorted by source and id) does not depend on the input row order.
"""

from __future__ import annotations

import numpy as np


def connected_components(n_records: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cluster label of each record (0..k-1); singletons get their own label.

    >>> connected_components(5, np.array([0, 3]), np.array([1, 4])).tolist()
    [0, 0, 1, 2, 2]
    """
    parent = np.arange(n_records, dtype=np.int64)
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    while len(left):
        root_l, root_r = parent[left], parent[right]
        differ = root_l != root_r
        if not differ.any():
            break
        root_l, root_r = root_l[differ], root_r[differ]
        low, high = np.minimum(root_l, root_r), np.maximum(root_l, root_r)
        # Hook: each root points at the smallest root it is linked to.
        np.minimum.at(parent, high, low)
        # Compress: follow pointers until every record points at a root.
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
        left, right = left[differ], right[differ]
    _, labels = np.unique(parent, return_inverse=True)
    return labels.astype(np.int64)


def cluster_sizes(labels: np.ndarray) -> np.ndarray:
    """Size of each record's cluster."""
    return np.bincount(labels)[labels]
