"""Engine parity: the Spark engine makes the DuckDB engine's candidate pairs, weights and clusters.

Both engines run the same settings on the same synthetic people; the pairs must
be the same pairs in the same order, their levels equal, their weights equal to
within 1e-9 (term-frequency adjustments and the jointly scored dependent
comparisons included), and the records split into the same clusters after
refinement, with the same confidences.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import linkwise
from linkwise.cli import main
from linkwise.datasets import people, people_link

# Each test runs the whole pipeline on both engines: slow on two cores (skip with -m "not slow").
pytestmark = [pytest.mark.spark, pytest.mark.slow]

SETTINGS = Path(linkwise.__file__).parent / "data" / "people_settings.json"


def _settings(link_type: str = "dedupe") -> linkwise.Settings:
    """The example settings with a two-column comparison added (a swap level, levels adjusted on one column),
    a smaller u sample (the parity does not depend on its size; the test time does) and a lower cluster threshold."""
    spec = linkwise.Settings.load(SETTINGS).to_dict()
    spec["link_type"] = link_type
    spec["comparisons"].append({"template": "full_name", "columns": ["first_name", "last_name"]})
    spec["training"] = {**spec.get("training", {}), "u_sample_pairs": 20_000}
    # Components chain more at 0.5 than at 0.9: refinement then has some to split.
    spec["cluster_threshold"] = 0.5
    return linkwise.Settings.from_dict(spec)


def partition(clusters: pa.Table) -> set[frozenset]:
    members = defaultdict(set)
    sources = clusters["source"].to_pylist()
    for record_id, source, cluster_id in zip(clusters["id"].to_pylist(), sources, clusters["cluster_id"].to_pylist()):
        members[cluster_id].add((source, record_id))
    return {frozenset(m) for m in members.values()}


def columns(table: pa.Table) -> list[tuple[str, pa.DataType]]:
    """Names and types (writers differ in the metadata and nullability flags they record)."""
    return [(field.name, field.type) for field in table.schema]


def assert_same_pairs(on_spark: pa.Table, on_duckdb: pa.Table) -> None:
    assert columns(on_spark) == columns(on_duckdb)
    assert on_spark.num_rows == on_duckdb.num_rows > 500
    for name in on_duckdb.column_names:
        if name in ("match_weight", "match_probability"):
            np.testing.assert_allclose(on_spark[name].to_numpy(), on_duckdb[name].to_numpy(), rtol=0, atol=1e-9)
        else:
            assert on_spark[name].equals(on_duckdb[name]), name


def assert_same_clusters(on_spark: pa.Table, on_duckdb: pa.Table) -> None:
    assert columns(on_spark) == columns(on_duckdb)
    assert "cluster_weakest_link" in on_duckdb.column_names and "cluster_mean_probability" in on_duckdb.column_names
    assert partition(on_spark) == partition(on_duckdb)
    assert any(len(c) > 1 for c in partition(on_duckdb))
    # Numbered alike too, by each cluster's first record, and listed in the same order;
    # the confidences are the same sums in the same order, so equal, nulls (records alone) included.
    for name in on_duckdb.column_names:
        assert on_spark[name].equals(on_duckdb[name]), name


def assert_scores_jointly_and_adjusts_for_frequencies(result) -> None:
    """The run scores some dependent comparisons jointly and adjusts some level for term frequencies."""
    assert result.model.interactions_, "no dependent comparisons scored jointly"
    assert any(prep.tf_frequencies for prep in result.prepared), "no term-frequency adjusted level"


def assert_refinement_split_a_component(outputs: dict, cluster_threshold: float) -> None:
    """Fewer connected components at the cluster threshold than clusters: refinement split some."""
    from linkwise.cluster import connected_components

    ids = outputs["clusters"]["id"]
    linked = outputs["pairs"].filter(pa.compute.greater_equal(outputs["pairs"]["match_probability"], cluster_threshold))
    left = pa.compute.index_in(linked["id_l"], value_set=ids).to_numpy()
    right = pa.compute.index_in(linked["id_r"], value_set=ids).to_numpy()
    components = connected_components(len(ids), left, right)
    assert outputs["clusters"]["cluster_id"].to_numpy().max() > components.max(), "refinement split no component"


def assert_same_run(on_spark, on_duckdb) -> None:
    assert_scores_jointly_and_adjusts_for_frequencies(on_duckdb)
    assert_same_pairs(on_spark.pairs_table(), on_duckdb.pairs_table())
    assert_same_clusters(on_spark.clusters_table(), on_duckdb.clusters_table())
    assert on_spark.model.prior_ == pytest.approx(on_duckdb.model.prior_, abs=1e-12)
    for m_spark, m_duckdb in zip(on_spark.model.m_ + on_spark.model.u_, on_duckdb.model.m_ + on_duckdb.model.u_):
        np.testing.assert_allclose(m_spark, m_duckdb, rtol=0, atol=1e-12)
    for joint_spark, joint_duckdb in zip(on_spark.model.interactions_, on_duckdb.model.interactions_, strict=True):
        assert joint_spark.comparisons == joint_duckdb.comparisons
        np.testing.assert_allclose(joint_spark.log_ratio_m, joint_duckdb.log_ratio_m, rtol=0, atol=1e-12)
        np.testing.assert_allclose(joint_spark.log_ratio_u, joint_duckdb.log_ratio_u, rtol=0, atol=1e-12)
    summary_spark, summary_duckdb = on_spark.summary(), on_duckdb.summary()
    summary_spark.pop("seconds"), summary_duckdb.pop("seconds")
    assert_same_summary(summary_spark, summary_duckdb)


def assert_same_summary(on_spark: dict, on_duckdb: dict) -> None:
    """The same summary; the blocking recall estimate to within rounding (Spark adds its sums in another order)."""
    recall_spark, recall_duckdb = on_spark.pop("estimated_blocking_recall"), on_duckdb.pop("estimated_blocking_recall")
    assert recall_duckdb is not None
    assert recall_spark == pytest.approx(recall_duckdb, abs=1e-9)
    assert on_spark == on_duckdb


def _flat(tree: dict, prefix: str = "") -> dict:
    """A nested dictionary's leaves, keyed by their paths."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _read_outputs(folder: Path) -> dict:
    return {
        "pairs": pq.read_table(folder / "pairs.parquet"),
        "clusters": pq.read_table(folder / "clusters.parquet"),
        "model": json.loads((folder / "model.json").read_text()),
        "summary": json.loads((folder / "summary.json").read_text()),
    }


def test_dedupe_of_a_parquet_file_on_spark_writes_the_duckdb_outputs(spark, tmp_path):
    path = tmp_path / "people.parquet"
    pq.write_table(people(1500, seed=7), path)
    settings = tmp_path / "settings.json"
    _settings().save(settings)
    runner = CliRunner()
    # Spark writes to a URI, as on a cluster (hdfs://, s3a://, ...), through Hadoop's file system.
    for engine, out in (("duckdb", str(tmp_path / "duckdb")), ("spark", (tmp_path / "spark").as_uri())):
        done = runner.invoke(main, ["dedupe", str(path), "--settings", str(settings), "-o", out, "--engine", engine])
        assert done.exit_code == 0, done.output
    assert (tmp_path / "spark" / "pairs.parquet").is_dir()  # written by Spark: a folder of parts
    on_spark, on_duckdb = _read_outputs(tmp_path / "spark"), _read_outputs(tmp_path / "duckdb")
    assert_same_pairs(on_spark["pairs"], on_duckdb["pairs"])
    assert_same_clusters(on_spark["clusters"], on_duckdb["clusters"])
    assert_refinement_split_a_component(on_duckdb, on_duckdb["summary"]["cluster_threshold"])
    assert on_duckdb["model"]["interactions"], "no dependent comparisons scored jointly"
    for joint_spark, joint_duckdb in zip(on_spark["model"]["interactions"], on_duckdb["model"]["interactions"], strict=True):
        assert joint_spark["comparisons"] == joint_duckdb["comparisons"]
        for ratios in ("log_ratio_m", "log_ratio_u"):
            assert joint_spark[ratios] == pytest.approx(joint_duckdb[ratios], abs=1e-12)
    assert list(on_spark["summary"].pop("seconds")) == ["ingest", "prepare", "block", "compare", "train", "score", "cluster"]
    on_duckdb["summary"].pop("seconds")
    assert_same_summary(on_spark["summary"], on_duckdb["summary"])
    for comparison_spark, comparison_duckdb in zip(on_spark["model"]["comparisons"], on_duckdb["model"]["comparisons"]):
        for level_spark, level_duckdb in zip(comparison_spark["levels"], comparison_duckdb["levels"]):
            assert level_spark == pytest.approx(level_duckdb, abs=1e-9)
    assert on_spark["model"]["prior"] == pytest.approx(on_duckdb["model"]["prior"], abs=1e-12)
    # The commands that read a run's outputs read Spark's folders of part files alike.
    evaluations = [runner.invoke(main, ["evaluate", str(tmp_path / engine), "--truth", "entity_id", "--json"]) for engine in ("duckdb", "spark")]
    assert evaluations[0].exit_code == 0, evaluations[0].output
    assert evaluations[0].output == evaluations[1].output
    # Without truth: the same label-free estimates, the blocking recall's part included.
    estimates = [runner.invoke(main, ["evaluate", str(tmp_path / engine), "--json"]) for engine in ("duckdb", "spark")]
    assert all(done.exit_code == 0 for done in estimates), estimates[1].output
    on_duckdb_estimate, on_spark_estimate = (json.loads(done.output)["estimated"] for done in estimates)
    assert on_duckdb_estimate["blocking_recall"] is not None
    assert _flat(on_spark_estimate) == pytest.approx(_flat(on_duckdb_estimate), abs=1e-9)
    reported = runner.invoke(main, ["report", str(tmp_path / "spark")])
    assert reported.exit_code == 0, reported.output
    assert "<html" in (tmp_path / "spark" / "report.html").read_text(encoding="utf-8").lower()


def test_link_on_spark_makes_the_duckdb_pairs_weights_and_clusters(spark, tmp_path):
    a, b = people_link(1500, seed=8)
    settings = _settings("link")
    on_duckdb = linkwise.link(a, b, settings=settings)
    # One source as a Spark DataFrame, the other as Arrow: both are accepted.
    on_spark = linkwise.link(spark.createDataFrame(a), b, settings=settings, engine=spark)
    assert_same_run(on_spark, on_duckdb)
    # Blocking analysis alone (rule pairs from block sizes, largest blocks, pairs beyond earlier rules).
    assert linkwise.analyse_blocking([a, b], settings, engine=spark) == linkwise.analyse_blocking([a, b], settings)
    sources = on_spark.pairs().select("source_l", "source_r").distinct().collect()
    assert [tuple(row) for row in sources] == [("source_0", "source_1")]
    # Written to a local folder, the files hold the same tables.
    on_spark.write(tmp_path / "out")
    assert pq.read_table(tmp_path / "out" / "pairs.parquet").equals(on_spark.pairs_table())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".linkwise-outputs.json", "clusters.parquet", "model.json", "pairs.parquet", "settings.json", "summary.json"
    ]
