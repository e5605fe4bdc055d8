"""Specification tests of ingest: which columns are kept, and reading others back in record order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import linkwise
from linkwise import InputError
from linkwise.datasets import people
from linkwise.engines.duckdb import DuckDBEngine
from linkwise.ingest import load_records
from linkwise.settings import Settings

SETTINGS = Settings.load(Path(linkwise.__file__).parent / "data" / "people_settings.json")
USED = {"record_id", *SETTINGS.required_columns()}


@pytest.fixture(scope="module")
def data() -> pa.Table:
    table = people(300, seed=11)
    # Shuffled, so that input order and record order differ.
    return table.take(np.random.default_rng(2).permutation(table.num_rows))


def load(inputs, **options):
    engine = DuckDBEngine(threads=1)
    try:
        return load_records(inputs, SETTINGS, engine=engine, **options)
    finally:
        engine.close()


def by_id(records, column: str) -> dict:
    return dict(zip(records.ids.to_pylist(), records.column(column).to_pylist()))


def test_only_the_id_and_the_columns_the_settings_use_are_kept(data, tmp_path):
    assert "entity_id" not in USED
    pq.write_table(data, tmp_path / "people.parquet")
    pacsv.write_csv(data, tmp_path / "people.csv")
    for inputs in (data, data.to_pandas(), tmp_path / "people.parquet", tmp_path / "people.csv"):
        assert set(load(inputs).table.column_names) == USED


def test_extra_columns_are_kept_where_the_input_has_them(data):
    records = load(data, extra_columns=["entity_id", "no_such_column"])
    assert set(records.table.column_names) == USED | {"entity_id"}


def test_the_table_stays_in_input_order_and_order_gives_record_order(data):
    records = load(data)
    assert records.table["record_id"].equals(data["record_id"])
    assert records.ids.to_pylist() == sorted(data["record_id"].to_pylist())
    assert records.ids.equals(records.column("record_id"))
    assert records.ids.equals(records.table["record_id"].take(pa.array(records.order)).combine_chunks())


def test_a_column_not_kept_is_read_again_in_record_order(data, tmp_path):
    expected = dict(zip(data["record_id"].to_pylist(), data["entity_id"].to_pylist()))
    pq.write_table(data, tmp_path / "people.parquet")
    pacsv.write_csv(data, tmp_path / "people.csv")
    # The engine that read the files is closed by now: reading again must not need it.
    for inputs in (data, data.to_pandas(), tmp_path / "people.parquet", tmp_path / "people.csv"):
        records = load(inputs)
        assert "entity_id" not in records.table.column_names
        assert by_id(records, "entity_id") == expected


def test_a_column_one_source_lacks_is_null_for_its_records(data):
    half = data.num_rows // 2
    a, b = data.slice(0, half), data.slice(half).drop_columns(["entity_id"])
    records = load({"a": a, "b": b})
    values = records.column("entity_id").to_pylist()
    sources = records.sources.to_pylist()
    assert all((v is None) == (s == "b") for v, s in zip(values, sources))


def test_an_unknown_column_is_named_with_did_you_mean(data):
    with pytest.raises(InputError, match="column 'entity_idd' is not in the input. Did you mean 'entity_id'"):
        load(data).column("entity_idd")


def test_evaluating_against_a_truth_column_not_kept_works_from_a_csv(data, tmp_path):
    path = tmp_path / "people.csv"
    pacsv.write_csv(data, path)
    result = linkwise.dedupe(str(path), SETTINGS)
    assert "entity_id" not in result.records.table.column_names
    assert result.evaluate("entity_id").cluster_pairs.f1 > 0.8


def test_records_without_their_columns_still_give_every_column_on_demand(data, tmp_path):
    pq.write_table(data, tmp_path / "people.parquet")
    records = load(tmp_path / "people.parquet")
    bare = records.without_columns()
    assert bare.table.num_columns == 0 and bare.n == records.n
    assert by_id(bare, "first_name") == by_id(records, "first_name")


def test_a_finished_run_holds_no_column_data_but_evaluates_against_the_truth(data):
    result = linkwise.dedupe(data, SETTINGS)
    assert result.records.table.num_columns == 0
    assert result.evaluate("entity_id").cluster_pairs.f1 > 0.8


def test_a_parquet_file_of_many_row_groups_gives_the_same_run_as_the_table(data, tmp_path):
    # Small row groups: each holds its own dictionary of a column's values, some with nulls.
    path = tmp_path / "groups.parquet"
    pq.write_table(data, path, row_group_size=37)
    from_file = linkwise.dedupe(str(path), SETTINGS)
    from_table = linkwise.dedupe(data, SETTINGS)
    assert from_file.pairs().equals(from_table.pairs())
    partition = ["id", "cluster_id", "cluster_size"]  # the source is named after the file or not
    assert from_file.clusters_table().select(partition).equals(from_table.clusters_table().select(partition))


def test_text_read_in_dictionary_form_is_given_back_as_text(data, tmp_path):
    path = tmp_path / "records.parquet"
    pq.write_table(data, path)
    records = load(str(path))
    assert pa.types.is_dictionary(records.table["last_name"].type)
    assert records.column("last_name").type == pa.string()
    assert by_id(records, "last_name") == dict(zip(data["record_id"].to_pylist(), data["last_name"].to_pylist()))



def test_a_header_left_whole_by_a_mis_sniffed_delimiter_is_read_again_on_commas(tmp_path, monkeypatch):
    # DuckDB's sniffer takes the ';' of HTML entities ('&#237;') in ACM.csv of
    # DBLP-ACM for the delimiter, leaving each line one field: simulated here.
    path = tmp_path / "acm.csv"
    path.write_text('id,title,authors\r\n1,"A paper","J. Herrera-Joancomart&#237;, A. Smith"\r\n', encoding="latin-1")
    engine = DuckDBEngine()
    whole_lines = pa.table({"id,title,authors": ['1,"A paper","J. Herrera-Joancomart&#237']})
    monkeypatch.setattr(engine, "_read_sniffed", lambda *a, **k: whole_lines)
    table = engine.read(str(path), file_format="csv", encoding="latin-1")
    assert table.column_names == ["id", "title", "authors"]
    assert table["authors"].to_pylist() == ["J. Herrera-Joancomart&#237;, A. Smith"]
