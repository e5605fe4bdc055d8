"""String similarity kernels, compiled with numba.

The values of a column live once in one flat array of Unicode code points
(``offsets`` into ``codepoints``); a batch of pairs is two arrays of value
indices. No Python string is touched per pair, and the kernels release the
GIL, so comparisons run side by side in threads. Results match rapidfuzz's
definitions (a test checks):

- Jaro and Jaro–Winkler (prefix weight 0.1 on up to 4 characters, applied when
  the Jaro similarity exceeds 0.7);
- Levenshtein distance, and Damerau–Levenshtein distance in its *optimal string
  alignment* form (adjacent transpositions count as one edit), both bounded:
  ``*_within(..., k)`` says whether the distance is at most ``k``.

Long values cost little: a bounded distance looks only at the band of the
table within ``k`` of its diagonal, and Jaro puts the shorter value second,
where its length bounds the work. Jaro compares at most the first
:data:`JARO_MAX_LENGTH` characters of each value, so that two distinct
megabyte-long values (free text pasted into a name field) cannot stall a run.

>>> import pyarrow as pa, numpy as np
>>> offsets, codepoints = encode_codepoints(pa.array(["martha", "marhta"]))
>>> round(float(jaro_winkler(offsets, codepoints, np.array([0]), np.array([1]))[0]), 4)
0.9611
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit

JARO_MAX_LENGTH = 4000
"""Characters of a value that Jaro and Jaro–Winkler look at (the first ones)."""


def utf8_bytes(values: pa.Array | pa.ChunkedArray) -> tuple[pa.LargeStringArray, np.ndarray, np.ndarray]:
    """Arrow text as one large-string array, its byte ``offsets`` (from 0, int64) and ``data`` bytes.

    Views of Arrow's own buffers: no Python string is made. Nulls have no bytes.
    """
    values = values.cast(pa.large_string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    _, offset_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    return values, offsets - offsets[0], data[offsets[0] : offsets[-1]]


def encode_codepoints(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Flat code points of string values: ``offsets`` (n+1, int64) and ``codepoints``.

    Read straight from Arrow's UTF-8 buffer, never through Python strings.
    All-ASCII values keep their bytes (``uint8``, a quarter of the memory);
    otherwise the text is decoded to ``uint32`` code points. Nulls are empty
    strings.
    """
    if isinstance(values, pa.Array) and pa.types.is_string(values.type):
        # Arrow's own bytes, not a large-string copy of them: only the offsets are widened.
        _, offset_buffer, data_buffer = values.buffers()
        narrow = np.frombuffer(offset_buffer, dtype=np.int32)[values.offset : values.offset + len(values) + 1]
        byte_offsets = narrow.astype(np.int64)
        byte_offsets -= byte_offsets[0]
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
        data = data[int(narrow[0]) : int(narrow[-1])]
    else:
        _, byte_offsets, data = utf8_bytes(values)
    if not len(data) or int(data.max()) < 128:
        return byte_offsets, data
    return _decode_utf8(byte_offsets, data)


@njit(cache=True, nogil=True)
def _decode_utf8(byte_offsets, data):  # pragma: no cover - compiled
    """Code points of valid UTF-8 text, with the offsets of each value in characters."""
    n = len(byte_offsets) - 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        chars = 0
        for i in range(byte_offsets[v], byte_offsets[v + 1]):
            if (data[i] & 0xC0) != 0x80:
                chars += 1
        offsets[v + 1] = offsets[v] + chars
    out = np.empty(offsets[n], dtype=np.uint32)
    k = 0
    i = 0
    while i < len(data):
        b = np.uint32(data[i])
        if b < 0x80:
            width, cp = 1, b
        elif b < 0xE0:
            width, cp = 2, b & 0x1F
        elif b < 0xF0:
            width, cp = 3, b & 0x0F
        else:
            width, cp = 4, b & 0x07
        for j in range(1, width):
            cp = (cp << 6) | (np.uint32(data[i + j]) & 0x3F)
        out[k] = cp
        k += 1
        i += width
    return offsets, out


@njit(cache=True, nogil=True)
def _longest(offsets):  # pragma: no cover - compiled
    """Length of the longest value."""
    longest = 0
    for v in range(len(offsets) - 1):
        longest = max(longest, offsets[v + 1] - offsets[v])
    return longest


@njit(cache=True, nogil=True)
def _jaro_counts(cp, s1, n1, s2, n2, window, flags1, flags2):  # pragma: no cover - compiled
    """(matches, transpositions) of two non-empty strings, the second no longer than the
    first: each character of the first takes the first free equal character of the
    second within ``window``."""
    flags1[:n1] = False
    flags2[:n2] = False
    matches = 0
    # Past n2 + window the windows are empty; once every character of the second is
    # taken, none can match: a long value against a short one costs little.
    end = min(n1, n2 + window)
    for i in range(end):
        c = cp[s1 + i]
        for j in range(max(i - window, 0), min(i + window + 1, n2)):
            if not flags2[j] and cp[s2 + j] == c:
                flags1[i] = True
                flags2[j] = True
                matches += 1
                break
        if matches == n2:
            end = i + 1
            break
    transpositions = 0
    k = 0
    for i in range(end):
        if flags1[i]:
            while not flags2[k]:
                k += 1
            if cp[s1 + i] != cp[s2 + k]:
                transpositions += 1
            k += 1
    return matches, transpositions


@njit(cache=True, nogil=True)
def _jaro_counts_bits(cp, s1, n1, s2, n2, window, positions, matched):  # pragma: no cover - compiled
    """:func:`_jaro_counts` with bit sets, for a byte string of at most 64 characters as the second.

    ``positions[c]`` gets the set of places where byte ``c`` occurs in the
    second string; each character of the first takes the first free match in
    its window in one step, as the loop in :func:`_jaro_counts` does one by one.
    ``positions`` is all zeros on entry and on return; ``matched`` (64 long)
    receives the places in the first string that found a match.
    """
    one = np.uint64(1)
    for j in range(n2):
        positions[cp[s2 + j]] |= one << np.uint64(j)
    taken2 = np.uint64(0)
    matches = 0
    for i in range(min(n1, n2 + window)):
        lo = max(i - window, 0)
        hi = min(i + window + 1, n2)
        if lo >= hi:
            continue
        span = (one << np.uint64(hi - lo)) - one if hi - lo < 64 else ~np.uint64(0)
        free = positions[cp[s1 + i]] & (span << np.uint64(lo)) & ~taken2
        if free:
            taken2 |= free & (~free + one)  # the lowest place
            matched[matches] = i
            matches += 1
            if matches == n2:
                break
    for j in range(n2):
        positions[cp[s2 + j]] = 0
    transpositions = 0
    k = 0
    for m in range(matches):
        while not ((taken2 >> np.uint64(k)) & one):
            k += 1
        if cp[s1 + matched[m]] != cp[s2 + k]:
            transpositions += 1
        k += 1
    return matches, transpositions


@njit(cache=True, nogil=True)
def _jaro_pairs(offsets, cp, a, b, winkler, bytes_only):  # pragma: no cover - compiled
    out = np.empty(len(a))
    longest = min(_longest(offsets), JARO_MAX_LENGTH)
    flags1 = np.zeros(longest + 1, np.bool_)
    flags2 = np.zeros(longest + 1, np.bool_)
    positions = np.zeros(256, np.uint64)
    matched = np.zeros(64, np.int64)
    for k in range(len(a)):
        x = a[k]
        y = b[k]
        s1, n1 = offsets[x], min(offsets[x + 1] - offsets[x], JARO_MAX_LENGTH)
        s2, n2 = offsets[y], min(offsets[y + 1] - offsets[y], JARO_MAX_LENGTH)
        if n1 == 0 or n2 == 0:
            out[k] = 1.0 if n1 == n2 else 0.0
            continue
        if n2 > n1:
            # Jaro is symmetric: the shorter value goes second, where its length bounds the work.
            s1, n1, s2, n2 = s2, n2, s1, n1
        window = max(n1 // 2 - 1, 0)
        if bytes_only and n2 <= 64:
            matches, transpositions = _jaro_counts_bits(cp, s1, n1, s2, n2, window, positions, matched)
        else:
            matches, transpositions = _jaro_counts(cp, s1, n1, s2, n2, window, flags1, flags2)
        if matches == 0:
            out[k] = 0.0
            continue
        m = float(matches)
        sim = (m / n1 + m / n2 + (m - transpositions // 2) / m) / 3.0
        if winkler and sim > 0.7:
            prefix = 0
            limit = min(4, n2)
            while prefix < limit and cp[s1 + prefix] == cp[s2 + prefix]:
                prefix += 1
            sim += prefix * 0.1 * (1.0 - sim)
        out[k] = sim
    return out


def jaro_winkler(offsets: np.ndarray, codepoints: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaro–Winkler similarity of values ``a[k]`` and ``b[k]``."""
    return _jaro_pairs(offsets, codepoints, np.asarray(a, np.int64), np.asarray(b, np.int64), True, codepoints.dtype == np.uint8)


def jaro(offsets: np.ndarray, codepoints: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaro similarity of values ``a[k]`` and ``b[k]``."""
    return _jaro_pairs(offsets, codepoints, np.asarray(a, np.int64), np.asarray(b, np.int64), False, codepoints.dtype == np.uint8)


@njit(cache=True, nogil=True)
def _edit_distance_one(cp, s1, n1, s2, n2, limit, transpositions, before, previous, current):  # pragma: no cover
    """Edit distance, or limit + 1 as soon as it must exceed ``limit``.

    Only the band of cells within ``limit`` of the diagonal is worked out (a
    path through any other cell costs more than ``limit``), so two long values
    cost their length times ``limit``. ``before``, ``previous`` and ``current``
    are scratch rows of the dynamic programme (two back, for transpositions),
    at least ``n2 + 2`` long.
    """
    if abs(n1 - n2) > limit:
        return limit + 1
    over = limit + 1  # any cost above the limit
    for j in range(n2 + 2):
        previous[j] = j if j <= limit else over
        before[j] = previous[j]
    for i in range(1, n1 + 1):
        lo = max(1, i - limit)
        hi = min(n2, i + limit)
        current[0] = i if i <= limit else over
        current[lo - 1] = current[0] if lo == 1 else over
        row_min = current[lo - 1]
        ci = cp[s1 + i - 1]
        for j in range(lo, hi + 1):
            cj = cp[s2 + j - 1]
            cost = 0 if ci == cj else 1
            best = previous[j - 1] + cost
            if previous[j] + 1 < best:
                best = previous[j] + 1
            if current[j - 1] + 1 < best:
                best = current[j - 1] + 1
            if transpositions and i > 1 and j > 1 and ci == cp[s2 + j - 2] and cp[s1 + i - 2] == cj:
                if before[j - 2] + 1 < best:
                    best = before[j - 2] + 1
            if best > over:
                best = over
            current[j] = best
            if best < row_min:
                row_min = best
        current[hi + 1] = over  # the next row's band reaches one further
        if row_min > limit:
            return limit + 1
        tmp = before
        before = previous
        previous = current
        current = tmp
    result = previous[n2]
    return result if result <= limit else limit + 1


@njit(cache=True, nogil=True)
def _same(cp, i, j, n):  # pragma: no cover - compiled
    for k in range(n):
        if cp[i + k] != cp[j + k]:
            return False
    return True


@njit(cache=True, nogil=True)
def _within_one(cp, s1, n1, s2, n2, transpositions):  # pragma: no cover - compiled
    """Edit distance when it is 0 or 1, else 2: one linear scan instead of a table."""
    if n1 < n2:
        s1, n1, s2, n2 = s2, n2, s1, n1
    if n1 - n2 > 1:
        return 2
    i = 0
    while i < n2 and cp[s1 + i] == cp[s2 + i]:
        i += 1
    if n1 == n2:
        if i == n1:
            return 0
        if _same(cp, s1 + i + 1, s2 + i + 1, n1 - i - 1):
            return 1  # one substitution
        if (
            transpositions
            and i + 1 < n1
            and cp[s1 + i] == cp[s2 + i + 1]
            and cp[s1 + i + 1] == cp[s2 + i]
            and _same(cp, s1 + i + 2, s2 + i + 2, n1 - i - 2)
        ):
            return 1  # one adjacent transposition
        return 2
    # One character longer: the rest must match once the extra one is skipped.
    return 1 if _same(cp, s1 + i + 1, s2 + i, n2 - i) else 2


@njit(cache=True, nogil=True)
def _distance_pairs(offsets, cp, a, b, limit, transpositions):  # pragma: no cover - compiled
    out = np.empty(len(a), np.int64)
    longest = _longest(offsets)
    before = np.empty(longest + 2, np.int64)
    previous = np.empty(longest + 2, np.int64)
    current = np.empty(longest + 2, np.int64)
    for k in range(len(a)):
        x = a[k]
        y = b[k]
        if limit == 1:
            out[k] = _within_one(cp, offsets[x], offsets[x + 1] - offsets[x], offsets[y], offsets[y + 1] - offsets[y], transpositions)
            continue
        out[k] = _edit_distance_one(
            cp, offsets[x], offsets[x + 1] - offsets[x], offsets[y], offsets[y + 1] - offsets[y], limit, transpositions,
            before, previous, current,
        )
    return out


def levenshtein(offsets: np.ndarray, codepoints: np.ndarray, a: np.ndarray, b: np.ndarray, limit: int) -> np.ndarray:
    """Levenshtein distance of ``a[k]`` and ``b[k]``, or ``limit + 1`` when above ``limit``."""
    return _distance_pairs(offsets, codepoints, np.asarray(a, np.int64), np.asarray(b, np.int64), int(limit), False)


def damerau_levenshtein(offsets: np.ndarray, codepoints: np.ndarray, a: np.ndarray, b: np.ndarray, limit: int) -> np.ndarray:
    """Optimal-string-alignment distance of ``a[k]`` and ``b[k]``, or ``limit + 1`` when above ``limit``."""
    return _distance_pairs(offsets, codepoints, np.asarray(a, np.int64), np.asarray(b, np.int64), int(limit), True)


@njit(cache=True, nogil=True)
def _token_jaccard_pairs(offsets, tokens, a, b):  # pragma: no cover - compiled
    out = np.empty(len(a))
    for k in range(len(a)):
        i, end_i = offsets[a[k]], offsets[a[k] + 1]
        j, end_j = offsets[b[k]], offsets[b[k] + 1]
        union = (end_i - i) + (end_j - j)
        common = 0
        while i < end_i and j < end_j:
            if tokens[i] == tokens[j]:
                common += 1
                i += 1
                j += 1
            elif tokens[i] < tokens[j]:
                i += 1
            else:
                j += 1
        union -= common
        out[k] = common / union if union > 0 else 0.0
    return out


def token_jaccard(offsets: np.ndarray, tokens: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaccard similarity of token sets; value ``v`` has tokens ``tokens[offsets[v]:offsets[v+1]]``, sorted and distinct."""
    return _token_jaccard_pairs(offsets, tokens, np.asarray(a, np.int64), np.asarray(b, np.int64))


@njit(cache=True, nogil=True)
def _mix(key):  # pragma: no cover - compiled
    """A 64-bit finaliser (splitmix64's): spreads structured keys over the table."""
    z = np.uint64(key) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _grow(slots, distinct, count):  # pragma: no cover - compiled
    """Double an open-addressing table (slots hold indices into ``distinct``)."""
    size = len(slots) * 2
    mask = np.uint64(size - 1)
    new_slots = np.full(size, -1, np.int32)
    for s in range(count):
        h = _mix(distinct[s]) & mask
        while new_slots[h] >= 0:
            h = (h + np.uint64(1)) & mask
        new_slots[h] = s
    new_distinct = np.empty(size // 2, np.int64)
    new_distinct[:count] = distinct[:count]
    return new_slots, new_distinct


@njit(cache=True, nogil=True)
def hash_insert(keys, slots, distinct, count, inverse, start):  # pragma: no cover - compiled
    """Add int64 keys to a growing hash table; ``inverse[start + i]`` gets key ``i``'s index.

    The table is (``slots``, ``distinct``, ``count``): distinct keys in order of
    first appearance. Returns the (possibly regrown) table. It holds at most
    half as many keys as slots, so probes stay short; memory follows the number
    of distinct keys, not of keys.
    """
    for i in range(len(keys)):
        if 2 * (count + 1) > len(slots):
            slots, distinct = _grow(slots, distinct, count)
        mask = np.uint64(len(slots) - 1)
        key = keys[i]
        h = _mix(key) & mask
        while True:
            s = slots[h]
            if s < 0:
                slots[h] = count
                distinct[count] = key
                inverse[start + i] = count
                count += 1
                break
            if distinct[s] == key:
                inverse[start + i] = s
                break
            h = (h + np.uint64(1)) & mask
    return slots, distinct, count


@njit(cache=True, nogil=True)
def cache_get(keys, cache_keys, cache_values, out):  # pragma: no cover - compiled
    """Look int64 keys up in a direct-mapped cache (a power-of-two number of entries).

    ``out[i]`` gets key ``i``'s value where the cache holds it; returns which keys it held.
    """
    mask = np.uint64(len(cache_keys) - 1)
    found = np.zeros(len(keys), np.bool_)
    for i in range(len(keys)):
        h = _mix(keys[i]) & mask
        if cache_keys[h] == keys[i]:
            out[i] = cache_values[h]
            found[i] = True
    return found


@njit(cache=True, nogil=True)
def cache_put(keys, values, cache_keys, cache_values):  # pragma: no cover - compiled
    """Put int64 keys and their values in a direct-mapped cache; a key takes its entry from any other."""
    mask = np.uint64(len(cache_keys) - 1)
    for i in range(len(keys)):
        h = _mix(keys[i]) & mask
        cache_keys[h] = keys[i]
        cache_values[h] = values[i]


def new_hash_table(capacity: int = 8) -> tuple[np.ndarray, np.ndarray, int]:
    """An empty table for :func:`hash_insert`, room for ``capacity`` keys before it grows."""
    slots = 16
    while slots < 2 * capacity:
        slots *= 2
    return np.full(slots, -1, np.int32), np.empty(slots // 2, np.int64), 0


def bincount(values: np.ndarray, minlength: int = 0, *, chunk: int = 1 << 20) -> np.ndarray:
    """``np.bincount`` of non-negative small integers, a chunk at a time.

    numpy first converts the whole input to 64-bit integers: 44 MB for five
    million one-byte values. Counted a chunk at a time, the copy is bounded.
    """
    counts = np.zeros(max(minlength, 0), dtype=np.int64)
    for start in range(0, len(values), chunk):
        part = np.bincount(values[start : start + chunk], minlength=len(counts))
        if len(part) > len(counts):
            part[: len(counts)] += counts
            counts = part
        else:
            counts += part
    return counts


@njit(cache=True, nogil=True)
def add_weights(out, index, weights):  # pragma: no cover - compiled
    """``out[index[i]] += weights[i]`` in order: ``np.bincount(index, weights)`` added to ``out``, batch by batch."""
    for i in range(len(index)):
        out[index[i]] += weights[i]


def unique_first_seen(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct int64 keys in order of first appearance, and each key's index among them (int32).

    One pass over a hash table sized for all keys being distinct (never regrown); no sort.
    """
    inverse = np.empty(len(keys), np.int32)
    slots, distinct, count = hash_insert(keys, *new_hash_table(len(keys)), inverse, 0)
    return distinct[:count].copy(), inverse


@njit(cache=True, nogil=True)
def split_pairs(codes, left, right, width):  # pragma: no cover - compiled
    """Sort record pairs by their values' codes: both present and equal, or both present and different.

    Returns (positions of equal pairs, their value), (positions of differing
    pairs, min(value) * width + max(value)); ``width`` exceeds every code.
    Pairs with a missing value are in neither. Positions and values are int32:
    a batch holds fewer than 2**31 pairs.
    """
    n_equal = 0
    n_differ = 0
    for i in range(len(left)):
        x = codes[left[i]]
        y = codes[right[i]]
        if x >= 0 and y >= 0:
            if x == y:
                n_equal += 1
            else:
                n_differ += 1
    equal_at = np.empty(n_equal, np.int32)
    equal_value = np.empty(n_equal, np.int32)
    differ_at = np.empty(n_differ, np.int32)
    differ_key = np.empty(n_differ, np.int64)
    e = 0
    d = 0
    for i in range(len(left)):
        x = np.int64(codes[left[i]])
        y = np.int64(codes[right[i]])
        if x >= 0 and y >= 0:
            if x == y:
                equal_at[e] = i
                equal_value[e] = x
                e += 1
            else:
                differ_at[d] = i
                differ_key[d] = min(x, y) * width + max(x, y)
                d += 1
    return equal_at, equal_value, differ_at, differ_key


@njit(cache=True, nogil=True)
def add_at_level(weights, levels, c, level, codes, left, adjustment):  # pragma: no cover - compiled
    """``weights[i] += adjustment[codes[left[i]]]`` for the pairs at ``level`` in comparison ``c``."""
    for i in range(len(weights)):
        if levels[i, c] == level:
            weights[i] += adjustment[codes[left[i]]]


@njit(cache=True, nogil=True)
def _earlier_rule_holds(keys, rule, a, b):  # pragma: no cover - compiled
    for q in range(rule):
        ka = keys[q, a]
        if ka >= 0 and ka == keys[q, b]:
            return True
    return False


@njit(cache=True, nogil=True)
def block_pairs(members, starts, keys, rule, src, cross_only, count_only, capacity):  # pragma: no cover - compiled
    """Pairs of records in the same block of rule ``rule`` that no earlier rule makes.

    ``members`` lists the records of each block contiguously, block ``i`` being
    ``members[starts[i]:starts[i+1]]``; ``keys`` is (rules, records), -1 where a
    key is missing. With ``cross_only`` only pairs from different sources
    count. Returns (number of pairs, smaller records, larger records), the
    last two empty when ``count_only``.
    """
    size = 0 if count_only else capacity
    lows = np.empty(size, np.int32)
    highs = np.empty(size, np.int32)
    count = 0
    for block in range(len(starts) - 1):
        for i in range(starts[block], starts[block + 1]):
            a = members[i]
            for j in range(i + 1, starts[block + 1]):
                b = members[j]
                if cross_only and src[a] == src[b]:
                    continue
                if _earlier_rule_holds(keys, rule, a, b):
                    continue
                if not count_only:
                    lows[count] = min(a, b)
                    highs[count] = max(a, b)
                count += 1
    return count, lows[:count], highs[:count]


@njit(cache=True, nogil=True)
def counting_order(codes, n_codes):  # pragma: no cover - compiled
    """The stable sort order of small non-negative integer codes (a counting sort, one pass)."""
    position = np.zeros(n_codes + 1, np.int64)
    for c in codes:
        position[c + 1] += 1
    for c in range(n_codes):
        position[c + 1] += position[c]
    out = np.empty(len(codes), np.int64)
    for i in range(len(codes)):
        out[position[codes[i]]] = i
        position[codes[i]] += 1
    return out


@njit(cache=True, nogil=True)
def sort_pairs(left, right, n):  # pragma: no cover - compiled
    """Pairs sorted by (left, right): a counting sort on ``left`` and a small sort of each record's partners.

    Linear in the number of pairs where sorting 64-bit keys is not; ``left``
    and ``right`` are record indices below ``n``.
    """
    position = np.zeros(n + 1, np.int64)
    for lo in left:
        position[lo + 1] += 1
    for v in range(n):
        position[v + 1] += position[v]
    starts = position[:n].copy()
    out_left = np.empty(len(left), left.dtype)
    out_right = np.empty(len(right), right.dtype)
    for i in range(len(left)):
        lo = left[i]
        at = position[lo]
        out_left[at] = lo
        out_right[at] = right[i]
        position[lo] = at + 1
    for v in range(n):
        first, end = starts[v], position[v]
        if end - first > 24:
            out_right[first:end].sort()
            continue
        for i in range(first + 1, end):  # a few partners: insertion sort in place
            x = out_right[i]
            j = i - 1
            while j >= first and out_right[j] > x:
                out_right[j + 1] = out_right[j]
                j -= 1
            out_right[j + 1] = x
    return out_left, out_right


@njit(cache=True, nogil=True)
def _root(parent, x):  # pragma: no cover - compiled
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # halve the path on the way
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def components(n, left, right):  # pragma: no cover - compiled
    """Connected components of ``n`` records joined by the pairs; labels 0..k-1.

    Union–find where the smaller root always wins, so each component's root is
    its smallest record, and labels are numbered in order of that record.
    """
    parent = np.arange(n)
    for i in range(len(left)):
        a = _root(parent, left[i])
        b = _root(parent, right[i])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    labels = np.empty(n, np.int64)
    count = 0
    for x in range(n):
        r = _root(parent, x)
        if r == x:
            labels[x] = count
            count += 1
        else:
            labels[x] = labels[r]
    return labels


@njit(cache=True, nogil=True)
def rule_bits(keys, left, right, out):  # pragma: no cover - compiled
    """``out[i]`` gets bit ``r`` when rule ``r``'s keys of the pair are equal and present.

    A rule at a time: its row of keys stays in cache (2.5x faster at 1M records than a pair at a time).
    """
    for i in range(len(left)):
        out[i] = 0
    for r in range(keys.shape[0]):
        row = keys[r]
        bit = np.int64(1) << np.int64(r)
        for i in range(len(left)):
            k = row[left[i]]
            if k >= 0 and k == row[right[i]]:
                out[i] |= bit


@njit(cache=True, nogil=True)
def map_bytes(offsets, data, action, squeeze):  # pragma: no cover - compiled
    """Rewrite byte strings: per byte keep (0), drop (1) or turn into a space (2).

    With ``squeeze``, runs of spaces become one space and the ends lose theirs.
    Returns the new offsets and bytes.
    """
    n = len(offsets) - 1
    out = np.empty(len(data), np.uint8)
    new_offsets = np.zeros(n + 1, np.int64)
    w = 0
    for v in range(n):
        start = w
        for i in range(offsets[v], offsets[v + 1]):
            c = data[i]
            todo = action[c]
            if todo == 1:
                continue
            if todo == 2:
                c = 32
            if squeeze and c == 32 and (w == start or out[w - 1] == 32):
                continue
            out[w] = c
            w += 1
        if squeeze and w > start and out[w - 1] == 32:
            w -= 1
        new_offsets[v + 1] = w
    return new_offsets, out[:w].copy()


@njit(cache=True, nogil=True)
def pattern_mask_counts(inverse, masks, mask_position, n_patterns, n_positions):  # pragma: no cover - compiled
    """Pairs of each (agreement pattern, rule mask): a table of ``n_patterns`` rows, one column per mask position."""
    out = np.zeros((n_patterns, n_positions))
    for i in range(len(inverse)):
        out[inverse[i], mask_position[masks[i]]] += 1.0
    return out
