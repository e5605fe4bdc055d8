"""Prepare: standardise the compared and blocked columns once, and dictionary-encode them.

After this stage a record is a row of small integers: one code per compared
column and one key per blocking rule. Later stages move integers, not strings,
and compute each similarity once per distinct pair of values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from . import kernels
from .ingest import Records
from .settings import BlockingKey, BlockingRule, Comparison, Settings, Standardiser
from .standardise import encode_column, redundant, restandardise


@dataclass
class PreparedComparison:
    """One comparison's values, encoded.

    ``values`` are the distinct standardised values of all the comparison's
    columns (one shared, sorted dictionary, so values can be compared across
    columns); ``codes[i, j]`` is record ``i``'s code in column ``j`` (-1 when
    missing); ``tuple_codes[i]`` numbers record ``i``'s combination of values
    (-1 when all are missing) and ``tuple_columns[t]`` gives the column codes
    of combination ``t``.
    """

    comparison: Comparison
    values: pa.Array
    codes: np.ndarray
    tuple_codes: np.ndarray
    tuple_columns: np.ndarray
    tf_frequencies: dict[int, TermFrequencies] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.comparison.name

    @property
    def n_levels(self) -> int:
        return self.comparison.n_levels

    def for_scoring(self) -> PreparedComparison:
        """Only what scoring needs, the term-frequency counts: the values and the other codes can go."""
        return replace(
            self,
            values=pa.nulls(0, self.values.type),
            codes=self.codes[:0].copy(),
            tuple_codes=self.tuple_codes[:0].copy(),
            tuple_columns=self.tuple_columns[:0].copy(),
        )


@dataclass(frozen=True)
class TermFrequencies:
    """How common each record's value is, for term-frequency adjustment.

    Kept as the value code of each record (often a view of codes already held)
    and a count per distinct value, not as one float per record.
    """

    codes: np.ndarray  # value code per record, -1 when missing
    counts: np.ndarray  # records holding each value
    n_valid: int  # records holding any value

    @classmethod
    def of(cls, codes: np.ndarray) -> TermFrequencies:
        valid = codes >= 0
        counts = np.bincount(codes[valid], minlength=int(codes.max(initial=-1)) + 1)
        return cls(codes, counts, int(valid.sum()))

    def shares(self) -> np.ndarray:
        """Share of the records with a value that hold each value; at least one record's share."""
        n = max(self.n_valid, 1)
        return np.maximum(self.counts / n, 1.0 / n)


def needed_steps(base: tuple[Standardiser, ...], extra: tuple[Standardiser, ...]) -> tuple[Standardiser, ...]:
    """The steps of ``extra`` that still change something after ``base`` (and the extra steps before them)."""
    applied = list(base)
    needed = []
    for step in extra:
        if not redundant(step, applied):
            needed.append(step)
        applied.append(step)
    return tuple(needed)


class _Standardised:
    """Memo of standardised, encoded columns.

    Each column is dictionary-encoded once, in input order, and its codes put
    in record order (moving integers, not strings); its column-level
    standardisers run once on its distinct values; extra steps of a comparison
    or blocking key run on those cleaned distinct values, skipping steps that
    would change nothing.
    """

    def __init__(self, records: Records, settings: Settings) -> None:
        self._records = records
        self._settings = settings
        self._done: dict[tuple[str, tuple[Standardiser, ...]], tuple[np.ndarray, pa.Array]] = {}

    def _base(self, column: str) -> tuple[np.ndarray, pa.Array]:
        steps = self._settings.steps_for(column)
        key = (column, steps)
        if key not in self._done:
            codes, values = encode_column(self._records.table[column])
            self._done[key] = restandardise(codes[self._records.order], values, steps)
        return self._done[key]

    def get(self, column: str, extra: tuple[Standardiser, ...] = ()) -> tuple[np.ndarray, pa.Array]:
        needed = needed_steps(self._settings.steps_for(column), extra)
        base = self._base(column)
        if not needed:
            return base
        key = (column, self._settings.steps_for(column) + tuple(needed))
        if key not in self._done:
            self._done[key] = restandardise(*base, needed)
        return self._done[key]


def _dense_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct rows of a small-int matrix; rows all -1 get -1.

    Returns (row code per record, distinct rows), numbered in sorted order.
    One column numbers its rows already: its codes are returned as they are (a view).
    """
    if codes.shape[1] == 1:
        n_values = int(codes.max(initial=-1)) + 1
        return codes[:, 0], np.arange(n_values, dtype=np.int32)[:, None]
    # Fold the columns in one at a time, re-numbering after each so keys never overflow.
    key = codes[:, 0].astype(np.int64) + 1
    for j in range(1, codes.shape[1]):
        key = key * (int(codes[:, j].max(initial=-1)) + 2) + (codes[:, j].astype(np.int64) + 1)
        key = np.unique(key, return_inverse=True)[1].astype(np.int64)
    all_missing = (codes < 0).all(axis=1)
    _, first, inverse = np.unique(key[~all_missing], return_index=True, return_inverse=True)
    row_codes = np.full(len(codes), -1, dtype=np.int64)
    row_codes[~all_missing] = inverse
    columns = codes[~all_missing][first].astype(np.int32)
    return row_codes, columns


def tf_levels(comparison: Comparison) -> list[tuple[int, list[int]]]:
    """The term-frequency adjusted levels: (level index, positions of their columns in the comparison)."""
    out = []
    for index, level in enumerate(comparison.levels, start=1):
        if level.kind == "exact" and level.tf_adjust:
            cols = level.columns or comparison.columns
            out.append((index, [comparison.columns.index(c) for c in cols]))
    return out


def prepare_comparison(comparison: Comparison, standardised: _Standardised) -> PreparedComparison:
    encoded = [standardised.get(col, comparison.standardise) for col in comparison.columns]
    return prepared_from_encoded(comparison, encoded)


def prepared_from_encoded(
    comparison: Comparison, encoded: list[tuple[np.ndarray, pa.Array]], *, frequencies: bool = True
) -> PreparedComparison:
    """A comparison's prepared values from each column's (codes, sorted distinct values).

    ``frequencies=False`` leaves out the term-frequency tables, for rows that
    are not all the records (a batch of pairs, whose levels alone are wanted).
    """
    if len(encoded) == 1:
        # A view of the standardised codes, not a copy (they are int32 already).
        codes, values = encoded[0][0].astype(np.int32, copy=False)[:, None], encoded[0][1]
    else:
        # One shared dictionary across the columns, so that swapped values compare equal.
        all_values = pa.chunked_array([v for _, v in encoded]).combine_chunks().unique()
        import pyarrow.compute as pc

        values = all_values.take(pc.sort_indices(all_values))
        columns = []
        for col_codes, col_values in encoded:
            remap = pc.index_in(col_values, value_set=values).to_numpy(zero_copy_only=False).astype(np.int64)
            columns.append(np.where(col_codes >= 0, np.append(remap, -1)[col_codes], -1))
        codes = np.stack(columns, axis=1).astype(np.int32)
    tuple_codes, tuple_columns = _dense_rows(codes)
    tuple_codes = tuple_codes.astype(np.int32, copy=False)
    prepared = PreparedComparison(comparison, values, codes, tuple_codes, tuple_columns)
    if not frequencies:
        return prepared
    for index, positions in tf_levels(comparison):
        if len(positions) == len(comparison.columns):
            level_codes = tuple_codes
        elif len(positions) == 1:
            level_codes = codes[:, positions[0]]
        else:
            level_codes = _dense_rows(codes[:, positions])[0]
        prepared.tf_frequencies[index] = TermFrequencies.of(level_codes)
    return prepared


def prepare(
    records: Records, settings: Settings, *, threads: int | None = None, extra_keys: Sequence[BlockingKey] = ()
) -> tuple[list[PreparedComparison], np.ndarray]:
    """Encode every comparison and every blocking rule's key.

    Returns the prepared comparisons and an int32 array of shape
    (rules, records): the block key of each record under each rule, -1 when a
    key field is missing. With ``extra_keys``, one more row follows for each
    of them (a single key's code per record), as a rule of that key alone.
    """
    standardised = _Standardised(records, settings)
    # Standardise every needed column in parallel threads (Arrow compute releases
    # the GIL); the stages below then find them in the memo.
    wanted = {(col, comp.standardise) for comp in settings.comparisons for col in comp.columns}
    rules = [*settings.blocking_rules, *(BlockingRule((key,)) for key in extra_keys)]
    wanted |= {(k.column, k.standardise) for rule in rules for k in rule.keys}
    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        list(pool.map(standardised._base, sorted({col for col, _ in wanted})))
        list(pool.map(lambda item: standardised.get(*item), sorted(wanted, key=lambda item: (item[0], str(item[1])))))
    comparisons = [prepare_comparison(c, standardised) for c in settings.comparisons]
    keys = np.empty((len(rules), records.n), dtype=np.int32)
    for r, rule in enumerate(rules):
        encoded = [standardised.get(k.column, k.standardise) for k in rule.keys]
        keys[r] = _narrow(_block_key(np.stack([codes for codes, _ in encoded], axis=1), [len(v) for _, v in encoded]))
    return comparisons, keys


def _block_key(parts: np.ndarray, sizes: list[int]) -> np.ndarray:
    """One int64 key per record from the codes of a rule's columns; -1 if any is missing.

    Keys need only be equal exactly when all parts are equal, so a mixed-radix
    number does when it fits in 62 bits; otherwise the rows are numbered.
    """
    any_missing = (parts < 0).any(axis=1)
    if float(np.prod([max(s, 1) for s in sizes], dtype=float)) < 2.0**62:
        key = np.zeros(len(parts), dtype=np.int64)
        for j, size in enumerate(sizes):
            key *= max(size, 1)
            key += parts[:, j]
    else:
        key = _dense_rows(parts)[0].astype(np.int64, copy=False)
    key[any_missing] = -1
    return key


def _narrow(key: np.ndarray) -> np.ndarray:
    """The same block keys as int32, in the same order (-1 stays -1): half the memory of blocking.

    Keys past the int32 range are numbered in sorted order, so that the order
    of keys (which breaks ties among the largest blocks) is kept.
    """
    if int(key.max(initial=-1)) < np.iinfo(np.int32).max:
        return key.astype(np.int32)
    # Hashed to the distinct keys (fewer than the records), which alone are sorted.
    distinct, inverse = kernels.unique_first_seen(key)
    rank = np.empty(len(distinct), dtype=np.int32)
    rank[np.argsort(distinct)] = np.arange(len(distinct), dtype=np.int32)
    if (distinct < 0).any():
        rank -= 1  # -1, the smallest key, stays -1
    return rank[inverse]
