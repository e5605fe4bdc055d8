"""The result of a run: scored pairs, clusters, the model, and how they were made."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .blocking import RuleReport
from .ingest import Records
from .model import FellegiSunterModel, model_document
from .outputs import staged_outputs
from .prepare import PreparedComparison
from .settings import Settings


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
    match_probability: np.ndarray
    clusters: np.ndarray
    blocking: list[RuleReport]
    training: dict
    timings: dict[str, float]
    total_pairs: float
    inputs: list[str | None] = field(default_factory=list)

    # -- tables -----------------------------------------------------------------
    @property
    def _multi_source(self) -> bool:
        return self.settings.link_type != "dedupe" or len(self.records.source_names) > 1

    def pairs_table(self, *, min_probability: float | None = None) -> pa.Table:
        """Scored candidate pairs: ids, weight, probability and each comparison's level."""
        keep = None if min_probability is None else np.flatnonzero(self.match_probability >= min_probability)
        left = self.left if keep is None else self.left[keep]
        right = self.right if keep is None else self.right[keep]
        ids = self.records.ids
        columns: dict[str, Any] = {
            "id_l": ids.take(pa.array(left)),
            "id_r": ids.take(pa.array(right)),
        }
        if self._multi_source:
            sources = self.records.sources
            columns["source_l"] = sources.take(pa.array(left))
            columns["source_r"] = sources.take(pa.array(right))
        weight = self.match_weight if keep is None else self.match_weight[keep]
        prob = self.match_probability if keep is None else self.match_probability[keep]
        columns["match_weight"] = pa.array(weight)
        columns["match_probability"] = pa.array(prob)
        for c, comp in enumerate(self.settings.comparisons):
            level = self.levels[:, c] if keep is None else self.levels[keep, c]
            columns[f"{comp.name}_level"] = pa.array(level.astype(np.int8))
        return pa.table(columns)

    def pairs(self, *, min_probability: float | None = None) -> pa.Table:
        """Alias of :meth:`pairs_table`."""
        return self.pairs_table(min_probability=min_probability)

    def clusters_table(self) -> pa.Table:
        """One row per input record: ``id``, ``source``, ``cluster_id``, ``cluster_size``."""
        sizes = np.bincount(self.clusters)[self.clusters]
        return pa.table(
            {
                "id": self.records.ids,
                "source": self.records.sources,
                "cluster_id": pa.array(self.clusters),
                "cluster_size": pa.array(sizes.astype(np.int64)),
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
            "link_type": self.settings.link_type,
            "records": int(self.records.n),
            "sources": list(self.records.source_names),
            "id_column": self.records.id_column,
            "generated_ids": self.records.generated_ids,
            "candidate_pairs": int(len(self.left)),
            "pairs_at_or_above_match_threshold": int((self.match_probability >= self.settings.match_threshold).sum()),
            "match_threshold": self.settings.match_threshold,
            "cluster_threshold": self.settings.cluster_threshold,
            "clusters": n_clusters,
            "cluster_size_histogram": {str(k): int(v) for k, v in enumerate(sizes) if v},
            "blocking_rules": [r.to_dict() for r in self.blocking],
            "seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }

    # -- writing ----------------------------------------------------------------
    def write(self, out_dir: str | Path, *, overwrite: bool = False, csv: bool = False) -> Path:
        """Write clusters, pairs, model, settings and summary atomically into ``out_dir``."""
        out_dir = Path(out_dir)
        with staged_outputs(out_dir, overwrite=overwrite) as writer:
            clusters = self.clusters_table()
            pairs = self.pairs_table()
            # Arrow's writers release the GIL: write the tables side by side.
            jobs = [(writer.parquet, "clusters.parquet", clusters), (writer.parquet, "pairs.parquet", pairs)]
            if csv:
                jobs += [(writer.csv, "clusters.csv", clusters), (writer.csv, "pairs.csv", pairs)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                for done in [pool.submit(write, name, table) for write, name, table in jobs]:
                    done.result()
            writer.json("model.json", self.model_document())
            writer.json("settings.json", self.settings.to_dict())
            writer.json("summary.json", self.summary())
        return out_dir

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
