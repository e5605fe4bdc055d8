"""Spark building blocks that need more than one job: row numbers in a sort order, and
connected components.

Connected components alternate the large-star and small-star steps of Kiveris et
al. ("Connected Components in MapReduce and Beyond", SoCC 2014): window
aggregates and distincts over the edges, never the edges gathered on one
machine, converging in O(log² n) rounds to one star per component, centred on
its smallest record. Each round is checkpointed so that the query plan does not
grow with the rounds.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ..errors import LinkwiseError

_PARTITION_SHIFT = 33  # monotonically_increasing_id: partition index above bit 33, row below
MAX_ROUNDS = 100


def materialise(frame: DataFrame) -> DataFrame:
    """Compute ``frame`` now and keep it, cutting its lineage.

    Later plans then start from the stored rows: without this each stage's
    plan would hold every earlier stage's, and planning (and Spark's plan
    descriptions) would grow with every join. Checkpoints are reliable (in the
    session's checkpoint folder) when one is set, otherwise kept by the executors.
    """
    if frame.sparkSession.sparkContext.getCheckpointDir():
        return frame.checkpoint(eager=True)
    return frame.localCheckpoint(eager=True)


def release(*frames: DataFrame) -> None:
    """Free materialised frames' stored rows now, not at the JVM's next garbage collection."""
    for frame in frames:
        try:  # the checkpointed RDDs under the plan; Spark offers no public call for this
            for rdd in _checkpointed(frame._jdf.queryExecution().analyzed()):
                rdd.unpersist(False)
        except Exception:  # noqa: BLE001 - Spark Connect or a changed internal API: Spark cleans up later
            pass


def _checkpointed(plan):
    if plan.nodeName() == "LogicalRDD":
        yield plan.rdd()
    children = plan.children()
    for i in range(children.size()):
        yield from _checkpointed(children.apply(i))


def with_row_numbers(frame: DataFrame, order: list[str | Column], name: str) -> DataFrame:
    """``frame`` with column ``name`` = 0, 1, 2, ... in ``order`` (which must be a total order).

    A distributed sort, then each partition's rows numbered from the number of
    rows in the partitions before it. The sorted rows are materialised first,
    so the numbers cannot change if Spark recomputes anything.
    """
    ordered = materialise(frame.orderBy(*order).withColumn("_mid", F.monotonically_increasing_id()))
    partition = F.shiftright(F.col("_mid"), _PARTITION_SHIFT)
    sizes = sorted((int(r[0]), int(r[1])) for r in ordered.groupBy(partition.alias("p")).count().collect())
    offsets, total = [], 0
    for p, size in sizes:
        offsets += [F.lit(p), F.lit(total)]
        total += size
    first_of = F.create_map(*offsets) if offsets else F.create_map(F.lit(0), F.lit(0))
    row_in_partition = F.col("_mid").bitwiseAND(F.lit((1 << _PARTITION_SHIFT) - 1))
    return ordered.withColumn(name, (first_of[partition] + row_in_partition).cast("long")).drop("_mid")


def _large_star(edges: DataFrame) -> DataFrame:
    """Each node's larger neighbours are linked to the smallest node of its neighbourhood."""
    both = edges.select(F.col("a").alias("u"), F.col("b").alias("v")).union(
        edges.select(F.col("b").alias("u"), F.col("a").alias("v"))
    )
    smallest = F.least(F.col("u"), F.min("v").over(Window.partitionBy("u")))
    return (
        both.withColumn("m", smallest)
        .where(F.col("v") > F.col("u"))
        .select(F.col("v").alias("a"), F.col("m").alias("b"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Each node and its smaller neighbours are linked to the smallest of them."""
    down = edges.select(F.greatest("a", "b").alias("u"), F.least("a", "b").alias("v"))
    down = down.withColumn("m", F.min("v").over(Window.partitionBy("u")))
    moved = down.where(F.col("v") != F.col("m")).select(F.col("v").alias("a"), F.col("m").alias("b"))
    return moved.union(down.select(F.col("u").alias("a"), F.col("m").alias("b"))).distinct()


def _is_star_forest(edges: DataFrame) -> bool:
    """Whether the edges (``a`` > ``b``) are stars: each ``a`` has one edge and no ``b`` is an ``a``.

    Then each star is a whole component (the rounds keep components connected)
    and its centre, smaller than the rest, is the component's smallest node; and
    the rounds would change nothing more. Most clusters of records are one pair,
    so this often holds before any round.
    """
    ends = edges.select(F.col("a").alias("node"), F.lit(1).alias("out"), F.lit(0).alias("in")).union(
        edges.select(F.col("b").alias("node"), F.lit(0).alias("out"), F.lit(1).alias("in"))
    )
    per_node = ends.groupBy("node").agg(F.sum("out").alias("out"), F.sum("in").alias("in"))
    return per_node.where((F.col("out") > 1) | ((F.col("out") > 0) & (F.col("in") > 0))).isEmpty()


def component_roots(edges: DataFrame) -> DataFrame:
    """(``node``, ``root``) for every node of an edge (columns ``a``, ``b``): root = the
    smallest node of its component. Nodes of no edge are not listed: each is its own root."""
    current = (
        edges.where(F.col("a") != F.col("b"))
        .select(F.greatest("a", "b").alias("a"), F.least("a", "b").alias("b"))
        .distinct()
    )
    current = materialise(current)
    for _ in range(MAX_ROUNDS):
        if _is_star_forest(current):
            break
        following = materialise(_small_star(_large_star(current)))
        release(current)
        current = following
    else:  # pragma: no cover - the algorithm converges in O(log² n) rounds
        raise LinkwiseError(f"connected components did not converge in {MAX_ROUNDS} rounds")
    # Stars: every node but the centre has one edge, to the centre.
    return current.select(F.col("a").alias("node"), F.col("b").alias("root")).union(
        current.select(F.col("b").alias("node"), F.col("b").alias("root"))
    ).distinct()


def cluster_labels(records: DataFrame, edges: DataFrame) -> DataFrame:
    """(``_idx``, ``cluster_id``, ``cluster_size``) for every record of ``records`` (column ``_idx``).

    Clusters are numbered 0..k-1 in order of their smallest record, as
    :func:`linkwise.cluster.connected_components` numbers them.
    """
    roots = component_roots(edges)
    labelled = records.select("_idx").join(roots, records["_idx"] == roots["node"], "left").select(
        "_idx", F.coalesce(F.col("root"), F.col("_idx")).alias("root")
    )
    labelled = materialise(labelled)
    sizes = labelled.groupBy("root").agg(F.count("*").alias("cluster_size"))
    numbered = with_row_numbers(sizes, ["root"], "cluster_id")
    out = materialise(labelled.join(numbered, "root").select("_idx", "cluster_id", "cluster_size"))
    release(labelled, numbered)
    return out
