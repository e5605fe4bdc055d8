"""The memory-saving paths give exactly what the plain ones give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from linkwise import kernels
import linkwise
from linkwise import compare, datasets
from linkwise.blocking import first_rule, pairs_made_by, rule_masks
from linkwise.compare import ComparisonKernel, compare_pairs
from linkwise.estimate import blocking_recall, distinct_keys
from linkwise.model import probability
from linkwise.ingest import load_records
from linkwise.prepare import _narrow, prepare
from linkwise.settings import Settings
from linkwise.train import MaskCounts, PatternCounts

# The example settings' rules, as (column, standardisers) keys.
RULES = [
    [("first_name", ()), ("last_name", ())],
    [("last_name", ()), ("dob", ())],
    [("dob", ()), ("zip", ())],
    [("zip", ()), ("first_name", ("first_n(1)",))],
    [("email", ())],
]


def test_bincount_a_chunk_at_a_time_is_numpys_bincount():
    values = np.random.default_rng(1).integers(0, 40, 10_001).astype(np.uint8)
    assert np.array_equal(kernels.bincount(values, chunk=1000), np.bincount(values))
    assert np.array_equal(kernels.bincount(values, minlength=64, chunk=7), np.bincount(values, minlength=64))
    assert np.array_equal(kernels.bincount(values[:0], minlength=3), np.zeros(3, np.int64))


def test_narrowed_block_keys_keep_equality_order_and_missing():
    rng = np.random.default_rng(2)
    key = rng.integers(0, 2**45, 50_000)
    key[::9] = key[::7][: len(key[::9])]  # repeats
    key[::11] = -1
    narrow = _narrow(key)
    assert narrow.dtype == np.int32
    assert np.array_equal(narrow == -1, key == -1)
    order = np.argsort(key, kind="stable")
    assert (np.diff(narrow[order]) >= 0).all() and ((np.diff(key[order]) == 0) == (np.diff(narrow[order]) == 0)).all()
    small = np.array([7, -1, 3, 7])
    assert _narrow(small).tolist() == [7, -1, 3, 7]


def test_rule_masks_a_rule_at_a_time_are_the_masks_of_each_pair():
    rng = np.random.default_rng(5)
    for n_rules in (3, 9, 64):
        keys = rng.integers(-1, 4, (n_rules, 300)).astype(np.int32)
        left, right = rng.integers(0, 300, (2, 5_000)).astype(np.int32)
        holds = (keys[:, left] >= 0) & (keys[:, left] == keys[:, right])
        expected = (holds.astype(np.uint64) << np.arange(n_rules, dtype=np.uint64)[:, None]).sum(axis=0, dtype=np.uint64)
        assert np.array_equal(rule_masks(keys, left, right).astype(np.uint64), expected)


def test_pairs_compared_in_small_batches_through_a_small_cache_get_the_levels_of_one_batch(monkeypatch):
    settings = Settings.load(Path(linkwise.__file__).parent / "data" / "people_settings.json")
    records = load_records(datasets.people(3_000, seed=7), settings)
    prepared, _ = prepare(records, settings)
    rng = np.random.default_rng(6)
    # Random pairs and, many times over, pairs of the first few records: value pairs met again and again.
    left = np.concatenate([rng.integers(0, records.n, 4_000), rng.integers(0, 40, 4_000)]).astype(np.int32)
    right = np.concatenate([rng.integers(0, records.n, 4_000), rng.integers(0, 40, 4_000)]).astype(np.int32)
    whole = compare_pairs([ComparisonKernel(p) for p in prepared], left, right)
    monkeypatch.setattr(compare, "cache_entries", lambda n_pairs: 64)  # entries taken over all the time
    batched = compare_pairs([ComparisonKernel(p) for p in prepared], left, right, batch=700)
    assert np.array_equal(batched, whole)


def test_pairs_made_by_each_rule_are_counted_over_distinct_masks():
    masks = np.random.default_rng(3).integers(0, 32, 20_000).astype(np.uint8)
    expected = np.bincount(first_rule(masks, 5), minlength=6)
    assert np.array_equal(pairs_made_by(masks, 5), expected)


def test_a_rules_pattern_counts_from_the_mask_table_are_those_of_its_pairs():
    rng = np.random.default_rng(4)
    levels = rng.integers(0, 3, (30_000, 4)).astype(np.uint8)
    masks = rng.integers(0, 8, 30_000).astype(np.uint8)
    counts = PatternCounts.of(levels, [3, 3, 3, 3])
    table = MaskCounts.of(counts, masks, 3)
    for rule in range(3):
        holds = ((masks >> rule) & 1).astype(bool)
        direct = np.bincount(counts.inverse[holds], minlength=len(counts.patterns)).astype(float)
        assert np.array_equal(table.rule_counts(rule), direct)


def test_blocking_recall_from_weights_a_batch_at_a_time_is_the_same_to_the_last_bit():
    rng = np.random.default_rng(5)
    # Each key agrees in 70 % of the pairs; only pairs some rule makes are candidates.
    n_keys = len(distinct_keys(RULES))
    masks = sum((rng.random(40_000) < 0.7).astype(np.uint8) << k for k in range(n_keys)).astype(np.uint8)
    keys = distinct_keys(RULES)
    made = np.logical_or.reduce([(masks & b) == b for b in [sum(1 << keys.index(k) for k in rule) for rule in RULES]])
    masks = masks[made]
    weights = rng.normal(2.0, 6.0, len(masks))
    whole = blocking_recall(masks, probability(weights), RULES, threshold=0.5, sure=0.9)
    batched = blocking_recall(masks, None, RULES, threshold=0.5, sure=0.9, match_weight=weights, batch=4_096)
    assert whole is not None and batched == whole


@pytest.mark.slow
def test_the_command_lines_process_settings_keep_pandas_out_of_arrow_but_importable():
    code = (
        "import sys; from linkwise.memory import own_process; own_process();"
        "import numpy as np, pyarrow as pa;"
        "pa.array(np.zeros(3)); pa.array(['x']); pa.scalar(1);"
        "print('pandas' in sys.modules);"
        "import pandas; print(pa.table({'a': [1, None]}).to_pandas()['a'].isna().tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False"
    assert out[1] == "[False, True]"
