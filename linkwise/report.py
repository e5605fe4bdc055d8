"""Report: one self-contained HTML page about a finished run, that works offline.

Sections: run summary (inputs, records, pairs, clusters, time per stage);
model parameters (m and u of every level and the weight it adds); the
distribution of match weights; the distribution of cluster sizes; the blocking
rules and their pairs; a sample of borderline pairs, each explained; the
accuracy estimated without labels; and, with a truth column, precision and
recall against the threshold.

Charts are Vega-Lite specifications made with Altair, drawn in the page by
Vega-Embed, whose JavaScript (from the ``vl-convert-python`` package) is
inlined: the page loads nothing from the network. Every chart is drawn from
small aggregated tables (the match-weight histogram is binned with numpy
batch by batch), so the report takes about as long for ten million pairs as
for ten thousand, apart from reading the weights once.

Altair and vl-convert are imported only when a report is made.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from .errors import LinkwiseError, OutputError
from .explain import PairExplanation, Run, format_probability, format_weight, load_run, percent
from .outputs import REPORT_FILES, atomic_write_text, parquet_parts, record_output

#: Pipeline stages in the order they run, for the time-per-stage chart.
STAGES = ("ingest", "prepare", "block", "compare", "train", "score", "cluster")

#: Where bars on a log scale start: below one, so that a count of one still shows (zero has no logarithm).
LOG_BASELINE = 0.5

#: Colours: evidence for a match, against it, and neutral parts.
FOR, AGAINST, NEUTRAL = "#2b8cbe", "#e34a33", "#969696"


@dataclass
class Section:
    """One part of the report: its anchor, title, HTML, and the charts it holds."""

    anchor: str
    title: str
    body: str
    charts: dict[str, dict] = field(default_factory=dict)


# -- the charting library, loaded on first use -----------------------------------------
def _altair():
    try:
        import altair
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise LinkwiseError("the report needs Altair: pip install 'altair>=5.4' vl-convert-python") from None
    return altair


def _vegalite_version() -> str:
    """The Vega-Lite version (``major.minor``) of Altair's specs, among those vl-convert bundles."""
    import vl_convert

    alt = _altair()
    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    listed = getattr(vl_convert, "get_vegalite_versions", None)
    if listed is None:  # an older vl-convert: try Altair's version as it is
        return wanted
    available = list(listed())
    if wanted in available:
        return wanted
    same_major = [v for v in available if v.split(".")[0] == wanted.split(".")[0]]
    if not same_major:
        raise LinkwiseError(
            f"vl-convert {vl_convert.__version__} has no Vega-Lite {wanted.split('.')[0]} for Altair "
            f"{alt.__version__}; upgrade vl-convert-python"
        )
    return max(same_major, key=lambda v: tuple(int(x) for x in v.split(".")))


def _cache_dir() -> Path:
    base = os.environ.get("LINKWISE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "linkwise"
    )
    return Path(base)


def vega_javascript() -> str:
    """The JavaScript of Vega, Vega-Lite and Vega-Embed, bundled by vl-convert.

    Bundling takes several seconds, so the bundle is kept in a cache folder
    (``$LINKWISE_CACHE_DIR``, else ``~/.cache/linkwise``) for the next report;
    where that folder cannot be written, it is bundled each time.
    """
    try:
        import vl_convert
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise LinkwiseError("the report needs vl-convert-python: pip install vl-convert-python") from None
    version = _vegalite_version()
    cached = _cache_dir() / f"vega-embed-vl{version}-vlc{vl_convert.__version__}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vl_convert.javascript_bundle(vl_version=version)
    if "</script" in bundle.lower():  # pragma: no cover - would end the inline script early
        raise LinkwiseError("the Vega bundle cannot be inlined: it holds '</script'")
    try:
        atomic_write_text(cached, bundle)
    except OSError:
        pass
    return bundle


# -- small helpers ---------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric: Sequence[int] = (), cls: str = "") -> str:
    """An HTML table; ``numeric`` columns are right-aligned. Cells are escaped unless given as ``_Raw``."""

    def cell(value: Any, j: int, tag: str) -> str:
        text = value.html if isinstance(value, _Raw) else _e(value)
        attribute = ' class="num"' if j in numeric else ""
        return f"<{tag}{attribute}>{text}</{tag}>"

    head = "".join(cell(h, j, "th") for j, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell(v, j, "td") for j, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table class=\"{cls}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class _Raw:
    html: str


def _chart_div(chart_id: str, title: str) -> str:
    return f'<div class="chart" id="{chart_id}" role="img" aria-label="{_e(title)}"></div>'


def _weight_of(probability: float) -> float:
    p = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def _spec(chart: Any, *, validate: bool = True) -> dict:
    """The Vega-Lite spec of a chart; checking it against the schema takes a while, so charts
    built alike are checked once."""
    return chart.to_dict(validate=validate)


# -- sections ----------------------------------------------------------------------------
def summary_section(run: Run) -> Section:
    alt = _altair()
    s = run.summary
    seconds = s.get("seconds", {})
    rows = [
        ("inputs", ", ".join(str(x) for x in s.get("inputs") or []) or "(data frames)"),
        ("link type", s.get("link_type")),
        ("records", f"{s.get('records', 0):,}"),
        ("sources", ", ".join(s.get("sources") or [])),
        ("candidate pairs", f"{s.get('candidate_pairs', 0):,}"),
        (f"pairs at or above the match threshold ({s.get('match_threshold')})", f"{s.get('pairs_at_or_above_match_threshold', 0):,}"),
        (f"clusters (cluster threshold {s.get('cluster_threshold')})", f"{s.get('clusters', 0):,}"),
        ("total time", f"{sum(seconds.values()):.1f} s"),
    ]
    order = [st for st in STAGES if st in seconds] + [st for st in seconds if st not in STAGES]
    data = [{"stage": st, "seconds": float(seconds[st]), "order": i} for i, st in enumerate(order)]
    chart = (
        alt.Chart(alt.Data(values=data), title="Time per stage")
        .mark_bar(color=FOR)
        .encode(
            x=alt.X("seconds:Q", title="seconds"),
            y=alt.Y("stage:N", sort=alt.EncodingSortField(field="order", order="ascending"), title=None),
            tooltip=[alt.Tooltip("stage:N"), alt.Tooltip("seconds:Q", format=".3f")],
        )
        .properties(width=480, height=alt.Step(22))
    )
    body = _table(["", ""], rows, cls="keyvalue") + _chart_div("chart-stages", "Time per stage")
    return Section("summary", "Run summary", body, {"chart-stages": _spec(chart)})


def model_section(run: Run) -> Section:
    alt = _altair()
    doc = run.model_document
    model = run.explainer.model
    settings = run.settings
    parts = [
        f"<p>Prior: {percent(doc['prior'])} of candidate pairs are matches "
        f"(weight {format_weight(model.prior_weight())} bits). Each level adds log2(m/u) bits to a pair's match weight: "
        "m is the chance of the level among matches, u among non-matches. "
        "Levels marked TF are adjusted for how common the agreed value is.</p>"
    ]
    data = []
    for comparison, entry in zip(settings.comparisons, doc["comparisons"]):
        rows = []
        for level, item in enumerate(entry["levels"]):
            if level == 0:
                continue
            tf = level <= len(comparison.levels) and comparison.levels[level - 1].tf_adjust
            label = item["label"] + (" (TF)" if tf else "")
            rows.append((label, f"{item['m']:.4g}", f"{item['u']:.4g}", format_weight(item["weight"])))
            data.append(
                {
                    "comparison": entry["name"],
                    "level": label,
                    "key": f"{entry['name']}: {label}",
                    "weight": item["weight"],
                    "m": item["m"],
                    "u": item["u"],
                    "sign": "for a match" if item["weight"] >= 0 else "against",
                }
            )
        parts.append(f"<h3>{_e(entry['name'])}</h3>" + _table(["level", "m", "u", "weight (bits)"], rows, numeric=(1, 2, 3)))
    chart = (
        alt.Chart(alt.Data(values=data), title="Weight each level adds (bits)")
        .mark_bar()
        .encode(
            x=alt.X("weight:Q", title="log2(m/u), bits"),
            y=alt.Y("key:N", sort=None, title=None),
            color=alt.Color(
                "sign:N", scale=alt.Scale(domain=["for a match", "against"], range=[FOR, AGAINST]), legend=None
            ),
            tooltip=[
                alt.Tooltip("comparison:N"),
                alt.Tooltip("level:N"),
                alt.Tooltip("m:Q", format=".4g"),
                alt.Tooltip("u:Q", format=".4g"),
                alt.Tooltip("weight:Q", format="+.2f"),
            ],
        )
        .properties(width=480, height=alt.Step(16))
    )
    body = _chart_div("chart-levels", "Weight each level adds") + '<div class="columns">' + "".join(
        f"<div>{p}</div>" for p in parts[1:]
    ) + "</div>"
    return Section("model", "Model parameters", parts[0] + body, {"chart-levels": _spec(chart)})


def weight_histogram(path: Path, *, max_bins: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, counts) of the match weights in ``pairs.parquet``, read a batch at a time.

    The range comes from the row groups' statistics where they have them, so
    the weights are read once; bins are whole or half bits.
    """
    # One file, or a folder of part files (as Spark writes it).
    files = [pq.ParquetFile(part) for part in parquet_parts(path)]
    lows, highs = [], []
    for file in files:
        column = file.schema_arrow.get_field_index("match_weight")
        for g in range(file.metadata.num_row_groups):
            stats = file.metadata.row_group(g).column(column).statistics
            if stats is None or not stats.has_min_max:
                lows, highs = [], []
                break
            lows.append(stats.min)
            highs.append(stats.max)
        else:
            continue
        break
    if not lows:
        weights = np.concatenate([f.read(columns=["match_weight"])["match_weight"].to_numpy() for f in files] or [np.zeros(0)])
        lows, highs = [weights.min(initial=0.0)], [weights.max(initial=0.0)]
    low, high = math.floor(min(lows)), math.ceil(max(highs))
    span = max(high - low, 1)
    width = next(w for w in (0.5, 1, 2, 4, 5, 10, 20, 50, 100) if span / w <= max_bins or w == 100)
    edges = np.arange(math.floor(low / width) * width, high + width, width, dtype=float)
    if len(edges) < 2:
        edges = np.array([low, low + width], dtype=float)
    counts = np.zeros(len(edges) - 1, dtype=np.int64)
    for file in files:
        for batch in file.iter_batches(columns=["match_weight"], batch_size=1 << 20):
            counts += np.histogram(batch.column(0).to_numpy(), bins=edges)[0]
    return edges, counts


def weights_section(run: Run) -> Section:
    alt = _altair()
    edges, counts = weight_histogram(run.out_dir / "pairs.parquet")
    data = [
        {"start": float(a), "end": float(b), "pairs": int(n), "probability": f"{format_probability(float(1 / (1 + 2 ** -((a + b) / 2))))}"}
        for a, b, n in zip(edges[:-1], edges[1:], counts)
        if n
    ]
    thresholds = [
        {"weight": _weight_of(run.settings.match_threshold), "label": f"match threshold (p = {run.settings.match_threshold:g})"},
        {"weight": _weight_of(run.settings.cluster_threshold), "label": f"cluster threshold (p = {run.settings.cluster_threshold:g})"},
    ]
    bars = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(color=FOR)
        .encode(
            x=alt.X("start:Q", title="match weight (bits)", bin="binned"),
            x2="end:Q",
            y=alt.Y("pairs:Q", title="candidate pairs (log scale)", scale=alt.Scale(type="log", domainMin=LOG_BASELINE)),
            y2=alt.datum(LOG_BASELINE),
            tooltip=[
                alt.Tooltip("start:Q", title="from"),
                alt.Tooltip("end:Q", title="to"),
                alt.Tooltip("pairs:Q", format=","),
                alt.Tooltip("probability:N", title="probability at centre"),
            ],
        )
    )
    rules = (
        alt.Chart(alt.Data(values=thresholds))
        .mark_rule(strokeDash=[4, 3], color=AGAINST)
        .encode(x="weight:Q", tooltip=[alt.Tooltip("label:N")])
    )
    chart = alt.layer(bars, rules, title="Match weight of candidate pairs").properties(width=640, height=240)
    total = int(counts.sum())
    body = (
        f"<p>{total:,} candidate pairs. Dashed lines: the match threshold "
        f"({_weight_of(run.settings.match_threshold):+.2f} bits) and the cluster threshold "
        f"({_weight_of(run.settings.cluster_threshold):+.2f} bits).</p>"
        + _chart_div("chart-weights", "Match weight distribution")
    )
    return Section("weights", "Match-weight distribution", body, {"chart-weights": _spec(chart)})


def clusters_section(run: Run) -> Section:
    alt = _altair()
    histogram = {int(k): int(v) for k, v in (run.summary.get("cluster_size_histogram") or {}).items()}
    data = [{"size": k, "clusters": v, "records": k * v} for k, v in sorted(histogram.items())]
    size_type = "O" if len(data) <= 40 else "Q"
    chart = (
        alt.Chart(alt.Data(values=data), title="Clusters by size")
        .mark_bar(color=FOR)
        .encode(
            x=alt.X(f"size:{size_type}", title="records in the cluster"),
            y=alt.Y("clusters:Q", title="clusters (log scale)", scale=alt.Scale(type="log", domainMin=LOG_BASELINE)),
            y2=alt.datum(LOG_BASELINE),
            tooltip=[alt.Tooltip("size:Q"), alt.Tooltip("clusters:Q", format=","), alt.Tooltip("records:Q", format=",")],
        )
        .properties(width=640, height=220)
    )
    largest = max(histogram) if histogram else 0
    singles = histogram.get(1, 0)
    body = (
        f"<p>{sum(histogram.values()):,} clusters; {singles:,} records stand alone; the largest cluster holds "
        f"{largest:,} records. Explain any cluster with <code>linkwise explain {_e(run.out_dir)} --cluster ID</code>.</p>"
        + _chart_div("chart-clusters", "Cluster size distribution")
    )
    return Section("clusters", "Cluster-size distribution", body, {"chart-clusters": _spec(chart)})


def blocking_section(run: Run) -> Section:
    alt = _altair()
    rules = run.summary.get("blocking_rules") or []
    rows, data = [], []
    for order, rule in enumerate(rules):
        blocks = "; ".join(f"{b['key']} ({b['records']:,})" for b in rule.get("largest_blocks", [])[:3])
        made = rule.get("marginal_pairs")
        rows.append((rule["rule"], f"{rule['pairs']:,}", "" if made is None else f"{made:,}", blocks))
        data.append({"rule": rule["rule"], "order": order, "kind": "pairs of the rule alone", "pairs": rule["pairs"]})
        if made is not None:
            data.append({"rule": rule["rule"], "order": order, "kind": "pairs it made (not made by an earlier rule)", "pairs": made})
    chart = (
        alt.Chart(alt.Data(values=data), title="Pairs per blocking rule")
        .mark_bar()
        .encode(
            x=alt.X("pairs:Q", title="pairs"),
            y=alt.Y("rule:N", sort=alt.EncodingSortField(field="order", order="ascending"), title=None),
            yOffset=alt.YOffset("kind:N"),
            color=alt.Color("kind:N", scale=alt.Scale(range=[NEUTRAL, FOR]), legend=alt.Legend(orient="bottom", title=None)),
            tooltip=[alt.Tooltip("rule:N"), alt.Tooltip("kind:N"), alt.Tooltip("pairs:Q", format=",")],
        )
        .properties(width=480, height=alt.Step(14))
    )
    body = (
        "<p>A pair is a candidate when any rule holds for it; it is made once, by the first rule that holds.</p>"
        + _table(["rule", "pairs of the rule alone", "pairs it made", "largest blocks (records)"], rows, numeric=(1, 2))
        + _chart_div("chart-blocking", "Pairs per blocking rule")
    )
    return Section("blocking", "Blocking rules", body, {"chart-blocking": _spec(chart)})


def borderline_pairs(run: Run, n: int, *, seed: int = 0) -> list[tuple[int, int, float]]:
    """A seeded sample of ``n`` pairs near the match threshold: (left, right, scored weight), by weight.

    The window around the threshold widens until it holds a few times ``n``
    pairs; only those pairs are read (row groups are skipped by their statistics).
    """
    if n <= 0:
        return []
    centre = _weight_of(run.settings.match_threshold)
    left = right = weights = np.empty(0)
    for half_width in (1.0, 2.0, 4.0, 8.0, 16.0, 64.0, math.inf):
        filters = [("match_weight", ">=", centre - half_width), ("match_weight", "<=", centre + half_width)]
        if math.isinf(half_width):
            filters = None
        left, right, weights = run.pairs(filters=filters)
        if len(weights) >= 4 * n:
            break
    if len(weights) > n:
        chosen = np.random.default_rng(seed).choice(len(weights), size=n, replace=False)
        left, right, weights = left[chosen], right[chosen], weights[chosen]
    order = np.argsort(weights, kind="stable")
    return [(int(left[i]), int(right[i]), float(weights[i])) for i in order]


def waterfall_chart(explanation: PairExplanation, title: str, *, validate: bool = True) -> dict:
    """A waterfall of a pair's match weight: the prior, then what each comparison adds."""
    alt = _altair()
    rows, running = [], 0.0
    for order, (name, weight) in enumerate(explanation.contributions()):
        kind = "prior" if order == 0 else ("for a match" if weight > 0 else "against" if weight < 0 else "no evidence")
        rows.append({"order": order, "part": name, "start": running, "end": running + weight, "weight": weight, "kind": kind})
        running += weight
    rows.append({"order": len(rows), "part": "total", "start": 0.0, "end": running, "weight": running, "kind": "total"})
    threshold = [{"weight": _weight_of(explanation.match_threshold), "label": "match threshold"}]
    bars = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("part:N", sort=alt.EncodingSortField(field="order", order="ascending"), title=None, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("start:Q", title="match weight (bits)"),
            y2="end:Q",
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(
                    domain=["prior", "for a match", "against", "no evidence", "total"],
                    range=[NEUTRAL, FOR, AGAINST, NEUTRAL, "#31a354"],
                ),
                legend=None,
            ),
            tooltip=[alt.Tooltip("part:N"), alt.Tooltip("weight:Q", format="+.2f"), alt.Tooltip("end:Q", title="running total", format="+.2f")],
        )
    )
    rule = alt.Chart(alt.Data(values=threshold)).mark_rule(strokeDash=[4, 3], color="#000").encode(y="weight:Q", tooltip=[alt.Tooltip("label:N")])
    return _spec(alt.layer(bars, rule, title=title).properties(width=alt.Step(34), height=200), validate=validate)


def explanation_html(explanation: PairExplanation) -> str:
    """A pair's explanation as HTML tables: the records side by side, then the evidence."""
    records = _table(
        ["", explanation.label_a(), explanation.label_b()],
        [(column, explanation.record_a[column], explanation.record_b[column]) for column in explanation.record_a],
        cls="records",
    )
    rows = []
    for e in explanation.evidence:
        compared = f"{e.value_a if e.value_a is not None else '(missing)'} vs {e.value_b if e.value_b is not None else '(missing)'}"
        level = "null: a value is missing, no evidence" if e.is_null else e.label
        note = f"<br><span class=\"note\">{_e(e.tf_note)}: {format_weight(e.tf_adjustment)}</span>" if e.tf_note else ""
        rows.append(
            (
                e.comparison,
                compared,
                _Raw(_e(level) + note),
                "" if e.is_null else f"{e.m:.4g}",
                "" if e.is_null else f"{e.u:.4g}",
                _Raw(f'<span class="{"for" if e.weight > 0 else "against" if e.weight < 0 else ""}">{format_weight(e.weight)}</span>'),
            )
        )
    rows.append(("prior", "", f"{percent(explanation.prior)} of candidate pairs are matches", "", "", format_weight(explanation.prior_weight)))
    rows.append(("total", "", _Raw(f"<b>probability {format_probability(explanation.match_probability)}</b>"), "", "", _Raw(f"<b>{format_weight(explanation.match_weight)}</b>")))
    evidence = _table(["comparison", "compared values", "level", "m", "u", "weight"], rows, numeric=(3, 4, 5), cls="evidence")
    rules = "".join(
        f"<li><b>{'holds' if r.holds else 'does not hold'}</b>: {_e(r.rule)}: {_e(r.reason)}</li>" for r in explanation.rules
    )
    return (
        records
        + evidence
        + f"<p>{_e(explanation.verdict)}.<br>Blocking: {_e(explanation.blocking_summary)}.</p><ul class=\"rules\">{rules}</ul>"
    )


def borderline_section(run: Run, n: int, *, seed: int = 0) -> Section:
    sample = borderline_pairs(run, n, seed=seed)
    charts: dict[str, dict] = {}
    parts = [
        f"<p>A sample of {len(sample)} candidate pairs whose weight is near the match threshold "
        f"(p = {run.settings.match_threshold:g}, {_weight_of(run.settings.match_threshold):+.2f} bits), "
        "each explained: the records side by side, and what each comparison adds to the weight. "
        f"Explain any pair with <code>linkwise explain {_e(run.out_dir)} ID_A ID_B</code>.</p>"
    ]
    for k, (left, right, scored) in enumerate(sample, start=1):
        explanation = run.explainer.explain_pair(left, right)
        if abs(explanation.match_weight - scored) > 1e-9:
            raise OutputError(
                f"pair {explanation.id_a} - {explanation.id_b} now scores {explanation.match_weight:.6f}, "
                f"the run gave {scored:.6f}: the inputs changed since the run; run again"
            )
        chart_id = f"chart-pair-{k}"
        title = f"{explanation.label_a()} and {explanation.label_b()}"
        charts[chart_id] = waterfall_chart(explanation, f"Pair {k}: {title}", validate=k == 1)
        parts.append(
            f'<details class="pair"{" open" if k <= 2 else ""}><summary>Pair {k}: {_e(title)}: weight '
            f"{format_weight(explanation.match_weight)}, probability {format_probability(explanation.match_probability)}"
            f"</summary>{_chart_div(chart_id, 'Match weight of pair ' + str(k))}{explanation_html(explanation)}</details>"
        )
    if not sample:
        parts.append("<p>The run has no candidate pairs.</p>")
    return Section("borderline", "Borderline pairs, explained", "".join(parts), charts)


def estimate_section(run: Run) -> Section:
    """Label-free estimates of precision and recall, from the model's own probabilities."""
    from .evaluate_run import estimate_output

    estimate = estimate_output(run.out_dir)

    def row(what: str, measures: dict) -> list[tuple[str, str, str, str]]:
        return [
            (what, name, f"{e.value:.4f}", f"{e.low:.4f} – {e.high:.4f}")
            for name, e in measures.items()
            if name in ("precision", "recall", "f1")
        ]

    rows = row(f"pairs at p ≥ {estimate.threshold:g}", estimate.scored_pairs) + row("pairs inside clusters", estimate.cluster_pairs)
    if estimate.blocking_recall is not None:
        b = estimate.blocking_recall
        rows.append(("blocking", "recall", f"{b.value:.4f}", f"{b.low:.4f} – {b.high:.4f}"))
    m = estimate.expected_matches
    body = (
        "<p>How accurate the run probably is, estimated without any labels: from the probability the model "
        "gives each pair, and, for the matches blocking never made, from which rules caught the likely matches. "
        f"The model expects about {m.value:,.0f} matching pairs in all ({m.low:,.0f} – {m.high:,.0f}). "
        "The ranges span the modelling assumptions; they are not confidence intervals. "
        "A truth column (<code>--truth</code>) gives measured figures instead.</p>"
        + _table(["of", "measure", "estimate", "range"], rows, numeric=(2,))
    )
    return Section("estimate", "Estimated accuracy (no labels)", body)


def truth_section(run: Run, truth: str) -> Section:
    from .evaluate import precision_recall_curve
    from .evaluate_run import truth_codes
    from .model import probability

    alt = _altair()
    codes = truth_codes(run.records, truth)
    left, right, weights = run.pairs()
    thresholds = np.round(np.concatenate([[0.001, 0.005], np.arange(0.01, 1.0, 0.01), [0.995, 0.999]]), 3)
    curve = precision_recall_curve(
        truth=codes,
        pair_left=left,
        pair_right=right,
        pair_probability=probability(weights),
        sources=run.records.source_codes.astype(np.int64),
        link_type=run.settings.link_type,
        thresholds=thresholds,
    )
    data = [
        {"threshold": row["threshold"], "measure": measure, "value": row[key]}
        for row in curve
        for measure, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1"))
    ]
    lines = (
        alt.Chart(alt.Data(values=data))
        .mark_line()
        .encode(
            x=alt.X("threshold:Q", title="match threshold (probability)"),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color("measure:N", scale=alt.Scale(domain=["precision", "recall", "F1"], range=[FOR, AGAINST, "#31a354"]), legend=alt.Legend(orient="bottom", title=None)),
            tooltip=[alt.Tooltip("threshold:Q"), alt.Tooltip("measure:N"), alt.Tooltip("value:Q", format=".4f")],
        )
    )
    rule = (
        alt.Chart(alt.Data(values=[{"threshold": run.settings.match_threshold}]))
        .mark_rule(strokeDash=[4, 3], color="#000")
        .encode(x="threshold:Q")
    )
    chart = alt.layer(lines, rule, title=f"Pairwise precision and recall against '{truth}'").properties(width=640, height=260)
    shown = [row for row in curve if round(row["threshold"] * 100) % 10 == 0 or row["threshold"] in (0.95, 0.99)]
    rows = [(f"{r['threshold']:g}", f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}") for r in shown]
    body = (
        f"<p>Scored pairs at or above each threshold, against the truth column <code>{_e(truth)}</code> "
        "(recall counts true pairs that blocking missed as found by none). Dashed line: the run's match threshold.</p>"
        + _chart_div("chart-truth", "Precision and recall against threshold")
        + _table(["threshold", "precision", "recall", "F1"], rows, numeric=(0, 1, 2, 3))
    )
    return Section("truth", "Precision and recall against threshold", body, {"chart-truth": _spec(chart)})


# -- the page ---------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#253041;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c8d0dc}
nav{padding:8px 32px;background:#e9edf2;position:sticky;top:0;z-index:2}
nav a{margin-right:16px;color:#253041;text-decoration:none;font-weight:600}
main{padding:8px 32px 48px;max-width:1200px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px 20px 16px;margin:18px 0}
h2{font-size:18px;margin:10px 0} h3{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f3f5f8} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.keyvalue td:first-child{color:#555}
.columns{display:flex;flex-wrap:wrap;gap:0 28px}
.chart{margin:10px 0;min-height:40px}
.for{color:#1f6f99;font-weight:600} .against{color:#b2351e;font-weight:600}
.note{color:#666;font-size:12px}
details.pair{border-top:1px solid #eee;padding:6px 0} details.pair summary{cursor:pointer;font-weight:600}
ul.rules{margin:4px 0;padding-left:20px;font-size:13px}
.chart-error{color:#b2351e}
"""

_RENDER = """
(function () {
  var specs = JSON.parse(document.getElementById('linkwise-charts').textContent);
  var ids = Object.keys(specs);
  var pending = ids.length;
  document.body.dataset.charts = String(ids.length);
  document.body.dataset.chartsRendered = '0';
  ids.forEach(function (id) {
    vegaEmbed('#' + id, specs[id], {renderer: 'svg', actions: false}).then(function () {
      document.getElementById(id).dataset.rendered = 'true';
    }).catch(function (error) {
      console.error('chart ' + id + ' failed: ' + error);
      var div = document.getElementById(id);
      div.className += ' chart-error';
      div.textContent = 'This chart could not be drawn: ' + error;
    }).finally(function () {
      pending -= 1;
      document.body.dataset.chartsRendered = String(ids.length - pending);
      if (pending === 0) { document.body.dataset.chartsDone = 'true'; }
    });
  });
  if (ids.length === 0) { document.body.dataset.chartsDone = 'true'; }
})();
"""


def _json_for_script(value: Any) -> str:
    """JSON that can sit inside a <script> element: '<' never appears raw."""
    return json.dumps(value, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole HTML page: sections, their charts' specs, and the inlined Vega JavaScript."""
    charts: dict[str, dict] = {}
    for section in sections:
        charts.update(section.charts)
    nav = "".join(f'<a href="#{s.anchor}">{_e(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.anchor}"><h2>{_e(s.title)}</h2>{s.body}</section>' for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n"
        f"<script>\n{vega_javascript()}\n</script>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p></header>\n<nav>{nav}</nav>\n<main>{body}</main>\n"
        f'<script type="application/json" id="linkwise-charts">{_json_for_script(charts)}</script>\n'
        f"<script>{_RENDER}</script>\n</body>\n</html>\n"
    )


def build_report(run: Run, *, truth: str | None = None, borderline: int = 8, seed: int = 0) -> str:
    """The report of a run read back with :func:`~linkwise.explain.load_run`, as HTML text."""
    sections = [
        summary_section(run),
        model_section(run),
        weights_section(run),
        clusters_section(run),
        blocking_section(run),
        borderline_section(run, borderline, seed=seed),
        estimate_section(run),
    ]
    if truth is not None:
        sections.append(truth_section(run, truth))
    from . import __version__

    made = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    subtitle = f"{run.out_dir.resolve()} · {run.settings.link_type} · made {made} by linkwise {__version__}"
    return render_page("linkwise report", subtitle, sections)


def write_report(
    out_dir: str | Path,
    path: str | Path | None = None,
    *,
    truth: str | None = None,
    inputs: Sequence[str] | None = None,
    encoding: str | None = None,
    borderline: int = 8,
    seed: int = 0,
) -> Path:
    """Write the HTML report of the run in ``out_dir`` (default: ``out_dir/report.html``) and return its path.

    The run's inputs are read again (from ``summary.json``, or ``inputs``) to
    explain the borderline pairs and, with ``truth``, to read the truth column.

    Examples
    --------
    >>> from linkwise.report import write_report
    >>> write_report("out/", truth="entity_id")  # doctest: +SKIP
    PosixPath('out/report.html')
    """
    out_dir = Path(out_dir)
    path = Path(path) if path is not None else out_dir / "report.html"
    run = load_run(out_dir, inputs=inputs, encoding=encoding, extra_columns=[truth] if truth else ())
    text = build_report(run, truth=truth, borderline=borderline, seed=seed)
    try:
        atomic_write_text(path, text)
        if path.parent.resolve() == out_dir.resolve() and path.name in REPORT_FILES:
            record_output(out_dir, path.name)  # the run's own: a later --overwrite may replace it
    except OSError as exc:
        raise OutputError(f"cannot write the report to '{path}': {exc.strerror or exc}") from None
    return path
