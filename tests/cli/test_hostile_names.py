"""Hostile column names, values and file names are data, never code.

Names with spaces, quotes, backslashes, unicode, SQL keywords and an injection
attempt, and values of the same kind, go end to end through the command line
(CSV and Parquet, dedupe and link) and give exactly the result of the same data
under plain names. Identifiers never reach SQL: DuckDB only reads files, with
the path and options bound as parameters (a test reads the engine's source).
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import linkwise.engines.duckdb as duckdb_engine
from linkwise import datasets
from linkwise.cli import main

SETTINGS = Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json"

HOSTILE_NAMES = {
    "record_id": 'id "quoted"',
    "first_name": "first name",
    "last_name": 'a"; DROP TABLE x; --',
    "dob": "select",
    "zip": "Straße ✓",
    "email": "e'mail",
    "address": "from\\where",
    "phone": "100% $1 ?",
}
HOSTILE_VALUES = [
    'a"; DROP TABLE x; --',
    "Robert'); DROP TABLE students;--",
    "x' OR '1'='1",
    "名前 😀",
    "NULL",
    "\\N",
    "$1 ? %s {0}",
    "back\\slash",
]


@pytest.fixture(scope="module")
def plain() -> pa.Table:
    """People whose first and last names include hostile values, two records each."""
    table = datasets.people(300, seed=21)
    first, last = table["first_name"].to_pylist(), table["last_name"].to_pylist()
    for k, value in enumerate(HOSTILE_VALUES):
        for row in (2 * k, 2 * k + 1):
            first[row] = last[row] = value
    table = table.set_column(table.column_names.index("first_name"), "first_name", pa.array(first))
    return table.set_column(table.column_names.index("last_name"), "last_name", pa.array(last))


def hostile(table: pa.Table) -> pa.Table:
    return table.rename_columns([HOSTILE_NAMES.get(n, n) for n in table.column_names])


def renamed(spec):
    """The example settings with every column renamed to its hostile name."""
    if isinstance(spec, str):
        return HOSTILE_NAMES.get(spec, spec)
    if isinstance(spec, list):
        return [renamed(item) for item in spec]
    if isinstance(spec, dict):
        return {key: renamed(value) if key in ("column", "columns") else value for key, value in spec.items()}
    return spec


def hostile_settings(folder: Path) -> Path:
    spec = json.loads(SETTINGS.read_text(encoding="utf-8"))
    spec["unique_id_column"] = HOSTILE_NAMES["record_id"]
    spec["standardise"] = {HOSTILE_NAMES.get(k, k): v for k, v in spec["standardise"].items()}
    spec["comparisons"] = [renamed(c) for c in spec["comparisons"]]
    spec["blocking_rules"] = [renamed(r) for r in spec["blocking_rules"]]
    path = folder / "settings 'hostile' ✓.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def write(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def outputs(out: Path) -> tuple[dict, set]:
    """Pairs as {(id, id): weight} and the partition of ids into clusters."""
    pairs = pq.read_table(out / "pairs.parquet").to_pydict()
    weights = {(l, r): w for l, r, w in zip(pairs["id_l"], pairs["id_r"], pairs["match_weight"])}
    clusters = pq.read_table(out / "clusters.parquet").to_pydict()
    members: dict[int, set] = {}
    for record_id, cluster in zip(clusters["id"], clusters["cluster_id"]):
        members.setdefault(cluster, set()).add(record_id)
    return weights, {frozenset(m) for m in members.values()}


@pytest.fixture(scope="module")
def plain_result(plain, tmp_path_factory) -> tuple[dict, set]:
    folder = tmp_path_factory.mktemp("plain")
    done = invoke("dedupe", write(plain, folder / "people.parquet"), "-o", folder / "out", "--settings", SETTINGS, "-q")
    assert done.exit_code == 0, done.output
    return outputs(folder / "out")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_hostile_column_names_and_values_give_the_same_result_as_plain_ones(suffix, plain, plain_result, tmp_path):
    path = write(hostile(plain), tmp_path / f"o'brien \"people\" ✓{suffix}")
    out = tmp_path / "out; rm -rf ~"
    result = invoke("dedupe", path, "-o", out, "--settings", hostile_settings(tmp_path), "--csv")
    assert result.exit_code == 0, result.output
    weights, partition = outputs(out)
    plain_weights, plain_partition = plain_result
    assert weights == plain_weights
    assert partition == plain_partition
    # Every record exactly once, the hostile ids included.
    ids = pq.read_table(out / "clusters.parquet")["id"].to_pylist()
    assert Counter(ids) == Counter(plain["record_id"].to_pylist())
    # The records sharing a hostile name are compared, and their level columns carry the hostile names.
    for k in range(len(HOSTILE_VALUES)):
        a, b = plain["record_id"][2 * k].as_py(), plain["record_id"][2 * k + 1].as_py()
        assert (a, b) in weights or (b, a) in weights
    columns = pq.read_table(out / "pairs.parquet").column_names
    assert f"{HOSTILE_NAMES['last_name']}_level" in columns and f"{HOSTILE_NAMES['zip']}_level" in columns
    assert pacsv.read_csv(out / "pairs.csv").column_names == columns


def test_link_with_hostile_column_names_pairs_records_across_the_sources(tmp_path):
    left, right = datasets.people_link(300, seed=4)
    a = write(hostile(left), tmp_path / "a 'left'.csv")
    b = write(hostile(right), tmp_path / 'b "right".parquet')
    out = tmp_path / "out"
    result = invoke("link", a, b, "-o", out, "--settings", hostile_settings(tmp_path), "-q")
    assert result.exit_code == 0, result.output
    pairs = pq.read_table(out / "pairs.parquet")
    assert pairs.num_rows > 0
    assert all(l != r for l, r in zip(pairs["source_l"].to_pylist(), pairs["source_r"].to_pylist()))
    assert pq.read_table(out / "clusters.parquet").num_rows == left.num_rows + right.num_rows


def test_the_duckdb_engine_passes_no_sql_built_from_strings():
    """Every query DuckDB runs is a constant; paths and options are bound parameters."""
    tree = ast.parse(Path(duckdb_engine.__file__).read_text(encoding="utf-8"))
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            assigned.setdefault(node.targets[0].id, []).append(node.value)
    # Names only ever given literal text (implicit concatenation makes one literal).
    constants = {name for name, values in assigned.items() if all(isinstance(v, ast.Constant) for v in values)}
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("sql", "execute", "query")
    ]
    assert calls, "no query found: has the engine changed?"
    for call in calls:
        query = call.args[0]
        assert isinstance(query, ast.Constant) or (isinstance(query, ast.Name) and query.id in constants), ast.unparse(call)
