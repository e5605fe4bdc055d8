"""The compiled grouping kernels: hashing to dense codes, splitting pairs, counting sort, block pairs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwise.kernels import (
    block_pairs,
    counting_order,
    encode_codepoints,
    hash_insert,
    new_hash_table,
    sort_pairs,
    split_pairs,
    unique_first_seen,
)

int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 20), int64s), max_size=300))
def test_unique_first_seen_numbers_keys_in_order_of_first_appearance(keys):
    keys = np.array(keys, dtype=np.int64)
    distinct, index = unique_first_seen(keys)
    expected = list(dict.fromkeys(keys.tolist()))
    assert distinct.tolist() == expected
    assert index.dtype == np.int32
    np.testing.assert_array_equal(distinct[index], keys)


def test_a_hash_table_fed_in_batches_numbers_keys_as_one_pass_would():
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 5_000, 40_000) * 7919
    whole = unique_first_seen(keys)
    inverse = np.empty(len(keys), np.int32)
    table = new_hash_table()
    for start in range(0, len(keys), 3_000):  # grows many times on the way
        table = hash_insert(keys[start : start + 3_000], *table, inverse, start)
    np.testing.assert_array_equal(table[1][: table[2]], whole[0])
    np.testing.assert_array_equal(inverse, whole[1])


def test_split_pairs_separates_equal_different_and_missing_values():
    codes = np.array([0, 1, -1, 1, 2], dtype=np.int32)
    left = np.array([0, 1, 0, 2, 4], dtype=np.int32)
    right = np.array([1, 3, 3, 4, 0], dtype=np.int32)
    equal_at, equal_value, differ_at, differ_key = split_pairs(codes, left, right, 3)
    assert equal_at.tolist() == [1] and equal_value.tolist() == [1]
    assert differ_at.tolist() == [0, 2, 4]
    # Unordered value pairs: (0, 1), (0, 1), (0, 2) -> lo * width + hi
    assert differ_key.tolist() == [1, 1, 2]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=200))
def test_counting_order_is_the_stable_sort_order(codes):
    codes = np.array(codes, dtype=np.int32)
    np.testing.assert_array_equal(counting_order(codes, 10), np.argsort(codes, kind="stable"))


def test_block_pairs_skips_pairs_an_earlier_rule_made_and_same_source_pairs_when_asked():
    # Records 0..3 share rule 1's key; records 0 and 1 also share rule 0's key.
    keys = np.array([[5, 5, 6, -1], [9, 9, 9, 9]], dtype=np.int64)
    src = np.array([0, 1, 0, 1], dtype=np.int16)
    members = np.array([0, 1, 2, 3], dtype=np.int32)
    starts = np.array([0, 4], dtype=np.int64)
    count, lows, highs = block_pairs(members, starts, keys, 1, src, False, False, 6)
    assert count == 5 and sorted(zip(lows.tolist(), highs.tolist())) == [(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    count, lows, highs = block_pairs(members, starts, keys, 1, src, True, False, 6)
    assert sorted(zip(lows.tolist(), highs.tolist())) == [(0, 3), (1, 2), (2, 3)]
    assert block_pairs(members, starts, keys, 1, src, True, True, 0)[0] == 3


def test_sort_pairs_orders_by_left_then_right():
    rng = np.random.default_rng(4)
    left = rng.integers(0, 50, 2_000).astype(np.int32)
    right = rng.integers(0, 50, 2_000).astype(np.int32)
    sorted_left, sorted_right = sort_pairs(left, right, 50)
    expected = sorted(zip(left.tolist(), right.tolist()))
    assert list(zip(sorted_left.tolist(), sorted_right.tolist())) == expected


def test_ascii_text_is_kept_as_bytes_and_other_text_as_code_points():
    offsets, codepoints = encode_codepoints(pa.array(["ann", None, "bo"]))
    assert codepoints.dtype == np.uint8 and offsets.tolist() == [0, 3, 3, 5]
    offsets, codepoints = encode_codepoints(pa.array(["zoë", "日本", "😀"]))
    assert codepoints.dtype == np.uint32 and offsets.tolist() == [0, 3, 5, 6]
    assert "".join(map(chr, codepoints)) == "zoë日本😀"


def test_a_slice_of_an_arrow_array_encodes_only_its_own_values():
    offsets, codepoints = encode_codepoints(pa.array(["abc", "zoë", "xy"]).slice(1))
    assert offsets.tolist() == [0, 3, 5] and "".join(map(chr, codepoints)) == "zoëxy"
