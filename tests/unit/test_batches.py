"""Stages on Arrow batches (what Spark runs in its tasks) give what the whole-table stages give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import linkwise
from linkwise.batches import PreparePlan, ScorePlan, levels_of_batch, standardise_batch, term_frequency_levels, weights_of_batch
from linkwise.compare import ComparisonKernel, compare_pairs, sample_pairs
from linkwise.datasets import people
from linkwise.ingest import load_records
from linkwise.pipeline import resolve_settings
from linkwise.prepare import prepare
from linkwise.score import match_weights

SETTINGS = Path(linkwise.__file__).parent / "data" / "people_settings.json"


def _settings():
    """The example settings, plus a two-column comparison (a swap level, adjusted levels on one column)."""
    spec = resolve_settings(SETTINGS).to_dict()
    spec["comparisons"].append({"template": "full_name", "columns": ["first_name", "last_name"]})
    return linkwise.Settings.from_dict(spec)


@pytest.fixture(scope="module")
def whole():
    settings = _settings()
    records = load_records(people(800, seed=11), settings)
    prepared, _ = prepare(records, settings)
    return settings, records, prepared


def _record_values(records, settings, plan, *, batch_rows: int) -> dict[str, pa.Array]:
    """The plan's standardised columns of all records, made a batch at a time, in record order."""
    table = records.table.take(pa.array(records.order))
    parts = [standardise_batch(b, plan) for b in table.to_batches(max_chunksize=batch_rows)]
    return {c.name: pa.concat_arrays([p[c.name] for p in parts]) for c in plan.columns}


def test_records_standardised_in_batches_hold_the_values_prepare_encodes(whole):
    settings, records, prepared = whole
    plan = PreparePlan.of(settings)
    values = _record_values(records, settings, plan, batch_rows=97)
    for prep in prepared:
        for j, name in enumerate(plan.comparison_columns(prep.comparison)):
            codes = prep.codes[:, j]
            expected = prep.values.take(pa.array(codes, mask=codes < 0))
            assert values[name].equals(expected), (prep.name, name)


def test_levels_of_a_batch_of_pairs_are_the_levels_of_the_whole_table(whole):
    settings, records, prepared = whole
    plan = PreparePlan.of(settings)
    values = _record_values(records, settings, plan, batch_rows=300)
    left, right = sample_pairs(records.n, 5000, seed=3)
    expected = compare_pairs([ComparisonKernel(p) for p in prepared], left, right)
    columns = tuple(plan.comparison_columns(c) for c in settings.comparisons)
    names = {n for cols in columns for n in cols}
    for start in (0, 1234):  # two batches of different pairs, each with its own dictionaries
        rows = slice(start, start + 2000)
        batch_left = {n: values[n].take(pa.array(left[rows])) for n in names}
        batch_right = {n: values[n].take(pa.array(right[rows])) for n in names}
        got = levels_of_batch(tuple(settings.comparisons), columns, batch_left, batch_right)
        np.testing.assert_array_equal(got, expected[rows])
        # Either side first: levels are symmetric.
        np.testing.assert_array_equal(levels_of_batch(tuple(settings.comparisons), columns, batch_right, batch_left), got)


def test_weights_of_a_batch_are_exactly_the_whole_table_weights():
    settings = _settings()
    result = linkwise.run(people(800, seed=11), settings)
    plan_tf = []
    counts = {}
    for c, level, _ in term_frequency_levels(settings):
        frequencies = result.prepared[c].tf_frequencies[level]
        column = f"tf{c}_{level}"
        # Each pair carries how many records share its left record's value.
        counts[column] = frequencies.counts[np.maximum(frequencies.codes[result.left], 0)]
        plan_tf.append((c, level, column, frequencies.n_valid))
    assert plan_tf, "the settings adjust some levels for term frequency"
    plan = ScorePlan.of(result.model, plan_tf)
    expected = match_weights(result.model, result.prepared, result.levels, result.left)
    got = weights_of_batch(plan, result.levels, counts)
    assert np.array_equal(got, expected)
    np.testing.assert_array_equal(got, result.match_weight)
