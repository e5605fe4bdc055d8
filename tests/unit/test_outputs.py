"""Specification tests for linkwise.outputs: a run's outputs are whole or absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import linkwise.outputs as outputs
from linkwise.errors import OutputError
from linkwise.outputs import MANIFEST, OUTPUT_FILES, OutputWriter, atomic_write_text, staged_outputs

TABLE = pa.table({"id": ["a", "b", "c"], "cluster_id": [0, 0, 1]})


class Boom(Exception):
    """A failure in the middle of writing."""


def write_run(out_dir: Path, *, label: str, overwrite: bool = False, csv: bool = False) -> None:
    """Write a complete set of outputs, as LinkResult.write does."""
    with staged_outputs(out_dir, overwrite=overwrite) as writer:
        table = TABLE.append_column("run", pa.array([label] * TABLE.num_rows))
        writer.parquet("clusters.parquet", table)
        writer.parquet("pairs.parquet", table)
        if csv:
            writer.csv("clusters.csv", table)
            writer.csv("pairs.csv", table)
        writer.json("model.json", {"run": label})
        writer.json("settings.json", {"run": label})
        writer.json("summary.json", {"run": label})


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def staging_folders(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".linkwise-staging-")]


class SecondParquetFails:
    """Patches OutputWriter.parquet: once armed, the second file written fails."""

    def __init__(self) -> None:
        self.armed = True
        self.calls: list[str] = []


@pytest.fixture
def fail_on_second_parquet(monkeypatch):
    original = OutputWriter.parquet
    state = SecondParquetFails()

    def parquet(self, name, table):
        if state.armed:
            state.calls.append(name)
            if len(state.calls) == 2:
                raise Boom(f"failed while writing {name}")
        original(self, name, table)

    monkeypatch.setattr(OutputWriter, "parquet", parquet)
    return state


# ------------------------------------------------------------------ whole or absent
def test_a_failure_while_writing_leaves_no_output_files_and_no_staging_folder(tmp_path, fail_on_second_parquet):
    out = tmp_path / "out"
    with pytest.raises(Boom):
        write_run(out, label="failed")
    assert fail_on_second_parquet.calls == ["clusters.parquet", "pairs.parquet"]
    assert not out.exists()  # not even the folder it made


def test_ctrl_c_while_writing_leaves_no_output_files_and_no_staging_folder(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        with staged_outputs(out) as writer:
            writer.parquet("clusters.parquet", TABLE)
            writer.json("model.json", {"half": True})
            raise KeyboardInterrupt
    assert not out.exists()  # not even the folder it made


def test_files_appear_only_when_every_file_is_complete(tmp_path):
    out = tmp_path / "out"
    with staged_outputs(out) as writer:
        writer.parquet("clusters.parquet", TABLE)
        writer.json("model.json", {"run": 1})
        assert not (out / "clusters.parquet").exists()
        assert not (out / "model.json").exists()
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "clusters.parquet", "model.json"]
    assert pq.read_table(out / "clusters.parquet").equals(TABLE)


def test_a_successful_run_leaves_its_outputs_and_no_staging_folder(tmp_path):
    out = tmp_path / "out"
    write_run(out, label="ok", csv=True)
    # zero_config.json is written only by runs that chose their settings from the data
    assert sorted(p.name for p in out.iterdir()) == sorted(set([*OUTPUT_FILES, MANIFEST]) - {"zero_config.json"})


def test_an_earlier_runs_outputs_are_left_intact_when_a_later_run_fails(tmp_path, fail_on_second_parquet):
    out = tmp_path / "out"
    fail_on_second_parquet.armed = False
    write_run(out, label="first", csv=True)
    before = snapshot(out)
    fail_on_second_parquet.armed = True
    with pytest.raises(Boom):
        write_run(out, label="second", overwrite=True)
    assert snapshot(out) == before
    assert staging_folders(out) == []


def test_an_earlier_runs_outputs_are_left_intact_when_ctrl_c_stops_a_later_run(tmp_path):
    out = tmp_path / "out"
    write_run(out, label="first", csv=True)
    before = snapshot(out)
    with pytest.raises(KeyboardInterrupt):
        with staged_outputs(out, overwrite=True) as writer:
            writer.parquet("clusters.parquet", TABLE)
            raise KeyboardInterrupt
    assert snapshot(out) == before
    assert staging_folders(out) == []


@pytest.mark.parametrize("failure", [OSError(5, "Input/output error"), KeyboardInterrupt()], ids=["os-error", "ctrl-c"])
@pytest.mark.parametrize("failing_file", ["clusters.parquet", "pairs.parquet", "summary.json"])
def test_an_earlier_runs_outputs_are_left_intact_when_moving_the_later_runs_files_in_fails(
    tmp_path, monkeypatch, failing_file, failure
):
    out = tmp_path / "out"
    write_run(out, label="first", csv=True)
    before = snapshot(out)
    real_replace = os.replace
    failed = []

    def replace(src, dst):
        # Fail once, when the new run's file is moved from staging into the output folder.
        if not failed and Path(dst) == out / failing_file and Path(src).parent.name.startswith(".linkwise-staging-"):
            failed.append(dst)
            raise failure
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises((OutputError, KeyboardInterrupt)):
        write_run(out, label="second", overwrite=True)
    assert failed, "the simulated failure did not happen"
    assert snapshot(out) == before
    assert staging_folders(out) == []


# ------------------------------------------------------------------ streaming in batches
PAIRS = pa.table({"id_l": [f"r{i}" for i in range(10)], "match_weight": [i / 3 for i in range(10)]})


def in_batches(table: pa.Table, size: int) -> list[pa.Table]:
    return [table.slice(start, size) for start in range(0, table.num_rows, size)]


def test_a_parquet_file_written_in_batches_reads_back_whole_with_a_row_group_per_batch(tmp_path):
    with staged_outputs(tmp_path) as writer:
        writer.parquet_batches("pairs.parquet", PAIRS.schema, in_batches(PAIRS, 4))
    parquet = pq.ParquetFile(tmp_path / "pairs.parquet")
    assert parquet.read().equals(PAIRS)
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [4, 4, 2]


def test_a_csv_file_written_in_batches_is_the_same_file_as_written_whole(tmp_path):
    with staged_outputs(tmp_path / "whole") as writer:
        writer.csv("pairs.csv", PAIRS)
    with staged_outputs(tmp_path / "batches") as writer:
        writer.csv_batches("pairs.csv", PAIRS.schema, in_batches(PAIRS, 4))
    assert (tmp_path / "batches" / "pairs.csv").read_bytes() == (tmp_path / "whole" / "pairs.csv").read_bytes()


def test_no_batches_give_files_with_the_columns_and_no_rows(tmp_path):
    with staged_outputs(tmp_path) as writer:
        writer.parquet_batches("pairs.parquet", PAIRS.schema, [])
        writer.csv_batches("pairs.csv", PAIRS.schema, [])
    assert pq.read_table(tmp_path / "pairs.parquet").equals(PAIRS.slice(0, 0))
    assert (tmp_path / "pairs.csv").read_text(encoding="utf-8") == '"id_l","match_weight"\n'


@pytest.mark.parametrize("failure", [Boom("failed between batches"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
@pytest.mark.parametrize(("method", "name"), [("parquet_batches", "pairs.parquet"), ("csv_batches", "pairs.csv")])
def test_an_earlier_runs_outputs_are_left_intact_when_a_failure_stops_writing_between_batches(
    tmp_path, method, name, failure
):
    out = tmp_path / "out"
    write_run(out, label="first", csv=True)
    before = snapshot(out)

    def failing_batches():
        yield PAIRS
        raise failure

    with pytest.raises(type(failure)):
        with staged_outputs(out, overwrite=True) as writer:
            getattr(writer, method)(name, PAIRS.schema, failing_batches())
    assert snapshot(out) == before
    assert staging_folders(out) == []


# ------------------------------------------------------------------ refusing and keeping files
def test_a_folder_holding_outputs_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "out"
    write_run(out, label="first")
    before = snapshot(out)
    with pytest.raises(OutputError) as caught:
        write_run(out, label="second")
    message = str(caught.value)
    assert str(out) in message and "clusters.parquet" in message and "overwrite" in message
    assert snapshot(out) == before
    assert staging_folders(out) == []


def test_overwrite_replaces_the_earlier_outputs(tmp_path):
    out = tmp_path / "out"
    write_run(out, label="first")
    write_run(out, label="second", overwrite=True)
    assert (out / "model.json").read_text(encoding="utf-8").count("second") == 1


def test_overwrite_removes_earlier_outputs_the_new_run_does_not_write(tmp_path):
    out = tmp_path / "out"
    write_run(out, label="first", csv=True)
    write_run(out, label="second", overwrite=True)
    assert not (out / "clusters.csv").exists() and not (out / "pairs.csv").exists()
    assert (out / "clusters.parquet").exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_files_linkwise_did_not_write_are_never_deleted(tmp_path, overwrite):
    out = tmp_path / "out"
    out.mkdir()
    theirs = {"notes.txt": b"keep me", "clusters.parquet.bak": b"old", "model.json.txt": b"{}"}
    (out / "data").mkdir()
    (out / "data" / "records.csv").write_bytes(b"id\n1\n")
    for name, content in theirs.items():
        (out / name).write_bytes(content)
    if overwrite:
        write_run(out, label="first", csv=True)
    write_run(out, label="second", overwrite=overwrite)
    for name, content in theirs.items():
        assert (out / name).read_bytes() == content
    assert (out / "data" / "records.csv").read_bytes() == b"id\n1\n"


@pytest.mark.parametrize("name", ["pairs.csv", "model.json"])
def test_a_file_named_like_an_output_that_linkwise_did_not_write_is_never_replaced(tmp_path, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(b"theirs")
    with pytest.raises(OutputError) as caught:
        write_run(out, label="second", overwrite=True)
    message = str(caught.value)
    assert name in message and "move these files away" in message
    assert snapshot(out) == {name: b"theirs"}
    assert staging_folders(out) == []


def test_a_file_named_like_an_output_beside_an_earlier_run_is_never_replaced(tmp_path):
    out = tmp_path / "out"
    write_run(out, label="first")  # no CSVs
    (out / "pairs.csv").write_bytes(b"theirs")
    before = snapshot(out)
    with pytest.raises(OutputError, match="pairs.csv"):
        write_run(out, label="second", overwrite=True, csv=True)
    assert snapshot(out) == before


def test_the_manifest_lists_the_files_of_the_run(tmp_path):
    write_run(tmp_path, label="first", csv=True)
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    # zero_config.json is written only by runs that chose their settings from the data
    assert manifest["files"] == sorted(set(OUTPUT_FILES) - {"zero_config.json"})


def test_files_linkwise_did_not_write_survive_a_failed_run(tmp_path, fail_on_second_parquet):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(Boom):
        write_run(out, label="failed")
    assert snapshot(out) == {"notes.txt": b"keep me"}


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "not-a-folder"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="is not a folder"):
        write_run(target, label="x")
    assert target.read_text(encoding="utf-8") == "x"


# ------------------------------------------------------------------ atomic_write_text
def test_atomic_write_text_writes_the_whole_text(tmp_path):
    path = tmp_path / "sub" / "settings.json"
    atomic_write_text(path, "{\"a\": 1}\n")
    assert path.read_text(encoding="utf-8") == "{\"a\": 1}\n"
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]


def test_atomic_write_text_leaves_no_temporary_file_and_the_old_text_on_failure(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "new \ud800 text")  # a lone surrogate cannot be encoded as UTF-8
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_atomic_write_text_leaves_no_temporary_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "settings.json"

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new")
    assert list(tmp_path.iterdir()) == []


def test_a_report_written_into_a_runs_folder_is_the_runs_own_and_replaced_by_overwrite(tmp_path):
    from linkwise.outputs import record_output

    out = tmp_path / "out"
    write_run(out, label="first")
    (out / "report.html").write_text("<p>first</p>", encoding="utf-8")
    record_output(out, "report.html")
    write_run(out, label="second", overwrite=True)
    assert not (out / "report.html").exists()  # it described the first run


def test_a_report_linkwise_did_not_record_is_never_replaced(tmp_path):
    out = tmp_path / "out"
    write_run(out, label="first")
    (out / "report.html").write_text("<p>theirs</p>", encoding="utf-8")
    with pytest.raises(OutputError, match="report.html"):
        write_run(out, label="second", overwrite=True)
    assert (out / "report.html").read_text(encoding="utf-8") == "<p>theirs</p>"
