"""Bad inputs end in one clear line (exit code 1), never a traceback or a wrong result.

The catalogue of bad inputs lives in ``error_catalogue.py``, beside this file;
``docs/errors.md`` quotes the message of each case, and the tests here hold
linkwise to those messages. Awkward inputs that are valid (a byte-order mark,
mixed line endings, quoted line breaks, a 1 MB field, a column of mixed types)
must be read exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from error_catalogue import CASES, Case, documented_catalogue, documented_messages, inside, render

from linkwise import InputError, SettingsError, datasets, dedupe
from linkwise.cli import main
from linkwise.engines.duckdb import DuckDBEngine
from linkwise.ingest import to_arrow

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


# ------------------------------------------------------------------ the catalogue of bad inputs
def folder_state(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under ``folder``, hidden ones included."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def documented() -> dict[str, str]:
    return documented_messages()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_bad_input_fails_with_its_documented_line_and_writes_nothing(case: Case, documented, tmp_path):
    case.setup(tmp_path)
    before = folder_state(tmp_path)
    with inside(tmp_path), (case.patch() if case.patch else _no_patch()):
        result = CliRunner().invoke(main, case.args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == documented.get(case.name), (
        "docs/errors.md does not quote this message; if the change is meant, run "
        "PYTHONPATH=. python tests/cli/error_catalogue.py --write"
    )
    # Nothing written, nothing left behind: not an output, not a temporary file, not a folder.
    assert folder_state(tmp_path) == before


def _no_patch():
    from contextlib import nullcontext

    return nullcontext()


def test_the_documented_catalogue_holds_every_case_with_its_command_and_nothing_else():
    assert documented_catalogue() == render(documented_messages())


def test_every_documented_message_is_one_linkwise_error_line(documented):
    assert set(documented) == {case.name for case in CASES}
    assert all(m.startswith("linkwise: error: ") and "\n" not in m for m in documented.values())


def test_debug_adds_the_traceback_and_the_key_values_of_the_oversized_blocks(tmp_path):
    case = next(c for c in CASES if c.name == "pair-budget")
    case.setup(tmp_path)
    with inside(tmp_path):
        result = CliRunner().invoke(main, [*case.args, "--debug"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert re.search(r"^linkwise: detail: largest blocks: sex='[MF]' \(\d+ records\); sex='[MF]'", result.stderr, re.M)
    assert "sex='" not in result.stderr.splitlines()[-1]  # the error line itself still quotes no value


# ------------------------------------------------------------------ awkward but valid inputs
def csv_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def with_values(table: pa.Table, column: str, values: dict[int, str]) -> pa.Table:
    column_values = table[column].to_pylist()
    for row, value in values.items():
        column_values[row] = value
    return table.set_column(table.column_names.index(column), column, pa.array(column_values, pa.string()))


def _mixed_line_endings(data: bytes) -> bytes:
    lines = data.split(b"\n")
    return b"".join(line + (b"\r\n" if i % 2 else b"\n") for i, line in enumerate(lines[:-1]))


AWKWARD = {
    # name: (how the table is changed, how the CSV bytes are changed)
    "byte-order-mark": (None, lambda data: b"\xef\xbb\xbf" + data),
    "windows-line-endings": (None, lambda data: data.replace(b"\n", b"\r\n")),
    "mixed-line-endings": (None, _mixed_line_endings),
    "quoted-line-breaks-delimiters-and-quotes": (
        lambda t: with_values(t, "address", {3: 'Flat 2, "The Maltings"\nHigh St; Ely', 4: "a\r\nb,\tc"}),
        None,
    ),
    "one-megabyte-field": (lambda t: with_values(t, "address", {7: "12 Long Road, " * 75_000}), None),
    "mixed-types-in-a-column": (
        lambda t: with_values(t, "zip", {0: "12345", 1: "1.5e3", 2: "N/A", 3: "-7", 4: "true", 5: "2024-01-01"}),
        None,
    ),
}


@pytest.mark.parametrize("name", AWKWARD)
def test_an_awkward_but_valid_csv_is_read_exactly_and_deduplicated(name, people, tmp_path):
    change_table, change_bytes = AWKWARD[name]
    table = change_table(people) if change_table else people
    data = csv_bytes(table)
    path = tmp_path / "people.csv"
    path.write_bytes(change_bytes(data) if change_bytes else data)
    engine = DuckDBEngine(threads=2)
    try:
        read = to_arrow(str(path), where="test", engine=engine)
    finally:
        engine.close()
    assert read.column_names == table.column_names
    assert read.to_pylist() == table.to_pylist()
    out = tmp_path / "out"
    result = invoke("dedupe", path, "-o", out, "--settings", SETTINGS, "-q")
    assert result.exit_code == 0, result.output
    assert sorted(pq.read_table(out / "clusters.parquet")["id"].to_pylist()) == sorted(table["record_id"].to_pylist())


def test_a_latin_1_csv_is_read_exactly_with_its_encoding(people, tmp_path):
    table = with_values(people, "first_name", {0: "Zoë", 1: "François"})
    path = tmp_path / "latin.csv"
    path.write_bytes(csv_bytes(table).decode("utf-8").encode("latin-1", errors="replace"))
    engine = DuckDBEngine()
    try:
        read = to_arrow(str(path), where="test", engine=engine, encoding="latin-1")
    finally:
        engine.close()
    assert read["first_name"].to_pylist()[:2] == ["Zoë", "François"]
    result = invoke("dedupe", path, "-o", tmp_path / "out", "--settings", SETTINGS, "--encoding", "latin-1", "-q")
    assert result.exit_code == 0, result.output


def test_a_column_of_numbers_in_one_parquet_file_and_text_in_another_is_read_as_text(people, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    numeric = [int(z) if z and z.isdigit() else None for z in people["zip"].to_pylist()]
    first = people.slice(0, 200)
    first = first.set_column(first.column_names.index("zip"), "zip", pa.array(numeric[:200], pa.int64()))
    pq.write_table(first, folder / "part1.parquet")
    pq.write_table(people.slice(200), folder / "part2.parquet")
    result = dedupe(str(folder), SETTINGS)
    assert result.records.n == people.num_rows
    zips = dict(zip(result.records.ids.to_pylist(), result.records.column("zip").to_pylist()))
    assert zips[people["record_id"][0].as_py()] == (str(numeric[0]) if numeric[0] is not None else None)


def test_a_pandas_column_of_mixed_numbers_and_text_is_read_as_text(people):
    frame = people.to_pandas()
    as_text = dedupe(frame, SETTINGS)
    frame["zip"] = [int(z) if isinstance(z, str) and z.isdigit() and i % 2 else z for i, z in enumerate(frame["zip"])]
    assert {type(z) for z in frame["zip"].dropna()} == {int, str}
    mixed = dedupe(frame, SETTINGS)
    assert mixed.records.column("zip").to_pylist() == as_text.records.column("zip").to_pylist()
    assert mixed.clusters.tolist() == as_text.clusters.tolist()


def test_a_file_whose_name_looks_like_a_glob_is_read_as_named(people, tmp_path):
    pacsv.write_csv(people, tmp_path / "people[1].csv")
    result = invoke("dedupe", tmp_path / "people[1].csv", "-o", tmp_path / "out", "--settings", SETTINGS, "-q")
    assert result.exit_code == 0, result.output


def test_a_readme_beside_the_data_in_a_folder_is_not_read_as_data(people, tmp_path):
    pacsv.write_csv(people, tmp_path / "people.csv")
    (tmp_path / "README.txt").write_text("exports arrive here\n", encoding="utf-8")
    assert dedupe(str(tmp_path), SETTINGS).records.n == people.num_rows


def test_every_test_docs_errors_md_names_exists():
    """docs/errors.md says which test covers each guarantee; a renamed or removed test must show there."""
    import ast

    tests = Path(__file__).resolve().parents[1]
    defined = {
        node.name
        for source in tests.rglob("test_*.py")
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef)
    }
    named = set(re.findall(r"`(test_\w+)", (tests.parent / "docs" / "errors.md").read_text(encoding="utf-8")))
    assert len(named) > 30
    assert named <= defined, sorted(named - defined)
