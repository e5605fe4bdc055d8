"""Smoke test of the benchmark suite: 2,000 records, linkwise only (no Splink, no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_linkwise_only(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--records", "2000", "--no-splink",
         "--results", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wall time" in proc.stdout and "splink" not in proc.stdout
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert len(list(tmp_path.glob("bench-*.json"))) == 1
    assert latest["data"]["records"] == 2000 and latest["data"]["true_pairs"] > 0
    assert list(latest["tools"]) == ["linkwise"] and "ratios" not in latest
    run = latest["tools"]["linkwise"]
    assert {"version", "wall_seconds", "peak_rss_mb", "stage_seconds", "candidate_pairs",
            "blocking_recall", "scored_pairs", "cluster_pairs", "bcubed_f1", "clusters"} <= set(run)
    assert {"ingest", "block", "train", "cluster", "other"} <= set(run["stage_seconds"])
    assert min(run["stage_seconds"].values()) >= 0  # "other" = wall time less the stages
    assert abs(sum(run["stage_seconds"].values()) - run["wall_seconds"]) < 0.01
    assert 20 < run["peak_rss_mb"] < 8000
    assert run["candidate_pairs"] > 1000 and 0.9 < run["blocking_recall"] <= 1
    for key in ("scored_pairs", "cluster_pairs"):
        assert set(run[key]) == {"threshold", "precision", "recall", "f1"}
        assert 0.8 < run[key]["f1"] <= 1
    assert run["scored_pairs"]["threshold"] == 0.5 and run["cluster_pairs"]["threshold"] == 0.9
    assert 500 < run["clusters"] < 2000
