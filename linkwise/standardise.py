"""Standardisers: cleaning steps applied to a column's values before comparing.

Each standardiser maps an Arrow string array to an Arrow string array of the
same length; empty results become null. They run on the *distinct* values of a
column (see :func:`standardise_column`), so even per-value Python steps such
as phonetic keys cost little.

>>> import pyarrow as pa
>>> apply_steps(pa.array([" José  O'Brien "]), parse_steps(["fold_accents", "lower", "strip_punctuation", "trim"])).to_pylist()
['jose obrien']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date

import jellyfish
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import kernels
from .settings import Standardiser, _parse_steps

Step = Callable[[pa.Array, object], pa.Array]


def parse_steps(spec: Sequence[object]) -> tuple[Standardiser, ...]:
    """Parse standardiser specs such as ``["lower", {"first_n": 3}]``."""
    return _parse_steps(list(spec), "standardise")


def _per_value(fn: Callable[[str], str | None]) -> Step:
    def step(values: pa.Array, _arg: object) -> pa.Array:
        return pa.array([None if v is None else fn(v) for v in values.to_pylist()], type=pa.string())

    return step


def _regex(pattern: str, replacement: str) -> Step:
    def step(values: pa.Array, _arg: object) -> pa.Array:
        return pc.replace_substring_regex(values, pattern=pattern, replacement=replacement)

    return step


def _printable_ascii(values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray] | None:
    """:func:`kernels.utf8_bytes` of the values when every byte is printable ASCII, else None.

    On such text the regular-expression steps below reduce to byte rules that a
    compiled loop applies far faster; anything else takes the general path.
    """
    values, offsets, data = kernels.utf8_bytes(values)
    if len(data) and (int(data.min()) < 0x20 or int(data.max()) > 0x7E):
        return None
    return values, offsets, data


def _byte_rule(keep: str = "", drop: str = "", squeeze: bool = False) -> tuple[np.ndarray, bool]:
    """Per-byte action table for :func:`kernels.map_bytes`: bytes not kept or dropped become spaces."""
    action = np.full(256, 2 if keep else 0, dtype=np.uint8)
    for ch in keep:
        action[ord(ch)] = 0
    for ch in drop:
        action[ord(ch)] = 1
    return action, squeeze


def _apply_byte_rule(values: pa.Array, rule: tuple[np.ndarray, bool]) -> pa.Array | None:
    ascii_text = _printable_ascii(values)
    if ascii_text is None:
        return None
    values, offsets, data = ascii_text
    new_offsets, new_data = kernels.map_bytes(offsets, data, *rule)
    validity = pc.is_valid(values).buffers()[1] if values.null_count else None
    out = pa.LargeStringArray.from_buffers(
        len(values), pa.py_buffer(new_offsets), pa.py_buffer(new_data), validity, values.null_count
    )
    return out.cast(pa.string())


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# On printable ASCII, where the only white space is " ": the rules of each step.
_TRIM = _byte_rule(squeeze=True)
_STRIP_PUNCTUATION = _byte_rule(keep=_ALNUM + " ", drop="'`.", squeeze=True)
_DIGITS_ONLY = _byte_rule(keep="0123456789", drop="".join(chr(c) for c in range(0x20, 0x7F) if not chr(c).isdigit()))
_REMOVE_SPACES = _byte_rule(drop=" ")


def _fast(rule: tuple[np.ndarray, bool], general: Step) -> Step:
    """A step that applies ``rule`` to printable-ASCII text and ``general`` to anything else."""

    def step(values: pa.Array, arg: object) -> pa.Array:
        fast = _apply_byte_rule(values, rule)
        return fast if fast is not None else general(values, arg)

    return step


def _trim_general(values: pa.Array, _arg: object) -> pa.Array:
    collapsed = pc.replace_substring_regex(values, pattern=r"\s+", replacement=" ")
    return pc.utf8_trim_whitespace(collapsed)


def _strip_punctuation_general(values: pa.Array, _arg: object) -> pa.Array:
    # Apostrophes and dots join (O'Brien -> OBrien, St. -> St); other marks separate words.
    joined = pc.replace_substring_regex(values, pattern=r"['’`.]", replacement="")
    spaced = pc.replace_substring_regex(joined, pattern=r"[^\p{L}\p{N}\s]", replacement=" ")
    return _trim_general(spaced, None)


_trim = _fast(_TRIM, _trim_general)
_strip_punctuation = _fast(_STRIP_PUNCTUATION, _strip_punctuation_general)


def _fold_accents(values: pa.Array, _arg: object) -> pa.Array:
    if _printable_ascii(values) is not None:
        return values  # nothing to fold
    decomposed = pc.utf8_normalize(values, form="NFKD")
    return pc.replace_substring_regex(decomposed, pattern=r"\p{Mn}", replacement="")


def _first_n(values: pa.Array, n: object) -> pa.Array:
    return pc.utf8_slice_codeunits(values, start=0, stop=int(n))  # type: ignore[arg-type]


def _last_n(values: pa.Array, n: object) -> pa.Array:
    return pc.utf8_slice_codeunits(values, start=-int(n))  # type: ignore[arg-type]


def _sort_tokens(value: str) -> str:
    return " ".join(sorted(value.split()))


def _rarest_words(values: pa.Array, k: object) -> pa.Array:
    """The ``k`` rarest words of each value that some other value shares, in alphabetical order.

    Rarity counts the values that hold a word. A word no other value holds
    cannot bring two values together (it is often a typing error), so it is
    passed over; a value without any shared word becomes null. Run on a
    column's distinct values, this makes a blocking key on the most telling
    words of titles and names (token blocking with one key per record).

    >>> _rarest_words(pa.array(["deep learning", "deep nets", "nets of nets", None]), 1).to_pylist()
    ['deep', 'deep', 'nets', None]
    """
    values = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
    split = pc.utf8_split_whitespace(values)
    owner = pc.list_parent_indices(split).to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(pc.list_flatten(split))
    words = encoded.dictionary
    # Rank words alphabetically, so that ties in rarity break the same way everywhere.
    rank = np.empty(len(words), dtype=np.int64)
    rank[pc.sort_indices(words).to_numpy()] = np.arange(len(words))
    token = rank[encoded.indices.to_numpy().astype(np.int64)]
    pairs = np.unique(owner * max(len(words), 1) + token)
    owner, token = pairs // max(len(words), 1), pairs % max(len(words), 1)
    holders = np.bincount(token, minlength=len(words))
    shared = holders[token] >= 2
    owner, token = owner[shared], token[shared]
    # Within each value: rarest first (ties alphabetical), keep the first k.
    order = np.lexsort((token, holders[token], owner))
    owner, token = owner[order], token[order]
    position = np.arange(len(owner))
    first_of_value = np.r_[True, owner[1:] != owner[:-1]] if len(owner) else np.zeros(0, bool)
    group_start = np.maximum.accumulate(np.where(first_of_value, position, 0))
    keep = position - group_start < int(k)  # type: ignore[call-overload]
    owner, token = owner[keep], token[keep]
    order = np.lexsort((token, owner))  # alphabetical within a value
    owner, token = owner[order], token[order]
    counts = np.bincount(owner, minlength=len(values))
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    by_rank = words.take(pa.array(np.argsort(rank)))  # word of each rank
    lists = pa.ListArray.from_arrays(pa.array(offsets), by_rank.take(pa.array(token)))
    joined = pc.binary_join(lists, " ")
    return pc.if_else(pa.array(counts == 0), pa.scalar(None, pa.string()), joined)


def _email_local_part(value: str) -> str:
    return value.split("@", 1)[0]


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ]
    )
    for m in names
}
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ t].*)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{2}|\d{4})$")
_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})[-/. ]*([a-z]+)[-/., ]*(\d{4})$")
_MONTH_NAME_DAY = re.compile(r"^([a-z]+)[-/. ]*(\d{1,2})(?:st|nd|rd|th)?[,. ]*(\d{4})$")


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _century(year: int, digits: int) -> int:
    # Two-digit years: 00-29 are read as 2000s, 30-99 as 1900s.
    if digits == 2:
        return year + (2000 if year < 30 else 1900)
    return year


def parse_date_value(value: str, order: str = "auto") -> str | None:
    """Parse one date written in a common format into ``YYYY-MM-DD`` (None if invalid).

    ``order`` resolves dates such as ``03/04/1980``: ``mdy``, ``dmy``, or
    ``auto`` (month first unless the first number cannot be a month).

    >>> parse_date_value("04/23/1980"), parse_date_value("23.04.1980"), parse_date_value("19800423")
    ('1980-04-23', '1980-04-23', '1980-04-23')
    """
    text = value.strip().lower()
    if not text:
        return None
    if order in ("auto", "ymd"):
        m = _ISO.match(text) or _COMPACT.match(text)
        if m:
            return _iso(int(m[1]), int(m[2]), int(m[3]))
    m = _NUMERIC.match(text) if order != "ymd" else None
    if m:
        a, b, year = int(m[1]), int(m[2]), _century(int(m[3]), len(m[3]))
        if order == "dmy" or (order == "auto" and a > 12):
            return _iso(year, b, a)
        return _iso(year, a, b)
    m = _DAY_MONTH_NAME.match(text)
    if m and m[2] in _MONTHS:
        return _iso(int(m[3]), _MONTHS[m[2]], int(m[1]))
    m = _MONTH_NAME_DAY.match(text)
    if m and m[1] in _MONTHS:
        return _iso(int(m[3]), _MONTHS[m[1]], int(m[2]))
    if order == "ymd":
        return None
    m = _ISO.match(text) or _COMPACT.match(text)
    return _iso(int(m[1]), int(m[2]), int(m[3])) if m else None


def _parse_date(values: pa.Array, order: object) -> pa.Array:
    order = str(order or "auto")
    return pa.array(
        [None if v is None else parse_date_value(v, order) for v in values.to_pylist()], type=pa.string()
    )


_STEPS: dict[str, Step] = {
    "lower": lambda v, _: pc.utf8_lower(v),
    "upper": lambda v, _: pc.utf8_upper(v),
    "trim": _trim,
    "remove_spaces": _fast(_REMOVE_SPACES, _regex(r"\s+", "")),
    "strip_punctuation": _strip_punctuation,
    "fold_accents": _fold_accents,
    "digits_only": _fast(_DIGITS_ONLY, _regex(r"[^0-9]", "")),
    "letters_only": _regex(r"[^\p{L}]", ""),
    "first_n": _first_n,
    "last_n": _last_n,
    "soundex": _per_value(jellyfish.soundex),
    "metaphone": _per_value(jellyfish.metaphone),
    "nysiis": _per_value(jellyfish.nysiis),
    "parse_date": _parse_date,
    "email_local_part": _per_value(_email_local_part),
    "sort_tokens": _per_value(_sort_tokens),
    "rarest_words": _rarest_words,
}


def apply_steps(values: pa.Array, steps: Sequence[Standardiser]) -> pa.Array:
    """Apply standardisers in order to a string array; empty strings become null."""
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    for step in steps:
        values = _STEPS[step.name](values, step.arg)
    empty = pc.equal(pc.utf8_length(values), 0)
    return pc.if_else(empty, pa.scalar(None, values.type), values)


def encode_column(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Dictionary-encode a column as text: (int32 code per row, -1 for null; distinct values).

    The distinct values are in order of first appearance; see :func:`restandardise`
    for sorted ones.
    """
    if pa.types.is_dictionary(column.type):
        return _dictionary_codes(column)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    encoded = pc.dictionary_encode(column)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.null_count:
        codes = np.where(encoded.is_null().to_numpy(zero_copy_only=False), -1, codes)
    return codes.astype(np.int32), encoded.dictionary.cast(pa.string())


def _dictionary_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes and values of text already in dictionary form, keeping only values in use."""
    try:
        chunks = column.unify_dictionaries().chunks if isinstance(column, pa.ChunkedArray) else [column]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # dictionaries holding a null: decode them
        return encode_column(column.cast(pa.string()))
    if not chunks:
        return np.empty(0, np.int32), pa.array([], pa.string())
    dictionary = pc.cast(chunks[0].dictionary, pa.string())
    parts = []
    for chunk in chunks:
        indices = pc.fill_null(chunk.indices, -1) if chunk.null_count else chunk.indices
        parts.append(indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False))
    codes = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if dictionary.null_count:  # a null among the values: rows pointing at it are missing
        null_value = np.flatnonzero(dictionary.is_null().to_numpy(zero_copy_only=False))
        codes = np.where(np.isin(codes, null_value), -1, codes)
    used = np.bincount(codes[codes >= 0], minlength=len(dictionary)) > 0
    if not used.all():
        renumber = np.append(np.cumsum(used, dtype=np.int32) - 1, np.int32(-1))
        codes = renumber[codes]
        dictionary = dictionary.filter(pa.array(used))
    return codes, dictionary


def restandardise(codes: np.ndarray, values: pa.Array, steps: Sequence[Standardiser]) -> tuple[np.ndarray, pa.Array]:
    """Apply ``steps`` to an encoded column's distinct values and re-encode.

    Returns ``(codes, values)``: an int32 code per row (-1 for null) and the
    distinct standardised values, sorted, so that code ``k`` means
    ``values[k]`` and the same data in any row order gives the same codes.
    """
    cleaned = apply_steps(values, steps)
    distinct = pc.unique(cleaned.drop_null())
    distinct = distinct.take(pc.sort_indices(distinct))
    position = pc.index_in(cleaned, value_set=distinct)
    position = pc.fill_null(position, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    lookup = np.append(position, np.int32(-1))  # code -1 (null) maps to the last slot, -1
    return lookup[codes], distinct.cast(pa.string())


def standardise_column(column: pa.ChunkedArray | pa.Array, steps: Sequence[Standardiser]) -> tuple[np.ndarray, pa.Array]:
    """Standardise a column and dictionary-encode it (see :func:`restandardise`)."""
    return restandardise(*encode_column(column), steps)


# For each idempotent step, the steps that keep its effect: after [lower, trim],
# a second "lower" changes nothing; after [trim, first_n], a second "trim" may.
_CASE = {"trim", "remove_spaces", "strip_punctuation", "fold_accents", "digits_only", "letters_only", "first_n", "last_n"}
_KEEPS: dict[str, set[str]] = {
    "lower": _CASE | {"lower"},
    "upper": _CASE | {"upper"},
    "trim": {"lower", "upper", "trim", "remove_spaces", "strip_punctuation", "digits_only", "letters_only"},
    "remove_spaces": {"lower", "upper", "trim", "remove_spaces", "digits_only", "letters_only", "first_n", "last_n"},
    "strip_punctuation": _CASE | {"lower", "upper"},
    "fold_accents": _CASE | {"lower", "upper"},
    "digits_only": {"digits_only", "trim", "remove_spaces", "strip_punctuation", "lower", "upper", "first_n", "last_n"},
    "letters_only": {"letters_only", "trim", "remove_spaces", "strip_punctuation", "lower", "upper", "first_n", "last_n"},
    "first_n": {"first_n", "trim", "remove_spaces", "strip_punctuation", "digits_only", "letters_only", "lower"},
    "last_n": {"last_n", "trim", "remove_spaces", "strip_punctuation", "digits_only", "letters_only", "lower"},
    "parse_date": {"parse_date", "trim", "lower", "remove_spaces"},
}


def redundant(step: Standardiser, applied: Sequence[Standardiser]) -> bool:
    """True when ``step`` would change nothing after the ``applied`` chain.

    An idempotent step such as ``lower`` is redundant if it was applied already
    (with the same argument) and only steps that keep its effect came after.
    """
    keeps = _KEEPS.get(step.name)
    if keeps is None:
        return False
    same = [i for i, s in enumerate(applied) if s.name == step.name and (s.arg == step.arg or step.name == "parse_date")]
    if not same:
        return False
    later = applied[same[-1] + 1 :]
    return all(s.name in keeps and (s.name != step.name or s.arg == step.arg) for s in later)
