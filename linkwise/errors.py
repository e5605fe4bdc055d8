"""Errors raised by linkwise.

Every error derives from one root, so callers can catch everything linkwise
raises with a single ``except LinkwiseError``::

    LinkwiseError
    ├── SettingsError      a setting is missing, misspelt or out of range
    ├── InputError         an input file, frame or column cannot be used
    ├── BlockingError      the blocking rules would make too many pairs
    ├── ModelError         a model is unfitted, or a model file cannot be read
    └── OutputError        an output cannot be written

Messages say what was wrong, where (file, column or setting) and how to fix
it. They never contain record values: where values would help (the key
values of an oversized block, say), they are kept in ``detail``, which the
command line prints only with ``--debug``. Ids of duplicated records are the
one exception: they are what a user needs to find the rows.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LinkwiseError(Exception):
    """Root of all errors raised by linkwise.

    ``detail`` is an optional second message that may quote record values.
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class SettingsError(LinkwiseError):
    """A setting is missing, misspelt, of the wrong type or out of range."""


class InputError(LinkwiseError):
    """An input source, or one of its columns, cannot be used."""


class BlockingError(LinkwiseError):
    """Blocking rules would generate more candidate pairs than the budget."""


class ModelError(LinkwiseError):
    """A model is not fitted, or a model file cannot be read."""


class OutputError(LinkwiseError):
    """Outputs cannot be written."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
