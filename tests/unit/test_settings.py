"""Specification tests for linkwise.settings and linkwise.templates (no engine needed)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from linkwise import templates
from linkwise.errors import LinkwiseError, SettingsError
from linkwise.settings import (
    LEVEL_KINDS,
    LINK_TYPES,
    SETTINGS_VERSION,
    STANDARDISERS,
    BlockingRule,
    Comparison,
    Level,
    Settings,
    Standardiser,
    TrainingSettings,
)
from linkwise.templates import TEMPLATES, comparison, expand_template


def _minimal(**top) -> dict:
    """The smallest valid settings, with top-level keys overridden."""
    spec = {
        "comparisons": [{"column": "first_name", "levels": [{"type": "exact"}]}],
        "blocking_rules": [["surname"]],
    }
    spec.update(top)
    return spec


def _with_levels(levels, *, column="first_name", columns=None, standardise=None) -> dict:
    comp: dict = {"levels": levels}
    if columns is not None:
        comp["columns"] = columns
    else:
        comp["column"] = column
    if standardise is not None:
        comp["standardise"] = standardise
    return {"comparisons": [comp], "blocking_rules": [["surname"]]}


def _error(spec) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.from_dict(spec)
    return str(info.value)


@pytest.fixture
def rich_settings() -> Settings:
    """Settings that use every part of the format: templates, levels, standardisers, training."""
    return Settings.from_dict(
        {
            "version": 1,
            "link_type": "link_and_dedupe",
            "unique_id_column": "record_id",
            "source_column": "source",
            "standardise": {"surname": ["fold_accents", "upper"], "phone": ["digits_only", {"last_n": 10}]},
            "comparisons": [
                {"template": "person_name", "column": "first_name"},
                {"template": "full_name", "columns": ["first_name", "surname"], "name": "whole_name"},
                {"template": "date_of_birth", "column": "dob", "order": "dmy"},
                {"template": "postal_code", "column": "postcode", "tf_adjust": False},
                {
                    "name": "income",
                    "column": "income",
                    "levels": [
                        {"type": "abs_diff", "max": 100, "label": "within a hundred"},
                        {"type": "rel_diff", "max": 0.2, "m": 0.3, "u": 0.05},
                        "exact",
                    ],
                },
                {
                    "column": "address",
                    "standardise": "lower",
                    "levels": [
                        {"type": "jaccard", "threshold": 0.5},
                        {"type": "jaro", "threshold": 0.7},
                        {"type": "levenshtein", "max": 3},
                        {"type": "prefix", "length": 4},
                    ],
                },
                {
                    "column": "visit_date",
                    "levels": [{"type": "date_swap", "label": "swapped"}, {"type": "date_diff", "max": 6, "unit": "months"}],
                },
            ],
            "blocking_rules": [
                ["surname", "dob"],
                [{"column": "first_name", "standardise": [{"first_n": 2}, "soundex"]}],
                "postcode",
            ],
            "match_threshold": 0.7,
            "cluster_threshold": 0.95,
            "max_candidate_pairs": 5_000_000,
            "seed": 7,
            "training": {"u_sample_pairs": 5000, "em_max_iterations": 50, "em_tolerance": 1e-4, "prior": 0.01,
                         "correct_dependence": False, "dependence_min_bits": 0.02, "refine_m": False},
        }
    )


# ------------------------------------------------------------------ building
def test_minimal_settings_take_documented_defaults():
    s = Settings.from_dict(_minimal())
    assert s.link_type == "dedupe"
    assert s.unique_id_column is None and s.source_column is None
    assert (s.match_threshold, s.cluster_threshold, s.seed) == (0.5, 0.9, 42)
    assert s.training == TrainingSettings()
    assert s.comparisons[0].name == "first_name"
    assert s.blocking_rules[0].columns == ("surname",)


def test_comparison_name_defaults_to_its_columns_joined_by_underscores():
    s = Settings.from_dict(_with_levels(["exact"], columns=["first_name", "surname"]))
    assert s.comparisons[0].name == "first_name_surname"


def test_a_level_may_be_written_as_its_type_name_alone():
    s = Settings.from_dict(_with_levels(["exact", "date_swap"]))
    assert [lv.kind for lv in s.comparisons[0].levels] == ["exact", "date_swap"]


def test_each_comparison_has_a_null_level_its_declared_levels_and_an_else_level():
    s = Settings.from_dict(_with_levels([{"type": "exact"}, {"type": "jaro_winkler", "threshold": 0.9}]))
    comp = s.comparisons[0]
    assert comp.n_levels == 4
    assert comp.level_labels == ("null", "exact match", "Jaro-Winkler >= 0.9", "else")


def test_a_custom_level_label_replaces_the_default_one():
    s = Settings.from_dict(_with_levels([{"type": "exact", "label": "same name"}]))
    assert s.comparisons[0].levels[0].label == "same name"


def test_whole_number_parameters_are_stored_as_numbers_of_the_declared_type():
    levels = [{"type": "jaro_winkler", "threshold": 1}, {"type": "levenshtein", "max": 2.0}]
    s = Settings.from_dict(_with_levels(levels))
    jw, lev = s.comparisons[0].levels
    assert isinstance(jw.threshold, float) and jw.threshold == 1.0
    assert isinstance(lev.max, int) and lev.max == 2


def test_date_diff_unit_defaults_to_days():
    s = Settings.from_dict(_with_levels([{"type": "date_diff", "max": 3}]))
    assert s.comparisons[0].levels[0].unit == "days"


def test_parse_date_without_an_order_reads_dates_automatically():
    s = Settings.from_dict(_minimal(standardise={"dob": ["parse_date"]}))
    assert s.steps_for("dob") == (Standardiser("parse_date", "auto"),)
    assert s.steps_for("not_declared") == ()


def test_blocking_rule_given_as_a_single_column_name_is_a_one_key_rule():
    s = Settings.from_dict(_minimal(blocking_rules=["surname", ["first_name", "dob"]]))
    assert s.blocking_rules[0] == BlockingRule.parse(["surname"], "x")
    assert s.blocking_rules[1].name == "first_name & dob"


def test_blocking_rule_name_shows_each_keys_standardisers():
    s = Settings.from_dict(_minimal(blocking_rules=[[{"column": "surname", "standardise": ["soundex"]},
                                                     {"column": "dob", "standardise": [{"first_n": 4}]}]]))
    assert s.blocking_rules[0].name == "surname|soundex & dob|first_n(4)"


def test_required_columns_name_the_first_setting_using_each_column():
    s = Settings.from_dict(_minimal(standardise={"dob": ["parse_date"]}))
    assert s.required_columns() == {
        "dob": "standardise.dob",
        "first_name": "comparisons[0] ('first_name')",
        "surname": "blocking_rules[0] ('surname')",
    }


def test_with_options_returns_a_changed_copy_and_leaves_the_original_alone():
    s = Settings.from_dict(_minimal())
    changed = s.with_options(match_threshold=0.8, link_type="link")
    assert (changed.match_threshold, changed.link_type) == (0.8, "link")
    assert (s.match_threshold, s.link_type) == (0.5, "dedupe")


def test_with_options_validates_the_changed_values_again():
    s = Settings.from_dict(_minimal())
    with pytest.raises(SettingsError, match="match_threshold"):
        s.with_options(match_threshold=3)
    with pytest.raises(SettingsError, match="link_type"):
        s.with_options(link_type="merge")


# ------------------------------------------------------------------ immutability
def test_settings_cannot_be_changed_in_place():
    s = Settings.from_dict(_minimal())
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.match_threshold = 0.1  # type: ignore[misc]
    assert s.match_threshold == 0.5


@pytest.mark.parametrize("part_of", [
    lambda s: s.comparisons[0],
    lambda s: s.comparisons[0].levels[0],
    lambda s: s.comparisons[0].standardise[0],
    lambda s: s.blocking_rules[0],
    lambda s: s.blocking_rules[0].keys[0],
    lambda s: s.training,
], ids=["comparison", "level", "standardiser", "blocking_rule", "blocking_key", "training"])
def test_every_part_of_the_settings_is_frozen(part_of):
    s = Settings.from_dict(_with_levels(["exact"], standardise=["lower"]))
    part = part_of(s)
    field_name = dataclasses.fields(part)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(part, field_name, None)


def test_collections_inside_settings_are_tuples_not_lists():
    s = Settings.from_dict(_minimal(standardise={"first_name": ["lower"]}))
    assert isinstance(s.comparisons, tuple) and isinstance(s.blocking_rules, tuple)
    assert isinstance(s.comparisons[0].levels, tuple) and isinstance(s.standardise, tuple)
    assert isinstance(s.standardise[0][1], tuple)


# ------------------------------------------------------------------ round trips
def test_to_dict_and_from_dict_round_trip(rich_settings):
    assert Settings.from_dict(rich_settings.to_dict()) == rich_settings


def test_to_dict_is_plain_json_data(rich_settings):
    assert json.loads(json.dumps(rich_settings.to_dict())) == rich_settings.to_dict()


def test_to_dict_records_the_settings_version(rich_settings):
    assert rich_settings.to_dict()["version"] == SETTINGS_VERSION


def test_to_dict_keeps_custom_labels_and_fixed_m_and_u(rich_settings):
    income = next(c for c in rich_settings.to_dict()["comparisons"] if c["name"] == "income")
    assert income["levels"][0] == {"type": "abs_diff", "max": 100.0, "label": "within a hundred"}
    assert income["levels"][1] == {"type": "rel_diff", "max": 0.2, "m": 0.3, "u": 0.05}
    assert income["levels"][2] == {"type": "exact"}


def test_save_and_load_json_round_trip(tmp_path, rich_settings):
    path = tmp_path / "settings.json"
    rich_settings.save(path)
    assert json.loads(path.read_text(encoding="utf-8")) == rich_settings.to_dict()
    assert Settings.load(path) == rich_settings


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_save_and_load_yaml_round_trip(tmp_path, rich_settings, suffix):
    path = tmp_path / f"settings{suffix}"
    rich_settings.save(path)
    text = path.read_text(encoding="utf-8")
    assert not text.lstrip().startswith("{"), "a .yaml file should be written as YAML, not JSON"
    assert yaml.safe_load(text) == rich_settings.to_dict()
    assert Settings.load(path) == rich_settings


def test_hand_written_yaml_builds_the_same_settings_as_the_equivalent_dict(tmp_path):
    path = tmp_path / "hand.yaml"
    path.write_text(
        "link_type: dedupe\n"
        "comparisons:\n"
        "  - column: first_name\n"
        "    standardise: [lower, {first_n: 3}]\n"
        "    levels:\n"
        "      - type: exact\n"
        "      - {type: jaro_winkler, threshold: 0.9}\n"
        "blocking_rules:\n"
        "  - [surname]\n",
        encoding="utf-8",
    )
    expected = Settings.from_dict(
        _with_levels(["exact", {"type": "jaro_winkler", "threshold": 0.9}], standardise=["lower", {"first_n": 3}])
    )
    assert Settings.load(path) == expected


def test_json_settings_text_in_a_yaml_named_file_is_read(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text(json.dumps(_minimal(seed=3)), encoding="utf-8")
    assert Settings.load(path).seed == 3


def test_to_json_text_reloads_to_equal_settings(tmp_path, rich_settings):
    assert Settings.from_dict(json.loads(rich_settings.to_json())) == rich_settings


# ------------------------------------------------------------------ templates
@pytest.mark.parametrize("name", sorted(set(TEMPLATES) - {"full_name"}))
def test_every_single_column_template_expands_into_explicit_levels(name):
    comp = comparison(name, "field")
    assert isinstance(comp, Comparison)
    assert comp.columns == ("field",) and comp.name == "field"
    assert comp.levels and all(isinstance(lv, Level) and lv.kind in LEVEL_KINDS for lv in comp.levels)


def test_person_name_template_expands_to_its_documented_levels():
    comp = comparison("person_name", "first_name")
    assert [lv.kind for lv in comp.levels] == ["exact", "damerau_levenshtein", "jaro_winkler", "jaro_winkler"]
    assert comp.levels[0].tf_adjust is True
    assert [lv.threshold for lv in comp.levels[2:]] == [0.9, 0.8]
    assert [s.name for s in comp.standardise] == ["fold_accents", "lower", "strip_punctuation", "trim"]


def test_full_name_template_recognises_swaps_and_single_name_agreement():
    comp = comparison("full_name", "first_name", "surname")
    assert comp.columns == ("first_name", "surname")
    assert comp.name == "first_name_surname"
    kinds = [(lv.kind, lv.columns) for lv in comp.levels]
    assert ("swapped", None) in kinds
    assert ("exact", ("surname",)) in kinds and ("exact", ("first_name",)) in kinds


def test_template_options_are_passed_to_the_template():
    comp = Comparison.parse({"template": "date_of_birth", "column": "dob", "order": "dmy", "name": "birth"}, "c")
    assert comp.name == "birth"
    assert comp.standardise == (Standardiser("parse_date", "dmy"),)
    no_tf = Comparison.parse({"template": "person_name", "column": "first_name", "tf_adjust": False}, "c")
    assert no_tf.levels[0].tf_adjust is False


def test_a_template_gives_the_same_comparison_as_its_expansion_written_out():
    from_template = Settings.from_dict({"comparisons": [{"template": "postal_code", "column": "pc"}],
                                        "blocking_rules": [["pc"]]})
    written_out = Settings.from_dict({"comparisons": [templates.postal_code("pc")], "blocking_rules": [["pc"]]})
    assert from_template == written_out


def test_to_dict_writes_expanded_levels_not_template_names():
    s = Settings.from_dict(
        {"comparisons": [{"template": "person_name", "column": "first_name"},
                         {"template": "full_name", "columns": ["first_name", "surname"]}],
         "blocking_rules": [["surname"]]}
    )
    written = s.to_dict()["comparisons"]
    assert all("template" not in c for c in written)
    assert written[0] == {
        "name": "first_name",
        "column": "first_name",
        "standardise": ["fold_accents", "lower", "strip_punctuation", "trim"],
        "levels": [
            {"type": "exact", "tf_adjust": True},
            {"type": "damerau_levenshtein", "max": 1},
            {"type": "jaro_winkler", "threshold": 0.9},
            {"type": "jaro_winkler", "threshold": 0.8},
        ],
    }
    assert written[1]["columns"] == ["first_name", "surname"]
    assert [lv["type"] for lv in written[1]["levels"]] == [
        "exact", "swapped", "jaro_winkler", "exact", "exact", "jaro_winkler"]
    assert written[1]["levels"][3] == {"type": "exact", "tf_adjust": True, "columns": ["surname"]}


def test_expand_template_returns_a_plain_comparison_spec():
    spec = expand_template({"template": "phone", "column": "tel"}, "comparisons[0]")
    assert spec == templates.phone("tel")
    assert "template" not in spec


# ------------------------------------------------------------------ validation errors
def test_every_settings_error_is_a_linkwise_error():
    assert issubclass(SettingsError, LinkwiseError)


def test_unknown_top_level_key_lists_allowed_keys_and_suggests_the_closest():
    message = _error(_minimal(link_typ="dedupe"))
    assert "unknown key 'link_typ'" in message
    assert "blocking_rules" in message and "match_threshold" in message
    assert "Did you mean 'link_type'?" in message


def test_unknown_top_level_key_far_from_any_setting_gets_no_suggestion():
    message = _error(_minimal(zzzz=1))
    assert "unknown key 'zzzz'" in message and "Did you mean" not in message


def test_unknown_link_type_names_the_setting_and_allowed_values():
    message = _error(_minimal(link_type="dedup"))
    assert "'link_type'" in message and "'dedup'" in message
    assert all(t in message for t in LINK_TYPES)
    assert "Did you mean 'dedupe'?" in message


def test_unknown_level_type_names_the_level_and_allowed_types():
    message = _error(_with_levels([{"type": "jaro_winkle", "threshold": 0.9}]))
    assert "comparisons[0].levels[0]" in message and "'jaro_winkle'" in message
    assert all(kind in message for kind in LEVEL_KINDS)
    assert "Did you mean 'jaro_winkler'?" in message


@pytest.mark.parametrize("where, spec", [
    ("standardise.first_name[0]", _minimal(standardise={"first_name": ["lowercase"]})),
    ("comparisons[0].standardise[1]", _with_levels(["exact"], standardise=["trim", "lowercase"])),
    ("blocking_rules[0][0].standardise[0]",
     _minimal(blocking_rules=[[{"column": "surname", "standardise": ["lowercase"]}]])),
])
def test_unknown_standardiser_names_where_it_is_and_the_allowed_ones(where, spec):
    message = _error(spec)
    assert f"'{where}'" in message and "unknown standardiser 'lowercase'" in message
    assert all(name in message for name in STANDARDISERS)
    assert "Did you mean 'lower'?" in message


@pytest.mark.parametrize("level, where, fragment", [
    ({"type": "jaro_winkler", "threshold": 1.5}, "levels[0].threshold", "between 0 and 1, got 1.5"),
    ({"type": "jaro", "threshold": 0}, "levels[0].threshold", "between 0 and 1"),
    ({"type": "jaccard", "threshold": -0.2}, "levels[0].threshold", "between 0 and 1"),
    ({"type": "jaro_winkler", "threshold": float("nan")}, "levels[0].threshold", "finite"),
    ({"type": "jaro_winkler", "threshold": "high"}, "levels[0].threshold", "expected a number"),
    ({"type": "levenshtein", "max": -1}, "levels[0].max", "must not be negative"),
    ({"type": "abs_diff", "max": -0.5}, "levels[0].max", "must not be negative"),
    ({"type": "date_diff", "max": -3}, "levels[0].max", "must not be negative"),
    ({"type": "levenshtein", "max": 1.5}, "levels[0].max", "whole number"),
    ({"type": "rel_diff", "max": 2}, "levels[0].max", "at most 1"),
    ({"type": "prefix", "length": 0}, "levels[0].length", "at least 1"),
    ({"type": "date_diff", "max": 1, "unit": "weeks"}, "levels[0].unit", "days, months, years"),
    ({"type": "exact", "tf_adjust": "yes"}, "levels[0].tf_adjust", "true or false"),
    ({"type": "exact", "m": 1.2}, "levels[0].m", "between 0 and 1"),
    ({"type": "exact", "u": -0.1}, "levels[0].u", "between 0 and 1"),
])
def test_out_of_range_level_parameter_names_the_parameter(level, where, fragment):
    message = _error(_with_levels([level]))
    assert f"'comparisons[0].{where}'" in message
    assert fragment in message


@pytest.mark.parametrize("level, missing", [
    ({"type": "jaro_winkler"}, "threshold"),
    ({"type": "jaro"}, "threshold"),
    ({"type": "jaccard"}, "threshold"),
    ({"type": "levenshtein"}, "max"),
    ({"type": "damerau_levenshtein"}, "max"),
    ({"type": "date_diff", "unit": "days"}, "max"),
    ({"type": "abs_diff"}, "max"),
    ({"type": "rel_diff"}, "max"),
    ({"type": "prefix"}, "length"),
])
def test_missing_required_level_parameter_is_named(level, missing):
    message = _error(_with_levels([level]))
    assert "'comparisons[0].levels[0]'" in message
    assert f"level '{level['type']}' needs '{missing}'" in message


def test_level_parameter_of_another_level_type_is_rejected_with_the_allowed_keys():
    message = _error(_with_levels([{"type": "exact", "threshold": 0.9}]))
    assert "unknown key 'threshold'" in message and "tf_adjust" in message


def test_misspelt_level_parameter_gets_a_suggestion():
    message = _error(_with_levels([{"type": "jaro_winkler", "threshold": 0.9, "treshold": 0.8}]))
    assert "Did you mean 'threshold'?" in message


def test_swapped_level_on_a_one_column_comparison_is_rejected():
    message = _error(_with_levels([{"type": "swapped"}]))
    assert "'comparisons[0].levels[0]'" in message and "exactly two columns" in message


def test_swapped_level_on_a_three_column_comparison_is_rejected():
    message = _error(_with_levels(["exact", "swapped"], columns=["a", "b", "c"]))
    assert "'comparisons[0].levels[1]'" in message and "exactly two columns" in message


def test_level_restricted_to_a_column_outside_its_comparison_is_rejected():
    message = _error(_with_levels([{"type": "exact", "columns": ["surnme"]}], columns=["first_name", "surname"]))
    assert "'comparisons[0].levels[0].columns'" in message
    assert "first_name, surname" in message and "Did you mean 'surname'?" in message


def test_duplicate_comparison_names_are_rejected():
    spec = {"comparisons": [{"column": "first_name", "levels": ["exact"]},
                            {"column": "first_name", "levels": [{"type": "jaro", "threshold": 0.8}]}],
            "blocking_rules": [["surname"]]}
    message = _error(spec)
    assert "'comparisons'" in message and "named 'first_name'" in message and "unique" in message


def test_duplicate_names_can_be_avoided_by_naming_a_comparison():
    spec = {"comparisons": [{"column": "first_name", "levels": ["exact"]},
                            {"column": "first_name", "name": "first_name_fuzzy",
                             "levels": [{"type": "jaro", "threshold": 0.8}]}],
            "blocking_rules": [["surname"]]}
    assert [c.name for c in Settings.from_dict(spec).comparisons] == ["first_name", "first_name_fuzzy"]


@pytest.mark.parametrize("key, value", [
    ("match_threshold", 2), ("match_threshold", -0.1), ("cluster_threshold", 1.01),
    ("match_threshold", float("inf")), ("cluster_threshold", "0.9"),
])
def test_threshold_outside_zero_to_one_names_the_threshold(key, value):
    message = _error(_minimal(**{key: value}))
    assert f"'{key}'" in message


@pytest.mark.parametrize("training, where", [
    ({"u_sample_pairs": 10}, "training.u_sample_pairs"),
    ({"em_max_iterations": 0}, "training.em_max_iterations"),
    ({"em_tolerance": 1}, "training.em_tolerance"),
    ({"prior": 1}, "training.prior"),
    ({"prior": 0}, "training.prior"),
    ({"iterations": 5}, "training"),
    ({"correct_dependence": "yes"}, "training.correct_dependence"),
    ({"refine_m": 1}, "training.refine_m"),
    ({"dependence_min_bits": 0}, "training.dependence_min_bits"),
])
def test_bad_training_option_names_the_option(training, where):
    assert f"'{where}'" in _error(_minimal(training=training))


def test_max_candidate_pairs_must_be_positive():
    assert "'max_candidate_pairs'" in _error(_minimal(max_candidate_pairs=0))


@pytest.mark.parametrize("steps, fragment", [
    ([{"first_n": 0}], "at least 1"),
    (["first_n"], "needs a length"),
    ([{"last_n": "three"}], "expected a number"),
    ([{"lower": 1}], "takes no argument"),
    ([{"parse_date": "ydm"}], "auto, ymd, dmy, mdy"),
    ([{"lower": None, "upper": None}], "one-key mapping"),
])
def test_bad_standardiser_argument_is_explained(steps, fragment):
    message = _error(_with_levels(["exact"], standardise=steps))
    assert "'comparisons[0].standardise[0]'" in message and fragment in message


@pytest.mark.parametrize("comparison_spec, fragment", [
    ({"levels": ["exact"]}, "exactly one of 'column' or 'columns'"),
    ({"column": "a", "columns": ["a", "b"], "levels": ["exact"]}, "exactly one of 'column' or 'columns'"),
    ({"column": "a", "levels": []}, "at least one level"),
    ({"column": "a"}, "at least one level"),
    ({"columns": [], "levels": ["exact"]}, "non-empty names"),
    ({"column": "a", "levles": ["exact"]}, "Did you mean 'levels'?"),
    ({"column": "a", "levels": [{"threshold": 0.9}]}, "a level is a mapping with a 'type'"),
    ("first_name", "a comparison is a mapping"),
])
def test_malformed_comparison_is_explained(comparison_spec, fragment):
    assert fragment in _error({"comparisons": [comparison_spec], "blocking_rules": [["a"]]})


@pytest.mark.parametrize("template_spec, fragment", [
    ({"template": "person_nam", "column": "a"}, "Did you mean 'person_name'?"),
    ({"template": "person_name"}, "needs a 'column'"),
    ({"template": "full_name", "columns": ["a"]}, "needs 'columns': [first, last]"),
    ({"template": "person_name", "column": "a", "colour": "red"}, "wrong option for template 'person_name'"),
])
def test_bad_template_use_is_explained(template_spec, fragment):
    message = _error({"comparisons": [template_spec], "blocking_rules": [["a"]]})
    assert "comparisons[0]" in message and fragment in message


@pytest.mark.parametrize("spec, where", [
    ({"comparisons": [], "blocking_rules": [["a"]]}, "comparisons"),
    ({"blocking_rules": [["a"]]}, "comparisons"),
    ({"comparisons": [{"column": "a", "levels": ["exact"]}], "blocking_rules": []}, "blocking_rules"),
    ({"comparisons": [{"column": "a", "levels": ["exact"]}], "blocking_rules": [[]]}, "blocking_rules[0]"),
])
def test_settings_need_comparisons_and_blocking_rules(spec, where):
    assert f"'{where}'" in _error(spec)


def test_settings_must_be_a_mapping():
    with pytest.raises(SettingsError, match="mapping"):
        Settings.from_dict(["comparisons"])  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0, 2, "1"])
def test_wrong_settings_version_is_rejected_with_the_supported_one(version):
    message = _error(_minimal(version=version))
    assert "'version'" in message
    assert f"version {SETTINGS_VERSION}" in message and repr(version) in message


def test_settings_built_directly_are_validated_too():
    comp = Comparison.parse({"column": "a", "levels": ["exact"]}, "c")
    rule = BlockingRule.parse(["a"], "r")
    with pytest.raises(SettingsError, match="link_type"):
        Settings(comparisons=(comp,), blocking_rules=(rule,), link_type="merge")
    with pytest.raises(SettingsError, match="comparisons"):
        Settings(comparisons=(comp, comp), blocking_rules=(rule,))
    with pytest.raises(SettingsError, match="match_threshold"):
        Settings(comparisons=(comp,), blocking_rules=(rule,), match_threshold=2)


# ------------------------------------------------------------------ files
def test_malformed_json_file_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "link_type": "dedupe",\n  "comparisons": [,]\n}\n', encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        Settings.load(path)
    message = str(info.value)
    assert str(path) in message and "not valid JSON" in message and "line 3" in message


def test_malformed_yaml_file_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(
        "link_type: dedupe\n"
        "comparisons:\n"
        "  - column: first_name\n"
        "   levels: [exact]\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as info:
        Settings.load(path)
    message = str(info.value)
    assert str(path) in message and "not valid YAML" in message and "line 4" in message


def test_unclosed_yaml_bracket_is_reported_with_a_line(tmp_path):
    path = tmp_path / "unclosed.yml"
    path.write_text("link_type: [dedupe\nseed: 3\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"unclosed\.yml' is not valid YAML at line \d+"):
        Settings.load(path)


def test_missing_settings_file_is_named(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(SettingsError, match="nowhere.json' does not exist"):
        Settings.load(path)


@pytest.mark.parametrize("text", ["", "- comparisons\n- blocking_rules\n"])
def test_settings_file_that_is_not_a_mapping_is_named_in_the_error(tmp_path, text):
    path = tmp_path / "listy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match="listy.yaml"):
        Settings.load(path)


# ------------------------------------------------------------------ columns
def test_check_columns_suggests_the_closest_column_for_a_misspelt_one():
    s = Settings.from_dict(_minimal())
    with pytest.raises(SettingsError) as info:
        s.check_columns(["firstname", "surname", "dob"], source="input 'people.csv'")
    message = str(info.value)
    assert "comparisons[0] ('first_name')" in message
    assert "column 'first_name' is not in input 'people.csv'" in message
    assert "Did you mean 'firstname'?" in message
    assert "Available columns: firstname, surname, dob." in message


def test_check_columns_checks_blocking_and_standardise_columns_too():
    s = Settings.from_dict(_minimal(standardise={"dob": ["parse_date"]}))
    with pytest.raises(SettingsError, match=r"blocking_rules\[0\] \('surname'\).*Did you mean 'surnam'\?"):
        s.check_columns(["first_name", "surnam", "dob"])
    with pytest.raises(SettingsError, match=r"standardise\.dob"):
        s.check_columns(["first_name", "surname"])


def test_check_columns_passes_when_every_column_is_present():
    s = Settings.from_dict(_minimal())
    s.check_columns(["surname", "first_name", "unused"])  # must not raise
    with pytest.raises(SettingsError):
        s.check_columns(["surname"])


# ------------------------------------------------------------------ cluster refinement
def test_cluster_refinement_defaults_to_edge_contraction_at_even_odds():
    s = Settings.from_dict(_minimal())
    assert (s.cluster_refinement.method, s.cluster_refinement.threshold) == ("edge_contraction", 0.5)


def test_cluster_refinement_can_be_turned_off_and_round_trips():
    s = Settings.from_dict(_minimal(cluster_refinement="none"))
    assert s.cluster_refinement.method == "none"
    assert Settings.from_dict(s.to_dict()) == s


@pytest.mark.parametrize("refinement, where", [
    ({"method": "average"}, "cluster_refinement.method"),
    ({"threshold": 1}, "cluster_refinement.threshold"),
    ({"threshold": 0}, "cluster_refinement.threshold"),
    ({"thresold": 0.5}, "cluster_refinement"),
    (3, "cluster_refinement"),
])
def test_bad_cluster_refinement_names_the_setting(refinement, where):
    assert f"'{where}'" in _error(_minimal(cluster_refinement=refinement))
