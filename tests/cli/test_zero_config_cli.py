"""The command line without settings: profile, dedupe and link choose their settings from the data."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from linkwise import datasets
from linkwise.cli import main


@pytest.fixture(scope="module")
def people_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "people.parquet"
    pq.write_table(datasets.people(1500, seed=7), path)
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_profile_prints_a_table_with_each_columns_role(people_file):
    result = invoke("profile", people_file)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("1,500 records")
    assert any(line.startswith("first_name") and "given_name" in line for line in lines)
    assert "Roles:" in result.output and "record key" in result.output


def test_profile_json_is_for_machines(people_file):
    result = invoke("profile", people_file, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["rows"] == 1500
    roles = {c["name"]: c["role"] for c in document["columns"]}
    assert roles["dob"] == "date_of_birth" and roles["email"] == "email" and roles["zip"] == "postal_code"


@pytest.fixture(scope="module")
def zero_config_run(people_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "out"
    return invoke("dedupe", people_file, "-o", out, "--exclude", "entity_id"), out


def test_dedupe_without_settings_chooses_them_shows_them_and_writes_them(zero_config_run):
    result, out = zero_config_run
    assert result.exit_code == 0, result.output
    assert "No settings given" in result.output
    assert "Comparisons" in result.output and "Blocking" in result.output and "recall" in result.output
    assert "entity_id: left out, as asked" in result.output
    for name in ("settings.json", "zero_config.json", "clusters.parquet", "pairs.parquet"):
        assert (out / name).is_file()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["comparisons"] and settings["blocking_rules"]
    assert "entity_id" not in json.dumps(settings["comparisons"])


def test_the_written_settings_run_again_with_settings_and_give_the_same_clusters(zero_config_run, people_file, tmp_path):
    _, out = zero_config_run
    again = tmp_path / "again"
    result = invoke("dedupe", people_file, "-o", again, "--settings", out / "settings.json", "-q")
    assert result.exit_code == 0, result.output
    assert not (again / "zero_config.json").exists()
    first = pq.read_table(out / "clusters.parquet").sort_by("id")
    second = pq.read_table(again / "clusters.parquet").sort_by("id")
    assert first["cluster_id"].to_pylist() == second["cluster_id"].to_pylist()


def test_evaluate_works_on_a_zero_config_run(zero_config_run):
    _, out = zero_config_run
    result = invoke("evaluate", out, "--truth", "entity_id", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cluster_pairs"]["f1"] > 0.9


def test_link_without_settings_maps_differently_named_columns(tmp_path):
    a, b = datasets.people_link(1500, seed=3)
    b = b.rename_columns(["surname" if c == "last_name" else "birth" if c == "dob" else c for c in b.column_names])
    pacsv.write_csv(a, tmp_path / "a.csv")
    pacsv.write_csv(b, tmp_path / "b.csv")
    out = tmp_path / "out"
    result = invoke("link", tmp_path / "a.csv", tmp_path / "b.csv", "-o", out, "--exclude", "entity_id",
                    "--map", "last_name=surname", "--map", "dob=birth", "-q")
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "settings.json").read_text())
    assert settings["rename"] == {"surname": "last_name", "birth": "dob"}
    assert settings["link_type"] == "link" and settings["one_to_one"] is True
    evaluation = json.loads(invoke("evaluate", out, "--truth", "entity_id", "--json").output)
    assert evaluation["scored_pairs"]["f1"] > 0.9


def test_a_malformed_map_is_a_one_line_error(tmp_path, people_file):
    result = invoke("link", people_file, people_file, "-o", tmp_path / "out", "--map", "nonsense")
    assert result.exit_code == 1
    assert "--map 'nonsense'" in result.output and "Traceback" not in result.output
