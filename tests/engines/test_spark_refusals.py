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


def test_one_to_one_linking_on_spark_is_refused_with_the_engine_to_use():
    spec = linkwise.Settings.load(SETTINGS).to_dict()
    spec.update(link_type="link", one_to_one=True)
    a, b = linkwise.datasets.people_link(50, seed=1)
    with pytest.raises(linkwise.SettingsError, match=r"'one_to_one': not yet available on the Spark engine"):
        linkwise.link(a, b, settings=spec, engine="spark")
