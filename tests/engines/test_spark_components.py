"""Clusters in Spark: connected components as joins (large-star / small-star) agree with union–find;
refinement and confidences, run component by component in the tasks, agree with the one-machine code."""

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


def _scored(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph's pairs (each once, left < right) scored: mostly strong links, some weak, and
    unlikely pairs inside the components, so that refinement has chains and cliques to split."""
    rng = np.random.default_rng(seed)
    left, right = _graph(n, seed)
    extra = rng.integers(0, 260, size=(400, 2))
    left, right = np.concatenate([left, extra[:, 0]]), np.concatenate([right, extra[:, 1]])
    keep = left != right
    pairs = np.unique(np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1)[keep], axis=0)
    weights = np.where(rng.random(len(pairs)) < 0.7, rng.uniform(4, 12, len(pairs)), rng.uniform(-8, 2, len(pairs)))
    return pairs[:, 0], pairs[:, 1], weights


@pytest.mark.parametrize("rows", [7, 100_000])  # components gathered a few pairs at a time, or all at once
def test_refined_clusters_and_confidences_in_spark_are_the_one_machine_ones(spark, rows):
    from linkwise import Settings
    from linkwise.cluster import cluster_confidence, refine_clusters
    from linkwise.engines.spark_clusters import clusters
    from linkwise.model import probability

    n = 400
    left, right, weights = _scored(n, seed=2)
    settings = Settings.from_dict(
        {"comparisons": [{"template": "exact_match", "column": "x"}], "blocking_rules": [["x"]], "cluster_threshold": 0.9}
    )
    linked = probability(weights) >= 0.9
    components = connected_components(n, left[linked], right[linked])
    expected = refine_clusters(components, left, right, weights, threshold=settings.cluster_refinement.threshold)
    assert expected.max() > components.max()  # refinement splits some component here
    weakest, mean = cluster_confidence(expected, left, right, weights)

    from pyspark.sql import functions as F

    records = spark.range(n).select(F.col("id").alias("_idx"), F.col("id").alias("_id"), F.lit(0).alias("_src"))
    scored = spark.createDataFrame(
        pa.table({"idx_l": left, "idx_r": right, "match_weight": weights, "match_probability": probability(weights)})
    )
    got = clusters(records, scored, settings, rows=rows).orderBy("_idx").toArrow()
    np.testing.assert_array_equal(got["cluster_id"].to_numpy(), expected)
    np.testing.assert_array_equal(got["cluster_size"].to_numpy(), np.bincount(expected)[expected])
    alone = np.bincount(expected)[expected] == 1
    assert got["cluster_weakest_link"].is_null().to_numpy(zero_copy_only=False).tolist() == alone.tolist()
    np.testing.assert_array_equal(got["cluster_weakest_link"].to_numpy(zero_copy_only=False)[~alone], weakest[expected][~alone])
    np.testing.assert_array_equal(got["cluster_mean_probability"].to_numpy(zero_copy_only=False)[~alone], mean[expected][~alone])


def test_whole_groups_never_split_a_group_between_tables(spark):
    from linkwise.engines.spark_clusters import _whole_groups

    keys = np.repeat(np.arange(12), [1, 5, 2, 9, 1, 1, 3, 7, 2, 2, 4, 1])
    batches = [pa.RecordBatch.from_arrays([pa.array(part)], names=["root"]) for part in np.array_split(keys, 9)]
    tables = list(_whole_groups(iter(batches), "root", 4))
    assert np.concatenate([t.column("root").to_numpy() for t in tables]).tolist() == keys.tolist()
    seen = [set(t.column("root").to_numpy().tolist()) for t in tables]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1 :])
    assert len(tables) > 2  # cut as the rows gathered reach 4, at the last group boundary before them
