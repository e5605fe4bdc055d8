"""Explain: why a pair scored as it did, and what holds a cluster together.

A pair's match weight (in bits) is the prior's log-odds plus, for each
comparison, ``log2(m/u)`` at the pair's level and, on term-frequency adjusted
levels, ``log2(u0/f)`` for how common the agreed value is. An explanation lists
these parts; they are computed by the same functions that scored the run
(:func:`~linkwise.compare.compare_pairs`, :func:`~linkwise.score.match_weights`,
:func:`~linkwise.score.tf_adjustments`), so they add up to the scored weight.
A pair that was never a candidate is scored on demand in the same way, and the
blocking rules are checked one by one to say why it was not made.

A cluster's explanation gives its records, the links (pairs at or above the
cluster threshold) that hold it together, its weakest link (the weakest link of
a maximum spanning tree: above its probability the cluster splits), and the
records that are in it through one link only (the far side of a bridge).

Explanations show record values: they are asked for, record by record, and
are never written to logs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .compare import ComparisonKernel, compare_pairs
from .errors import InputError, OutputError
from .ingest import Records
from .model import FellegiSunterModel, model_from_document, probability, read_model_document
from .outputs import parquet_schema
from .prepare import PreparedComparison
from .score import match_weights, tf_adjustments
from .settings import Settings
from .standardise import apply_steps

#: Records of a cluster shown with their values; links and bridges are all kept.
CLUSTER_RECORDS_SHOWN = 50
#: Links of a cluster's spanning tree listed in the text form (the JSON form has all).
LINKS_SHOWN = 40


# -- formatting -----------------------------------------------------------------
def percent(share: float) -> str:
    """A share as a percentage with two significant digits: ``0.0103`` -> ``'1.0%'``."""
    text = f"{share * 100:#.2g}".rstrip(".")
    if "e" in text:
        text = f"{share * 100:.2g}"
    return f"{text}%"


def format_probability(p: float) -> str:
    """A probability readable at both ends: ``0.99999`` is not shown as ``1``."""
    if p >= 0.9995 and p < 1.0:
        return f"1 - {1.0 - p:.2g}"
    if 0.0 < p < 0.0005:
        return f"{p:.2g}"
    return f"{p:.3f}"


def format_weight(weight: float) -> str:
    return f"{weight:+.2f}"


def _text(value: Any) -> str:
    return "(missing)" if value is None else str(value)


# -- pair explanations ------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """One comparison's part of a pair's match weight.

    ``level_weight`` is ``log2(m/u)`` of the level (0 for the null level);
    ``tf_adjustment`` the term-frequency part (0 unless the level is adjusted).
    """

    comparison: str
    columns: tuple[str, ...]
    value_a: str | None
    value_b: str | None
    level: int
    label: str
    m: float | None
    u: float | None
    level_weight: float
    tf_adjustment: float = 0.0
    tf_value: str | None = None
    tf_share: float | None = None
    tf_typical_share: float | None = None

    @property
    def weight(self) -> float:
        """Everything this comparison adds: level weight plus term-frequency adjustment."""
        return self.level_weight + self.tf_adjustment

    @property
    def is_null(self) -> bool:
        return self.level == 0

    @property
    def tf_note(self) -> str | None:
        """The term-frequency adjustment in plain words, or None when the level has none."""
        if self.tf_share is None:
            return None
        if abs(self.tf_adjustment) < 0.005:
            verdict = "so agreeing on it counts as much as usual"
        elif self.tf_adjustment < 0:
            verdict = "so agreeing on it counts for less"
        else:
            verdict = "so agreeing on it counts for more"
        typical = f" (a typical value: {percent(self.tf_typical_share)})" if self.tf_typical_share is not None else ""
        return f"'{self.tf_value}' is shared by {percent(self.tf_share)} of records{typical}, {verdict}"

    @property
    def meaning(self) -> str:
        """What the level says, in words."""
        if self.is_null:
            return "a value is missing: no evidence either way"
        if self.label == "else":
            return "no level matched: evidence against a match" if self.level_weight < 0 else "no level matched"
        return self.label

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["weight"] = self.weight
        out["tf_note"] = self.tf_note
        out["meaning"] = self.meaning
        return out


@dataclass(frozen=True)
class RuleCheck:
    """Whether one blocking rule holds for a pair, and why."""

    rule: str
    holds: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairExplanation:
    """Why a pair scored as it did: every part of its match weight, and how blocking saw it.

    ``prior_weight + sum(e.weight for e in evidence) + dependence_weight`` is
    ``match_weight`` (to rounding), the weight the run gives the pair.
    ``dependence`` holds, for each pair of comparisons scored jointly
    (:mod:`linkwise.dependence`), the weight that corrects their product.
    """

    id_column: str
    id_a: Any
    id_b: Any
    source_a: str
    source_b: str
    record_a: dict[str, str | None]
    record_b: dict[str, str | None]
    evidence: tuple[Evidence, ...]
    prior: float
    prior_weight: float
    match_weight: float
    match_threshold: float
    cluster_threshold: float
    candidate: bool
    made_by: str | None
    rules: tuple[RuleCheck, ...]
    link_type: str
    same_source: bool
    multi_source: bool = False
    record_index: tuple[int, int] = field(default=(-1, -1), repr=False)
    dependence: tuple[tuple[str, float], ...] = ()

    @property
    def dependence_weight(self) -> float:
        """The correction for comparisons that are not independent (household members share several fields)."""
        return float(sum(weight for _, weight in self.dependence))

    @property
    def match_probability(self) -> float:
        return float(probability(self.match_weight))

    @property
    def is_match(self) -> bool:
        return self.match_probability >= self.match_threshold

    @property
    def links_cluster(self) -> bool:
        return self.match_probability >= self.cluster_threshold

    def contributions(self) -> list[tuple[str, float]]:
        """(part, weight) from the prior through each comparison; they add up to the match weight."""
        return [("prior", self.prior_weight)] + [(e.comparison, e.weight) for e in self.evidence] + list(self.dependence)

    @property
    def verdict(self) -> str:
        p = format_probability(self.match_probability)
        match = "at or above" if self.is_match else "below"
        cluster = "links" if self.links_cluster else "does not link"
        return (
            f"match weight {format_weight(self.match_weight)} bits, probability {p}: {match} the match threshold "
            f"({self.match_threshold:g}); {cluster} the two records into one cluster (cluster threshold "
            f"{self.cluster_threshold:g})"
        )

    @property
    def blocking_summary(self) -> str:
        if self.candidate:
            also = [r.rule for r in self.rules if r.holds and r.rule != self.made_by]
            extra = f"; also holds: {', '.join(repr(r) for r in also)}" if also else ""
            return f"a candidate pair, made by blocking rule '{self.made_by}'{extra}"
        if self.link_type == "link" and self.same_source:
            return (
                f"never a candidate pair: both records are in source '{self.source_a}', and a 'link' run "
                "compares records across sources only; scored here on demand with the run's model"
            )
        return "never a candidate pair: no blocking rule holds for it; scored here on demand with the run's model"

    def label_a(self) -> str:
        return f"{self.id_a}" + (f" ({self.source_a})" if self.multi_source else "")

    def label_b(self) -> str:
        return f"{self.id_b}" + (f" ({self.source_b})" if self.multi_source else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id_column": self.id_column,
            "a": {"id": self.id_a, "source": self.source_a, "record": self.record_a},
            "b": {"id": self.id_b, "source": self.source_b, "record": self.record_b},
            "prior": self.prior,
            "prior_weight": self.prior_weight,
            "comparisons": [e.to_dict() for e in self.evidence],
            "dependence": [{"comparisons": names, "weight": weight} for names, weight in self.dependence],
            "match_weight": self.match_weight,
            "match_probability": self.match_probability,
            "match_threshold": self.match_threshold,
            "cluster_threshold": self.cluster_threshold,
            "is_match": self.is_match,
            "candidate": self.candidate,
            "made_by": self.made_by,
            "blocking_rules": [r.to_dict() for r in self.rules],
            "blocking": self.blocking_summary,
        }

    def to_text(self) -> str:
        """The explanation as plain text for a terminal."""
        lines = [f"Pair: {self.id_column} {self.label_a()} and {self.label_b()}", ""]
        width = max(len(c) for c in self.record_a)
        cell = min(max([len(_text(v)) for v in self.record_a.values()] + [len(self.label_a())]), 40)
        for column in self.record_a:
            lines.append(f"  {column:{width}}  {_text(self.record_a[column]):{cell}}  {_text(self.record_b[column])}")
        lines += ["", "Evidence, in bits (log2 of m/u: above 0 counts for a match, below 0 against):"]
        nw = max([len(e.comparison) for e in self.evidence] + [len(n) for n, _ in self.dependence] + [len("comparison")])
        lw = 30

        def row(name: str, label: str, m: str = "", u: str = "", weight: str = "") -> str:
            if len(label) > lw:
                label = label[: lw - 1] + "~"
            return f"  {name:{nw}}  {label:{lw}}  {m:>8}  {u:>8}  {weight:>7}".rstrip()

        lines.append(row("comparison", "level", "m", "u", "weight"))
        for e in self.evidence:
            if e.is_null:
                lines.append(row(e.comparison, "null (a value is missing)", weight=format_weight(e.level_weight)))
            else:
                lines.append(row(e.comparison, e.label, f"{e.m:.4g}", f"{e.u:.4g}", format_weight(e.level_weight)))
            lines.append(f"  {'':{nw}}    {_text(e.value_a)} vs {_text(e.value_b)}")
            if e.tf_note:
                lines.append(row("", "  term-frequency adjustment", weight=format_weight(e.tf_adjustment)))
                lines.append(f"  {'':{nw}}    {e.tf_note}")
        for names, weight in self.dependence:
            lines.append(row(names, "scored jointly (dependent)", weight=format_weight(weight)))
        lines.append(row("prior", f"{percent(self.prior)} of candidates match", weight=format_weight(self.prior_weight)))
        lines.append(row("total", "", weight=format_weight(self.match_weight)))
        lines += ["", f"Verdict: {self.verdict}.", f"Blocking: {self.blocking_summary}."]
        for r in self.rules:
            lines.append(f"  {'holds' if r.holds else 'does not hold':13}  {r.rule}: {r.reason}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


# -- cluster explanations -----------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """A pair at or above the cluster threshold, inside one cluster."""

    a: int
    b: int
    id_a: Any
    id_b: Any
    match_weight: float

    @property
    def match_probability(self) -> float:
        return float(probability(self.match_weight))

    def to_dict(self) -> dict[str, Any]:
        return {"id_a": self.id_a, "id_b": self.id_b, "match_weight": self.match_weight, "match_probability": self.match_probability}


@dataclass(frozen=True)
class SingleLink:
    """A link that alone ties some records (``ids``, the smaller side) to the rest of the cluster."""

    link: Link
    ids: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"link": self.link.to_dict(), "records": list(self.ids)}


@dataclass(frozen=True)
class ClusterExplanation:
    """What holds a cluster together."""

    cluster_id: int
    id_column: str
    size: int
    records: tuple[dict[str, Any], ...]
    links: tuple[Link, ...]
    spanning_links: tuple[Link, ...]
    single_links: tuple[SingleLink, ...]
    cluster_threshold: float

    @property
    def weakest_link(self) -> Link | None:
        """The weakest link of a maximum spanning tree: above its probability the cluster splits."""
        return min(self.spanning_links, key=lambda link: link.match_weight) if self.spanning_links else None

    def to_dict(self) -> dict[str, Any]:
        weakest = self.weakest_link
        return {
            "cluster_id": self.cluster_id,
            "size": self.size,
            "cluster_threshold": self.cluster_threshold,
            "records": list(self.records),
            "records_shown": len(self.records),
            "links": [link.to_dict() for link in self.links],
            "spanning_links": [link.to_dict() for link in self.spanning_links],
            "weakest_link": weakest.to_dict() if weakest else None,
            "single_links": [s.to_dict() for s in self.single_links],
        }

    def to_text(self) -> str:
        lines = [f"Cluster {self.cluster_id}: {self.size} record{'s' if self.size != 1 else ''}", ""]
        if self.records:
            columns = list(self.records[0])
            widths = [max(len(c), *(len(_text(r[c])) for r in self.records)) for c in columns]
            widths = [min(w, 30) for w in widths]
            lines.append("  " + "  ".join(f"{c:{w}.{w}}" for c, w in zip(columns, widths)))
            for record in self.records:
                lines.append("  " + "  ".join(f"{_text(record[c]):{w}.{w}}" for c, w in zip(columns, widths)))
            if len(self.records) < self.size:
                lines.append(f"  ... and {self.size - len(self.records)} more records")
        if self.size == 1:
            lines += ["", f"A single record: no pair with it reaches the cluster threshold ({self.cluster_threshold:g})."]
            return "\n".join(lines)
        lines += [
            "",
            f"Links holding it together: {len(self.links)} pairs at p >= {self.cluster_threshold:g}. "
            f"The strongest {len(self.spanning_links)} that connect every record (a maximum spanning tree):",
        ]
        tree = sorted(self.spanning_links, key=lambda link: -link.match_weight)
        for link in tree[:LINKS_SHOWN]:
            lines.append(
                f"  {link.id_a!s:>12} - {link.id_b!s:<12} weight {format_weight(link.match_weight)}, "
                f"p {format_probability(link.match_probability)}"
            )
        if len(tree) > LINKS_SHOWN:
            lines.append(f"  ... and {len(tree) - LINKS_SHOWN} weaker ones (--json lists every link)")
        weakest = self.weakest_link
        if weakest is not None:
            lines += [
                "",
                f"Weakest link: {weakest.id_a} - {weakest.id_b}, weight {format_weight(weakest.match_weight)} "
                f"(p {format_probability(weakest.match_probability)}): every record stays connected through links at "
                "least this strong, and with a cluster threshold above this probability the cluster would split here.",
            ]
        if self.single_links:
            lines += ["", "Records in the cluster through one link only:"]
            for single in self.single_links[:LINKS_SHOWN]:
                ids = ", ".join(str(i) for i in single.ids[:10]) + (" ..." if len(single.ids) > 10 else "")
                lines.append(
                    f"  {ids}: only via {single.link.id_a} - {single.link.id_b} "
                    f"(p {format_probability(single.link.match_probability)})"
                )
            if len(self.single_links) > LINKS_SHOWN:
                lines.append(f"  ... and {len(self.single_links) - LINKS_SHOWN} more (--json lists them all)")
        else:
            lines += ["", "Every record is held by at least two links: no single link keeps any record in."]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def maximum_spanning_tree(n: int, a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Positions of the links of a maximum spanning forest over nodes ``0..n-1`` (Kruskal).

    A loop over one cluster's links: explaining a cluster is not a hot path.
    """
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    chosen = []
    for e in np.argsort(-weight, kind="stable").tolist():
        ra, rb = find(int(a[e])), find(int(b[e]))
        if ra != rb:
            parent[ra] = rb
            chosen.append(e)
    return np.array(chosen, dtype=np.int64)


def bridges(n: int, a: np.ndarray, b: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Links whose removal disconnects the graph: (link position, nodes of the smaller side).

    Tarjan's bridge finding, iterative (no recursion limit on long chains).
    """
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for e, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
        adjacency[x].append((y, e))
        adjacency[y].append((x, e))
    order = [-1] * n
    low = [0] * n
    parent_edge = [-1] * n
    subtree = [1] * n
    found: list[tuple[int, int]] = []  # (link, child node below it)
    counter = 0
    for root in range(n):
        if order[root] >= 0:
            continue
        order[root] = low[root] = counter
        counter += 1
        stack = [(root, iter(adjacency[root]))]
        while stack:
            node, neighbours = stack[-1]
            advanced = False
            for nxt, e in neighbours:
                if e == parent_edge[node]:
                    continue
                if order[nxt] < 0:
                    order[nxt] = low[nxt] = counter
                    counter += 1
                    parent_edge[nxt] = e
                    stack.append((nxt, iter(adjacency[nxt])))
                    advanced = True
                    break
                low[node] = min(low[node], order[nxt])
            if advanced:
                continue
            stack.pop()
            if stack:
                up = stack[-1][0]
                low[up] = min(low[up], low[node])
                subtree[up] += subtree[node]
                if low[node] > order[up]:
                    found.append((parent_edge[node], node))
    # Nodes below each bridge's child: those visited after it within its subtree.
    by_order = np.argsort(np.array(order))
    out = []
    for e, child in found:
        below = by_order[order[child] : order[child] + subtree[child]]
        if 2 * len(below) > n:
            below = np.setdiff1d(np.arange(n), below)
        out.append((e, np.sort(below)))
    return out


# -- the explainer --------------------------------------------------------------------
class Explainer:
    """Explains pairs and clusters of one run, from its model and its prepared records.

    Build it with :meth:`of` (a :class:`~linkwise.LinkResult` in memory) or
    :func:`load_run` (an output folder). Record values are read from the
    inputs when first needed.
    """

    def __init__(
        self,
        settings: Settings,
        model: FellegiSunterModel,
        records: Records,
        prepared: list[PreparedComparison],
    ) -> None:
        self.settings = settings
        self.model = model
        self.records = records
        self.prepared = prepared
        self._kernels: list[ComparisonKernel] | None = None
        self._columns: dict[str, pa.Array] = {}
        self._ids_text: pa.Array | None = None
        self._level_weights: list[np.ndarray] | None = None

    @classmethod
    def of(cls, result: Any) -> Explainer:
        """The explainer of a :class:`~linkwise.LinkResult` (made once, kept on the result)."""
        explainer = result.__dict__.get("_explainer")
        if explainer is None:
            if len(result.prepared) != len(result.settings.comparisons):
                from .errors import LinkwiseError

                raise LinkwiseError(
                    "this result was made with keep_prepared=False and cannot explain pairs; "
                    "write it and use linkwise explain on the output folder"
                )
            explainer = cls(result.settings, result.model, result.records, result.prepared)
            result.__dict__["_explainer"] = explainer
        return explainer

    # -- records ----------------------------------------------------------------
    @property
    def multi_source(self) -> bool:
        return self.settings.link_type != "dedupe" or len(self.records.source_names) > 1

    def column(self, name: str) -> pa.Array:
        """A column in record order, read once."""
        if name not in self._columns:
            self._columns[name] = self.records.column(name)
        return self._columns[name]

    def record_index(self, record_id: Any, source: str | None = None) -> int:
        """The index of the record with this id (and source, when ids repeat across sources)."""
        if self._ids_text is None:
            self._ids_text = pc.cast(self.records.ids, pa.string())
        hits = np.flatnonzero(pc.equal(self._ids_text, str(record_id)).to_numpy(zero_copy_only=False))
        if source is not None:
            if source not in self.records.source_names:
                raise InputError(
                    f"no source named '{source}'; the sources are {', '.join(self.records.source_names)}"
                )
            hits = hits[self.records.source_codes[hits] == self.records.source_names.index(source)]
        if len(hits) == 0:
            where = f" in source '{source}'" if source is not None else ""
            raise InputError(f"no record has {self.records.id_column} '{record_id}'{where}")
        if len(hits) > 1:
            names = ", ".join(self.records.source_names[c] for c in self.records.source_codes[hits])
            raise InputError(
                f"{self.records.id_column} '{record_id}' is in several sources ({names}); say which source"
            )
        return int(hits[0])

    def record_values(self, index: int) -> dict[str, str | None]:
        """The raw values of the columns the settings use, for one record."""
        values: dict[str, str | None] = {self.records.id_column: str(self.records.ids[index].as_py())}
        for name in sorted(set(self.settings.required_columns()) - {self.records.id_column}):
            value = self.column(name)[index].as_py()
            values[name] = None if value is None else str(value)
        return values

    def _ids(self, indices: Sequence[int]) -> list[Any]:
        return self.records.ids.take(pa.array(np.asarray(indices, dtype=np.int64))).to_pylist()

    # -- scoring -------------------------------------------------------------------
    @property
    def level_weights(self) -> list[np.ndarray]:
        if self._level_weights is None:
            self._level_weights = self.model.level_weights()
        return self._level_weights

    @property
    def kernels(self) -> list[ComparisonKernel]:
        if self._kernels is None:
            self._kernels = [ComparisonKernel(p) for p in self.prepared]
        return self._kernels

    def score(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(levels, term-frequency parts, match weights) of pairs, as the run scores them.

        Pairs are put in (smaller, larger) record order, as candidate pairs are.
        """
        left, right = np.asarray(left), np.asarray(right)
        lo = np.minimum(left, right).astype(np.int32)
        hi = np.maximum(left, right).astype(np.int32)
        if len(lo) > 1000:
            levels = compare_pairs(self.kernels, lo, hi)
        else:  # a few pairs: the same kernels, without starting threads
            levels = np.empty((len(lo), len(self.kernels)), dtype=np.uint8)
            for c, kernel in enumerate(self.kernels):
                levels[:, c] = kernel.levels_of_pairs(lo, hi)
        weights = match_weights(self.model, self.prepared, levels, lo)
        return levels, tf_adjustments(self.model, self.prepared, levels, lo), weights

    def _dependence(self, levels: np.ndarray) -> tuple[tuple[str, float], ...]:
        """Each joint scoring of dependent comparisons and what it adds to the pair (levels of one pair)."""
        names = [p.comparison.name for p in self.prepared]
        return tuple(
            (" + ".join(names[c] for c in interaction.comparisons), float(interaction.weights(levels[:1])[0]))
            for interaction in getattr(self.model, "interactions_", [])
        )

    def _compared_value(self, prep: PreparedComparison, index: int, positions: Sequence[int]) -> str | None:
        parts = [prep.values[int(prep.codes[index, j])].as_py() if prep.codes[index, j] >= 0 else None for j in positions]
        if all(p is None for p in parts):
            return None
        return " | ".join(_text(p) for p in parts) if len(parts) > 1 else parts[0]

    def _evidence(self, c: int, level: int, tf: float, lo: int, hi: int) -> Evidence:
        prep = self.prepared[c]
        comparison = prep.comparison
        weights = self.level_weights[c]
        all_columns = list(range(len(comparison.columns)))
        extra: dict[str, Any] = {}
        if level in prep.tf_frequencies:
            frequencies = prep.tf_frequencies[level]
            columns = comparison.levels[level - 1].columns or comparison.columns
            positions = [comparison.columns.index(col) for col in columns]
            value_code = int(frequencies.codes[lo])
            population_u = getattr(self.model, "tf_u_", self.model.u_)[c][level]
            extra = {
                "tf_adjustment": float(tf),
                "tf_value": " ".join(_text(v) for v in [self._compared_value(prep, lo, [j]) for j in positions]),
                "tf_share": float(frequencies.shares()[value_code]),
                "tf_typical_share": float(population_u),
            }
        return Evidence(
            comparison=comparison.name,
            columns=comparison.columns,
            value_a=self._compared_value(prep, lo, all_columns),
            value_b=self._compared_value(prep, hi, all_columns),
            level=level,
            label=comparison.level_labels[level],
            m=float(self.model.m_[c][level]) if level else None,
            u=float(self.model.u_[c][level]) if level else None,
            level_weight=float(weights[level]),
            **extra,
        )

    # -- blocking ---------------------------------------------------------------------
    def rule_checks(self, a: int, b: int) -> list[RuleCheck]:
        """Each blocking rule on the pair: its keys standardised as blocking does, and compared."""
        checks = []
        label = dict(zip((a, b), (str(i) for i in self._ids([a, b]))))
        standardised: dict[tuple, list] = {}
        for rule in self.settings.blocking_rules:
            equal, reasons = [], []
            for key in rule.keys:
                steps = self.settings.steps_for(key.column) + key.standardise
                if (key.column, steps) not in standardised:
                    raw = self.column(key.column).take(pa.array([a, b]))
                    standardised[(key.column, steps)] = apply_steps(raw, steps).to_pylist()
                value_a, value_b = standardised[(key.column, steps)]
                if value_a is None or value_b is None:
                    missing = [label[i] for i, v in ((a, value_a), (b, value_b)) if v is None]
                    reasons.append(f"{key.label} is missing for {' and '.join(missing)}")
                elif value_a != value_b:
                    reasons.append(f"{key.label} differs ('{value_a}' vs '{value_b}')")
                else:
                    equal.append(f"{key.label} = '{value_a}'")
            holds = not reasons
            checks.append(RuleCheck(rule.name, holds, ", ".join(equal) if holds else "; ".join(reasons)))
        return checks

    # -- explanations -------------------------------------------------------------------
    def explain_pair(self, a: int, b: int) -> PairExplanation:
        """Explain the pair of records with indices ``a`` and ``b``."""
        if a == b:
            raise InputError("a pair needs two different records")
        lo, hi = min(a, b), max(a, b)
        levels, tf, weights = self.score(np.array([lo]), np.array([hi]))
        evidence = tuple(
            self._evidence(c, int(levels[0, c]), float(tf[0, c]), lo, hi) for c in range(len(self.prepared))
        )
        checks = self.rule_checks(a, b)
        codes = self.records.source_codes
        same_source = bool(codes[a] == codes[b])
        allowed = not (self.settings.link_type == "link" and same_source)
        holding = [check.rule for check in checks if check.holds]
        candidate = allowed and bool(holding)
        ids = self._ids([a, b])
        return PairExplanation(
            id_column=self.records.id_column,
            id_a=ids[0],
            id_b=ids[1],
            source_a=self.records.source_names[codes[a]],
            source_b=self.records.source_names[codes[b]],
            record_a=self.record_values(a),
            record_b=self.record_values(b),
            evidence=evidence,
            prior=float(self.model.prior_),
            prior_weight=float(self.model.prior_weight()),
            match_weight=float(weights[0]),
            match_threshold=self.settings.match_threshold,
            cluster_threshold=self.settings.cluster_threshold,
            candidate=candidate,
            made_by=holding[0] if candidate else None,
            rules=tuple(checks),
            link_type=self.settings.link_type,
            same_source=same_source,
            multi_source=self.multi_source,
            record_index=(a, b),
            dependence=self._dependence(levels),
        )

    def pair(self, id_a: Any, id_b: Any, *, source_a: str | None = None, source_b: str | None = None) -> PairExplanation:
        """Explain the pair of records with these ids."""
        return self.explain_pair(self.record_index(id_a, source_a), self.record_index(id_b, source_b))

    def explain_cluster(
        self, cluster_id: int, labels: np.ndarray, left: np.ndarray, right: np.ndarray, weights: np.ndarray
    ) -> ClusterExplanation:
        """Explain one cluster from the cluster label of each record and the links at or above the threshold.

        ``left``, ``right`` and ``weights`` may hold any links; those outside the
        cluster are ignored.
        """
        members = np.flatnonzero(labels == cluster_id)
        if len(members) == 0:
            raise InputError(f"there is no cluster {cluster_id}; cluster ids run from 0 to {int(labels.max())}")
        inside = np.zeros(len(labels), dtype=bool)
        inside[members] = True
        keep = inside[left] & inside[right]
        left, right, weights = left[keep], right[keep], weights[keep]
        order = np.argsort(-weights, kind="stable")
        left, right, weights = left[order], right[order], weights[order]
        local = np.full(len(labels), -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        a, b = local[left], local[right]
        id_of = self._ids(members)

        def link(e: int) -> Link:
            return Link(int(left[e]), int(right[e]), id_of[a[e]], id_of[b[e]], float(weights[e]))

        links = tuple(link(e) for e in range(len(left)))
        tree = maximum_spanning_tree(len(members), a, b, weights)
        singles = tuple(
            SingleLink(links[e], tuple(id_of[i] for i in side.tolist())) for e, side in bridges(len(members), a, b)
        )
        return ClusterExplanation(
            cluster_id=int(cluster_id),
            id_column=self.records.id_column,
            size=len(members),
            records=tuple(self.record_values(int(i)) for i in members[:CLUSTER_RECORDS_SHOWN]),
            links=links,
            spanning_links=tuple(links[e] for e in tree.tolist()),
            single_links=tuple(sorted(singles, key=lambda s: s.link.match_weight)),
            cluster_threshold=self.settings.cluster_threshold,
        )


# -- explaining a written run -----------------------------------------------------------
@dataclass
class Run:
    """A finished run read back from its output folder, with its inputs read again."""

    out_dir: Path
    settings: Settings
    summary: dict
    model_document: dict
    explainer: Explainer

    @property
    def records(self) -> Records:
        return self.explainer.records

    def record_indices(self, ids: pa.Array, sources: pa.Array | None) -> np.ndarray:
        """Record index of each (id, source) of an output file."""
        from .evaluate_run import _record_index

        return _record_index(self.records, ids, sources)

    def cluster_labels(self) -> np.ndarray:
        clusters = _read_parquet(self.out_dir / "clusters.parquet", ["id", "source", "cluster_id"])
        labels = np.full(self.records.n, -1, dtype=np.int64)
        index = self.record_indices(clusters["id"].combine_chunks(), clusters["source"].combine_chunks())
        labels[index] = clusters["cluster_id"].to_numpy()
        if (labels < 0).any():
            raise OutputError(f"clusters.parquet in '{self.out_dir}' does not cover every input record")
        return labels

    def pairs(self, *, min_probability: float | None = None, filters: list | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(left, right, match weight) of the written pairs, optionally at or above a probability."""
        path = self.out_dir / "pairs.parquet"
        names = parquet_schema(path).names
        columns = ["id_l", "id_r", "match_weight"] + (["source_l", "source_r"] if "source_l" in names else [])
        wanted = list(filters or [])
        if min_probability is not None:
            wanted.append(("match_probability", ">=", float(min_probability)))
        table = _read_parquet(path, columns, wanted or None)
        sources = "source_l" in names
        left = self.record_indices(table["id_l"].combine_chunks(), table["source_l"].combine_chunks() if sources else None)
        right = self.record_indices(table["id_r"].combine_chunks(), table["source_r"].combine_chunks() if sources else None)
        return left, right, table["match_weight"].to_numpy()

    def explain(self, id_a: Any, id_b: Any, *, source_a: str | None = None, source_b: str | None = None) -> PairExplanation:
        return self.explainer.pair(id_a, id_b, source_a=source_a, source_b=source_b)

    def scored_weight(self, explanation: PairExplanation) -> float | None:
        """The weight ``pairs.parquet`` holds for the pair, or None when it is not a candidate pair."""
        a, b = explanation.record_index
        lo, hi = min(a, b), max(a, b)
        ids = self.explainer._ids([lo, hi])
        filters = [("id_l", "=", ids[0]), ("id_r", "=", ids[1])]
        left, right, weights = self.pairs(filters=filters)
        hit = np.flatnonzero((left == lo) & (right == hi))
        return float(weights[hit[0]]) if len(hit) else None

    def explain_cluster(self, cluster_id: int) -> ClusterExplanation:
        labels = self.cluster_labels()
        members = np.flatnonzero(labels == cluster_id)
        if len(members) == 0:
            raise InputError(f"there is no cluster {cluster_id}; cluster ids run from 0 to {int(labels.max())}")
        # Only pairs whose left record is in the cluster are read and matched to records.
        ids = self.records.ids.take(pa.array(members)).to_pylist()
        left, right, weights = self.pairs(
            min_probability=self.settings.cluster_threshold, filters=[("id_l", "in", ids)]
        )
        return self.explainer.explain_cluster(cluster_id, labels, left, right, weights)


def _read_parquet(path: Path, columns: list[str], filters: list | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns, filters=filters)
    except FileNotFoundError:
        raise OutputError(f"'{path.parent}' holds no {path.name}; is it a linkwise output folder?") from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise OutputError(f"cannot read '{path}': {exc}") from None


def _read_json(path: Path, what: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutputError(f"'{path.parent}' holds no {what} ({path.name}); is it a linkwise output folder?") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputError(f"'{path}' is not valid JSON: {exc.msg} at line {exc.lineno}") from None


def load_run(
    out_dir: str | Path,
    *,
    inputs: Sequence[str] | None = None,
    encoding: str | None = None,
    extra_columns: Sequence[str] = (),
) -> Run:
    """Read a run's outputs back, and its inputs again, to explain its pairs and clusters.

    The inputs are those named in ``summary.json`` unless ``inputs`` are given
    (when they moved, or when the run was given data frames). They are
    standardised and encoded as the run did, so that pairs score exactly as
    they did in the run.
    """
    from .engines.base import get_engine
    from .ingest import load_records
    from .prepare import prepare

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise OutputError(f"output folder '{out_dir}' does not exist")
    summary = _read_json(out_dir / "summary.json", "run summary")
    settings = Settings.load(out_dir / "settings.json")
    model_path = out_dir / "model.json"
    try:
        model_text = model_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutputError(f"'{out_dir}' holds no model (model.json); is it a linkwise output folder?") from None
    document = read_model_document(model_text, str(model_path))
    model = model_from_document(document, settings.comparisons, str(model_path))
    given = list(inputs) if inputs else list(summary.get("inputs") or [])
    if not given or any(x is None for x in given):
        raise InputError(
            f"the run in '{out_dir}' was given data frames, not files; give the input files with --input"
        )
    encoding = encoding or summary.get("encoding")
    sources = list(summary.get("sources") or [])
    source: Any = given if len(given) > 1 else given[0]
    if len(given) == 1 and len(sources) == 1 and not settings.source_column:
        source = {sources[0]: given[0]}  # one source keeps the run's name for it, whatever the file is called
    engine = get_engine("duckdb")
    try:
        records = load_records(source, settings, engine=engine, encoding=encoding, extra_columns=extra_columns)
    finally:
        engine.close()
    if "records" in summary and records.n != summary["records"]:
        raise InputError(
            f"the inputs now hold {records.n:,} records, the run had {summary['records']:,}: "
            "they changed since the run; run again, or give the run's inputs with --input"
        )
    if sources and list(records.source_names) != sources:
        raise InputError(
            f"the inputs now make sources {', '.join(records.source_names)}, the run had "
            f"{', '.join(summary['sources'])}; give the run's inputs with --input"
        )
    prepared, _ = prepare(records, settings)
    return Run(out_dir, settings, summary, document, Explainer(settings, model, records, prepared))
