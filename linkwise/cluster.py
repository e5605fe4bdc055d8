"""Cluster: connected components of the pairs at or above the cluster threshold.

A compiled union–find whose roots are each component's smallest record index.
Labels are numbered 0..k-1 in order of each cluster's first record, which
(records being numbered by source and id) does not depend on the input row
order.
"""

from __future__ import annotations

import numpy as np

from . import kernels


def connected_components(n_records: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cluster label of each record (0..k-1); singletons get their own label.

    >>> connected_components(5, np.array([0, 3]), np.array([1, 4])).tolist()
    [0, 0, 1, 2, 2]
    """
    left, right = np.asarray(left), np.asarray(right)
    if left.dtype.kind not in "iu":  # e.g. an empty list
        left, right = left.astype(np.int64), right.astype(np.int64)
    return kernels.components(int(n_records), left, right)


def cluster_sizes(labels: np.ndarray) -> np.ndarray:
    """Size of each record's cluster."""
    return np.bincount(labels)[labels]
