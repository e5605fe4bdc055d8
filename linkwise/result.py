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

PAIRS_BATCH_ROWS = 1 << 19
"""Pairs built and written at a time by :meth:`LinkResult.write`, one Parquet row group each.

Arrow's default row group size: ``pairs.parquet`` is laid out as if written whole.
"""


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
        from .cluster import cluster_confidence

        sizes = np.bincount(self.clusters)[self.clusters]
        weakest, mean = cluster_confidence(self.clusters, self.left, self.right, self.match_weight)
        return pa.table(
            {
                "id": self.records.ids,
                "source": self.records.sources,
                "cluster_id": pa.array(self.clusters),
                "cluster_size": pa.array(sizes.astype(np.int64)),
                "cluster_weakest_link": pa.array(weakest[self.clusters], from_pandas=True),
                "cluster_mean_probability": pa.array(mean[self.clusters], from_pandas=True),
            }
        )

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
        return {
            "inputs": self.inputs,
            "encoding": self.records.encoding,
            "link_type": self.settings.link_type,
            "records": int(self.records.n),
            "sources": list(self.records.source_names),
            "id_column": self.records.id_column,
            "generated_ids": self.records.generated_ids,
            "candidate_pairs": int(len(self.left)),
            "pairs_at_or_above_match_threshold": len(pairs_at_or_above(self.match_weight, self.settings.match_threshold)),
            "match_threshold": self.settings.match_threshold,
            "cluster_threshold": self.settings.cluster_threshold,
            "clusters": n_clusters,
            "cluster_size_histogram": {str(k): int(v) for k, v in enumerate(sizes) if v},
            "blocking_rules": [r.to_dict() for r in self.blocking],
            "estimated_blocking_recall": (
                self.estimated_blocking_recall.to_dict() if self.estimated_blocking_recall is not None else None
            ),
            "seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }

    # -- writing ----------------------------------------------------------------
    def write(self, out_dir: str | Path, *, overwrite: bool = False, csv: bool = False) -> Path:
        """Write clusters, pairs, model, settings and summary atomically into ``out_dir``.

        Pairs are built and written :data:`PAIRS_BATCH_ROWS` at a time, so the
        memory this takes does not grow with the number of pairs.
        """
        out_dir = Path(out_dir)
        with staged_outputs(out_dir, overwrite=overwrite) as writer:
            clusters = self.clusters_table()
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
                partial(writer.parquet, "clusters.parquet", clusters),
            ]
            if csv:
                # The longest first: pairs.csv takes one thread while the other writes the rest.
                jobs = [
                    partial(writer.csv_batches, "pairs.csv", pairs_schema, self._pair_batches()),
                    *jobs,
                    partial(writer.csv, "clusters.csv", clusters),
                ]
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
