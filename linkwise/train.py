"""Train: u from random pairs and value frequencies, m and the prior by EM on pattern counts.

Four steps, each on small tables of agreement-pattern counts:

1. u of the population, from seeded random pairs (exact-match u from value
   frequencies where possible). This u also scales term-frequency adjustments.
2. A first m, rule by rule: the pairs each blocking rule makes agree on the
   blocked fields far more often than random pairs do, so, as usual for
   Fellegi–Sunter on blocked data, each rule's EM leaves out the comparisons of
   its own fields, and the estimates are pooled. Rules are taken from the most
   selective; one with more pairs than there are records is mostly
   non-matches and is skipped when more selective rules already inform its
   comparisons (on 10M people its namesake pairs otherwise passed for matches).
3. Final EM on all candidate pairs for u and the prior, with m held from
   step 2. Its u is the u *among candidate pairs*: the non-matches that
   blocking lets through (household members sharing an address, namesakes)
   agree on far more than random pairs, and a u taken from random pairs would
   count each shared address as near proof of identity. m stays held because,
   left free as well, EM on blocked pairs can settle on another split of the
   data (e.g. "same postal code or not") instead of "same entity or not".
4. With ``training.refine_m`` (the default), steps 2 and 3 once more, each
   rule's pairs judged against the u among candidate pairs from step 3
   instead of the population's. A rule's non-matches are not random pairs:
   those a rule on the phone makes are household members, who share a
   surname, an address and a postal code, which random pairs almost never
   do. Against the population's u, EM counted them as matches and inflated
   m of the disagreements that set them apart (birth date, sex, first name).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import kernels
from .compare import ComparisonKernel, compare_pairs, dense_codes, sample_pairs
from .dependence import correct_non_match_dependences
from .labels import LabelEvidence, calibrate_m
from .model import ConvergenceWarning, FellegiSunterModel, _normalise, model_from_document
from .prepare import PreparedComparison
from .settings import Comparison, Settings


_BATCH = 250_000
U_BATCH = 100_000
"""Random pairs compared at a time to estimate u."""


@dataclass(frozen=True)
class PatternCounts:
    """Distinct agreement patterns (rows of levels) and how many pairs show each."""

    patterns: np.ndarray  # (n_patterns, n_comparisons) uint8
    counts: np.ndarray  # (n_patterns,) float
    inverse: np.ndarray  # pattern index of each pair

    @classmethod
    def of(cls, levels: np.ndarray, n_levels: list[int]) -> PatternCounts:
        if float(np.prod(n_levels, dtype=float)) < 2.0**62:
            # One mixed-radix code per pattern, made and hashed a batch of pairs at a time.
            inverse = np.empty(len(levels), dtype=np.int32)
            table = kernels.new_hash_table()
            for start in range(0, len(levels), _BATCH):
                batch = levels[start : start + _BATCH]
                code = np.zeros(len(batch), dtype=np.int64)
                for c, k in enumerate(n_levels):
                    code *= k
                    code += batch[:, c]
                table = kernels.hash_insert(code, *table, inverse, start)
            distinct = table[1][: table[2]]
            patterns = np.empty((len(distinct), len(n_levels)), dtype=np.uint8)
            rest = distinct.copy()
            for c in reversed(range(len(n_levels))):
                patterns[:, c] = rest % n_levels[c]
                rest //= n_levels[c]
        else:
            # Too many levels for one 64-bit code: renumber after each column.
            inverse = np.zeros(len(levels), dtype=np.int64)
            for c, k in enumerate(n_levels):
                inverse = dense_codes(inverse.astype(np.int64) * k + levels[:, c])[1]
            first = np.full(int(inverse.max(initial=-1)) + 1, len(levels), dtype=np.int64)
            np.minimum.at(first, inverse, np.arange(len(levels)))
            patterns = levels[first]
        counts = kernels.bincount(inverse, minlength=len(patterns)).astype(float)
        return cls(patterns, counts, inverse)


def fixed_parameters(settings: Settings) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per comparison, the m and u the user fixed (NaN where free)."""
    fixed_m, fixed_u = [], []
    for comp in settings.comparisons:
        m = np.full(comp.n_levels, np.nan)
        u = np.full(comp.n_levels, np.nan)
        for i, level in enumerate(comp.levels, start=1):
            if level.fixed_m is not None:
                m[i] = level.fixed_m
            if level.fixed_u is not None:
                u[i] = level.fixed_u
        fixed_m.append(m)
        fixed_u.append(u)
    return fixed_m, fixed_u


def exact_u_applies(comp: Comparison) -> bool:
    """Whether a comparison's exact-match u comes from value frequencies: one column, first level exact on it."""
    return len(comp.columns) == 1 and comp.levels[0].kind == "exact" and comp.levels[0].columns in (None, comp.columns)


def exact_u_from_frequencies(
    prepared: PreparedComparison, source_codes: np.ndarray, link_type: str
) -> float | None:
    """P(two random records agree exactly | both have a value), from value counts.

    Exact, with no sampling error, for a one-column comparison whose first level
    is an exact match on it; None otherwise.
    """
    if not exact_u_applies(prepared.comparison):
        return None
    codes = prepared.tuple_codes
    valid = codes >= 0
    if link_type == "link":
        sources = np.unique(source_codes)
        n_values = len(prepared.tuple_columns)
        per_source = [np.bincount(codes[valid & (source_codes == s)], minlength=n_values).astype(float) for s in sources]
        totals = np.array([c.sum() for c in per_source])
        agree = sum(per_source[i] @ per_source[j] for i in range(len(sources)) for j in range(i + 1, len(sources)))
        pairs = sum(totals[i] * totals[j] for i in range(len(sources)) for j in range(i + 1, len(sources)))
    else:
        counts = np.bincount(codes[valid]).astype(float)
        agree = float((counts * (counts - 1)).sum() / 2)
        n = float(counts.sum())
        pairs = n * (n - 1) / 2
    return float(agree / pairs) if pairs > 0 else None


def u_sample(settings: Settings, n_records: int, source_codes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The seeded random record pairs that u is estimated from (``source_codes`` needed in link mode only)."""
    return sample_pairs(
        n_records,
        settings.training.u_sample_pairs,
        seed=settings.seed,
        source_codes=source_codes,
        link_type=settings.link_type,
    )


def estimate_u(
    kernels: list[ComparisonKernel],
    prepared: list[PreparedComparison],
    settings: Settings,
    source_codes: np.ndarray,
) -> list[np.ndarray]:
    """u per level from seeded random pairs; exact-match u from value frequencies where possible."""
    left, right = u_sample(settings, len(source_codes), source_codes)
    # Compared a batch at a time (random pairs share few values, so the
    # temporaries are as many as the pairs): only the level counts are kept.
    level_counts = [np.zeros(prep.n_levels, dtype=np.int64) for prep in prepared]
    for start in range(0, len(left), U_BATCH):
        levels = compare_pairs(kernels, left[start : start + U_BATCH], right[start : start + U_BATCH])
        for c, prep in enumerate(prepared):
            level_counts[c] += np.bincount(levels[:, c], minlength=prep.n_levels)
    del left, right
    exact = [exact_u_from_frequencies(prep, source_codes, settings.link_type) for prep in prepared]
    return u_from_level_counts(level_counts, exact, settings)


def u_from_level_counts(level_counts: list[np.ndarray], exact: list[float | None], settings: Settings) -> list[np.ndarray]:
    """u per level from the level counts of the random pairs, and the exact-match u from frequencies (or None)."""
    _, fixed_u = fixed_parameters(settings)
    u = []
    for c, comp in enumerate(settings.comparisons):
        counts = np.asarray(level_counts[c], dtype=float).copy()
        # Half a pair of pseudo-count: a level never seen among random pairs is rare, not impossible.
        counts[1:] += 0.5
        if exact[c] is not None and np.isnan(fixed_u[c][1]):
            rest = counts[2:].sum()
            counts[1] = exact[c] * rest / max(1.0 - exact[c], 1e-12)
        u.append(_normalise(counts, fixed_u[c]))
    return u


def _excluded(settings: Settings) -> list[set[int]]:
    """For each blocking rule, the comparisons that share a column with it."""
    out = []
    for rule in settings.blocking_rules:
        cols = set(rule.columns)
        out.append({c for c, comp in enumerate(settings.comparisons) if cols & set(comp.columns)})
    return out


def train(
    levels: np.ndarray,
    masks: np.ndarray,
    u: list[np.ndarray],
    settings: Settings,
    *,
    total_pairs: float,
    counts: PatternCounts | None = None,
    n_records: int | None = None,
    mask_counts: MaskCounts | None = None,
    labels: LabelEvidence | None = None,
) -> tuple[FellegiSunterModel, PatternCounts, dict]:
    """Estimate m (rule by rule) and the candidate-pair prior, with u held.

    ``n_records`` (the number of records) lets rules with more pairs than
    records be left out of m where more selective rules inform the same
    comparisons; without it every rule is used.

    Returns the fitted model, the pattern counts of all candidate pairs and a
    record of what was estimated where.
    """
    if counts is None:
        counts = PatternCounts.of(levels, [c.n_levels for c in settings.comparisons])
    if mask_counts is None:
        mask_counts = MaskCounts.of(counts, masks, len(settings.blocking_rules))
    known = None if labels is None else labels.known_by_pattern(counts.inverse, len(counts.patterns))
    model, info = train_on_counts(
        counts.patterns, counts.counts, mask_counts, u, settings,
        total_pairs=total_pairs, n_records=n_records, labels=labels, known=known,
    )
    return model, counts, info


def train_on_counts(
    patterns: np.ndarray,
    counts: np.ndarray,
    by_mask: MaskCounts,
    u: list[np.ndarray],
    settings: Settings,
    *,
    total_pairs: float,
    n_records: int | None = None,
    labels: LabelEvidence | None = None,
    known: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[FellegiSunterModel, dict]:
    """:func:`train` on aggregates alone: the distinct ``patterns``, the pairs showing each,
    and the pairs of each pattern by the set of blocking rules that hold for them (``by_mask``).

    This is all an engine that keeps the pairs elsewhere (Spark) hands to the driver.
    ``labels`` (with ``known``, the labelled candidate pairs of each pattern) calibrate m.
    """
    # The pairs of each pattern among those a rule holds for: the masks with its bit set.
    rule_counts = [by_mask.rule_counts(r).astype(float) for r in range(len(settings.blocking_rules))]
    own = _excluded(settings)
    m, pooled_weight, per_rule, missing = _m_rule_by_rule(patterns, counts, rule_counts, u, own, settings, n_records)
    final = _fit_final(patterns, counts, m, pooled_weight, u, settings, total_pairs, labels, known)
    if settings.training.refine_m:
        # Once more, each rule's pairs judged against the u among candidate pairs.
        m, pooled_weight, per_rule, missing = _m_rule_by_rule(
            patterns, counts, rule_counts, u, own, settings, n_records, rule_u=final.u_
        )
        final = _fit_final(patterns, counts, m, pooled_weight, u, settings, total_pairs, labels, known)
    info = {
        "rules": per_rule,
        "m_from_all_pairs": [settings.comparisons[c].name for c in missing],
        "rules_judged_against": "u among candidate pairs" if settings.training.refine_m else "u of random pairs",
    }
    if labels is not None:
        info["labels"] = labels.summary()
    info["dependence"] = correct_dependences(final, patterns, counts, by_mask, settings)
    # Term-frequency adjustments scale the population's exact-match u, from random pairs.
    final.tf_u_ = [np.asarray(x, float) for x in u]
    return final, info


def _m_rule_by_rule(
    patterns: np.ndarray,
    counts: np.ndarray,
    rule_counts: list[np.ndarray],
    u: list[np.ndarray],
    excluded: list[set[int]],
    settings: Settings,
    n_records: int | None,
    rule_u: list[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], np.ndarray, list[dict], list[int]]:
    """m pooled over the rules' EMs, rule ``r`` leaving out the comparisons ``excluded[r]``, with u held
    at ``rule_u`` (default: the population's ``u``, which also serves the EM on all pairs).

    Comparisons that every rule leaves out get m from EM on all candidate
    pairs. Returns m, the estimated matches behind each comparison's m, what
    each rule did, and the comparisons whose m came from all pairs.
    """
    n_levels = [c.n_levels for c in settings.comparisons]
    fixed_m, fixed_u = fixed_parameters(settings)
    pooled = [np.zeros(k) for k in n_levels]
    pooled_weight = np.zeros(len(n_levels))
    per_rule: list[dict] = [{} for _ in settings.blocking_rules]
    rule_pairs = [int(x.sum()) for x in rule_counts]
    # The most selective rules first: their pairs are mostly matches, so EM
    # tells matches apart best there. A rule with more pairs than records is
    # mostly non-matches (namesakes, people of one postal code) and, weighing
    # most, could pull m towards them; it is used only for comparisons that no
    # more selective rule informs.
    for r in sorted(range(len(rule_pairs)), key=lambda r: (rule_pairs[r], r)):
        name = settings.blocking_rules[r].name
        informs = [c for c in range(len(n_levels)) if c not in excluded[r]]
        if rule_pairs[r] < 10 or not informs:
            per_rule[r] = {"rule": name, "pairs": rule_pairs[r], "used": False, "why": "too few pairs or no comparison to learn"}
            continue
        if n_records is not None and rule_pairs[r] > n_records and all(pooled_weight[c] > 0 for c in informs):
            per_rule[r] = {"rule": name, "pairs": rule_pairs[r], "used": False, "why": "more pairs than records; more selective rules inform its comparisons"}
            continue
        keep = rule_counts[r] > 0
        rule_patterns = patterns[keep].copy()
        rule_patterns[:, sorted(excluded[r])] = 0
        model = FellegiSunterModel(
            n_levels,
            fixed_m=fixed_m,
            fixed_u=fixed_u,
            max_iterations=settings.training.em_max_iterations,
            tolerance=settings.training.em_tolerance,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(rule_patterns, rule_counts[r][keep], u=u if rule_u is None else rule_u)
        matches = model.prior_ * rule_counts[r].sum()
        for c in informs:
            pooled[c] += matches * model.m_[c]
            pooled_weight[c] += matches
        per_rule[r] = {
            "rule": name,
            "pairs": rule_pairs[r],
            "used": True,
            "estimated_matches": float(matches),
            "iterations": model.n_iter_,
            "converged": model.converged_ and not caught,
            "left_out": [settings.comparisons[c].name for c in sorted(excluded[r])],
        }

    missing = [c for c in range(len(n_levels)) if pooled_weight[c] <= 0]
    start_m = [pooled[c] / pooled_weight[c] if pooled_weight[c] > 0 else None for c in range(len(n_levels))]
    if missing:
        fallback = FellegiSunterModel(
            n_levels,
            fixed_m=fixed_m,
            fixed_u=fixed_u,
            max_iterations=settings.training.em_max_iterations,
            tolerance=settings.training.em_tolerance,
        ).fit(patterns, counts, m=start_m, u=u)
        for c in missing:
            start_m[c] = fallback.m_[c]
            pooled_weight[c] = fallback.prior_ * float(counts.sum())
    m = [_normalise(np.asarray(x, float), f) for x, f in zip(start_m, fixed_m)]
    return m, pooled_weight, per_rule, missing


def _fit_final(
    patterns: np.ndarray,
    counts: np.ndarray,
    m: list[np.ndarray],
    pooled_weight: np.ndarray,
    u: list[np.ndarray],
    settings: Settings,
    total_pairs: float,
    labels: LabelEvidence | None,
    known: tuple[np.ndarray, np.ndarray] | None,
) -> FellegiSunterModel:
    """EM on all candidate pairs for their u and the prior, m held (calibrated first by labelled matches, if any)."""
    n_levels = [c.n_levels for c in settings.comparisons]
    fixed_m, fixed_u = fixed_parameters(settings)
    if labels is not None:
        # Labelled matches calibrate m; labelled candidates keep their class in EM.
        m = calibrate_m(m, pooled_weight, labels.levels[labels.is_match], fixed_m)
        if known is None:
            raise ValueError("labels need the labelled candidate pairs of each pattern (known)")
    fixed_prior = None
    if settings.training.prior is not None:
        n_candidates = max(float(counts.sum()), 1.0)
        fixed_prior = float(np.clip(settings.training.prior * total_pairs / n_candidates, 1e-9, 0.999))
    return FellegiSunterModel(
        n_levels,
        fixed_m=fixed_m,
        fixed_u=fixed_u,
        fixed_prior=fixed_prior,
        max_iterations=settings.training.em_max_iterations,
        tolerance=settings.training.em_tolerance,
    ).fit(
        patterns,
        counts - (known[0] + known[1] if known is not None else 0.0),
        m=m,
        u=u,
        estimate_m=False,
        estimate_u=True,
        known=known,
    )


def loaded_model(doc: dict, settings: Settings, where: str, *, total_pairs: float, n_candidates: int) -> FellegiSunterModel:
    """A model read from its document, its prior moved from random pairs to these candidate pairs."""
    model = model_from_document(doc, settings.comparisons, where)
    random_prior = float(doc.get("random_pair_prior", model.prior_))
    candidate_prior = random_prior * total_pairs / max(n_candidates, 1)
    model.prior_ = float(np.clip(candidate_prior, 1e-9, 0.999))
    return model


@dataclass(frozen=True)
class MaskCounts:
    """Pairs of each agreement pattern by the set of blocking rules that hold for them."""

    masks: np.ndarray  # distinct rule masks (bit r: rule r holds)
    counts: np.ndarray  # (n_patterns, n_masks)

    @classmethod
    def of(cls, counts: PatternCounts, masks: np.ndarray, n_rules: int) -> MaskCounts:
        if n_rules <= 20:  # masks index a small table directly
            used = kernels.bincount(masks, minlength=1 << n_rules)
            distinct = np.flatnonzero(used)
            position = np.zeros(len(used), dtype=np.int64)
            position[distinct] = np.arange(len(distinct))
            table = kernels.pattern_mask_counts(counts.inverse, masks, position, len(counts.patterns), len(distinct))
            return cls(distinct.astype(np.uint64), table)
        distinct, mask_index = np.unique(masks, return_inverse=True)
        table = np.zeros((len(counts.patterns), len(distinct)))
        np.add.at(table, (counts.inverse, mask_index.reshape(-1)), 1.0)
        return cls(distinct.astype(np.uint64), table)

    def rule_counts(self, rule: int) -> np.ndarray:
        """Pairs of each pattern for which rule ``rule`` holds (float counts)."""
        holds = (self.masks >> np.uint64(rule)) & np.uint64(1) != 0
        return self.counts @ holds.astype(self.counts.dtype)

    def by_mask(self, pattern_weight: np.ndarray) -> np.ndarray:
        """Weighted pairs of each mask, each pattern weighing ``pattern_weight`` (e.g. its posterior)."""
        return pattern_weight @ self.counts


def _counts_outside_rules(counts: MaskCounts, settings: Settings) -> Callable[[tuple[int, ...]], np.ndarray | None]:
    """Pattern counts of the pairs made by a rule that involves none of the given comparisons.

    A blocking rule makes only pairs that agree on its fields, and so makes
    those fields look dependent among its pairs; pairs that rules on other
    fields made show them as they are.
    """
    excluded = _excluded(settings)
    cache: dict[int, np.ndarray | None] = {}

    def counts_for(group: tuple[int, ...]) -> np.ndarray | None:
        allowed = sum(1 << r for r, comps in enumerate(excluded) if not comps & set(group))
        if allowed not in cache:
            made = (counts.masks & np.uint64(allowed)) != 0
            # A product with the 0/1 column weights, not a copy of the chosen columns.
            cache[allowed] = counts.counts @ made.astype(counts.counts.dtype) if made.any() else None
        return cache[allowed]

    return counts_for


def correct_dependences(
    model: FellegiSunterModel, patterns: np.ndarray, counts: np.ndarray, by_mask: MaskCounts, settings: Settings
) -> dict:
    """Find comparisons dependent within a class; score the non-matches' dependences jointly.

    Each pair of comparisons is judged on the pairs of rules that involve
    neither (see :mod:`linkwise.dependence`). Dependences among matches (a
    move changes address and postal code together) are reported but not
    corrected: m is held from the rule-by-rule estimates. Returns what was
    found and corrected, for the model file.
    """
    if not settings.training.correct_dependence:
        model.interactions_ = []
        return {"corrected": []}
    names = [c.name for c in settings.comparisons]
    found = correct_non_match_dependences(
        model,
        patterns,
        counts,
        min_information=settings.training.dependence_min_bits,
        counts_for=_counts_outside_rules(by_mask, settings),
    )
    return {
        "found": [d.to_dict(names) for d in found],
        "corrected": [[names[c] for c in x.comparisons] for x in model.interactions_],
    }
