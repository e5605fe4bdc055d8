"""linkwise: probabilistic record linkage and deduplication.

>>> import linkwise
>>> sorted(linkwise.__all__)[:3]
['BlockingRule', 'Comparison', 'FellegiSunterModel']
"""

from __future__ import annotations

from . import templates
from .auto import choose_settings
from .errors import BlockingError, InputError, LinkwiseError, ModelError, OutputError, SettingsError
from .evaluate import Evaluation
from .evaluate_run import evaluate_output
from .model import FellegiSunterModel
from .pipeline import analyse_blocking, dedupe, link, run
from .result import LinkResult
from .settings import BlockingRule, Comparison, Level, Settings, Standardiser
from .templates import comparison

__version__ = "0.1.0"


def __getattr__(name: str):
    # The sample-data generator is imported on first use: a run on real data never needs it.
    if name == "datasets":
        import importlib

        return importlib.import_module(".datasets", __name__)
    raise AttributeError(f"module 'linkwise' has no attribute {name!r}")

__all__ = [
    "BlockingError",
    "BlockingRule",
    "Comparison",
    "Evaluation",
    "FellegiSunterModel",
    "InputError",
    "Level",
    "LinkResult",
    "LinkwiseError",
    "ModelError",
    "OutputError",
    "Settings",
    "SettingsError",
    "Standardiser",
    "comparison",
    "datasets",
    "dedupe",
    "evaluate_output",
    "link",
    "run",
    "templates",
    "__version__",
    "analyse_blocking",
    "choose_settings",
]
