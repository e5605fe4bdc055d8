"""The pipeline on Spark: the stages of :mod:`linkwise.pipeline`, with the data kept in Spark.

Each stage ends by materialising what it made (a checkpoint), so that the time
of each stage in ``summary.json`` is the time of its own work, and so that
later plans start from stored rows instead of repeating earlier stages.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..batches import PreparePlan, ScorePlan
from ..blocking import RuleReport, check_budget, check_union_budget
from ..errors import BlockingError
from ..estimate import blocking_keys, blocking_recall_from_sums
from ..estimate import rule_keys as recall_keys
from ..pipeline import pairs_allowed
from ..settings import Settings
from ..train import exact_u_applies, loaded_model, train_on_counts, u_from_level_counts, u_sample
from . import spark_ingest
from .spark_clusters import clusters as cluster_records
from .spark_frames import materialise, release
from .spark_ingest import SparkRecords
from .spark_pairs import (
    block_stats,
    candidate_pairs,
    compare,
    exact_agreement,
    key_mask_sums,
    level_counts_of_sample,
    pattern_totals,
    pairs_made_by,
    rule_keys,
    score,
)
from .spark_result import SparkLinkResult


def _blocking_reports(records: SparkRecords, keys: list[list[str]], settings: Settings, *, marginal: bool) -> list[RuleReport]:
    """Each rule's pairs from block sizes, checked against the budget; marginal pairs when asked or needed."""
    reports = []
    stats = block_stats(records.frame, keys, link_type=settings.link_type)
    for rule, (pairs, largest) in zip(settings.blocking_rules, stats):
        described = tuple(
            (", ".join(f"{k.column}={value!r}" for k, value in zip(rule.keys, values)), size) for values, size in largest
        )
        reports.append(RuleReport(rule.name, pairs, None, described))
    check_budget(reports, settings.max_candidate_pairs)
    if marginal or sum(r.pairs for r in reports) > settings.max_candidate_pairs:
        made_by = pairs_made_by(candidate_pairs(records.frame, keys, link_type=settings.link_type), len(keys))
        reports = [replace(rep, marginal_pairs=made_by[r]) for r, rep in enumerate(reports)]
        check_union_budget(reports, settings.max_candidate_pairs)
    return reports


def _exact_u(records: SparkRecords, plan: PreparePlan, settings: Settings) -> list[float | None]:
    """Exact-match u from value frequencies, where it applies (:func:`linkwise.train.exact_u_from_frequencies`)."""
    applies = [c for c, comp in enumerate(settings.comparisons) if exact_u_applies(comp)]
    columns = [plan.comparison_columns(settings.comparisons[c])[0] for c in applies]
    sums = dict(zip(applies, exact_agreement(records.frame, columns, link_type=settings.link_type)))
    out: list[float | None] = []
    for c in range(len(settings.comparisons)):
        agree, pairs = sums.get(c, (0.0, 0.0))
        out.append(float(agree / pairs) if pairs > 0 else None)
    return out


def _estimate_u(engine: Any, records: SparkRecords, plan: PreparePlan, settings: Settings) -> list[np.ndarray]:
    """u from the same seeded random pairs as the DuckDB engine's, compared in Spark."""
    # Records are numbered in source order, so the source codes follow from the sizes
    # (needed to draw cross-source pairs in link mode only).
    source_codes = None
    if settings.link_type == "link":
        source_codes = np.repeat(np.arange(len(records.source_sizes), dtype=np.int16), records.source_sizes)
    left, right = u_sample(settings, records.n, source_codes)
    level_counts = level_counts_of_sample(
        engine.session, left, right, records, settings, plan, batch_rows=engine.batch_rows
    )
    return u_from_level_counts(level_counts, _exact_u(records, plan, settings), settings)


def run(engine: Any, inputs: Any, settings: Settings, *, reporter: Any, model_source: tuple, encoding: str | None) -> SparkLinkResult:
    spark = engine.session
    model_doc, model_where = model_source
    plan = PreparePlan.of(settings)
    keys = rule_keys(settings, plan)
    # Each key of the rules alone too: which keys agree tells how many matches no rule made.
    single_keys = [plan.name_of(key.column, key.standardise) for key in blocking_keys(settings)]
    with reporter.stage("ingest"):
        records = spark_ingest.load(spark, inputs, settings, encoding=encoding)
    with reporter.stage("prepare"):
        records = spark_ingest.prepare(records, settings, plan)
    with reporter.stage("block"):
        reports = _blocking_reports(records, keys, settings, marginal=False)
        pairs = materialise(candidate_pairs(records.frame, keys, link_type=settings.link_type, single_keys=single_keys))
        n_candidates = pairs.count()
    if not n_candidates:
        raise BlockingError(
            "the blocking rules make no candidate pairs: no two records share the values of any rule; "
            "add rules on columns that duplicates share"
        )
    with reporter.stage("compare", total=n_candidates):
        compared = materialise(compare(pairs, records, settings, plan, batch_rows=engine.batch_rows))
        release(pairs)
    all_pairs = pairs_allowed(records.source_sizes, settings.link_type)
    with reporter.stage("train"):
        totals = pattern_totals(compared, settings, records.n)
        if model_doc is None:
            u = _estimate_u(engine, records, plan, settings)
            model, training = train_on_counts(
                totals.patterns, totals.counts, totals.by_mask, u, settings, total_pairs=all_pairs, n_records=records.n
            )
        else:
            model = loaded_model(model_doc, settings, model_where, total_pairs=all_pairs, n_candidates=n_candidates)
            training = {"loaded_model": True}
    reports = [replace(rep, marginal_pairs=int(totals.made_by[r])) for r, rep in enumerate(reports)]
    with reporter.stage("score"):
        scored = materialise(score(compared, ScorePlan.of(model, list(records.term_frequencies)), settings))
        release(compared)
    with reporter.stage("cluster"):
        # Which keys agree among the likely matches tells how many matches no rule made.
        recall = None
        if single_keys:
            masks, found, every, sure = key_mask_sums(
                scored, threshold=settings.match_threshold, sure=settings.cluster_threshold
            )
            recall = blocking_recall_from_sums(masks, recall_keys(settings), found=found, every=every, sure=sure)
        clusters = cluster_records(records.frame, scored, settings)
        release(records.frame)
    return SparkLinkResult(
        settings=settings,
        records=records,
        model=model,
        scored=scored,
        clusters_frame=clusters,
        n_candidates=n_candidates,
        blocking=reports,
        training=training,
        timings=dict(reporter.timings),
        total_pairs=all_pairs,
        inputs=records.inputs,
        estimated_blocking_recall=recall,
    )


def analyse_blocking(engine: Any, inputs: Any, settings: Settings, *, encoding: str | None = None) -> list[RuleReport]:
    """:func:`linkwise.pipeline.analyse_blocking` in Spark: rule totals from block sizes,
    marginal pairs from counting joins."""
    plan = PreparePlan.of(settings)
    records = spark_ingest.load(engine.session, inputs, settings, encoding=encoding)
    records = spark_ingest.prepare(records, settings, plan)
    try:
        return _blocking_reports(records, rule_keys(settings, plan), settings, marginal=True)
    finally:
        release(records.frame)
