"""FEBRL 3 (dedupe) and FEBRL 4 (link 4a with 4b) with the settings in examples/.

    python benchmarks/febrl.py [--data ../shared/data/febrl]

Prints pairwise precision, recall and F1 of the scored pairs (and of the
clusters) against the truth: the entity number inside ``rec_id``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

import linkwise
from linkwise.ingest import to_arrow
from linkwise.engines.duckdb import DuckDBEngine

ROOT = Path(__file__).resolve().parent.parent


def with_truth(path: Path) -> pa.Table:
    table = to_arrow(str(path), where=str(path), engine=DuckDBEngine())
    entity = pc.extract_regex(table["rec_id"], pattern=r"rec-(?P<n>\d+)-")
    return table.append_column("entity", pc.struct_field(entity, "n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "febrl"))
    args = parser.parse_args()
    data = Path(args.data)
    results = {}
    warnings.simplefilter("ignore")
    for name, runner in {
        "febrl3": lambda: linkwise.dedupe(with_truth(data / "dataset3.csv"), ROOT / "examples" / "febrl3_settings.json"),
        "febrl4": lambda: linkwise.link(
            {"a": with_truth(data / "dataset4a.csv"), "b": with_truth(data / "dataset4b.csv")},
            settings=ROOT / "examples" / "febrl4_link_settings.json",
        ),
    }.items():
        start = time.perf_counter()
        result = runner()
        seconds = time.perf_counter() - start
        evaluation = result.evaluate("entity").to_dict()
        results[name] = {"seconds": round(seconds, 2), **evaluation}
        sp, cp = evaluation["scored_pairs"], evaluation["cluster_pairs"]
        print(
            f"{name}: pairwise P={sp['precision']:.4f} R={sp['recall']:.4f} F1={sp['f1']:.4f} | "
            f"clusters P={cp['precision']:.4f} R={cp['recall']:.4f} F1={cp['f1']:.4f} | "
            f"blocking recall {evaluation['blocking_recall']:.4f} | {seconds:.1f} s"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "febrl.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
