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

>>> import pyarrow as pa, numpy as np
>>> offsets, codepoints = encode_codepoints(pa.array(["martha", "marhta"]))
>>> round(float(jaro_winkler(offsets, codepoints, np.array([0]), np.array([1]))[0]), 4)
0.9611
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit


def encode_codepoints(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Flat code points of string values: ``offsets`` (n+1) and ``codepoints`` (uint32).

    Nulls are empty strings.
    """
    values = pc.fill_null(values.cast(pa.string()), "")
    lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    joined = "".join(values.to_pylist()).encode("utf-32-le")
    return offsets, np.frombuffer(joined, dtype=np.uint32)


@njit(cache=True, nogil=True)
def _longest(offsets):  # pragma: no cover - compiled
    """Length of the longest value."""
    longest = 0
    for v in range(len(offsets) - 1):
        longest = max(longest, offsets[v + 1] - offsets[v])
    return longest


@njit(cache=True, nogil=True)
def _jaro_one(cp, s1, n1, s2, n2, winkler, flags1, flags2):  # pragma: no cover - compiled
    if n1 == 0 and n2 == 0:
        return 1.0
    if n1 == 0 or n2 == 0:
        return 0.0
    window = max(n1, n2) // 2 - 1
    if window < 0:
        window = 0
    flags1[:n1] = False
    flags2[:n2] = False
    matches = 0
    for i in range(n1):
        lo = i - window
        if lo < 0:
            lo = 0
        hi = i + window + 1
        if hi > n2:
            hi = n2
        c = cp[s1 + i]
        for j in range(lo, hi):
            if not flags2[j] and cp[s2 + j] == c:
                flags1[i] = True
                flags2[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    transpositions = 0
    k = 0
    for i in range(n1):
        if flags1[i]:
            while not flags2[k]:
                k += 1
            if cp[s1 + i] != cp[s2 + k]:
                transpositions += 1
            k += 1
    m = float(matches)
    sim = (m / n1 + m / n2 + (m - transpositions // 2) / m) / 3.0
    if winkler and sim > 0.7:
        prefix = 0
        limit = min(4, min(n1, n2))
        while prefix < limit and cp[s1 + prefix] == cp[s2 + prefix]:
            prefix += 1
        sim += prefix * 0.1 * (1.0 - sim)
    return sim


@njit(cache=True, nogil=True)
def _jaro_pairs(offsets, cp, a, b, winkler):  # pragma: no cover - compiled
    out = np.empty(len(a))
    longest = _longest(offsets)
    flags1 = np.zeros(longest + 1, np.bool_)
    flags2 = np.zeros(longest + 1, np.bool_)
    for k in range(len(a)):
        x = a[k]
        y = b[k]
        out[k] = _jaro_one(
            cp, offsets[x], offsets[x + 1] - offsets[x], offsets[y], offsets[y + 1] - offsets[y], winkler, flags1, flags2
        )
    return out


def jaro_winkler(offsets: np.ndarray, codepoints: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaro–Winkler similarity of values ``a[k]`` and ``b[k]``."""
    return _jaro_pairs(offsets, codepoints, np.asarray(a, np.int64), np.asarray(b, np.int64), True)


def jaro(offsets: np.ndarray, codepoints: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaro similarity of values ``a[k]`` and ``b[k]``."""
    return _jaro_pairs(offsets, codepoints, np.asarray(a, np.int64), np.asarray(b, np.int64), False)


@njit(cache=True, nogil=True)
def _edit_distance_one(cp, s1, n1, s2, n2, limit, transpositions, before, previous, current):  # pragma: no cover
    """Edit distance, or limit + 1 as soon as it must exceed ``limit``.

    ``before``, ``previous`` and ``current`` are scratch rows of the dynamic
    programme (two back, for transpositions), at least ``n2 + 1`` long.
    """
    if abs(n1 - n2) > limit:
        return limit + 1
    for j in range(n2 + 1):
        previous[j] = j
        before[j] = j
    for i in range(1, n1 + 1):
        current[0] = i
        row_min = i
        ci = cp[s1 + i - 1]
        for j in range(1, n2 + 1):
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
            current[j] = best
            if best < row_min:
                row_min = best
        if row_min > limit:
            return limit + 1
        tmp = before
        before = previous
        previous = current
        current = tmp
    result = previous[n2]
    return result if result <= limit else limit + 1


@njit(cache=True, nogil=True)
def _distance_pairs(offsets, cp, a, b, limit, transpositions):  # pragma: no cover - compiled
    out = np.empty(len(a), np.int64)
    longest = _longest(offsets)
    before = np.empty(longest + 1, np.int64)
    previous = np.empty(longest + 1, np.int64)
    current = np.empty(longest + 1, np.int64)
    for k in range(len(a)):
        x = a[k]
        y = b[k]
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
