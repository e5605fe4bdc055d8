"""`linkwise explain` and `linkwise report` end to end, on a small generated run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import linkwise
from linkwise import datasets
from linkwise.cli import main

SETTINGS = str(Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json")
SECTIONS = ("summary", "model", "weights", "clusters", "blocking", "borderline", "estimate")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    """--debug in an earlier test of this process would otherwise stay on."""
    from linkwise import cli

    monkeypatch.setitem(cli._DEBUG, "on", False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    pq.write_table(datasets.people(1200, seed=5), folder / "people.parquet")
    out = folder / "out"
    result = invoke("dedupe", folder / "people.parquet", "-o", out, "--settings", SETTINGS, "-q")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def a_pair(run_dir) -> dict:
    pairs = pq.read_table(run_dir / "pairs.parquet").to_pylist()
    return max(pairs, key=lambda p: p["match_weight"])


def report_parts(text: str) -> tuple[dict, list[str]]:
    """The chart specs a report holds, and the ids of its chart containers."""
    specs = json.loads(re.search(r'<script type="application/json" id="linkwise-charts">(.*?)</script>', text, re.S).group(1))
    containers = re.findall(r'<div class="chart" id="([^"]+)"', text)
    return specs, containers


def test_explain_prints_both_records_every_comparison_and_the_verdict(run_dir, a_pair):
    result = invoke("explain", run_dir, a_pair["id_l"], a_pair["id_r"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert f"Pair: record_id {a_pair['id_l']} and {a_pair['id_r']}" in text
    for comparison in ("first_name", "last_name", "dob", "email"):
        assert f"\n  {comparison} " in text
    assert "prior" in text and "Verdict: match weight" in text and "Blocking: a candidate pair, made by" in text
    assert f"{a_pair['match_weight']:+.2f}" in text


def test_explain_json_adds_up_to_the_scored_weight(run_dir, a_pair):
    result = invoke("explain", run_dir, a_pair["id_l"], a_pair["id_r"], "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    total = doc["prior_weight"] + sum(c["weight"] for c in doc["comparisons"]) + sum(d["weight"] for d in doc["dependence"])
    assert total == pytest.approx(a_pair["match_weight"], abs=1e-9, rel=0)
    assert doc["candidate"] is True and doc["a"]["id"] == a_pair["id_l"]
    assert {r["rule"] for r in doc["blocking_rules"]} == {r["rule"] for r in json.loads((run_dir / "summary.json").read_text())["blocking_rules"]}


def test_explain_a_cluster_names_its_links_and_its_weakest_link(run_dir):
    clusters = pq.read_table(run_dir / "clusters.parquet").to_pylist()
    biggest = max(clusters, key=lambda c: c["cluster_size"])
    result = invoke("explain", run_dir, "--cluster", biggest["cluster_id"])
    assert result.exit_code == 0, result.output
    assert f"Cluster {biggest['cluster_id']}: {biggest['cluster_size']} records" in result.output
    assert "Links holding it together" in result.output and "Weakest link:" in result.output
    doc = json.loads(invoke("explain", run_dir, "--cluster", biggest["cluster_id"], "--json").output)
    assert doc["size"] == biggest["cluster_size"] and len(doc["spanning_links"]) == doc["size"] - 1


@pytest.mark.parametrize("args", [["only_one_id"], ["a", "b", "--cluster", "1"], []])
def test_explain_needs_two_ids_or_a_cluster(run_dir, args):
    assert invoke("explain", run_dir, *args).exit_code == 2


def test_explain_an_unknown_id_is_one_line_and_exit_one(run_dir, a_pair):
    result = invoke("explain", run_dir, "no-such-id", a_pair["id_r"])
    assert result.exit_code == 1
    assert result.output.strip() == "linkwise: error: no record has record_id 'no-such-id'"


def test_a_run_given_a_data_frame_needs_its_input_named(tmp_path):
    data = datasets.people(400, seed=2)
    linkwise.dedupe(data, SETTINGS).write(tmp_path / "out")
    pq.write_table(data, tmp_path / "people.parquet")
    ids = data["record_id"].to_pylist()
    refused = invoke("explain", tmp_path / "out", ids[0], ids[1])
    assert refused.exit_code == 1 and "--input" in refused.output
    given = invoke("explain", tmp_path / "out", ids[0], ids[1], "--input", tmp_path / "people.parquet")
    assert given.exit_code == 0, given.output


def test_report_is_one_offline_file_with_every_section_and_a_chart_for_each_container(run_dir, tmp_path):
    path = tmp_path / "report.html"
    result = invoke("report", run_dir, "-o", path, "--pairs", "3")
    assert result.exit_code == 0, result.output
    assert f"Report written to {path}" in result.output
    text = path.read_text(encoding="utf-8")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in text
    assert '<section id="truth">' not in text
    # Nothing is fetched: no external scripts, styles or images; the charts' JavaScript is inline.
    opening_tags = re.findall(r"<script[^>]*>", text)
    assert opening_tags and not any("src=" in tag for tag in opening_tags)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)
    assert not re.search(r"<(link|img|iframe)\b", markup)
    assert "vegaEmbed" in text
    specs, containers = report_parts(text)
    assert sorted(specs) == sorted(containers)
    assert {"chart-stages", "chart-levels", "chart-weights", "chart-clusters", "chart-blocking"} <= set(specs)
    assert sum(k.startswith("chart-pair-") for k in specs) == 3
    assert all(spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/") for spec in specs.values())


def test_report_with_a_truth_column_adds_precision_and_recall_against_threshold(run_dir, tmp_path):
    result = invoke("report", run_dir, "-o", tmp_path / "r.html", "--truth", "entity_id", "--pairs", "1")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<section id="truth">' in text
    specs, _ = report_parts(text)
    values = specs["chart-truth"]["layer"][0]["data"]["values"]
    assert {v["measure"] for v in values} == {"precision", "recall", "F1"}
    assert all(0.0 <= v["value"] <= 1.0 for v in values)


def test_report_of_a_missing_run_is_an_error(tmp_path):
    result = invoke("report", tmp_path / "nothing")
    assert result.exit_code == 1 and "does not exist" in result.output


def test_record_values_cannot_break_out_of_the_page(tmp_path):
    data = datasets.people(400, seed=4)
    names = data["last_name"].to_pylist()
    names[:200] = ["</script><b>x</b>"] * 200
    data = data.set_column(data.schema.get_field_index("last_name"), "last_name", __import__("pyarrow").array(names))
    pq.write_table(data, tmp_path / "people.parquet")
    assert invoke("dedupe", tmp_path / "people.parquet", "-o", tmp_path / "out", "--settings", SETTINGS, "-q").exit_code == 0
    assert invoke("report", tmp_path / "out", "--pairs", "20").exit_code == 0
    text = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<b>x</b>" not in text
    report_parts(text)  # the chart specs still parse


@pytest.mark.parametrize("command", ["explain", "report"])
def test_the_new_commands_have_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and len(result.output.splitlines()) > 3


def test_importing_linkwise_loads_no_charting_or_browser_library():
    code = (
        "import sys, linkwise, linkwise.cli, linkwise.explain, linkwise.report; "
        "print(sorted(m for m in ('altair', 'vl_convert', 'playwright', 'jsonschema') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_report_estimates_precision_and_recall_without_labels(run_dir, tmp_path):
    path = tmp_path / "report.html"
    assert invoke("report", run_dir, "-o", path, "--pairs", "1").exit_code == 0
    section = re.search(r'<section id="estimate">(.*?)</section>', path.read_text(encoding="utf-8"), re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]*)</td><td>(\w+)</td><td[^>]*>([0-9.]+)</td><td>([0-9.]+) – ([0-9.]+)</td></tr>", section)
    measured = {(of.split(" at ")[0].split(" inside ")[0], name) for of, name, *_ in rows}
    assert {("pairs", "precision"), ("pairs", "recall"), ("pairs", "f1")} <= measured
    for _, _, value, low, high in rows:
        assert 0.0 <= float(low) <= float(value) <= float(high) <= 1.0
