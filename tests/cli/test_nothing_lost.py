"""Nothing is lost: every record comes out exactly once, and a run that fails or is
interrupted leaves the earlier outputs (or none) and no temporary file."""

from __future__ import annotations

import errno
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import linkwise.pipeline as pipeline
from linkwise import datasets
from linkwise.cli import main

SETTINGS = Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def folder_state(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under ``folder``, hidden ones included."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def people() -> pa.Table:
    return datasets.people(300, seed=8)


@pytest.fixture
def earlier_run(people, tmp_path) -> tuple[Path, Path, dict]:
    """A CSV input and a folder holding a finished run's outputs (CSVs included), with their state."""
    data = tmp_path / "people.csv"
    pacsv.write_csv(people, data)
    out = tmp_path / "out"
    done = invoke("dedupe", data, "-o", out, "--settings", SETTINGS, "--csv", "-q")
    assert done.exit_code == 0, done.output
    return data, out, folder_state(tmp_path)


# ------------------------------------------------------------------ every record, exactly once
def test_every_record_appears_exactly_once_in_the_clusters_singletons_and_empty_records_included(people, tmp_path):
    # Records with nothing but an id, and records with a value no other record has, are singletons.
    empty = {name: [None] * 5 for name in people.column_names}
    empty["record_id"] = [f"EMPTY{i}" for i in range(5)]
    table = pa.concat_tables([people, pa.table(empty, schema=people.schema)])
    data = tmp_path / "people.csv"
    pacsv.write_csv(table, data)
    out = tmp_path / "out"
    assert invoke("dedupe", data, "-o", out, "--settings", SETTINGS, "--csv", "-q").exit_code == 0
    for clusters in (pq.read_table(out / "clusters.parquet"), pacsv.read_csv(out / "clusters.csv")):
        assert Counter(clusters["id"].to_pylist()) == Counter(table["record_id"].to_pylist())
        sizes = Counter(clusters["cluster_id"].to_pylist())
        assert clusters["cluster_size"].to_pylist() == [sizes[c] for c in clusters["cluster_id"].to_pylist()]
        size_of = dict(zip(clusters["id"].to_pylist(), clusters["cluster_size"].to_pylist()))
        assert all(size_of[f"EMPTY{i}"] == 1 for i in range(5))


def test_every_record_of_every_source_appears_once_when_the_sources_share_ids(tmp_path):
    left, right = datasets.people_link(300, seed=9)
    # The same ids in both sources: records are told apart by (source, id).
    right = right.set_column(right.column_names.index("record_id"), "record_id", left["record_id"].slice(0, right.num_rows))
    pacsv.write_csv(left, tmp_path / "a.csv")
    pacsv.write_csv(right, tmp_path / "b.csv")
    out = tmp_path / "out"
    result = invoke("link", tmp_path / "a.csv", tmp_path / "b.csv", "-o", out, "--settings", SETTINGS, "-q")
    assert result.exit_code == 0, result.output
    clusters = pq.read_table(out / "clusters.parquet")
    records = list(zip(clusters["source"].to_pylist(), clusters["id"].to_pylist()))
    expected = [("a", i) for i in left["record_id"].to_pylist()] + [("b", i) for i in right["record_id"].to_pylist()]
    assert Counter(records) == Counter(expected)


# ------------------------------------------------------------------ failures leave the earlier outputs
def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def boom(*args, **kwargs):
    raise RuntimeError("simulated failure")


@pytest.mark.parametrize(
    ("stage", "failure", "exit_code"),
    [("compare_pairs", interrupt, 130), ("compare_pairs", boom, 1), ("match_weights", boom, 1), ("connected_components", interrupt, 130)],
    ids=["ctrl-c-while-comparing", "error-while-comparing", "error-while-scoring", "ctrl-c-while-clustering"],
)
def test_a_run_stopped_part_way_leaves_the_earlier_outputs_and_no_temporary_file(earlier_run, monkeypatch, stage, failure, exit_code):
    data, out, before = earlier_run
    monkeypatch.setattr(pipeline, stage, failure)
    result = invoke("dedupe", data, "-o", out, "--settings", SETTINGS, "--overwrite")
    assert result.exit_code == exit_code
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert folder_state(out.parent) == before


def failing_on_call(number: int, error: BaseException):
    """A ParquetWriter.write_table that works ``number - 1`` times, then raises ``error``."""
    real = pq.ParquetWriter.write_table
    calls = []

    def write_table(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise error
        return real(self, *args, **kwargs)

    return write_table


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OSError(errno.EIO, "Input/output error"), "cannot write to 'out': Input/output error"),
        (OSError(errno.ENOSPC, "No space left on device"), "cannot write to 'out': the disk is full"),
        (KeyboardInterrupt(), "interrupted; no output was written"),
    ],
    ids=["io-error", "disk-full", "ctrl-c"],
)
def test_a_write_that_fails_half_way_leaves_the_earlier_outputs_and_no_temporary_file(earlier_run, monkeypatch, error, message):
    data, out, before = earlier_run
    # The first Parquet file is written; the second fails.
    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing_on_call(2, error))
    monkeypatch.chdir(out.parent)
    result = invoke("dedupe", data, "-o", "out", "--settings", SETTINGS, "--csv", "--overwrite")
    assert result.exit_code == (130 if isinstance(error, KeyboardInterrupt) else 1)
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert folder_state(out.parent) == before


def test_a_full_disk_in_a_new_output_folder_leaves_nothing_behind(people, monkeypatch, tmp_path):
    data = tmp_path / "people.parquet"
    pq.write_table(people, data)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing_on_call(1, OSError(errno.ENOSPC, "No space left on device")))
    result = invoke("dedupe", data, "-o", tmp_path / "new" / "out", "--settings", SETTINGS)
    assert result.exit_code == 1 and "the disk is full" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["people.parquet"]  # not even the folders it made


def test_duckdb_leaves_nothing_in_its_spill_folder(people, tmp_path):
    data = tmp_path / "people.csv"
    pacsv.write_csv(people, data)
    spill = tmp_path / "spill"
    spill.mkdir()
    result = invoke("dedupe", data, "-o", tmp_path / "out", "--settings", SETTINGS, "--temp-dir", spill, "--memory-limit", "200MB", "-q")
    assert result.exit_code == 0, result.output
    assert list(spill.iterdir()) == []


def test_ctrl_c_while_duckdb_reads_is_an_interruption_not_an_error(earlier_run, monkeypatch):
    import duckdb

    from linkwise.engines.duckdb import DuckDBEngine

    def interrupted(self, *args, **kwargs):
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    data, out, before = earlier_run
    monkeypatch.setattr(DuckDBEngine, "_read", interrupted)
    result = invoke("dedupe", data, "-o", out, "--settings", SETTINGS, "--overwrite")
    assert result.exit_code == 130
    assert result.output.strip() == "linkwise: interrupted; no output was written"
    assert folder_state(out.parent) == before
