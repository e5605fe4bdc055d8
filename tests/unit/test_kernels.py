"""The compiled string kernels agree with rapidfuzz's reference implementations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA, Jaro, JaroWinkler, Levenshtein

from linkwise.kernels import damerau_levenshtein, encode_codepoints, jaro, jaro_winkler, levenshtein

words = st.text(alphabet="abcdeéß ", max_size=12)
pairs = st.lists(st.tuples(words, words), min_size=1, max_size=40)


def _encode(pair_list):
    values = [x for pair in pair_list for x in pair]
    offsets, codepoints = encode_codepoints(pa.array(values))
    left = np.arange(0, len(values), 2)
    return offsets, codepoints, left, left + 1


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_jaro_and_jaro_winkler_equal_rapidfuzz(pair_list):
    offsets, codepoints, a, b = _encode(pair_list)
    expected_jw = [JaroWinkler.normalized_similarity(x, y) for x, y in pair_list]
    expected_j = [Jaro.normalized_similarity(x, y) for x, y in pair_list]
    np.testing.assert_allclose(jaro_winkler(offsets, codepoints, a, b), expected_jw, atol=1e-12)
    np.testing.assert_allclose(jaro(offsets, codepoints, a, b), expected_j, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(pairs, st.integers(min_value=0, max_value=4))
def test_bounded_edit_distances_equal_rapidfuzz_up_to_the_limit(pair_list, limit):
    offsets, codepoints, a, b = _encode(pair_list)
    for kernel, reference in ((levenshtein, Levenshtein), (damerau_levenshtein, OSA)):
        got = kernel(offsets, codepoints, a, b, limit)
        expected = np.array([reference.distance(x, y) for x, y in pair_list])
        np.testing.assert_array_equal(np.minimum(expected, limit + 1), got)


def test_a_transposition_is_one_damerau_edit_and_two_levenshtein_edits():
    offsets, codepoints, a, b = _encode([("martha", "marhta")])
    assert damerau_levenshtein(offsets, codepoints, a, b, 3)[0] == 1
    assert levenshtein(offsets, codepoints, a, b, 3)[0] == 2


def test_code_points_not_bytes_are_compared():
    offsets, codepoints, a, b = _encode([("josé", "jose")])
    assert levenshtein(offsets, codepoints, a, b, 3)[0] == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 20), max_size=8), st.lists(st.integers(0, 20), max_size=8)), min_size=1, max_size=30))
def test_token_jaccard_is_the_share_of_shared_tokens(pair_list):
    from linkwise.kernels import token_jaccard

    values = [sorted(set(tokens)) for pair in pair_list for tokens in pair]
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int64)
    tokens = np.array([t for v in values for t in v], dtype=np.int64)
    a = np.arange(0, len(values), 2)
    got = token_jaccard(offsets, tokens, a, a + 1)
    for k, (x, y) in enumerate(pair_list):
        union = set(x) | set(y)
        expected = len(set(x) & set(y)) / len(union) if union else 0.0
        assert got[k] == expected


def test_one_very_long_value_costs_no_more_than_its_own_length():
    from linkwise.kernels import token_jaccard

    offsets = np.array([0, 2, 1502], dtype=np.int64)
    tokens = np.concatenate([[1, 2], np.arange(1500)]).astype(np.int64)
    a, b = np.zeros(20000, np.int64), np.ones(20000, np.int64)
    assert token_jaccard(offsets, tokens, a, b)[0] == 2 / 1500


# ------------------------------------------------------------------ long values
long_text = st.text(alphabet="ab c", max_size=150)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(long_text, long_text | words), min_size=1, max_size=20), st.integers(min_value=0, max_value=6))
def test_kernels_equal_rapidfuzz_on_values_of_very_different_lengths(pair_list, limit):
    offsets, codepoints, a, b = _encode(pair_list)
    np.testing.assert_allclose(
        jaro_winkler(offsets, codepoints, a, b), [JaroWinkler.normalized_similarity(x, y) for x, y in pair_list], atol=1e-12
    )
    np.testing.assert_allclose(
        jaro(offsets, codepoints, b, a), [Jaro.normalized_similarity(y, x) for x, y in pair_list], atol=1e-12
    )
    for kernel, reference in ((levenshtein, Levenshtein), (damerau_levenshtein, OSA)):
        expected = np.array([min(reference.distance(x, y), limit + 1) for x, y in pair_list])
        np.testing.assert_array_equal(kernel(offsets, codepoints, a, b, limit), expected)


def test_megabyte_values_are_compared_quickly_and_jaro_looks_at_their_first_characters():
    from linkwise.kernels import JARO_MAX_LENGTH

    long_value = "12 long road, " * 75_000  # about 1 MB
    values = [long_value, long_value[:-3] + "xyz", "181 n adams ave", "é" + long_value]
    offsets, codepoints = encode_codepoints(pa.array(values))
    a, b = np.array([0, 0, 2, 3]), np.array([1, 2, 0, 1])
    # The edit distance is exact however long the values: only a band of the table is worked out.
    np.testing.assert_array_equal(levenshtein(offsets, codepoints, a, b, 3), [3, 4, 4, 4])
    np.testing.assert_array_equal(damerau_levenshtein(offsets, codepoints, a[:1], b[:1], 3), [3])
    head = [v[:JARO_MAX_LENGTH] for v in values]
    expected = [JaroWinkler.normalized_similarity(head[i], head[j]) for i, j in zip(a, b)]
    np.testing.assert_allclose(jaro_winkler(offsets, codepoints, a, b), expected, atol=1e-12)
