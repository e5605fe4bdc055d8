"""Stages on Arrow batches of records or pairs, for engines that run them where the data lives.

Spark's ``mapInArrow`` hands each partition's rows to Python as Arrow record
batches. The functions here turn such batches into standardised columns,
comparison levels and match weights with the code of the one-machine pipeline
(:mod:`linkwise.standardise`, :class:`linkwise.compare.ComparisonKernel`, the
sums of :mod:`linkwise.score`), so that both engines give the same results.
Nothing here imports an engine; the plans are small frozen values that travel
to the workers.

A level depends only on the two values compared, never on which other values
share a batch, so comparing a batch with its own dictionary gives the levels
that the whole-table dictionary gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .compare import ComparisonKernel
from .dependence import Interaction
from .model import FellegiSunterModel
from .prepare import needed_steps, prepared_from_encoded, tf_levels
from .settings import Comparison, Settings, Standardiser
from .standardise import encode_column, restandardise


@dataclass(frozen=True)
class StandardisedColumn:
    """One standardised column of the records: ``column`` cleaned by its ``base`` steps, then ``extra``."""

    name: str
    column: str
    base: tuple[Standardiser, ...]
    extra: tuple[Standardiser, ...]


@dataclass(frozen=True)
class PreparePlan:
    """Every standardised column that comparisons and blocking keys use, each made once.

    Two uses whose extra steps differ only by steps that change nothing share a column.
    """

    columns: tuple[StandardisedColumn, ...]
    uses: tuple[tuple[tuple[str, tuple[Standardiser, ...]], str], ...]  # ((column, extra as given), name)

    @classmethod
    def of(cls, settings: Settings) -> PreparePlan:
        wanted = {(col, comp.standardise) for comp in settings.comparisons for col in comp.columns}
        wanted |= {(k.column, k.standardise) for rule in settings.blocking_rules for k in rule.keys}
        effective = {
            (col, extra): (col, settings.steps_for(col), needed_steps(settings.steps_for(col), extra))
            for col, extra in wanted
        }
        distinct = sorted(set(effective.values()), key=lambda e: (e[0], str(e[1]), str(e[2])))
        names = {e: f"_s{i}" for i, e in enumerate(distinct)}
        columns = tuple(StandardisedColumn(names[e], *e) for e in distinct)
        uses = tuple(sorted(((use, names[e]) for use, e in effective.items()), key=lambda item: (item[1], str(item[0]))))
        return cls(columns, uses)

    def name_of(self, column: str, extra: tuple[Standardiser, ...]) -> str:
        """The standardised column holding ``column`` with a comparison's or key's ``extra`` steps."""
        return dict(self.uses)[(column, extra)]

    def comparison_columns(self, comparison: Comparison) -> tuple[str, ...]:
        return tuple(self.name_of(col, comparison.standardise) for col in comparison.columns)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The input columns standardised."""
        return tuple(sorted({c.column for c in self.columns}))


def as_text(column: pa.Array, name: str) -> pa.Array:
    """A column as text, cast by Arrow as the one-machine reader casts it."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    return pc.cast(column, pa.string())


def _materialise(codes: np.ndarray, values: pa.Array) -> pa.Array:
    """Each row's value from its code (-1: null)."""
    return values.take(pa.array(codes, mask=codes < 0))


def standardise_batch(batch: pa.RecordBatch, plan: PreparePlan) -> dict[str, pa.Array]:
    """The plan's standardised columns of a batch of records, by name."""
    raw: dict[str, tuple[np.ndarray, pa.Array]] = {}
    base: dict[str, tuple[np.ndarray, pa.Array]] = {}
    out: dict[str, pa.Array] = {}
    for spec in plan.columns:
        if spec.column not in base:
            raw[spec.column] = encode_column(as_text(batch.column(spec.column), spec.column))
            base[spec.column] = restandardise(*raw[spec.column], spec.base)
        codes, values = base[spec.column]
        if spec.extra:
            codes, values = restandardise(codes, values, spec.extra)
        out[spec.name] = _materialise(codes, values)
    return out


def _encoded_pair_sides(left: pa.Array, right: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes (left rows, then right rows) and sorted distinct values of one standardised column."""
    if left.type != right.type:
        right = right.cast(left.type)
    return restandardise(*encode_column(pa.concat_arrays([left, right])), ())


def levels_of_batch(
    comparisons: tuple[Comparison, ...],
    columns: tuple[tuple[str, ...], ...],
    left: Mapping[str, pa.Array],
    right: Mapping[str, pa.Array],
) -> np.ndarray:
    """A (pairs, comparisons) uint8 matrix of levels for a batch of pairs.

    ``columns[c]`` names the standardised columns of comparison ``c``;
    ``left[name]`` and ``right[name]`` hold them for the two records of each pair.
    """
    n = len(next(iter(left.values()))) if left else 0
    out = np.empty((n, len(comparisons)), dtype=np.uint8)
    encoded: dict[str, tuple[np.ndarray, pa.Array]] = {}
    first = np.arange(n, dtype=np.int32)
    second = first + np.int32(n)
    for c, (comparison, names) in enumerate(zip(comparisons, columns)):
        for name in names:
            if name not in encoded:
                encoded[name] = _encoded_pair_sides(left[name], right[name])
        prepared = prepared_from_encoded(comparison, [encoded[name] for name in names], frequencies=False)
        out[:, c] = ComparisonKernel(prepared).levels_of_pairs(first, second)
    return out


def pattern_codes(levels: np.ndarray, n_levels: list[int]) -> np.ndarray | None:
    """One mixed-radix int64 code per row of levels (first comparison most significant), as
    :class:`linkwise.train.PatternCounts` makes them; None when they would not fit in 62 bits."""
    if float(np.prod(n_levels, dtype=float)) >= 2.0**62:
        return None
    code = np.zeros(len(levels), dtype=np.int64)
    for c, k in enumerate(n_levels):
        code *= k
        code += levels[:, c]
    return code


@dataclass(frozen=True)
class TermFrequencyLevel:
    """A term-frequency adjusted level: comparison ``comparison``, level ``level``.

    ``column`` holds, for the left record of each pair, how many records share
    its value of the level's columns; ``n_valid`` records hold any value there,
    and ``population_u`` is the exact-match u of random pairs.
    """

    comparison: int
    level: int
    column: str
    n_valid: int
    population_u: float


def term_frequency_levels(settings: Settings) -> list[tuple[int, int, list[int]]]:
    """(comparison, level, positions of the level's columns) of each adjusted level, in scoring order."""
    return [(c, level, positions) for c, comp in enumerate(settings.comparisons) for level, positions in tf_levels(comp)]


@dataclass(frozen=True)
class ScorePlan:
    """What scoring a pair needs from the model: weights per level and the term-frequency levels."""

    prior_weight: float
    level_weights: tuple[np.ndarray, ...]
    tf: tuple[TermFrequencyLevel, ...]
    interactions: tuple[Interaction, ...] = ()  # comparisons scored jointly (linkwise.dependence)

    @classmethod
    def of(cls, model: FellegiSunterModel, tf: list[tuple[int, int, str, int]]) -> ScorePlan:
        """``tf`` gives (comparison, level, count column, records with a value) per adjusted level."""
        population_u = getattr(model, "tf_u_", model.u_)
        levels = tuple(TermFrequencyLevel(c, level, column, n_valid, float(population_u[c][level])) for c, level, column, n_valid in tf)
        interactions = tuple(getattr(model, "interactions_", []))
        return cls(model.prior_weight(), tuple(model.level_weights()), levels, interactions)


def weights_of_batch(plan: ScorePlan, levels: np.ndarray, tf_counts: Mapping[str, np.ndarray]) -> np.ndarray:
    """Match weight of each pair: the sums of :func:`linkwise.score.match_weights`, in the same order."""
    weights = np.full(len(levels), plan.prior_weight)
    for c, w in enumerate(plan.level_weights):
        weights += w[levels[:, c]]
    # As FellegiSunterModel.pattern_weights adds them: the joint corrections summed first.
    joint = np.zeros(len(levels))
    for interaction in plan.interactions:
        joint += interaction.weights(levels)
    weights = weights + joint
    for tf in plan.tf:
        at = np.flatnonzero(levels[:, tf.comparison] == tf.level)
        if not len(at):
            continue
        n = max(tf.n_valid, 1)
        shares = np.maximum(np.asarray(tf_counts[tf.column])[at] / n, 1.0 / n)
        weights[at] += np.log2(tf.population_u / shares)
    return weights
