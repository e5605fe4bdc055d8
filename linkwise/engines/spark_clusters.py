"""Clusters on Spark: connected components, then refinement and confidence inside each one.

Connected components come from :func:`linkwise.engines.spark_frames.component_roots`
(iterative joins; the edges never meet on one machine). Refinement
(:func:`linkwise.cluster.refine_clusters`) and each cluster's confidence
(:func:`linkwise.cluster.cluster_confidence`) only look at the scored pairs
inside one component or cluster, so the pairs are spread over the tasks by
component, sorted, and each task runs the one-machine code on whole components
at a time: a component is never split between tasks or calls, and no task holds
more than a batch of components. Both engines then give the same clusters, and
the same confidences bit for bit (the pairs of a cluster are summed in the same
(left, right) order).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ..cluster import cluster_confidence, refine_clusters
from ..settings import Settings
from .spark_frames import component_roots, materialise, release, with_row_numbers

# Pairs gathered before a call of the one-machine code (whole components are added past it).
GROUP_BATCH_ROWS = 500_000


def _whole_groups(batches: Iterator[pa.RecordBatch], key: str, rows: int) -> Iterator[pa.Table]:
    """Tables of whole groups of ``key``, from batches sorted by ``key``: once ``rows`` rows are
    gathered, the groups before the last one go out; a group's rows are never split between tables."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        count += batch.num_rows
        if count < rows:
            continue
        table = pa.Table.from_batches(pending)
        keys = table.column(key).to_numpy()
        # Hold back the last group: its rows may go on in the next batch.
        cut = int(np.searchsorted(keys, keys[-1], side="left"))
        if cut == 0:
            continue
        yield table.slice(0, cut)
        rest = table.slice(cut)
        pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def _local(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The records of some pairs in increasing order, and each pair's records as positions among them."""
    members = np.unique(np.concatenate([left, right]))
    return members, np.searchsorted(members, left), np.searchsorted(members, right)


def _grouped(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_local` of a table of pairs by ``root``, with each record's root."""
    roots = table.column("root").to_numpy()
    members, left, right = _local(table.column("idx_l").to_numpy(), table.column("idx_r").to_numpy())
    root = np.empty(len(members), np.int64)
    root[left] = roots
    root[right] = roots
    return members, left, right, root


def _refine_partition(batches, threshold: float, rows: int):
    for table in _whole_groups(batches, "root", rows):
        members, left, right, root = _grouped(table)
        component = np.unique(root, return_inverse=True)[1].reshape(-1)  # 0..k-1
        labels = refine_clusters(component, left, right, table.column("match_weight").to_numpy(), threshold=threshold)
        # Labels follow the records' order: a group's first record is its smallest, which names it.
        _, first = np.unique(labels, return_index=True)
        yield pa.RecordBatch.from_arrays(
            [pa.array(members), pa.array(members[first][labels])], names=["node", "root"]
        )


def _confidence_partition(batches, rows: int):
    for table in _whole_groups(batches, "root", rows):
        _, left, right, root = _grouped(table)
        names, labels = np.unique(root, return_inverse=True)
        weakest, mean = cluster_confidence(labels.reshape(-1), left, right, table.column("match_weight").to_numpy())
        yield pa.RecordBatch.from_arrays(
            [pa.array(names), pa.array(weakest), pa.array(mean)],
            names=["root", "cluster_weakest_link", "cluster_mean_probability"],
        )


def _pairs_inside(scored: DataFrame, roots: DataFrame, *, min_size: int = 2) -> DataFrame:
    """The scored pairs whose two records share a root, with it (``root``, ``idx_l``, ``idx_r``,
    ``match_weight``), in groups of at least ``min_size`` records, spread over the tasks by root and
    sorted by (root, left, right)."""
    if min_size > 2:
        sizes = roots.groupBy("root").agg(F.count(F.lit(1)).alias("_size")).where(F.col("_size") >= min_size)
        roots = roots.join(sizes.select("root"), "root")
    left = roots.select(F.col("node").alias("idx_l"), F.col("root"))
    right = roots.select(F.col("node").alias("idx_r"), F.col("root").alias("_root_r"))
    inside = (
        scored.select("idx_l", "idx_r", "match_weight")
        .join(left, "idx_l")
        .join(right, "idx_r")
        .where(F.col("root") == F.col("_root_r"))
        .select("root", "idx_l", "idx_r", "match_weight")
    )
    return inside.repartition("root").sortWithinPartitions("root", "idx_l", "idx_r")


def refined_roots(scored: DataFrame, roots: DataFrame, threshold: float, *, rows: int = GROUP_BATCH_ROWS) -> tuple[DataFrame, DataFrame]:
    """(``node``, ``root``) after refinement: each component's records regrouped, each group
    named by its smallest record (and the regrouped records alone, materialised, to release later).
    Components of fewer than three records cannot split."""
    schema = T.StructType([T.StructField("node", T.LongType(), False), T.StructField("root", T.LongType(), False)])
    pairs = _pairs_inside(scored, roots, min_size=3)
    regrouped = pairs.mapInArrow(partial(_refine_partition, threshold=threshold, rows=rows), schema)
    regrouped = materialise(regrouped)
    out = roots.join(regrouped.withColumnRenamed("root", "_new"), "node", "left").select(
        "node", F.coalesce(F.col("_new"), F.col("root")).alias("root")
    )
    return out, regrouped


def confidences(scored: DataFrame, roots: DataFrame, *, rows: int = GROUP_BATCH_ROWS) -> DataFrame:
    """(``root``, ``cluster_weakest_link``, ``cluster_mean_probability``) of each cluster of two or more records."""
    schema = T.StructType(
        [
            T.StructField("root", T.LongType(), False),
            T.StructField("cluster_weakest_link", T.DoubleType()),
            T.StructField("cluster_mean_probability", T.DoubleType()),
        ]
    )
    return _pairs_inside(scored, roots).mapInArrow(partial(_confidence_partition, rows=rows), schema)


def clusters(records: DataFrame, scored: DataFrame, settings: Settings, *, rows: int = GROUP_BATCH_ROWS) -> DataFrame:
    """(``_idx``, ``_id``, ``_src``, ``cluster_id``, ``cluster_size``, ``cluster_weakest_link``,
    ``cluster_mean_probability``) for every record, as :meth:`linkwise.LinkResult.clusters_table` has them.

    Clusters are numbered 0..k-1 in order of their smallest record, as
    :func:`linkwise.cluster.connected_components` and refinement number them.
    """
    edges = scored.where(F.col("match_probability") >= F.lit(float(settings.cluster_threshold)))
    roots = component_roots(edges.select(F.col("idx_l").alias("a"), F.col("idx_r").alias("b")))
    held = [roots]
    if settings.cluster_refinement.method == "edge_contraction":
        roots, regrouped = refined_roots(scored, roots, settings.cluster_refinement.threshold, rows=rows)
        roots = materialise(roots)
        held += [regrouped, roots]
    labelled = materialise(
        records.select("_idx", "_id", "_src")
        .join(roots.withColumnRenamed("node", "_idx"), "_idx", "left")
        .select("_idx", "_id", "_src", F.coalesce(F.col("root"), F.col("_idx")).alias("root"))
    )
    sizes = labelled.groupBy("root").agg(F.count(F.lit(1)).alias("cluster_size"))
    numbered = with_row_numbers(sizes, ["root"], "cluster_id")
    confidence = materialise(confidences(scored, roots, rows=rows))
    out = materialise(
        labelled.join(numbered, "root")
        .join(confidence, "root", "left")
        .select(
            "_idx", "_id", "_src", "cluster_id", F.col("cluster_size").cast("long"),
            "cluster_weakest_link", "cluster_mean_probability",
        )
    )
    release(labelled, numbered, confidence, *held)
    return out
