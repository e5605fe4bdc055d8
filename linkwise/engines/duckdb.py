"""The DuckDB engine: embedded, the default on one machine.

User column names never appear in SQL here: inputs are read whole, and
blocking works on an Arrow table of integer keys with internal column names
(``idx``, ``src``, ``k0``...). Paths and other values are bound as parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from .base import BlockStats

_CROSS_SOURCE = {"dedupe": "", "link": " AND l.src <> r.src", "link_and_dedupe": ""}


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
            config["temp_directory"] = str(temp_directory)
        try:
            self._con = duckdb.connect(config=config)
        except duckdb.Error as exc:
            raise InputError(f"DuckDB cannot start with these options ({config}): {exc}") from None
        # id(table) -> (view name, table); holding the table keeps its id from being reused
        self._registered: dict[int, tuple[str, pa.Table]] = {}

    # -- reading ------------------------------------------------------------
    def read(self, path: str | list[str], *, file_format: str, encoding: str | None = None) -> pa.Table:
        if file_format == "parquet" and isinstance(path, str):
            # One Parquet file: Arrow's multithreaded reader is the fastest way into Arrow.
            return pq.read_table(path)
        if file_format == "parquet":
            sql = "SELECT * FROM read_parquet($path, union_by_name = true)"
            params: dict[str, object] = {"path": path}
        else:
            sql = (
                "SELECT * FROM read_csv($path, all_varchar = true, header = true, union_by_name = true,"
                " encoding = $encoding, max_line_size = 64000000, strict_mode = false, null_padding = true)"
            )
            params = {"path": path, "encoding": encoding or "utf-8"}
        return self._con.sql(sql, params=params).to_arrow_table()

    # -- blocking -----------------------------------------------------------
    def _keys(self, keys: pa.Table) -> str:
        entry = self._registered.get(id(keys))
        if entry is None:
            entry = (f"linkwise_keys_{len(self._registered)}", keys)
            self._con.register(entry[0], keys)
            self._registered[id(keys)] = entry
        return entry[0]

    def block_stats(self, keys: pa.Table, rule: int, *, link_type: str, top: int = 5) -> BlockStats:
        table, k = self._keys(keys), f"k{int(rule)}"
        if link_type == "link":
            sql = f"""
                WITH per_source AS (
                    SELECT {k} AS key, src, count(*) AS n FROM {table} WHERE {k} IS NOT NULL GROUP BY ALL),
                blocks AS (
                    SELECT key, sum(n) AS n, (sum(n) * sum(n) - sum(n * n)) // 2 AS pairs
                    FROM per_source GROUP BY key)
                SELECT key, n, pairs FROM blocks ORDER BY pairs DESC, key LIMIT {int(top)}"""
            total_sql = f"""
                WITH per_source AS (
                    SELECT {k} AS key, src, count(*) AS n FROM {table} WHERE {k} IS NOT NULL GROUP BY ALL)
                SELECT coalesce(sum(pairs), 0) FROM (
                    SELECT (sum(n) * sum(n) - sum(n * n)) // 2 AS pairs FROM per_source GROUP BY key)"""
        else:
            sql = f"""
                SELECT {k} AS key, count(*) AS n, count(*) * (count(*) - 1) // 2 AS pairs
                FROM {table} WHERE {k} IS NOT NULL GROUP BY {k} ORDER BY pairs DESC, key LIMIT {int(top)}"""
            total_sql = f"""
                SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM (
                    SELECT count(*)::HUGEINT AS n FROM {table} WHERE {k} IS NOT NULL GROUP BY {k})"""
        total = int(self._con.sql(total_sql).fetchall()[0][0])
        largest = tuple((int(key), int(n)) for key, n, _ in self._con.sql(sql).fetchall())
        return BlockStats(pairs=total, largest_blocks=largest)

    def _rule_sql(self, table: str, rule: int, link_type: str, select: str) -> str:
        k = f"k{int(rule)}"
        earlier = " OR ".join(f"coalesce(l.k{j} = r.k{j}, false)" for j in range(rule))
        exclude = f" AND NOT ({earlier})" if earlier else ""
        return (
            f"SELECT {select} FROM {table} l JOIN {table} r ON l.{k} = r.{k} AND l.idx < r.idx"
            f"{_CROSS_SOURCE[link_type]}{exclude}"
        )

    def marginal_pairs(self, keys: pa.Table, rule: int, *, link_type: str) -> int:
        sql = self._rule_sql(self._keys(keys), rule, link_type, "count(*)")
        return int(self._con.sql(sql).fetchall()[0][0])

    def candidate_pairs(self, keys: pa.Table, *, link_type: str, batch_rows: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        table = self._keys(keys)
        n_rules = sum(1 for name in keys.column_names if name.startswith("k"))
        select = "l.idx AS idx_l, r.idx AS idx_r"
        sql = " UNION ALL ".join(self._rule_sql(table, j, link_type, select) for j in range(n_rules))
        reader = self._con.sql(sql).to_arrow_reader(batch_rows)
        yield from reader

    def close(self) -> None:
        for name, _ in self._registered.values():
            try:
                self._con.unregister(name)
            except duckdb.Error:
                pass
        self._registered.clear()
        self._con.close()

