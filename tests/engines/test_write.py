"""Specification tests of LinkResult.write: pairs are built and written in batches,
and the files hold exactly what the pairs table holds."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import linkwise
import linkwise.result
from linkwise.datasets import people, people_link

SETTINGS = Path(linkwise.__file__).parent / "data" / "people_settings.json"
N_RECORDS = 500
BATCH_ROWS = 50


class Boom(Exception):
    """A failure while building a batch of pairs."""


@pytest.fixture(scope="module", params=["dedupe", "link"])
def result(request):
    if request.param == "dedupe":
        return linkwise.run(people(N_RECORDS, seed=1), SETTINGS)
    return linkwise.link(*people_link(N_RECORDS, seed=1), settings=SETTINGS)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(linkwise.result, "PAIRS_BATCH_ROWS", BATCH_ROWS)


def csv_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def test_pairs_written_in_batches_are_the_pairs_table_with_a_row_group_per_batch(result, small_batches, tmp_path):
    out = result.write(tmp_path / "run", csv=True)
    expected = result.pairs_table()
    assert expected.num_rows > 2 * BATCH_ROWS
    parquet = pq.ParquetFile(out / "pairs.parquet")
    assert parquet.read().equals(expected)
    assert parquet.num_row_groups == math.ceil(expected.num_rows / BATCH_ROWS)
    assert (out / "pairs.csv").read_bytes() == csv_bytes(expected)


def test_the_batch_size_changes_only_the_row_groups(result, tmp_path, monkeypatch):
    whole = result.write(tmp_path / "whole")
    monkeypatch.setattr(linkwise.result, "PAIRS_BATCH_ROWS", BATCH_ROWS)
    batched = result.write(tmp_path / "batched")
    assert pq.read_table(batched / "pairs.parquet").equals(pq.read_table(whole / "pairs.parquet"))
    assert pq.ParquetFile(whole / "pairs.parquet").num_row_groups == 1


@pytest.mark.parametrize("failure", [Boom("failed building a batch"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_a_failure_between_batches_leaves_the_earlier_outputs_and_no_staging_folder(
    result, small_batches, tmp_path, monkeypatch, failure
):
    out = result.write(tmp_path / "run", csv=True)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    build = linkwise.result.LinkResult._pairs_of
    calls = []

    def fails_on_third_batch(self, rows):
        calls.append(rows)
        if len(calls) == 3:
            raise failure
        return build(self, rows)

    monkeypatch.setattr(linkwise.result.LinkResult, "_pairs_of", fails_on_third_batch)
    with pytest.raises(type(failure)):
        result.write(out, overwrite=True, csv=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
