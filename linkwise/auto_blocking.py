"""Automatic blocking: rules chosen by what they find and what they cost.

1. **Keys.** Each compared column gives blocking keys fitting its role: the
   cleaned value, and where values are noisy a looser key (a phonetic code of
   a name, an initial, the year of a date, the first characters of a postal
   code, the local part of an e-mail, the rarest shared words of a text).
   Candidate rules are single keys and pairs of keys from different columns.
2. **Cost**, exactly: the pairs of every candidate rule are counted from block
   sizes by the engine (``block_stats``), without making them. Rules over the
   budget are out.
3. **Likely matches.** A cautious first pass runs the whole pipeline on the
   union of the selective exact rules; the pairs it scores as matches stand in
   for the true matches (they agree on two or more columns, so they are found
   whatever the final rules are).
4. **Choice.** Greedily, the rule that finds the most likely matches not yet
   found per candidate pair it makes, within the budget, while a rule adds a
   thousandth of them and at least one in twenty of its pairs is a likely
   match. Looser keys cover records whose fields are missing or mistyped.
5. **Report.** Each rule's pairs, the pairs it adds beyond the earlier rules
   (the engine's ``marginal_pairs``) and the likely matches it adds.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .blocking import keys_table
from .engines.base import get_engine
from .prepare import _block_key
from .settings import BlockingKey, BlockingRule, Settings, Standardiser
from .standardise import encode_column, parse_steps, redundant, restandardise

# Keys per role: (kind, extra standardisers). "exact" keys are the cleaned value.
_KEYS: dict[str, list[tuple[str, list[Any]]]] = {
    "given_name": [("exact", []), ("phonetic", ["soundex"]), ("initial", [{"first_n": 1}])],
    "surname": [("exact", []), ("phonetic", ["soundex"]), ("initial", [{"first_n": 1}])],
    "string": [("exact", []), ("phonetic", ["soundex"]), ("initial", [{"first_n": 1}])],
    "full_name": [("exact", []), ("words", [{"rarest_words": 1}])],
    "city": [("exact", []), ("phonetic", ["soundex"])],
    "date_of_birth": [("exact", []), ("year", [{"first_n": 4}]), ("month_day", [{"last_n": 5}])],
    "date": [("exact", []), ("year", [{"first_n": 4}]), ("month_day", [{"last_n": 5}])],
    "postal_code": [("exact", []), ("prefix", [{"first_n": 3}])],
    "email": [("exact", []), ("local_part", ["email_local_part"])],
    "phone": [("exact", [])],
    "street_address": [("exact", []), ("words", [{"rarest_words": 2}])],
    "house_number": [("exact", [])],
    "identifier": [("exact", [])],
    "text": [("exact", []), ("words", [{"rarest_words": 1}]), ("words", [{"rarest_words": 2}]), ("prefix", [{"first_n": 16}])],
}
_DEFAULT_KEYS = [("exact", [])]
MAX_PROBE_RULES = 48
PROBE_PER_RECORD = 20  # the first pass compares up to this many pairs a record (at least PROBE_MIN)
PROBE_MIN = 100_000
MIN_GAIN = 0.001  # a rule must add this share of the likely matches,
MIN_YIELD = 0.001  # and one likely match at least in every thousand of its pairs;
HOUSEHOLD_MIN_YIELD = 0.05  # in data with households, one in every twenty
HOUSEHOLDS = 0.25  # households: this share of the pairs at one address are different people


@dataclass(frozen=True)
class KeyVariant:
    """One blocking key of a column: the cleaned value, or a looser form of it."""

    column: str
    kind: str
    extra: tuple[Standardiser, ...]

    @property
    def key(self) -> BlockingKey:
        return BlockingKey(self.column, self.extra)


@dataclass(frozen=True)
class Candidate:
    """A candidate rule: one or two keys, its pairs from block sizes."""

    variants: tuple[KeyVariant, ...]
    pairs: int

    @property
    def rule(self) -> BlockingRule:
        return BlockingRule(tuple(v.key for v in self.variants))

    @property
    def exact(self) -> bool:
        return all(v.kind == "exact" for v in self.variants)


@dataclass(frozen=True)
class RuleChoice:
    """One chosen rule with what it costs and finds."""

    rule: BlockingRule
    pairs: int
    marginal_pairs: int
    gain: int  # likely matches it adds beyond the earlier rules

    def to_dict(self, likely: int) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "pairs": self.pairs,
            "marginal_pairs": self.marginal_pairs,
            "likely_matches_added": self.gain,
            "recall_gain": round(self.gain / likely, 4) if likely else None,
        }


@dataclass
class BlockingChoice:
    """The chosen rules and the evidence for them."""

    choices: list[RuleChoice]
    budget: int
    likely_matches: int
    probe_rules: int
    probe_pairs: int
    candidates: int
    notes: list[str] = field(default_factory=list)

    @property
    def rules(self) -> list[BlockingRule]:
        return [c.rule for c in self.choices]

    @property
    def estimated_recall(self) -> float:
        return sum(c.gain for c in self.choices) / self.likely_matches if self.likely_matches else 0.0

    def summary(self) -> str:
        total = sum(c.marginal_pairs for c in self.choices)
        lines = [
            f"Blocking: {len(self.choices)} rules chosen from {self.candidates} candidates, {total:,} pairs "
            f"(budget {self.budget:,}); estimated recall {self.estimated_recall:.1%} of the "
            f"{self.likely_matches:,} likely matches of a first pass",
            f"  {'rule':<44} {'pairs':>12} {'new pairs':>12} {'recall gain':>11}",
        ]
        for c in self.choices:
            gain = c.gain / self.likely_matches if self.likely_matches else 0.0
            lines.append(f"  {c.rule.name[:44]:<44} {c.pairs:>12,} {c.marginal_pairs:>12,} {gain:>+11.1%}")
        lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "likely_matches": self.likely_matches,
            "estimated_recall": round(self.estimated_recall, 4),
            "probe": {"rules": self.probe_rules, "pairs": self.probe_pairs},
            "candidates": self.candidates,
            "rules": [c.to_dict(self.likely_matches) for c in self.choices],
            "notes": self.notes,
        }


class CleanColumns:
    """The compared columns cleaned and dictionary-encoded once (in table row order), and keys from them."""

    def __init__(self, table: pa.Table, standardise: Mapping[str, list[Any]]) -> None:
        self._table = table
        self._steps = {col: parse_steps(steps) for col, steps in standardise.items()}
        self._cleaned: dict[str, tuple[np.ndarray, pa.Array]] = {}
        self._codes: dict[tuple[str, tuple[Standardiser, ...]], tuple[np.ndarray, int]] = {}

    def _column(self, column: str) -> tuple[np.ndarray, pa.Array]:
        if column not in self._cleaned:
            self._cleaned[column] = restandardise(*encode_column(self._table[column]), self._steps.get(column, ()))
        return self._cleaned[column]

    def codes(self, variant: KeyVariant) -> tuple[np.ndarray, int]:
        """(key code per record, -1 where missing; number of codes) of one key."""
        applied, needed = list(self._steps.get(variant.column, ())), []
        for step in variant.extra:
            if not redundant(step, applied):
                needed.append(step)
            applied.append(step)
        memo = (variant.column, tuple(needed))
        if memo not in self._codes:
            codes, values = self._column(variant.column)
            if needed:
                codes, values = restandardise(codes, values, needed)
            self._codes[memo] = (codes, len(values))
        return self._codes[memo]

    def column_codes(self, column: str) -> np.ndarray:
        """The code of each record's cleaned value (-1 where missing)."""
        return self._column(column)[0]

    def cleaned(self, column: str) -> tuple[np.ndarray, pa.Array]:
        """(code of each record's cleaned value, -1 where missing; the distinct cleaned values)."""
        return self._column(column)

    def rule_keys(self, variants: Sequence[KeyVariant]) -> np.ndarray:
        """One int64 key per record for a rule (-1 where a key is missing)."""
        parts = [self.codes(v) for v in variants]
        if len(parts) == 1:
            return parts[0][0].astype(np.int64)
        if len(parts) == 2:
            (a, _), (b, size) = parts
            return np.where((a >= 0) & (b >= 0), a.astype(np.int64) * max(size, 1) + b, -1)
        return _block_key(np.stack([c for c, _ in parts], axis=1), [n for _, n in parts])


def key_variants(column: str, role: str) -> list[KeyVariant]:
    """The blocking keys of a column with this role."""
    return [
        KeyVariant(column, kind, parse_steps(extra)) for kind, extra in _KEYS.get(role, _DEFAULT_KEYS)
    ]


def _count_pairs(keys: CleanColumns, rules: list[tuple[KeyVariant, ...]], sources: np.ndarray, link_type: str, engine: Any, chunk: int = 16) -> list[int]:
    """Each rule's pairs, counted by the engine from block sizes."""
    counts: list[int] = []
    for start in range(0, len(rules), chunk):
        batch = rules[start : start + chunk]
        matrix = np.stack([keys.rule_keys(r) for r in batch])
        table = keys_table(matrix, sources)
        with _engine(engine) as eng:
            counts += [eng.block_stats(table, r, link_type=link_type, top=1).pairs for r in range(len(batch))]
    return counts


class _engine:
    """The engine given, or a fresh DuckDB one (closed afterwards, which frees its block caches)."""

    def __init__(self, engine: Any) -> None:
        self._given = engine if hasattr(engine, "block_stats") else None
        self._name = None if self._given else engine
        self._made: Any = None

    def __enter__(self) -> Any:
        if self._given is not None:
            return self._given
        self._made = get_engine(self._name)
        return self._made

    def __exit__(self, *exc: Any) -> None:
        if self._made is not None:
            self._made.close()


def _candidates(
    keys: CleanColumns, variants: list[KeyVariant], sources: np.ndarray, link_type: str, budget: int, engine: Any
) -> list[Candidate]:
    """Single keys, and pairs of keys from different columns, with their pairs within the budget.

    A pair of keys is tried only when each key alone makes more pairs than
    there are records: a cheaper single key is the better rule already.
    """
    singles = [(v,) for v in variants]
    counts = dict(zip(singles, _count_pairs(keys, singles, sources, link_type, engine)))
    broad = [v for v in variants if counts[(v,)] > len(sources)]
    pairs = [(a, b) for a, b in itertools.combinations(broad, 2) if a.column != b.column]
    counts.update(zip(pairs, _count_pairs(keys, pairs, sources, link_type, engine)))
    return [Candidate(r, n) for r, n in counts.items() if 0 < n <= budget]


def _coverage(keys: CleanColumns, candidates: list[Candidate], left: np.ndarray, right: np.ndarray) -> list[np.ndarray]:
    """For each candidate, the likely matches (row pairs) it makes, as packed bits."""
    agree: dict[KeyVariant, np.ndarray] = {}
    for variant in {v for c in candidates for v in c.variants}:
        codes = keys.codes(variant)[0]
        agree[variant] = (codes[left] == codes[right]) & (codes[left] >= 0)
    out = []
    for cand in candidates:
        holds = agree[cand.variants[0]]
        for variant in cand.variants[1:]:
            holds = holds & agree[variant]
        out.append(np.packbits(holds))
    return out


def _implies(variant: KeyVariant, other: KeyVariant) -> bool:
    """Whether equal ``variant`` keys mean equal ``other`` keys (a looser key of the same column)."""
    return variant.column == other.column and (variant == other or variant.kind == "exact")


def _made_by(candidate: Candidate, singles: Sequence[KeyVariant]) -> bool:
    """Whether every pair of ``candidate`` is made by one of the single-key rules ``singles``."""
    return any(_implies(v, s) for v in candidate.variants for s in singles)


def _probe_rules(candidates: list[Candidate], budget: int) -> list[Candidate]:
    """Rules for the first pass: exact keys on every pair of columns, then looser keys, within the budget.

    Exact rules find the matches that agree on two columns; looser ones
    (phonetic codes, shared words) those with mistyped or missing fields. A
    rule is left out when a single-key rule already chosen makes its pairs.
    Each rule may take a quarter of the first pass's budget; most selective first.
    """
    chosen: list[Candidate] = []
    singles: list[KeyVariant] = []
    spent = 0
    limit = budget / 4
    exact = sorted((c for c in candidates if c.exact), key=lambda c: (len(c.variants), c.pairs))
    loose = sorted((c for c in candidates if not c.exact), key=lambda c: (len(c.variants), c.pairs))
    for cand in exact + loose:
        if cand.pairs > limit or spent + cand.pairs > budget or len(chosen) >= MAX_PROBE_RULES:
            continue
        if _made_by(cand, singles):
            continue
        chosen.append(cand)
        spent += cand.pairs
        if len(cand.variants) == 1:
            singles.append(cand.variants[0])
    return chosen


def _likely_matches(table: pa.Table, sources: np.ndarray, base: Mapping[str, Any], probe: list[Candidate], multi_source: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Row pairs that a first pass on the probe rules scores as matches, and the pairs it compared."""
    from .pipeline import run

    spec = dict(base, blocking_rules=[c.rule.to_json() for c in probe])
    spec["max_candidate_pairs"] = max(int(base.get("max_candidate_pairs", 0)), sum(c.pairs for c in probe) + 1)
    # The probe needs likely matches to count what each rule finds, not the
    # final model: one round of m (training.refine_m off) is enough.
    spec["training"] = dict(base.get("training") or {}, refine_m=False)
    data = table
    if multi_source:
        name = "__linkwise_source__"
        data = table.append_column(name, pa.array(sources.astype(np.int64)).cast(pa.string()))
        spec["source_column"] = name
    spec.pop("rename", None)  # the pooled table has the settings' names already
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(data, Settings.from_dict(spec))
    likely = result.match_probability >= 0.5
    order = result.records.order
    return order[result.left[likely]], order[result.right[likely]], len(result.left)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def _choose(
    candidates: list[Candidate],
    coverage: list[np.ndarray],
    n_likely: int,
    budget: int,
    all_pairs: float,
    min_yield: float = MIN_YIELD,
    new_pairs: Callable[[list[Candidate], Candidate], int] | None = None,
) -> list[tuple[int, int]]:
    """Greedy budgeted coverage: (candidate index, likely matches added), in order of choice.

    The next rule is the one that adds the most likely matches per pair it
    makes. A rule must add at least :data:`MIN_GAIN` of the likely matches, at
    a rate of at least ``min_yield`` per pair, and higher than pairs drawn at
    random would (``all_pairs`` is the number of pairs without blocking). The
    rate counts the pairs a rule adds: a rule that falls short on all its pairs
    is measured again on those the rules chosen before do not make
    (``new_pairs``, counted by the engine).
    """
    covered = np.zeros_like(coverage[0]) if coverage else np.zeros(0, np.uint8)
    chosen: list[tuple[int, int]] = []
    spent = 0
    min_gain = max(1, int(MIN_GAIN * n_likely))
    floor = max(n_likely / max(all_pairs, 1.0), min_yield)
    refused: set[int] = set()
    while len(chosen) < 64:
        taken = {i for i, _ in chosen}
        ranked = []
        for i, (cand, cov) in enumerate(zip(candidates, coverage)):
            if i in taken or i in refused or cand.pairs + spent > budget:
                continue
            gain = int(_POPCOUNT[cov & ~covered].sum())
            if gain >= min_gain:
                ranked.append((gain / cand.pairs, gain, i))
        pick = None
        for score, gain, i in sorted(ranked, reverse=True):
            if score > floor:
                pick, cost = (i, gain), candidates[i].pairs
                break
            added = new_pairs([candidates[j] for j, _ in chosen], candidates[i]) if new_pairs else candidates[i].pairs
            if gain / max(added, 1) > floor:
                pick, cost = (i, gain), added
                break
            refused.add(i)
        if pick is None:
            break
        chosen.append(pick)
        covered |= coverage[pick[0]]
        spent += cost
    return chosen


def _prune(chosen: list[tuple[int, int]], candidates: list[Candidate], coverage: list[np.ndarray]) -> list[tuple[int, int]]:
    """Drop rules whose pairs a chosen single-key rule makes anyway; recount what each adds."""
    singles = [candidates[i].variants[0] for i, _ in chosen if len(candidates[i].variants) == 1]
    kept = [
        i for i, _ in chosen
        if not _made_by(candidates[i], [s for s in singles if (s,) != candidates[i].variants])
    ]
    covered = np.zeros_like(coverage[0]) if coverage else np.zeros(0, np.uint8)
    out = []
    for i in kept:
        out.append((i, int(_POPCOUNT[coverage[i] & ~covered].sum())))
        covered |= coverage[i]
    return out


def choose_blocking(
    table: pa.Table,
    sources: np.ndarray,
    base: Mapping[str, Any],
    *,
    roles: Mapping[str, str],
    budget: int,
    engine: Any = None,
    multi_source: bool = False,
    columns: CleanColumns | None = None,
) -> BlockingChoice:
    """Choose blocking rules for ``base`` settings (without rules) on the pooled input ``table``.

    ``columns`` holds the table's columns already cleaned as ``base`` says.
    """
    link_type = base.get("link_type", "dedupe")
    keys = columns or CleanColumns(table, base.get("standardise", {}))
    variants = [v for col, role in roles.items() for v in key_variants(col, role)]
    candidates = _candidates(keys, variants, sources, link_type, budget, engine)
    notes: list[str] = []
    probe = _probe_rules(candidates, min(budget, max(PROBE_PER_RECORD * len(sources), PROBE_MIN)))
    if not probe:
        probe = sorted(candidates, key=lambda c: c.pairs)[:3]
    if not probe:
        from .errors import BlockingError

        raise BlockingError(
            "zero configuration found no blocking rule: no two records share a value of any compared column "
            "within the budget of candidate pairs; raise it with --max-pairs"
        )
    left, right, probe_pairs = _likely_matches(table, sources, base, probe, multi_source)
    coverage = _coverage(keys, candidates, left, right)
    if len(left):
        min_yield = MIN_YIELD
        households = household_share(keys, roles)
        if households is not None and households >= HOUSEHOLDS:
            # Training learns m rule by rule from each rule's pairs: a rule whose
            # pairs are mostly the other members of households teaches it households.
            min_yield = HOUSEHOLD_MIN_YIELD
            notes.append(
                f"{households:.0%} of the pairs of records at one address differ in given name and birth date: "
                f"households. A rule must find a likely match in 1 of every {round(1 / min_yield)} of its pairs."
            )
        def new_pairs(before: list[Candidate], rule: Candidate) -> int:
            return _marginal_pairs(keys, [c.variants for c in [*before, rule]], sources, link_type, engine)[-1]

        chosen = _choose(candidates, coverage, len(left), budget, _all_pairs(sources, link_type), min_yield, new_pairs)
        chosen = _prune(chosen, candidates, coverage)
    else:
        notes.append("The first pass found no likely matches: the most selective exact rules are used.")
        chosen = [(candidates.index(c), 0) for c in probe[:3]]
    rules = [candidates[i] for i, _ in chosen]
    marginal = _marginal_pairs(keys, [c.variants for c in rules], sources, link_type, engine)
    choices = [
        RuleChoice(c.rule, c.pairs, m, gain) for c, m, (_, gain) in zip(rules, marginal, chosen)
    ]
    return BlockingChoice(choices, budget, len(left), len(probe), probe_pairs, len(candidates), notes)


def household_share(keys: CleanColumns, roles: Mapping[str, str], *, largest: int = 50) -> float | None:
    """Share of the pairs of records at one street address that differ in given name and birth date.

    Duplicates of one person at an address agree on at least one of the two
    (a typing error rarely hits both); members of a household differ in
    both. Near 0 for data without households, a half or more with them. None
    without a street address, a given name and a date of birth. Addresses
    held by more than ``largest`` records (placeholders) are skipped.
    """
    def first(role: str) -> str | None:
        return next((col for col, r in roles.items() if r == role), None)

    street, number, given, born = first("street_address"), first("house_number"), first("given_name"), first("date_of_birth")
    if street is None or given is None or born is None:
        return None
    address = keys.rule_keys([KeyVariant(c, "exact", ()) for c in (number, street) if c is not None])
    names, dates = keys.column_codes(given), keys.column_codes(born)
    present = np.flatnonzero((address >= 0) & (names >= 0) & (dates >= 0))
    order = present[np.argsort(address[present], kind="stable")]
    starts = np.flatnonzero(np.r_[True, address[order][1:] != address[order][:-1]]) if len(order) else order
    sizes = np.diff(np.r_[starts, len(order)])
    differ = total = 0
    for size in np.unique(sizes):
        if size < 2 or size > largest:
            continue
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        i, j = np.triu_indices(size, 1)
        a, b = members[:, i].ravel(), members[:, j].ravel()
        differ += int(np.count_nonzero((names[a] != names[b]) & (dates[a] != dates[b])))
        total += len(a)
    return differ / total if total else None


def _all_pairs(sources: np.ndarray, link_type: str) -> float:
    """Pairs of records the link type allows, without blocking."""
    n = float(len(sources))
    if link_type != "link":
        return n * (n - 1) / 2
    sizes = np.bincount(sources).astype(float)
    return float((n**2 - (sizes**2).sum()) / 2)


def _marginal_pairs(keys: CleanColumns, rules: list[tuple[KeyVariant, ...]], sources: np.ndarray, link_type: str, engine: Any) -> list[int]:
    """Pairs each rule adds beyond the rules before it, from the engine's counting join."""
    if not rules:
        return []
    table = keys_table(np.stack([keys.rule_keys(r) for r in rules]), sources)
    with _engine(engine) as eng:
        return [eng.marginal_pairs(table, r, link_type=link_type) for r in range(len(rules))]
