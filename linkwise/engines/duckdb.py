"""The DuckDB engine: embedded, the default on one machine.

DuckDB reads CSV files and sets of Parquet files (paths and options bound as
parameters; user column names never appear in SQL). Blocking is an equi-join
on integer keys, which on one machine is fastest as a sort: each rule's
records are grouped by key once, block sizes give the pair counts, and a
compiled kernel lists each block's pairs, skipping those an earlier rule
already made — no hash tables, and memory only for the pairs themselves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import kernels
from ..errors import SettingsError
from .base import BlockStats



@dataclass(frozen=True)
class _KeyMatrix:
    """The key table as numpy: (rules, records) int64 keys, -1 where missing, and source codes."""

    keys: np.ndarray
    src: np.ndarray

    @classmethod
    def of(cls, table: pa.Table) -> _KeyMatrix:
        names = [name for name in table.column_names if name.startswith("k")]
        keys = np.empty((len(names), table.num_rows), dtype=np.int64)
        for r in range(len(names)):
            keys[r] = pc.fill_null(table.column(f"k{r}"), -1).to_numpy()
        return cls(keys, table.column("src").to_numpy())


@dataclass(frozen=True)
class _Blocks:
    """One rule's blocks of two or more records: members listed block by block."""

    matrix: _KeyMatrix
    members: np.ndarray  # record indices, block by block
    starts: np.ndarray  # block i is members[starts[i]:starts[i+1]]
    block_keys: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, matrix: _KeyMatrix, rule: int) -> _Blocks:
        key = matrix.keys[rule]
        present = np.flatnonzero(key >= 0)
        # Hash the keys to block numbers, then group the records by block number
        # with a counting sort: two linear passes instead of sorting 64-bit keys.
        block_keys, block_of = kernels.unique_first_seen(key[present])
        order = present[kernels.counting_order(block_of, len(block_keys))]
        sizes = np.bincount(block_of, minlength=len(block_keys))
        shared = sizes >= 2
        members = order[np.repeat(shared, sizes)].astype(np.int32)
        starts = np.concatenate([[0], np.cumsum(sizes[shared])]).astype(np.int64)
        return cls(matrix, members, starts, block_keys[shared], sizes[shared])

    def pairs_per_block(self, *, cross_only: bool) -> np.ndarray:
        """Pairs each block makes (only across sources when ``cross_only``)."""
        sizes = self.sizes.astype(np.int64)
        if not cross_only:
            return sizes * (sizes - 1) // 2
        block_of = np.repeat(np.arange(len(sizes)), sizes)
        n_src = int(self.matrix.src.max(initial=0)) + 1
        per_source = np.bincount(block_of * n_src + self.matrix.src[self.members], minlength=len(sizes) * n_src)
        same_source = (per_source.astype(np.int64) ** 2).reshape(len(sizes), n_src).sum(axis=1)
        return (sizes**2 - same_source) // 2

    def pairs(self, rule: int, *, cross_only: bool, count_only: bool) -> tuple[int, np.ndarray, np.ndarray]:
        """The pairs of this rule that no earlier rule makes: (count, smaller records, larger records)."""
        capacity = 0 if count_only else int(self.pairs_per_block(cross_only=cross_only).sum())
        return kernels.block_pairs(
            self.members, self.starts, self.matrix.keys, rule, self.matrix.src, cross_only, count_only, capacity
        )


_OPTION_FLAGS = {"memory_limit": "--memory-limit", "threads": "--threads", "temp_directory": "--temp-dir"}


def _option_error(config: dict[str, object], exc: Exception) -> SettingsError:
    """Name the engine option DuckDB refused, found by trying each alone."""
    import duckdb

    for name, value in config.items():
        try:
            duckdb.connect(config={name: value}).close()
        except duckdb.Error as alone:
            reason = str(alone).splitlines()[0]
            return SettingsError(
                f"engine option '{name}' ({_OPTION_FLAGS.get(name, name)}) = {value!r} is refused by DuckDB: {reason}"
            )
    return SettingsError(f"DuckDB cannot start with the engine options {config}: {str(exc).splitlines()[0]}")


def _check_writable_folder(path: str) -> None:
    """Refuse a spill folder DuckDB could not write to now, not hours later when it first spills."""
    folder = Path(path)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        problem = f"'{existing}' is not a folder"
    elif existing is None or not os.access(existing, os.W_OK | os.X_OK):
        problem = f"'{existing}' cannot be written to"
    else:
        return
    raise SettingsError(
        f"engine option 'temp_directory' (--temp-dir) '{path}': {problem}; choose a folder you can write to"
    )


class DuckDBEngine:
    """Relational work on an embedded DuckDB database.

    Parameters
    ----------
    memory_limit:
        DuckDB's memory limit, e.g. ``"8GB"``; DuckDB spills to disk beyond it.
    threads:
        Number of DuckDB threads (default: all cores).
    temp_directory:
        Where DuckDB spills (default: DuckDB's own choice).
    """

    name = "duckdb"

    def __init__(
        self,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: str | None = None,
    ) -> None:
        config: dict[str, object] = {}
        if memory_limit:
            config["memory_limit"] = str(memory_limit)
        if threads:
            config["threads"] = int(threads)
        if temp_directory:
            _check_writable_folder(str(temp_directory))
            config["temp_directory"] = str(temp_directory)
        self._threads = max(1, int(threads or os.cpu_count() or 1))
        self._config = config
        self._con: Any = None
        if config:  # options are checked at once, not at the first read
            self._connection()
        # id(key table) -> (the table, its keys as numpy, blocks by rule); holding
        # the table keeps its id from being reused
        self._registered: dict[int, tuple[pa.Table, _KeyMatrix, dict[int, _Blocks]]] = {}

    # -- reading ------------------------------------------------------------
    def read(self, path: str | list[str], *, file_format: str, encoding: str | None = None) -> pa.Table:
        if file_format == "parquet" and isinstance(path, str):
            # One Parquet file: Arrow's multithreaded reader is the fastest way into Arrow.
            return pq.read_table(path)
        import duckdb

        try:
            return self._read(path, file_format=file_format, encoding=encoding)
        except duckdb.InterruptException:
            raise KeyboardInterrupt from None  # Ctrl-C while DuckDB reads is Ctrl-C, not an error

    def _read(self, path: str | list[str], *, file_format: str, encoding: str | None) -> pa.Table:
        """Read CSV files, or several Parquet files, with DuckDB."""
        import duckdb

        table = self._read_sniffed(path, file_format=file_format, encoding=encoding)
        if file_format == "csv" and any("," in name for name in table.column_names):
            # The header still holds commas: the sniffer took another character for
            # the delimiter (a ';' of '&#237;' in quoted text). Read again with commas;
            # if that fails too (an unclosed quote), the table read says what is wrong.
            sql = (
                "SELECT * FROM read_csv($path, all_varchar = true, header = true, union_by_name = true,"
                " encoding = $encoding, delim = ',', quote = '\"', escape = '\"', parallel = false)"
            )
            try:
                commas = self._connection().sql(sql, params={"path": path, "encoding": encoding or "utf-8"}).to_arrow_table()
            except duckdb.Error:
                return table
            if not any("," in name for name in commas.column_names):
                return commas
        return table

    def _read_sniffed(self, path: str | list[str], *, file_format: str, encoding: str | None) -> pa.Table:
        """Read CSV files (dialect sniffed by DuckDB), or several Parquet files."""
        import duckdb

        if file_format == "parquet":
            sql = "SELECT * FROM read_parquet($path, union_by_name = true)"
            params: dict[str, object] = {"path": path}
        else:
            # Quotes doubled inside quoted fields, as RFC 4180 writes them (DuckDB's
            # sniffer misses them when strict_mode is off); the delimiter is still sniffed.
            sql = (
                "SELECT * FROM read_csv($path, all_varchar = true, header = true, union_by_name = true,"
                " encoding = $encoding, max_line_size = 64000000, strict_mode = false, null_padding = true,"
                " quote = '\"', escape = '\"', parallel = $parallel)"
            )
            params = {"path": path, "encoding": encoding or "utf-8", "parallel": True}
        connection = self._connection()
        try:
            return connection.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            if file_format == "parquet":
                raise
            if "parallel=false" in str(exc):
                # Quoted fields with line breaks in them cannot be split between threads.
                params["parallel"] = False
                try:
                    return connection.sql(sql, params=params).to_arrow_table()
                except duckdb.Error:
                    pass
            # The lenient options can lead DuckDB's dialect sniffer astray (a ';'
            # in quoted text taken for the delimiter): read again with its defaults,
            # and report the first error if that fails too.
            plain = "SELECT * FROM read_csv($path, all_varchar = true, header = true, union_by_name = true, encoding = $encoding)"
            try:
                return connection.sql(plain, params={"path": path, "encoding": params["encoding"]}).to_arrow_table()
            except duckdb.Error:
                raise exc from None

    def _connection(self) -> Any:
        """DuckDB, started on first use: a run on one Parquet file never needs it."""
        if self._con is None:
            import duckdb

            try:
                self._con = duckdb.connect(config=self._config)
            except duckdb.Error as exc:
                raise _option_error(self._config, exc) from None
        return self._con

    # -- blocking -----------------------------------------------------------
    def _blocks(self, keys: pa.Table, rule: int) -> _Blocks:
        entry = self._registered.get(id(keys))
        if entry is None:
            matrix = _KeyMatrix.of(keys)
            # Every rule's blocks at once, side by side (the kernels release the GIL).
            with ThreadPoolExecutor(max_workers=self._threads) as pool:
                built = pool.map(lambda r: _Blocks.of(matrix, r), range(matrix.keys.shape[0]))
                entry = self._registered[id(keys)] = (keys, matrix, dict(enumerate(built)))
        return entry[2][rule]

    def block_stats(self, keys: pa.Table, rule: int, *, link_type: str, top: int = 5) -> BlockStats:
        blocks = self._blocks(keys, rule)
        pairs = blocks.pairs_per_block(cross_only=link_type == "link")
        # Largest first, ties by key, so the report is the same on every run.
        order = np.lexsort((blocks.block_keys, -pairs))[: int(top)]
        largest = tuple((int(blocks.block_keys[i]), int(blocks.sizes[i])) for i in order if pairs[i] > 0)
        return BlockStats(pairs=int(pairs.sum()), largest_blocks=largest)

    def marginal_pairs(self, keys: pa.Table, rule: int, *, link_type: str) -> int:
        blocks = self._blocks(keys, rule)
        count, _, _ = blocks.pairs(rule, cross_only=link_type == "link", count_only=True)
        return int(count)

    def candidate_pairs(self, keys: pa.Table, *, link_type: str, batch_rows: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        n_rules = sum(1 for name in keys.column_names if name.startswith("k"))
        cross_only = link_type == "link"
        blocks = [self._blocks(keys, rule) for rule in range(n_rules)]
        # Rules list their pairs side by side; they are handed on in rule order.
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            made = [pool.submit(b.pairs, rule, cross_only=cross_only, count_only=False) for rule, b in enumerate(blocks)]
        for rule in range(n_rules):
            _, lows, highs = made[rule].result()
            made[rule] = None  # type: ignore[call-overload]
            for start in range(0, len(lows), batch_rows):
                batch = slice(start, start + batch_rows)
                yield pa.record_batch([pa.array(lows[batch]), pa.array(highs[batch])], names=["idx_l", "idx_r"])
            del lows, highs
        # Making the pairs is the last use of the key table's blocks: free them.
        self._registered.pop(id(keys), None)

    def close(self) -> None:
        self._registered.clear()
        if self._con is not None:
            self._con.close()
            self._con = None

