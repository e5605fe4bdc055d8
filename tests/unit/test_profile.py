"""Profiling: statistics per column and roles detected from names and values, on generated columns."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from linkwise.profile import date_order, name_words, profile_table

N = 600
RNG = np.random.default_rng(11)
FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin"]
STREETS = ["Main Street", "Oak Avenue", "Park Road", "Maple Drive", "Cedar Lane", "Pine Court", "Elm Place"]
CITIES = ["Springfield", "Riverside", "Franklin", "Greenville", "Bristol", "Clinton", "Fairview", "Salem"]
WORDS = ["efficient", "query", "processing", "distributed", "databases", "index", "streams", "learning",
         "transactions", "optimization", "semantic", "integration", "mining", "xml", "graphs", "privacy"]


def pick(values, n=N, nulls=0.0):
    out = [values[i] for i in RNG.integers(0, len(values), n)]
    return [None if RNG.random() < nulls else v for v in out]


def dates(fmt, n=N):
    days = RNG.integers(0, 25_000, n)
    base = np.datetime64("1940-01-01")
    out = []
    for d in days:
        y, m, dd = str(base + int(d)).split("-")
        out.append(fmt.format(y=y, m=m, d=dd))
    return out


def generated() -> pa.Table:
    first, last = pick(FIRST), pick(LAST)
    return pa.table({
        "record_id": [f"R{i:06d}" for i in range(N)],
        "cluster": [str(i // 3) for i in range(N)],
        "source": pick(["crm", "billing", "web"]),
        "first_name": first,
        "surname": last,
        "full_name": [f"{a} {b}" for a, b in zip(first, last)],
        "dob": dates("{y}-{m}-{d}"),
        "birth": dates("{d}/{m}/{y}"),
        "zip": [f"{z:05d}" for z in RNG.integers(1000, 99999, N)],
        "email": [f"{a.lower()}.{b.lower()}{i}@example.org" for i, (a, b) in enumerate(zip(first, last))],
        "phone": [f"({a}) {b}-{c:04d}" for a, b, c in zip(RNG.integers(200, 999, N), RNG.integers(200, 999, N), RNG.integers(0, 9999, N))],
        "address": [f"{n} {s}" for n, s in zip(RNG.integers(1, 9999, N), pick(STREETS))],
        "city": pick(CITIES),
        "state": pick(["CA", "NY", "TX", "WA", "FL"]),
        "gender": pick(["M", "F"]),
        "title": [" ".join(pick(WORDS, n=6)).capitalize() for _ in range(N)],
        "price": [f"{p:.2f}" for p in RNG.uniform(1, 900, N)],
        "year": [str(y) for y in RNG.integers(1990, 2020, N)],
        "national_id": [f"{v:07d}" for v in RNG.integers(0, 10**7, N // 2)] * 2,
        "colour": pick(["red", "green", "blue", "black"]),
        "empty": [None] * N,
        "constant": ["x"] * N,
    })


@pytest.fixture(scope="module")
def profile():
    return profile_table(generated())


@pytest.mark.parametrize("column, role", [
    ("record_id", "id_like"),
    ("cluster", "id_like"),
    ("source", "source"),
    ("first_name", "given_name"),
    ("surname", "surname"),
    ("full_name", "full_name"),
    ("dob", "date_of_birth"),
    ("birth", "date_of_birth"),
    ("zip", "postal_code"),
    ("email", "email"),
    ("phone", "phone"),
    ("address", "street_address"),
    ("city", "city"),
    ("state", "state"),
    ("gender", "sex"),
    ("title", "text"),
    ("price", "numeric"),
    ("year", "year"),
    ("national_id", "identifier"),
    ("colour", "categorical"),
    ("empty", "empty"),
    ("constant", "constant"),
])
def test_role_of_each_generated_column_comes_from_its_name_and_values(profile, column, role):
    assert profile.column(column).role == role, profile.column(column).reason


@pytest.mark.parametrize("values, role", [
    (lambda: [f"user{i}@mail.example.com" for i in range(N)], "email"),
    (lambda: dates("{y}-{m}-{d}"), "date"),
    (lambda: [f"+1 ({a}) 555-{b:04d}" for a, b in zip(RNG.integers(200, 999, N), RNG.integers(0, 9999, N))], "phone"),
    (lambda: [f"{n} {s}" for n, s in zip(RNG.integers(1, 999, N), pick(STREETS))], "street_address"),
    (lambda: pick(["SW1A 1AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT"]), "postal_code"),
    (lambda: [" ".join(pick(WORDS, n=7)) for _ in range(N)], "text"),
])
def test_values_alone_give_the_role_when_the_name_says_nothing(values, role):
    table = pa.table({"column_7": values()})
    assert profile_table(table).column("column_7").role == role


def test_a_name_that_values_contradict_does_not_decide_the_role():
    # Named like a date of birth, but holding e-mail addresses.
    table = pa.table({"dob": [f"a{i}@b.org" for i in range(N)]})
    assert profile_table(table).column("dob").role == "email"


def test_statistics_count_nulls_distinct_values_and_common_values():
    table = pa.table({"city": ["Oslo", "Oslo", "Bergen", None, "  ", "Oslo"]})
    col = profile_table(table).column("city")
    assert (col.rows, col.nulls, col.distinct) == (6, 2, 2)  # blank text counts as missing
    assert col.top_values[0] == ("Oslo", 3)
    assert col.null_rate == pytest.approx(2 / 6)
    assert col.top_share == pytest.approx(3 / 4)
    assert (col.min_length, col.max_length) == (4, 6)


def test_skew_is_one_for_evenly_spread_values_and_grows_with_a_dominant_value():
    even = profile_table(pa.table({"c": [str(i % 10) for i in range(1000)]})).column("c")
    skewed = profile_table(pa.table({"c": ["0"] * 900 + [str(i) for i in range(100)]})).column("c")
    assert even.skew == pytest.approx(1.0)
    assert skewed.skew > 50


def test_day_first_dates_are_recognised_as_day_first():
    assert date_order(["03/04/1980", "23/04/1980"]) == "dmy"
    assert date_order(["04/23/1980", "03/04/1980"]) == "mdy"
    assert date_order(["03/04/1980", "1980-04-23"]) == "auto"


def test_column_names_split_into_words_whatever_their_style():
    assert name_words("dateOfBirth") == ["date", "of", "birth"]
    assert name_words("first_name") == ["first", "name"]
    assert name_words("Address Line1") == ["address", "line", "1"]


def test_keys_unique_within_each_source_but_shared_between_them_are_evidence_not_record_keys():
    table = pa.table({
        "id": [f"a{i}" for i in range(300)] + [f"b{i}" for i in range(300)],
        "ssn": [f"{i:07d}" for i in range(300)] * 2,
    })
    sources = np.repeat([0, 1], 300)
    profile = profile_table(table, sources=sources, source_names=["a", "b"])
    assert profile.column("id").role == "id_like"
    assert profile.column("ssn").role == "identifier"


def test_profile_renders_as_a_table_for_people_and_as_json_for_machines(profile):
    text = profile.to_text()
    assert "first_name" in text and "given_name" in text and "nulls" in text
    document = json.loads(profile.to_json())
    first = next(c for c in document["columns"] if c["name"] == "first_name")
    assert first["role"] == "given_name" and first["top_values"][0]["share"] > 0
