"""The command line end to end, on small generated data, with every exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from linkwise import datasets
from linkwise.cli import main

SETTINGS = str(Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json")


@pytest.fixture(scope="module")
def people_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "people.parquet"
    pq.write_table(datasets.people(1500, seed=7), path)
    return path


@pytest.fixture(scope="module")
def link_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("link")
    a, b = datasets.people_link(1500, seed=3)
    pacsv.write_csv(a, folder / "a.csv")
    pacsv.write_csv(b, folder / "b.csv")
    return folder / "a.csv", folder / "b.csv"


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_dedupe_writes_every_output_and_exits_zero(people_file, tmp_path):
    out = tmp_path / "out"
    result = invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS)
    assert result.exit_code == 0, result.output
    for name in ("clusters.parquet", "pairs.parquet", "model.json", "settings.json", "summary.json"):
        assert (out / name).is_file()
    clusters = pq.read_table(out / "clusters.parquet")
    assert clusters.num_rows == 1500
    assert clusters.column_names[:3] == ["id", "source", "cluster_id"]
    assert "1,500 records" in result.output


def test_csv_outputs_on_request(people_file, tmp_path):
    out = tmp_path / "out"
    assert invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS, "--csv", "-q").exit_code == 0
    assert (out / "clusters.csv").is_file() and (out / "pairs.csv").is_file()


def test_quiet_prints_nothing(people_file, tmp_path):
    result = invoke("dedupe", people_file, "-o", tmp_path / "out", "--settings", SETTINGS, "--quiet")
    assert result.exit_code == 0
    assert result.output == ""


def test_thresholds_from_the_command_line_are_recorded(people_file, tmp_path):
    out = tmp_path / "out"
    result = invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS, "--threshold", "0.7", "--cluster-threshold", "0.95", "-q")
    assert result.exit_code == 0
    written = json.loads((out / "settings.json").read_text())
    assert written["match_threshold"] == 0.7 and written["cluster_threshold"] == 0.95


def test_evaluate_prints_metrics_and_json(people_file, tmp_path):
    out = tmp_path / "out"
    assert invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS, "-q").exit_code == 0
    table = invoke("evaluate", out, "--truth", "entity_id")
    assert table.exit_code == 0, table.output
    assert "pairs implied by clusters" in table.output
    as_json = invoke("evaluate", out, "--truth", "entity_id", "--json")
    metrics = json.loads(as_json.output)
    assert metrics["cluster_pairs"]["f1"] > 0.85
    assert metrics["counts"]["records"] == 1500


def test_link_makes_only_cross_source_pairs(link_files, tmp_path):
    out = tmp_path / "out"
    result = invoke("link", *link_files, "-o", out, "--settings", SETTINGS)
    assert result.exit_code == 0, result.output
    pairs = pq.read_table(out / "pairs.parquet")
    assert pairs.num_rows > 0
    assert all(l != r for l, r in zip(pairs["source_l"].to_pylist(), pairs["source_r"].to_pylist()))
    evaluation = json.loads(invoke("evaluate", out, "--truth", "entity_id", "--json").output)
    assert evaluation["scored_pairs"]["f1"] > 0.85


def test_model_from_an_earlier_run_scores_without_training(people_file, tmp_path):
    first = tmp_path / "first"
    assert invoke("dedupe", people_file, "-o", first, "--settings", SETTINGS, "-q").exit_code == 0
    second = tmp_path / "second"
    result = invoke("dedupe", people_file, "-o", second, "--model", first / "model.json", "-q")
    assert result.exit_code == 0, result.output
    a = pq.read_table(first / "pairs.parquet")["match_weight"].to_pylist()
    b = pq.read_table(second / "pairs.parquet")["match_weight"].to_pylist()
    assert a == pytest.approx(b, abs=1e-6)


def test_demo_prints_metrics_and_where_outputs_are(tmp_path):
    result = invoke("demo", "-o", tmp_path / "demo", "--records", "1000")
    assert result.exit_code == 0, result.output
    assert "B-cubed" in result.output and "F1" in result.output
    assert (tmp_path / "demo" / "output" / "clusters.parquet").is_file()
    assert str(tmp_path / "demo" / "output") in result.output


@pytest.mark.parametrize(
    "args, expected",
    [
        (["dedupe", "missing.csv", "-o", "{out}", "--settings", SETTINGS], "does not exist"),
        (["dedupe", "{data}", "-o", "{out}"], "no settings given"),
        (["dedupe", "{data}", "-o", "{out}", "--settings", "nope.json"], "does not exist"),
        (["evaluate", "{out}", "--truth", "entity_id"], "no run summary"),
    ],
)
def test_errors_exit_one_with_a_single_line_and_no_traceback(args, expected, people_file, tmp_path):
    args = [a.format(out=tmp_path / "out", data=people_file) for a in args]
    result = invoke(*args)
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_misspelt_column_in_settings_says_did_you_mean(people_file, tmp_path):
    settings = json.loads(Path(SETTINGS).read_text())
    settings["blocking_rules"].append(["frist_name"])
    path = tmp_path / "s.json"
    path.write_text(json.dumps(settings))
    result = invoke("dedupe", people_file, "-o", tmp_path / "out", "--settings", path)
    assert result.exit_code == 1
    assert "Did you mean 'first_name'?" in result.output
    assert not (tmp_path / "out" / "clusters.parquet").exists()


def test_existing_outputs_are_refused_unless_overwrite(people_file, tmp_path):
    out = tmp_path / "out"
    assert invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS, "-q").exit_code == 0
    refused = invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS, "-q")
    assert refused.exit_code == 1 and "--overwrite" in refused.output
    assert invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS, "-q", "--overwrite").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["dedupe"],
        ["dedupe", "x.csv"],
        ["dedupe", "x.csv", "-o", "out", "--threshold", "1.5"],
        ["link", "only_one.csv", "-o", "out"],
        ["no-such-command"],
        ["evaluate", "out"],
    ],
)
def test_usage_errors_exit_two(args):
    assert invoke(*args).exit_code == 2


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--spark-master", "local[2]"], "--engine spark"),
        (["--engine", "spark", "--memory-limit", "4GB"], "--spark-conf"),
        (["--engine", "spark", "--spark-conf", "spark.driver.memory"], "KEY=VALUE"),
    ],
)
def test_one_engines_options_are_refused_for_another(args, expected, tmp_path):
    result = invoke("dedupe", "x.parquet", "-o", tmp_path / "out", "--settings", SETTINGS, *args)
    assert result.exit_code == 2
    assert expected in result.output


def test_debug_shows_the_traceback(tmp_path):
    result = invoke("dedupe", "missing.csv", "-o", tmp_path / "out", "--settings", SETTINGS, "--debug")
    assert result.exit_code == 1
    assert "Traceback" in result.output


def test_interrupt_exits_130_and_leaves_no_output(people_file, tmp_path, monkeypatch):
    from linkwise import outputs

    def interrupted(self, name, document):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.OutputWriter, "json", interrupted)
    out = tmp_path / "out"
    result = invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS)
    assert result.exit_code == 130
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("command", ["dedupe", "link", "evaluate", "demo"])
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 3


def test_python_dash_m_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "linkwise", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "dedupe" in done.stdout
