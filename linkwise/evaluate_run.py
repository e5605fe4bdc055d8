"""Evaluate a finished run from its output folder against a truth column of its input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .engines.base import get_engine
from .errors import InputError, OutputError
from .ingest import Records, load_records
from .outputs import read_json
from .settings import Settings


def truth_codes(records: Records, truth: Any) -> np.ndarray:
    """Entity code per record (-1 where the truth is missing)."""
    if isinstance(truth, str):
        column = records.column(truth)
    else:
        column = pa.array(truth)
        if len(column) != records.n:
            raise InputError(f"truth has {len(column)} values for {records.n} records")
    encoded = pc.dictionary_encode(column)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return np.where(encoded.is_null().to_numpy(zero_copy_only=False), -1, codes).astype(np.int64)


def _record_index(records: Records, ids: pa.Array, sources: pa.Array | None) -> np.ndarray:
    if sources is None or len(records.source_names) == 1:
        index = pc.index_in(ids, value_set=records.ids)
    else:
        key = pc.binary_join_element_wise(pc.cast(sources, pa.string()), pc.cast(ids, pa.string()), "\x1f")
        all_keys = pc.binary_join_element_wise(records.sources, pc.cast(records.ids, pa.string()), "\x1f")
        index = pc.index_in(key, value_set=all_keys)
    if index.null_count:
        raise OutputError("the output pairs name records that are not in the input; was the input changed?")
    return index.to_numpy(zero_copy_only=False).astype(np.int64)


def evaluate_output(out_dir: str | Path, truth: str, *, inputs: list[str] | None = None, threshold: float | None = None, encoding: str | None = None):
    """Evaluate the run in ``out_dir``; the input is read again for its truth column."""
    from .evaluate import evaluate

    out_dir = Path(out_dir)
    summary = read_json(out_dir / "summary.json", "run summary")
    settings = Settings.load(out_dir / "settings.json")
    inputs = inputs or summary.get("inputs") or []
    if not inputs or any(x is None for x in inputs):
        raise InputError(
            f"the run in '{out_dir}' was given data frames, not files; give the input files with --input"
        )
    engine = get_engine("duckdb")
    try:
        records = load_records(
            inputs if len(inputs) > 1 else inputs[0], settings, encoding=encoding, engine=engine, extra_columns=[truth]
        )
    finally:
        engine.close()
    try:
        clusters = pq.read_table(out_dir / "clusters.parquet")
        pairs = pq.read_table(out_dir / "pairs.parquet", columns=None)
    except (OSError, pa.ArrowInvalid) as exc:
        raise OutputError(f"cannot read the outputs in '{out_dir}': {exc}") from None
    cluster_index = _record_index(records, clusters["id"].combine_chunks(), clusters["source"].combine_chunks())
    labels = np.full(records.n, -1, dtype=np.int64)
    labels[cluster_index] = clusters["cluster_id"].to_numpy()
    if (labels < 0).any():
        raise OutputError(f"clusters.parquet in '{out_dir}' does not cover every input record")
    has_sources = "source_l" in pairs.column_names
    left = _record_index(records, pairs["id_l"].combine_chunks(), pairs["source_l"].combine_chunks() if has_sources else None)
    right = _record_index(records, pairs["id_r"].combine_chunks(), pairs["source_r"].combine_chunks() if has_sources else None)
    return evaluate(
        truth=truth_codes(records, truth),
        clusters=labels,
        pair_left=left,
        pair_right=right,
        pair_probability=pairs["match_probability"].to_numpy(),
        threshold=settings.match_threshold if threshold is None else threshold,
        sources=records.source_codes.astype(np.int64),
        link_type=settings.link_type,
    )

