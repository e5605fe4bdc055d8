"""What the Spark engine does not do yet is refused up front, in one clear sentence, before Spark starts.

These need neither PySpark nor Java: the refusal comes first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import linkwise
from linkwise.datasets import people

SETTINGS = Path(linkwise.__file__).parent / "data" / "people_settings.json"


def test_zero_configuration_on_spark_asks_for_settings():
    with pytest.raises(linkwise.SettingsError, match=r"the Spark engine needs settings: pass --settings FILE"):
        linkwise.dedupe(people(50, seed=1), engine="spark")


def test_labels_on_spark_are_refused_with_the_engine_to_use():
    with pytest.raises(linkwise.SettingsError, match=r"not yet used by the Spark engine; run with --engine duckdb"):
        linkwise.dedupe(people(50, seed=1), SETTINGS, engine="spark", label_column="entity_id")
