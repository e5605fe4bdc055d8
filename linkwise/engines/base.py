"""The engine protocol: the relational work that differs between DuckDB and Spark.

Everything else (standardising, comparing, training, scoring) is engine-neutral
numpy over Arrow data. An engine reads inputs, counts blocks, and enumerates
candidate pairs. Record keys are handed to it as an Arrow table with columns
``idx`` (int32 record index), ``src`` (int16 source code) and ``k0``, ``k1``,
... (int64 blocking key of each rule, null when a key field is missing).
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


def get_engine(engine: str | Engine | None = None, **options: object) -> Engine:
    """Return an engine instance from a name (``"duckdb"``) or pass one through."""
    if engine is None or engine == "duckdb":
        from .duckdb import DuckDBEngine

        return DuckDBEngine(**options)  # type: ignore[arg-type]
    if isinstance(engine, str):
        from ..errors import SettingsError, did_you_mean

        known = ["duckdb"]
        raise SettingsError(
            f"setting 'engine': unknown engine '{engine}'; allowed: {', '.join(known)}.{did_you_mean(engine, known)}"
        )
    return engine
