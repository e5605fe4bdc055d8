"""Specification tests for linkwise.score (match weights with term-frequency adjustments).

A small synthetic table holds a very common surname ('smith') and a rare one
('quux'); two pairs of records differ only in which of the two they share.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from linkwise.model import probability
from linkwise.pipeline import run
from linkwise.score import match_weights, pairs_at_or_above, tf_adjustments

N_RECORDS = 300
N_SMITH = 90
N_QUUX = 2
N_NULL_SURNAME = 30

SETTINGS = {
    "link_type": "dedupe",
    "unique_id_column": "record_id",
    "comparisons": [
        {
            "name": "surname",
            "column": "surname",
            "levels": [{"type": "exact", "tf_adjust": True}, {"type": "jaro_winkler", "threshold": 0.9}],
        },
        {"name": "first_name", "column": "first_name", "levels": [{"type": "exact"}]},
        {"name": "dob", "column": "dob", "levels": [{"type": "exact"}]},
    ],
    "blocking_rules": [["surname"], ["dob"], ["first_name"]],
    "training": {"u_sample_pairs": 20_000},
    "seed": 3,
}


def _random_word(rng: np.random.Generator) -> str:
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    length = int(rng.integers(3, 5))
    return "".join(rng.choice(list(consonants)) + rng.choice(list(vowels)) for _ in range(length))


def surname_table(seed: int = 5) -> pa.Table:
    """Records 'S1','S2' share 'smith'; 'Q1','Q2' share 'quux'; otherwise alike."""
    rng = np.random.default_rng(seed)
    pool = sorted({_random_word(rng) for _ in range(400)} - {"smith", "quux"})
    first_pool = pool[:25]
    surname_pool = pool[25:]
    n_other = N_RECORDS - 4
    surnames: list[str | None] = ["smith"] * (N_SMITH - 2) + [None] * N_NULL_SURNAME
    surnames += list(rng.choice(surname_pool, n_other - len(surnames)))
    rows = {
        "record_id": [f"X{i:04d}" for i in range(n_other)],
        "surname": surnames,
        "first_name": list(rng.choice(first_pool, n_other)),
        "dob": [f"19{rng.integers(20, 99)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}" for _ in range(n_other)],
    }
    targets = [
        ("S1", "smith", "zed", "1955-05-05"),
        ("S2", "smith", "zed", "1955-05-05"),
        ("Q1", "quux", "zed", "1966-06-06"),
        ("Q2", "quux", "zed", "1966-06-06"),
    ]
    for record_id, surname, first, dob in targets:
        rows["record_id"].append(record_id)
        rows["surname"].append(surname)
        rows["first_name"].append(first)
        rows["dob"].append(dob)
    table = pa.table({k: pa.array(v, type=pa.string()) for k, v in rows.items()})
    counts = Counter(table["surname"].to_pylist())
    assert counts["smith"] == N_SMITH and counts["quux"] == N_QUUX and counts[None] == N_NULL_SURNAME
    return table


@pytest.fixture(scope="module")
def result():
    return run(surname_table(), SETTINGS)


def _pair_row(pairs: pa.Table, a: str, b: str) -> dict:
    rows = [
        row
        for row in pairs.to_pylist()
        if {row["id_l"], row["id_r"]} == {a, b}
    ]
    assert len(rows) == 1, f"pair {a}-{b} should be made exactly once"
    return rows[0]


def test_common_surname_agreement_counts_for_less_than_rare_one(result):
    pairs = result.pairs_table()
    smith = _pair_row(pairs, "S1", "S2")
    quux = _pair_row(pairs, "Q1", "Q2")
    levels = [f"{c['name']}_level" for c in SETTINGS["comparisons"]]
    assert [smith[k] for k in levels] == [quux[k] for k in levels] == [1, 1, 1]
    assert smith["match_weight"] < quux["match_weight"]
    assert smith["match_probability"] < quux["match_probability"]


def test_weights_of_two_agreements_differ_by_log2_of_their_value_frequencies(result):
    pairs = result.pairs_table()
    gap = _pair_row(pairs, "Q1", "Q2")["match_weight"] - _pair_row(pairs, "S1", "S2")["match_weight"]
    assert gap == pytest.approx(math.log2(N_SMITH / N_QUUX), abs=1e-9)


def test_total_weight_is_prior_weight_plus_level_weights_plus_tf_adjustments(result):
    model = result.model
    surnames = result.records.column("surname").to_pylist()
    counts = Counter(s for s in surnames if s is not None)
    n_with_surname = sum(counts.values())
    level_weights = model.level_weights()
    population_exact_u = model.tf_u_[0][1]

    expected = np.full(len(result.left), math.log2(model.prior_ / (1 - model.prior_)))
    for c, weights in enumerate(level_weights):
        expected += weights[result.levels[:, c]]
    for i, (left, level) in enumerate(zip(result.left, result.levels[:, 0])):
        if level == 1:  # exact surname agreement, term-frequency adjusted
            share = counts[surnames[left]] / n_with_surname
            expected[i] += math.log2(population_exact_u / share)

    assert (result.levels[:, 0] == 1).sum() > 100  # the check covers many adjusted pairs
    np.testing.assert_allclose(result.match_weight, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.match_probability, probability(expected), rtol=1e-12, atol=0)


def test_tf_scale_is_the_chance_that_two_random_records_agree_exactly(result):
    counts = Counter(s for s in result.records.column("surname").to_pylist() if s is not None)
    n = sum(counts.values())
    agree = sum(c * (c - 1) for c in counts.values()) / (n * (n - 1))
    assert result.model.tf_u_[0][1] == pytest.approx(agree, rel=1e-6)


def test_match_weights_are_pattern_weights_plus_summed_tf_adjustments(result):
    adjustments = tf_adjustments(result.model, result.prepared, result.levels, result.left)
    weights = match_weights(result.model, result.prepared, result.levels, result.left)
    np.testing.assert_allclose(
        weights, result.model.pattern_weights(result.levels) + adjustments.sum(axis=1), rtol=0, atol=1e-12
    )


def test_tf_adjustments_apply_only_to_the_adjusted_exact_level(result):
    adjustments = tf_adjustments(result.model, result.prepared, result.levels, result.left)
    assert adjustments.shape == result.levels.shape
    not_exact_surname = result.levels[:, 0] != 1
    assert not_exact_surname.any()
    assert (adjustments[not_exact_surname, 0] == 0).all()
    # first_name and dob have no term-frequency adjustment
    assert (adjustments[:, 1:] == 0).all()


def test_tf_adjustment_is_the_same_whichever_record_is_on_the_left(result):
    from_left = tf_adjustments(result.model, result.prepared, result.levels, result.left)
    from_right = tf_adjustments(result.model, result.prepared, result.levels, result.right)
    np.testing.assert_array_equal(from_left, from_right)


def test_no_tf_adjustment_when_no_level_asks_for_one(result):
    plain = [p for p in result.prepared]
    saved = [dict(p.tf_frequencies) for p in plain]
    try:
        for p in plain:
            p.tf_frequencies.clear()
        weights = match_weights(result.model, plain, result.levels, result.left)
    finally:
        for p, frequencies in zip(plain, saved):
            p.tf_frequencies.update(frequencies)
    np.testing.assert_array_equal(weights, result.model.pattern_weights(result.levels))


def test_pairs_at_or_above_a_probability_are_found_batch_by_batch_as_at_once():
    weights = np.random.default_rng(3).normal(0, 8, 10_001)
    expected = np.flatnonzero(probability(weights) >= 0.9)
    for batch in (1, 7, 1_000, 20_000):
        np.testing.assert_array_equal(pairs_at_or_above(weights, 0.9, batch=batch), expected)
    assert len(pairs_at_or_above(weights[:0], 0.9)) == 0
