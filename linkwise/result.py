"""The result of a run: scored pairs, clusters, the model, and how they were made."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .blocking import RuleReport
from .estimate import Estimate
from .ingest import Records
from .model import FellegiSunterModel, model_document, probability
from .outputs import staged_outputs
from .prepare import PreparedComparison
from .score import pairs_at_or_above
from .settings import Settings

PAIRS_BATCH_ROWS = 1 << 18
"""Pairs built and written at a time by :meth:`LinkResult.write`, one Parquet row group each.

About 12 MB of Arrow data a batch (two are in memory while writing); readers
see the same table whatever the batch size.
"""


def run_summary(result: Any, *, candidate_pairs: int, at_threshold: int, clusters: int, histogram: dict[int, int]) -> dict:
    """``summary.json`` of a run: the result's settings, records, rules, estimate and timings, with
    the counts that each engine makes its own way (``histogram``: clusters by size)."""
    recall = result.estimated_blocking_recall
    return {
        "inputs": result.inputs,
        "encoding": result.records.encoding,
        "link_type": result.settings.link_type,
        "records": int(result.records.n),
        "sources": list(result.records.source_names),
        "id_column": result.records.id_column,
        "generated_ids": result.records.generated_ids,
        "candidate_pairs": int(candidate_pairs),
        "pairs_at_or_above_match_threshold": int(at_threshold),
        "match_threshold": result.settings.match_threshold,
        "cluster_threshold": result.settings.cluster_threshold,
        "clusters": int(clusters),
        "cluster_size_histogram": {str(k): histogram[k] for k in sorted(histogram)},
        "blocking_rules": [r.to_dict() for r in result.blocking],
        "estimated_blocking_recall": recall.to_dict() if recall is not None else None,
        "seconds": {k: round(v, 3) for k, v in result.timings.items()},
    }


@dataclass
class LinkResult:
    """Everything a run produced. Records are numbered 0..n-1 in (source, id) order.

    Use :meth:`pairs` and :meth:`clusters` for Arrow tables, :meth:`write` to
    save the outputs, and :meth:`evaluate` to measure against a truth column.
    """

    settings: Settings
    records: Records
    model: FellegiSunterModel
    prepared: list[PreparedComparison]
    left: np.ndarray
    right: np.ndarray
    levels: np.ndarray
    match_weight: np.ndarray
    clusters: np.ndarray
    blocking: list[RuleReport]
    training: dict
    timings: dict[str, float]
    total_pairs: float
    inputs: list[str | None] = field(default_factory=list)
    estimated_blocking_recall: Estimate | None = None
    zero_config: Any = None  # linkwise.auto.ChosenSettings, when the settings were chosen from the data

    # -- tables -----------------------------------------------------------------
    @property
    def match_probability(self) -> np.ndarray:
        """Match probability of each candidate pair, worked out from its weight when asked for."""
        return probability(self.match_weight)

    @property
    def _multi_source(self) -> bool:
        return self.settings.link_type != "dedupe" or len(self.records.source_names) > 1

    def pairs_table(self, *, min_probability: float | None = None) -> pa.Table:
        """Scored candidate pairs: ids, weight, probability and each comparison's level."""
        if min_probability is None:
            return self._pairs_of(slice(None))
        return self._pairs_of(pairs_at_or_above(self.match_weight, min_probability))

    def _pairs_of(self, rows: slice | np.ndarray) -> pa.Table:
        """The pairs table of the pairs that ``rows`` (a slice or positions) selects."""
        left, right = self.left[rows], self.right[rows]
        ids = self.records.ids
        columns: dict[str, Any] = {
            "id_l": ids.take(pa.array(left)),
            "id_r": ids.take(pa.array(right)),
        }
        if self._multi_source:
            # Per pair, from the few source names: no string per record is built.
            names = pa.array(list(self.records.source_names), type=pa.string())
            codes = self.records.source_codes
            columns["source_l"] = names.take(pa.array(codes[left]))
            columns["source_r"] = names.take(pa.array(codes[right]))
        weights = self.match_weight[rows]
        columns["match_weight"] = pa.array(weights)
        columns["match_probability"] = pa.array(probability(weights))
        for c, comp in enumerate(self.settings.comparisons):
            columns[f"{comp.name}_level"] = pa.array(self.levels[rows, c].astype(np.int8))
        return pa.table(columns)

    def _pair_batches(self) -> Iterator[pa.Table]:
        """The pairs table in slices of :data:`PAIRS_BATCH_ROWS` pairs, each built when asked for."""
        for start in range(0, len(self.left), PAIRS_BATCH_ROWS):
            yield self._pairs_of(slice(start, start + PAIRS_BATCH_ROWS))

    def pairs(self, *, min_probability: float | None = None) -> pa.Table:
        """Alias of :meth:`pairs_table`."""
        return self.pairs_table(min_probability=min_probability)

    def clusters_table(self) -> pa.Table:
        """One row per input record: ``id``, ``source``, ``cluster_id``, ``cluster_size``, and the cluster's confidence.

        ``cluster_weakest_link`` is the lowest probability at which the
        cluster's records are still connected by scored pairs;
        ``cluster_mean_probability`` the mean probability of its scored pairs.
        Both are null for a record alone in its cluster.
        """
        return self._clusters_of(slice(None), self._per_cluster())

    def _per_cluster(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Size, weakest link and mean probability of each cluster."""
        from .cluster import cluster_confidence

        sizes = np.bincount(self.clusters).astype(np.int64)
        weakest, mean = cluster_confidence(self.clusters, self.left, self.right, self.match_weight)
        return sizes, weakest, mean

    def _clusters_of(self, rows: slice, per_cluster: tuple[np.ndarray, np.ndarray, np.ndarray]) -> pa.Table:
        """The clusters table of the records ``rows`` selects, from :meth:`_per_cluster`."""
        sizes, weakest, mean = per_cluster
        clusters = self.clusters[rows]
        # Source names per record from the few names: no string per record is built in Python.
        names = pa.array(list(self.records.source_names), type=pa.string())
        return pa.table(
            {
                "id": self.records.ids[rows],
                "source": names.take(pa.array(self.records.source_codes[rows])),
                "cluster_id": pa.array(clusters),
                "cluster_size": pa.array(sizes[clusters]),
                "cluster_weakest_link": pa.array(weakest[clusters], from_pandas=True),
                "cluster_mean_probability": pa.array(mean[clusters], from_pandas=True),
            }
        )

    def _cluster_batches(self, per_cluster: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Iterator[pa.Table]:
        """The clusters table in slices of :data:`PAIRS_BATCH_ROWS` records, each built when asked for."""
        for start in range(0, len(self.clusters), PAIRS_BATCH_ROWS):
            yield self._clusters_of(slice(start, start + PAIRS_BATCH_ROWS), per_cluster)

    # -- documents --------------------------------------------------------------
    def model_document(self) -> dict:
        n_candidates = max(len(self.left), 1)
        random_prior = self.model.prior_ * n_candidates / max(self.total_pairs, 1.0)
        return model_document(
            self.settings.comparisons,
            self.model,
            {
                "random_pair_prior": random_prior,
                "candidate_pairs": int(len(self.left)),
                "training": self.training,
                "settings": self.settings.to_dict(),
            },
        )

    def summary(self) -> dict:
        n_clusters = int(self.clusters.max()) + 1 if len(self.clusters) else 0
        sizes = np.bincount(np.bincount(self.clusters)) if len(self.clusters) else np.zeros(1, int)
        return run_summary(
            self,
            candidate_pairs=len(self.left),
            at_threshold=len(pairs_at_or_above(self.match_weight, self.settings.match_threshold)),
            clusters=n_clusters,
            histogram={k: int(v) for k, v in enumerate(sizes) if v},
        )

    # -- writing ----------------------------------------------------------------
    def write(self, out_dir: str | Path, *, overwrite: bool = False, csv: bool = False) -> Path:
        """Write clusters, pairs, model, settings and summary atomically into ``out_dir``.

        Pairs are built and written :data:`PAIRS_BATCH_ROWS` at a time, so the
        memory this takes does not grow with the number of pairs.
        """
        out_dir = Path(out_dir)
        with staged_outputs(out_dir, overwrite=overwrite) as writer:
            # Clusters first, a batch of records at a time, before the pairs' batches
            # are made: the two never take memory at the same time.
            per_cluster = self._per_cluster()
            clusters_schema = self._clusters_of(slice(0, 0), per_cluster).schema
            # The ids are unique: a dictionary of them would only cost memory.
            writer.parquet_batches(
                "clusters.parquet", clusters_schema, self._cluster_batches(per_cluster), dictionary=["source", "cluster_size"]
            )
            if csv:
                writer.csv_batches("clusters.csv", clusters_schema, self._cluster_batches(per_cluster))
            del per_cluster
            pairs_schema = self._pairs_of(slice(0, 0)).schema
            jobs = [
                partial(
                    writer.parquet_batches,
                    "pairs.parquet",
                    pairs_schema,
                    self._pair_batches(),
                    # Levels and sources repeat; ids hardly do. Readers filter on weights and probabilities.
                    dictionary=[n for n in pairs_schema.names if n.endswith("_level") or n.startswith("source_")],
                    statistics=["match_weight", "match_probability"],
                ),
            ]
            if csv:
                jobs.append(partial(writer.csv_batches, "pairs.csv", pairs_schema, self._pair_batches()))
            # Arrow's writers release the GIL: write the files side by side.
            with ThreadPoolExecutor(max_workers=2) as pool:
                for done in [pool.submit(job) for job in jobs]:
                    done.result()
            writer.json("model.json", self.model_document())
            writer.json("settings.json", self.settings.to_dict())
            writer.json("summary.json", self.summary())
            if self.zero_config is not None:
                writer.json("zero_config.json", self.zero_config.to_dict())
        return out_dir

    # -- explanation ----------------------------------------------------------------
    def explain(self, a: Any, b: Any, *, source_a: str | None = None, source_b: str | None = None):
        """Why the records with ids ``a`` and ``b`` score as they do: a :class:`~linkwise.explain.PairExplanation`.

        Each comparison's level, m, u and weight (term-frequency adjustment
        included), the prior, the total and the probability; works for a pair
        that was never a candidate too, and says which blocking rules hold.
        ``print()`` it, or use ``.to_dict()``.
        """
        from .explain import Explainer

        return Explainer.of(self).pair(a, b, source_a=source_a, source_b=source_b)

    def explain_cluster(self, cluster_id: int):
        """What holds cluster ``cluster_id`` together: a :class:`~linkwise.explain.ClusterExplanation`."""
        from .explain import Explainer

        linked = pairs_at_or_above(self.match_weight, self.settings.cluster_threshold)
        return Explainer.of(self).explain_cluster(
            cluster_id, self.clusters, self.left[linked], self.right[linked], self.match_weight[linked]
        )

    # -- evaluation ---------------------------------------------------------------
    def truth_codes(self, truth: str | np.ndarray | pa.Array) -> np.ndarray:
        """Entity code per record from a truth column name or an array aligned with the records."""
        from .evaluate_run import truth_codes

        return truth_codes(self.records, truth)

    def evaluate(self, truth: str | np.ndarray | pa.Array, *, threshold: float | None = None):
        """Precision, recall and F1 of pairs and clusters against a truth column."""
        from .evaluate import evaluate

        return evaluate(
            truth=self.truth_codes(truth),
            clusters=self.clusters,
            pair_left=self.left,
            pair_right=self.right,
            pair_probability=self.match_probability,
            threshold=self.settings.match_threshold if threshold is None else threshold,
            sources=self.records.source_codes.astype(np.int64),
            link_type=self.settings.link_type,
        )

    def estimate_accuracy(self, *, threshold: float | None = None):
        """Label-free estimates of precision, recall and F1 of the pairs and clusters, with intervals.

        From the model's own probabilities (see :mod:`linkwise.estimate`); no truth is needed.
        """
        from .estimate import estimate_accuracy

        return estimate_accuracy(
            clusters=self.clusters,
            left=self.left,
            right=self.right,
            pair_probability=self.match_probability,
            match_probability=self.match_probability,
            other_probability=self.model.posterior(self.levels),
            threshold=self.settings.match_threshold if threshold is None else threshold,
            blocking=self.estimated_blocking_recall,
            sources=self.records.source_codes.astype(np.int64),
            link_type=self.settings.link_type,
        )
