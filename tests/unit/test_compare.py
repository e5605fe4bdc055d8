"""Specification tests for linkwise.compare: the comparison level of each record pair.

Inputs are built the way the pipeline builds them: an Arrow table is loaded with
``load_records``, encoded with ``prepare``, and a ``ComparisonKernel`` gives the
level of each pair. Level 0 is null, 1..L the declared levels (strongest first),
L+1 the else level.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from rapidfuzz.distance import Jaro, JaroWinkler

from linkwise import compare
from linkwise.compare import ComparisonKernel, compare_pairs, dense_codes, sample_pairs
from linkwise.ingest import load_records
from linkwise.prepare import prepare
from linkwise.settings import Settings

NULL, FIRST, SECOND, THIRD = 0, 1, 2, 3


def kernel_for(levels, columns: dict[str, list], *, standardise=(), name="compared") -> ComparisonKernel:
    """A kernel for one comparison over the given columns (records in the given order)."""
    column_names = list(columns)
    spec: dict = {"name": name, "levels": levels}
    if len(column_names) == 1:
        spec["column"] = column_names[0]
    else:
        spec["columns"] = column_names
    if standardise:
        spec["standardise"] = list(standardise)
    settings = Settings.from_dict({"comparisons": [spec], "blocking_rules": [[column_names[0]]]})
    table = pa.table({c: pa.array(v, type=pa.string()) for c, v in columns.items()})
    records = load_records(table, settings)
    prepared, _ = prepare(records, settings)
    return ComparisonKernel(prepared[0])


def level_of(levels, left_value, right_value, **options) -> int:
    """Level of the pair (left_value, right_value) under a one-column comparison."""
    kernel = kernel_for(levels, {"value": [left_value, right_value]}, **options)
    return int(kernel.levels_of_pairs(np.array([0]), np.array([1]))[0])


def levels_of(levels, pairs, **options) -> list[int]:
    """Levels of many (left, right) value pairs, computed in one batch."""
    values = [v for pair in pairs for v in pair]
    kernel = kernel_for(levels, {"value": values}, **options)
    left = np.arange(0, len(values), 2)
    return kernel.levels_of_pairs(left, left + 1).tolist()


# ------------------------------------------------------------------ exact
def test_exact_level_holds_for_equal_values_only():
    assert levels_of(["exact"], [("smith", "smith"), ("smith", "smyth"), ("Smith", "smith")]) == [FIRST, SECOND, SECOND]


def test_exact_level_compares_values_after_standardising():
    assert level_of(["exact"], " Smith ", "smith", standardise=["lower", "trim"]) == FIRST


# ------------------------------------------------------------------ null and else
@pytest.mark.parametrize("left, right", [(None, "smith"), ("smith", None), (None, None)])
def test_a_missing_value_on_either_side_is_the_null_level(left, right):
    assert level_of(["exact", {"type": "jaro_winkler", "threshold": 0.5}], left, right) == NULL


def test_a_value_standardised_to_nothing_counts_as_missing():
    assert level_of(["exact"], "--", "smith", standardise=["strip_punctuation"]) == NULL


def test_a_pair_meeting_no_level_is_the_else_level_one_past_the_last():
    levels = ["exact", {"type": "levenshtein", "max": 1}, {"type": "jaro_winkler", "threshold": 0.99}]
    kernel = kernel_for(levels, {"value": ["anna", "zebedee"]})
    assert kernel.else_level == len(levels) + 1
    assert kernel.levels_of_pairs(np.array([0]), np.array([1])).tolist() == [len(levels) + 1]


def test_levels_are_tried_strongest_first_and_the_first_that_holds_wins():
    # Equal values satisfy both levels; the first declared one is reported.
    weak_first = [{"type": "jaro_winkler", "threshold": 0.5}, "exact"]
    strong_first = ["exact", {"type": "jaro_winkler", "threshold": 0.5}]
    assert level_of(weak_first, "smith", "smith") == FIRST
    assert level_of(strong_first, "smith", "smith") == FIRST
    assert level_of(strong_first, "smith", "smyth") == SECOND


def test_levels_of_pairs_returns_small_unsigned_integers_one_per_pair():
    kernel = kernel_for(["exact"], {"value": ["a", "a", "b", None]})
    out = kernel.levels_of_pairs(np.array([0, 0, 0, 1]), np.array([1, 2, 3, 2]))
    assert out.dtype == np.uint8
    assert out.tolist() == [FIRST, SECOND, NULL, SECOND]


def test_the_same_pair_gives_the_same_level_in_a_batch_with_repeats():
    kernel = kernel_for([{"type": "jaro_winkler", "threshold": 0.9}], {"value": ["martha", "marhta", "zed"]})
    left, right = np.array([0, 1, 0, 2, 1, 0]), np.array([1, 0, 1, 0, 0, 2])
    assert kernel.levels_of_pairs(left, right).tolist() == [FIRST, FIRST, FIRST, SECOND, FIRST, SECOND]


# ------------------------------------------------------------------ string similarity
def test_jaro_winkler_level_holds_at_or_above_its_threshold():
    score = JaroWinkler.normalized_similarity("martha", "marhta")  # 0.961...
    assert level_of([{"type": "jaro_winkler", "threshold": 0.96}], "martha", "marhta") == FIRST
    assert level_of([{"type": "jaro_winkler", "threshold": 0.97}], "martha", "marhta") == SECOND
    assert 0.96 <= score < 0.97


def test_jaro_winkler_threshold_equal_to_the_score_counts_as_reached():
    # Winkler's textbook pair: DWAYNE / DUANE score exactly 0.84.
    assert JaroWinkler.normalized_similarity("dwayne", "duane") == pytest.approx(0.84, abs=1e-12)
    assert level_of([{"type": "jaro_winkler", "threshold": 0.84}], "dwayne", "duane") == FIRST


def test_jaro_threshold_equal_to_the_score_counts_as_reached():
    # abcd / abce: 3 of 4 characters match, Jaro = (3/4 + 3/4 + 1) / 3 = 5/6
    assert level_of([{"type": "jaro", "threshold": 5 / 6}], "abcd", "abce") == FIRST


def test_jaro_ignores_the_common_prefix_bonus_that_jaro_winkler_gives():
    # martha/marhta: Jaro 0.944, Jaro-Winkler 0.961.
    assert Jaro.normalized_similarity("martha", "marhta") < 0.95 < JaroWinkler.normalized_similarity("martha", "marhta")
    assert level_of([{"type": "jaro", "threshold": 0.95}], "martha", "marhta") == SECOND
    assert level_of([{"type": "jaro_winkler", "threshold": 0.95}], "martha", "marhta") == FIRST
    assert level_of([{"type": "jaro", "threshold": 0.94}], "martha", "marhta") == FIRST


def test_several_thresholds_of_one_similarity_split_pairs_into_bands():
    levels = [{"type": "jaro_winkler", "threshold": t} for t in (0.95, 0.85, 0.7)]
    pairs = [("martha", "marhta"), ("dixon", "dicksonx"), ("jones", "johnson"), ("abc", "xyz"), ("anna", "anna")]

    def band(a, b):
        score = JaroWinkler.normalized_similarity(a, b)
        return next((i for i, t in enumerate((0.95, 0.85, 0.7), start=1) if score >= t), 4)

    expected = [band(a, b) for a, b in pairs]
    assert levels_of(levels, pairs) == expected
    assert len(set(expected)) >= 3  # the pairs really do fall into different bands


# ------------------------------------------------------------------ edit distance
def test_transposition_is_one_damerau_edit_but_two_levenshtein_edits():
    assert level_of([{"type": "damerau_levenshtein", "max": 1}], "martha", "marhta") == FIRST
    assert level_of([{"type": "levenshtein", "max": 1}], "martha", "marhta") == SECOND
    assert level_of([{"type": "levenshtein", "max": 2}], "martha", "marhta") == FIRST


@pytest.mark.parametrize("kind", ["levenshtein", "damerau_levenshtein"])
def test_edit_distance_level_holds_up_to_its_maximum(kind):
    pairs = [("kitten", "kitten"), ("kitten", "sitten"), ("kitten", "sittin"), ("kitten", "sitting")]
    assert levels_of([{"type": kind, "max": 2}], pairs) == [FIRST, FIRST, FIRST, SECOND]


def test_edit_distance_of_zero_is_exact_equality():
    assert levels_of([{"type": "levenshtein", "max": 0}], [("ab", "ab"), ("ab", "abc")]) == [FIRST, SECOND]


# ------------------------------------------------------------------ tokens
def test_jaccard_compares_sets_of_words():
    # {a b c} vs {b c d}: 2 shared of 4 -> 0.5
    assert level_of([{"type": "jaccard", "threshold": 0.5}], "a b c", "c b d") == FIRST
    assert level_of([{"type": "jaccard", "threshold": 0.51}], "a b c", "c b d") == SECOND


def test_jaccard_ignores_word_order_and_repeated_words():
    assert level_of([{"type": "jaccard", "threshold": 1.0}], "high street north", "north high street") == FIRST
    assert level_of([{"type": "jaccard", "threshold": 1.0}], "new new york", "york new") == FIRST


def test_jaccard_of_values_sharing_no_word_is_the_else_level():
    assert level_of([{"type": "jaccard", "threshold": 0.1}], "a b", "c d") == SECOND


def test_jaccard_bands_use_the_true_token_overlap():
    levels = [{"type": "jaccard", "threshold": t} for t in (0.8, 0.5, 0.3)]
    pairs = [
        ("1 high st", "1 high st"),          # 1.0
        ("1 high st", "1 high road"),        # 2/4 = 0.5
        ("flat 2 high st", "2 high road"),   # 2/5 = 0.4
        ("a b c d e", "a x y z w"),          # 1/9
    ]
    assert levels_of(levels, pairs) == [1, 2, 3, 4]


# ------------------------------------------------------------------ dates
@pytest.mark.parametrize("other, unit, limit, expected", [
    ("1980-01-11", "days", 10, FIRST),
    ("1980-01-12", "days", 10, SECOND),
    ("1979-12-22", "days", 10, FIRST),
    ("1980-01-31", "months", 1, FIRST),      # 30 days
    ("1980-02-02", "months", 1, SECOND),     # 32 days
    ("1980-06-15", "months", 6, FIRST),
    ("1980-12-31", "years", 1, FIRST),
    ("1981-06-01", "years", 1, SECOND),
    ("1989-06-01", "years", 10, FIRST),
])
def test_date_diff_level_holds_within_its_distance_in_days_months_or_years(other, unit, limit, expected):
    level = {"type": "date_diff", "max": limit, "unit": unit}
    assert level_of([level], "1980-01-01", other) == expected


def test_date_diff_on_text_that_is_not_a_date_is_the_else_level():
    assert level_of([{"type": "date_diff", "max": 100}], "1980-01-01", "soon") == SECOND


def test_date_diff_after_parse_date_compares_dates_written_differently():
    level = [{"type": "date_diff", "max": 2}]
    assert level_of(level, "23/04/1980", "1980-04-24", standardise=["parse_date"]) == FIRST


def test_date_swap_recognises_day_and_month_written_the_other_way_round():
    swap = [{"type": "date_swap"}]
    assert level_of(swap, "1980-04-03", "1980-03-04") == FIRST
    assert level_of(swap, "1980-03-04", "1980-04-03") == FIRST


@pytest.mark.parametrize("other", ["1981-03-04", "1980-03-05", "1980-04-03"])
def test_date_swap_needs_the_same_year_and_a_real_swap(other):
    # Different year, not a swap, or identical (day == month is not a swap either).
    assert level_of([{"type": "date_swap"}], "1980-04-03", other) == SECOND


def test_date_swap_is_not_claimed_for_equal_day_and_month():
    assert level_of([{"type": "date_swap"}], "1980-05-05", "1980-05-05") == SECOND


def test_date_of_birth_template_orders_its_levels_as_documented():
    from linkwise.templates import date_of_birth

    spec = date_of_birth("dob")
    levels = spec["levels"]
    pairs = [
        ("1980-04-03", "1980-04-03"),  # exact
        ("1980-04-03", "1980-03-04"),  # day and month swapped
        ("1980-04-03", "1980-04-08"),  # one typing error
        ("1980-04-03", "1980-09-20"),  # within a year
        ("1980-04-03", "1987-01-01"),  # within ten years
        ("1980-04-03", "2001-01-01"),  # else
    ]
    assert levels_of(levels, pairs, standardise=spec["standardise"]) == [1, 2, 3, 4, 5, 6]


# ------------------------------------------------------------------ numbers
@pytest.mark.parametrize("other, expected", [("15", FIRST), ("5", FIRST), ("15.5", SECOND), ("-10", SECOND)])
def test_abs_diff_level_holds_up_to_its_maximum_difference(other, expected):
    assert level_of([{"type": "abs_diff", "max": 5}], "10", other) == expected


@pytest.mark.parametrize("other, expected", [("110", FIRST), ("91", FIRST), ("112", SECOND), ("0", SECOND)])
def test_rel_diff_is_the_difference_over_the_larger_magnitude(other, expected):
    # |100 - 110| / 110 = 0.09; |100 - 91| / 100 = 0.09; |100 - 112| / 112 = 0.107
    assert level_of([{"type": "rel_diff", "max": 0.1}], "100", other) == expected


def test_rel_diff_of_two_zeros_is_zero():
    assert level_of([{"type": "rel_diff", "max": 0.0}], "0", "0.0") == FIRST


def test_numbers_with_thousands_separators_are_read_as_numbers():
    assert level_of([{"type": "abs_diff", "max": 0}], "1,000", "1000") == FIRST


def test_numeric_level_on_text_that_is_not_a_number_is_the_else_level():
    assert level_of([{"type": "abs_diff", "max": 1000}], "ten", "11") == SECOND


# ------------------------------------------------------------------ prefix
def test_prefix_level_holds_when_the_first_characters_agree():
    levels = [{"type": "prefix", "length": 3}]
    assert levels_of(levels, [("SW1A1AA", "SW1B2BB"), ("SW1A", "SW2A"), ("SW", "SW"), ("SW", "SWX")]) == [
        FIRST, SECOND, FIRST, SECOND]


# ------------------------------------------------------------------ two-column comparisons
def full_name_kernel(first, last):
    levels = [
        "exact",
        "swapped",
        {"type": "exact", "columns": ["last"]},
        {"type": "exact", "columns": ["first"]},
    ]
    return kernel_for(levels, {"first": first, "last": last}, standardise=["lower"])


def test_two_column_comparison_recognises_swapped_first_and_last_names():
    kernel = full_name_kernel(["John", "Smith", "John"], ["Smith", "John", "Smith"])
    assert kernel.levels_of_pairs(np.array([0, 1, 0]), np.array([1, 0, 2])).tolist() == [SECOND, SECOND, FIRST]


def test_swapped_needs_both_names_present_on_both_sides():
    kernel = full_name_kernel(["John", "Smith"], ["Smith", None])
    assert kernel.levels_of_pairs(np.array([0]), np.array([1])).tolist() == [5]


def test_level_on_one_column_of_a_comparison_looks_at_that_column_only():
    kernel = full_name_kernel(["John", "Jane", "Jane", "Ann"], ["Smith", "Smith", "Brown", "Brown"])
    pairs_left, pairs_right = np.array([0, 1, 2]), np.array([1, 2, 3])
    # same surname / same first name / neither
    assert kernel.levels_of_pairs(pairs_left, pairs_right).tolist() == [THIRD, 4, THIRD]


def test_two_column_comparison_is_null_only_when_no_column_can_be_compared():
    kernel = full_name_kernel(["John", None, None, "Ann"], [None, "Smith", None, "Smith"])
    # John/- vs -/Smith: nothing comparable; -/Smith vs Ann/Smith: surnames agree; -/- vs anything: null.
    out = kernel.levels_of_pairs(np.array([0, 1, 2]), np.array([1, 3, 3])).tolist()
    assert out == [NULL, THIRD, NULL]


def test_a_level_on_all_columns_fails_when_one_column_is_missing():
    kernel = full_name_kernel(["John", "John"], ["Smith", None])
    # Exact on both columns cannot hold; exact on the first name alone does.
    assert kernel.levels_of_pairs(np.array([0]), np.array([1])).tolist() == [4]


# ------------------------------------------------------------------ several comparisons
def test_compare_pairs_stacks_one_column_of_levels_per_comparison():
    k_name = kernel_for(["exact"], {"value": ["ann", "ann", "bob"]})
    k_town = kernel_for(["exact"], {"value": ["york", "leeds", "york"]})
    matrix = compare_pairs([k_name, k_town], np.array([0, 0]), np.array([1, 2]))
    assert matrix.dtype == np.uint8
    assert matrix.tolist() == [[FIRST, SECOND], [SECOND, FIRST]]


def test_pairs_compared_in_batches_get_the_levels_of_one_batch_and_a_value_pair_met_again_is_not_worked_out_again(monkeypatch):
    values = ["jon", "john", "jon", "john", "joan", None, "jon", "ann"]
    kernel = kernel_for(["exact", {"type": "jaro_winkler", "threshold": 0.8}], {"value": values})
    left = np.array([0, 2, 6, 0, 4, 5, 1, 7, 0, 3], dtype=np.int32)
    right = np.array([1, 3, 1, 2, 1, 0, 3, 4, 7, 6], dtype=np.int32)
    whole = kernel.levels_of_pairs(left, right)
    worked_out = []
    real = kernel.levels_of_tuples
    kernel.levels_of_tuples = lambda a, b: worked_out.extend(zip(a.tolist(), b.tolist())) or real(a, b)
    monkeypatch.setattr(compare, "cache_entries", lambda n_pairs: 1 << 10)  # room for every pair here
    assert kernel.levels_of_pairs(left, right, batch=3).tolist() == whole.tolist()
    # (jon, john) comes three times in three batches, (jon, jon) twice: each worked out once.
    assert len(worked_out) == len(set(worked_out)) == 6
    # A cache of one entry forgets nearly everything: the same levels, more work.
    monkeypatch.setattr(compare, "cache_entries", lambda n_pairs: 1)
    worked_out.clear()
    assert kernel.levels_of_pairs(left, right, batch=3).tolist() == whole.tolist()
    assert len(worked_out) > 6


def test_compare_pairs_in_batches_reports_progress_in_pairs():
    k_name = kernel_for(["exact"], {"value": ["ann", "ann", "bob", "ann"]})
    k_town = kernel_for(["exact"], {"value": ["york", "leeds", "york", "york"]})
    left, right = np.array([0, 0, 1, 2, 0]), np.array([1, 2, 3, 3, 3])
    done = []
    matrix = compare_pairs([k_name, k_town], left, right, batch=2, progress=done.append)
    assert matrix.tolist() == compare_pairs([k_name, k_town], left, right).tolist()
    assert sum(done) == pytest.approx(len(left))


def test_dense_codes_numbers_keys_in_order_of_first_appearance():
    distinct, index = dense_codes(np.array([7, 3, 7, 9, 3]))
    assert distinct.tolist() == [7, 3, 9]
    assert index.tolist() == [0, 1, 0, 2, 1]


# ------------------------------------------------------------------ sampling pairs
def test_sample_pairs_is_the_same_for_the_same_seed():
    first = sample_pairs(500, 300, seed=11)
    again = sample_pairs(500, 300, seed=11)
    other = sample_pairs(500, 300, seed=12)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_sample_pairs_gives_left_below_right_within_range():
    left, right = sample_pairs(200, 1000, seed=3)
    assert len(left) == len(right) == 1000
    assert (left < right).all()
    assert left.min() >= 0 and right.max() < 200


def test_sample_pairs_returns_every_pair_once_when_fewer_exist_than_asked():
    left, right = sample_pairs(6, 1000, seed=1)
    assert sorted(zip(left.tolist(), right.tolist())) == [(i, j) for i in range(6) for j in range(i + 1, 6)]


@pytest.mark.parametrize("n_records", [0, 1])
def test_sample_pairs_of_fewer_than_two_records_is_empty(n_records):
    left, right = sample_pairs(n_records, 10, seed=1)
    assert len(left) == len(right) == 0


def test_sample_pairs_in_link_mode_only_pairs_records_of_different_sources():
    sources = np.array([0] * 150 + [1] * 150, dtype=np.int16)
    left, right = sample_pairs(300, 500, seed=2, source_codes=sources, link_type="link")
    assert len(left) > 0
    assert (sources[left] != sources[right]).all()
    assert (left < right).all()


def test_sample_pairs_in_link_mode_with_few_records_gives_all_cross_source_pairs():
    sources = np.array([0, 0, 1, 1, 1], dtype=np.int16)
    left, right = sample_pairs(5, 100, seed=2, source_codes=sources, link_type="link")
    assert sorted(zip(left.tolist(), right.tolist())) == [(i, j) for i in (0, 1) for j in (2, 3, 4)]


def test_sample_pairs_in_dedupe_mode_ignores_sources():
    sources = np.array([0] * 10 + [1] * 10, dtype=np.int16)
    left, right = sample_pairs(20, 1000, seed=2, source_codes=sources, link_type="dedupe")
    assert len(left) == 20 * 19 // 2
    assert (sources[left] == sources[right]).any()


def test_sample_pairs_are_distinct():
    left, right = sample_pairs(100, 1000, seed=1)
    assert len(set(zip(left.tolist(), right.tolist()))) == len(left) == 1000


def test_sample_pairs_in_link_mode_returns_as_many_pairs_as_asked_when_enough_exist():
    sources = np.array([0] * 95 + [1] * 5, dtype=np.int16)  # 475 cross-source pairs exist
    left, right = sample_pairs(100, 200, seed=1, source_codes=sources, link_type="link")
    assert len(left) == 200
