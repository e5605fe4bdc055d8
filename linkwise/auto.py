"""Zero configuration: settings chosen from the data itself.

``linkwise dedupe data.csv -o out`` with no settings profiles the columns
(:mod:`linkwise.profile`), turns each column's role into a comparison built
from the templates of :mod:`linkwise.templates`, chooses blocking rules that
keep the estimated recall high within a budget of candidate pairs
(:mod:`linkwise.auto_blocking`), and writes all of it as an ordinary
``settings.json`` that a person can read, edit and run again with
``--settings``.

The principles, rather than constants tuned to one table:

* a column is evidence only if it describes the entity: record keys,
  grouping labels, source tags, constant and (almost) empty columns are left
  out, each with a note saying why;
* each role gets the comparison an expert would write for it; exact agreement
  is adjusted for how common the value is where values are skewed
  (a shared surname Smith says less than a shared surname Zelinski);
* columns that say the same thing are compared once: a city or state that
  follows from the postal code becomes a weaker level of one location
  comparison, and a house number is compared together with its street;
* blocking rules are chosen by what they find, measured on the likely matches
  of a first, cautious pass, and what they cost, counted exactly from block
  sizes.

>>> from linkwise import datasets
>>> chosen = choose_settings(datasets.people(2000, seed=3))
>>> [c.name for c in chosen.settings.comparisons][:3]
['first_name', 'middle_name', 'last_name']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .errors import InputError, SettingsError, did_you_mean
from .auto_blocking import CleanColumns
from .profile import ColumnProfile, TableProfile, name_words, profile_table, read_sources
from .settings import Settings
from . import templates

# Roles that are never evidence of identity.
LEFT_OUT_ROLES = ("id_like", "source", "empty", "constant")
# Exact agreement is term-frequency adjusted when agreeing by chance is this
# many times likelier than with evenly spread values.
TF_SKEW = 1.5
# ... or when the commonest value is this many times commoner than an average one.
COMMON_VALUE = 10
# A column that another determines for this share of records adds little of its own.
DEPENDENT = 0.8
# Values that are one letter: when this share of a name column's values are
# initials (middle names), "same initial" becomes a level and "one edit" goes.
INITIALS = 0.1
_NAME_ROLES = ("given_name", "surname", "string")
_LOCATION_ORDER = ("postal_code", "city", "state")


@dataclass(frozen=True)
class Note:
    """Why a column was left out, combined, or compared as it is."""

    column: str
    text: str

    def __str__(self) -> str:
        return f"{self.column}: {self.text}"


@dataclass
class ComparisonPlan:
    """The comparisons and column cleaning chosen for a table."""

    comparisons: list[dict[str, Any]]
    standardise: dict[str, list[Any]]
    unique_id_column: str | None
    used: dict[str, str]  # column -> role, for the columns compared
    notes: list[Note] = field(default_factory=list)
    columns: Any = None  # auto_blocking.CleanColumns: the compared columns, cleaned once


def parse_column_map(pairs: Iterable[str]) -> dict[str, str]:
    """``["a_col=b_col", ...]`` -> ``{"b_col": "a_col"}``: rename the other sources' columns."""
    out: dict[str, str] = {}
    for item in pairs:
        if "=" not in item:
            raise SettingsError(f"--map '{item}': write it as first_source_column=other_source_column")
        first, other = (part.strip() for part in item.split("=", 1))
        if not first or not other:
            raise SettingsError(f"--map '{item}': both column names are needed")
        out[other] = first
    return out


# -- comparisons ---------------------------------------------------------------------
def _skewed(p: ColumnProfile) -> bool:
    """Whether agreeing on a common value should count for less than on a rare one.

    Either values are unevenly spread overall (names), or a few values are far
    commoner than the rest (placeholder dates, "Editorial" among titles).
    """
    return p.skew >= TF_SKEW or p.top_share * p.distinct >= COMMON_VALUE


def _initial_share(p: ColumnProfile) -> float:
    return p.shares.get("initial", 0.0)


def _name_levels(p: ColumnProfile) -> list[dict[str, Any]]:
    """Levels for a name (or any short string compared by spelling)."""
    levels: list[dict[str, Any]] = [{"type": "exact", "tf_adjust": _skewed(p)}]
    initials = _initial_share(p)
    if initials < INITIALS:
        # One edit apart; meaningless when many values are single letters (J and K are one edit apart).
        levels.append({"type": "damerau_levenshtein", "max": 1})
    levels += [{"type": "jaro_winkler", "threshold": 0.9}, {"type": "jaro_winkler", "threshold": 0.8}]
    if initials >= INITIALS:
        levels.append({"type": "prefix", "length": 1, "label": "same initial"})
    return levels


def _digits_of(p: ColumnProfile) -> list[str]:
    return ["".join(ch for ch in v if ch.isdigit()) for v in p.sample[:5000]]


def _usual_digit_count(p: ColumnProfile) -> int:
    counts = [len(d) for d in _digits_of(p) if d]
    return int(np.bincount(counts).argmax()) if counts else 10


def _cleaning(p: ColumnProfile) -> list[Any]:
    """The column-level standardisers for a role."""
    role = p.role
    if role in ("given_name", "surname", "string", "city", "street_address", "text", "full_name"):
        steps: list[Any] = ["fold_accents", "lower", "strip_punctuation", "trim"]
        if role == "full_name":
            steps.append("sort_tokens")
        return steps
    if role in ("date_of_birth", "date"):
        return [{"parse_date": p.date_order}]
    if role == "postal_code":
        if p.shares.get("zip", 0) + p.shares.get("digits", 0) > 0.5 and p.digit_length:
            # Digit codes with extensions (ZIP+4): keep the usual length.
            return ["digits_only"] + ([{"first_n": p.digit_length}] if p.max_length > p.digit_length + 1 else [])
        return ["upper", "strip_punctuation", "remove_spaces"]
    if role == "phone":
        return ["digits_only", {"last_n": min(_usual_digit_count(p), 10)}]
    if role == "email":
        return ["lower", "trim"]
    if role in ("house_number", "identifier"):
        if p.shares.get("digits", 0) > 0.9:
            return ["digits_only"]
        return ["upper", "strip_punctuation", "remove_spaces"]
    if role in ("sex", "state", "categorical"):
        return ["lower", "strip_punctuation", "trim"]
    if role in ("numeric", "year"):
        return ["trim"]
    return ["trim"]


def _role_levels(p: ColumnProfile) -> list[dict[str, Any]]:
    """The levels of a one-column comparison for a role, from the templates where one fits."""
    role, col = p.role, p.name
    if role in _NAME_ROLES:
        return _name_levels(p)
    if role == "full_name":
        return [
            {"type": "exact", "tf_adjust": _skewed(p)},
            {"type": "damerau_levenshtein", "max": 1},
            {"type": "jaro_winkler", "threshold": 0.9},
            {"type": "jaccard", "threshold": 0.5, "label": "shares a name"},
            {"type": "jaro_winkler", "threshold": 0.8},
        ]
    if role in ("date_of_birth", "date"):
        return templates.date_of_birth(col)["levels"]
    if role == "postal_code":
        return templates.postal_code(col, tf_adjust=_skewed(p))["levels"]
    if role == "email":
        return templates.email(col)["levels"]
    if role == "phone":
        return templates.phone(col)["levels"]
    if role == "street_address":
        return templates.street_address(col, tf_adjust=_skewed(p))["levels"]
    if role == "city":
        return [{"type": "exact", "tf_adjust": _skewed(p)}, {"type": "jaro_winkler", "threshold": 0.9}]
    if role in ("house_number",):
        return [{"type": "exact"}, {"type": "damerau_levenshtein", "max": 1}]
    if role == "identifier":
        return [{"type": "exact"}, {"type": "damerau_levenshtein", "max": 1}, {"type": "levenshtein", "max": 2}]
    if role == "text":
        levels = templates.text(col)["levels"]
        return levels
    if role == "year":
        return [{"type": "exact"}, {"type": "abs_diff", "max": 1}]
    if role == "numeric":
        return templates.numeric(col)["levels"]
    # sex, state, categorical
    return templates.exact_match(col, tf_adjust=_skewed(p))["levels"]


def _single(p: ColumnProfile) -> dict[str, Any]:
    return {"name": p.name, "column": p.name, "levels": _levels(p)}


def _levels(p: ColumnProfile) -> list[dict[str, Any]]:
    """The levels for a role; exact agreement adjusted for common values where values are skewed."""
    levels = [dict(lv) for lv in _role_levels(p)]
    if levels[0]["type"] == "exact":
        levels[0]["tf_adjust"] = _skewed(p)
        if not levels[0]["tf_adjust"]:
            del levels[0]["tf_adjust"]
    return levels


def _dependence(columns: CleanColumns, head: str, other: str) -> float:
    """Share of records (with both values) whose ``other`` is the most common one for their ``head``.

    1.0 when ``head`` determines ``other`` (city from postal code); near the
    share of the commonest value when the two are unrelated.
    """
    a, b = columns.column_codes(head), columns.column_codes(other)
    both = (a >= 0) & (b >= 0)
    if both.sum() < 20:
        return 0.0
    a, b = a[both].astype(np.int64), b[both].astype(np.int64)
    width = int(b.max()) + 1
    joint, counts = np.unique(a * width + b, return_counts=True)
    head_of = joint // width
    # For each head value, the count of its commonest other value.
    order = np.lexsort((-counts, head_of))
    first = np.r_[True, head_of[order][1:] != head_of[order][:-1]]
    return float(counts[order][first].sum() / both.sum())


def _location(profiles: list[ColumnProfile], columns: CleanColumns, notes: list[Note]) -> list[ColumnProfile]:
    """Postal code, city and state: a coarser column that the finer one determines is left out.

    Where the postal code says which city and state a record is in, agreeing
    on all three is one piece of evidence, not three; comparing the city as
    well counts households and neighbours as more alike than they are.
    Returns the columns kept.
    """
    by_role: dict[str, ColumnProfile] = {}
    for p in profiles:
        if p.role in _LOCATION_ORDER and p.role not in by_role:
            by_role[p.role] = p
    present = [by_role[r] for r in _LOCATION_ORDER if r in by_role]
    present += [p for p in profiles if p not in present]
    kept: list[ColumnProfile] = []
    while present:
        head, rest = present[0], present[1:]
        following = {p.name: _dependence(columns, head.name, p.name) for p in rest}
        dependent = [p for p in rest if following[p.name] >= DEPENDENT]
        kept.append(head)
        for p in dependent:
            notes.append(Note(p.name, f"left out: '{head.name}' says it for {following[p.name]:.0%} of the records, "
                                      "so it is not independent evidence"))
        present = [p for p in rest if p not in dependent]
    return kept


def _contained(columns: CleanColumns, part: str, text: str, *, sample: int = 5000, seed: int = 42) -> float:
    """Share of records (with both values) whose ``part`` appears, word for word, in their ``text``."""
    part_codes, part_values = columns.cleaned(part)
    text_codes, text_values = columns.cleaned(text)
    both = np.flatnonzero((part_codes >= 0) & (text_codes >= 0))
    if len(both) < 20:
        return 0.0
    if len(both) > sample:
        both = np.random.default_rng(seed).choice(both, sample, replace=False)
    parts = part_values.take(pa.array(part_codes[both])).to_pylist()
    texts = text_values.take(pa.array(text_codes[both])).to_pylist()
    inside = sum(set(p.split()) <= set(t.split()) for p, t in zip(parts, texts))
    return inside / len(both)


def _address(profiles: list[ColumnProfile]) -> tuple[list[dict[str, Any]], list[Note]]:
    """A house number is evidence only together with its street: one comparison of both."""
    numbers = [p for p in profiles if p.role == "house_number"]
    streets = [p for p in profiles if p.role == "street_address"]
    comparisons, notes = [], []
    if numbers and streets:
        number, street = numbers[0], streets[0]
        cols = [number.name, street.name]
        tf = _skewed(street)
        comparisons.append({
            "name": f"{number.name}_{street.name}",
            "columns": cols,
            "levels": [
                {"type": "exact", "tf_adjust": tf, "label": "same number and street"},
                {"type": "jaro_winkler", "threshold": 0.9, "label": "same number, street spelt alike"},
                {"type": "exact", "columns": [street.name], "tf_adjust": tf},
                {"type": "jaro_winkler", "threshold": 0.9, "columns": [street.name]},
                {"type": "jaccard", "threshold": 0.5, "columns": [street.name]},
                {"type": "exact", "columns": [number.name]},
            ],
        })
        notes.append(Note(number.name, f"compared together with '{street.name}': a house number alone says little"))
        numbers, streets = numbers[1:], streets[1:]
    comparisons += [_single(p) for p in numbers + streets]
    return comparisons, notes


def _drop_contained(usable: list[ColumnProfile], columns: CleanColumns, notes: list[Note]) -> list[ColumnProfile]:
    """Leave out a short column whose value is part of a free-text column (a brand inside a product title)."""
    texts = [p for p in usable if p.role == "text"]
    kept = []
    for p in usable:
        if p.role in ("categorical", "string", "city", "state", "text"):
            inside = [(t, _contained(columns, p.name, t.name)) for t in texts if t is not p and t.mean_words > p.mean_words]
            holder = max(inside, key=lambda item: item[1], default=None)
            if holder is not None and holder[1] >= DEPENDENT:
                notes.append(Note(p.name, f"left out: it is part of '{holder[0].name}' for {holder[1]:.0%} of the records, "
                                          "so it is not independent evidence"))
                continue
        kept.append(p)
    return kept


def plan_comparisons(profile: TableProfile, table: pa.Table, *, exclude: Sequence[str] = ()) -> ComparisonPlan:
    """Comparisons and cleaning for every column that is evidence; notes for the others."""
    names = [c.name for c in profile.columns]
    for col in exclude:
        if col not in names:
            raise SettingsError(f"--exclude '{col}': no such column.{did_you_mean(col, names)} Columns: {', '.join(names)}")
    notes: list[Note] = []
    unique_id = next(
        (c.name for c in profile.columns if c.role == "id_like" and c.unique_within_sources and c.nulls == 0), None
    )
    usable: list[ColumnProfile] = []
    for p in profile.columns:
        if p.name in exclude:
            notes.append(Note(p.name, "left out, as asked (--exclude)"))
        elif p.name == unique_id:
            notes.append(Note(p.name, "every record has its own value: used as the record id, not compared"))
        elif p.role in LEFT_OUT_ROLES:
            notes.append(Note(p.name, f"left out: {p.reason}"))
        elif p.top_share >= 0.95 and p.role not in ("sex",):
            notes.append(Note(p.name, f"left out: one value holds {p.top_share:.0%} of the records"))
        else:
            usable.append(p)
    if not usable:
        raise InputError(
            "zero configuration found no column to compare: every column is an id, a label, constant or empty"
            + (f" ({'; '.join(map(str, notes))})" if notes else "")
        )
    standardise = {p.name: _cleaning(p) for p in usable}
    columns = CleanColumns(table, standardise)
    usable = _drop_contained(usable, columns, notes)
    standardise = {p.name: standardise[p.name] for p in usable}
    location = [p for p in usable if p.role in _LOCATION_ORDER]
    kept_location = _location(location, columns, notes)
    usable = [p for p in usable if p not in location or p in kept_location]
    standardise = {p.name: standardise[p.name] for p in usable}
    comparisons: list[dict[str, Any]] = []
    address_parts = [p for p in usable if p.role in ("house_number", "street_address")]
    for p in usable:
        if p not in address_parts:
            comparisons.append(_single(p))
    address, address_notes = _address(address_parts)
    comparisons += address
    notes += address_notes
    # Keep the table's column order, so the settings read like the data.
    position = {name: i for i, name in enumerate(names)}
    comparisons.sort(key=lambda c: position[c.get("column") or c["columns"][0]])
    used = {p.name: p.role for p in usable}
    return ComparisonPlan(comparisons, standardise, unique_id, used, notes, columns)


def describe_comparison(spec: Mapping[str, Any]) -> str:
    """One line for people: the levels of a comparison, strongest first."""
    from .settings import Comparison

    comparison = Comparison.parse(dict(spec), spec["name"])
    labels = []
    for level in comparison.levels:
        label = level.label
        if level.tf_adjust:
            label += " (adjusted for common values)"
        labels.append(label)
    return ", ".join(labels)


# -- the whole choice ------------------------------------------------------------------
@dataclass
class ChosenSettings:
    """What zero configuration chose, and why: settings, profile, notes, blocking report."""

    settings: Settings
    profile: TableProfile
    notes: list[Note]
    roles: dict[str, str]
    blocking: Any  # auto_blocking.BlockingChoice

    def summary(self) -> str:
        """The chosen settings, for people."""
        lines = ["Comparisons (chosen from the columns' names and values):"]
        for comp in self.settings.comparisons:
            cols = ", ".join(comp.columns)
            role = "/".join(dict.fromkeys(self.roles.get(c, "?") for c in comp.columns))
            lines.append(f"  {comp.name:<22} {role:<16} {describe_comparison(comp.to_json())}" if len(comp.columns) == 1
                         else f"  {comp.name:<22} {role:<16} [{cols}] {describe_comparison(comp.to_json())}")
        if self.notes:
            lines.append("Notes:")
            lines += [f"  {note}" for note in self.notes]
        lines.append(self.blocking.summary())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings.to_dict(),
            "roles": self.roles,
            "notes": [{"column": n.column, "note": n.text} for n in self.notes],
            "blocking": self.blocking.to_dict(),
            "profile": self.profile.to_dict(),
        }


def default_budget(n_records: int) -> int:
    """Candidate pairs allowed by default: grows with the data (20 a record), at least two million."""
    return max(2_000_000, 20 * int(n_records))


def choose_settings(
    inputs: Any,
    *,
    link_type: str = "dedupe",
    exclude: Sequence[str] = (),
    rename: Mapping[str, str] | None = None,
    max_pairs: int | None = None,
    encoding: str | None = None,
    engine: Any = None,
    seed: int = 42,
) -> ChosenSettings:
    """Profile the inputs and choose comparisons and blocking rules for them.

    Parameters
    ----------
    inputs:
        What :func:`linkwise.dedupe` or :func:`linkwise.link` would take: a
        path, a data frame, an Arrow table, or a list of them.
    link_type:
        ``"dedupe"``, ``"link"`` or ``"link_and_dedupe"``.
    exclude:
        Columns never to compare (for example a truth column kept for evaluation).
    rename:
        ``{other_source_column: first_source_column}`` for sources that name a
        column differently (``--map a_col=b_col``).
    max_pairs:
        Budget of candidate pairs (default :func:`default_budget`).
    """
    from .auto_blocking import choose_blocking

    rename = dict(rename or {})
    table, sources, names = read_sources(inputs, encoding=encoding, engine=engine, rename=rename)
    if link_type != "dedupe" and len(names) < 2:
        raise InputError("link needs two or more inputs")
    multi = len(names) > 1
    profile = profile_table(table, sources=sources if multi else None, source_names=names, seed=seed)
    plan = plan_comparisons(profile, table, exclude=exclude)
    budget = int(max_pairs) if max_pairs else default_budget(table.num_rows)
    base: dict[str, Any] = {
        "link_type": link_type,
        "unique_id_column": plan.unique_id_column,
        "standardise": plan.standardise,
        "comparisons": plan.comparisons,
        "max_candidate_pairs": budget,
        "seed": seed,
    }
    if rename:
        base["rename"] = rename
    notes = list(plan.notes)
    if link_type == "link":
        # Linking (not deduplicating) sources: each holds an entity at most once.
        base["one_to_one"] = True
        # One partner per record: clusters cannot chain, so a pair that is a match links its records.
        base["cluster_threshold"] = 0.5
        notes.append(Note("(link)", "each source is taken to hold an entity at most once, so a record's candidate "
                                    "partners compete ('one_to_one'; use --dedupe-sources if a source has duplicates)"))
    blocking = choose_blocking(
        table, sources, base, roles=plan.used, budget=budget, engine=engine, multi_source=multi, columns=plan.columns
    )
    settings = Settings.from_dict({**base, "blocking_rules": [r.to_json() for r in blocking.rules]})
    roles = {p.name: p.role for p in profile.columns}
    return ChosenSettings(settings, profile, notes, roles, blocking)


def is_name_like(column: str) -> bool:
    """Whether a column's name is about a person's name (used by the blocking keys)."""
    return "name" in name_words(column)
