"""Property tests: invariants that hold for any input (kernels, standardisers, clustering)."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import JaroWinkler

from linkwise.kernels import encode_codepoints

from linkwise.cluster import cluster_sizes, connected_components
from linkwise.compare import _SIMILARITY, ComparisonKernel, compare_pairs
from linkwise.ingest import load_records
from linkwise.prepare import prepare
from linkwise.score import match_weights
from linkwise.settings import Settings
from linkwise.standardise import apply_steps, parse_steps

FEW = settings(max_examples=50, deadline=None)
SETTINGS = Path(__file__).resolve().parents[2] / "linkwise" / "data" / "people_settings.json"

# A small alphabet makes equal values, shared prefixes and shared words common.
words = st.text(alphabet="abcde", min_size=1, max_size=5)
short_text = st.lists(words, min_size=0, max_size=4).map(" ".join)
iso_dates = st.dates(min_value=date(1970, 1, 1), max_value=date(2030, 12, 31)).map(date.isoformat)
numbers = st.one_of(
    st.integers(min_value=-1000, max_value=1000).map(str),
    st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False).map(repr),
)

STRING_LEVELS = [
    ["exact"],
    [{"type": "jaro_winkler", "threshold": 0.8}],
    [{"type": "jaro", "threshold": 0.7}],
    [{"type": "levenshtein", "max": 1}],
    [{"type": "damerau_levenshtein", "max": 2}],
    [{"type": "jaccard", "threshold": 0.5}],
    [{"type": "prefix", "length": 2}],
]
DATE_LEVELS = [
    [{"type": "date_diff", "max": 30}],
    [{"type": "date_diff", "max": 3, "unit": "months"}],
    [{"type": "date_diff", "max": 1, "unit": "years"}],
    [{"type": "date_swap"}],
]
NUMBER_LEVELS = [
    [{"type": "abs_diff", "max": 5}],
    [{"type": "rel_diff", "max": 0.1}],
]


def kernels_for(level_sets, values) -> list[ComparisonKernel]:
    """One kernel per level set, all over one column holding ``values``."""
    comparisons = [{"name": f"c{i}", "column": "value", "levels": levels} for i, levels in enumerate(level_sets)]
    spec = {"comparisons": comparisons, "blocking_rules": [["value"]]}
    conf = Settings.from_dict(spec)
    records = load_records(pa.table({"value": pa.array(values, type=pa.string())}), conf)
    prepared, _ = prepare(records, conf)
    return [ComparisonKernel(p) for p in prepared]


def all_ordered_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.array([(i, j) for i, j in itertools.product(range(n), repeat=2) if i != j], dtype=np.int64)
    return pairs[:, 0], pairs[:, 1]


def assert_every_kernel_is_symmetric(level_sets, values):
    left, right = all_ordered_pairs(len(values))
    for kernel in kernels_for(level_sets, values):
        # On records: the level of (i, j) is the level of (j, i).
        forward = kernel.levels_of_pairs(left, right)
        backward = kernel.levels_of_pairs(right, left)
        assert forward.tolist() == backward.tolist(), kernel.levels
        # On the raw predicates, before pairs are put in canonical order.
        n_tuples = len(kernel.prepared.tuple_columns)
        if n_tuples >= 2:
            a, b = all_ordered_pairs(n_tuples)
            assert kernel.levels_of_tuples(a, b).tolist() == kernel.levels_of_tuples(b, a).tolist(), kernel.levels


# ------------------------------------------------------------------ symmetry
@FEW
@given(st.lists(st.one_of(short_text, st.none()), min_size=2, max_size=8))
def test_string_kernels_give_a_pair_the_same_level_whichever_side_each_value_is_on(values):
    assert_every_kernel_is_symmetric(STRING_LEVELS, values)


@FEW
@given(st.lists(st.one_of(iso_dates, st.none()), min_size=2, max_size=8))
def test_date_kernels_give_a_pair_the_same_level_whichever_side_each_value_is_on(values):
    assert_every_kernel_is_symmetric(DATE_LEVELS, values)


@FEW
@given(st.lists(st.one_of(numbers, st.none()), min_size=2, max_size=8))
def test_numeric_kernels_give_a_pair_the_same_level_whichever_side_each_value_is_on(values):
    assert_every_kernel_is_symmetric(NUMBER_LEVELS, values)


@FEW
@given(st.lists(st.one_of(short_text, st.none()), min_size=2, max_size=8), st.randoms(use_true_random=False))
def test_a_pairs_level_does_not_depend_on_the_other_pairs_in_the_batch(values, rnd):
    levels = [[{"type": "jaro_winkler", "threshold": 0.9}, {"type": "jaro_winkler", "threshold": 0.7},
               {"type": "jaccard", "threshold": 0.5}, {"type": "levenshtein", "max": 2}]]
    (kernel,) = kernels_for(levels, values)
    left, right = all_ordered_pairs(len(values))
    full = kernel.levels_of_pairs(left, right)
    order = list(range(len(left)))
    rnd.shuffle(order)
    subset = np.array(order[: max(1, len(order) // 2)])
    assert kernel.levels_of_pairs(left[subset], right[subset]).tolist() == full[subset].tolist()


@FEW
@given(st.lists(st.one_of(short_text, st.none()), min_size=2, max_size=8))
def test_a_missing_value_always_gives_the_null_level_and_nothing_else_does(values):
    (kernel,) = kernels_for([["exact", {"type": "jaro", "threshold": 0.5}]], values)
    left, right = all_ordered_pairs(len(values))
    out = kernel.levels_of_pairs(left, right)
    missing = np.array([not v for v in values])  # None and "" are both missing
    assert ((out == 0) == (missing[left] | missing[right])).all()
    assert out.max(initial=0) <= kernel.else_level


# ------------------------------------------------------------------ similarity scores
@FEW
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), min_size=1, max_size=20))
def test_string_similarity_scores_lie_between_zero_and_one(pairs):
    values = [x for pair in pairs for x in pair]
    offsets, codepoints = encode_codepoints(pa.array(values))
    a = np.arange(0, len(values), 2)
    b = a + 1
    same = np.array([x == y for x, y in pairs])
    for kind, metric in _SIMILARITY.items():
        scores = metric(offsets, codepoints, a, b)
        assert ((scores >= 0) & (scores <= 1)).all(), kind
        assert (scores[same] == 1).all(), kind


@FEW
@given(st.lists(short_text.filter(bool), min_size=2, max_size=10, unique=True))
def test_token_jaccard_is_the_overlap_of_word_sets_and_lies_between_zero_and_one(values):
    (kernel,) = kernels_for([[{"type": "jaccard", "threshold": 0.5}]], values)
    stored = kernel.prepared.values.to_pylist()
    a, b = all_ordered_pairs(len(stored))
    scores = kernel._jaccard(a, b)
    for i, j, score in zip(a, b, scores):
        x, y = set(stored[i].split()), set(stored[j].split())
        assert 0.0 <= score <= 1.0
        assert score == len(x & y) / len(x | y)


@FEW
@given(words, words)
def test_similarity_levels_agree_with_the_similarity_score(x, y):
    thresholds = (0.93, 0.81, 0.67)
    score = JaroWinkler.normalized_similarity(x, y)
    # Scores that sit on a threshold are checked by the hand-made tests.
    assume(all(abs(score - t) > 1e-6 for t in thresholds))
    levels = [[{"type": "jaro_winkler", "threshold": t} for t in thresholds]]
    (kernel,) = kernels_for(levels, [x, y])
    expected = next((k for k, t in enumerate(thresholds, start=1) if score >= t), len(thresholds) + 1)
    assert kernel.levels_of_pairs(np.array([0]), np.array([1])).tolist() == [expected]


# ------------------------------------------------------------------ standardisers
def _cleaned(values, steps):
    return apply_steps(pa.array(values, type=pa.string()), parse_steps(steps)).to_pylist()


IDEMPOTENT = ["lower", "upper", "trim", "remove_spaces", "strip_punctuation", "fold_accents",
              "digits_only", "letters_only", "sort_tokens", "email_local_part"]


@FEW
@given(st.lists(st.one_of(st.text(max_size=15), st.none()), min_size=1, max_size=10))
def test_cleaning_steps_change_nothing_when_applied_a_second_time(values):
    for step in IDEMPOTENT:
        once = _cleaned(values, [step])
        assert _cleaned(once, [step]) == once, step


@FEW
@given(st.lists(st.one_of(st.text(max_size=15), st.none()), min_size=1, max_size=10))
def test_cleaning_keeps_one_value_per_row_and_never_returns_empty_text(values):
    for step in IDEMPOTENT:
        out = _cleaned(values, [step])
        assert len(out) == len(values)
        assert "" not in out
        assert all(o is None for v, o in zip(values, out) if v is None)


@FEW
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=15))
def test_digits_only_leaves_only_ascii_digits(text):
    (out,) = _cleaned([text], ["digits_only"])
    assert out is None or (out.isascii() and out.isdigit())


# ------------------------------------------------------------------ clustering
def edges_on(n: int):
    node = st.integers(min_value=0, max_value=max(n - 1, 0))
    return st.lists(st.tuples(node, node), max_size=3 * n) if n else st.just([])


graphs = st.integers(min_value=0, max_value=30).flatmap(lambda n: st.tuples(st.just(n), edges_on(n)))


def _components(n, edges):
    """Reference: components by a simple Python union-find."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict[int, set[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), set()).add(i)
    return {frozenset(g) for g in groups.values()}


def _run(n, edges):
    left = np.array([a for a, _ in edges], dtype=np.int64)
    right = np.array([b for _, b in edges], dtype=np.int64)
    return connected_components(n, left, right)


@FEW
@given(graphs)
def test_clusters_partition_the_records_into_the_connected_components(graph):
    n, edges = graph
    labels = _run(n, edges)
    assert len(labels) == n
    for a, b in edges:
        assert labels[a] == labels[b]
    clusters: dict[int, set[int]] = {}
    for record, label in enumerate(labels.tolist()):
        clusters.setdefault(label, set()).add(record)
    assert {frozenset(c) for c in clusters.values()} == _components(n, edges)


@FEW
@given(graphs)
def test_cluster_labels_are_numbered_from_zero_in_order_of_first_record(graph):
    n, edges = graph
    labels = _run(n, edges).tolist()
    first_seen = list(dict.fromkeys(labels))
    assert first_seen == list(range(len(first_seen)))


@FEW
@given(graphs)
def test_adding_an_isolated_record_gives_it_a_new_label_and_changes_no_other(graph):
    n, edges = graph
    before = _run(n, edges)
    after = _run(n + 1, edges)
    assert after[:n].tolist() == before.tolist()
    assert after[n] == (before.max() + 1 if n else 0)


@FEW
@given(graphs, st.randoms(use_true_random=False))
def test_clusters_do_not_depend_on_edge_order_or_direction(graph, rnd):
    n, edges = graph
    shuffled = [(b, a) if rnd.random() < 0.5 else (a, b) for a, b in edges]
    rnd.shuffle(shuffled)
    assert _run(n, shuffled).tolist() == _run(n, edges).tolist()


@FEW
@given(graphs)
def test_cluster_sizes_count_the_records_sharing_each_label(graph):
    n, edges = graph
    labels = _run(n, edges)
    sizes = cluster_sizes(labels) if n else np.array([], dtype=np.int64)
    assert sizes.tolist() == [int((labels == label).sum()) for label in labels]


# ------------------------------------------------------------------ symmetry of scores and weights
@FEW
@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), min_size=1, max_size=20))
def test_string_similarity_is_symmetric_and_lies_between_zero_and_one(pairs):
    values = [x for pair in pairs for x in pair]
    offsets, codepoints = encode_codepoints(pa.array(values))
    a = np.arange(0, len(values), 2)
    b = a + 1
    for kind, metric in _SIMILARITY.items():
        forward, backward = metric(offsets, codepoints, a, b), metric(offsets, codepoints, b, a)
        assert forward.tolist() == backward.tolist(), kind
        assert ((forward >= 0) & (forward <= 1)).all(), kind


@FEW
@given(st.lists(short_text, min_size=2, max_size=10))
def test_token_jaccard_is_symmetric(values):
    (kernel,) = kernels_for([[{"type": "jaccard", "threshold": 0.5}]], values)
    n = len(kernel.prepared.values)
    assume(n >= 2)
    a, b = all_ordered_pairs(n)
    assert kernel._jaccard(a, b).tolist() == kernel._jaccard(b, a).tolist()


@pytest.fixture(scope="module")
def fitted():
    """A run on synthetic people: a fitted model, and the kernels of its prepared comparisons."""
    from linkwise import datasets, dedupe

    result = dedupe(datasets.people(300, seed=17), SETTINGS)
    return result, [ComparisonKernel(p) for p in result.prepared]


record_pairs = st.lists(
    st.tuples(st.integers(0, 299), st.integers(0, 299)).filter(lambda pair: pair[0] != pair[1]), min_size=1, max_size=50
)


@FEW
@given(pairs=record_pairs)
def test_a_pairs_weight_does_not_depend_on_which_record_is_left(fitted, pairs):
    result, kernels = fitted
    left = np.array([i for i, _ in pairs], dtype=np.int32)
    right = np.array([j for _, j in pairs], dtype=np.int32)
    forward = compare_pairs(kernels, left, right)
    backward = compare_pairs(kernels, right, left)
    assert forward.tolist() == backward.tolist()
    weights = match_weights(result.model, result.prepared, forward, left)
    swapped = match_weights(result.model, result.prepared, backward, right)
    assert weights.tolist() == swapped.tolist()


def test_every_candidate_pair_scores_the_same_with_its_records_swapped(fitted):
    result, kernels = fitted
    levels = compare_pairs(kernels, result.right, result.left)
    assert levels.tolist() == result.levels.tolist()
    assert match_weights(result.model, result.prepared, levels, result.right).tolist() == result.match_weight.tolist()


# ------------------------------------------------------------------ clusters and unrelated records
@FEW
@given(graphs, graphs, st.randoms(use_true_random=False))
def test_records_joining_with_only_their_own_links_change_no_other_cluster(graph, newcomers, rnd):
    n, edges = graph
    m, new_edges = newcomers
    # Number old and new records together in a random order, as new rows anywhere in the input would be.
    numbering = list(range(n + m))
    rnd.shuffle(numbering)
    old, new = numbering[:n], numbering[n:]
    together = [(old[a], old[b]) for a, b in edges] + [(new[a], new[b]) for a, b in new_edges]
    labels = _run(n + m, together)
    before = _run(n, edges)

    def partition(label_of, records):
        groups: dict[int, set[int]] = {}
        for position, record in enumerate(records):
            groups.setdefault(int(label_of[record]), set()).add(position)
        return {frozenset(g) for g in groups.values()}

    assert partition(labels, old) == partition(before, range(n))
    assert not {int(labels[r]) for r in old} & {int(labels[r]) for r in new}
