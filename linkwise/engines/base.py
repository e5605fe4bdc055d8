"""The engine protocol: the relational work that differs between DuckDB and Spark.

Everything else (standardising, comparing, training, scoring) is engine-neutral
numpy over Arrow data. An engine reads inputs, counts blocks, and enumerates
candidate pairs. Record keys are handed to it as an Arrow table with columns
``idx`` (int32 record index), ``src`` (int16 source code) and ``k0``, ``k1``,
... (int64 blocking key of each rule, null when a key field is missing).

A :class:`DistributedEngine` (Spark) instead runs every stage where the data
lives, on the same engine-neutral code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa


@dataclass(frozen=True)
class BlockStats:
    """Pair counts of one blocking rule, from block sizes alone."""

    pairs: int
    largest_blocks: tuple[tuple[int, int], ...]  # (key code, number of records), largest first


class Engine(Protocol):
    """What an engine must do. See :class:`linkwise.engines.duckdb.DuckDBEngine`."""

    name: str

    def read(self, path: str, *, file_format: str, encoding: str | None = None) -> pa.Table:
        """Read a CSV or Parquet file, glob or folder into Arrow (CSV columns as text)."""
        ...

    def block_stats(self, keys: pa.Table, rule: int, *, link_type: str, top: int = 5) -> BlockStats:
        """Count the pairs rule ``rule`` makes, from block sizes, without making them."""
        ...

    def marginal_pairs(self, keys: pa.Table, rule: int, *, link_type: str) -> int:
        """Count the pairs rule ``rule`` adds beyond rules ``0..rule-1``."""
        ...

    def candidate_pairs(self, keys: pa.Table, *, link_type: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Each candidate pair once, as batches of (``idx_l`` < ``idx_r``) int32 columns."""
        ...

    def close(self) -> None: ...


ENGINES = ("duckdb", "spark")


class DistributedEngine(Protocol):
    """An engine that runs every stage where the data lives (Spark), instead of handing keys
    and pairs to the driver. It reuses the engine-neutral stages on Arrow batches
    (:mod:`linkwise.batches`) and the model code on aggregated counts, so that it gives
    the same results. See :class:`linkwise.engines.spark.SparkEngine`.
    """

    name: str

    def run_pipeline(self, inputs: object, settings: object, *, reporter: object, model_source: tuple, encoding: str | None = None):
        """Run ingest to cluster; return a result with the interface of :class:`linkwise.LinkResult`'s tables and outputs."""
        ...

    def analyse_blocking(self, inputs: object, settings: object, *, encoding: str | None = None) -> list:
        """Each rule's pairs and marginal pairs, as :func:`linkwise.analyse_blocking` reports them."""
        ...

    def close(self) -> None: ...


def get_engine(engine: str | Engine | None = None, **options: object) -> Engine:
    """Return an engine instance from a name (``"duckdb"``, ``"spark"``), or from a Spark
    session, or pass an engine through.

    Engines other than DuckDB are imported only when asked for, so that linkwise
    runs without them installed.
    """
    if engine is None or engine == "duckdb":
        from .duckdb import DuckDBEngine

        return DuckDBEngine(**options)  # type: ignore[arg-type]
    if engine == "spark" or _is_spark_session(engine):
        from .spark import SparkEngine

        session = None if engine == "spark" else engine
        return SparkEngine(session=session, **options)  # type: ignore[arg-type]
    if isinstance(engine, str):
        from ..errors import SettingsError, did_you_mean

        raise SettingsError(
            f"setting 'engine': unknown engine '{engine}'; allowed: {', '.join(ENGINES)}.{did_you_mean(engine, list(ENGINES))}"
        )
    return engine


def _is_spark_session(obj: object) -> bool:
    """A PySpark SparkSession, recognised without importing PySpark."""
    kind = type(obj)
    return kind.__name__ == "SparkSession" and kind.__module__.startswith("pyspark.")
