"""Typed, immutable settings, validated when they are built.

Settings are plain frozen dataclasses. They are read from and written to JSON or
YAML with :meth:`Settings.load` / :meth:`Settings.save`; the file written after a
run (``settings.json``) is exactly what was run, with templates expanded, so it
can be edited and reused.

Example
-------
>>> s = Settings.from_dict({
...     "link_type": "dedupe",
...     "unique_id_column": "record_id",
...     "comparisons": [{"template": "person_name", "column": "first_name"}],
...     "blocking_rules": [["first_name"]],
... })
>>> s.comparisons[0].levels[0].kind
'exact'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import SettingsError, did_you_mean

LINK_TYPES = ("dedupe", "link", "link_and_dedupe")
MAX_RULES = 64  # a pair's rules are one 64-bit mask
MAX_LEVELS = 250  # levels are stored as one byte per comparison
SETTINGS_VERSION = 1

# name -> type of its argument (None: takes no argument)
STANDARDISERS: dict[str, type | None] = {
    "lower": None,
    "upper": None,
    "trim": None,
    "remove_spaces": None,
    "strip_punctuation": None,
    "fold_accents": None,
    "digits_only": None,
    "letters_only": None,
    "first_n": int,
    "last_n": int,
    "soundex": None,
    "metaphone": None,
    "nysiis": None,
    "parse_date": str,
    "email_local_part": None,
    "sort_tokens": None,
    "rarest_words": int,
}

# level kind -> {parameter: (type, required)}
LEVEL_KINDS: dict[str, dict[str, tuple[type, bool]]] = {
    "exact": {"tf_adjust": (bool, False)},
    "jaro_winkler": {"threshold": (float, True)},
    "jaro": {"threshold": (float, True)},
    "levenshtein": {"max": (int, True)},
    "damerau_levenshtein": {"max": (int, True)},
    "jaccard": {"threshold": (float, True)},
    "date_diff": {"max": (float, True), "unit": (str, False)},
    "date_swap": {},
    "abs_diff": {"max": (float, True)},
    "rel_diff": {"max": (float, True)},
    "prefix": {"length": (int, True)},
    "swapped": {},
}
DATE_UNITS = ("days", "months", "years")
_COMMON_LEVEL_KEYS = ("type", "columns", "label", "m", "u")


def _fail(where: str, message: str) -> SettingsError:
    return SettingsError(f"setting '{where}': {message}")


def _check_keys(where: str, given: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = list(allowed)
    for key in given:
        if key not in allowed:
            raise _fail(
                where,
                f"unknown key '{key}'; allowed: {', '.join(allowed)}.{did_you_mean(key, allowed)}",
            )


def _as_number(where: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, f"expected a number, got {value!r}")
    if kind is int:
        if float(value) != int(value):
            raise _fail(where, f"expected a whole number, got {value!r}")
        return int(value)
    if not math.isfinite(value):
        raise _fail(where, f"expected a finite number, got {value!r}")
    return float(value)


def _probability(where: str, value: Any, *, allow_zero: bool = True) -> float:
    number = _as_number(where, value, float)
    low_ok = number >= 0 if allow_zero else number > 0
    if not (low_ok and number <= 1):
        raise _fail(where, f"must be a probability between 0 and 1, got {value!r}")
    return number


@dataclass(frozen=True)
class Standardiser:
    """One cleaning step applied to a column's values, e.g. ``lower`` or ``first_n(3)``."""

    name: str
    arg: int | str | None = None

    @classmethod
    def parse(cls, spec: Any, where: str) -> Standardiser:
        if isinstance(spec, Standardiser):
            return spec
        if isinstance(spec, str):
            name, arg = spec, None
        elif isinstance(spec, Mapping) and len(spec) == 1:
            ((name, arg),) = spec.items()
        else:
            raise _fail(where, f"a standardiser is a name or a one-key mapping, got {spec!r}")
        if name not in STANDARDISERS:
            allowed = sorted(STANDARDISERS)
            raise _fail(
                where,
                f"unknown standardiser '{name}'; allowed: {', '.join(allowed)}.{did_you_mean(name, allowed)}",
            )
        kind = STANDARDISERS[name]
        if kind is None and arg is not None:
            raise _fail(where, f"standardiser '{name}' takes no argument")
        if kind is int:
            if arg is None:
                raise _fail(where, f"standardiser '{name}' needs a length, e.g. {{'{name}': 3}}")
            arg = _as_number(where, arg, int)
            if arg < 1:
                raise _fail(where, f"standardiser '{name}' needs a length of at least 1")
        if name == "parse_date":
            arg = arg or "auto"
            if arg not in ("auto", "ymd", "dmy", "mdy"):
                raise _fail(where, f"parse_date order must be one of auto, ymd, dmy, mdy; got {arg!r}")
        return cls(name, arg)

    def to_json(self) -> Any:
        return self.name if self.arg is None else {self.name: self.arg}


def _parse_steps(spec: Any, where: str) -> tuple[Standardiser, ...]:
    if spec is None:
        return ()
    if isinstance(spec, (str, Mapping)):
        spec = [spec]
    return tuple(Standardiser.parse(s, f"{where}[{i}]") for i, s in enumerate(spec))


@dataclass(frozen=True)
class Level:
    """One comparison level: a predicate on a pair of values.

    ``columns`` restricts the level to some of the comparison's columns (all
    must satisfy it); ``None`` means all of them.
    """

    kind: str
    threshold: float | None = None
    max: float | None = None
    unit: str | None = None
    length: int | None = None
    tf_adjust: bool = False
    columns: tuple[str, ...] | None = None
    label: str = ""
    fixed_m: float | None = None
    fixed_u: float | None = None

    @classmethod
    def parse(cls, spec: Any, where: str, comparison_columns: tuple[str, ...]) -> Level:
        if isinstance(spec, Level):
            return spec
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, Mapping) or "type" not in spec:
            raise _fail(where, f"a level is a mapping with a 'type', got {spec!r}")
        kind = spec["type"]
        if kind not in LEVEL_KINDS:
            allowed = sorted(LEVEL_KINDS)
            raise _fail(
                where,
                f"unknown level type '{kind}'; allowed: {', '.join(allowed)}.{did_you_mean(kind, allowed)}",
            )
        params = LEVEL_KINDS[kind]
        _check_keys(where, spec, [*_COMMON_LEVEL_KEYS, *params])
        values: dict[str, Any] = {}
        for name, (typ, required) in params.items():
            if name not in spec:
                if required:
                    raise _fail(where, f"level '{kind}' needs '{name}'")
                continue
            raw = spec[name]
            if typ is bool:
                if not isinstance(raw, bool):
                    raise _fail(f"{where}.{name}", f"expected true or false, got {raw!r}")
                values[name] = raw
            elif typ is str:
                values[name] = raw
            else:
                values[name] = _as_number(f"{where}.{name}", raw, typ)
        if kind in ("jaro_winkler", "jaro", "jaccard"):
            _probability(f"{where}.threshold", values["threshold"], allow_zero=False)
        if "max" in values and values["max"] < 0:
            raise _fail(f"{where}.max", f"must not be negative, got {values['max']!r}")
        if kind == "rel_diff" and values["max"] > 1:
            raise _fail(f"{where}.max", "a relative difference is at most 1")
        if kind == "prefix" and values["length"] < 1:
            raise _fail(f"{where}.length", "must be at least 1")
        if kind == "date_diff":
            values.setdefault("unit", "days")
            if values["unit"] not in DATE_UNITS:
                raise _fail(
                    f"{where}.unit",
                    f"unknown unit {values['unit']!r}; allowed: {', '.join(DATE_UNITS)}",
                )
        columns = spec.get("columns")
        if columns is not None:
            columns = (columns,) if isinstance(columns, str) else tuple(columns)
            for c in columns:
                if c not in comparison_columns:
                    raise _fail(
                        f"{where}.columns",
                        f"'{c}' is not a column of this comparison ({', '.join(comparison_columns)})."
                        + did_you_mean(c, comparison_columns),
                    )
        if kind == "swapped" and len(comparison_columns) != 2:
            raise _fail(where, "level 'swapped' needs a comparison of exactly two columns")
        fixed_m = spec.get("m")
        fixed_u = spec.get("u")
        level = cls(
            kind=kind,
            columns=columns,
            fixed_m=None if fixed_m is None else _probability(f"{where}.m", fixed_m),
            fixed_u=None if fixed_u is None else _probability(f"{where}.u", fixed_u),
            **values,
        )
        return replace(level, label=str(spec.get("label") or level.default_label()))

    def default_label(self) -> str:
        cols = f" on {'+'.join(self.columns)}" if self.columns else ""
        text = {
            "exact": "exact match",
            "jaro_winkler": f"Jaro-Winkler >= {self.threshold}",
            "jaro": f"Jaro >= {self.threshold}",
            "levenshtein": f"Levenshtein <= {self.max:g}" if self.max is not None else "",
            "damerau_levenshtein": f"Damerau-Levenshtein <= {self.max:g}" if self.max is not None else "",
            "jaccard": f"token Jaccard >= {self.threshold}",
            "date_diff": f"within {self.max:g} {self.unit}" if self.max is not None else "",
            "date_swap": "day and month swapped",
            "abs_diff": f"absolute difference <= {self.max:g}" if self.max is not None else "",
            "rel_diff": f"relative difference <= {self.max:g}" if self.max is not None else "",
            "prefix": f"first {self.length} characters equal",
            "swapped": "columns swapped",
        }[self.kind]
        return text + cols

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for name in LEVEL_KINDS[self.kind]:
            value = getattr(self, name)
            if value is not None and not (name == "tf_adjust" and value is False):
                out[name] = value
        if self.columns is not None:
            out["columns"] = list(self.columns)
        if self.label != self.default_label():
            out["label"] = self.label
        if self.fixed_m is not None:
            out["m"] = self.fixed_m
        if self.fixed_u is not None:
            out["u"] = self.fixed_u
        return out


@dataclass(frozen=True)
class Comparison:
    """How one field (or a group of fields) is compared: ordered levels, strongest first.

    Every comparison also has an implicit *null* level (a value is missing on
    either side, which counts as no evidence) and a final *else* level.
    """

    name: str
    columns: tuple[str, ...]
    levels: tuple[Level, ...]
    standardise: tuple[Standardiser, ...] = ()

    @classmethod
    def parse(cls, spec: Any, where: str) -> Comparison:
        if isinstance(spec, Comparison):
            return spec
        if not isinstance(spec, Mapping):
            raise _fail(where, f"a comparison is a mapping, got {spec!r}")
        if "template" in spec:
            from .templates import expand_template

            return cls.parse(expand_template(spec, where), where)
        _check_keys(where, spec, ["name", "column", "columns", "levels", "standardise"])
        if ("column" in spec) == ("columns" in spec):
            raise _fail(where, "give exactly one of 'column' or 'columns'")
        if "column" in spec:
            columns = (spec["column"],)
        elif isinstance(spec["columns"], str):
            columns = (spec["columns"],)
        else:
            columns = tuple(spec["columns"])
        if not columns or not all(isinstance(c, str) and c for c in columns):
            raise _fail(where, "columns must be non-empty names")
        name = spec.get("name") or "_".join(columns)
        levels_spec = spec.get("levels")
        if not levels_spec:
            raise _fail(f"{where}.levels", "a comparison needs at least one level, e.g. [{'type': 'exact'}]")
        levels = tuple(
            Level.parse(lv, f"{where}.levels[{i}]", columns) for i, lv in enumerate(levels_spec)
        )
        return cls(
            name=name,
            columns=columns,
            levels=levels,
            standardise=_parse_steps(spec.get("standardise"), f"{where}.standardise"),
        )

    @property
    def level_labels(self) -> tuple[str, ...]:
        """Labels of all stored levels: null, the declared levels, else."""
        return ("null", *(lv.label for lv in self.levels), "else")

    @property
    def n_levels(self) -> int:
        return len(self.levels) + 2

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if len(self.columns) == 1:
            out["column"] = self.columns[0]
        else:
            out["columns"] = list(self.columns)
        if self.standardise:
            out["standardise"] = [s.to_json() for s in self.standardise]
        out["levels"] = [lv.to_json() for lv in self.levels]
        return out


@dataclass(frozen=True)
class BlockingKey:
    """One equality of a blocking rule: a column, optionally standardised further."""

    column: str
    standardise: tuple[Standardiser, ...] = ()

    @classmethod
    def parse(cls, spec: Any, where: str) -> BlockingKey:
        if isinstance(spec, BlockingKey):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        if isinstance(spec, Mapping):
            _check_keys(where, spec, ["column", "standardise"])
            if "column" not in spec:
                raise _fail(where, "a blocking key needs a 'column'")
            return cls(spec["column"], _parse_steps(spec.get("standardise"), f"{where}.standardise"))
        raise _fail(where, f"a blocking key is a column name or a mapping, got {spec!r}")

    @property
    def label(self) -> str:
        steps = "".join(
            f"|{s.name}" + (f"({s.arg})" if s.arg is not None else "") for s in self.standardise
        )
        return f"{self.column}{steps}"

    def to_json(self) -> Any:
        if not self.standardise:
            return self.column
        return {"column": self.column, "standardise": [s.to_json() for s in self.standardise]}


@dataclass(frozen=True)
class BlockingRule:
    """A conjunction of equalities; a pair is a candidate if any rule holds."""

    keys: tuple[BlockingKey, ...]

    @classmethod
    def parse(cls, spec: Any, where: str) -> BlockingRule:
        if isinstance(spec, BlockingRule):
            return spec
        if isinstance(spec, (str, Mapping)):
            spec = [spec]
        keys = tuple(BlockingKey.parse(k, f"{where}[{i}]") for i, k in enumerate(spec))
        if not keys:
            raise _fail(where, "a blocking rule needs at least one column")
        return cls(keys)

    @property
    def name(self) -> str:
        return " & ".join(k.label for k in self.keys)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(k.column for k in self.keys)

    def to_json(self) -> list[Any]:
        return [k.to_json() for k in self.keys]


@dataclass(frozen=True)
class TrainingSettings:
    """How m, u and the prior are estimated."""

    u_sample_pairs: int = 300_000
    em_max_iterations: int = 200
    em_tolerance: float = 1e-6
    prior: float | None = None
    correct_dependence: bool = True
    dependence_min_bits: float = 0.01
    refine_m: bool = True

    @classmethod
    def parse(cls, spec: Any, where: str = "training") -> TrainingSettings:
        if spec is None:
            return cls()
        if isinstance(spec, TrainingSettings):
            return spec
        if not isinstance(spec, Mapping):
            raise _fail(where, f"expected a mapping, got {spec!r}")
        _check_keys(
            where,
            spec,
            ["u_sample_pairs", "em_max_iterations", "em_tolerance", "prior", "correct_dependence", "dependence_min_bits", "refine_m"],
        )
        out = cls()
        if "u_sample_pairs" in spec:
            n = _as_number(f"{where}.u_sample_pairs", spec["u_sample_pairs"], int)
            if n < 1000:
                raise _fail(f"{where}.u_sample_pairs", "must be at least 1000")
            out = replace(out, u_sample_pairs=n)
        if "em_max_iterations" in spec:
            n = _as_number(f"{where}.em_max_iterations", spec["em_max_iterations"], int)
            if n < 1:
                raise _fail(f"{where}.em_max_iterations", "must be at least 1")
            out = replace(out, em_max_iterations=n)
        if "em_tolerance" in spec:
            t = _as_number(f"{where}.em_tolerance", spec["em_tolerance"], float)
            if not 0 < t < 1:
                raise _fail(f"{where}.em_tolerance", "must be between 0 and 1")
            out = replace(out, em_tolerance=t)
        if spec.get("prior") is not None:
            p = _probability(f"{where}.prior", spec["prior"], allow_zero=False)
            if p >= 1:
                raise _fail(f"{where}.prior", "must be below 1")
            out = replace(out, prior=p)
        for flag in ("correct_dependence", "refine_m"):
            if flag in spec:
                if not isinstance(spec[flag], bool):
                    raise _fail(f"{where}.{flag}", f"expected true or false, got {spec[flag]!r}")
                out = replace(out, **{flag: spec[flag]})
        if "dependence_min_bits" in spec:
            bits = _as_number(f"{where}.dependence_min_bits", spec["dependence_min_bits"], float)
            if bits <= 0:
                raise _fail(f"{where}.dependence_min_bits", f"must be above 0 bits, got {bits!r}")
            out = replace(out, dependence_min_bits=bits)
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "u_sample_pairs": self.u_sample_pairs,
            "em_max_iterations": self.em_max_iterations,
            "em_tolerance": self.em_tolerance,
            "correct_dependence": self.correct_dependence,
            "dependence_min_bits": self.dependence_min_bits,
            "refine_m": self.refine_m,
        }
        if self.prior is not None:
            out["prior"] = self.prior
        return out


REFINEMENT_METHODS = ("edge_contraction", "none")


@dataclass(frozen=True)
class ClusterRefinement:
    """How the connected components at the cluster threshold are split where weak links hold them.

    ``method``: ``edge_contraction`` (regroup each component's records by greedy
    additive edge contraction; see :mod:`linkwise.cluster`) or ``none`` (keep
    the connected components). ``threshold``: the probability at which a
    scored pair counts neither for nor against keeping its records together.
    """

    method: str = "edge_contraction"
    threshold: float = 0.5

    @classmethod
    def parse(cls, spec: Any, where: str = "cluster_refinement") -> ClusterRefinement:
        if spec is None:
            return cls()
        if isinstance(spec, ClusterRefinement):
            return spec
        if isinstance(spec, str):
            spec = {"method": spec}
        if not isinstance(spec, Mapping):
            raise _fail(where, f"expected a mapping such as {{'method': 'edge_contraction', 'threshold': 0.5}}, got {spec!r}")
        _check_keys(where, spec, ["method", "threshold"])
        method = spec.get("method", cls.method)
        if method not in REFINEMENT_METHODS:
            raise _fail(
                f"{where}.method",
                f"unknown method {method!r}; allowed: {', '.join(REFINEMENT_METHODS)}.{did_you_mean(str(method), REFINEMENT_METHODS)}",
            )
        threshold = cls.threshold
        if "threshold" in spec:
            threshold = _probability(f"{where}.threshold", spec["threshold"], allow_zero=False)
            if threshold >= 1:
                raise _fail(f"{where}.threshold", "must be below 1")
        return cls(method, threshold)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "threshold": self.threshold}


_TOP_KEYS = (
    "version",
    "link_type",
    "unique_id_column",
    "source_column",
    "rename",
    "standardise",
    "comparisons",
    "blocking_rules",
    "match_threshold",
    "cluster_threshold",
    "cluster_refinement",
    "one_to_one",
    "max_candidate_pairs",
    "seed",
    "training",
)


@dataclass(frozen=True)
class Settings:
    """Everything that defines a linkage run. Immutable; validated when built."""

    comparisons: tuple[Comparison, ...]
    blocking_rules: tuple[BlockingRule, ...]
    link_type: str = "dedupe"
    unique_id_column: str | None = None
    source_column: str | None = None
    standardise: tuple[tuple[str, tuple[Standardiser, ...]], ...] = ()
    rename: tuple[tuple[str, str], ...] = ()  # (a source's column, the name the settings use)
    match_threshold: float = 0.5
    cluster_threshold: float = 0.9
    cluster_refinement: ClusterRefinement = field(default_factory=ClusterRefinement)
    one_to_one: bool = False  # link only: each source holds an entity at most once (linkwise.one_to_one)
    max_candidate_pairs: int = 200_000_000
    seed: int = 42
    training: TrainingSettings = field(default_factory=TrainingSettings)

    def __post_init__(self) -> None:
        if self.link_type not in LINK_TYPES:
            raise _fail(
                "link_type",
                f"unknown link type '{self.link_type}'; allowed: {', '.join(LINK_TYPES)}."
                + did_you_mean(self.link_type, LINK_TYPES),
            )
        if not self.comparisons:
            raise _fail("comparisons", "at least one comparison is needed")
        if not self.blocking_rules:
            raise _fail("blocking_rules", "at least one blocking rule is needed")
        names = [c.name for c in self.comparisons]
        for name in names:
            if names.count(name) > 1:
                raise _fail("comparisons", f"two comparisons are named '{name}'; names must be unique")
        _probability("match_threshold", self.match_threshold)
        _probability("cluster_threshold", self.cluster_threshold)
        if self.max_candidate_pairs < 1:
            raise _fail("max_candidate_pairs", "must be at least 1")
        if self.seed < 0:
            raise _fail("seed", f"must be a whole number of at least 0, got {self.seed}")
        if len(self.blocking_rules) > MAX_RULES:
            raise _fail("blocking_rules", f"at most {MAX_RULES} rules are allowed, got {len(self.blocking_rules)}")
        for comp in self.comparisons:
            if comp.n_levels > MAX_LEVELS:
                raise _fail("comparisons", f"comparison '{comp.name}' has {len(comp.levels)} levels; at most {MAX_LEVELS - 2}")

    # -- construction -----------------------------------------------------
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Settings:
        """Build settings from a plain mapping (as read from JSON or YAML)."""
        if not isinstance(spec, Mapping):
            raise SettingsError("settings must be a mapping of names to values")
        _check_keys("settings", spec, _TOP_KEYS)
        version = spec.get("version", SETTINGS_VERSION)
        if version != SETTINGS_VERSION:
            raise _fail("version", f"this linkwise reads settings version {SETTINGS_VERSION}, got {version!r}")
        comparisons_spec = spec.get("comparisons")
        if not isinstance(comparisons_spec, list) or not comparisons_spec:
            raise _fail("comparisons", "a non-empty list of comparisons is needed")
        rules_spec = spec.get("blocking_rules")
        if not isinstance(rules_spec, list) or not rules_spec:
            raise _fail("blocking_rules", "a non-empty list of blocking rules is needed")
        standardise = spec.get("standardise") or {}
        if not isinstance(standardise, Mapping):
            raise _fail("standardise", "expected a mapping of column name to a list of standardisers")
        kwargs: dict[str, Any] = {}
        rename = spec.get("rename") or {}
        if not isinstance(rename, Mapping) or not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in rename.items()):
            raise _fail("rename", "expected a mapping of a source's column name to the name the settings use")
        if rename:
            kwargs["rename"] = tuple(rename.items())
        for key in ("link_type", "unique_id_column", "source_column"):
            if spec.get(key) is not None:
                if not isinstance(spec[key], str):
                    raise _fail(key, f"expected a name, got {spec[key]!r}")
                kwargs[key] = spec[key]
        for key in ("match_threshold", "cluster_threshold"):
            if key in spec:
                kwargs[key] = _probability(key, spec[key])
        if "one_to_one" in spec:
            if not isinstance(spec["one_to_one"], bool):
                raise _fail("one_to_one", f"expected true or false, got {spec['one_to_one']!r}")
            kwargs["one_to_one"] = spec["one_to_one"]
        if "max_candidate_pairs" in spec:
            kwargs["max_candidate_pairs"] = _as_number("max_candidate_pairs", spec["max_candidate_pairs"], int)
        if "seed" in spec:
            kwargs["seed"] = _as_number("seed", spec["seed"], int)
        return cls(
            comparisons=tuple(Comparison.parse(c, f"comparisons[{i}]") for i, c in enumerate(comparisons_spec)),
            blocking_rules=tuple(BlockingRule.parse(r, f"blocking_rules[{i}]") for i, r in enumerate(rules_spec)),
            standardise=tuple(
                (str(col), _parse_steps(steps, f"standardise.{col}")) for col, steps in standardise.items()
            ),
            training=TrainingSettings.parse(spec.get("training")),
            cluster_refinement=ClusterRefinement.parse(spec.get("cluster_refinement")),
            **kwargs,
        )

    @classmethod
    def load(cls, path: str | Path) -> Settings:
        """Read settings from a ``.json``, ``.yaml`` or ``.yml`` file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is allowed
        except FileNotFoundError:
            raise SettingsError(f"settings file '{path}' does not exist") from None
        except UnicodeDecodeError:
            raise SettingsError(
                f"settings file '{path}' is not UTF-8 text; settings are a JSON or YAML file"
            ) from None
        except OSError as exc:
            raise SettingsError(f"settings file '{path}' cannot be read: {exc.strerror}") from None
        spec = parse_settings_text(text, str(path))
        if not isinstance(spec, Mapping):
            raise SettingsError(f"settings file '{path}' must hold a mapping of setting names to values")
        return cls.from_dict(spec)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": SETTINGS_VERSION,
            "link_type": self.link_type,
            "unique_id_column": self.unique_id_column,
            "source_column": self.source_column,
        }
        if self.rename:
            out["rename"] = dict(self.rename)
        if self.standardise:
            out["standardise"] = {col: [s.to_json() for s in steps] for col, steps in self.standardise}
        out["comparisons"] = [c.to_json() for c in self.comparisons]
        out["blocking_rules"] = [r.to_json() for r in self.blocking_rules]
        out.update(
            match_threshold=self.match_threshold,
            cluster_threshold=self.cluster_threshold,
            cluster_refinement=self.cluster_refinement.to_json(),
        )
        if self.one_to_one:
            out["one_to_one"] = True
        out.update(
            max_candidate_pairs=self.max_candidate_pairs,
            seed=self.seed,
            training=self.training.to_json(),
        )
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: str | Path) -> None:
        """Write these settings (atomically) as JSON, or YAML for ``.yaml``/``.yml``."""
        from .outputs import atomic_write_text

        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            import yaml

            atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))
        else:
            atomic_write_text(path, self.to_json())

    def with_options(self, **changes: Any) -> Settings:
        """A copy with some top-level options changed (validated again)."""
        return replace(self, **changes)

    # -- checks against data ------------------------------------------------
    def required_columns(self) -> dict[str, str]:
        """Each input column the settings use, with the first setting that uses it."""
        used: dict[str, str] = {}
        if self.source_column:
            used[self.source_column] = "source_column"
        for col, _ in self.standardise:
            used.setdefault(col, f"standardise.{col}")
        for i, comp in enumerate(self.comparisons):
            for col in comp.columns:
                used.setdefault(col, f"comparisons[{i}] ('{comp.name}')")
        for i, rule in enumerate(self.blocking_rules):
            for col in rule.columns:
                used.setdefault(col, f"blocking_rules[{i}] ('{rule.name}')")
        return used

    def check_columns(self, available: Iterable[str], *, source: str = "the input") -> None:
        """Fail with a "did you mean" message if a setting names a missing column."""
        available = list(available)
        for col, where in self.required_columns().items():
            if col not in available:
                raise _fail(
                    where,
                    f"column '{col}' is not in {source}.{did_you_mean(col, available)}"
                    f" Available columns: {', '.join(available)}.",
                )

    def renamed(self, names: Iterable[str]) -> list[str]:
        """A source's column names as the settings call them (see ``rename``).

        A column is renamed only in a source that lacks the new name, so the
        source that already uses it keeps its own column.
        """
        return rename_columns(names, dict(self.rename))

    def steps_for(self, column: str) -> tuple[Standardiser, ...]:
        """The column-level standardisers declared under ``standardise``."""
        for col, steps in self.standardise:
            if col == column:
                return steps
        return ()


def rename_columns(names: Iterable[str], mapping: Mapping[str, str]) -> list[str]:
    """Column names after ``mapping`` (old -> new), skipping a rename whose new name is taken."""
    names = list(names)
    present = set(names)
    return [mapping[n] if n in mapping and mapping[n] not in present else n for n in names]


def parse_settings_text(text: str, where: str) -> Any:
    """Parse JSON or YAML text, with an error that names the file and line."""
    stripped = text.lstrip()
    if stripped.startswith("{") or where.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(
                f"settings file '{where}' is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = f": {exc.problem}" if getattr(exc, "problem", None) else ""
        raise SettingsError(f"settings file '{where}' is not valid YAML{at}{problem}") from None
