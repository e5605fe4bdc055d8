"""Fixtures for the engine tests: one small local Spark session shared by every Spark test.

Without PySpark or Java the Spark tests are skipped locally; with
``LINKWISE_REQUIRE_SPARK=1`` (set by ``.ci/run``) they fail instead, so that CI
cannot pass without running them.
"""

from __future__ import annotations

import os

import pytest


def _unavailable(why: str) -> None:
    if os.environ.get("LINKWISE_REQUIRE_SPARK") == "1":
        pytest.fail(f"LINKWISE_REQUIRE_SPARK=1 but {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def spark():
    """A local Spark session on two cores, with few shuffle partitions (the test data are small)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _unavailable("PySpark is not installed (pip install -e '.[test]')")
    from linkwise.engines.spark import start_session
    from linkwise.errors import SettingsError

    try:
        session = start_session(
            "local[2]",
            {
                "spark.sql.shuffle.partitions": "2",
                "spark.default.parallelism": "2",
                "spark.ui.enabled": "false",
                "spark.driver.memory": "2g",
            },
        )
    except SettingsError as exc:  # no Java 17
        _unavailable(str(exc))
    yield session
    session.stop()
