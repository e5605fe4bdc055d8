"""Ingest: read the sources into one Arrow table with a unique id and a source tag.

Inputs may be CSV or Parquet files (a file, a glob or a folder), pandas or
polars DataFrames, or Arrow tables. Only the columns the settings use are kept.
Records are numbered in (source, id) order, so that every later stage, and
every output, is the same whatever the input row order (when linkwise numbers
the records itself, the numbers follow the input order). The table itself stays
in input order, with the permutation beside it: sorting it would copy every
string.
"""

from __future__ import annotations

import glob as globlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .engines.base import get_engine
from .errors import InputError, LinkwiseError, did_you_mean
from .settings import Settings

GENERATED_ID = "unique_id"
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv"}


@dataclass(frozen=True)
class _Input:
    """One input as given (a path, or the data itself) and its number of rows."""

    data: Any
    where: str
    rows: int


@dataclass(frozen=True)
class Records:
    """All input records, numbered in (source, id) order.

    ``table`` holds the columns the run uses, in input order: record ``i`` is
    row ``order[i]``. ``ids``, ``source_codes`` and :meth:`column` are in record
    order. ``inputs`` and ``encoding`` let :meth:`column` read other columns again.
    """

    table: pa.Table
    order: np.ndarray
    ids: pa.Array
    source_codes: np.ndarray
    source_names: tuple[str, ...]
    id_column: str
    generated_ids: bool
    inputs: tuple[_Input, ...]
    encoding: str | None

    @property
    def n(self) -> int:
        return self.table.num_rows

    @property
    def sources(self) -> pa.Array:
        return pa.array(np.asarray(self.source_names, dtype=object)[self.source_codes], type=pa.string())

    def without_columns(self) -> Records:
        """The same records without their column data, to free memory once it is encoded.

        :meth:`column` reads a column again from the inputs when asked.
        """
        return replace(self, table=self.table.select([]))

    def column(self, name: str) -> pa.Array:
        """Column ``name`` in record order, as text (the id column as given).

        A column that was not kept, such as a truth column, is read again from
        the inputs; an input that lacks it gives nulls.
        """
        column = self.table[name] if name in self.table.column_names else self._read_again(name)
        column = column.take(pa.array(self.order)).combine_chunks()
        return column.dictionary_decode() if pa.types.is_dictionary(column.type) else column

    def _read_again(self, name: str) -> pa.ChunkedArray:
        """Column ``name`` of every input, as text, in input order."""
        names: list[str] = []

        def keep(input_names: list[str]) -> list[str]:
            names.extend(input_names)
            return [name] if name in input_names else []

        chunks: list[pa.Array] = []
        # The engine that read the inputs may be closed by now: paths are read with a new one.
        engine = get_engine() if any(isinstance(i.data, (str, Path)) for i in self.inputs) else None
        try:
            for source in self.inputs:
                table = to_arrow(source.data, where=source.where, engine=engine, encoding=self.encoding, keep=keep)
                if name not in table.column_names:
                    chunks.append(pa.nulls(source.rows, pa.string()))
                    continue
                if table.num_rows != source.rows:
                    raise InputError(f"{source.where} has changed since it was read; run again")
                table = _string_columns(table, None)
                if table.num_columns == 0:
                    raise InputError(
                        f"{source.where}: column '{name}' holds lists or records, not values that can be compared; store it as text"
                    )
                column = table[name]
                if pa.types.is_dictionary(column.type):
                    column = column.cast(pa.string())
                chunks.extend(column.chunks)
        finally:
            if engine is not None:
                engine.close()
        if name not in names:
            raise InputError(f"column '{name}' is not in the input.{did_you_mean(name, names)}")
        return pa.chunked_array(chunks, pa.string())


def file_format_of(path: Path) -> str | None:
    """'csv' or 'parquet' from a file name (compressed CSV included), or None."""
    name = path.name.lower()
    for suffix in (".gz", ".zst", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return _FORMATS.get(Path(name).suffix)


def _files_of(spec: str) -> tuple[list[Path], str]:
    """Resolve a path, glob or folder into data files and their common format."""
    path = Path(spec)
    if path.is_dir():
        # A .txt file is read when named, but in a folder it is more likely a README than data.
        files = sorted(p for p in path.iterdir() if p.is_file() and file_format_of(p) and ".txt" not in p.suffixes)
        if not files:
            raise InputError(f"input '{spec}': the folder holds no CSV or Parquet files")
    elif path.exists():  # before globbing: a file may be called 'data[1].csv'
        files = [path]
    elif any(ch in spec for ch in "*?["):
        files = [Path(p) for p in sorted(globlib.glob(spec))]
        if not files:
            raise InputError(f"input '{spec}': no file matches this pattern")
    else:
        raise InputError(f"input '{spec}' does not exist")
    formats = {file_format_of(f) for f in files}
    if None in formats:
        bad = next(f for f in files if file_format_of(f) is None)
        raise InputError(f"input '{bad}': unsupported format; give a .csv or .parquet file")
    if len(formats) > 1:
        raise InputError(f"input '{spec}': mixes CSV and Parquet files; give one format")
    for f in files:
        if f.stat().st_size == 0:
            raise InputError(f"input '{f}' is empty")
    return files, formats.pop()  # type: ignore[return-value]


def _read_path(
    spec: str, engine: Any, encoding: str | None, keep: Callable[[list[str]], list[str]], plain: str | None = None
) -> pa.Table:
    files, file_format = _files_of(spec)
    target = str(files[0]) if len(files) == 1 else [str(f) for f in files]
    try:
        if file_format == "parquet" and len(files) == 1:
            # Arrow reads a Parquet file column by column: read only the columns kept,
            # text straight into dictionary form (each value's bytes held once).
            as_dictionary = [name for name in _text_columns(target) if name != plain]
            with pq.ParquetFile(target, read_dictionary=as_dictionary) as parquet:
                return parquet.read(columns=keep(parquet.schema_arrow.names))
        table = engine.read(target, file_format=file_format, encoding=encoding)
    except LinkwiseError:  # from keep: the columns do not fit the settings
        raise
    except Exception as exc:  # the engine's own error types differ; report them plainly
        text = str(exc)
        # Only the first line is shown: engines quote the offending line of data after it.
        message = text.splitlines()[0] if text else type(exc).__name__
        if any(word in text.lower() for word in ("unicode", "utf-8", "utf8", "encoding")):
            raise InputError(
                f"input '{spec}' is not valid UTF-8; give its encoding, e.g. --encoding latin-1"
            ) from None
        if "out of memory" in text.lower():
            raise InputError(
                f"input '{spec}': out of memory while reading it ({message}); raise --memory-limit"
                " (engine option 'memory_limit') or free some memory"
            ) from None
        hint = "; check the quoting and the number of fields on that line" if file_format == "csv" else ""
        raise InputError(f"input '{spec}' cannot be read as {file_format.upper()}: {message}{hint}") from None
    if file_format == "csv" and table.num_columns == 1 and any(ch in table.column_names[0] for ch in ",;\t|"):
        # The sniffer found no delimiter that splits every line the same way.
        raise InputError(
            f"input '{spec}' was read as a single column: its delimiter could not be detected; "
            "look for an unclosed quote, or lines with more or fewer fields than the header"
        )
    return table.select(keep(table.column_names))


def _text_columns(path: str) -> list[str]:
    """The text columns of a Parquet file, to be read as dictionaries."""
    schema = pq.read_schema(path)
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def to_arrow(
    data: Any,
    *,
    where: str,
    engine: Any = None,
    encoding: str | None = None,
    keep: Callable[[list[str]], list[str]] | None = None,
    id_column: str | None = None,
) -> pa.Table:
    """Turn one input (path, glob, folder, pandas, polars or Arrow) into an Arrow table.

    ``keep`` picks the columns to keep from the input's column names (default:
    all). A single Parquet file and data frames are read for those columns only;
    a Parquet file's text columns other than ``id_column`` come as dictionaries.
    """
    keep = keep or list
    if isinstance(data, (str, Path)):
        return _read_path(str(data), engine, encoding, keep, id_column)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data.select(keep(data.column_names))
    module = type(data).__module__.split(".")[0]
    try:
        if module == "pandas":
            names = [str(c) for c in data.columns]
            kept = set(keep(names))
            positions = [i for i, name in enumerate(names) if name in kept]
            return _pandas_to_arrow(data.iloc[:, positions])
        if module == "polars":
            return data.select(keep(data.columns)).to_arrow()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        message = str(exc).splitlines()[0]
        raise InputError(f"{where}: the data frame cannot be converted to Arrow ({message}); make each column one type") from None
    raise InputError(
        f"{where}: cannot read a {type(data).__name__}; give a CSV or Parquet path, "
        "a pandas or polars DataFrame, or an Arrow table"
    )


def _pandas_to_arrow(frame: Any) -> pa.Table:
    """A pandas DataFrame as Arrow; a column of mixed types (e.g. numbers and text) is read as text."""
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    columns = {}
    for name in frame.columns:
        column = frame[name]
        try:
            columns[str(name)] = pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[str(name)] = pa.array(column.astype(str).where(column.notna(), None), type=pa.string())
    return pa.table(columns)


def _source_name(data: Any, index: int) -> str:
    if isinstance(data, (str, Path)) and not any(ch in str(data) for ch in "*?["):
        return Path(str(data)).name.split(".")[0] or f"source_{index}"
    return f"source_{index}"


def _normalise_inputs(inputs: Any) -> list[tuple[str, Any]]:
    if isinstance(inputs, Mapping):
        return [(str(k), v) for k, v in inputs.items()]
    if isinstance(inputs, (str, Path, pa.Table)) or not isinstance(inputs, Sequence):
        inputs = [inputs]
    named: list[tuple[str, Any]] = []
    for i, data in enumerate(inputs):
        name = _source_name(data, i)
        while name in {n for n, _ in named}:
            name = f"{name}_{i}"
        named.append((name, data))
    return named


def _is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or (
        pa.types.is_dictionary(data_type) and pa.types.is_string(data_type.value_type)
    )


def _string_columns(table: pa.Table, id_column: str | None) -> pa.Table:
    """Cast every column but the id to text, so sources with different types align.

    Text in dictionary form stays so. A column that has no text form (lists,
    structs) is dropped, unless the settings use it, which is an error naming it.
    """
    names, columns = [], []
    for name, column in zip(table.column_names, table.columns):
        if name != id_column and not _is_text(column.type):
            if pa.types.is_null(column.type):
                column = pa.chunked_array([pa.nulls(len(column), pa.string())])
            else:
                try:
                    column = pc.cast(column, pa.string())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                    continue
        names.append(name)
        columns.append(column)
    return pa.table(columns, names=names)


def _dictionary_columns(table: pa.Table, id_column: str | None) -> pa.Table:
    """Dictionary-encode every text column but the id, one at a time.

    Records are compared through their distinct values: in this form each
    value's bytes are held once, and encoding them later costs nothing.
    """
    for position, (name, column) in enumerate(zip(table.column_names, table.columns)):
        if name != id_column and pa.types.is_string(column.type):
            table = table.set_column(position, name, pc.dictionary_encode(column))
    return table


def _check_ids_present(ids: pa.ChunkedArray | pa.Array, column: str, where: str) -> None:
    if ids.null_count:
        raise InputError(
            f"{where}: id column '{column}' has {ids.null_count} empty value(s); every record needs an id"
        )


def _check_ids_unique(sorted_ids: pa.Array, sorted_codes: np.ndarray, column: str, where: str) -> None:
    """Ids sorted within sources: a repeat is equal to its predecessor in the same source."""
    if len(sorted_ids) < 2:
        return
    same_id = pc.equal(sorted_ids.slice(1), sorted_ids.slice(0, len(sorted_ids) - 1))
    repeated = same_id.to_numpy(zero_copy_only=False) & (sorted_codes[1:] == sorted_codes[:-1])
    if repeated.any():
        positions = np.flatnonzero(repeated) + 1
        duplicated = pc.unique(sorted_ids.take(pa.array(positions)))
        first = ", ".join(repr(v) for v in duplicated.slice(0, 5).to_pylist())
        raise InputError(
            f"{where}: id column '{column}' is not unique: {len(duplicated)} id(s) occur more than once "
            f"(first: {first}). Give a unique id column, or none to number the records"
        )


def _source_labels(table: pa.Table, settings: Settings, name: str) -> pa.Array:
    """The source of each row, dictionary-encoded."""
    if settings.source_column and settings.source_column in table.column_names:
        labels = pc.fill_null(pc.cast(table[settings.source_column], pa.string()), "").combine_chunks()
        return pc.dictionary_encode(labels)
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(table.num_rows, np.int32)), pa.array([name]))


def _used_columns(
    names: list[str], settings: Settings, where: str, extra: Sequence[str], earlier: list[tuple[str, list[str]]]
) -> list[str]:
    """Check an input's column names against the settings; return the ones to keep, in input order.

    Kept are the id column, the columns the settings use and those of ``extra``
    that exist. Names are checked as the settings' ``rename`` calls them; the
    input's own names are returned. ``earlier`` holds (where, column names) of
    the inputs read before; this one is added.
    """
    if settings.rename:
        renamed = settings.renamed(names)
        kept = set(_used_columns(renamed, replace(settings, rename=()), where, extra, earlier))
        return [name for name, new in zip(names, renamed) if new in kept]
    if not names:
        raise InputError(f"{where} has no columns")
    id_column = settings.unique_id_column
    if earlier and not set(names).intersection(earlier[0][1]) - {id_column}:
        # Checked before the settings: "column x is missing" would hide the cause.
        raise InputError(
            f"{where} shares no column with {earlier[0][0]}: columns are matched by name across "
            "sources; rename columns so that the sources use the same names"
        )
    earlier.append((where, list(names)))
    if id_column is not None and id_column not in names:
        raise InputError(
            f"{where}: id column '{id_column}' is missing.{did_you_mean(id_column, names)}"
            f" Available columns: {', '.join(names)}"
        )
    settings.check_columns(names, source=where)
    used = {id_column, *settings.required_columns(), *extra}
    return [name for name in names if name in used]


def load_records(
    inputs: Any,
    settings: Settings,
    *,
    engine: Any = None,
    encoding: str | None = None,
    extra_columns: Sequence[str] = (),
) -> Records:
    """Read, check and number all sources, keeping only the columns needed.

    ``extra_columns`` are kept too, where an input has them (e.g. a truth
    column about to be read); other columns can still be had, more slowly, from
    :meth:`Records.column`.

    Raises :class:`~linkwise.errors.InputError` for unreadable, empty or
    inconsistent inputs and :class:`~linkwise.errors.SettingsError` for
    settings that name columns the data lacks.
    """
    named = _normalise_inputs(inputs)
    id_column = settings.unique_id_column
    tables: list[pa.Table] = []
    labels: list[pa.DictionaryArray] = []
    read: list[_Input] = []
    earlier: list[tuple[str, list[str]]] = []
    for name, data in named:
        where = f"input '{data}'" if isinstance(data, (str, Path)) else f"input '{name}'"
        keep = partial(_used_columns, settings=settings, where=where, extra=extra_columns, earlier=earlier)
        table = to_arrow(data, where=where, engine=engine, encoding=encoding, keep=keep, id_column=id_column)
        if settings.rename:
            table = table.rename_columns(settings.renamed(table.column_names))
        if table.num_rows == 0:
            raise InputError(f"{where} has a header but no rows")
        if id_column is not None:
            _check_ids_present(table[id_column], id_column, where)
        table = _dictionary_columns(_string_columns(table, id_column), id_column)
        dropped = set(settings.required_columns()) - set(table.column_names)
        if dropped:
            column = sorted(dropped)[0]
            raise InputError(f"{where}: column '{column}' holds lists or records, not values that can be compared; store it as text")
        tables.append(table)
        labels.append(_source_labels(table, settings, name))
        read.append(_Input(data, where, table.num_rows))

    names = sorted({str(v) for label in labels for v in label.dictionary.to_pylist()})
    if settings.link_type == "link" and len(names) < 2:
        raise InputError(
            "link needs two or more sources: give two or more inputs, or a 'source_column' that tells the sources apart"
        )
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = pa.concat_tables([_string_columns(t, None) for t in tables], promote_options="permissive")
    # Source codes number the sorted source names.
    position = {n: i for i, n in enumerate(names)}
    codes = np.concatenate(
        [
            np.array([position[str(v)] for v in label.dictionary.to_pylist()], dtype=np.int16)[
                label.indices.to_numpy(zero_copy_only=False)
            ]
            for label in labels
        ]
    )

    generated = id_column is None
    if generated:
        id_column = GENERATED_ID
        while id_column in table.column_names:
            id_column = "_" + id_column
        # Number records within each source in input order, starting at 1.
        ids = np.empty(len(codes), dtype=np.int64)
        for code in range(len(names)):
            where_code = np.flatnonzero(codes == code)
            ids[where_code] = np.arange(1, len(where_code) + 1)
        table = table.append_column(id_column, pa.array(ids))

    order = pc.sort_indices(
        pa.table({"src": pa.array(codes), "id": table[id_column]}),
        sort_keys=[("src", "ascending"), ("id", "ascending")],
    ).to_numpy().astype(np.int64)
    codes = codes[order]
    ids = table[id_column].take(pa.array(order)).combine_chunks()
    if not generated:
        where = f"input '{named[0][1]}'" if len(named) == 1 and isinstance(named[0][1], (str, Path)) else "the input"
        _check_ids_unique(ids, codes, id_column, where)
    return Records(
        table=table,
        order=order,
        ids=ids,
        source_codes=codes,
        source_names=tuple(names),
        id_column=id_column,
        generated_ids=generated,
        inputs=tuple(read),
        encoding=encoding,
    )
