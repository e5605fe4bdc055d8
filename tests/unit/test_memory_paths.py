"""The memory-saving paths give exactly what the plain ones give."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from linkwise import kernels
from linkwise.blocking import first_rule, pairs_made_by
from linkwise.estimate import blocking_recall, distinct_keys
from linkwise.model import probability
from linkwise.prepare import _narrow
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
