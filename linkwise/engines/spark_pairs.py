"""Spark pairs: blocking joins, comparing and scoring on Arrow batches, and the small
aggregates that training needs.

A pair is (``idx_l`` < ``idx_r``), made by the first blocking rule that holds
for it, with ``mask``: bit ``r`` set when rule ``r`` holds (its keys equal and
present on both records), as :func:`linkwise.blocking.rule_masks` sets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial, reduce

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ..batches import PreparePlan, ScorePlan, levels_of_batch, weights_of_batch
from ..blocking import first_rule
from ..model import probability
from ..settings import Comparison, Settings
from ..train import MaskCounts
from .spark_frames import materialise, release
from .spark_ingest import SparkRecords


def level_column(c: int) -> str:
    return f"_lv{c}"


def rule_keys(settings: Settings, plan: PreparePlan) -> list[list[str]]:
    """The standardised columns of each blocking rule's keys."""
    return [[plan.name_of(k.column, k.standardise) for k in rule.keys] for rule in settings.blocking_rules]


# -- blocking -----------------------------------------------------------------
def _keyed(frame: DataFrame, all_keys: list[list[str]], columns: list[str]) -> DataFrame:
    """One row per record and rule whose key fields the record all has: ``columns``, ``rule``, ``key``.

    All rules are then blocked by one join (or one group-by) on (``rule``, ``key``).
    """
    entries = [
        F.when(
            reduce(lambda a, b: a & b, [F.col(k).isNotNull() for k in keys]),
            F.struct(F.lit(r).alias("rule"), F.array(*[F.col(k) for k in keys]).alias("key")),
        )
        for r, keys in enumerate(all_keys)
    ]
    exploded = frame.select(*columns, F.explode(F.array(*entries)).alias("_entry"))
    return exploded.where(F.col("_entry").isNotNull()).select(*columns, "_entry.rule", "_entry.key")


def block_stats(
    frame: DataFrame, all_keys: list[list[str]], *, link_type: str, top: int = 5
) -> list[tuple[int, list[tuple[tuple, int]]]]:
    """Per rule, its pairs from block sizes and its largest blocks as (key values, records)."""
    keyed = _keyed(frame, all_keys, ["_src"])
    if link_type == "link":
        per_source = keyed.groupBy("rule", "key", "_src").agg(F.count(F.lit(1)).alias("n"))
        blocks = per_source.groupBy("rule", "key").agg(F.sum("n").alias("size"), F.sum(F.col("n") * F.col("n")).alias("same"))
        pairs = F.expr("(size * size - same) div 2")
    else:
        blocks = keyed.groupBy("rule", "key").agg(F.count(F.lit(1)).alias("size"))
        pairs = F.expr("size * (size - 1) div 2")
    blocks = materialise(blocks.select("rule", "key", F.col("size").cast("long"), pairs.cast("long").alias("pairs")))
    totals = dict(blocks.groupBy("rule").agg(F.sum("pairs")).collect())
    # Largest first, ties by key, as the DuckDB engine orders them.
    rank = F.row_number().over(Window.partitionBy("rule").orderBy(F.col("pairs").desc(), F.col("key")))
    largest = blocks.where(F.col("pairs") > 0).withColumn("rank", rank).where(F.col("rank") <= int(top))
    found: dict[int, list] = {r: [] for r in range(len(all_keys))}
    for row in largest.orderBy("rule", "rank").collect():
        found[row["rule"]].append((tuple(row["key"]), int(row["size"])))
    release(blocks)
    return [(int(totals.get(r) or 0), found[r]) for r in range(len(all_keys))]


def _holds(keys: list[str]) -> Column:
    """Whether a rule holds for a pair: every key equal and present (never null)."""
    return F.coalesce(reduce(lambda a, b: a & b, [F.col(f"l{k}") == F.col(f"r{k}") for k in keys]), F.lit(False))


def _mask(all_keys: list[list[str]]) -> Column:
    bits = [F.when(_holds(keys), F.lit(1 << r)).otherwise(F.lit(0)) for r, keys in enumerate(all_keys)]
    return reduce(lambda a, b: a.bitwiseOR(b), bits).cast("long").alias("mask")


def candidate_pairs(
    frame: DataFrame, all_keys: list[list[str]], *, link_type: str, single_keys: list[str] | None = None
) -> DataFrame:
    """Each candidate pair once, made by the first rule that holds for it: (``idx_l``, ``idx_r``,
    ``mask``, ``rule``), from one equi-join of the records on (rule, key).

    With ``single_keys`` (standardised key columns, each a key of some rule) a
    ``key_mask`` follows: bit ``k`` set when key ``k`` agrees on the pair, as
    the blocking recall estimate (:func:`linkwise.estimate.blocking_recall`) reads it.
    """
    columns = sorted({k for keys in all_keys for k in keys})
    side = _keyed(frame, all_keys, ["_idx", "_src", *columns])
    left = side.select(*[F.col(c).alias(f"l{c}") for c in side.columns])
    right = side.select(*[F.col(c).alias(f"r{c}") for c in side.columns])
    pairs = left.join(right, [left["lrule"] == right["rrule"], left["lkey"] == right["rkey"]])
    pairs = pairs.where(F.col("l_idx") < F.col("r_idx"))
    if link_type == "link":
        pairs = pairs.where(F.col("l_src") != F.col("r_src"))
    for earlier, keys in enumerate(all_keys[:-1]):
        # Made by an earlier rule already: only that rule's join keeps it.
        pairs = pairs.where((F.col("lrule") <= F.lit(earlier)) | ~_holds(keys))
    extra = [_mask([[key] for key in single_keys]).alias("key_mask")] if single_keys else []
    return pairs.select(
        F.col("l_idx").alias("idx_l"), F.col("r_idx").alias("idx_r"), _mask(all_keys), F.col("lrule").alias("rule"), *extra
    )


def pairs_made_by(pairs: DataFrame, n_rules: int) -> list[int]:
    """How many of the candidate pairs each rule makes (the pairs it adds beyond earlier rules)."""
    counts = dict(pairs.groupBy("rule").count().collect())
    return [int(counts.get(r, 0)) for r in range(n_rules)]


# -- compare --------------------------------------------------------------------
@dataclass(frozen=True)
class _CompareJob:
    """What a compare task needs: the comparisons, their columns, and the columns passed through."""

    comparisons: tuple[Comparison, ...]
    columns: tuple[tuple[str, ...], ...]
    passthrough: tuple[str, ...]
    batch_rows: int


def _chunks(batches, rows: int):
    """Arrow batches gathered into tables of at least ``rows`` rows (the kernels work best on many pairs)."""
    gathered, count = [], 0
    for batch in batches:
        gathered.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(gathered)
            gathered, count = [], 0
    if gathered:
        yield pa.Table.from_batches(gathered)


def _compare_partition(batches, job: _CompareJob):
    names = sorted({name for cols in job.columns for name in cols})
    for table in _chunks(batches, job.batch_rows):
        left = {name: table.column(f"l{name}").combine_chunks() for name in names}
        right = {name: table.column(f"r{name}").combine_chunks() for name in names}
        levels = levels_of_batch(job.comparisons, job.columns, left, right)
        arrays = [table.column(name).combine_chunks() for name in job.passthrough]
        arrays += [pa.array(levels[:, c].astype(np.int8)) for c in range(levels.shape[1])]
        names_out = list(job.passthrough) + [level_column(c) for c in range(levels.shape[1])]
        yield pa.RecordBatch.from_arrays(arrays, names=names_out)


def compare(
    pairs: DataFrame,
    records: SparkRecords,
    settings: Settings,
    plan: PreparePlan,
    *,
    batch_rows: int,
    with_details: bool = True,
) -> DataFrame:
    """Each pair's level of each comparison, worked out on batches of pairs in the tasks.

    With ``with_details`` the pairs keep their ids, sources, rule mask and the
    left record's term-frequency counts; otherwise only ``idx_l``, ``idx_r``
    and the levels come out (the u sample).
    """
    frame = records.frame
    columns = tuple(plan.comparison_columns(comp) for comp in settings.comparisons)
    values = sorted({name for cols in columns for name in cols})
    tf = sorted({column for _, _, column, _ in records.term_frequencies})
    details = ["_id", "_src"] if with_details else []
    # The left record brings its term-frequency counts: at an exact level both records share the value.
    left = frame.select(
        F.col("_idx").alias("idx_l"),
        *[F.col(c).alias(f"{c}_l") for c in details],
        *[F.col(c).alias(f"l{c}") for c in values],
        *[F.col(c) for c in (tf if with_details else [])],
    )
    right = frame.select(
        F.col("_idx").alias("idx_r"),
        *[F.col(c).alias(f"{c}_r") for c in details],
        *[F.col(c).alias(f"r{c}") for c in values],
    )
    # Hash joins with the records as the built side: a sort-merge join would sort the wide pair rows twice.
    joined = pairs.join(left.hint("shuffle_hash"), "idx_l").join(right.hint("shuffle_hash"), "idx_r")
    passthrough = ["idx_l", "idx_r"]
    if with_details:
        passthrough += ["mask", "_id_l", "_id_r", "_src_l", "_src_r", *tf]
        passthrough += [name for name in ("key_mask",) if name in pairs.columns]
    fields = [joined.schema[name] for name in passthrough]
    fields += [T.StructField(level_column(c), T.ByteType()) for c in range(len(columns))]
    job = _CompareJob(tuple(settings.comparisons), columns, tuple(passthrough), batch_rows)
    return joined.select(*passthrough, *[f"l{c}" for c in values], *[f"r{c}" for c in values]).mapInArrow(
        partial(_compare_partition, job=job), T.StructType(fields)
    )


def _pairs_partition(batches, pairs):
    left, right = pairs.value
    for batch in batches:
        rows = batch.column(0).to_numpy()
        yield pa.RecordBatch.from_arrays([pa.array(left[rows]), pa.array(right[rows])], names=["idx_l", "idx_r"])


def pairs_frame(spark: SparkSession, left: np.ndarray, right: np.ndarray) -> DataFrame:
    """Record pairs drawn on the driver as a DataFrame: the arrays are broadcast and each
    task takes its slice, which is far quicker than sending rows from Python."""
    pairs = spark.sparkContext.broadcast((np.asarray(left, np.int64), np.asarray(right, np.int64)))
    schema = T.StructType([T.StructField("idx_l", T.LongType(), False), T.StructField("idx_r", T.LongType(), False)])
    slices = max(1, spark.sparkContext.defaultParallelism)
    return spark.range(0, len(left), numPartitions=slices).mapInArrow(partial(_pairs_partition, pairs=pairs), schema)


def level_counts_of_sample(
    spark: SparkSession,
    left: np.ndarray,
    right: np.ndarray,
    records: SparkRecords,
    settings: Settings,
    plan: PreparePlan,
    *,
    batch_rows: int,
) -> list[np.ndarray]:
    """Per comparison, how many of the sampled pairs (record numbers) fall in each level."""
    sample = pairs_frame(spark, left, right)
    levels = compare(sample, records, settings, plan, batch_rows=batch_rows, with_details=False)
    names = [level_column(c) for c in range(len(settings.comparisons))]
    table = levels.groupBy(*names).count().toArrow()
    weights = table.column("count").to_numpy().astype(np.int64)
    return [
        np.bincount(table.column(name).to_numpy().astype(np.int64), weights=weights, minlength=comp.n_levels).astype(np.int64)
        for name, comp in zip(names, settings.comparisons)
    ]


# -- training aggregates --------------------------------------------------------
@dataclass(frozen=True)
class PatternTotals:
    """What training takes from the pairs: distinct patterns, in the order the DuckDB engine
    meets them (by their first pair), pairs per pattern, per pattern and rule mask, and pairs
    made by each rule."""

    patterns: np.ndarray
    counts: np.ndarray
    by_mask: MaskCounts
    made_by: np.ndarray


def pattern_totals(compared: DataFrame, settings: Settings, n_records: int) -> PatternTotals:
    """Pair counts per (pattern, rule mask), with each one's first pair in (left, right) order."""
    names = [level_column(c) for c in range(len(settings.comparisons))]
    first = F.min(F.col("idx_l") * F.lit(int(n_records)) + F.col("idx_r")).alias("first")
    table = compared.groupBy(*names, "mask").agg(F.count(F.lit(1)).alias("pairs"), first).toArrow()
    levels = np.stack([table.column(n).to_numpy().astype(np.uint8) for n in names], axis=1) if len(table) else np.empty((0, len(names)), np.uint8)
    masks = table.column("mask").to_numpy().astype(np.uint64)
    pairs = table.column("pairs").to_numpy().astype(np.int64)
    firsts = table.column("first").to_numpy().astype(np.int64)
    distinct, inverse = np.unique(levels, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    earliest = np.full(len(distinct), np.iinfo(np.int64).max)
    np.minimum.at(earliest, inverse, firsts)
    order = np.argsort(earliest, kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    inverse = position[inverse]
    n_rules = len(settings.blocking_rules)
    # As MaskCounts.of tabulates them: distinct masks in increasing order.
    distinct_masks, mask_index = np.unique(masks, return_inverse=True)
    table = np.zeros((len(order), len(distinct_masks)))
    np.add.at(table, (inverse, mask_index.reshape(-1)), pairs.astype(float))
    made_by = np.bincount(first_rule(masks, n_rules), weights=pairs, minlength=n_rules + 1).astype(np.int64)
    return PatternTotals(
        patterns=distinct[order],
        counts=np.bincount(inverse, weights=pairs, minlength=len(order)).astype(float),
        by_mask=MaskCounts(distinct_masks.astype(np.uint64), table),
        made_by=made_by,
    )


def exact_agreement(frame: DataFrame, columns: list[str], *, link_type: str) -> list[tuple[float, float]]:
    """Per column, (pairs of records agreeing exactly on it, pairs of records both holding a value):
    the sums of :func:`linkwise.train.exact_u_from_frequencies`, from value counts in Spark."""
    if not columns:
        return []
    # One row per record and column it has a value in, so that one group-by counts every column's values.
    entries = F.array(*[F.struct(F.lit(c).alias("c"), F.col(column).alias("value")) for c, column in enumerate(columns)])
    values = frame.select("_src", F.explode(entries).alias("_entry")).where(F.col("_entry.value").isNotNull())
    per_source = values.groupBy("_entry.c", "_entry.value", "_src").agg(F.count(F.lit(1)).alias("n"))
    per_value = per_source.groupBy("c", "value").agg(F.sum("n").alias("t"), F.sum(F.col("n") * F.col("n")).alias("q"))
    if link_type != "link":
        # One source or pooled sources: pairs agreeing on a value held by t records number t(t - 1)/2.
        sums = dict(
            (r[0], (r[1], r[2]))
            for r in per_value.groupBy("c").agg(F.sum(F.col("t") * (F.col("t") - 1)), F.sum("t")).collect()
        )
        out = []
        for c in range(len(columns)):
            agree2, n = sums.get(c, (0, 0))
            n = float(n or 0)
            out.append((float(agree2 or 0) / 2, n * (n - 1) / 2))
        return out
    agree = dict(per_value.groupBy("c").agg(F.sum(F.expr("(t * t - q) div 2"))).collect())
    totals: dict[int, list[int]] = {c: [] for c in range(len(columns))}
    for c, _, total in per_source.groupBy("c", "_src").agg(F.sum("n")).collect():
        totals[c].append(int(total))
    out = []
    for c in range(len(columns)):
        t = totals[c]
        pairs = (sum(t) ** 2 - sum(x * x for x in t)) // 2
        out.append((float(agree.get(c) or 0), float(pairs)))
    return out


# -- score ------------------------------------------------------------------------
def _score_partition(batches, plan: ScorePlan, levels: list[str], tf: list[str], keep: list[str]):
    for batch in batches:
        matrix = np.stack([batch.column(name).to_numpy() for name in levels], axis=1)
        counts = {name: pc.fill_null(batch.column(name), 0).to_numpy() for name in tf}
        weights = weights_of_batch(plan, matrix, counts)
        arrays = [batch.column(name) for name in keep] + [pa.array(weights), pa.array(probability(weights))]
        yield pa.RecordBatch.from_arrays(arrays, names=keep + ["match_weight", "match_probability"])


def score(compared: DataFrame, plan: ScorePlan, settings: Settings) -> DataFrame:
    """Each pair's match weight and probability, summed on batches of pairs."""
    levels = [level_column(c) for c in range(len(settings.comparisons))]
    tf = sorted({t.column for t in plan.tf})
    keep = ["idx_l", "idx_r", "_id_l", "_id_r", "_src_l", "_src_r", *levels]
    keep += [name for name in ("key_mask",) if name in compared.columns]
    fields = [compared.schema[name] for name in keep]
    fields += [T.StructField("match_weight", T.DoubleType()), T.StructField("match_probability", T.DoubleType())]
    return compared.mapInArrow(partial(_score_partition, plan=plan, levels=levels, tf=tf, keep=keep), T.StructType(fields))


def key_mask_sums(scored: DataFrame, *, threshold: float, sure: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct ``key_mask``: the sums the blocking recall estimate reads.

    The probabilities of the pairs at or above ``threshold``, the probabilities
    of all pairs, and the number of pairs at or above ``sure``.
    """
    p = F.col("match_probability")
    table = (
        scored.groupBy("key_mask")
        .agg(
            F.sum(F.when(p >= F.lit(float(threshold)), p).otherwise(F.lit(0.0))).alias("found"),
            F.sum(p).alias("every"),
            F.sum(F.when(p >= F.lit(float(sure)), F.lit(1.0)).otherwise(F.lit(0.0))).alias("sure"),
        )
        .orderBy("key_mask")
        .toArrow()
    )
    return tuple(table.column(name).to_numpy() for name in ("key_mask", "found", "every", "sure"))
