"""Spark ingest and prepare: read and check the sources, number the records, standardise.

The checks and messages are those of :mod:`linkwise.ingest`; records are
numbered in (source, id) order by a distributed sort, so record ``i`` is the
same record as on the DuckDB engine. Standardising runs the engine-neutral
steps on Arrow batches of records (:func:`linkwise.batches.standardise_batch`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial, reduce
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ..batches import PreparePlan, as_text, standardise_batch, term_frequency_levels
from ..errors import InputError
from ..ingest import GENERATED_ID, _files_of, _normalise_inputs, _used_columns, file_format_of, to_arrow
from ..settings import Settings
from .spark_frames import materialise, release, with_row_numbers

_COMPLEX = (T.ArrayType, T.MapType, T.StructType)


@dataclass(frozen=True)
class SparkRecords:
    """All input records in Spark, numbered 0..n-1 in (source, id) order.

    ``frame`` has ``_idx`` (record number), ``_src`` (source code: position of
    the source among the sorted source names), ``_id`` (the id as given) and,
    after :func:`prepare`, the standardised columns of the
    :class:`~linkwise.batches.PreparePlan` and a term-frequency count per adjusted level.
    """

    frame: DataFrame
    n: int
    source_names: tuple[str, ...]
    source_sizes: np.ndarray
    id_column: str
    generated_ids: bool
    inputs: list[str | None]
    term_frequencies: tuple[tuple[int, int, str, int], ...] = ()  # (comparison, level, count column, records with a value)
    encoding: str | None = None  # of CSV inputs, as given


def is_spark_frame(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and type(data).__module__.startswith("pyspark.")


def _read(spark: SparkSession, data: Any, where: str, encoding: str | None) -> DataFrame:
    """One input as a Spark DataFrame: paths and URIs read by Spark, frames passed on, the rest via Arrow."""
    if is_spark_frame(data):
        return data
    if not isinstance(data, (str, Path)):
        return spark.createDataFrame(to_arrow(data, where=where))
    spec = str(data)
    if "://" in spec:  # a URI (hdfs://, s3a://, file://): Spark lists and checks it
        paths, file_format = [spec], file_format_of(Path(spec.rstrip("/"))) or "parquet"
    else:
        files, file_format = _files_of(spec)
        paths = [f.resolve().as_uri() for f in files]
    try:
        if file_format == "parquet":
            return spark.read.parquet(*paths)
        return spark.read.options(header=True, encoding=encoding or "utf-8", multiLine=True, escape='"').csv(paths)
    except Exception as exc:  # Spark's AnalysisException and friends
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"input '{spec}' cannot be read as {file_format.upper()}: {message}") from None


def _text_partition(batches, columns: list[str]):
    for batch in batches:
        arrays = [as_text(batch.column(name), name) if name in columns else batch.column(name) for name in batch.schema.names]
        yield pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _as_text_columns(frame: DataFrame, columns: list[str]) -> DataFrame:
    """Cast ``columns`` to text with Arrow, as the one-machine reader does (Spark's casts differ, e.g. for floats)."""
    if not columns:
        return frame
    schema = T.StructType(
        [T.StructField(f.name, T.StringType()) if f.name in columns else f for f in frame.schema.fields]
    )
    return frame.mapInArrow(partial(_text_partition, columns=columns), schema)


def _one_input(
    spark: SparkSession, index: int, name: str, data: Any, settings: Settings, encoding: str | None, earlier: list
):
    """One input read, its columns checked and cut to those used (named as the settings name them),
    with ``_source``, ``_input`` (and ``_pos``). ``earlier``: the inputs read before, as
    :func:`linkwise.ingest.load_records` checks them."""
    where = _where(name, data)
    frame = _read(spark, data, where, encoding)
    own = _used_columns(list(frame.columns), settings, where, (), earlier)
    if settings.rename:
        as_named = dict(zip(frame.columns, settings.renamed(frame.columns)))
        frame = frame.select(*[F.col(old).alias(as_named[old]) for old in own])
        keep = list(frame.columns)
    else:
        keep = own
    id_column = settings.unique_id_column
    types = {f.name: f.dataType for f in frame.schema.fields}
    for column in keep:
        if column != id_column and isinstance(types[column], _COMPLEX):
            raise InputError(f"{where}: column '{column}' holds lists or records, not values that can be compared; store it as text")
    text = [c for c in keep if c != id_column and not isinstance(types[c], T.StringType)]
    frame = _as_text_columns(frame.select(*keep), text)
    if settings.source_column and settings.source_column in keep:
        label = F.coalesce(F.col(settings.source_column).cast("string"), F.lit(""))
    else:
        label = F.lit(name)
    frame = frame.withColumn("_source", label).withColumn("_input", F.lit(index))
    if id_column is None:
        # Input order, for numbering the records of each source.
        frame = frame.withColumn("_pos", F.monotonically_increasing_id())
    return frame, keep


def _where(name: str, data: Any) -> str:
    return f"input '{data}'" if isinstance(data, (str, Path)) else f"input '{name}'"


def _census(union: DataFrame, named: list[tuple[str, Any]], id_column: str | None) -> dict[str, int]:
    """Records per source label, after checking that each input has rows and ids (one Spark job)."""
    missing = F.sum(F.col(id_column).isNull().cast("long")) if id_column else F.lit(0).cast("long")
    rows = union.groupBy("_input", "_source").agg(F.count(F.lit(1)).alias("n"), missing.alias("missing")).collect()
    for index, (name, data) in enumerate(named):
        mine = [r for r in rows if r["_input"] == index]
        if not mine:
            raise InputError(f"{_where(name, data)} has a header but no rows")
        missing_ids = sum(int(r["missing"] or 0) for r in mine)
        if missing_ids:
            raise InputError(
                f"{_where(name, data)}: id column '{id_column}' has {missing_ids} empty value(s); every record needs an id"
            )
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[str(r["_source"])] = sizes.get(str(r["_source"]), 0) + int(r["n"])
    return sizes


def load(spark: SparkSession, inputs: Any, settings: Settings, *, encoding: str | None = None) -> SparkRecords:
    """Read, check and number all sources (see :func:`linkwise.ingest.load_records`)."""
    named = _normalise_inputs(inputs)
    id_column = settings.unique_id_column
    frames, kept, earlier = [], [], []
    for index, (name, data) in enumerate(named):
        frame, keep = _one_input(spark, index, name, data, settings, encoding, earlier)
        frames.append(frame)
        kept.append(keep)
    if len(frames) > 1:
        common = set(kept[0]).intersection(*kept[1:])
        if not common - {id_column}:
            raise InputError(
                "the sources share no column; rename columns so that they match, or give a mapping (--map a_col=b_col)"
            )
        id_types = {str(f.schema[id_column].dataType) for f in frames} if id_column else set()
        if len(id_types) > 1:
            frames = [f.withColumn(id_column, F.col(id_column).cast("string")) for f in frames]
    union = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    per_label = _census(union, named, id_column)
    names = sorted(per_label)
    if settings.link_type == "link" and len(names) < 2:
        raise InputError(
            "link needs two or more sources: give two or more inputs, or a 'source_column' that tells the sources apart"
        )
    sizes = np.array([per_label[n] for n in names], dtype=np.int64)
    code_of = F.create_map(*[x for i, n in enumerate(names) for x in (F.lit(n), F.lit(i))])
    union = union.withColumn("_src", code_of[F.col("_source")].cast("int")).drop("_source")
    used = set(settings.required_columns())
    columns = sorted({c for keep in kept for c in keep if c != id_column or c in used})
    generated = id_column is None
    if generated:
        id_column = GENERATED_ID
        while id_column in columns:
            id_column = "_" + id_column
        numbered = with_row_numbers(union, ["_src", "_input", "_pos"], "_idx")
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        first_of = F.create_map(*[x for i, s in enumerate(starts) for x in (F.lit(i), F.lit(int(s)))])
        numbered = numbered.withColumn("_id", F.col("_idx") - first_of[F.col("_src")] + F.lit(1))
    else:
        union = union.withColumn("_id", F.col(id_column))
        where = f"input '{named[0][1]}'" if len(named) == 1 and isinstance(named[0][1], (str, Path)) else "the input"
        _check_ids_unique(union, id_column, where)
        numbered = with_row_numbers(union, ["_src", "_id"], "_idx")
    return SparkRecords(
        # A projection of the sorted rows, which are stored: nothing is computed twice.
        frame=numbered.select("_idx", "_src", "_id", *columns),
        n=int(sizes.sum()),
        source_names=tuple(names),
        source_sizes=sizes,
        id_column=id_column,
        generated_ids=generated,
        inputs=[_describe(data) for _, data in named],
        encoding=encoding,
    )


def _describe(data: Any) -> str | None:
    """An input as the summary names it: a resolved path, a URI, or None for data given in memory."""
    if not isinstance(data, (str, Path)):
        return None
    return str(data) if "://" in str(data) else str(Path(data).resolve())


def _check_ids_unique(frame: DataFrame, column: str, where: str) -> None:
    repeated = frame.groupBy("_src", "_id").count().where(F.col("count") > 1)
    found = repeated.orderBy("_src", "_id").limit(5).collect()
    if found:
        total = repeated.count()
        first = ", ".join(repr(r["_id"]) for r in found)
        raise InputError(
            f"{where}: id column '{column}' is not unique: {total} id(s) occur more than once "
            f"(first: {first}). Give a unique id column, or none to number the records"
        )


def _standardise_partition(batches, plan: PreparePlan, keep: list[str]):
    for batch in batches:
        out = standardise_batch(batch, plan)
        arrays = [batch.column(name) for name in keep] + [out[c.name] for c in plan.columns]
        yield pa.RecordBatch.from_arrays(arrays, names=keep + [c.name for c in plan.columns])


def prepare(records: SparkRecords, settings: Settings, plan: PreparePlan) -> SparkRecords:
    """Standardise the compared and blocked columns, and count each adjusted level's values.

    The frame becomes ``_idx``, ``_src``, ``_id``, the plan's standardised
    columns, and ``_tf<comparison>_<level>``: how many records share the
    record's value of that level's columns (null when it has none).
    """
    keep = ["_idx", "_src", "_id"]
    fields = [records.frame.schema[name] for name in keep]
    schema = T.StructType(fields + [T.StructField(c.name, T.StringType()) for c in plan.columns])
    standardised = records.frame.mapInArrow(partial(_standardise_partition, plan=plan, keep=keep), schema)
    frame = standardised = materialise(standardised)
    release(records.frame)
    frequencies, groups = [], {}
    for c, level, positions in term_frequency_levels(settings):
        names = plan.comparison_columns(settings.comparisons[c])
        columns = tuple(names[p] for p in positions)
        groups.setdefault(columns, f"_tf{c}_{level}")
        frequencies.append((c, level, columns))
    present = {columns: reduce(lambda a, b: a | b, [F.col(x).isNotNull() for x in columns]) for columns in groups}
    valid = frame.agg(*[F.sum(p.cast("long")).alias(groups[cols]) for cols, p in present.items()]).first() if groups else {}
    for columns, count_column in groups.items():
        counts = (
            standardised.where(present[columns])
            .groupBy(*columns)
            .agg(F.count(F.lit(1)).alias(count_column))
            .select(*[F.col(x).alias(f"_k{j}") for j, x in enumerate(columns)], count_column)
        )
        on = reduce(lambda a, b: a & b, [frame[x].eqNullSafe(counts[f"_k{j}"]) for j, x in enumerate(columns)])
        frame = frame.join(counts, on, "left").drop(*[f"_k{j}" for j in range(len(columns))])
    frequencies = [(c, level, groups[columns], int(valid[groups[columns]] or 0)) for c, level, columns in frequencies]
    if frame is not standardised:
        frame = materialise(frame)
        release(standardised)
    return replace(records, frame=frame, term_frequencies=tuple(frequencies))
