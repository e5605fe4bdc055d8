"""Run a command; report its wall time and the peak memory of its whole process tree.

Spark runs as several processes (the Python driver, the JVM it starts, Python
workers the JVM starts), so the peak of one process says little. This samples
the resident memory (RSS) of the command and all its descendants every 0.2 s
and reports the largest sum seen, and each process kind's largest RSS::

    python benchmarks/tree_memory.py --json times.json -- python -m linkwise dedupe ...

Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _rss_kb(pid: int) -> tuple[int, str]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, ""
    name = status.split("Name:", 1)[1].split()[0]
    rss = status.split("VmRSS:", 1)[1].split()[0] if "VmRSS:" in status else "0"
    return int(rss), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    start = time.perf_counter()
    process = subprocess.Popen(command)
    peak_total, peak_by_kind = 0, {}
    while process.poll() is None:
        tree, pending, total = _children(), [process.pid], 0
        while pending:
            pid = pending.pop()
            rss, name = _rss_kb(pid)
            total += rss
            kind = "java" if name == "java" else ("python" if name.startswith("python") else name)
            peak_by_kind[kind] = max(peak_by_kind.get(kind, 0), rss)
            pending.extend(tree.get(pid, []))
        peak_total = max(peak_total, total)
        time.sleep(0.2)
    report = {
        "command": command,
        "exit_code": process.returncode,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "peak_tree_rss_mb": round(peak_total / 1024),
        "peak_process_rss_mb": {k: round(v / 1024) for k, v in sorted(peak_by_kind.items()) if v},
    }
    print(json.dumps(report, indent=2), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(process.returncode)


if __name__ == "__main__":
    main()
