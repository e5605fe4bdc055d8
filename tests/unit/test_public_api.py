"""The public surface changes only on purpose, and the engine-neutral code stays neutral."""

from __future__ import annotations

import ast
from pathlib import Path

import linkwise

PACKAGE = Path(linkwise.__file__).parent


def test_the_exported_names_are_exactly_these():
    assert sorted(linkwise.__all__) == sorted(
        [
            "BlockingError", "BlockingRule", "Comparison", "Evaluation", "FellegiSunterModel", "InputError",
            "Level", "LinkResult", "LinkwiseError", "ModelError", "OutputError", "Settings", "SettingsError",
            "Standardiser", "analyse_blocking", "choose_settings", "comparison", "datasets", "dedupe", "evaluate_output", "link",
            "run", "templates", "__version__",
        ]
    )
    for name in linkwise.__all__:
        assert hasattr(linkwise, name), name


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_engine_neutral_modules_import_neither_duckdb_nor_pyspark():
    for path in PACKAGE.rglob("*.py"):
        if "engines" in path.relative_to(PACKAGE).parts:
            continue
        assert not _imported_modules(path) & {"duckdb", "pyspark"}, path.name


def test_every_error_derives_from_one_root():
    for name in ("SettingsError", "InputError", "BlockingError", "ModelError", "OutputError"):
        assert issubclass(getattr(linkwise, name), linkwise.LinkwiseError)


def test_models_and_settings_are_never_pickled():
    for path in PACKAGE.rglob("*.py"):
        assert "pickle" not in _imported_modules(path), path.name
