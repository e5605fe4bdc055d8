"""Specification tests for linkwise.standardise (cleaning steps and column encoding)."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwise import standardise as _std
from linkwise.errors import SettingsError
from linkwise.settings import STANDARDISERS, Standardiser
from linkwise.standardise import apply_steps, parse_date_value, parse_steps, standardise_column


def clean(values, *steps):
    """Apply the named standardisers to a list of strings and return a list."""
    return apply_steps(pa.array(values, type=pa.string()), parse_steps(list(steps))).to_pylist()


# ------------------------------------------------------------------ case and spaces
def test_lower_and_upper_change_case_of_every_letter_including_accented_ones():
    assert clean(["McDonald", "ÉLODIE", "abc123"], "lower") == ["mcdonald", "élodie", "abc123"]
    assert clean(["McDonald", "élodie", "abc123"], "upper") == ["MCDONALD", "ÉLODIE", "ABC123"]


def test_trim_strips_the_ends_and_collapses_inner_whitespace_to_one_space():
    assert clean(["  Mary   Ann  ", "a\t\tb\nc", "single"], "trim") == ["Mary Ann", "a b c", "single"]


def test_remove_spaces_removes_every_kind_of_whitespace():
    assert clean(["SW1A 1AA", " a b\tc\nd "], "remove_spaces") == ["SW1A1AA", "abcd"]


def test_strip_punctuation_joins_across_apostrophes_and_dots():
    assert clean(["O'Brien", "O’Brien", "St. John", "J.R.R."], "strip_punctuation") == [
        "OBrien", "OBrien", "St John", "JRR"]


def test_strip_punctuation_turns_other_marks_into_word_breaks():
    assert clean(["Smith-Jones", "a,b;c", "Anne (Annie)", "x & y"], "strip_punctuation") == [
        "Smith Jones", "a b c", "Anne Annie", "x y"]


def test_strip_punctuation_keeps_letters_and_digits_of_any_script():
    assert clean(["Müller-Lüdenscheidt 2", "Δήμος!"], "strip_punctuation") == ["Müller Lüdenscheidt 2", "Δήμος"]


def test_fold_accents_removes_diacritics_but_keeps_the_base_letters():
    assert clean(["José", "Zoë", "Ñandú", "Łukasz"], "fold_accents") == ["Jose", "Zoe", "Nandu", "Łukasz"]


def test_the_name_cleaning_chain_from_the_module_example():
    steps = ["fold_accents", "lower", "strip_punctuation", "trim"]
    assert clean([" José  O'Brien "], *steps) == ["jose obrien"]


# ------------------------------------------------------------------ keeping parts
def test_digits_only_keeps_ascii_digits():
    assert clean(["(020) 7946-0958", "+44 7700 900123"], "digits_only") == ["02079460958", "447700900123"]


def test_letters_only_keeps_letters_of_any_script():
    assert clean(["Ab1 c-2", "Zoë 3"], "letters_only") == ["Abc", "Zoë"]


def test_first_n_and_last_n_keep_that_many_characters():
    assert clean(["abcdef", "ab", "éabc"], {"first_n": 3}) == ["abc", "ab", "éab"]
    assert clean(["abcdef", "ab", "abcé"], {"last_n": 3}) == ["def", "ab", "bcé"]


def test_email_local_part_keeps_what_comes_before_the_at_sign():
    assert clean(["Jane.Doe@example.org", "no-at-sign", "a@b@c"], "email_local_part") == [
        "Jane.Doe", "no-at-sign", "a"]


def test_sort_tokens_orders_words_so_that_word_order_does_not_matter():
    assert clean(["smith john", "john smith", "c  a\tb"], "sort_tokens") == ["john smith", "john smith", "a b c"]


# ------------------------------------------------------------------ phonetic keys
def test_soundex_gives_names_that_sound_alike_the_same_code():
    assert clean(["Robert", "Rupert", "Smith", "Smyth", "Ashcraft"], "soundex") == [
        "R163", "R163", "S530", "S530", "A261"]


def test_metaphone_codes_sounds_not_spellings():
    assert clean(["Knight", "Night", "Philip", "Filip", "Catherine", "Kathryn"], "metaphone") == [
        "NT", "NT", "FLP", "FLP", "K0RN", "K0RN"]


def test_nysiis_gives_spelling_variants_the_same_code():
    assert clean(["Macintosh", "Mackintosh", "Knight", "Night", "Philip", "Filip"], "nysiis") == [
        "MCANT", "MCANT", "NAGT", "NAGT", "FALAP", "FALAP"]


# ------------------------------------------------------------------ dates
@pytest.mark.parametrize("text", [
    "1980-04-23",
    "1980/04/23",
    "1980.4.23",
    "19800423",
    "04/23/1980",
    "4-23-1980",
    "23.04.1980",
    "23/04/1980",
    "23 Apr 1980",
    "23 April 1980",
    "23-apr-1980",
    "Apr 23, 1980",
    "April 23rd 1980",
    "  1980-04-23  ",
    "1980-04-23 10:30:00",
])
def test_parse_date_reads_common_formats_as_iso(text):
    assert parse_date_value(text) == "1980-04-23"


def test_parse_date_reads_the_examples_of_the_brief():
    assert parse_date_value("12 Jan 1980") == "1980-01-12"
    assert parse_date_value("Jan 12, 1980") == "1980-01-12"


def test_parse_date_reads_an_iso_timestamp_with_a_t_separator():
    assert parse_date_value("1980-04-23T10:30:00") == "1980-04-23"


@pytest.mark.parametrize("text", [
    "1980-02-30",   # no such day
    "1981-02-29",   # not a leap year
    "13/13/1980",   # no such month either way round
    "1980-13-01",
    "32 Jan 1980",
    "12 Foo 1980",
    "hello",
    "",
    "   ",
    "12/1980",
])
def test_parse_date_gives_null_for_invalid_dates(text):
    assert parse_date_value(text) is None


def test_parse_date_accepts_february_29_in_a_leap_year():
    assert parse_date_value("1980-02-29") == "1980-02-29"


def test_order_decides_whether_an_ambiguous_date_is_day_or_month_first():
    assert parse_date_value("03/04/1980", "mdy") == "1980-03-04"
    assert parse_date_value("03/04/1980", "dmy") == "1980-04-03"


def test_auto_order_reads_month_first_unless_the_first_number_cannot_be_a_month():
    assert parse_date_value("03/04/1980", "auto") == "1980-03-04"
    assert parse_date_value("23/04/1980", "auto") == "1980-04-23"


def test_mdy_order_rejects_a_date_whose_month_would_be_thirteen_or_more():
    assert parse_date_value("23/04/1980", "mdy") is None


def test_dmy_order_rejects_a_date_whose_month_would_be_thirteen_or_more():
    assert parse_date_value("04/23/1980", "dmy") is None


def test_two_digit_years_below_thirty_are_this_century():
    assert parse_date_value("03/04/29", "mdy") == "2029-03-04"
    assert parse_date_value("03/04/30", "mdy") == "1930-03-04"
    assert parse_date_value("03/04/80", "dmy") == "1980-04-03"


def test_order_does_not_change_dates_written_with_a_month_name_or_year_first():
    for order in ("auto", "ymd", "dmy", "mdy"):
        assert parse_date_value("12 Jan 1980", order) == "1980-01-12"
        assert parse_date_value("1980-01-12", order) == "1980-01-12"


def test_parse_date_standardiser_uses_its_order_argument():
    assert clean(["03/04/1980", "bad", None], {"parse_date": "dmy"}) == ["1980-04-03", None, None]
    assert clean(["03/04/1980"], {"parse_date": "mdy"}) == ["1980-03-04"]
    assert clean(["03/04/1980"], "parse_date") == ["1980-03-04"]


# ------------------------------------------------------------------ nulls and empties
@pytest.mark.parametrize("name", sorted(STANDARDISERS))
def test_every_standardiser_keeps_nulls_null(name):
    step = {name: 2} if STANDARDISERS[name] is int else name
    assert clean([None, None], step) == [None, None]


@pytest.mark.parametrize("step, value", [
    ("trim", "   "),
    ("remove_spaces", " \t "),
    ("strip_punctuation", "--!?"),
    ("digits_only", "abc"),
    ("letters_only", "123 456"),
    ("email_local_part", "@example.org"),
    ("sort_tokens", "   "),
    ("parse_date", "not a date"),
    ("lower", ""),
])
def test_a_value_cleaned_to_nothing_becomes_null(step, value):
    assert clean([value, "keep 1a@b"], step)[0] is None


def test_rarest_words_keep_the_rarest_words_that_another_value_shares():
    titles = ["efficient query processing", "query processing on streams", "efficient joins on streams",
              "stream query processing", "qyery"]
    # 'joins', 'stream' and 'qyery' (a typing error) are held by one value only: never a key.
    # 'query' and 'processing' are in three values, the other words in two.
    assert clean(titles, {"rarest_words": 1}) == ["efficient", "on", "efficient", "processing", None]
    assert clean(titles, {"rarest_words": 2}) == [
        "efficient processing", "on streams", "efficient on", "processing query", None,
    ]


def test_rarest_words_break_ties_alphabetically_so_keys_do_not_depend_on_row_order():
    forward = clean(["b a", "a b", "c a b"], {"rarest_words": 1})
    backward = clean(["c a b", "a b", "b a"], {"rarest_words": 1})
    assert forward == backward[::-1]


def test_standardisers_apply_in_the_order_given():
    assert clean(["Abcdef"], "lower", {"first_n": 2}) == ["ab"]
    assert clean(["  Abcdef"], {"first_n": 3}, "trim") == ["A"]
    assert clean(["  Abcdef"], "trim", {"first_n": 3}) == ["Abc"]


def test_non_string_input_is_cast_to_text_first():
    values = apply_steps(pa.array([1980, None, 7]), parse_steps([{"first_n": 2}]))
    assert values.to_pylist() == ["19", None, "7"]


def test_parse_steps_accepts_names_and_one_key_mappings_and_rejects_unknown_ones():
    assert parse_steps(["lower", {"first_n": 3}]) == (Standardiser("lower"), Standardiser("first_n", 3))
    with pytest.raises(SettingsError, match="Did you mean 'soundex'"):
        parse_steps(["sondex"])


# ------------------------------------------------------------------ encoding a column
def test_standardise_column_codes_each_row_by_its_cleaned_value():
    codes, values = standardise_column(pa.array(["b", "A", "a", None, "c", "  "]), parse_steps(["lower", "trim"]))
    assert values.to_pylist() == ["a", "b", "c"]
    assert codes.tolist() == [1, 0, 0, -1, 2, -1]
    assert codes.dtype == np.int32


def test_standardise_column_code_k_means_the_kth_value():
    raw = ["Smith", " smith", "JONES", None, "Brown ", "jones", ""]
    codes, values = standardise_column(pa.array(raw), parse_steps(["lower", "trim"]))
    expected = clean(raw, "lower", "trim")
    decoded = [None if c < 0 else values[c].as_py() for c in codes]
    assert decoded == expected


def test_standardise_column_values_are_sorted_and_distinct():
    _, values = standardise_column(pa.array(["pear", "apple", "fig", "apple", "Pear"]), parse_steps(["lower"]))
    assert values.to_pylist() == ["apple", "fig", "pear"]


def test_standardise_column_codes_do_not_depend_on_row_order():
    rng = random.Random(5)
    raw = [rng.choice(["Ann", "ann ", "Bob", "bob", "Cy", None, "  ", "Dee", "dee"]) for _ in range(60)]
    steps = parse_steps(["lower", "trim"])
    codes, values = standardise_column(pa.array(raw), steps)
    code_of = dict(zip(raw, codes.tolist()))
    for _ in range(5):
        order = list(range(len(raw)))
        rng.shuffle(order)
        shuffled = [raw[i] for i in order]
        codes_shuffled, values_shuffled = standardise_column(pa.array(shuffled), steps)
        assert values_shuffled.equals(values)
        assert codes_shuffled.tolist() == [code_of[v] for v in shuffled]


def test_standardise_column_accepts_chunked_and_non_string_columns():
    column = pa.chunked_array([pa.array([3, 1]), pa.array([None, 3])])
    codes, values = standardise_column(column, ())
    assert values.to_pylist() == ["1", "3"]
    assert codes.tolist() == [1, 0, -1, 1]


def test_standardise_column_of_only_nulls_has_no_values():
    codes, values = standardise_column(pa.array([None, None], type=pa.string()), parse_steps(["lower"]))
    assert codes.tolist() == [-1, -1]
    assert len(values) == 0


# -- printable ASCII takes a compiled path that must agree with the general one ----
printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), printable), min_size=1, max_size=30))
def test_byte_rules_on_printable_ascii_equal_the_regular_expressions(values):
    array = pa.array(values, type=pa.string())
    pairs = [
        (_std._trim, _std._trim_general),
        (_std._strip_punctuation, _std._strip_punctuation_general),
        (_std._STEPS["digits_only"], _std._regex(r"[^0-9]", "")),
        (_std._STEPS["remove_spaces"], _std._regex(r"\s+", "")),
    ]
    for fast, general in pairs:
        assert fast(array, None).to_pylist() == general(array, None).to_pylist()


def test_text_beyond_printable_ascii_takes_the_general_path():
    array = pa.array(["  Zoë\tO'Brien ", "a\x0bb", None])
    assert _std._trim(array, None).to_pylist() == _std._trim_general(array, None).to_pylist()
    assert _std._fold_accents(array, None).to_pylist()[0] == "  Zoe\tO'Brien "


def test_encoding_text_in_dictionary_form_keeps_only_the_values_in_use_and_nulls_missing():
    from linkwise.standardise import encode_column

    first = pa.DictionaryArray.from_arrays(pa.array([0, None, 2, 0], pa.int32()), pa.array(["ann", "unused", "bob"]))
    second = pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int32()), pa.array([None, "cy"]))
    codes, values = encode_column(pa.chunked_array([first, second]))
    decoded = [None if c < 0 else values[int(c)].as_py() for c in codes]
    assert decoded == ["ann", None, "bob", "ann", "cy", None]
    assert sorted(values.to_pylist()) == ["ann", "bob", "cy"]
