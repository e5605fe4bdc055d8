"""Specification tests for blocking on the DuckDB engine.

Keys are small hand-made integer arrays (rules x records, -1 for a missing
key), checked against a brute-force O(n^2) enumeration of the pairs.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwise.blocking import (
    RuleReport,
    analyse,
    candidate_pairs,
    check_budget,
    check_union_budget,
    keys_table,
    with_marginal_pairs,
)
from linkwise.engines.duckdb import DuckDBEngine
from linkwise.errors import BlockingError
from linkwise.pipeline import run
from linkwise.settings import BlockingRule

LINK_TYPES = ["dedupe", "link", "link_and_dedupe"]


@pytest.fixture
def engine():
    eng = DuckDBEngine(threads=2)
    yield eng
    eng.close()


# ------------------------------------------------------------------ brute force
def allowed(link_type: str, src: np.ndarray, i: int, j: int) -> bool:
    return link_type != "link" or src[i] != src[j]


def rule_holds(keys: np.ndarray, r: int, i: int, j: int) -> bool:
    return keys[r, i] >= 0 and keys[r, i] == keys[r, j]


def brute_force_pairs(keys: np.ndarray, src: np.ndarray, link_type: str, rules=None) -> set[tuple[int, int]]:
    rules = range(keys.shape[0]) if rules is None else rules
    n = keys.shape[1]
    return {
        (i, j)
        for i, j in itertools.combinations(range(n), 2)
        if allowed(link_type, src, i, j) and any(rule_holds(keys, r, i, j) for r in rules)
    }


def brute_force_marginal(keys: np.ndarray, src: np.ndarray, link_type: str, rule: int) -> int:
    n = keys.shape[1]
    return sum(
        1
        for i, j in itertools.combinations(range(n), 2)
        if allowed(link_type, src, i, j)
        and rule_holds(keys, rule, i, j)
        and not any(rule_holds(keys, e, i, j) for e in range(rule))
    )


def brute_force_blocks(keys: np.ndarray, src: np.ndarray, link_type: str, rule: int) -> dict[int, tuple[int, int]]:
    """key -> (records in the block, pairs it makes)."""
    out = {}
    for key in {int(k) for k in keys[rule] if k >= 0}:
        members = np.flatnonzero(keys[rule] == key)
        pairs = sum(1 for i, j in itertools.combinations(members, 2) if allowed(link_type, src, i, j))
        out[key] = (len(members), pairs)
    return out


def made_pairs(engine, keys: np.ndarray, src: np.ndarray, link_type: str) -> list[tuple[int, int]]:
    table = keys_table(keys, src)
    left, right = candidate_pairs(engine, table, link_type=link_type, n_records=keys.shape[1])
    return list(zip(left.tolist(), right.tolist()))


def random_keys(seed: int, n: int = 200, n_rules: int = 3, n_sources: int = 2):
    rng = np.random.default_rng(seed)
    keys = np.stack([rng.integers(0, cardinality, n) for cardinality in (12, 30, 6)[:n_rules]]).astype(np.int64)
    keys[rng.random(keys.shape) < 0.15] = -1
    src = rng.integers(0, n_sources, n).astype(np.int16)
    return keys, src


# ------------------------------------------------------------------ hand-made cases
def test_each_candidate_pair_is_made_once_even_when_several_rules_hold(engine):
    keys = np.array(
        [
            [1, 1, 2, 2, 3],  # (0,1), (2,3)
            [5, 5, 5, -1, 3],  # (0,1), (0,2), (1,2)
            [7, 7, 7, 7, -1],  # every pair of 0..3
        ]
    )
    pairs = made_pairs(engine, keys, np.zeros(5, np.int16), "dedupe")
    assert sorted(pairs) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert len(pairs) == len(set(pairs))


def test_candidate_pairs_put_the_smaller_record_index_on_the_left(engine):
    keys, src = random_keys(seed=1)
    pairs = made_pairs(engine, keys, src, "dedupe")
    assert pairs and all(left < right for left, right in pairs)


def test_missing_keys_never_match(engine):
    keys = np.array(
        [
            [-1, -1, -1, 4, 4],
            [-1, -1, 9, -1, -1],
        ]
    )
    pairs = made_pairs(engine, keys, np.zeros(5, np.int16), "dedupe")
    assert pairs == [(3, 4)]


def test_records_with_every_key_missing_are_in_no_pair(engine):
    keys, src = random_keys(seed=2)
    keys[:, :20] = -1
    pairs = made_pairs(engine, keys, src, "link_and_dedupe")
    assert pairs
    assert not {i for pair in pairs for i in pair} & set(range(20))


def test_link_mode_makes_only_cross_source_pairs(engine):
    keys = np.array([[1, 1, 1, 1, 2, 2]])
    src = np.array([0, 0, 1, 1, 0, 0], dtype=np.int16)
    assert sorted(made_pairs(engine, keys, src, "link")) == [(0, 2), (0, 3), (1, 2), (1, 3)]
    assert sorted(made_pairs(engine, keys, src, "link_and_dedupe")) == [
        (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (4, 5)
    ]


@pytest.mark.parametrize("link_type", LINK_TYPES)
@pytest.mark.parametrize("seed", [11, 12])
def test_candidate_pairs_are_exactly_the_union_of_the_rules_pairs(engine, link_type, seed):
    keys, src = random_keys(seed, n=200, n_rules=3, n_sources=3)
    pairs = made_pairs(engine, keys, src, link_type)
    expected = brute_force_pairs(keys, src, link_type)
    assert len(pairs) == len(set(pairs)), "a pair was made twice"
    assert set(pairs) == expected
    assert len(expected) > 100


@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    n=st.integers(0, 25),
    n_rules=st.integers(1, 4),
    link_type=st.sampled_from(LINK_TYPES),
)
def test_any_keys_give_each_union_pair_exactly_once_and_exact_counts(data, n, n_rules, link_type):
    keys = np.array(
        data.draw(st.lists(st.lists(st.integers(-1, 3), min_size=n, max_size=n), min_size=n_rules, max_size=n_rules)),
        dtype=np.int64,
    ).reshape(n_rules, n)
    src = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int16)
    engine = DuckDBEngine(threads=1)
    try:
        pairs = made_pairs(engine, keys, src, link_type)
        table = keys_table(keys, src)
        counted = [engine.block_stats(table, r, link_type=link_type).pairs for r in range(n_rules)]
        marginals = [engine.marginal_pairs(table, r, link_type=link_type) for r in range(n_rules)]
    finally:
        engine.close()
    assert sorted(pairs) == sorted(brute_force_pairs(keys, src, link_type))
    assert counted == [len(brute_force_pairs(keys, src, link_type, rules=[r])) for r in range(n_rules)]
    assert marginals == [brute_force_marginal(keys, src, link_type, r) for r in range(n_rules)]


# ------------------------------------------------------------------ counting before pairing
@pytest.mark.parametrize("link_type", LINK_TYPES)
def test_block_stats_counts_pairs_from_block_sizes_exactly(engine, link_type):
    keys, src = random_keys(seed=21, n=200, n_rules=3, n_sources=2)
    table = keys_table(keys, src)
    for rule in range(keys.shape[0]):
        blocks = brute_force_blocks(keys, src, link_type, rule)
        stats = engine.block_stats(table, rule, link_type=link_type)
        assert stats.pairs == sum(pairs for _, pairs in blocks.values()) == len(
            brute_force_pairs(keys, src, link_type, rules=[rule])
        )


def test_block_stats_of_a_hand_made_rule():
    keys = np.array([[1, 1, 1, 2, 2, 3, -1, -1]])
    src = np.array([0, 0, 1, 0, 1, 1, 0, 1], dtype=np.int16)
    table = keys_table(keys, src)
    engine = DuckDBEngine(threads=1)
    try:
        dedupe = engine.block_stats(table, 0, link_type="dedupe")
        link = engine.block_stats(table, 0, link_type="link")
    finally:
        engine.close()
    assert dedupe.pairs == 3 + 1  # block 1 has 3 records, block 2 has 2, block 3 one; nulls none
    assert dedupe.largest_blocks == ((1, 3), (2, 2))  # a block that makes no pair is not listed
    assert link.pairs == 2 + 1  # block 1: 2 x 1 cross pairs; block 2: 1 x 1
    assert link.largest_blocks[:2] == ((1, 3), (2, 2))


@pytest.mark.parametrize("link_type", ["dedupe", "link"])
def test_block_stats_lists_the_largest_blocks_first(engine, link_type):
    rng = np.random.default_rng(31)
    sizes = {100: 40, 200: 25, 300: 12, 400: 9, 500: 7, 600: 3}
    key_list = np.array([key for key, size in sizes.items() for _ in range(size)] + [-1] * 30)
    # Each block split evenly between the two sources, so cross pairs rank like block sizes.
    source_list = np.concatenate([np.arange(size) % 2 for size in sizes.values()] + [np.zeros(30, int)])
    order = rng.permutation(len(key_list))
    keys = key_list[order][None, :].astype(np.int64)
    src = source_list[order].astype(np.int16)
    stats = engine.block_stats(keys_table(keys, src), 0, link_type=link_type, top=3)
    blocks = brute_force_blocks(keys, src, link_type, 0)
    assert stats.largest_blocks == tuple((key, sizes[key]) for key in (100, 200, 300))
    assert all(blocks[key][0] == n for key, n in stats.largest_blocks)


@pytest.mark.parametrize("link_type", LINK_TYPES)
def test_marginal_pairs_equal_the_brute_force_count_of_pairs_no_earlier_rule_makes(engine, link_type):
    keys, src = random_keys(seed=41, n=200, n_rules=3, n_sources=2)
    table = keys_table(keys, src)
    marginals = [engine.marginal_pairs(table, rule, link_type=link_type) for rule in range(keys.shape[0])]
    assert marginals == [brute_force_marginal(keys, src, link_type, rule) for rule in range(keys.shape[0])]
    assert sum(marginals) == len(brute_force_pairs(keys, src, link_type))
    assert marginals[0] == engine.block_stats(table, 0, link_type=link_type).pairs


def test_analyse_reports_each_rule_with_readable_largest_blocks(engine):
    keys, src = random_keys(seed=51)
    rules = tuple(BlockingRule.parse([name], f"blocking_rules[{i}]") for i, name in enumerate(["zip", "dob", "sex"]))
    table = keys_table(keys, src)
    reports = analyse(engine, table, rules, link_type="dedupe", describe_key=lambda rule, key: f"r{rule}={key}")
    reports = with_marginal_pairs(engine, table, reports, link_type="dedupe")
    assert [rep.rule for rep in reports] == ["zip", "dob", "sex"]
    for rule, rep in enumerate(reports):
        assert rep.pairs == len(brute_force_pairs(keys, src, "dedupe", rules=[rule]))
        assert rep.marginal_pairs == brute_force_marginal(keys, src, "dedupe", rule)
        biggest_key, biggest_size = max(
            brute_force_blocks(keys, src, "dedupe", rule).items(), key=lambda kv: (kv[1][1], -kv[0])
        )
        assert rep.largest_blocks[0] == (f"r{rule}={biggest_key}", biggest_size[0])


# ------------------------------------------------------------------ the pair budget
def _report(rule: str, pairs: int, blocks=(("zip='00000'", 900), ("zip='12345'", 40))) -> RuleReport:
    return RuleReport(rule, pairs, None, tuple(blocks))


def test_check_budget_refuses_a_rule_over_the_budget_naming_the_rule_and_its_largest_block():
    reports = [_report("dob", 500, (("dob='1990-01-01'", 30),)), _report("zip", 404_550)]
    with pytest.raises(BlockingError) as caught:
        check_budget(reports, 100_000)
    message = str(caught.value)
    assert "'zip'" in message
    # The block's size is in the message; its key value, a record value, only in the detail.
    assert "largest blocks hold 900 and 40 records" in message
    assert "00000" not in message
    assert "zip='00000' (900 records)" in caught.value.detail
    assert "404,550" in message and "100,000" in message
    assert "max_candidate_pairs" in message
    assert "'dob'" not in message


def test_check_budget_accepts_rules_within_the_budget():
    check_budget([_report("dob", 100_000), _report("zip", 99_999)], 100_000)


def test_check_union_budget_refuses_rules_whose_union_is_over_the_budget():
    reports = [RuleReport("dob", 60, 60, ()), RuleReport("zip", 70, 50, ())]
    check_union_budget(reports, 110)
    with pytest.raises(BlockingError, match=r"110 pairs together.*'dob' adds the most"):
        check_union_budget(reports, 109)


class CountingEngine:
    """A DuckDB engine that records whether candidate pairs were asked for."""

    name = "counting-duckdb"

    def __init__(self) -> None:
        self._inner = DuckDBEngine(threads=1)
        self.pair_requests = 0

    def read(self, *args, **kwargs):
        return self._inner.read(*args, **kwargs)

    def block_stats(self, *args, **kwargs):
        return self._inner.block_stats(*args, **kwargs)

    def marginal_pairs(self, *args, **kwargs):
        return self._inner.marginal_pairs(*args, **kwargs)

    def candidate_pairs(self, *args, **kwargs):
        self.pair_requests += 1
        return self._inner.candidate_pairs(*args, **kwargs)

    def close(self) -> None:
        self._inner.close()


def placeholder_table(n: int = 400, n_placeholder: int = 150) -> pa.Table:
    rng = np.random.default_rng(61)
    emails = [f"person{i}@example.org" for i in range(n)]
    for i in rng.choice(n, n_placeholder, replace=False):
        emails[i] = "  NONE@NONE.INVALID "
    return pa.table(
        {
            "record_id": [f"P{i:04d}" for i in range(n)],
            "email": emails,
            "dob": [f"19{rng.integers(40, 99)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}" for _ in range(n)],
        }
    )


PLACEHOLDER_SETTINGS = {
    "unique_id_column": "record_id",
    "standardise": {"email": ["lower", "trim"]},
    "comparisons": [
        {"name": "email", "column": "email", "levels": [{"type": "exact"}]},
        {"name": "dob", "column": "dob", "levels": [{"type": "exact"}]},
    ],
    "blocking_rules": [["dob"], ["email"]],
    "max_candidate_pairs": 5_000,
}


def test_a_placeholder_shared_by_many_records_fails_the_run_before_any_pair_is_made():
    engine = CountingEngine()
    try:
        with pytest.raises(BlockingError) as caught:
            run(placeholder_table(), PLACEHOLDER_SETTINGS, engine=engine)
    finally:
        engine.close()
    assert engine.pair_requests == 0
    message = str(caught.value)
    assert "'email'" in message
    assert "email='none@none.invalid' (150 records)" in caught.value.detail
    assert f"{150 * 149 // 2:,}" in message


def test_the_same_data_runs_when_the_budget_allows_its_pairs():
    relaxed = {**PLACEHOLDER_SETTINGS, "max_candidate_pairs": 20_000, "training": {"u_sample_pairs": 5_000}}
    engine = DuckDBEngine(threads=1)
    try:
        result = run(placeholder_table(), relaxed, engine=engine)
    finally:
        engine.close()
    placeholder = np.array([e == "  NONE@NONE.INVALID " for e in result.records.column("email").to_pylist()])
    within_placeholder = placeholder[result.left] & placeholder[result.right]
    assert within_placeholder.sum() == 150 * 149 // 2
    # The run's report: each rule's own pairs, and the pairs it adds, which sum to all pairs made.
    assert [rep.rule for rep in result.blocking] == ["dob", "email"]
    assert result.blocking[1].pairs >= 150 * 149 // 2
    assert sum(rep.marginal_pairs for rep in result.blocking) == len(result.left)


def test_rules_each_within_the_budget_but_over_it_together_fail_the_run_before_any_pair_is_made():
    table = placeholder_table()
    emails = table["email"].to_pylist()
    # A second placeholder, on other records: 150 records share first name 'unknown'.
    others = [i for i, e in enumerate(emails) if e != "  NONE@NONE.INVALID "][:150]
    first_names = [f"name{i}" for i in range(table.num_rows)]
    for i in others:
        first_names[i] = "unknown"
    table = table.append_column("first_name", pa.array(first_names))
    settings = {
        **PLACEHOLDER_SETTINGS,
        "comparisons": [*PLACEHOLDER_SETTINGS["comparisons"], {"name": "first_name", "column": "first_name", "levels": ["exact"]}],
        "blocking_rules": [["email"], ["first_name"]],
        "max_candidate_pairs": 15_000,  # each rule makes 11,175 pairs; together 22,350
    }
    engine = CountingEngine()
    try:
        with pytest.raises(BlockingError, match=r"22,350 pairs together, over the budget of 15,000"):
            run(table, settings, engine=engine)
    finally:
        engine.close()
    assert engine.pair_requests == 0


def test_candidate_pairs_come_sorted_whatever_order_the_engine_returns():
    keys, src = random_keys(5)
    pairs = made_pairs(DuckDBEngine(), keys, src, "dedupe")
    assert pairs == sorted(pairs)


def test_blocking_analysis_counts_each_rules_pairs_and_what_it_adds_without_running():
    import linkwise

    data = linkwise.datasets.people(1500, seed=11)
    settings = Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json"
    reports = linkwise.analyse_blocking(data, settings)
    result = linkwise.dedupe(data, settings)
    assert [r.rule for r in reports] == [r.rule for r in result.blocking]
    assert [r.pairs for r in reports] == [r.pairs for r in result.blocking]
    assert [r.marginal_pairs for r in reports] == [r.marginal_pairs for r in result.blocking]
    assert sum(r.marginal_pairs for r in reports) == len(result.left)
