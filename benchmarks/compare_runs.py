"""Compare two linkwise output folders: the same candidate pairs, weights, and partition into clusters?

Made for checking the Spark engine against the DuckDB engine on big runs::

    python benchmarks/compare_runs.py out-duckdb out-spark

Reads ``pairs.parquet`` and ``clusters.parquet`` of each (a file, or a folder of
part files as Spark writes it). Pairs are matched on (source, id) of both
records; clusters are compared as partitions of the records (cluster ids may
differ, the groups may not). Prints a JSON report; exits 1 when they differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def _record_keys(table: pa.Table, id_column: str, source_column: str | None) -> pa.Array:
    ids = pc.cast(table[id_column], pa.string())
    if source_column is None or source_column not in table.column_names:
        return ids.combine_chunks()
    return pc.binary_join_element_wise(pc.cast(table[source_column], pa.string()), ids, "\x1f").combine_chunks()


def _codes(keys: pa.Array, universe: pa.Array) -> np.ndarray:
    found = pc.index_in(keys, value_set=universe)
    if found.null_count:
        raise SystemExit("a pair names a record that clusters.parquet lacks")
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labellings of the same records group them alike (each label of one maps to one of the other)."""
    if len(a) != len(b):
        return False
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def compare(first: Path, second: Path) -> dict:
    clusters = [pq.read_table(d / "clusters.parquet") for d in (first, second)]
    # Records are told apart by (source, id) when the pairs name sources, else by id.
    several = "source_l" in pq.read_table(first / "pairs.parquet").schema.names
    keys = [_record_keys(t, "id", "source" if several else None) for t in clusters]
    universe = keys[0]
    if len(pc.unique(universe)) != len(universe):
        raise SystemExit("records are not unique in clusters.parquet")
    order = _codes(keys[1], universe)
    if len(keys[1]) != len(universe) or len(np.unique(order)) != len(universe):
        return {"same_records": False}
    labels_first = clusters[0]["cluster_id"].to_numpy()
    labels_second = np.empty(len(universe), np.int64)
    labels_second[order] = clusters[1]["cluster_id"].to_numpy()
    report: dict = {
        "records": len(universe),
        "same_records": True,
        "clusters": [int(len(np.unique(labels_first))), int(len(np.unique(labels_second)))],
        "same_partition": bool(same_partition(labels_first, labels_second)),
    }

    pair_keys = []
    for folder in (first, second):
        pairs = pq.read_table(folder / "pairs.parquet")
        source = "source_l" if "source_l" in pairs.column_names else None
        left = _codes(_record_keys(pairs, "id_l", source), universe)
        right = _codes(_record_keys(pairs, "id_r", source and "source_r"), universe)
        code = np.minimum(left, right) * len(universe) + np.maximum(left, right)
        sort = np.argsort(code, kind="stable")
        pair_keys.append((code[sort], pairs["match_weight"].to_numpy()[sort]))
    (code_a, weight_a), (code_b, weight_b) = pair_keys
    same_pairs = len(code_a) == len(code_b) and bool(np.array_equal(code_a, code_b))
    report["pairs"] = [len(code_a), len(code_b)]
    report["same_pairs"] = same_pairs
    if same_pairs:
        report["max_weight_difference"] = float(np.abs(weight_a - weight_b).max(initial=0.0))
    for name in ("cluster_weakest_link", "cluster_mean_probability"):
        if name in clusters[0].column_names and name in clusters[1].column_names:
            a = clusters[0][name].to_numpy(zero_copy_only=False).astype(float)
            b = np.empty(len(universe))
            b[order] = clusters[1][name].to_numpy(zero_copy_only=False).astype(float)
            both = ~np.isnan(a) & ~np.isnan(b)
            report[f"{name}_same_nulls"] = bool(np.array_equal(np.isnan(a), np.isnan(b)))
            report[f"{name}_max_difference"] = float(np.abs(a[both] - b[both]).max(initial=0.0))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--tolerance", type=float, default=1e-9, help="largest weight difference allowed (default 1e-9)")
    args = parser.parse_args()
    report = compare(args.first, args.second)
    same = (
        report.get("same_records")
        and report.get("same_partition")
        and report.get("same_pairs")
        and report.get("max_weight_difference", np.inf) <= args.tolerance
    )
    report["same"] = bool(same)
    print(json.dumps(report, indent=2))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
