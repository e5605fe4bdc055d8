"""Reproducible: the same input, settings and seed give byte-identical outputs, whatever
the number of threads; shuffled input rows give the same pairs, weights and clusters.

``summary.json`` is the one exception to byte-identity: it records how long
each stage took (``seconds``); everything else in it is identical.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from linkwise import datasets
from linkwise.cli import main

SETTINGS = Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "people.csv"
    pacsv.write_csv(datasets.people(400, seed=12), path)
    return path


@pytest.fixture(scope="module")
def first(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("first") / "out"
    done = invoke("dedupe", data, "-o", out, "--settings", SETTINGS, "--csv", "-q")
    assert done.exit_code == 0, done.output
    return out


def assert_byte_identical(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {"clusters.parquet", "pairs.parquet", "model.json", "settings.json", "clusters.csv", "pairs.csv"} <= set(names)
    for name in names:
        if name == "summary.json":
            continue
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    summary_a, summary_b = (json.loads((folder / "summary.json").read_text(encoding="utf-8")) for folder in (a, b))
    assert summary_a.pop("seconds").keys() == summary_b.pop("seconds").keys()
    assert summary_a == summary_b


def test_the_same_input_settings_and_seed_give_byte_identical_outputs(data, first, tmp_path):
    out = tmp_path / "again"
    assert invoke("dedupe", data, "-o", out, "--settings", SETTINGS, "--csv", "-q").exit_code == 0
    assert_byte_identical(first, out)


def test_the_number_of_threads_does_not_change_a_byte(data, first, tmp_path):
    out = tmp_path / "one-thread"
    assert invoke("dedupe", data, "-o", out, "--settings", SETTINGS, "--csv", "-q", "--threads", "1").exit_code == 0
    assert_byte_identical(first, out)


def scored(out: Path) -> dict[tuple[str, str], float]:
    pairs = pq.read_table(out / "pairs.parquet").to_pydict()
    return {tuple(sorted((l, r))): w for l, r, w in zip(pairs["id_l"], pairs["id_r"], pairs["match_weight"])}


def partition(out: Path) -> set[frozenset]:
    clusters = pq.read_table(out / "clusters.parquet").to_pydict()
    members = defaultdict(set)
    for record_id, cluster in zip(clusters["id"], clusters["cluster_id"]):
        members[cluster].add(record_id)
    return {frozenset(m) for m in members.values()}


@pytest.mark.parametrize("seed", [1, 2])
def test_shuffled_input_rows_give_the_same_pairs_weights_and_clusters(data, first, tmp_path, seed):
    table = pacsv.read_csv(data, convert_options=pacsv.ConvertOptions(column_types={"zip": pa.string(), "phone": pa.string()}))
    shuffled = tmp_path / "people.csv"
    pacsv.write_csv(table.take(pa.array(np.random.default_rng(seed).permutation(table.num_rows))), shuffled)
    out = tmp_path / "shuffled"
    assert invoke("dedupe", shuffled, "-o", out, "--settings", SETTINGS, "-q").exit_code == 0
    expected, got = scored(first), scored(out)
    assert got.keys() == expected.keys()
    keys = sorted(expected)
    np.testing.assert_allclose([got[k] for k in keys], [expected[k] for k in keys], rtol=0, atol=1e-9)
    assert partition(out) == partition(first)
