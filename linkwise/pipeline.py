"""The pipeline, flowing one way: ingest → prepare → block → compare → train → score → cluster.

:func:`dedupe` and :func:`link` are the entry points; each stage lives in its
own module and this one only passes data forward.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .blocking import (
    analyse,
    candidate_pairs,
    check_budget,
    check_union_budget,
    keys_table,
    pairs_made_by,
    rule_masks,
    with_marginal_pairs,
)
from .cluster import connected_components, refine_clusters
from .compare import ComparisonKernel, compare_pairs
from .engines.base import get_engine
from .errors import BlockingError, SettingsError
from .estimate import blocking_keys, blocking_recall, rule_keys
from .ingest import Records, load_records
from .labels import LabelOptions, choose_thresholds, label_evidence
from .memory import reclaim
from .model import read_model_document
from .prepare import prepare
from .progress import Reporter
from .result import LinkResult
from .score import match_weights, pairs_at_or_above
from .settings import Settings
from .train import MaskCounts, PatternCounts, estimate_u, loaded_model, train

# The compare stage's temporaries, per pair of a batch and per comparison
# compared at the same time (one per thread), and the memory they may take:
# the batch size follows from them (125,000 pairs on two threads). Each
# comparison keeps the levels of the value pairs it met in earlier batches
# (linkwise.compare.SeenValuePairs), so small batches cost little time.
COMPARE_BYTES_PER_PAIR = 100
COMPARE_BATCH_BYTES = 25_000_000


def compare_batch(n_comparisons: int, threads: int | None = None) -> int:
    """Pairs compared at a time: bounds the compare stage's temporaries at little cost in speed."""
    at_once = max(1, min(n_comparisons, threads or os.cpu_count() or 1))
    return max(100_000, COMPARE_BATCH_BYTES // (COMPARE_BYTES_PER_PAIR * at_once))


def resolve_settings(settings: Any) -> Settings:
    """Accept Settings, a mapping, or a path to a JSON/YAML file."""
    if isinstance(settings, Settings):
        return settings
    if isinstance(settings, dict):
        return Settings.from_dict(settings)
    if isinstance(settings, (str, Path)):
        return Settings.load(settings)
    if settings is None:
        raise SettingsError(
            "no settings given: pass settings (a file, a mapping or a Settings), "
            "for example examples/people_settings.json"
        )
    raise SettingsError(f"settings must be a Settings, a mapping or a file path, not {type(settings).__name__}")


def _load_model(model: Any) -> tuple[dict, Settings, str]:
    where = "model"
    if isinstance(model, LinkResult):
        doc = model.model_document()
    elif isinstance(model, dict):
        doc = read_model_document(json.dumps(model), "the model given")
        where = "the model given"
    else:
        path = Path(model)
        if path.is_dir():
            path = path / "model.json"
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            from .errors import ModelError

            # Models are JSON text, never pickle: anything else is refused, not loaded.
            reason = "it is not UTF-8 text (a model is a JSON file)" if isinstance(exc, UnicodeDecodeError) else exc.strerror
            raise ModelError(f"model file '{path}' cannot be read: {reason}") from None
        doc = read_model_document(text, str(path))
        where = str(path)
    if not isinstance(doc.get("settings"), dict):
        from .errors import ModelError

        raise ModelError(f"model '{where}' does not hold the settings it was trained with")
    return doc, Settings.from_dict(doc["settings"]), where


def total_pairs(records: Records, link_type: str) -> float:
    """Number of pairs the link type allows, before blocking."""
    return pairs_allowed(np.bincount(records.source_codes, minlength=len(records.source_names)), link_type)


def pairs_allowed(source_sizes: np.ndarray, link_type: str) -> float:
    """Number of pairs the link type allows among sources of these sizes, before blocking."""
    sizes = np.asarray(source_sizes, dtype=float)
    n = float(sizes.sum())
    if link_type != "link":
        return n * (n - 1) / 2
    return float((sizes.sum() ** 2 - (sizes**2).sum()) / 2)


def _describe_key(records: Records, keys: np.ndarray, settings: Settings):
    """Map (rule, key code) to the readable key values, for advice about big blocks."""
    from .standardise import apply_steps

    def describe(rule: int, key: int) -> str:
        first = int(np.flatnonzero(keys[rule] == key)[0])
        parts = []
        for k in settings.blocking_rules[rule].keys:
            raw = records.table[k.column].slice(int(records.order[first]), 1).combine_chunks()
            raw = raw.dictionary_decode() if pa.types.is_dictionary(raw.type) else raw
            value = apply_steps(raw, settings.steps_for(k.column) + k.standardise)[0].as_py()
            parts.append(f"{k.column}={value!r}")
        return ", ".join(parts)

    return describe


def _is_spark(engine: Any) -> bool:
    """Whether ``engine`` names or is the Spark engine (or a Spark session), told without importing PySpark."""
    if engine == "spark" or hasattr(engine, "run_pipeline"):
        return True
    kind = type(engine)
    return kind.__name__ == "SparkSession" and kind.__module__.startswith("pyspark.")


@contextmanager
def _engine_for(engine: Any, options: dict | None = None):
    """Use the engine given, or make one (and close it afterwards) from a name or a Spark session."""
    if hasattr(engine, "candidate_pairs") or hasattr(engine, "run_pipeline"):
        yield engine
        return
    made = get_engine(engine, **(options or {}))
    try:
        yield made
    finally:
        made.close()


@contextmanager
def _stage(reporter: Reporter, name: str, total: float | None = None):
    """A timed stage; the memory its temporaries held goes back to the system at its end."""
    with reporter.stage(name, total=total):
        yield
    reclaim()


def _blocking_reports(engine: Any, table: Any, records: Records, keys: np.ndarray, settings: Settings, *, marginal: bool) -> list:
    """Each rule's pairs from block sizes, checked against the budget; marginal pairs when asked or needed."""
    describe = _describe_key(records, keys, settings)
    reports = analyse(engine, table, settings.blocking_rules, link_type=settings.link_type, describe_key=describe)
    check_budget(reports, settings.max_candidate_pairs)
    over_budget = sum(r.pairs for r in reports) > settings.max_candidate_pairs
    if marginal or over_budget:
        reports = with_marginal_pairs(engine, table, reports, link_type=settings.link_type)
        check_union_budget(reports, settings.max_candidate_pairs)
    return reports


def run(
    inputs: Any,
    settings: Any = None,
    *,
    model: Any = None,
    engine: Any = None,
    link_type: str | None = None,
    encoding: str | None = None,
    match_threshold: float | None = None,
    cluster_threshold: float | None = None,
    progress: bool = False,
    engine_options: dict | None = None,
    labels: Any = None,
    label_column: str | None = None,
    zero_config: dict | None = None,
    keep_prepared: bool = True,
) -> LinkResult:
    """Run the whole pipeline and return a :class:`LinkResult` (nothing is written).

    ``labels`` (a file, data frame or table of labelled pairs) or
    ``label_column`` (an entity id known for some records) calibrate m and
    choose the thresholds not given here (see :mod:`linkwise.labels`).

    Without settings (and without a model) the settings are chosen from the
    data (:func:`linkwise.auto.choose_settings`, given the options in
    ``zero_config``: ``exclude``, ``rename``, ``max_pairs``); what was chosen
    and why is in ``result.zero_config``.

    ``keep_prepared=False`` lets the encoded values go once the pairs are
    scored (for a caller that only writes the outputs, as the command line
    does): the result then cannot explain pairs.
    """
    model_doc, model_where = None, "model"
    if model is not None:
        model_doc, model_settings, model_where = _load_model(model)
        settings = settings if settings is not None else model_settings
    chosen = None
    if settings is None:
        if _is_spark(engine):
            # Choosing settings profiles the whole table and runs a first pass on one machine.
            raise SettingsError(
                "the Spark engine needs settings: pass --settings FILE (settings= in Python); to have "
                "linkwise choose them, run without --engine spark on a sample of the data and use its settings.json"
            )
        # Zero configuration: settings chosen from the data (see linkwise.auto).
        from .auto import choose_settings

        own_engine = engine if hasattr(engine, "block_stats") else None
        chosen = choose_settings(
            inputs, link_type=link_type or "dedupe", encoding=encoding, engine=own_engine, **(zero_config or {})
        )
        settings = chosen.settings
    settings = resolve_settings(settings)
    changes: dict[str, Any] = {}
    if link_type is not None and link_type != settings.link_type:
        changes["link_type"] = link_type
    if match_threshold is not None:
        changes["match_threshold"] = match_threshold
    if cluster_threshold is not None:
        changes["cluster_threshold"] = cluster_threshold
    if changes:
        settings = settings.with_options(**changes)

    if _is_spark(engine) and (labels is not None or label_column is not None):
        raise SettingsError("labelled pairs (--labels, --label-column) are not yet used by the Spark engine; run with --engine duckdb")
    if _is_spark(engine) and settings.one_to_one and settings.link_type == "link":
        raise SettingsError("setting 'one_to_one': not yet available on the Spark engine; run with --engine duckdb")
    with _engine_for(engine, engine_options) as eng, Reporter(show=progress) as reporter:
        if hasattr(eng, "run_pipeline"):
            # An engine that keeps the data where it lives (Spark) runs the same stages there.
            return eng.run_pipeline(inputs, settings, reporter=reporter, model_source=(model_doc, model_where), encoding=encoding)
        threads = (engine_options or {}).get("threads")
        label_options = LabelOptions(labels, label_column, match_threshold is None, cluster_threshold is None)
        result = _run(
            inputs, settings, eng, reporter, (model_doc, model_where), encoding, threads, label_options, keep_prepared
        )
    result.zero_config = chosen
    return result


def _run(
    inputs: Any,
    settings: Settings,
    engine: Any,
    reporter: Reporter,
    model_source: tuple[dict | None, str],
    encoding: str | None,
    threads: int | None,
    label_options: LabelOptions | None = None,
    keep_prepared: bool = True,
) -> LinkResult:
    model_doc, model_where = model_source
    if label_options is not None and label_options.labels is not None and label_options.column is not None:
        raise SettingsError("give labelled pairs or a label column, not both")
    with _stage(reporter, "ingest"):
        records = load_records(inputs, settings, engine=engine, encoding=encoding)
        # The ids are taken out (records.ids): their column goes, unless the settings use it.
        records = records.without_columns(keep=list(settings.required_columns()))
    # Each key of the rules alone too: which keys agree tells how many matches no rule made.
    counted_keys = blocking_keys(settings)
    with _stage(reporter, "prepare"):
        prepared, keys = prepare(records, settings, threads=threads, extra_keys=counted_keys)
        keys, single_keys = keys[: len(settings.blocking_rules)], keys[len(settings.blocking_rules) :]
        # Only the blocking rules' columns are read again (to describe their largest blocks).
        records = records.without_columns(keep=[col for rule in settings.blocking_rules for col in rule.columns])
    with _stage(reporter, "block"):
        table = keys_table(keys, records.source_codes)
        reports = _blocking_reports(engine, table, records, keys, settings, marginal=False)
        # Everything later works on codes: the column data can go before the pairs come.
        records = records.without_columns()
        left, right = candidate_pairs(engine, table, link_type=settings.link_type, n_records=records.n)
        del table
        masks = rule_masks(keys, left, right)
        key_masks = rule_masks(single_keys, left, right) if counted_keys else np.empty(0, np.uint8)
        del keys, single_keys
    if not len(left):
        raise BlockingError(
            "the blocking rules make no candidate pairs: no two records share the values of any rule; "
            "add rules on columns that duplicates share"
        )
    kernels = [ComparisonKernel(p) for p in prepared]
    with _stage(reporter, "compare", total=len(left)):
        step = compare_batch(len(prepared), threads)
        levels = compare_pairs(kernels, left, right, threads=threads, batch=step, progress=reporter.advance)
    evidence = None
    if label_options is not None and label_options.given:
        evidence = label_evidence(label_options, records, engine, kernels, left, right, levels)
    made_by = pairs_made_by(masks, len(settings.blocking_rules))
    reports = [replace(rep, marginal_pairs=int(made_by[r])) for r, rep in enumerate(reports)]
    all_pairs = total_pairs(records, settings.link_type)

    with _stage(reporter, "train"):
        # u first (random pairs, compared by the kernels), so that the kernels' caches
        # (code points, dates) are gone before the pairs' patterns are counted.
        u = estimate_u(kernels, prepared, settings, records.source_codes) if model_doc is None else None
        del kernels
        if not keep_prepared:
            prepared = [p.for_scoring() for p in prepared]
        patterns = PatternCounts.of(levels, [c.n_levels for c in settings.comparisons])
        by_mask = MaskCounts.of(patterns, masks, len(settings.blocking_rules))
        if model_doc is None:
            model, _, training = train(
                levels, masks, u, settings, total_pairs=all_pairs, counts=patterns, n_records=records.n,
                mask_counts=by_mask, labels=evidence,
            )
        else:
            model = loaded_model(model_doc, settings, model_where, total_pairs=all_pairs, n_candidates=len(left))
            training = {"loaded_model": True}
        del by_mask, masks
    with _stage(reporter, "score"):
        weights = match_weights(model, prepared, levels, left, patterns=(patterns.patterns, patterns.inverse))
        del patterns
        if settings.one_to_one and settings.link_type == "link":
            from .one_to_one import one_to_one_weights

            weights = one_to_one_weights(weights, left, right, records.n)
    if not keep_prepared:
        prepared = []
    if evidence is not None:
        settings, training["labels"] = choose_thresholds(settings, label_options, evidence, records.n, left, right, weights)
    with _stage(reporter, "cluster"):
        # Which keys agree among the likely matches tells how many matches no rule made.
        # The probabilities are worked out a batch at a time inside (none held per pair).
        blocking = blocking_recall(
            key_masks, None, rule_keys(settings), match_weight=weights,
            threshold=settings.match_threshold, sure=settings.cluster_threshold,
        ) if counted_keys else None
        del key_masks
        linked = pairs_at_or_above(weights, settings.cluster_threshold)
        clusters = connected_components(records.n, left[linked], right[linked])
        del linked
        if settings.cluster_refinement.method == "edge_contraction":
            clusters = refine_clusters(clusters, left, right, weights, threshold=settings.cluster_refinement.threshold)
    return LinkResult(
        settings=settings,
        records=records,
        model=model,
        prepared=prepared,
        left=left,
        right=right,
        levels=levels,
        match_weight=weights,
        clusters=clusters,
        blocking=reports,
        training=training,
        timings=dict(reporter.timings),
        total_pairs=all_pairs,
        inputs=_describe_inputs(inputs),
        estimated_blocking_recall=blocking,
    )


def _describe_inputs(inputs: Any) -> list[str | None]:
    from collections.abc import Mapping

    if isinstance(inputs, Mapping):
        inputs = list(inputs.values())
    if not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    return [str(Path(x).resolve()) if isinstance(x, (str, Path)) else None for x in inputs]


def analyse_blocking(inputs: Any, settings: Any, *, engine: Any = None, encoding: str | None = None) -> list:
    """Count the pairs of each blocking rule and the pairs each adds beyond the earlier rules.

    Rule totals come from block sizes; marginal counts from a counting join that
    never holds the pairs. Nothing is compared or trained. Returns one
    :class:`~linkwise.blocking.RuleReport` per rule.
    """
    settings = resolve_settings(settings)
    with _engine_for(engine) as eng:
        if hasattr(eng, "analyse_blocking"):
            return eng.analyse_blocking(inputs, settings, encoding=encoding)
        records = load_records(inputs, settings, engine=eng, encoding=encoding)
        _, keys = prepare(records, settings)
        table = keys_table(keys, records.source_codes)
        return _blocking_reports(eng, table, records, keys, settings, marginal=True)


def dedupe(data: Any, settings: Any = None, **options: Any) -> LinkResult:
    """Find the records of one table (or several, pooled) that refer to the same entity.

    Parameters
    ----------
    data:
        A CSV or Parquet path (file, glob or folder), a pandas or polars
        DataFrame, or an Arrow table.
    settings:
        :class:`Settings`, a mapping, or a JSON/YAML file. Without settings
        they are chosen from the data (zero configuration).
    **options:
        ``model`` (a model file or result to score with, without training),
        ``engine``, ``encoding``, ``match_threshold``, ``cluster_threshold``,
        ``progress``, ``engine_options``, ``zero_config`` (options for the
        choice of settings: ``exclude``, ``rename``, ``max_pairs``).

    Examples
    --------
    >>> from linkwise import dedupe, datasets
    >>> result = dedupe(datasets.people(2000), "examples/people_settings.json")  # doctest: +SKIP
    >>> result.clusters().num_rows  # doctest: +SKIP
    2000
    """
    return run(data, settings, link_type="dedupe", **options)


def link(*sources: Any, settings: Any = None, dedupe_sources: bool = False, **options: Any) -> LinkResult:
    """Link records across two or more sources (pairs within a source are not made).

    With ``dedupe_sources=True`` pairs within each source are made too
    (link type ``link_and_dedupe``). Options are as for :func:`dedupe`.
    """
    if len(sources) == 1 and isinstance(sources[0], (list, tuple, dict)):
        sources = sources[0]  # type: ignore[assignment]
    if dedupe_sources:
        link_type = "link_and_dedupe"
    elif settings is not None and resolve_settings(settings).link_type == "link_and_dedupe":
        link_type = "link_and_dedupe"
    else:
        link_type = "link"
    return run(sources, settings, link_type=link_type, **options)

