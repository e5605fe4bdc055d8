"""Blocking: which pairs of records are compared at all.

A rule is a conjunction of equalities on (standardised) columns; rules are
OR-ed, and each candidate pair is made exactly once, by the first rule that
holds for it. Before any pair is made, the pairs of each rule are counted from
block sizes, and a rule set over the pair budget is refused with advice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from . import kernels
from .errors import BlockingError
from .settings import BlockingRule


@dataclass(frozen=True)
class RuleReport:
    """Pairs of one rule: alone (from block sizes) and beyond the earlier rules."""

    rule: str
    pairs: int
    marginal_pairs: int | None
    largest_blocks: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "pairs": self.pairs,
            "marginal_pairs": self.marginal_pairs,
            "largest_blocks": [{"key": k, "records": n} for k, n in self.largest_blocks],
        }


def keys_table(keys: np.ndarray, source_codes: np.ndarray) -> pa.Table:
    """The Arrow table of record keys that engines block on (nulls for missing keys)."""
    columns = {
        "idx": pa.array(np.arange(keys.shape[1], dtype=np.int32)),
        "src": pa.array(source_codes.astype(np.int16)),
    }
    for r in range(keys.shape[0]):
        columns[f"k{r}"] = pa.array(keys[r], mask=keys[r] < 0)
    return pa.table(columns)


def analyse(
    engine,
    table: pa.Table,
    rules: tuple[BlockingRule, ...],
    *,
    link_type: str,
    describe_key: Callable[[int, int], str],
) -> list[RuleReport]:
    """Count each rule's pairs from block sizes, without making them."""
    reports = []
    for r, rule in enumerate(rules):
        stats = engine.block_stats(table, r, link_type=link_type)
        largest = tuple((describe_key(r, key), n) for key, n in stats.largest_blocks)
        reports.append(RuleReport(rule.name, stats.pairs, None, largest))
    return reports


def with_marginal_pairs(engine, table: pa.Table, reports: list[RuleReport], *, link_type: str) -> list[RuleReport]:
    """The reports with each rule's pairs beyond the earlier rules, from a counting join."""
    return [
        replace(rep, marginal_pairs=engine.marginal_pairs(table, r, link_type=link_type))
        for r, rep in enumerate(reports)
    ]


def check_budget(reports: list[RuleReport], budget: int) -> None:
    """Refuse a rule set whose pairs exceed ``budget``, naming the rule at fault."""
    worst = max(reports, key=lambda rep: rep.pairs)
    if worst.pairs > budget:
        largest = worst.largest_blocks[:3]
        # Block keys are record values: the message gives sizes; the values are in the detail.
        counts = [f"{n:,}" for _, n in largest]
        sizes = " and ".join([", ".join(counts[:-1]), counts[-1]] if len(counts) > 1 else counts)
        raise BlockingError(
            f"blocking rule '{worst.rule}' alone makes {worst.pairs:,} pairs, over the budget of "
            f"{budget:,} (setting 'max_candidate_pairs'). Its largest blocks hold {sizes} records "
            "(--debug shows their key values). "
            "Make the rule stricter (add a column), clean placeholder values, or raise the budget",
            detail="largest blocks: " + "; ".join(f"{k!s} ({n:,} records)" for k, n in largest),
        )


def check_union_budget(reports: list[RuleReport], budget: int) -> None:
    """Refuse when the union of all rules (marginal pairs) exceeds the budget."""
    total = sum(rep.marginal_pairs or 0 for rep in reports)
    if total > budget:
        worst = max(reports, key=lambda rep: rep.marginal_pairs or 0)
        raise BlockingError(
            f"the blocking rules make {total:,} pairs together, over the budget of {budget:,} "
            f"(setting 'max_candidate_pairs'); rule '{worst.rule}' adds the most ({worst.marginal_pairs:,}). "
            "Make it stricter, drop it, or raise the budget"
        )


def mask_dtype(n_rules: int) -> np.dtype:
    """The smallest unsigned integer type with a bit per rule."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if n_rules <= np.dtype(dtype).itemsize * 8:
            return np.dtype(dtype)
    raise ValueError(f"at most 64 blocking rules, not {n_rules}")


def rule_masks(keys: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Bit r set when rule r holds for the pair (its keys equal and present); at most 64 rules."""
    masks = np.empty(len(left), dtype=mask_dtype(keys.shape[0]))
    kernels.rule_bits(keys, left, right, masks)
    return masks


def rule_holds(masks: np.ndarray, rule: int) -> np.ndarray:
    """Whether rule ``rule`` holds for each pair, from its mask."""
    one = masks.dtype.type(1)
    return ((masks >> masks.dtype.type(rule)) & one).astype(bool)


def first_rule(masks: np.ndarray, n_rules: int) -> np.ndarray:
    """Index of the first rule that holds (the rule that made the pair)."""
    out = np.full(len(masks), n_rules, dtype=np.int16)
    for r in reversed(range(n_rules)):
        out[rule_holds(masks, r)] = r
    return out


def candidate_pairs(engine, table: pa.Table, *, link_type: str, n_records: int) -> tuple[np.ndarray, np.ndarray]:
    """All candidate pairs as (left, right) int32 record indices, left < right, sorted.

    Engines return pairs in no fixed order (parallel joins); sorting makes every
    later stage, and the outputs, the same from run to run (a counting sort by
    left record).
    """
    batches = list(engine.candidate_pairs(table, link_type=link_type, batch_rows=4_000_000))
    if not batches:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    left = np.concatenate([b.column(0).to_numpy() for b in batches])
    right = np.concatenate([b.column(1).to_numpy() for b in batches])
    del batches
    return kernels.sort_pairs(left, right, n_records)
