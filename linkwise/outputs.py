"""Outputs, written atomically: nothing half-written after an error or Ctrl-C.

Every file of a run is first written into a hidden staging folder inside the
output folder, and moved into place (``os.replace``, atomic on one file
system) only when all of them are complete. The staging folder is removed
whatever happens.

A hidden manifest (``.linkwise-outputs.json``) lists the files a run wrote:
``overwrite`` replaces only those, so a file linkwise did not write is never
deleted, even one that happens to be called ``pairs.csv``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .errors import OutputError

OUTPUT_FILES = (
    "clusters.parquet",
    "pairs.parquet",
    "model.json",
    "settings.json",
    "summary.json",
    "zero_config.json",
    "clusters.csv",
    "pairs.csv",
)
REPORT_FILES = ("report.html",)
"""Files made from a run's outputs afterwards (``linkwise report``): a new run in the folder removes them."""
_STAGING_PREFIX = ".linkwise-staging-"
MANIFEST = ".linkwise-outputs.json"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _os_error(path: Path, exc: OSError) -> OutputError:
    if exc.errno == 28:
        return OutputError(f"cannot write to '{path}': the disk is full; free some space or choose another folder")
    return OutputError(f"cannot write to '{path}': {exc.strerror or exc}")


_END = object()


def _made_ahead(items: Iterable[Any]) -> Iterator[Any]:
    """Yield ``items``, making the next one in a background thread while this one is used.

    Building a batch (gathering ids, levels) then overlaps with encoding the
    previous one. At most two items exist at a time.
    """
    source = iter(items)
    with ThreadPoolExecutor(max_workers=1) as pool:
        coming = pool.submit(next, source, _END)
        while True:
            item = coming.result()
            if item is _END:
                return
            coming = pool.submit(next, source, _END)
            yield item
            del item


class OutputWriter:
    """Collects a run's files in a staging folder, then publishes them together."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out_dir))
        self.names: list[str] = []

    def _target(self, name: str) -> Path:
        self.names.append(name)
        return self.staging / name

    def path_for(self, name: str) -> Path:
        """Where another writer (such as Spark's) puts output ``name``; it is published with the rest."""
        return self._target(name)

    def parquet(self, name: str, table: pa.Table) -> None:
        self.parquet_batches(name, table.schema, [table])

    def parquet_batches(
        self,
        name: str,
        schema: pa.Schema,
        tables: Iterable[pa.Table],
        *,
        dictionary: list[str] | None = None,
        statistics: list[str] | None = None,
    ) -> None:
        """Write ``tables`` one after another into one Parquet file, holding two at a time at most.

        Each table starts a new row group (of at most Arrow's default 1,048,576 rows).
        ``dictionary`` and ``statistics`` name the columns to dictionary-encode and
        to keep min/max statistics for (default: all but floating-point columns,
        which rarely repeat; statistics for all). Each costs time on big files.
        """
        if dictionary is None:
            dictionary = [f.name for f in schema if not pa.types.is_floating(f.type)]
        options = {"use_dictionary": dictionary, "write_statistics": True if statistics is None else statistics}
        with pq.ParquetWriter(self._target(name), schema, compression="zstd", **options) as sink:
            for table in _made_ahead(tables):
                sink.write_table(table)
                del table  # let go of this table before the next one is made

    def csv(self, name: str, table: pa.Table) -> None:
        self.csv_batches(name, table.schema, [table])

    def csv_batches(self, name: str, schema: pa.Schema, tables: Iterable[pa.Table]) -> None:
        """Write ``tables`` one after another into one CSV file (one header), holding two at a time at most."""
        with pacsv.CSVWriter(self._target(name), schema) as sink:
            for table in _made_ahead(tables):
                sink.write_table(table)
                del table  # let go of this table before the next one is made

    def json(self, name: str, document: Any) -> None:
        self._target(name).write_text(json_text(document), encoding="utf-8")

    def publish(self) -> None:
        """Swap the new files in for the earlier run's outputs, or roll back to them.

        The earlier run's outputs (those its manifest lists) are first moved
        aside into the staging folder; if moving the new files in fails
        part-way, the new ones are taken out again and the earlier ones put
        back, so the folder never mixes two runs. The manifest goes in last.
        """
        self.json(MANIFEST, {"written_by": "linkwise", "files": sorted(set(self.names))})
        previous = self.staging / ".previous"
        previous.mkdir()
        moved_aside: list[str] = []
        placed: list[str] = []
        earlier = [name for name in (*_recorded_outputs(self.out_dir), MANIFEST) if (self.out_dir / name).exists()]
        try:
            for name in earlier:
                os.replace(self.out_dir / name, previous / name)
                moved_aside.append(name)
            for name in self.names:
                os.replace(self.staging / name, self.out_dir / name)
                placed.append(name)
        except BaseException:
            for name in placed:
                try:
                    os.replace(self.out_dir / name, self.staging / name)
                except OSError:
                    (self.out_dir / name).unlink(missing_ok=True)
            for name in moved_aside:
                os.replace(previous / name, self.out_dir / name)
            raise


def json_text(document: Any) -> str:
    """An output document as the JSON text linkwise writes (numpy values as plain numbers)."""
    return json.dumps(document, indent=2, default=_json_default, allow_nan=False) + "\n"


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def parquet_parts(path: str | Path) -> list[Path]:
    """The Parquet files of an output: the file itself, or, for a folder of part files
    (as Spark writes one), its parts in order (not the hidden or ``_``-prefixed files beside them)."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir() if p.name.endswith(".parquet") and not p.name.startswith(("_", ".")))


def parquet_schema(path: str | Path) -> pa.Schema:
    """The schema of a Parquet output, a file or a folder of part files."""
    parts = parquet_parts(path)
    return pq.read_schema(parts[0] if parts else path)


def existing_outputs(out_dir: Path) -> list[str]:
    """The files named like linkwise outputs (a report included) already in a folder."""
    return [name for name in OUTPUT_FILES + REPORT_FILES if (out_dir / name).exists()]


def _recorded_outputs(out_dir: Path) -> list[str]:
    """The output files an earlier run's manifest says it wrote (none without a manifest)."""
    try:
        document = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = document.get("files") if isinstance(document, dict) else None
    return [name for name in OUTPUT_FILES + REPORT_FILES if isinstance(files, list) and name in files]


def record_output(out_dir: str | Path, name: str) -> None:
    """Add ``name``, written into a run's folder afterwards (a report), to the run's manifest.

    A later ``--overwrite`` may then replace it; without a manifest (not a run's folder) nothing is recorded.
    """
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return
    files = sorted({*_recorded_outputs(Path(out_dir)), name})
    atomic_write_text(path, json.dumps({"written_by": "linkwise", "files": files}, indent=2) + "\n")


def check_output_folder(out_dir: str | Path, *, overwrite: bool) -> None:
    """Refuse a folder that holds results, unless ``overwrite``; even then, files linkwise did not write.

    Cheap, so that a run can be refused before its work, not after.
    """
    out_dir = Path(out_dir)
    found = existing_outputs(out_dir) if out_dir.is_dir() else []
    if found and not overwrite:
        raise OutputError(
            f"output folder '{out_dir}' already holds results ({', '.join(found)}); "
            "choose another folder or pass --overwrite"
        )
    recorded = _recorded_outputs(out_dir)
    foreign = [name for name in found if name not in recorded]
    if foreign:
        raise OutputError(
            f"output folder '{out_dir}' holds {', '.join(foreign)}, which no linkwise run there recorded "
            f"writing ({MANIFEST}); --overwrite replaces only linkwise's own outputs: "
            "move these files away or choose another folder"
        )


@contextmanager
def staged_outputs(out_dir: str | Path, *, overwrite: bool = False):
    """Context manager giving an :class:`OutputWriter`; files appear only on success.

    Refuses a folder that already holds linkwise outputs unless ``overwrite``
    (see :func:`check_output_folder`); never touches files that linkwise did not write.
    """
    out_dir = Path(out_dir)
    # The folders this run makes (the output folder and any missing parents), deepest first.
    created = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise OutputError(f"output '{out_dir}' exists and is not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(out_dir, exc) from None
    check_output_folder(out_dir, overwrite=overwrite)
    published = False
    try:
        writer = OutputWriter(out_dir)
    except OSError as exc:
        raise _os_error(out_dir, exc) from None
    try:
        yield writer
        # Earlier outputs this run does not rewrite (e.g. an old pairs.csv) go too.
        writer.publish()
        published = True
    except OSError as exc:
        raise _os_error(out_dir, exc) from None
    finally:
        shutil.rmtree(writer.staging, ignore_errors=True)
        if not published:
            # A failed run leaves no trace, not even the folders it made (if nothing else is in them).
            for folder in created:
                try:
                    folder.rmdir()
                except OSError:
                    break


def read_json(path: Path, what: str, loader: Callable[[str, str], Any] | None = None) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutputError(f"'{path.parent}' holds no {what} ({path.name}); is it a linkwise output folder?") from None
    if loader:
        return loader(text, str(path))
    return json.loads(text)
