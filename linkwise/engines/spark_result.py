"""The result of a Spark run: pairs and clusters as Spark DataFrames, written by Spark."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ..blocking import RuleReport
from ..errors import LinkwiseError, OutputError
from ..estimate import Estimate
from ..model import FellegiSunterModel, model_document
from ..outputs import OUTPUT_FILES, json_text, staged_outputs
from ..result import run_summary
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
    estimated_blocking_recall: Estimate | None = None
    zero_config: Any = None  # linkwise.auto.ChosenSettings, when the settings were chosen from the data
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
        """One row per input record, in record order: ``id``, ``source``, ``cluster_id``, ``cluster_size``
        and the cluster's confidence (``cluster_weakest_link``, ``cluster_mean_probability``; null for
        a record alone), as :meth:`linkwise.LinkResult.clusters_table` has them."""
        return self.clusters_frame.orderBy("_idx").select(
            F.col("_id").alias("id"),
            self._source_name("_src").alias("source"),
            F.col("cluster_id"),
            F.col("cluster_size"),
            F.col("cluster_weakest_link"),
            F.col("cluster_mean_probability"),
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
            self._summary = run_summary(
                self,
                candidate_pairs=self.n_candidates,
                at_threshold=at_threshold,
                clusters=sum(histogram.values()),
                histogram=histogram,
            )
        return self._summary

    # -- writing ----------------------------------------------------------------
    def write(self, out_dir: str | Path, *, overwrite: bool = False, csv: bool = False) -> str | Path:
        """Write clusters, pairs, model, settings and summary into ``out_dir``, all or nothing.

        Spark writes ``pairs.parquet`` and ``clusters.parquet`` as folders of
        part files (any Parquet reader reads a folder as one table), in record
        order; ``csv`` adds ``pairs.csv`` and ``clusters.csv`` folders.
        ``out_dir`` is a local folder (in local mode, or one shared by every
        machine) or a URI of a Hadoop file system (``hdfs://``, ``s3a://``,
        ``gs://``, ``abfss://``, ``file://``).
        """
        summary = self.summary()  # counted before any file appears
        if "://" in str(out_dir):
            with _hadoop_outputs(self.scored.sparkSession, str(out_dir), overwrite=overwrite) as writer:
                self._write_into(writer, summary, csv=csv)
            return str(out_dir)
        with staged_outputs(out_dir, overwrite=overwrite) as writer:
            self._write_into(_LocalTarget(writer), summary, csv=csv)
        return Path(out_dir)

    def _write_into(self, writer: Any, summary: dict, *, csv: bool) -> None:
        for name, frame in (("pairs", self.pairs()), ("clusters", self.clusters())):
            frame.write.option("compression", "zstd").parquet(writer.uri_for(f"{name}.parquet"))
            if csv:
                frame.write.option("header", True).csv(writer.uri_for(f"{name}.csv"))
        writer.json("model.json", self.model_document())
        writer.json("settings.json", self.settings.to_dict())
        writer.json("summary.json", summary)
        if self.zero_config is not None:
            writer.json("zero_config.json", self.zero_config.to_dict())

    def evaluate(self, truth: Any, *, threshold: float | None = None):
        raise LinkwiseError(
            "a Spark result is evaluated from its written outputs: write it, then run "
            "'linkwise evaluate OUT --truth COLUMN' (or linkwise.evaluate_output)"
        )


class _LocalTarget:
    """A local staged writer, as Spark addresses it (``file://`` URIs)."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def uri_for(self, name: str) -> str:
        return self._writer.path_for(name).resolve().as_uri()

    def json(self, name: str, document: Any) -> None:
        self._writer.json(name, document)


@contextmanager
def _hadoop_outputs(spark: Any, uri: str, *, overwrite: bool) -> Iterator[Any]:
    """:func:`linkwise.outputs.staged_outputs` on a Hadoop file system: files are made in a
    staging folder and moved into place together when all are written."""
    target = _HadoopTarget(spark, uri)
    found = target.existing()
    if found and not overwrite:
        raise OutputError(
            f"output folder '{uri}' already holds results ({', '.join(found)}); choose another folder or pass --overwrite"
        )
    try:
        yield target
        target.publish()
    finally:
        target.fs.delete(target.staging, True)


class _HadoopTarget:
    def __init__(self, spark: Any, uri: str) -> None:
        jvm = spark.sparkContext._jvm
        self._path = jvm.org.apache.hadoop.fs.Path
        self.out = self._path(uri)
        self.fs = self.out.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        self.staging = self._path(self.out, f".linkwise-staging-{uuid.uuid4().hex}")
        self.fs.mkdirs(self.staging)
        self.names: list[str] = []

    def existing(self) -> list[str]:
        return [name for name in OUTPUT_FILES if self.fs.exists(self._path(self.out, name))]

    def uri_for(self, name: str) -> str:
        self.names.append(name)
        return self._path(self.staging, name).toString()

    def json(self, name: str, document: Any) -> None:
        self.names.append(name)
        stream = self.fs.create(self._path(self.staging, name), True)
        try:
            stream.write(bytearray(json_text(document).encode("utf-8")))
        finally:
            stream.close()

    def publish(self) -> None:
        """Earlier outputs aside, the new ones in; on a failure part-way, the earlier ones back."""
        previous = self._path(self.staging, ".previous")
        self.fs.mkdirs(previous)
        aside, placed = [], []
        try:
            for name in self.existing():
                self._move(self._path(self.out, name), self._path(previous, name))
                aside.append(name)
            for name in self.names:
                self._move(self._path(self.staging, name), self._path(self.out, name))
                placed.append(name)
        except BaseException:
            for name in placed:
                self.fs.delete(self._path(self.out, name), True)
            for name in aside:
                self._move(self._path(previous, name), self._path(self.out, name))
            raise

    def _move(self, source: Any, destination: Any) -> None:
        if not self.fs.rename(source, destination):
            raise OutputError(f"cannot move '{source.toString()}' to '{destination.toString()}'")
