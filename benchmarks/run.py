"""Time linkwise and Splink on the same person records, on this machine, in one run.

    python benchmarks/run.py --records 100000                      # linkwise.datasets.people
    python benchmarks/run.py --people-py-records 100000            # ../shared/bench/people.py, seed 1
    python benchmarks/run.py --data records.parquet --truth entity_id
    python benchmarks/run.py --records 2000 --tools linkwise       # no Splink, no network

Each tool runs in its own process on the same Parquet file: linkwise through its CLI
with linkwise/data/people_settings.json, Splink 5.0.0 through splink_run.py inside
benchmarks/.venv-splink (created and filled with ``pip install splink==5.0.0`` on
first use). For each tool it measures the process's wall time, its stages, its peak
resident memory, its CPU time and that of anything else running meanwhile; then,
untimed, with :func:`linkwise.evaluate.evaluate`: candidate pairs, blocking recall,
pairwise precision/recall/F1 of the scored pairs and of the clusters, and B-cubed F1. Prints a
side-by-side table with Splink/linkwise ratios and writes
benchmarks/results/bench-<timestamp>.json and latest.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPLINK_VERSION = "5.0.0"
SPLINK_VENV = HERE / ".venv-splink"
SPLINK_CLUSTER_THRESHOLD = 0.95
SPLINK_MATCH_THRESHOLD = 0.5
TOOLS = ("linkwise", "splink")


# ------------------------------------------------------------------------------ data
def prepare_data(args: argparse.Namespace, data_dir: Path) -> tuple[Path, str]:
    """Return the Parquet file to run on and a description, generating it if asked."""
    if args.data:
        return Path(args.data).resolve(), f"{args.data}"
    data_dir.mkdir(parents=True, exist_ok=True)
    if args.people_py_records:
        folder = data_dir / f"people-py-{args.people_py_records}-seed{args.seed}"
        path = folder / "records.parquet"
        if not path.exists():
            subprocess.run([sys.executable, str(args.people_py), "--records", str(args.people_py_records),
                            "--seed", str(args.seed), "--out", str(folder)],
                           check=True, stdout=subprocess.DEVNULL)
        return path, f"people.py --records {args.people_py_records} --seed {args.seed}"
    path = data_dir / f"linkwise-people-{args.records}-seed{args.seed}.parquet"
    if not path.exists():
        from linkwise.datasets import people
        pq.write_table(people(args.records, seed=args.seed), path)
    return path, f"linkwise.datasets.people({args.records}, seed={args.seed})"


def ensure_splink_venv() -> Path:
    """Create benchmarks/.venv-splink with splink==5.0.0 unless it is there; return its python."""
    python = SPLINK_VENV / "bin" / "python"
    check = [str(python), "-c", "import splink; print(splink.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True, text=True).stdout.strip() == SPLINK_VERSION:
        return python
    print(f"Installing splink=={SPLINK_VERSION} into {SPLINK_VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(SPLINK_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"splink=={SPLINK_VERSION}"], check=True)
    return python


# ------------------------------------------------------------------------------ runs
def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def own_cpu_seconds() -> float:
    """CPU seconds this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], work: Path) -> dict:
    """Run ``cmd`` (output to files in ``work``); return its wall seconds, peak resident MB,
    CPU seconds, stdout, and the CPU seconds other processes used meanwhile (should be ~0).

    The peak is the kernel's high-water mark of the process's own memory (VmHWM), polled
    every 20 ms; ``ru_maxrss`` would also count the parent's pages at fork."""
    with open(work / "stdout.txt", "w+") as out, open(work / "stderr.txt", "w+") as err:
        busy, mine, start = busy_cpu_seconds(), own_cpu_seconds(), time.perf_counter()
        pid, peak_kb = subprocess.Popen(cmd, stdout=out, stderr=err).pid, 0
        while True:
            try:
                status_text = Path(f"/proc/{pid}/status").read_text()
                peak_kb = max(peak_kb, int(status_text.split("VmHWM:")[1].split()[0]))
            except (OSError, IndexError):  # exiting: no memory map any more
                pass
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.read()[-4000:]}")
        out.seek(0)
        other = busy_cpu_seconds() - busy - (own_cpu_seconds() - mine) - usage.ru_utime - usage.ru_stime
        return {"wall_seconds": seconds, "peak_rss_mb": peak_kb / 1024,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "other_processes_cpu_seconds": max(0.0, round(other, 1)), "stdout": out.read()}


def run_linkwise(data: Path, work: Path, args: argparse.Namespace) -> dict:
    """Dedupe with the linkwise CLI; return timings, thresholds and output paths."""
    settings = json.loads(Path(args.settings).read_text())
    settings["unique_id_column"] = args.id
    (work / "settings.json").write_text(json.dumps(settings))
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)  # the suite's own scratch folder: every run starts clean
    run = timed([sys.executable, "-m", "linkwise", "dedupe", str(data), "-o", str(out),
                 "--settings", str(work / "settings.json"), "-q"], work)
    summary = json.loads((out / "summary.json").read_text())
    import linkwise
    return run | {"version": linkwise.__version__, "stage_seconds": summary["seconds"],
                  "match_threshold": summary["match_threshold"],
                  "cluster_threshold": summary["cluster_threshold"],
                  "pairs": out / "pairs.parquet", "clusters": out / "clusters.parquet"}


def run_splink(data: Path, work: Path, args: argparse.Namespace) -> dict:
    """Dedupe with Splink in its own venv; return timings, thresholds and output paths."""
    python = ensure_splink_venv()
    run = timed([str(python), str(HERE / "splink_run.py"), "--data", str(data), "--id", args.id,
                 "--out", str(work), "--u-pairs", str(args.splink_u_pairs),
                 "--cluster-threshold", str(SPLINK_CLUSTER_THRESHOLD)], work)
    report = json.loads(run["stdout"].strip().splitlines()[-1])
    return run | {"version": report["version"], "stage_seconds": report["seconds"],
                  "match_threshold": SPLINK_MATCH_THRESHOLD, "cluster_threshold": SPLINK_CLUSTER_THRESHOLD,
                  "pairs": work / "pairs.parquet", "clusters": work / "clusters.parquet"}


# ------------------------------------------------------------------------------ accuracy
def score(run: dict, ids: pa.ChunkedArray, truth: np.ndarray) -> dict:
    """Accuracy of one run's outputs against the truth, with linkwise.evaluate."""
    from linkwise.evaluate import evaluate

    def index(values: pa.ChunkedArray) -> np.ndarray:
        found = pc.index_in(values, value_set=ids)
        if found.null_count:
            raise ValueError(f"{run['pairs']}: {found.null_count} ids not in the input")
        return found.to_numpy().astype(np.int64)

    clusters_table = pq.read_table(run["clusters"], columns=["id", "cluster_id"])
    clusters = np.full(len(ids), -1, np.int64)
    labels = pc.dictionary_encode(clusters_table["cluster_id"]).combine_chunks().indices
    clusters[index(clusters_table["id"])] = labels.to_numpy()
    pairs = pq.read_table(run["pairs"], columns=["id_l", "id_r", "match_probability"])
    ev = evaluate(truth=truth, clusters=clusters, pair_left=index(pairs["id_l"]), pair_right=index(pairs["id_r"]),
                  pair_probability=pairs["match_probability"].to_numpy(), threshold=run["match_threshold"]).to_dict()
    prf = ("precision", "recall", "f1")
    return {
        "candidate_pairs": ev["counts"]["candidate_pairs"],
        "blocking_recall": ev["blocking_recall"],
        "scored_pairs": {"threshold": run["match_threshold"], **{k: ev["scored_pairs"][k] for k in prf}},
        "cluster_pairs": {"threshold": run["cluster_threshold"], **{k: ev["cluster_pairs"][k] for k in prf}},
        "bcubed_f1": ev["bcubed"]["f1"],
        "clusters": ev["counts"]["clusters"],
        "true_pairs": ev["counts"]["true_pairs"],
    }


# ------------------------------------------------------------------------------ report
def table(result: dict) -> str:
    """The side-by-side table: one column per tool, plus Splink/linkwise ratios."""
    tools = list(result["tools"])
    rows: list[tuple[str, list[str], str]] = []

    def row(label: str, get, fmt: str, ratio: bool = False) -> None:
        values = [get(result["tools"][t]) for t in tools]
        both = ratio and "ratios" in result
        rows.append((label, [format(v, fmt) for v in values], f"{values[1] / values[0]:.2f}x" if both else ""))

    row("wall time, end to end (s)", lambda r: r["wall_seconds"], ".1f", True)
    row("peak memory (MB)", lambda r: r["peak_rss_mb"], ",.0f", True)
    row("CPU time (s)", lambda r: r["cpu_seconds"], ".1f", True)
    row("other processes' CPU (s)", lambda r: r["other_processes_cpu_seconds"], ".1f")
    row("candidate pairs", lambda r: r["candidate_pairs"], ",d")
    row("blocking recall", lambda r: r["blocking_recall"], ".4f")
    for key, label in (("scored_pairs", "scored pairs"), ("cluster_pairs", "cluster pairs")):
        row(f"{label}: threshold", lambda r: r[key]["threshold"], ".2f")
        for m in ("precision", "recall", "f1"):
            row(f"{label}: {m}", lambda r: r[key][m], ".4f")
    row("B-cubed F1", lambda r: r["bcubed_f1"], ".4f")
    row("clusters", lambda r: r["clusters"], ",d")
    head = ("", [*tools], "splink/linkwise" if "ratios" in result else "")
    lines = [f"{head[0]:<28}" + "".join(f"{v:>14}" for v in head[1]) + f"{head[2]:>17}"]
    lines += [f"{label:<28}" + "".join(f"{v:>14}" for v in values) + f"{r:>17}" for label, values, r in rows]
    for t in tools:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in result["tools"][t]["stage_seconds"].items())
        lines.append(f"{t} stages (s): {stages}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--records", type=int, default=10_000, help="records from linkwise.datasets.people (default 10000)")
    source.add_argument("--people-py-records", type=int, help="records from people.py, generated once into results/data/")
    source.add_argument("--data", help="a Parquet file of person records, with --truth")
    parser.add_argument("--truth", default="entity_id", help="truth column (default entity_id)")
    parser.add_argument("--id", default="record_id", help="unique id column (default record_id)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data (default 1)")
    parser.add_argument("--tools", default="linkwise,splink", help="comma-separated: linkwise,splink")
    parser.add_argument("--no-splink", action="store_true", help="same as --tools linkwise")
    parser.add_argument("--settings", default=str(ROOT / "linkwise" / "data" / "people_settings.json"))
    parser.add_argument("--splink-u-pairs", type=float, default=1e7, help="Splink u sampling max_pairs (default 1e7)")
    parser.add_argument("--people-py", default=str(ROOT.parent / "shared" / "bench" / "people.py"))
    parser.add_argument("--results", default=str(HERE / "results"), help="folder for JSON, data and outputs")
    args = parser.parse_args(argv)
    asked = {"linkwise"} if args.no_splink else {t.strip() for t in args.tools.split(",") if t.strip()}
    if not asked or asked - set(TOOLS):
        parser.error(f"--tools takes {', '.join(TOOLS)}")
    tools = [t for t in TOOLS if t in asked]

    results = Path(args.results)
    data, description = prepare_data(args, results / "data")
    input_table = pq.read_table(data, columns=[args.id, args.truth])
    ids = input_table[args.id]
    truth = pc.fill_null(pc.dictionary_encode(input_table[args.truth]).combine_chunks().indices, -1)
    truth = truth.to_numpy().astype(np.int64)
    result: dict = {
        "timestamp": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)]),
        "data": {"path": str(data), "source": description, "records": len(ids)},
        "linkwise_git": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                       capture_output=True, text=True).stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "tools": {},
    }
    runners = {"linkwise": run_linkwise, "splink": run_splink}
    for tool in tools:
        work = results / "work" / tool
        work.mkdir(parents=True, exist_ok=True)
        print(f"running {tool} on {len(ids):,} records ...", file=sys.stderr)
        run = runners[tool](data, work, args)
        accuracy = score(run, ids, truth)
        result["data"]["true_pairs"] = accuracy.pop("true_pairs")
        if run["other_processes_cpu_seconds"] > 0.05 * run["wall_seconds"] * (os.cpu_count() or 1):
            print(f"warning: other processes used {run['other_processes_cpu_seconds']:.0f} CPU s "
                  f"while {tool} ran for {run['wall_seconds']:.0f} s: its timings are skewed", file=sys.stderr)
        run["stage_seconds"]["other"] = round(run["wall_seconds"] - sum(run["stage_seconds"].values()), 3)
        result["tools"][tool] = {k: v for k, v in run.items() if k not in ("pairs", "clusters", "stdout")} | accuracy
    if len(tools) == 2:
        lw, sp = result["tools"]["linkwise"], result["tools"]["splink"]
        result["ratios"] = {"time_splink_over_linkwise": sp["wall_seconds"] / lw["wall_seconds"],
                            "memory_splink_over_linkwise": sp["peak_rss_mb"] / lw["peak_rss_mb"],
                            "cpu_splink_over_linkwise": sp["cpu_seconds"] / lw["cpu_seconds"]}

    print(f"{description}: {len(ids):,} records, {result['data']['true_pairs']:,} true pairs, "
          f"{os.cpu_count()} CPUs")
    print(table(result))
    stamp = result["timestamp"].replace(":", "").replace("-", "")
    text = json.dumps(result, indent=2) + "\n"
    (results / f"bench-{stamp}.json").write_text(text)
    (results / "latest.json").write_text(text)
    print(f"wrote {results / f'bench-{stamp}.json'}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
