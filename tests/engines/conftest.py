"""Fixtures for the engine tests: one small local Spark session shared by every Spark test."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    """A local Spark session on two cores, with few shuffle partitions (the test data are small)."""
    pytest.importorskip("pyspark", reason="the Spark tests need PySpark: pip install -e '.[test]'")
    from linkwise.engines.spark import start_session

    session = start_session(
        "local[2]",
        {
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "2g",
        },
    )
    yield session
    session.stop()
