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


def test_evaluate_without_truth_estimates_accuracy_from_the_outputs_alone(people_file, tmp_path):
    out = tmp_path / "out"
    assert invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS, "-q").exit_code == 0
    table = invoke("evaluate", out)
    assert table.exit_code == 0, table.output
    assert "Estimated" in table.output and "pairs implied by clusters" in table.output
    estimated = json.loads(invoke("evaluate", out, "--json").output)["estimated"]
    measured = json.loads(invoke("evaluate", out, "--truth", "entity_id", "--json").output)
    for group in ("scored_pairs", "cluster_pairs"):
        for name in ("precision", "recall"):
            figure = estimated[group][name]
            assert figure["low"] <= figure["estimate"] <= figure["high"]
            assert figure["estimate"] == pytest.approx(measured[group][name], abs=0.05)


def test_link_estimates_count_cross_source_pairs_only(link_files, tmp_path):
    out = tmp_path / "out"
    assert invoke("link", *link_files, "-o", out, "--settings", SETTINGS, "-q").exit_code == 0
    estimated = json.loads(invoke("evaluate", out, "--json").output)["estimated"]
    measured = json.loads(invoke("evaluate", out, "--truth", "entity_id", "--json").output)
    assert estimated["cluster_pairs"]["precision"]["estimate"] == pytest.approx(measured["cluster_pairs"]["precision"], abs=0.05)


def test_labels_file_is_read_and_its_choices_are_reported(people_file, tmp_path):
    table = pq.read_table(people_file, columns=["record_id", "entity_id"]).slice(0, 400)
    ids, entities = table["record_id"].to_pylist(), table["entity_id"].to_pylist()
    rows = [(ids[i], ids[j], int(entities[i] == entities[j])) for i in range(len(ids)) for j in range(i + 1, len(ids))
            if entities[i] == entities[j] or (i + j) % 97 == 0]
    labels = tmp_path / "labels.csv"
    labels.write_text("id_l,id_r,match\n" + "".join(f"{a},{b},{m}\n" for a, b, m in rows))
    out = tmp_path / "out"
    result = invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS, "--labels", labels)
    assert result.exit_code == 0, result.output
    assert "Labels:" in result.output
    model = json.loads((out / "model.json").read_text())
    assert model["training"]["labels"]["pairs"] == len(rows)
    written = json.loads((out / "settings.json").read_text())
    assert written["cluster_threshold"] == model["training"]["labels"]["cluster_threshold"]


def test_a_labels_file_naming_unknown_records_fails_with_one_line(people_file, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("id_l,id_r,match\nnobody,R00000001,1\n")
    result = invoke("dedupe", people_file, "-o", tmp_path / "out", "--settings", SETTINGS, "--labels", labels)
    assert result.exit_code == 1
    assert "names a record" in result.output and "Traceback" not in result.output


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
    # It ends with the report, which shows every section, precision and recall against the truth included.
    report = tmp_path / "demo" / "output" / "report.html"
    assert result.output.rstrip().endswith(f"Report: {report}")
    text = report.read_text(encoding="utf-8")
    for section in ("summary", "model", "weights", "clusters", "blocking", "borderline", "estimate", "truth"):
        assert f'<section id="{section}">' in text


@pytest.mark.parametrize(
    "args, expected",
    [
        (["dedupe", "missing.csv", "-o", "{out}", "--settings", SETTINGS], "does not exist"),
        (["dedupe", "{data}", "-o", "{out}", "--exclude", "entity"], "--exclude 'entity': no such column"),
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
        ["evaluate"],
        ["evaluate", "out", "--threshold", "2"],
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


def test_evaluate_without_truth_on_a_folder_without_outputs_fails_with_one_line(tmp_path):
    result = invoke("evaluate", tmp_path / "nothing")
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_debug_shows_the_traceback(tmp_path):
    result = invoke("dedupe", "missing.csv", "-o", tmp_path / "out", "--settings", SETTINGS, "--debug")
    assert result.exit_code == 1
    assert "Traceback" in result.output


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (PermissionError(13, "Permission denied", "people.csv"), "linkwise: error: Permission denied: 'people.csv' (errno 13)"),
        (OSError(28, "No space left on device"), "linkwise: error: the disk is full; free some space or choose another folder"),
    ],
    ids=["permission-denied", "disk-full"],
)
def test_an_operating_system_error_gives_its_reason_and_file(people_file, tmp_path, monkeypatch, error, line):
    import linkwise.pipeline as pipeline

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(pipeline, "load_records", failing)
    result = invoke("dedupe", people_file, "-o", tmp_path / "out", "--settings", SETTINGS)
    assert result.exit_code == 1
    assert result.output.strip() == line


def test_debug_applies_to_its_own_invocation_only(tmp_path):
    args = ["dedupe", "missing.csv", "-o", tmp_path / "out", "--settings", SETTINGS]
    assert "Traceback" in invoke(*args, "--debug").output
    assert "Traceback" not in invoke(*args).output


def test_interrupt_exits_130_and_leaves_no_output(people_file, tmp_path, monkeypatch):
    from linkwise import outputs

    def interrupted(self, name, document):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.OutputWriter, "json", interrupted)
    out = tmp_path / "out"
    result = invoke("dedupe", people_file, "-o", out, "--settings", SETTINGS)
    assert result.exit_code == 130
    assert not out.exists()  # not even the folder it made


@pytest.mark.parametrize("command", ["dedupe", "link", "evaluate", "demo"])
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 3


def test_python_dash_m_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "linkwise", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "dedupe" in done.stdout
