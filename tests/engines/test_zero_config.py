"""Zero configuration on the DuckDB engine: settings chosen from generated people and products."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import linkwise
from linkwise import Settings
from linkwise.auto import choose_settings
from linkwise.datasets import people, people_link

EXAMPLE = Path(linkwise.__file__).parent / "data" / "people_settings.json"


@pytest.fixture(scope="module")
def data() -> pa.Table:
    return people(3000, seed=5)


@pytest.fixture(scope="module")
def result(data):
    return linkwise.dedupe(data, zero_config={"exclude": ["entity_id"]})


@pytest.fixture(scope="module")
def chosen(result):
    return result.zero_config


def comparison_of(settings: Settings, column: str):
    return next(c for c in settings.comparisons if column in c.columns)


def test_people_without_settings_are_deduplicated_about_as_well_as_with_the_example_settings(data, result):
    zero = result.evaluate("entity_id").cluster_pairs.f1
    example = linkwise.dedupe(data, EXAMPLE).evaluate("entity_id").cluster_pairs.f1
    assert zero >= 0.9
    assert zero >= example - 0.03


def test_record_key_truth_and_source_tag_are_never_compared(chosen):
    compared = {col for comp in chosen.settings.comparisons for col in comp.columns}
    assert chosen.settings.unique_id_column == "record_id"
    assert not compared & {"record_id", "entity_id", "source"}
    noted = {note.column for note in chosen.notes}
    assert {"record_id", "entity_id", "source"} <= noted


def test_each_role_gets_the_comparison_an_expert_would_write(chosen):
    settings = chosen.settings
    first = comparison_of(settings, "first_name")
    assert first.levels[0].kind == "exact" and first.levels[0].tf_adjust  # common first names count for less
    assert {lv.kind for lv in first.levels} >= {"damerau_levenshtein", "jaro_winkler"}
    assert [lv.kind for lv in comparison_of(settings, "dob").levels][:2] == ["exact", "date_swap"]
    assert comparison_of(settings, "phone").columns == ("phone",)
    assert dict(settings.standardise)["phone"][0].name == "digits_only"
    middle = comparison_of(settings, "middle_name")  # half initials: "same initial" instead of one edit
    assert "prefix" in [lv.kind for lv in middle.levels] and "damerau_levenshtein" not in [lv.kind for lv in middle.levels]


def test_city_and_state_that_follow_from_the_postal_code_are_not_counted_again(chosen):
    compared = {col for comp in chosen.settings.comparisons for col in comp.columns}
    assert "zip" in compared and not compared & {"city", "state"}
    assert any(note.column == "city" and "'zip'" in note.text for note in chosen.notes)


def test_blocking_rules_find_nearly_all_true_pairs_with_few_candidates(result):
    evaluation = result.evaluate("entity_id")
    assert evaluation.blocking_recall >= 0.95
    assert len(result.left) < 50 * result.records.n


def test_without_settings_the_label_free_recall_counts_the_pairs_blocking_missed(result):
    estimated = result.estimate_accuracy()
    measured = result.evaluate("entity_id")
    blocking = estimated.blocking_recall
    assert blocking is not None  # however many rules and keys zero configuration chose
    assert blocking.low <= measured.blocking_recall <= blocking.high
    assert blocking.value == pytest.approx(measured.blocking_recall, abs=0.01)
    for group in ("scored_pairs", "cluster_pairs"):
        assert getattr(estimated, group)["recall"].value == pytest.approx(getattr(measured, group).recall, abs=0.03)


def test_each_chosen_rule_reports_its_pairs_what_it_adds_and_its_recall_gain(chosen):
    report = chosen.blocking.to_dict()
    assert report["estimated_recall"] >= 0.95
    assert report["likely_matches"] > 0
    for rule in report["rules"]:
        assert rule["pairs"] >= rule["marginal_pairs"] >= 0
        assert rule["likely_matches_added"] >= 1
    assert "pairs" in chosen.blocking.summary() and "recall" in chosen.blocking.summary()


def test_the_pair_budget_bounds_the_rules_chosen(data):
    budget = 6_000
    small = choose_settings(data, exclude=["entity_id"], max_pairs=budget)
    assert small.settings.max_candidate_pairs == budget
    assert sum(c.marginal_pairs for c in small.blocking.choices) <= budget
    assert all(c.pairs <= budget for c in small.blocking.choices)
    result = linkwise.dedupe(data, small.settings)  # the pipeline accepts them under the same budget
    assert len(result.left) <= budget


def test_the_default_budget_grows_with_the_data():
    from linkwise.auto import default_budget

    assert default_budget(1_000) == default_budget(10_000) == 2_000_000
    assert default_budget(1_000_000) == 20_000_000


def test_chosen_settings_round_trip_through_a_settings_file_and_run_the_same(tmp_path, data, chosen):
    path = tmp_path / "settings.json"
    chosen.settings.save(path)
    again = Settings.load(path)
    assert again == chosen.settings
    first = linkwise.dedupe(data, chosen.settings)
    second = linkwise.dedupe(data, path)
    assert np.array_equal(first.clusters, second.clusters)


def test_the_zero_config_result_carries_the_profile_and_the_reasons(result, tmp_path):
    out = result.write(tmp_path / "out")
    document = json.loads((out / "zero_config.json").read_text())
    assert {"settings", "roles", "notes", "blocking", "profile"} <= set(document)
    assert document["roles"]["email"] == "email"
    assert Settings.from_dict(json.loads((out / "settings.json").read_text())) == result.settings


# -- not only people -------------------------------------------------------------------
BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay"]
KINDS = ["laptop", "tablet", "monitor", "printer", "router", "camera", "speaker", "keyboard", "headphones"]
WORDS = ["wireless", "portable", "pro", "ultra", "slim", "4k", "bluetooth", "gaming", "compact", "black",
         "silver", "edition", "plus", "mini", "max", "home", "office", "smart", "hd", "dual"]


def products(n_products: int = 400, seed: int = 3) -> tuple[pa.Table, np.ndarray]:
    """Product titles with a model code, and noisy duplicates (words dropped, reordered, mistyped)."""
    rng = np.random.default_rng(seed)
    titles, makers, prices, entity = [], [], [], []
    for p in range(n_products):
        words = [rng.choice(BRANDS), f"{rng.choice(list('ABCDEFGHJK'))}{rng.integers(100, 9999)}",
                 *rng.choice(WORDS, 4, replace=False), rng.choice(KINDS)]
        maker, price = words[0], float(rng.uniform(20, 2000))
        for copy in range(int(rng.integers(1, 4))):
            shown = list(words)
            if copy:
                if rng.random() < 0.5:
                    shown.pop(int(rng.integers(2, len(shown))))
                if rng.random() < 0.4:
                    i, j = rng.choice(len(shown), 2, replace=False)
                    shown[i], shown[j] = shown[j], shown[i]
                if rng.random() < 0.3:
                    w = int(rng.integers(2, len(shown)))
                    shown[w] = shown[w][:-1] if len(shown[w]) > 3 else shown[w]
            title = " ".join(shown)
            titles.append(title.upper() if copy and rng.random() < 0.3 else title)
            makers.append(None if copy and rng.random() < 0.3 else maker)
            prices.append(f"{price * (1 + rng.normal(0, 0.01)) if copy else price:.2f}")
            entity.append(p)
    order = rng.permutation(len(titles))
    table = pa.table({
        "product_id": [f"P{i:05d}" for i in range(len(titles))],
        "title": pa.array(titles).take(pa.array(order)),
        "manufacturer": pa.array(makers).take(pa.array(order)),
        "price": pa.array(prices).take(pa.array(order)),
    })
    return table, np.asarray(entity)[order]


@pytest.fixture(scope="module")
def product_table():
    return products()


def test_product_titles_get_token_comparisons_and_token_blocking(product_table):
    table, _ = product_table
    chosen = choose_settings(table)
    title = comparison_of(chosen.settings, "title")
    assert "jaccard" in [lv.kind for lv in title.levels]
    assert comparison_of(chosen.settings, "price").levels[0].kind == "exact"
    token_keys = [k for rule in chosen.settings.blocking_rules for k in rule.keys
                  if any(s.name == "rarest_words" for s in k.standardise)]
    assert token_keys, [r.name for r in chosen.settings.blocking_rules]


def test_a_column_that_is_part_of_a_text_column_is_not_counted_again(product_table):
    table, _ = product_table  # every title starts with its manufacturer
    chosen = choose_settings(table)
    assert "manufacturer" not in {col for comp in chosen.settings.comparisons for col in comp.columns}
    assert any(note.column == "manufacturer" and "'title'" in note.text for note in chosen.notes)


def test_products_are_deduplicated_without_settings(product_table):
    table, entity = product_table
    evaluation = linkwise.dedupe(table).evaluate(entity)
    assert evaluation.cluster_pairs.f1 >= 0.9


# -- linking -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_sources():
    a, b = people_link(2000, seed=3)
    names = {"first_name": "given", "last_name": "family", "dob": "birth_date", "email": "mail"}
    b = b.rename_columns([names.get(c, c) for c in b.column_names])
    return a, b, {v: k for k, v in names.items()}


def test_link_without_settings_reads_differently_named_columns_through_a_map(two_sources):
    a, b, rename = two_sources
    chosen = choose_settings([a, b], link_type="link", exclude=["entity_id"], rename=rename)
    compared = {col for comp in chosen.settings.comparisons for col in comp.columns}
    assert {"first_name", "last_name", "dob", "email"} <= compared
    assert dict(chosen.settings.rename) == rename
    assert chosen.settings.one_to_one
    result = linkwise.link(a, b, settings=chosen.settings)
    assert result.evaluate("entity_id").scored_pairs.f1 >= 0.9


def test_link_without_settings_works_when_the_sources_share_column_names():
    a, b = people_link(2000, seed=4)
    result = linkwise.link(a, b, zero_config={"exclude": ["entity_id"]})
    assert result.settings.link_type == "link"
    assert result.evaluate("entity_id").scored_pairs.f1 >= 0.9


def test_households_are_told_apart_from_duplicates_at_one_address(data):
    from linkwise.auto_blocking import CleanColumns, household_share

    roles = {"first_name": "given_name", "dob": "date_of_birth", "address": "street_address"}
    steps = {"first_name": ["lower"], "dob": [{"parse_date": "auto"}], "address": ["lower"]}
    with_households = household_share(CleanColumns(data, steps), roles)
    assert with_households > 0.3  # the generator puts families at one address
    one_person_per_address = pa.table({
        "first_name": [f"name{i // 2}" for i in range(400)],
        "dob": [f"19{50 + i // 40}-01-{1 + i // 2 % 20:02d}" for i in range(400)],
        "address": [f"{i // 2} main street" for i in range(400)],  # each address: one person, twice
    })
    assert household_share(CleanColumns(one_person_per_address, steps), roles) == 0.0
    assert household_share(CleanColumns(data, steps), {"first_name": "given_name"}) is None
