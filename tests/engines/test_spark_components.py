"""Connected components as joins (large-star / small-star) agree with union–find."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from linkwise.cluster import connected_components

pytestmark = pytest.mark.spark


def _graph(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Long chains in shuffled order, a star, a clique and scattered edges; some nodes left alone."""
    rng = np.random.default_rng(seed)
    nodes = rng.permutation(n)
    chains = [nodes[:120], nodes[120:180]]  # paths: the worst case for label propagation
    left = [c[:-1] for c in chains] + [np.full(30, nodes[200])]
    right = [c[1:] for c in chains] + [nodes[201:231]]
    clique = nodes[240:250]
    a, b = np.triu_indices(len(clique), k=1)
    left.append(clique[a])
    right.append(clique[b])
    scattered = rng.integers(260, n, size=(40, 2))
    left.append(scattered[:, 0])
    right.append(scattered[:, 1])
    return np.concatenate(left), np.concatenate(right)


def test_components_in_spark_are_the_union_find_clusters_numbered_alike(spark):
    from linkwise.engines.spark_frames import cluster_labels

    n = 400
    left, right = _graph(n, seed=1)
    records = spark.range(n).withColumnRenamed("id", "_idx")
    edges = spark.createDataFrame(pa.table({"a": left.astype(np.int64), "b": right.astype(np.int64)}))
    labels = cluster_labels(records, edges).orderBy("_idx").toArrow()
    expected = connected_components(n, left, right)
    np.testing.assert_array_equal(labels["_idx"].to_numpy(), np.arange(n))
    np.testing.assert_array_equal(labels["cluster_id"].to_numpy(), expected)
    np.testing.assert_array_equal(labels["cluster_size"].to_numpy(), np.bincount(expected)[expected])
