"""Zero configuration against the truth: people.py, FEBRL 3 and 4, fake_1000 and DBLP-ACM.

    python benchmarks/zero_config.py [--people-records 100000] [--cases people,febrl3,...]

Each case runs ``linkwise dedupe`` or ``linkwise link`` without settings (the
truth column left out with ``--exclude``, as a user keeping one would), then
``linkwise evaluate`` against the truth; where the repository has hand-written
example settings for the data, they run too, for comparison. Prints one table
and writes ``benchmarks/results/zero_config/results.json``.

Truth columns: people.py's ``entity_id``; FEBRL's entity number inside
``rec_id`` (``rec-N-org`` / ``rec-N-dup-K``), added as column ``entity`` to
copies of the files; fake_1000's ``cluster``; DBLP-ACM's perfect mapping,
added as ``entity`` (the DBLP id; an ACM record without a match gets its own).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linkwise", *map(str, args)], capture_output=True, text=True, env=env)


def _with_truth(src: Path, dst: Path, encoding: str, entity) -> Path:
    """Copy a CSV file with one more column, ``entity``, made from each row."""
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, newline="", encoding=encoding) as f_in, open(dst, "w", newline="", encoding=encoding) as f_out:
        reader = csv.reader(f_in, skipinitialspace=True)
        writer = csv.writer(f_out)
        header = [h.strip() for h in next(reader)]
        writer.writerow(header + ["entity"])
        for row in reader:
            writer.writerow(row + [entity(dict(zip(header, row)))])
    return dst


def _febrl_entity(row: dict) -> str:
    return re.match(r"rec-(\d+)-", row["rec_id"].strip()).group(1)


def cases(data: Path, work: Path, people_py: Path, records: int, seed: int) -> dict[str, dict]:
    """Inputs, mode, truth and example settings of each case (data prepared on first use)."""

    def people() -> dict:
        out = work / f"people-{records}-{seed}"
        if not (out / "records.parquet").exists():
            subprocess.run([sys.executable, str(people_py), "--records", str(records), "--seed", str(seed), "--out", str(out)],
                           check=True, capture_output=True)
        return {"inputs": [out / "records.parquet"], "mode": "dedupe", "truth": "entity_id",
                "example": ROOT / "examples" / "people_settings.json", "target": "cluster F1 >= 0.95, within 0.01 of example"}

    def febrl3() -> dict:
        return {"inputs": [_with_truth(data / "febrl" / "dataset3.csv", work / "febrl3.csv", "utf-8", _febrl_entity)],
                "mode": "dedupe", "truth": "entity", "example": ROOT / "examples" / "febrl3_settings.json",
                "target": "pairwise F1 >= 0.99"}

    def febrl4() -> dict:
        return {"inputs": [_with_truth(data / "febrl" / f"dataset4{s}.csv", work / f"febrl4{s}.csv", "utf-8", _febrl_entity) for s in "ab"],
                "mode": "link", "truth": "entity", "example": ROOT / "examples" / "febrl4_link_settings.json",
                "target": "pairwise F1 >= 0.99"}

    def fake_1000() -> dict:
        return {"inputs": [data / "splink_fake_1000" / "fake_1000.csv"], "mode": "dedupe", "truth": "cluster",
                "target": "cluster F1 >= 0.80"}

    def dblp_acm() -> dict:
        folder = data / "dblp_acm"
        with open(folder / "DBLP-ACM_perfectMapping.csv", newline="", encoding="latin-1") as f:
            mapping = {row["idACM"]: row["idDBLP"] for row in csv.DictReader(f)}
        dblp = _with_truth(folder / "DBLP2.csv", work / "DBLP2.csv", "latin-1", lambda r: r["id"])
        acm = _with_truth(folder / "ACM.csv", work / "ACM.csv", "latin-1", lambda r: mapping.get(r["id"], "acm-" + r["id"]))
        return {"inputs": [dblp, acm], "mode": "link", "truth": "entity", "encoding": "latin-1",
                "target": "pairwise F1 >= 0.97"}

    return {"people": people, "febrl3": febrl3, "febrl4": febrl4, "fake_1000": fake_1000, "dblp_acm": dblp_acm}


def _run(case: dict, out: Path, env: dict, settings: Path | None = None) -> dict:
    command = [case["mode"], *case["inputs"], "-o", out, "--overwrite", "-q"]
    if settings is None:
        command += ["--exclude", case["truth"]]
    else:
        command += ["--settings", settings]
    if case.get("encoding"):
        command += ["--encoding", case["encoding"]]
    start = time.perf_counter()
    done = _cli(*command, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"linkwise {' '.join(map(str, command))} failed:\n{done.stderr}")
    evaluate = ["evaluate", out, "--truth", case["truth"], "--json"] + (["--encoding", case["encoding"]] if case.get("encoding") else [])
    evaluation = json.loads(_cli(*evaluate, env=env).stdout)
    return {"seconds": round(seconds, 1), **evaluation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "data"), help="folder with febrl/, splink_fake_1000/, dblp_acm/")
    parser.add_argument("--people-py", default=str(SHARED / "bench" / "people.py"))
    parser.add_argument("--people-records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", default="people,febrl3,febrl4,fake_1000,dblp_acm")
    parser.add_argument("--no-examples", action="store_true", help="skip the runs with the example settings")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "zero_config"))
    args = parser.parse_args()
    results_dir = Path(args.results)
    work = results_dir / "data"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    available = cases(Path(args.data), work, Path(args.people_py), args.people_records, args.seed)
    results: dict[str, dict] = {}
    for name in args.cases.split(","):
        case = available[name]()
        row = {"mode": case["mode"], "target": case["target"], "zero_config": _run(case, results_dir / name, env)}
        summary = json.loads((results_dir / name / "zero_config.json").read_text())
        row["rules"] = [r["rule"] for r in summary["blocking"]["rules"]]
        if case.get("example") and not args.no_examples:
            row["example"] = _run(case, results_dir / f"{name}-example", env, settings=case["example"])
        results[name] = row
        _print_row(name, row)
    (results_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nResults in {results_dir / 'results.json'}; outputs (settings.json, zero_config.json) in {results_dir}/<case>/")


_HEADER_DONE = {"done": False}


def _print_row(name: str, row: dict) -> None:
    if not _HEADER_DONE["done"]:
        print(f"{'case':<10} {'mode':<6} {'records':>8} {'pairwise F1':>11} {'cluster F1':>10} {'B-cubed':>8} "
              f"{'blocking R':>10} {'cand. pairs':>11} {'seconds':>7} {'example F1 (pairs/clusters)':>27}  target")
        _HEADER_DONE["done"] = True
    z = row["zero_config"]
    example = (f"{row['example']['scored_pairs']['f1']:.4f}/{row['example']['cluster_pairs']['f1']:.4f}"
               if "example" in row else "-")
    print(f"{name:<10} {row['mode']:<6} {z['counts']['records']:>8,} {z['scored_pairs']['f1']:>11.4f} "
          f"{z['cluster_pairs']['f1']:>10.4f} {z['bcubed']['f1']:>8.4f} {z['blocking_recall']:>10.4f} "
          f"{z['counts']['candidate_pairs']:>11,} {z['seconds']:>7.1f} {example:>27}  {row['target']}", flush=True)


if __name__ == "__main__":
    main()
