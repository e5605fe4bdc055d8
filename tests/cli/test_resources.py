"""Bounded resources: DuckDB's memory limit, threads and spill folder come from the
command line, and a run over the pair budget stops before any pair is made."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import linkwise.pipeline as pipeline
from linkwise import datasets
from linkwise.cli import main
from linkwise.engines.duckdb import DuckDBEngine

SETTINGS = Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "people.parquet"
    pq.write_table(datasets.people(300, seed=13), path)
    return path


def test_memory_limit_threads_and_spill_folder_reach_duckdb(data, tmp_path, monkeypatch):
    seen = {}
    close = DuckDBEngine.close

    def record_and_close(self):
        query = "SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        seen["settings"] = self._con.sql(query).fetchall()[0]
        close(self)

    monkeypatch.setattr(DuckDBEngine, "close", record_and_close)
    spill = tmp_path / "spill"
    result = invoke(
        "dedupe", data, "-o", tmp_path / "out", "--settings", SETTINGS, "-q",
        "--memory-limit", "300MB", "--threads", "1", "--temp-dir", spill,
    )
    assert result.exit_code == 0, result.output
    memory, threads, temp_directory = seen["settings"]
    assert memory == "286.1 MiB"  # 300 MB as DuckDB shows it
    assert threads == 1
    assert Path(temp_directory) == spill


@pytest.mark.parametrize("threads", ["0", "-1", "two"])
def test_threads_must_be_a_positive_whole_number(data, tmp_path, threads):
    assert invoke("dedupe", data, "-o", tmp_path / "out", "--settings", SETTINGS, "--threads", threads).exit_code == 2


def never(*args, **kwargs):
    raise AssertionError("pairs were made or compared over the budget")


@pytest.mark.parametrize(
    ("rules", "budget", "expected"),
    [
        ([["sex"]], 5_000, "blocking rule 'sex' alone makes"),
        # Each rule alone within the budget (at most 522 pairs), together over it.
        ([["dob"], ["email"], ["first_name"]], 600, "the blocking rules make"),
    ],
    ids=["one-rule-over-budget", "rules-together-over-budget"],
)
def test_a_run_over_the_pair_budget_stops_before_any_pair_is_made_with_advice(data, tmp_path, monkeypatch, rules, budget, expected):
    settings = json.loads(SETTINGS.read_text(encoding="utf-8"))
    settings.update(blocking_rules=rules, max_candidate_pairs=budget)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    monkeypatch.setattr(DuckDBEngine, "candidate_pairs", never)
    monkeypatch.setattr(pipeline, "compare_pairs", never)
    result = invoke("dedupe", data, "-o", tmp_path / "out", "--settings", path)
    assert result.exit_code == 1, result.output
    line = result.output.strip()
    assert expected in line and f"budget of {budget:,}" in line and "max_candidate_pairs" in line
    assert "stricter" in line  # the advice
    assert not (tmp_path / "out").exists()
