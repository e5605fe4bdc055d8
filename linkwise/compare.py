"""Compare: the comparison level of each pair, one small integer per comparison.

Level codes: ``0`` is the null level (a value missing), ``1..L`` the declared
levels in order (strongest first), ``L+1`` the *else* level. Each similarity is
computed once per distinct pair of values, and only for pairs that a stronger
level has not already claimed. All kernels are symmetric: the level of (a, b)
is the level of (b, a).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from . import kernels

from .prepare import PreparedComparison
from .settings import Level

_SIMILARITY = {"jaro_winkler": kernels.jaro_winkler, "jaro": kernels.jaro}
_DISTANCE = {"levenshtein": kernels.levenshtein, "damerau_levenshtein": kernels.damerau_levenshtein}


def dense_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hash-based ``np.unique``: (distinct keys, index of each key among them, int32).

    Order of the distinct keys is first appearance, which is deterministic for a
    given input. Much faster than sorting for tens of millions of keys.
    """
    return kernels.unique_first_seen(np.ascontiguousarray(keys, dtype=np.int64))


class ComparisonKernel:
    """Evaluates one comparison's levels on pairs of records."""

    def __init__(self, prepared: PreparedComparison) -> None:
        self.prepared = prepared
        self.levels: tuple[Level, ...] = prepared.comparison.levels
        self.else_level = len(self.levels) + 1
        self._cache: dict[tuple, object] = {}
        self._batch_scores: dict[tuple[str, int], np.ndarray] = {}
        self._batch_size = 0
        columns = prepared.comparison.columns
        self._positions = [
            [columns.index(c) for c in (lv.columns or columns)] for lv in self.levels
        ]

    # -- per-value derived data, computed on first use -----------------------
    def _memo(self, key: tuple, build: Callable[[], object]) -> object:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _codepoints(self) -> tuple[np.ndarray, np.ndarray]:
        return self._memo(("codepoints",), lambda: kernels.encode_codepoints(self.prepared.values))  # type: ignore[return-value]

    def _dates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        def build():
            parsed = pc.strptime(self.prepared.values, format="%Y-%m-%d", unit="s", error_is_null=True)
            days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32()).to_numpy(zero_copy_only=False)
            year = pc.year(parsed).to_numpy(zero_copy_only=False)
            month = pc.month(parsed).to_numpy(zero_copy_only=False)
            day = pc.day(parsed).to_numpy(zero_copy_only=False)
            return tuple(np.asarray(a, dtype=float) for a in (days, year, month, day))

        return self._memo(("dates",), build)  # type: ignore[return-value]

    def _numbers(self) -> np.ndarray:
        def build():
            out = np.full(len(self.prepared.values), np.nan)
            for i, v in enumerate(self.prepared.values.to_pylist()):
                try:
                    out[i] = float(v.replace(",", ""))
                except (ValueError, AttributeError):
                    pass
            return out

        return self._memo(("numbers",), build)  # type: ignore[return-value]

    def _tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct tokens of each value, sorted: CSR ``offsets`` and token ids."""

        def build():
            split = pc.utf8_split_whitespace(self.prepared.values)
            flat = pc.list_flatten(split)
            owner = pc.list_parent_indices(split).to_numpy().astype(np.int64)
            token_ids = pc.dictionary_encode(flat).indices.to_numpy().astype(np.int64)
            n_tokens = max(int(token_ids.max(initial=-1)) + 1, 1)
            # Each token once per value, sorted within the value.
            key = np.sort(owner * n_tokens + token_ids)
            key = key[np.concatenate([[True], key[1:] != key[:-1]])] if len(key) else key
            counts = np.bincount(key // n_tokens, minlength=len(self.prepared.values))
            offsets = np.zeros(len(counts) + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            return offsets, key % n_tokens

        return self._memo(("tokens",), build)  # type: ignore[return-value]

    def _jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Jaccard similarity of the token sets of values ``a`` and ``b``."""
        return kernels.token_jaccard(*self._tokens(), a, b)

    def _prefix_codes(self, length: int) -> np.ndarray:
        def build():
            prefixes = pc.utf8_slice_codeunits(self.prepared.values, start=0, stop=length)
            return pc.dictionary_encode(prefixes).indices.to_numpy()

        return self._memo(("prefix", length), build)  # type: ignore[return-value]

    def _string_kernel(self, kind: str, cutoff: int | None = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        if kind == "jaccard":
            return self._jaccard
        offsets, codepoints = self._codepoints()
        if kind in _SIMILARITY:
            similarity = _SIMILARITY[kind]
            return lambda x, y: similarity(offsets, codepoints, x, y)
        distance = _DISTANCE[kind]
        return lambda x, y: distance(offsets, codepoints, x, y, cutoff)

    def _scores(self, kind: str, a: np.ndarray, b: np.ndarray, slot: tuple[int, np.ndarray]) -> np.ndarray:
        """Similarity in [0, 1] of value pairs; equal values score 1 without computing.

        ``slot`` is (column, rows of the current batch of value pairs): scores
        are kept per batch row, so levels that share a metric at different
        thresholds compute it once.
        """
        column, rows = slot
        memo = self._batch_scores.get((kind, column))
        if memo is None:
            memo = self._batch_scores[(kind, column)] = np.full(self._batch_size, np.nan)
        known = memo[rows]
        missing = np.flatnonzero(np.isnan(known) & (a != b))
        if len(missing):
            fresh = self._string_kernel(kind)(a[missing], b[missing])
            known[missing] = fresh
            memo[rows[missing]] = fresh
        known[a == b] = 1.0
        return known

    # -- predicates on column codes (both valid) ------------------------------
    def _predicate(self, level: Level, a: np.ndarray, b: np.ndarray, slot: tuple[int, np.ndarray]) -> np.ndarray:
        kind = level.kind
        if kind == "exact":
            return a == b
        if kind in _SIMILARITY:
            return self._scores(kind, a, b, slot) >= level.threshold - 1e-12
        if kind in _DISTANCE:
            cutoff = int(level.max)  # type: ignore[arg-type]
            out = a == b
            todo = np.flatnonzero(~out)
            if len(todo):
                out[todo] = self._string_kernel(kind, cutoff)(a[todo], b[todo]) <= cutoff
            return out
        if kind == "jaccard":
            return self._scores("jaccard", a, b, slot) >= level.threshold - 1e-12
        if kind in ("date_diff", "date_swap"):
            days, year, month, day = self._dates()
            if kind == "date_swap":
                return (year[a] == year[b]) & (month[a] == day[b]) & (day[a] == month[b]) & (month[a] != month[b])
            if (level.unit or "days") == "days":
                return np.abs(days[a] - days[b]) <= level.max + 1e-9
            # Calendar months: the later date is at most N months after the earlier one.
            later_first = days[a] >= days[b]
            hi, lo = np.where(later_first, a, b), np.where(later_first, b, a)
            months = (year[hi] - year[lo]) * 12 + (month[hi] - month[lo])
            limit = level.max * (12 if level.unit == "years" else 1)
            return (months < limit) | ((months <= limit) & (day[hi] <= day[lo]))
        if kind in ("abs_diff", "rel_diff"):
            numbers = self._numbers()
            x, y = numbers[a], numbers[b]
            with np.errstate(invalid="ignore", divide="ignore"):
                diff = np.abs(x - y)
                if kind == "rel_diff":
                    diff = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(x), np.abs(y)))
            return diff <= level.max + 1e-12
        if kind == "prefix":
            prefix = self._prefix_codes(int(level.length))  # type: ignore[arg-type]
            return prefix[a] == prefix[b]
        raise AssertionError(f"no kernel for level type {kind}")

    # -- levels ---------------------------------------------------------------
    def levels_of_tuples(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Levels for pairs of value combinations (tuple codes, both >= 0; repeats allowed)."""
        if self.prepared.tuple_columns.shape[1] == 1:
            return self._levels_of_values(a, b)
        cols_a = self.prepared.tuple_columns[a]
        cols_b = self.prepared.tuple_columns[b]
        valid = (cols_a >= 0) & (cols_b >= 0)
        out = np.full(len(a), self.else_level, dtype=np.uint8)
        out[~valid.any(axis=1)] = 0
        todo = np.flatnonzero(valid.any(axis=1))
        self._batch_scores: dict[tuple[str, int], np.ndarray] = {}
        self._batch_size = len(a)
        for index, (level, positions) in enumerate(zip(self.levels, self._positions), start=1):
            if not len(todo):
                break
            holds = np.ones(len(todo), dtype=bool)
            if level.kind == "swapped":
                x0, x1 = cols_a[todo, 0], cols_a[todo, 1]
                y0, y1 = cols_b[todo, 0], cols_b[todo, 1]
                holds = (x0 >= 0) & (x1 >= 0) & (y0 >= 0) & (y1 >= 0) & (x0 == y1) & (x1 == y0)
            else:
                for j in positions:
                    sub = np.flatnonzero(holds)
                    ok = valid[todo[sub], j]
                    result = np.zeros(len(sub), dtype=bool)
                    if ok.any():
                        rows = todo[sub[ok]]
                        result[ok] = self._predicate(level, cols_a[rows, j], cols_b[rows, j], (j, rows))
                    holds[sub] = result
            out[todo[holds]] = index
            todo = todo[~holds]
        self._batch_scores = {}
        return out

    def _levels_of_values(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """:meth:`levels_of_tuples` for a one-column comparison: codes are values, all present."""
        out = np.full(len(a), self.else_level, dtype=np.uint8)
        todo = np.arange(len(a), dtype=np.int32)
        self._batch_scores = {}
        self._batch_size = len(a)
        for index, level in enumerate(self.levels, start=1):
            if not len(todo):
                break
            holds = self._predicate(level, a[todo], b[todo], (0, todo))
            out[todo[holds]] = index
            todo = todo[~holds]
        self._batch_scores = {}
        return out

    def levels_of_pairs(
        self,
        left: np.ndarray,
        right: np.ndarray,
        *,
        batch: int | None = None,
        out: np.ndarray | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Levels for record pairs, each computed once per distinct pair of values.

        Pairs that hold the same value take that value's level (found once per
        value); the other pairs are hashed to their distinct unordered pairs of
        values, and the levels are worked out on those alone. With ``batch``,
        the pairs are taken that many at a time (bounding the temporaries) and
        a value pair met in an earlier batch is not worked out again.
        ``progress`` is told how many pairs each batch held.
        """
        out = np.empty(len(left), dtype=np.uint8) if out is None else out
        seen = SeenValuePairs(len(self.prepared.tuple_columns), cache_entries(len(left) if batch else 0))
        step = max(batch or len(left), 1)
        for start in range(0, len(left), step):
            part = slice(start, start + step)
            out[part] = self._levels_of_batch(left[part], right[part], seen)
            if progress is not None:
                progress(len(out[part]))
        return out

    def _levels_of_batch(self, left: np.ndarray, right: np.ndarray, seen: SeenValuePairs) -> np.ndarray:
        equal_at, equal_value, differ_at, differ_key = kernels.split_pairs(self.prepared.tuple_codes, left, right, seen.width)
        out = np.zeros(len(left), dtype=np.uint8)
        if len(equal_at):
            unknown = np.unique(equal_value[~seen.value_known[equal_value]])
            if len(unknown):
                seen.value_level[unknown] = self.levels_of_tuples(unknown, unknown)
                seen.value_known[unknown] = True
            out[equal_at] = seen.value_level[equal_value]
        del equal_at, equal_value
        if len(differ_at):
            distinct, inverse = dense_codes(differ_key)
            del differ_key
            levels = np.empty(len(distinct), dtype=np.uint8)
            new = np.flatnonzero(~seen.get(distinct, levels))
            if len(new):
                fresh = distinct[new]
                levels[new] = self.levels_of_tuples((fresh // seen.width).astype(np.int32), (fresh % seen.width).astype(np.int32))
                seen.put(fresh, levels[new])
            out[differ_at] = levels[inverse]
        return out


# A comparison's cache of value pairs met in earlier batches: 9 bytes an entry
# (9.4 MB). Measured at 1M records (125k-pair batches, address: 2.74M value
# pairs worked out without the cache, 1.41M distinct): 1.79M with it; twice the
# entries saved little more, a quarter of them half the gain.
CACHE_ENTRIES = 1 << 20


def cache_entries(n_pairs: int) -> int:
    """Entries of a comparison's cache of value pairs for ``n_pairs`` pairs taken in batches (a power of two)."""
    entries = 1
    while entries < min(n_pairs, CACHE_ENTRIES):
        entries *= 2
    return entries


class SeenValuePairs:
    """The levels of one comparison's value pairs met in earlier batches of its pairs.

    Values compared with themselves: a level per value. Different values: a
    direct-mapped cache of ``entries`` unordered pairs (``lo * width + hi``)
    and their levels, a pair taking the place of any other; its memory is
    fixed, and it holds most pairs met again in later batches.
    """

    def __init__(self, n_values: int, entries: int) -> None:
        self.width = max(n_values, 1)
        self.value_level = np.zeros(n_values, dtype=np.uint8)
        self.value_known = np.zeros(n_values, dtype=bool)
        self.keys = np.full(entries, -1, dtype=np.int64)
        self.levels = np.zeros(entries, dtype=np.uint8)

    def get(self, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Put the levels of the pairs held into ``out``; return which were held."""
        return kernels.cache_get(keys, self.keys, self.levels, out)

    def put(self, keys: np.ndarray, levels: np.ndarray) -> None:
        kernels.cache_put(keys, levels, self.keys, self.levels)


def compare_pairs(
    kernels: list[ComparisonKernel],
    left: np.ndarray,
    right: np.ndarray,
    *,
    threads: int | None = None,
    batch: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """A (pairs, comparisons) uint8 matrix of levels; comparisons run in parallel threads.

    Each thread takes one comparison through all the pairs, ``batch`` pairs at
    a time (see :meth:`ComparisonKernel.levels_of_pairs`); ``progress`` is told
    the share of the pairs done, in pairs. The heavy parts (hashing, numpy, the
    compiled kernels) release the GIL.
    """
    out = np.empty((len(left), len(kernels)), dtype=np.uint8)
    share = (lambda n: progress(n / len(kernels))) if progress is not None else None

    def one(c: int) -> None:
        kernels[c].levels_of_pairs(left, right, batch=batch, out=out[:, c], progress=share)

    # Heaviest first, so the threads finish together: the work grows with the
    # levels that need a similarity and with the number of distinct values.
    def cost(c: int) -> int:
        fuzzy = sum(level.kind != "exact" for level in kernels[c].levels)
        return fuzzy * len(kernels[c].prepared.values)

    order = sorted(range(len(kernels)), key=lambda c: (-cost(c), c))
    with ThreadPoolExecutor(max_workers=max(1, min(len(kernels), threads or os.cpu_count() or 1))) as pool:
        list(pool.map(one, order))
    return out


def sample_pairs(
    n_records: int,
    n_pairs: int,
    *,
    seed: int,
    source_codes: np.ndarray | None = None,
    link_type: str = "dedupe",
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct random record pairs (left < right), seeded; cross-source only in link mode.

    Returns all allowed pairs when there are no more than ``n_pairs`` of them.
    """
    rng = np.random.default_rng(seed)
    cross_only = link_type == "link" and source_codes is not None
    if n_records * (n_records - 1) // 2 <= 4 * n_pairs:
        left, right = np.triu_indices(n_records, k=1)
        if cross_only:
            keep = source_codes[left] != source_codes[right]
            left, right = left[keep], right[keep]
        if len(left) > n_pairs:
            chosen = np.sort(rng.choice(len(left), size=n_pairs, replace=False))
            left, right = left[chosen], right[chosen]
        return left.astype(np.int64), right.astype(np.int64)
    if cross_only:
        # In source order each source is a contiguous range of positions; the
        # right record is drawn among the positions of the other sources.
        order = np.argsort(source_codes, kind="stable")
        sizes = np.bincount(source_codes)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    keys = np.empty(0, dtype=np.int64)
    for _ in range(50):
        draw = 2 * (n_pairs - len(keys)) + 16
        a = rng.integers(0, n_records, size=draw)
        if cross_only:
            a = order[a]
            own = source_codes[a]
            b = rng.integers(0, n_records - sizes[own])
            b = order[np.where(b >= starts[own], b + sizes[own], b)]
        else:
            b = rng.integers(0, n_records, size=draw)
        keep = a != b
        a, b = a[keep], b[keep]
        del keep
        # key = min * n + max, made in place: the draws are the larger arrays here.
        lo = np.minimum(a, b)
        np.maximum(a, b, out=b)
        del a
        lo *= n_records
        lo += b
        del b
        keys = np.sort(np.concatenate([keys, lo]))
        del lo
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        if len(keys) >= n_pairs:
            break
    if len(keys) > n_pairs:
        keys = np.sort(rng.choice(keys, size=n_pairs, replace=False))
    return keys // n_records, keys % n_records
