"""Ready-made comparisons for common fields.

A template is a function that returns a comparison specification (a plain
mapping, the same as a user would write in JSON). In a settings file write
``{"template": "person_name", "column": "first_name"}``; in Python call
:func:`comparison`. Settings files written after a run hold the expanded
levels, so that every level can be read and edited.

>>> spec = person_name("first_name")
>>> [lv["type"] for lv in spec["levels"]]
['exact', 'damerau_levenshtein', 'jaro_winkler', 'jaro_winkler']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import SettingsError, did_you_mean

Spec = dict[str, Any]

_NAME_CLEANING = ["fold_accents", "lower", "strip_punctuation", "trim"]


def person_name(column: str, *, name: str | None = None, tf_adjust: bool = True) -> Spec:
    """A first, middle or last name: exact (term-frequency adjusted), one edit, close, similar."""
    return {
        "name": name or column,
        "column": column,
        "standardise": _NAME_CLEANING,
        "levels": [
            {"type": "exact", "tf_adjust": tf_adjust},
            {"type": "damerau_levenshtein", "max": 1},
            {"type": "jaro_winkler", "threshold": 0.9},
            {"type": "jaro_winkler", "threshold": 0.8},
        ],
    }


def full_name(first: str, last: str, *, name: str | None = None) -> Spec:
    """First and last name together, recognising a swap of the two."""
    return {
        "name": name or f"{first}_{last}",
        "columns": [first, last],
        "standardise": _NAME_CLEANING,
        "levels": [
            {"type": "exact"},
            {"type": "swapped"},
            {"type": "jaro_winkler", "threshold": 0.92},
            {"type": "exact", "columns": [last], "tf_adjust": True},
            {"type": "exact", "columns": [first], "tf_adjust": True},
            {"type": "jaro_winkler", "threshold": 0.8},
        ],
    }


def date_of_birth(column: str, *, name: str | None = None, order: str = "auto") -> Spec:
    """A date of birth: exact, day and month swapped, one typing error, within a year."""
    return {
        "name": name or column,
        "column": column,
        "standardise": [{"parse_date": order}],
        "levels": [
            {"type": "exact"},
            {"type": "date_swap"},
            {"type": "damerau_levenshtein", "max": 1},
            {"type": "date_diff", "max": 1, "unit": "years"},
            {"type": "date_diff", "max": 10, "unit": "years"},
        ],
    }


def postal_code(column: str, *, name: str | None = None, tf_adjust: bool = True) -> Spec:
    """A postal code: exact, one edit, same first three characters."""
    return {
        "name": name or column,
        "column": column,
        "standardise": ["upper", "strip_punctuation", "remove_spaces"],
        "levels": [
            {"type": "exact", "tf_adjust": tf_adjust},
            {"type": "levenshtein", "max": 1},
            {"type": "prefix", "length": 3},
        ],
    }


def email(column: str, *, name: str | None = None) -> Spec:
    """An e-mail address: exact, same local part, one edit, close."""
    return {
        "name": name or column,
        "column": column,
        "standardise": ["lower", "trim"],
        "levels": [
            {"type": "exact"},
            {"type": "damerau_levenshtein", "max": 1},
            {"type": "jaro_winkler", "threshold": 0.88},
        ],
    }


def phone(column: str, *, name: str | None = None) -> Spec:
    """A phone number compared on its last ten digits: exact, one digit wrong or swapped."""
    return {
        "name": name or column,
        "column": column,
        "standardise": ["digits_only", {"last_n": 10}],
        "levels": [
            {"type": "exact"},
            {"type": "damerau_levenshtein", "max": 1},
        ],
    }


def street_address(column: str, *, name: str | None = None, tf_adjust: bool = True) -> Spec:
    """A street address: exact, close spelling, most words shared."""
    return {
        "name": name or column,
        "column": column,
        "standardise": ["fold_accents", "lower", "strip_punctuation", "trim"],
        "levels": [
            {"type": "exact", "tf_adjust": tf_adjust},
            {"type": "jaro_winkler", "threshold": 0.9},
            {"type": "jaccard", "threshold": 0.5},
        ],
    }


def exact_match(column: str, *, name: str | None = None, tf_adjust: bool = False) -> Spec:
    """Equal or not (e.g. sex, state, a category)."""
    return {
        "name": name or column,
        "column": column,
        "standardise": ["lower", "trim"],
        "levels": [{"type": "exact", "tf_adjust": tf_adjust}],
    }


def text(column: str, *, name: str | None = None) -> Spec:
    """Free text such as a title: exact, most words shared, some words shared."""
    return {
        "name": name or column,
        "column": column,
        "standardise": ["fold_accents", "lower", "strip_punctuation", "trim"],
        "levels": [
            {"type": "exact"},
            {"type": "jaccard", "threshold": 0.8},
            {"type": "jaccard", "threshold": 0.5},
            {"type": "jaccard", "threshold": 0.3},
        ],
    }


def numeric(column: str, *, name: str | None = None) -> Spec:
    """A number: exact, within 1 %, within 10 %."""
    return {
        "name": name or column,
        "column": column,
        "levels": [
            {"type": "exact"},
            {"type": "rel_diff", "max": 0.01},
            {"type": "rel_diff", "max": 0.1},
        ],
    }


TEMPLATES: dict[str, Callable[..., Spec]] = {
    "person_name": person_name,
    "full_name": full_name,
    "date_of_birth": date_of_birth,
    "postal_code": postal_code,
    "email": email,
    "phone": phone,
    "street_address": street_address,
    "exact_match": exact_match,
    "text": text,
    "numeric": numeric,
}


def expand_template(spec: Mapping[str, Any], where: str) -> Spec:
    """Turn ``{"template": "person_name", "column": "x", ...}`` into a full comparison spec."""
    name = spec["template"]
    if not isinstance(name, str) or name not in TEMPLATES:
        raise SettingsError(
            f"setting '{where}.template': unknown template '{name}'; allowed: "
            f"{', '.join(sorted(TEMPLATES))}.{did_you_mean(name, TEMPLATES)}"
        )
    args = {k: v for k, v in spec.items() if k != "template"}
    try:
        if name == "full_name":
            columns = args.pop("columns", None)
            if not isinstance(columns, list) or len(columns) != 2:
                raise SettingsError(f"setting '{where}': template 'full_name' needs 'columns': [first, last]")
            return full_name(*columns, **args)
        if "column" not in args:
            raise SettingsError(f"setting '{where}': template '{name}' needs a 'column'")
        column = args.pop("column")
        return TEMPLATES[name](column, **args)
    except TypeError as exc:
        raise SettingsError(f"setting '{where}': wrong option for template '{name}': {exc}") from None


def comparison(template: str, *columns: str, **options: Any):
    """Build a :class:`~linkwise.settings.Comparison` from a template in Python.

    >>> comparison("date_of_birth", "dob").name
    'dob'
    """
    from .settings import Comparison

    spec: dict[str, Any] = {"template": template, **options}
    if len(columns) == 1:
        spec["column"] = columns[0]
    else:
        spec["columns"] = list(columns)
    return Comparison.parse(spec, f"template {template}")
