"""The result of a Spark run: pairs and clusters as Spark DataFrames, written by Spark."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ..blocking import RuleReport
from ..errors import LinkwiseError
from ..model import FellegiSunterModel, model_document
from ..outputs import staged_outputs
from ..settings import Settings
from .spark_ingest import SparkRecords
from .spark_frames import release
from .spark_pairs import level_column


@dataclass
class SparkLinkResult:
    """Everything a Spark run produced; the pairs and clusters stay in Spark.

    :meth:`pairs` and :meth:`clusters` give Spark DataFrames with the columns
    of :class:`linkwise.LinkResult`'s tables; :meth:`pairs_table` and
    :meth:`clusters_table` collect them into Arrow (for small results);
    :meth:`write` has Spark write the Parquet files. The DataFrames are
    kept in the session; :meth:`unpersist` lets them go.
    """

    settings: Settings
    records: SparkRecords
    model: FellegiSunterModel
    scored: DataFrame
    clusters_frame: DataFrame
    n_candidates: int
    blocking: list[RuleReport]
    training: dict
    timings: dict[str, float]
    total_pairs: float
    inputs: list[str | None] = field(default_factory=list)
    _summary: dict | None = field(default=None, repr=False)

    @property
    def _multi_source(self) -> bool:
        return self.settings.link_type != "dedupe" or len(self.records.source_names) > 1

    def _source_name(self, code: str) -> Column:
        names = F.array(*[F.lit(n) for n in self.records.source_names])
        return names[F.col(code)]

    # -- tables -----------------------------------------------------------------
    def pairs(self, *, min_probability: float | None = None) -> DataFrame:
        """Scored candidate pairs in (left, right) record order: ids, weight, probability and each comparison's level."""
        frame = self.scored
        if min_probability is not None:
            frame = frame.where(F.col("match_probability") >= F.lit(float(min_probability)))
        columns = [F.col("_id_l").alias("id_l"), F.col("_id_r").alias("id_r")]
        if self._multi_source:
            columns += [self._source_name("_src_l").alias("source_l"), self._source_name("_src_r").alias("source_r")]
        columns += [F.col("match_weight"), F.col("match_probability")]
        columns += [F.col(level_column(c)).alias(f"{comp.name}_level") for c, comp in enumerate(self.settings.comparisons)]
        return frame.orderBy("idx_l", "idx_r").select(*columns)

    def clusters(self) -> DataFrame:
        """One row per input record, in record order: ``id``, ``source``, ``cluster_id``, ``cluster_size``."""
        return self.clusters_frame.orderBy("_idx").select(
            F.col("_id").alias("id"),
            self._source_name("_src").alias("source"),
            F.col("cluster_id"),
            F.col("cluster_size"),
        )

    def pairs_table(self, *, min_probability: float | None = None) -> pa.Table:
        """:meth:`pairs` collected into an Arrow table on the driver."""
        return self.pairs(min_probability=min_probability).toArrow()

    def clusters_table(self) -> pa.Table:
        """:meth:`clusters` collected into an Arrow table on the driver."""
        return self.clusters().toArrow()

    def unpersist(self) -> None:
        """Let go of the pairs and clusters held in the Spark session."""
        release(self.scored, self.clusters_frame)

    # -- documents --------------------------------------------------------------
    def model_document(self) -> dict:
        random_prior = self.model.prior_ * max(self.n_candidates, 1) / max(self.total_pairs, 1.0)
        return model_document(
            self.settings.comparisons,
            self.model,
            {
                "random_pair_prior": random_prior,
                "candidate_pairs": int(self.n_candidates),
                "training": self.training,
                "settings": self.settings.to_dict(),
            },
        )

    def summary(self) -> dict:
        """The run's summary, as :meth:`linkwise.LinkResult.summary` gives it (counted in Spark once)."""
        if self._summary is None:
            at_threshold = self.scored.where(F.col("match_probability") >= F.lit(float(self.settings.match_threshold))).count()
            records_by_size = self.clusters_frame.groupBy("cluster_size").count().collect()
            histogram = {int(size): int(n) // int(size) for size, n in records_by_size}
            self._summary = {
                "inputs": self.inputs,
                "link_type": self.settings.link_type,
                "records": int(self.records.n),
                "sources": list(self.records.source_names),
                "id_column": self.records.id_column,
                "generated_ids": self.records.generated_ids,
                "candidate_pairs": int(self.n_candidates),
                "pairs_at_or_above_match_threshold": int(at_threshold),
                "match_threshold": self.settings.match_threshold,
                "cluster_threshold": self.settings.cluster_threshold,
                "clusters": int(sum(histogram.values())),
                "cluster_size_histogram": {str(k): histogram[k] for k in sorted(histogram)},
                "blocking_rules": [r.to_dict() for r in self.blocking],
                "seconds": {k: round(v, 3) for k, v in self.timings.items()},
            }
        return self._summary

    # -- writing ----------------------------------------------------------------
    def write(self, out_dir: str | Path, *, overwrite: bool = False, csv: bool = False) -> Path:
        """Write clusters, pairs, model, settings and summary into ``out_dir``, atomically.

        Spark writes ``pairs.parquet`` and ``clusters.parquet`` as folders of
        part files (any Parquet reader reads a folder as one table), in record
        order; ``csv`` adds ``pairs.csv`` and ``clusters.csv`` folders. The
        folder must be one that the driver and every executor can reach (a
        local folder in local mode; a shared file system on a cluster).
        """
        summary = self.summary()  # counted before the files appear
        with staged_outputs(out_dir, overwrite=overwrite) as writer:
            outputs = [("pairs", self.pairs()), ("clusters", self.clusters())]
            for name, frame in outputs:
                frame.write.option("compression", "zstd").parquet(writer.path_for(f"{name}.parquet").resolve().as_uri())
                if csv:
                    frame.write.option("header", True).csv(writer.path_for(f"{name}.csv").resolve().as_uri())
            writer.json("model.json", self.model_document())
            writer.json("settings.json", self.settings.to_dict())
            writer.json("summary.json", summary)
        return Path(out_dir)

    def evaluate(self, truth: Any, *, threshold: float | None = None):
        raise LinkwiseError(
            "a Spark result is evaluated from its written outputs: write it, then run "
            "'linkwise evaluate OUT --truth COLUMN' (or linkwise.evaluate_output)"
        )
