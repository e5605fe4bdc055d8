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
from .outputs import parquet_schema, read_json
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



def estimate_output(out_dir: str | Path, *, threshold: float | None = None):
    """Label-free estimates of the accuracy of the run in ``out_dir``, from its outputs alone.

    Each pair's pattern posterior comes from ``model.json`` and its levels in
    ``pairs.parquet``; the blocking recall from ``summary.json``. See
    :mod:`linkwise.estimate`.
    """
    from .estimate import Estimate, estimate_accuracy
    from .model import model_from_document, read_model_document

    out_dir = Path(out_dir)
    summary = read_json(out_dir / "summary.json", "run summary")
    settings = Settings.load(out_dir / "settings.json")
    try:
        model_text = (out_dir / "model.json").read_text(encoding="utf-8")
    except OSError:
        raise OutputError(f"cannot read model.json in '{out_dir}'") from None
    model = model_from_document(read_model_document(model_text, str(out_dir / "model.json")), settings.comparisons, str(out_dir / "model.json"))
    level_columns = [f"{c.name}_level" for c in settings.comparisons]
    try:
        clusters = pq.read_table(out_dir / "clusters.parquet", columns=["id", "source", "cluster_id"])
        names = parquet_schema(out_dir / "pairs.parquet").names
        pairs = pq.read_table(
            out_dir / "pairs.parquet",
            columns=["id_l", "id_r", *(["source_l", "source_r"] if "source_l" in names else []), "match_probability", *level_columns],
        )
    except (OSError, pa.ArrowInvalid, KeyError) as exc:
        raise OutputError(f"cannot read the outputs in '{out_dir}': {exc}") from None
    ids, sources = clusters["id"].combine_chunks(), clusters["source"].combine_chunks()
    several = "source_l" in pairs.column_names

    def index_of(id_column: str, source_column: str) -> np.ndarray:
        found = _index_in(pairs[id_column].combine_chunks(), pairs[source_column].combine_chunks() if several else None, ids, sources)
        if found.null_count:
            raise OutputError(f"pairs.parquet in '{out_dir}' names records that clusters.parquet lacks")
        return found.to_numpy(zero_copy_only=False).astype(np.int64)

    levels = np.stack([pairs[c].to_numpy().astype(np.uint8) for c in level_columns], axis=1)
    blocking = summary.get("estimated_blocking_recall")
    source_codes = pc.dictionary_encode(sources).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return estimate_accuracy(
        clusters=clusters["cluster_id"].to_numpy().astype(np.int64),
        left=index_of("id_l", "source_l"),
        right=index_of("id_r", "source_r"),
        pair_probability=pairs["match_probability"].to_numpy(),
        match_probability=pairs["match_probability"].to_numpy(),
        other_probability=model.posterior(levels),
        threshold=settings.match_threshold if threshold is None else threshold,
        blocking=Estimate.from_dict(blocking) if blocking else None,
        sources=source_codes,
        link_type=settings.link_type,
    )


def _index_in(ids: pa.Array, sources: pa.Array | None, all_ids: pa.Array, all_sources: pa.Array) -> pa.Array:
    if sources is None:
        return pc.index_in(ids, value_set=all_ids)
    key = pc.binary_join_element_wise(pc.cast(sources, pa.string()), pc.cast(ids, pa.string()), "\x1f")
    all_keys = pc.binary_join_element_wise(pc.cast(all_sources, pa.string()), pc.cast(all_ids, pa.string()), "\x1f")
    return pc.index_in(key, value_set=all_keys)
