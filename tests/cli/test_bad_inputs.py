"""Bad inputs end in one clear line (exit code 1), never a traceback or a wrong result."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from linkwise import InputError, SettingsError, datasets, dedupe
from linkwise.cli import main

SETTINGS = Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def single_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def people() -> pa.Table:
    return datasets.people(400, seed=3)


def test_blocking_that_makes_no_pairs_is_an_error_not_a_broken_model(people, tmp_path):
    settings = json.loads(SETTINGS.read_text())
    settings["blocking_rules"] = [["record_id"]]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(settings))
    data = tmp_path / "p.parquet"
    pq.write_table(people, data)
    line = single_line_error(invoke("dedupe", data, "-o", tmp_path / "out", "--settings", path))
    assert "no candidate pairs" in line
    assert not (tmp_path / "out" / "model.json").exists()


def test_a_csv_in_latin_1_asks_for_its_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("record_id,first_name\n1,Jos\xe9\n2,Ren\xe9e\n".encode("latin-1"))
    line = single_line_error(invoke("dedupe", path, "-o", tmp_path / "out", "--settings", SETTINGS))
    assert "--encoding" in line
    assert "Jos" not in line  # no record values in errors


def test_a_row_with_missing_fields_is_read_with_nulls(people, tmp_path):
    path = tmp_path / "ragged.csv"
    header = ",".join(people.column_names)
    rows = [",".join("" if v is None else str(v) for v in row.values()) for row in people.slice(0, 300).to_pylist()]
    rows[5] = ",".join(rows[5].split(",")[:4])  # a short row
    path.write_text("\n".join([header, *rows]) + "\n")
    result = dedupe(str(path), SETTINGS)
    assert result.records.n == 300


def test_an_unused_column_of_lists_is_ignored(people):
    table = people.append_column("tags", pa.array([["a", "b"]] * people.num_rows))
    assert dedupe(table, SETTINGS).records.n == people.num_rows


def test_a_used_column_of_lists_is_named(people):
    table = people.drop_columns(["email"]).append_column("email", pa.array([["a"]] * people.num_rows))
    with pytest.raises(InputError, match="'email' holds lists"):
        dedupe(table, SETTINGS)


def test_a_negative_seed_is_refused_when_the_settings_load(tmp_path):
    settings = json.loads(SETTINGS.read_text())
    settings["seed"] = -1
    with pytest.raises(SettingsError, match="seed"):
        dedupe(datasets.people(50), settings)


def test_a_misspelt_source_column_is_named(people):
    settings = json.loads(SETTINGS.read_text())
    settings["source_column"] = "sorce"
    with pytest.raises(SettingsError, match="Did you mean 'source'"):
        dedupe(people, settings)


def test_a_model_for_other_comparisons_is_refused(people, tmp_path):
    first = dedupe(people, SETTINGS)
    first.write(tmp_path / "run")
    settings = json.loads(SETTINGS.read_text())
    settings["comparisons"] = settings["comparisons"][:-1]
    from linkwise import ModelError

    with pytest.raises(ModelError, match="does not match"):
        dedupe(people, settings, model=tmp_path / "run" / "model.json")
