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

Three more cases check that the choices are not fitted to those tables:
``few_dups`` (``linkwise.datasets.people_link(20000)``'s two tables pooled and
deduplicated: few duplicates, many households), ``link_dedupe`` (the same
generator, 3,000 records, ``link --dedupe-sources``) and ``renamed``
(people.py, 30,000 records, seed 7, twice the missing values and noisier
duplicates, every column renamed, dates day first, a free-text notes column,
no middle name; the example settings renamed to match).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))  # this checkout's linkwise, for the generated cases


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

    def few_dups() -> dict:
        path = work / "few_dups.parquet"
        if not path.exists():
            import pyarrow as pa
            import pyarrow.parquet as pq

            from linkwise.datasets import people_link

            pq.write_table(pa.concat_tables(people_link(20_000, seed=9)), path)
        return {"inputs": [path], "mode": "dedupe", "truth": "entity_id",
                "example": ROOT / "examples" / "people_settings.json", "target": "as the example settings"}

    def link_dedupe() -> dict:
        paths = [work / "link_a.parquet", work / "link_b.parquet"]
        if not paths[0].exists():
            import pyarrow.parquet as pq

            from linkwise.datasets import people_link

            for table, path in zip(people_link(3_000, seed=9), paths):
                pq.write_table(table, path)
        return {"inputs": paths, "mode": "link", "extra": ["--dedupe-sources"], "truth": "entity_id",
                "example": ROOT / "examples" / "people_settings.json", "target": "as the example settings"}

    def renamed() -> dict:
        path, settings = work / "renamed.parquet", work / "renamed_example_settings.json"
        if not path.exists():
            _renamed_people(people_py, work, path, settings)
        return {"inputs": [path], "mode": "dedupe", "truth": "truth", "example": settings, "target": "as the example settings"}

    return {"people": people, "febrl3": febrl3, "febrl4": febrl4, "fake_1000": fake_1000, "dblp_acm": dblp_acm,
            "few_dups": few_dups, "link_dedupe": link_dedupe, "renamed": renamed}


_RENAMED = {"record_id": "customer_no", "first_name": "Forename", "last_name": "Surname", "dob": "BirthDate",
            "sex": "Gender", "address": "Street", "city": "Town", "zip": "PostCode", "phone": "Mobile", "email": "Mail"}


def _renamed_people(people_py: Path, work: Path, path: Path, settings_path: Path) -> None:
    """People with other column names, day-first dates, more noise and a notes column; the example settings to match."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    profile = work / "noisy_profile.json"
    profile.write_text(json.dumps({
        "name": "noisy-check", "noise_multiplier_shape": 1.0, "missing_dup_factor": 2.0,
        "missing": {"first_name": 0.02, "middle_name": 0.4, "last_name": 0.01, "dob": 0.08, "sex": 0.1, "address": 0.08,
                    "city": 0.05, "state": 0.05, "zip": 0.08, "phone": 0.3, "email": 0.3},
    }))
    raw = work / "renamed_raw"
    subprocess.run([sys.executable, str(people_py), "--records", "30000", "--seed", "7", "--profile", str(profile),
                    "--out", str(raw)], check=True, capture_output=True)
    table = pq.read_table(raw / "records.parquet")
    rng = np.random.default_rng(3)
    dob = [None if d is None else f"{d[8:10]}/{d[5:7]}/{d[0:4]}" for d in table["dob"].to_pylist()]
    notes = rng.choice(np.array(["called twice", "prefers email", "vip customer since 2019", "moved recently", None, None],
                                dtype=object), table.num_rows)
    columns = {new: table[old] for old, new in _RENAMED.items()}
    columns["customer_no"] = pc.utf8_slice_codeunits(table["record_id"], 1)
    columns["BirthDate"] = pa.array(dob, pa.string())
    columns["Notes"] = pa.array(notes.tolist(), pa.string())
    columns["truth"] = table["entity_id"]
    pq.write_table(pa.table(columns), path)
    example = json.loads((ROOT / "examples" / "people_settings.json").read_text())

    def rename(value, key=None):
        if isinstance(value, dict):
            return {(_RENAMED.get(k, k) if key == "standardise" else k): rename(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v, key) for v in value]
        return _RENAMED.get(value, value) if isinstance(value, str) and key != "template" else value

    example = rename(example)
    example["standardise"].pop("middle_name")
    example["standardise"]["BirthDate"] = [{"parse_date": "dmy"}]
    example["comparisons"] = [c for c in example["comparisons"] if c.get("column") != "middle_name"]
    settings_path.write_text(json.dumps(example, indent=1))


def _run(case: dict, out: Path, env: dict, settings: Path | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)  # this script's own scratch folder: each run starts empty
    command = [case["mode"], *case["inputs"], *case.get("extra", []), "-o", out, "-q"]
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
    parser.add_argument("--cases", default="people,febrl3,febrl4,fake_1000,dblp_acm,few_dups,link_dedupe,renamed")
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
        print(f"{'case':<11} {'mode':<6} {'records':>8} {'pairwise F1':>11} {'cluster F1':>10} {'B-cubed':>8} "
              f"{'blocking R':>10} {'cand. pairs':>11} {'seconds':>7} {'example F1 (pairs/clusters)':>27}  target")
        _HEADER_DONE["done"] = True
    z = row["zero_config"]
    example = (f"{row['example']['scored_pairs']['f1']:.4f}/{row['example']['cluster_pairs']['f1']:.4f}"
               if "example" in row else "-")
    print(f"{name:<11} {row['mode']:<6} {z['counts']['records']:>8,} {z['scored_pairs']['f1']:>11.4f} "
          f"{z['cluster_pairs']['f1']:>10.4f} {z['bcubed']['f1']:>8.4f} {z['blocking_recall']:>10.4f} "
          f"{z['counts']['candidate_pairs']:>11,} {z['seconds']:>7.1f} {example:>27}  {row['target']}", flush=True)


if __name__ == "__main__":
    main()
