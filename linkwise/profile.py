"""Profile: what each column holds, and what it is for linkage.

For every column: the null rate, the number of distinct values, the most
common values and their share, lengths and words, the share of values that
look like dates, e-mails, phone numbers or numbers, and a *role* detected from
the column's name and its values (given name, surname, date of birth, postal
code, free text, id-like...). :mod:`linkwise.auto` turns roles into
comparisons and blocking rules.

Statistics over all rows use Arrow compute; the tests of value patterns run on
a seeded sample of values, so profiling a large table takes seconds.

>>> import pyarrow as pa
>>> table = pa.table({"surname": ["Smith", "Jones", "Smith", None],
...                   "dob": ["1980-01-02", "1975-12-31", "1980-01-02", "1990-06-01"]})
>>> [(c.name, c.role) for c in profile_table(table).columns]
[('surname', 'surname'), ('dob', 'date_of_birth')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .standardise import parse_date_value

ROLES = {
    "given_name": "a first or middle name",
    "surname": "a last or family name",
    "full_name": "a whole name in one column",
    "date_of_birth": "a date of birth",
    "date": "a date",
    "postal_code": "a postal or ZIP code",
    "email": "an e-mail address",
    "phone": "a phone number",
    "street_address": "a street address, or a part of one",
    "house_number": "a house or street number",
    "city": "a city, town or suburb",
    "state": "a state, region or county",
    "sex": "sex or gender",
    "text": "free text: titles, descriptions, lists of names",
    "string": "a short string, compared by spelling",
    "categorical": "one of a few categories",
    "numeric": "a number",
    "year": "a year",
    "identifier": "a code that duplicates share (a national id, a product code)",
    "id_like": "a record key or a grouping label: not evidence",
    "source": "which source or system the record came from: not evidence",
    "empty": "(almost) always missing",
    "constant": "one value only",
}

SAMPLE = 10_000  # values tested against patterns, per column
TOP = 5

# -- column names --------------------------------------------------------------
# Words of a column name that suggest a role. Values must agree (see _ROLE_CHECKS).
_NAME_HINTS: list[tuple[str, set[str]]] = [
    ("id_like", {"cluster", "entity", "truth", "gold", "label", "uuid", "guid"}),
    ("source", {"source", "system", "dataset", "origin", "batch", "provenance"}),
    ("email", {"email", "mail", "emailaddress"}),
    ("phone", {"phone", "tel", "telephone", "mobile", "cell", "fax", "phonenumber", "telefon"}),
    ("date_of_birth", {"dob", "birth", "birthdate", "born", "dateofbirth", "bday", "birthday"}),
    ("postal_code", {"zip", "zipcode", "postcode", "postal", "postalcode", "plz", "pincode"}),
    ("house_number", {"housenumber", "streetnumber", "streetno", "houseno", "housenr"}),
    ("given_name", {"first", "given", "forename", "fname", "firstname", "givenname", "middle", "middlename", "christian"}),
    ("surname", {"last", "surname", "family", "lname", "lastname", "familyname", "maiden", "maidenname"}),
    ("street_address", {"address", "addr", "street", "road", "addressline", "line"}),
    ("city", {"city", "town", "suburb", "locality", "municipality", "village"}),
    ("state", {"state", "region", "province", "county", "territory", "prefecture"}),
    ("sex", {"sex", "gender"}),
    ("year", {"year", "yr"}),
    ("date", {"date", "dt", "day", "created", "updated", "timestamp"}),
    ("full_name", {"name", "fullname", "person", "customer", "patient", "contact"}),
    ("text", {"title", "description", "desc", "abstract", "comment", "comments", "notes", "note",
              "text", "summary", "author", "authors", "venue", "journal", "manufacturer", "brand", "product"}),
    ("identifier", {"id", "key", "identifier", "ref", "reference", "code", "no", "nr", "num", "number", "ssn", "sku", "isbn"}),
]
_SEX_VALUES = {"m", "f", "male", "female", "man", "woman", "u", "unknown", "x", "o", "other", "1", "2", "0", "w"}
_STREET_WORDS = {
    "street", "st", "road", "rd", "avenue", "ave", "av", "lane", "ln", "drive", "dr", "court", "ct", "place", "pl",
    "boulevard", "blvd", "way", "crescent", "cres", "circuit", "close", "terrace", "tce", "highway", "hwy",
    "parade", "square", "sq", "grove", "gr", "loop", "trail", "circle", "cir", "unit", "apt", "flat", "suite",
}

# Value patterns, as RE2 expressions for Arrow (tested on a sample of values at once).
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_PHONE = r"(?i)^\+?[\d\s().\-/]+(?:\s*(?:x|ext\.?)\s*\d+)?$"
_NUMBER = r"^[+-]?(?:\d+(?:\.\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\.\d+)$"
_INTEGER = r"^[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)$"
_ADDRESS = r"(?i)^\d+[a-z]?[\s,]+\pL"
_UK_POSTCODE = r"(?i)^[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}$"
_ZIP = r"^\d{4,6}(?:-\d{3,4})?$"
_DATE_SHAPE = r"(?i)^(?:\d{1,4}[-/. ]+\d{1,2}[-/., ]+\d{1,4}|\d{8}|\d{1,2}[-/. ]*[a-z]{3,9}[-/., ]*\d{4}|[a-z]{3,9}[-/. ]*\d{1,2}\w*[,. ]*\d{4})(?:[ t].*)?$"
_SLASHED = re.compile(r"^(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{2}|\d{4})$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_words(column: str) -> list[str]:
    """The words of a column name: ``"dateOfBirth"`` -> ``["date", "of", "birth"]``."""
    spaced = _CAMEL.sub(" ", column.strip())
    return [w for w in re.split(r"[^a-z0-9]+|(?<=[a-z])(?=\d)", spaced.lower()) if w]


def name_hints(column: str) -> list[str]:
    """Roles a column's name suggests, most specific first."""
    words = name_words(column)
    joined = "".join(words)
    # "e_mail", "zip_code", "first_name": the joined form counts too
    candidates = set(words) | {joined, joined.rstrip("s")} | {a + b for a, b in zip(words, words[1:])}
    return [role for role, hint_words in _NAME_HINTS if candidates & hint_words]


# -- values ----------------------------------------------------------------------
def _regex_share(values: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)


def _shares(values: list[str]) -> dict[str, float]:
    """Share of the sampled values that fit each pattern."""
    if not values:
        return dict.fromkeys(_SHARE_NAMES, 0.0)
    text = pc.utf8_trim_whitespace(pa.array(values, type=pa.string()))
    low = pc.utf8_lower(text)
    digits = pc.utf8_length(pc.replace_substring_regex(text, r"\D", "")).to_numpy(zero_copy_only=False)
    letters = pc.utf8_length(pc.replace_substring_regex(text, r"[^\pL]", "")).to_numpy(zero_copy_only=False)
    has_space = _regex_share(text, r"\s")
    phone = (digits >= 7) & (digits <= 15) & _regex_share(text, _PHONE)
    date_shaped = np.flatnonzero(_regex_share(text, _DATE_SHAPE) & (digits >= 4))
    dates = sum(parse_date_value(values[i]) is not None for i in date_shaped)
    street = "|".join(sorted(_STREET_WORDS))
    flags = {
        "email": _regex_share(text, _EMAIL),
        "phone": phone,
        "phone_formatted": phone & _regex_share(text, r"[ ()+./-]"),
        "number": _regex_share(text, _NUMBER),
        "integer": _regex_share(text, _INTEGER),
        "digits": _regex_share(text, r"^\d+$"),
        "alpha": (letters > 0) & (digits == 0),
        "initial": (letters == 1) & (digits == 0),
        "address": _regex_share(text, _ADDRESS),
        "street_word": _regex_share(low, rf"^\S+[\s.,]+(?:\S+[\s.,]+)*(?:{street})(?:[\s.,]|$)"),
        "uk_postcode": _regex_share(text, _UK_POSTCODE),
        "zip": _regex_share(text, _ZIP),
        "code": (digits > 0) & ~has_space & (pc.utf8_length(text).to_numpy(zero_copy_only=False) >= 2),
        "sex": pc.fill_null(pc.is_in(pc.utf8_rtrim(low, characters="."), value_set=pa.array(sorted(_SEX_VALUES))), False).to_numpy(zero_copy_only=False),
    }
    n = len(values)
    out = {name: float(np.count_nonzero(flag)) / n for name, flag in flags.items()}
    out["date"] = dates / n
    return out


_SHARE_NAMES = ("email", "phone", "phone_formatted", "number", "integer", "date", "digits", "alpha", "initial",
                "address", "street_word", "uk_postcode", "zip", "code", "sex")


def date_order(values: Sequence[str]) -> str:
    """``"dmy"`` or ``"mdy"`` when numeric dates such as 23/04/1980 show which comes first, else ``"auto"``."""
    first_big = second_big = False
    for v in values:
        m = _SLASHED.match(v.strip())
        if m:
            first_big |= int(m[1]) > 12
            second_big |= int(m[2]) > 12
    if first_big and not second_big:
        return "dmy"
    if second_big and not first_big:
        return "mdy"
    return "auto"


@dataclass(frozen=True)
class ColumnProfile:
    """What one column holds. ``role`` is what :mod:`linkwise.auto` makes of it."""

    name: str
    rows: int
    nulls: int
    distinct: int
    top_values: tuple[tuple[str, int], ...]
    min_length: int
    mean_length: float
    max_length: int
    mean_words: float
    shares: dict[str, float]
    role: str
    reason: str
    skew: float  # P(two records agree) x distinct values: 1 for evenly spread values
    unique_within_sources: bool
    shared_across_sources: float  # share of values held by more than one source (0 for one source)
    date_order: str = "auto"
    digit_length: int | None = None  # the usual number of digits, for digit codes
    sample: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 1.0

    @property
    def present(self) -> int:
        return self.rows - self.nulls

    @property
    def distinct_ratio(self) -> float:
        """Distinct values per present value: 1 when every value is different."""
        return self.distinct / self.present if self.present else 0.0

    @property
    def top_share(self) -> float:
        return self.top_values[0][1] / self.present if self.top_values and self.present else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("sample")
        out["null_rate"] = round(self.null_rate, 4)
        out["top_values"] = [
            {"value": v, "count": n, "share": round(n / max(self.present, 1), 4)} for v, n in self.top_values
        ]
        out["shares"] = {k: round(v, 4) for k, v in self.shares.items() if v}
        out["mean_length"] = round(self.mean_length, 2)
        out["mean_words"] = round(self.mean_words, 2)
        out["skew"] = round(self.skew, 2)
        return out


@dataclass(frozen=True)
class TableProfile:
    """The profile of every column of a table (or of several sources, pooled)."""

    rows: int
    columns: tuple[ColumnProfile, ...]
    sources: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sources": list(self.sources), "columns": [c.to_dict() for c in self.columns]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_text(self, *, width: int = 28) -> str:
        """A table for people: one line per column."""
        head = f"{'column':<18} {'role':<15} {'nulls':>6} {'distinct':>9} {'len':>5} {'words':>5}  most common (share)"
        lines = [f"{self.rows:,} records" + (f" from {len(self.sources)} sources" if len(self.sources) > 1 else ""), head]
        for c in self.columns:
            top = ", ".join(f"{_short(v, 14)} ({n / max(c.present, 1):.0%})" for v, n in c.top_values[:3])
            lines.append(
                f"{_short(c.name, 18):<18} {c.role:<15} {c.null_rate:>6.0%} {c.distinct:>9,} "
                f"{c.mean_length:>5.1f} {c.mean_words:>5.1f}  {_short(top, width * 2)}"
            )
        return "\n".join(lines)


def _short(text: str, n: int) -> str:
    text = str(text).replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


# -- role detection ----------------------------------------------------------------
def _looks_like(role: str, p: dict[str, Any]) -> bool:
    """Whether the values fit a role that the column's name suggests."""
    s = p["shares"]
    text_like = s["alpha"] + s["address"] > 0.5 or p["mean_words"] >= 1.0 and s["digits"] < 0.5
    checks = {
        "email": s["email"] > 0.5,
        "phone": s["phone"] > 0.6,
        "date_of_birth": s["date"] > 0.6,
        "date": s["date"] > 0.6,
        "postal_code": s["zip"] + s["uk_postcode"] > 0.5 or (s["code"] > 0.5 and p["mean_length"] <= 10),
        "house_number": s["digits"] + s["code"] > 0.5 and p["mean_length"] <= 8,
        "given_name": s["alpha"] > 0.6,
        "surname": s["alpha"] > 0.6,
        "full_name": s["alpha"] > 0.6 and 1.3 <= p["mean_words"] <= 5 and p["mean_length"] <= 40,
        "street_address": text_like or s["address"] > 0.3,
        "city": s["alpha"] > 0.6,
        "state": s["alpha"] + s["digits"] > 0.6 and p["mean_length"] <= 30,
        "sex": s["sex"] > 0.9 and p["distinct"] <= 6,
        "year": s["integer"] > 0.9 and p["mean_length"] <= 4.5,
        "text": text_like or p["mean_words"] >= 2,
        "identifier": s["code"] + s["digits"] > 0.7 and p["mean_words"] <= 1.2,
        "id_like": True,
        "source": p["distinct"] <= max(20, 0.001 * p["present"]),
    }
    return checks[role]


def detect_role(p: dict[str, Any]) -> tuple[str, str]:
    """(role, reason) from a column's name and value statistics (see :func:`profile_table`)."""
    s = p["shares"]
    present, distinct = p["present"], p["distinct"]
    if present == 0 or p["null_rate"] >= 0.95:
        return "empty", f"{p['null_rate']:.0%} of the values are missing"
    if distinct <= 1:
        return "constant", "every present value is the same"
    hints = name_hints(p["name"])
    # A record key: every value different, a code rather than words.
    # A record key: every record its own value, never shared between sources, a
    # code rather than words (e-mails and phone numbers only when named as ids).
    named_id = "identifier" in hints or "id_like" in hints
    if p["unique_within_sources"] and p["null_rate"] == 0 and p["shared_across_sources"] < 0.01:
        looks_like_code = p["mean_words"] <= 1.2 and (s["code"] + s["digits"] > 0.5 or named_id)
        if looks_like_code and (named_id or max(s["email"], s["phone"]) < 0.5):
            return "id_like", "every record has its own value: a record key"
    for role in hints:
        if role == "identifier" and ("name" in name_words(p["name"])):
            continue
        if _looks_like(role, p):
            if role == "id_like":
                return role, f"the name '{p['name']}' says it is a grouping label (cluster, entity...), not an attribute"
            if role == "source":
                return role, f"the name '{p['name']}' says it tells sources apart; not evidence of identity"
            if role == "full_name" and p["mean_words"] < 1.3 and distinct > 50:
                return "string", "named like a name, one word: compared by spelling"
            if role == "text" and p["mean_words"] < 1.5 and distinct <= max(50, 0.01 * present):
                return "categorical", f"named like text ('{p['name']}'), but few short values"
            return role, f"the name '{p['name']}' and the values agree"
    return _role_from_values(p)


def _role_from_values(p: dict[str, Any]) -> tuple[str, str]:
    s = p["shares"]
    present, distinct = p["present"], p["distinct"]
    few = distinct <= max(30, 0.001 * present)
    if s["email"] > 0.8:
        return "email", "values look like e-mail addresses"
    if s["date"] > 0.8:
        return "date", "values look like dates"
    if s["phone_formatted"] > 0.6 and s["phone"] > 0.8:
        return "phone", "values look like phone numbers"
    if s["uk_postcode"] > 0.8:
        return "postal_code", "values look like postcodes"
    if s["sex"] > 0.95 and distinct <= 4:
        return "sex", "values look like sex or gender codes"
    if s["address"] > 0.5 or s["street_word"] > 0.4:
        return "street_address", "values look like street addresses"
    if s["number"] > 0.95:
        if few:
            return "categorical", "a few distinct numbers"
        if s["integer"] > 0.95 and p["min_length"] == p["max_length"] or p["digit_length"] and s["digits"] > 0.9 and p["top_share"] < 0.5 and _has_leading_zeros(p):
            return "identifier", "digit codes of one length"
        return "numeric", "values are numbers"
    if s["code"] > 0.8 and p["mean_words"] <= 1.1 and not few:
        return "identifier", "codes of letters and digits"
    if few and p["mean_length"] <= 40:
        return "categorical", f"{distinct} distinct values"
    if p["mean_words"] >= 2.5 or p["mean_length"] >= 30:
        return "text", "several words per value"
    return "string", "short strings"


def _has_leading_zeros(p: dict[str, Any]) -> bool:
    return any(v.startswith("0") for v in p["sample"][:2000])


# -- the profile ---------------------------------------------------------------------
def _column_stats(name: str, column: pa.ChunkedArray, sources: np.ndarray | None, rng: np.random.Generator) -> dict[str, Any]:
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
    trimmed = pc.utf8_trim_whitespace(column)
    column = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), column)
    rows = len(column)
    nulls = column.null_count
    counts = pc.value_counts(column.drop_null())
    values, freq = counts.field("values"), counts.field("counts").to_numpy()
    distinct = len(values)
    order = np.argsort(-freq, kind="stable")[:TOP]
    top = tuple((str(values[int(i)].as_py()), int(freq[i])) for i in order)
    present = rows - nulls
    skew = float((freq.astype(float) ** 2).sum() / max(present, 1) ** 2 * distinct) if present else 0.0
    lengths = pc.utf8_length(column.drop_null()).to_numpy() if present else np.zeros(1, int)
    valid = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
    pick = valid if len(valid) <= SAMPLE else np.sort(rng.choice(valid, SAMPLE, replace=False))
    sample = [str(v) for v in column.take(pa.array(pick)).to_pylist()]
    unique = distinct == present
    shared = 0.0
    if sources is not None and present:
        # Unique within each source (as the ids of two files to link, or each file's e-mails),
        # and the share of values that more than one source holds (ids: none; e-mails: many).
        keyed = pc.binary_join_element_wise(pa.array(sources.astype(str)), column, "\x1f")
        per_source = len(pc.unique(keyed.drop_null()))
        unique = unique or per_source == present
        shared = (per_source - distinct) / max(distinct, 1)
    digit_lengths = [len(v) for v in sample if v.isdigit()]
    digit_length = int(np.bincount(digit_lengths).argmax()) if digit_lengths else None
    stats = {
        "name": name,
        "rows": rows,
        "nulls": nulls,
        "present": present,
        "null_rate": nulls / rows if rows else 1.0,
        "distinct": distinct,
        "top_values": top,
        "top_share": top[0][1] / present if top and present else 0.0,
        "min_length": int(lengths.min()) if present else 0,
        "mean_length": float(lengths.mean()) if present else 0.0,
        "max_length": int(lengths.max()) if present else 0,
        "mean_words": float(np.mean([len(v.split()) for v in sample])) if sample else 0.0,
        "shares": _shares(sample),
        "skew": skew,
        "unique_within_sources": bool(unique),
        "shared_across_sources": float(shared),
        "date_order": date_order(sample),
        "digit_length": digit_length,
        "sample": tuple(sample),
    }
    return stats


def profile_table(table: pa.Table, *, sources: np.ndarray | None = None, source_names: Sequence[str] = (), seed: int = 42) -> TableProfile:
    """Profile every column of an Arrow table.

    ``sources`` (a source code per row) makes uniqueness count within each
    source, as for the ids of two files to link.
    """
    rng = np.random.default_rng(seed)
    profiles = []
    for name in table.column_names:
        column = table[name]
        if pa.types.is_nested(column.type):
            continue
        stats = _column_stats(name, column, sources, rng)
        role, reason = detect_role(stats)
        stats.pop("present")
        stats.pop("null_rate")
        stats.pop("top_share")
        profiles.append(ColumnProfile(role=role, reason=reason, **stats))
    return TableProfile(rows=table.num_rows, columns=tuple(profiles), sources=tuple(source_names))


def read_sources(inputs: Any, *, encoding: str | None = None, engine: Any = None, rename: dict | None = None) -> tuple[pa.Table, np.ndarray, tuple[str, ...]]:
    """Read one or more inputs as text columns, pooled: (table, source code per row, source names).

    ``rename`` maps a source's column names to the names of the first source
    (see :func:`linkwise.auto.parse_column_map`), as the ``rename`` setting does.
    """
    from .engines.base import get_engine
    from .ingest import _normalise_inputs, _string_columns, to_arrow
    from .settings import rename_columns

    named = _normalise_inputs(inputs)
    own = engine is None or isinstance(engine, str)
    eng = get_engine(engine) if own else engine
    tables, codes = [], []
    try:
        for i, (name, data) in enumerate(named):
            where = f"input '{data}'" if isinstance(data, (str, Path)) else f"input '{name}'"
            table = _plain_text(_string_columns(to_arrow(data, where=where, engine=eng, encoding=encoding), None))
            if rename:
                table = table.rename_columns(rename_columns(table.column_names, rename))
            tables.append(table)
            codes.append(np.full(table.num_rows, i, dtype=np.int16))
    finally:
        if own:
            eng.close()
    pooled = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    return pooled, np.concatenate(codes), tuple(name for name, _ in named)


def _plain_text(table: pa.Table) -> pa.Table:
    """Text in dictionary form (as Parquet text is read) decoded, so sources pool and ids sort."""
    for position, column in enumerate(table.columns):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(position, table.column_names[position], pc.cast(column, pa.string()))
    return table


def profile(inputs: Any, *, encoding: str | None = None, engine: Any = None, rename: dict | None = None) -> TableProfile:
    """Profile a CSV or Parquet file, a data frame or an Arrow table (or several, pooled).

    >>> from linkwise import datasets
    >>> p = profile(datasets.people(500, seed=1))
    >>> p.column("email").role, p.column("record_id").role
    ('email', 'id_like')
    """
    table, sources, names = read_sources(inputs, encoding=encoding, engine=engine, rename=rename)
    return profile_table(table, sources=sources if len(names) > 1 else None, source_names=names)
