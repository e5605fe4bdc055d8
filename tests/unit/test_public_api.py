"""The public surface changes only on purpose, and the engine-neutral code stays neutral."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
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


def _engine_specific(path: Path) -> bool:
    """The DuckDB engine's module and the Spark engine's modules; everything else is engine-neutral."""
    relative = path.relative_to(PACKAGE).parts
    return relative[0] == "engines" and (relative[-1] == "duckdb.py" or relative[-1].startswith("spark"))


def test_engine_neutral_modules_import_neither_duckdb_nor_pyspark():
    neutral = [path for path in PACKAGE.rglob("*.py") if not _engine_specific(path)]
    assert PACKAGE / "engines" / "base.py" in neutral and PACKAGE / "batches.py" in neutral
    for path in neutral:
        assert not _imported_modules(path) & {"duckdb", "pyspark", "py4j"}, path.name


_WITHOUT = """
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
        return None

sys.meta_path.insert(0, Missing())
"""


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)},
        timeout=300,
    )


def test_linkwise_imports_and_runs_on_duckdb_without_pyspark_installed():
    code = _WITHOUT.format(blocked={"pyspark", "py4j"}) + (
        "import linkwise\n"
        "result = linkwise.dedupe(linkwise.datasets.people(300, seed=1), 'linkwise/data/people_settings.json')\n"
        "assert 'pyspark' not in sys.modules\n"
        "print(result.summary()['records'])\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "300"


def test_the_spark_engine_without_pyspark_says_what_to_install():
    code = _WITHOUT.format(blocked={"pyspark", "py4j"}) + (
        "import linkwise\n"
        "try:\n"
        "    linkwise.dedupe(linkwise.datasets.people(50, seed=1), 'linkwise/data/people_settings.json', engine='spark')\n"
        "except linkwise.SettingsError as exc:\n"
        "    print(exc)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "pip install 'linkwise[spark]'" in done.stdout


def test_importing_linkwise_starts_no_engine():
    done = _python("import sys, linkwise; print(sorted({'duckdb', 'pyspark'} & set(sys.modules)))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_error_derives_from_one_root():
    for name in ("SettingsError", "InputError", "BlockingError", "ModelError", "OutputError"):
        assert issubclass(getattr(linkwise, name), linkwise.LinkwiseError)


def test_models_and_settings_are_never_pickled():
    for path in PACKAGE.rglob("*.py"):
        assert "pickle" not in _imported_modules(path), path.name
