"""Specification tests for linkwise.datasets (synthetic people with known truth)."""

from __future__ import annotations

import itertools
import random
import re
import time
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pytest

from linkwise.datasets import PEOPLE_COLUMNS, people, people_link
from linkwise.errors import LinkwiseError, SettingsError

FIELDS = [c for c in PEOPLE_COLUMNS if c not in ("record_id", "entity_id", "source")]


def _norm(v):
    return None if v is None else re.sub(r"[^a-z0-9]", "", v.lower())


def _digits(v):
    return None if v is None else re.sub(r"\D", "", v)[-10:]


def _by_entity(table: pa.Table) -> dict[str, list[dict]]:
    groups = defaultdict(list)
    for row in table.to_pylist():
        groups[row["entity_id"]].append(row)
    return groups


def _pairs(groups):
    for rows in groups.values():
        yield from itertools.combinations(rows, 2)


@pytest.fixture(scope="module")
def noisy() -> pa.Table:
    return people(4_000, seed=11)


@pytest.fixture(scope="module")
def clean() -> pa.Table:
    return people(4_000, seed=11, noise=0)


# ---------------------------------------------------------------- shape and determinism
def test_people_is_deterministic_for_a_seed():
    assert people(1_500, seed=5).equals(people(1_500, seed=5))
    a1, b1 = people_link(1_500, seed=5)
    a2, b2 = people_link(1_500, seed=5)
    assert a1.equals(a2) and b1.equals(b2)


def test_different_seeds_give_different_data():
    a, b = people(1_500, seed=1), people(1_500, seed=2)
    assert a.column("record_id").equals(b.column("record_id"))  # ids run down the rows
    for col in ("first_name", "last_name", "dob", "email"):
        assert not a.column(col).equals(b.column(col))


def test_generator_leaves_global_random_state_alone():
    np.random.seed(0)
    random.seed(0)
    before = (np.random.get_state()[1].copy(), random.getstate())
    first = people(500, seed=3)
    np.random.seed(123)
    random.seed(123)
    assert people(500, seed=3).equals(first)
    np.random.seed(0)
    random.seed(0)
    people(500, seed=3)
    assert (np.random.get_state()[1] == before[0]).all() and random.getstate() == before[1]


@pytest.mark.parametrize("n", [0, 1, 2, 7, 2_345])
def test_people_has_requested_rows_and_columns_all_strings(n):
    table = people(n, seed=4)
    assert table.num_rows == n
    assert tuple(table.column_names) == PEOPLE_COLUMNS
    assert all(t == pa.string() for t in table.schema.types)
    table.validate(full=True)


def test_record_ids_are_unique_and_entities_have_duplicates(noisy):
    ids = noisy.column("record_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert ids[:2] == ["R0000001", "R0000002"]
    assert all(re.fullmatch(r"E\d{6}", e) for e in noisy.column("entity_id").to_pylist())
    sizes = Counter(noisy.column("entity_id").to_pylist()).values()
    assert sum(s == 1 for s in sizes) > 0 and sum(s >= 2 for s in sizes) > 0


def test_cluster_sizes_look_like_a_dedupe_workload(noisy):
    sizes = np.array(list(Counter(noisy.column("entity_id").to_pylist()).values()))
    assert 0.4 < (sizes == 1).mean() < 0.6  # about half the people are singletons
    mean_records = sizes.mean()  # two records a person on average
    assert mean_records > 1.7 and mean_records < 2.3
    assert 8 <= sizes.max() <= 15


def test_rows_are_shuffled(noisy):
    entities = noisy.column("entity_id").to_pylist()
    adjacent_same = sum(a == b for a, b in zip(entities, entities[1:]))
    assert adjacent_same < 0.01 * len(entities)


def test_no_missing_ids_and_sources_are_a_few_systems(noisy):
    for col in ("record_id", "entity_id", "source"):
        assert noisy.column(col).null_count == 0
    sources = Counter(noisy.column("source").to_pylist())
    assert 2 <= len(sources) <= 6 and min(sources.values()) > 100


# -------------------------------------------------------------------------- the values
def test_values_look_like_us_people(noisy):
    rows = noisy.to_pylist()
    sex = Counter(r["sex"] for r in rows if r["sex"] is not None)
    assert set(sex) == {"M", "F"} and min(sex.values()) > 0.4 * sum(sex.values())
    dobs = [r["dob"] for r in rows if r["dob"] is not None]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dobs)
    assert all(1900 <= int(d[:4]) <= 2015 for d in dobs)
    zips = [r["zip"] for r in rows if r["zip"] is not None]
    assert sum(bool(re.fullmatch(r"\d{5}", z)) for z in zips) > 0.9 * len(zips)
    assert any(z.startswith("0") for z in zips)  # e.g. New England
    phones = [_digits(r["phone"]) for r in rows if r["phone"] is not None]
    assert sum(len(p) == 10 for p in phones) > 0.99 * len(phones)  # a few typos drop a digit
    assert all("@" in e for e in (r["email"] for r in rows) if e is not None)
    addresses = [r["address"] for r in rows if r["address"] is not None]
    assert sum(bool(re.match(r"\s*\d+ \w", a)) for a in addresses) > 0.98 * len(addresses)
    states = {r["state"] for r in rows if r["state"] is not None}
    assert len(states) > 30
    names = Counter(r["last_name"] for r in rows)
    assert names.most_common(1)[0][1] > 40  # Zipf-like: common names recur


def test_missing_values_are_realistic(noisy):
    share = {c: noisy.column(c).null_count / noisy.num_rows for c in FIELDS}
    assert 0.3 < share["middle_name"] < 0.5
    assert 0.12 < share["phone"] < 0.3
    assert 0.15 < share["email"] < 0.35
    for col in ("first_name", "last_name", "dob", "sex", "address", "city", "state", "zip"):
        assert 0.001 < share[col] < 0.08, col


def test_phone_formats_vary(noisy):
    shapes = {re.sub(r"\d", "9", p) for p in noisy.column("phone").to_pylist() if p}
    assert {"(999) 999-9999", "999-999-9999", "9999999999", "+9 999 999 9999"} <= shapes


def test_emails_are_built_from_names_and_unique_per_person(clean):
    owner = {}
    from_name = 0
    rows = [r for r in clean.to_pylist() if r["email"]]
    for r in rows:
        assert owner.setdefault(r["email"], r["entity_id"]) == r["entity_id"]
        local = _norm(r["email"].split("@")[0])
        from_name += bool(r["last_name"]) and _norm(r["last_name"])[:4] in local
    assert from_name > 0.6 * len(rows)


# ------------------------------------------------------------------ duplicates and noise
def test_duplicates_are_noisy_but_recognisable(noisy):
    pairs = list(_pairs(_by_entity(noisy)))
    assert len(pairs) > 500
    recognisable = sum(_norm(a["last_name"]) == _norm(b["last_name"]) or a["dob"] == b["dob"]
                       for a, b in pairs)
    assert recognisable > 0.9 * len(pairs)
    identical = sum(all(a[c] == b[c] for c in FIELDS) for a, b in pairs)
    assert identical < 0.3 * len(pairs)
    for col in set(FIELDS) - {"sex"}:  # every field but sex (rarely wrong) varies somewhere
        assert sum(bool(a[col] and b[col] and a[col] != b[col]) for a, b in pairs) > 5, col


def test_duplicates_show_the_documented_corruptions(noisy):
    pairs = list(_pairs(_by_entity(noisy)))

    def seen(test):
        return any(test(a, b) or test(b, a) for a, b in pairs)

    nicknames = {("robert", "bob"), ("william", "bill"), ("james", "jim"), ("michael", "mike"),
                 ("richard", "rick"), ("thomas", "tom"), ("joseph", "joe"), ("john", "jack"),
                 ("elizabeth", "liz"), ("elizabeth", "beth"), ("patricia", "pat"),
                 ("jennifer", "jen"), ("margaret", "peggy"), ("katherine", "kate")}
    checks = {
        "nickname": lambda a, b: (_norm(a["first_name"]), _norm(b["first_name"])) in nicknames,
        "initial": lambda a, b: bool(a["first_name"] and b["first_name"]) and
        len(_norm(a["first_name"])) == 1 and len(_norm(b["first_name"])) > 1,
        "swapped names": lambda a, b: bool(a["first_name"] and b["last_name"]) and
        a["first_name"] == b["last_name"] and a["last_name"] == b["first_name"],
        "day/month swap": lambda a, b: bool(a["dob"] and b["dob"]) and a["dob"] != b["dob"] and
        a["dob"][:4] == b["dob"][:4] and a["dob"][5:7] == b["dob"][8:] and
        a["dob"][8:] == b["dob"][5:7],
        "street type": lambda a, b: bool(a["address"] and b["address"]) and
        a["address"].endswith(" Street") and b["address"].endswith(" St") and
        a["address"][:-7] == b["address"][:-3],
        "leading zero": lambda a, b: bool(a["zip"] and b["zip"]) and
        a["zip"].startswith("0") and a["zip"][1:] == b["zip"],
        "upper-case email": lambda a, b: bool(a["email"] and b["email"]) and
        a["email"] != b["email"] and a["email"].upper() == b["email"],
        "moved": lambda a, b: bool(a["city"] and b["city"]) and a["city"] != b["city"] and
        _norm(a["city"]) != _norm(b["city"]),
    }
    for name, test in checks.items():
        assert seen(test), name


def test_noise_zero_gives_clean_duplicates(clean):
    for rows in _by_entity(clean).values():
        assert all(r[c] == rows[0][c] for r in rows for c in FIELDS)


def test_more_noise_makes_duplicates_differ_more():
    def identical(table):
        pairs = list(_pairs(_by_entity(table)))
        return sum(all(a[c] == b[c] for c in FIELDS) for a, b in pairs) / len(pairs)

    low, mid, high = (identical(people(2_000, seed=8, noise=x)) for x in (0.3, 1, 2))
    assert low > mid > high


# --------------------------------------------------------------------------- hard negatives
def test_households_create_hard_negatives(clean):
    by_home = defaultdict(set)
    for r in clean.to_pylist():
        if r["address"] and r["last_name"]:
            by_home[r["address"], r["zip"], r["last_name"].removesuffix(" Jr")].add(
                r["entity_id"])
    shared = [ents for ents in by_home.values() if len(ents) >= 2]
    n_entities = len(set(clean.column("entity_id").to_pylist()))
    assert sum(map(len, shared)) > 0.1 * n_entities
    landlines = defaultdict(set)
    for r in clean.to_pylist():
        if r["phone"]:
            landlines[_digits(r["phone"])].add(r["entity_id"])
    assert any(len(e) >= 2 for e in landlines.values())


def test_twins_juniors_and_namesakes_exist(clean):
    people_ = {r["entity_id"]: r for r in clean.to_pylist()}  # noise 0: one value a person
    twins = defaultdict(set)
    names = defaultdict(set)
    for r in people_.values():
        if r["address"] and r["dob"] and r["last_name"] and r["first_name"]:
            twins[r["address"], r["dob"], r["last_name"]].add(r["first_name"])
            names[r["first_name"], r["last_name"].removesuffix(" Jr"), r["address"]].add(
                r["dob"])
    assert any(len(first) >= 2 for first in twins.values())  # same day, different names
    assert any(len(dobs) >= 2 for dobs in names.values())  # father and son at one address
    assert any(r["last_name"] and r["last_name"].endswith(" Jr") for r in people_.values())
    full_names = Counter((r["first_name"], r["last_name"]) for r in people_.values())
    assert sum(n >= 2 for n in full_names.values()) > 20  # namesakes from common names


# ---------------------------------------------------------------------------- people_link
@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 1.0])
def test_people_link_sources_overlap_as_requested(overlap):
    a, b = people_link(2_001, seed=6, overlap=overlap)
    assert a.num_rows + b.num_rows == 2_001 and abs(a.num_rows - b.num_rows) <= 1
    ea, eb = set(a.column("entity_id").to_pylist()), set(b.column("entity_id").to_pylist())
    assert len(ea & eb) / min(len(ea), len(eb)) == pytest.approx(overlap, abs=0.01)


def test_people_link_tables_have_ids_sources_and_few_internal_duplicates():
    a, b = people_link(4_000, seed=2)
    for table, letter in ((a, "A"), (b, "B")):
        assert tuple(table.column_names) == PEOPLE_COLUMNS
        ids = table.column("record_id").to_pylist()
        assert ids[0] == f"{letter}0000001" and len(set(ids)) == len(ids)
        assert set(table.column("source").to_pylist()) == {letter}
        entities = table.column("entity_id").to_pylist()
        assert 0 < len(entities) - len(set(entities)) < 0.06 * len(entities)


def test_people_link_pairs_across_tables_are_noisy_but_clean_with_noise_zero():
    def differing(noise):
        a, b = people_link(2_000, seed=9, noise=noise)
        first = {r["entity_id"]: r for r in a.to_pylist()}
        pairs = [(first[r["entity_id"]], r) for r in b.to_pylist() if r["entity_id"] in first]
        return sum(any(x[c] != y[c] for c in FIELDS) for x, y in pairs) / len(pairs)

    assert differing(0) == 0
    assert differing(1) > 0.4


# ------------------------------------------------------------------------- argument errors
@pytest.mark.parametrize("kwargs", [
    {"n_records": -1}, {"n_records": 1.5}, {"n_records": "10"}, {"seed": -3},
    {"noise": -0.1}, {"noise": float("nan")}, {"overlap": 1.5}, {"overlap": -0.1},
])
def test_bad_arguments_raise_a_settings_error(kwargs):
    kwargs = dict(kwargs)
    n = kwargs.pop("n_records", 10)
    with pytest.raises(SettingsError):
        people_link(n, **kwargs)
    if "overlap" not in kwargs:
        with pytest.raises(LinkwiseError):
            people(n, **kwargs)


# ------------------------------------------------------------------------------- speed
@pytest.mark.slow
def test_people_is_fast():
    """10k rows in under 2 s (time grows linearly: 100k rows take under 20 s)."""
    start = time.perf_counter()
    assert people(10_000).num_rows == 10_000
    assert time.perf_counter() - start < 2
