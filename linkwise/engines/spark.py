"""The Spark engine: the same settings and the same results on a cluster.

Records and pairs stay in Spark; the driver gets only small tables. Each stage
reuses the engine-neutral code on Arrow batches inside Spark's partitions
(``mapInArrow``, see :mod:`linkwise.batches`), so the DuckDB engine and this one
give the same candidate pairs, the same weights and the same clusters:

- ingest: Parquet or CSV paths (or URIs) read by Spark, or Spark DataFrames;
  records numbered in (source, id) order by a distributed sort;
- prepare: the standardisers run on batches of records; term frequencies are
  counts joined back to the records;
- block: each rule is an equi-join on its standardised keys; a pair is made by
  the first rule that holds for it;
- compare: the comparison kernels run on batches of pairs;
- train: only agreement-pattern counts (per rule mask) and value-frequency sums
  reach the driver, where EM and the dependence correction run as for DuckDB; the u sample is the same
  seeded sample of record numbers;
- score: weights summed on batches of pairs as :mod:`linkwise.score` sums them;
- cluster: connected components by alternating large-star and small-star
  joins (:mod:`linkwise.engines.spark_frames`), then refinement and each
  cluster's confidence by the one-machine code, on whole components in the
  tasks (:mod:`linkwise.engines.spark_clusters`);
- outputs: ``pairs.parquet`` and ``clusters.parquet`` written by Spark.

>>> from linkwise.engines.spark import SparkEngine  # doctest: +SKIP
>>> result = linkwise.dedupe("people.parquet", "settings.json", engine=SparkEngine(master="local[4]"))  # doctest: +SKIP
>>> result.write("out/")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import SettingsError

try:
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession
except ImportError:  # pragma: no cover - depends on the installation
    raise SettingsError(
        "setting 'engine': the Spark engine needs PySpark and Java 17 or newer: pip install 'linkwise[spark]'"
    ) from None

# Settings for a session linkwise starts itself; a session given (or started by
# spark-submit) keeps its own.
SESSION_DEFAULTS = {
    "spark.app.name": "linkwise",
    # linkwise draws its own progress per stage.
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}
LOCAL_DEFAULTS = {
    # In local mode the driver is the executor: the default of 1g is too small for the joins.
    "spark.driver.memory": "4g",
}


def _local_partitions(master: str | None) -> int:
    """Shuffle partitions for local mode: a few per core (Spark's 200 suit a cluster; on one
    machine each shuffle would write 200 files per task)."""
    cores = os.cpu_count() or 1
    inside = (master or "").partition("[")[2].rstrip("]")
    if inside.isdigit():
        cores = int(inside)
    return max(8, 4 * cores)


def _master_configured() -> bool:
    """Whether a master comes from spark-submit or spark-defaults.conf (read once the JVM runs)."""
    return SparkConf().contains("spark.master")


def start_session(master: str | None = None, config: dict[str, Any] | None = None) -> SparkSession:
    """The active Spark session, or a new one (``local[*]`` unless a master is configured)."""
    config = {k: str(v) for k, v in (config or {}).items()}
    active = SparkSession.getActiveSession()
    if active is not None and master is None and not config:
        return active
    launch = {**SESSION_DEFAULTS, **config}
    if (master or "").startswith("local") or (master is None and "PYSPARK_GATEWAY_PORT" not in os.environ):
        launch = {**LOCAL_DEFAULTS, "spark.sql.shuffle.partitions": str(_local_partitions(master)), **launch}
    try:
        SparkContext._ensure_initialized(conf=SparkConf(loadDefaults=False).setAll(list(launch.items())))
        builder = SparkSession.builder
        if master:
            builder = builder.master(master)
        elif not _master_configured():
            builder = builder.master("local[*]")
        for key, value in launch.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    except Exception as exc:  # Py4J and PySpark raise their own types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SettingsError(
            f"setting 'engine': Spark could not start ({first}); the Spark engine needs Java 17 or newer "
            "(set JAVA_HOME) and PySpark"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """Runs the pipeline on Apache Spark.

    Parameters
    ----------
    session:
        A SparkSession to use (default: the active one, or a new one).
    master:
        Master URL of a new session, e.g. ``"local[4]"`` or ``"yarn"``
        (default: as configured by spark-submit, else ``local[*]``).
    config:
        Spark settings of a new session, e.g. ``{"spark.driver.memory": "8g"}``.
    batch_rows:
        Pairs compared at a time in each task: bounds a task's Python memory
        (about 200 bytes a pair) at little cost in speed.
    """

    name = "spark"

    def __init__(
        self,
        *,
        session: SparkSession | None = None,
        master: str | None = None,
        config: dict[str, Any] | None = None,
        batch_rows: int = 200_000,
    ) -> None:
        if session is not None and (master or config):
            raise SettingsError("give the Spark engine a session or a master and config for a new one, not both")
        self._session = session
        self.master = master
        self.config = dict(config or {})
        self.batch_rows = int(batch_rows)

    @property
    def session(self) -> SparkSession:
        if self._session is None:
            self._session = start_session(self.master, self.config)
        return self._session

    def run_pipeline(self, inputs: Any, settings: Any, *, reporter: Any, model_source: tuple, encoding: str | None = None):
        """Run every stage in Spark; returns a :class:`~linkwise.engines.spark_result.SparkLinkResult`."""
        from .spark_pipeline import run

        with quiet_spark_warnings():
            return run(self, inputs, settings, reporter=reporter, model_source=model_source, encoding=encoding)

    def analyse_blocking(self, inputs: Any, settings: Any, *, encoding: str | None = None) -> list:
        """Each rule's pairs from block sizes and the pairs it adds beyond earlier rules, counted in Spark."""
        from .spark_pipeline import analyse_blocking

        with quiet_spark_warnings():
            return analyse_blocking(self, inputs, settings, encoding=encoding)

    def close(self) -> None:
        """Nothing to do: results keep using the session, which stops with the program
        (or with ``session.stop()``)."""


@contextmanager
def quiet_spark_warnings() -> Iterator[None]:
    """PySpark warns about pandas versions even where no pandas is used (linkwise passes Arrow)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pandas.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*pandas.*", category=UserWarning)
        yield
