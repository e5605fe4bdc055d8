"""Hygiene: no record value in what linkwise prints or logs at default verbosity,
and models and settings are JSON or YAML, never pickle."""

from __future__ import annotations

import ast
import json
import logging
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import linkwise
import linkwise.pipeline as pipeline
from linkwise import ModelError, datasets, dedupe
from linkwise.cli import main

SETTINGS = Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json"

# Values no message or log line has any reason to contain.
SURNAME = "Qzxvkwyllt"
STREET = "Zrbwq Xtlmv"
EMAIL = "yvqzx.kwpl@example.invalid"
DISTINCTIVE = (SURNAME, SURNAME.lower(), STREET, STREET.lower(), EMAIL)


def with_values(table: pa.Table, column: str, value: str, rows: range) -> pa.Table:
    values = table[column].to_pylist()
    for row in rows:
        values[row] = value
    return table.set_column(table.column_names.index(column), column, pa.array(values, pa.string()))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Synthetic people; 120 of them share a distinctive surname, 40 a street, 30 an email."""
    table = datasets.people(300, seed=14)
    table = with_values(table, "last_name", SURNAME, range(0, 120))
    table = with_values(table, "address", f"12 {STREET}", range(100, 140))
    table = with_values(table, "email", EMAIL, range(200, 230))
    path = tmp_path_factory.mktemp("data") / "people.parquet"
    pq.write_table(table, path)
    return path


def settings_file(folder: Path, **changes) -> Path:
    spec = json.loads(SETTINGS.read_text(encoding="utf-8"))
    spec.update(changes)
    path = folder / "settings.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def run(*args, caplog):
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(main, [str(a) for a in args])
    return result, result.output + caplog.text


def assert_no_values(text: str) -> None:
    for value in DISTINCTIVE:
        assert value not in text


def test_a_successful_run_prints_and_logs_no_record_value(data, tmp_path, caplog):
    result, text = run("dedupe", data, "-o", tmp_path / "out", "--settings", SETTINGS, "--csv", caplog=caplog)
    assert result.exit_code == 0, result.output
    assert "records" in result.output  # it did print its summary
    assert_no_values(text)


def test_an_oversized_block_of_one_value_is_reported_without_the_value(data, tmp_path, caplog):
    settings = settings_file(tmp_path, blocking_rules=[["last_name"]], max_candidate_pairs=5_000)
    result, text = run("dedupe", data, "-o", tmp_path / "out", "--settings", settings, caplog=caplog)
    assert result.exit_code == 1
    assert "hold 120, " in result.output  # the block's size, not its value
    assert_no_values(text)
    # With --debug the value is shown, so the check above is not vacuous.
    debug, _ = run("dedupe", data, "-o", tmp_path / "out", "--settings", settings, "--debug", caplog=caplog)
    assert f"last_name='{SURNAME.lower()}' (120 records)" in debug.output


def test_an_error_linkwise_did_not_foresee_is_reported_without_its_message(data, tmp_path, monkeypatch, caplog):
    def failing(*args, **kwargs):
        raise ValueError(f"could not score the value {EMAIL!r}")

    monkeypatch.setattr(pipeline, "match_weights", failing)
    result, text = run("dedupe", data, "-o", tmp_path / "out", "--settings", SETTINGS, caplog=caplog)
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.startswith("linkwise: error: unexpected ValueError in linkwise/pipeline.py line ")
    assert "--debug" in line and len(line.splitlines()) == 1
    assert_no_values(text)
    debug, _ = run("dedupe", data, "-o", tmp_path / "out", "--settings", SETTINGS, "--debug", caplog=caplog)
    assert EMAIL in debug.output and "Traceback" in debug.output


def test_warnings_from_other_libraries_are_shown_only_with_debug(data, tmp_path, monkeypatch, caplog):
    real = pipeline.match_weights

    def warning_weights(*args, **kwargs):
        warnings.warn(f"odd value {STREET}", UserWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "match_weights", warning_weights)
    result, text = run("dedupe", data, "-o", tmp_path / "out", "--settings", SETTINGS, caplog=caplog)
    assert result.exit_code == 0, result.output
    assert_no_values(text)
    debug, _ = run("dedupe", data, "-o", tmp_path / "debug", "--settings", SETTINGS, "--debug", caplog=caplog)
    assert f"linkwise: warning: odd value {STREET}" in debug.output


@pytest.mark.parametrize(
    "settings_change",
    [{"blocking_rules": [["last_nmae"]]}, {"unique_id_column": "id"}],
    ids=["misspelt-column", "missing-id-column"],
)
def test_errors_about_columns_name_them_and_quote_no_value(data, tmp_path, caplog, settings_change):
    settings = settings_file(tmp_path, **settings_change)
    result, text = run("dedupe", data, "-o", tmp_path / "out", "--settings", settings, caplog=caplog)
    assert result.exit_code == 1 and "Available columns: " in result.output
    assert_no_values(text)


# ------------------------------------------------------------------ never pickle
def test_models_settings_and_summaries_are_json_text(data, tmp_path):
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["dedupe", str(data), "-o", str(out), "--settings", str(SETTINGS), "-q"]).exit_code == 0
    for name in ("model.json", "settings.json", "summary.json"):
        document = json.loads((out / name).read_text(encoding="utf-8"))
        assert isinstance(document, dict)
    assert json.loads((out / "model.json").read_text(encoding="utf-8"))["format"] == "linkwise-model"


class Trap:
    """Unpickling this sets a flag: a model loader that unpickled would be caught."""

    loaded = False

    def __reduce__(self):
        return (setattr, (Trap, "loaded", True))


def test_a_pickled_model_is_refused_not_loaded(data, tmp_path):
    import pickle

    path = tmp_path / "model.json"
    path.write_bytes(pickle.dumps(Trap()))
    with pytest.raises(ModelError, match="not UTF-8 text"):
        dedupe(str(data), model=path)
    assert not Trap.loaded


def test_no_part_of_linkwise_can_unpickle():
    package = Path(linkwise.__file__).parent
    unsafe = {"pickle", "cPickle", "dill", "joblib", "marshal", "shelve", "cloudpickle"}
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not names & unsafe, f"{source.name} imports {names & unsafe}"
