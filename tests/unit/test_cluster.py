"""Specification tests for linkwise.cluster: refinement of connected components and cluster confidence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwise.cluster import cluster_confidence, connected_components, refine_clusters
from linkwise.model import probability

STRONG, WEAK, UNLIKELY = 12.0, 4.0, -3.0  # match weights in bits


def groups(labels) -> set[frozenset]:
    out: dict[int, set] = {}
    for record, label in enumerate(np.asarray(labels).tolist()):
        out.setdefault(label, set()).add(record)
    return {frozenset(g) for g in out.values()}


def clique(members, weight=STRONG):
    return [(a, b, weight) for i, a in enumerate(members) for b in members[i + 1 :]]


def refine(n, pairs, *, threshold=0.9, **options):
    left = np.array([a for a, _, _ in pairs])
    right = np.array([b for _, b, _ in pairs])
    weight = np.array([w for _, _, w in pairs], dtype=float)
    linked = probability(weight) >= threshold
    components = connected_components(n, left[linked], right[linked])
    return components, refine_clusters(components, left, right, weight, **options)


def test_two_dense_groups_joined_by_one_weak_link_are_split():
    a, b = [0, 1, 2, 3], [4, 5, 6, 7]
    across = [(x, y, UNLIKELY) for x in a for y in b if (x, y) != (3, 4)]
    components, refined = refine(8, clique(a) + clique(b) + [(3, 4, WEAK)] + across)
    assert groups(components) == {frozenset(a + b)}  # one wrong link chains the two people
    assert groups(refined) == {frozenset(a), frozenset(b)}


def test_a_clique_of_strong_links_is_not_split_by_one_unlikely_pair_inside_it():
    members = [0, 1, 2, 3, 4]
    pairs = [p for p in clique(members) if p[:2] != (0, 4)] + [(0, 4, UNLIKELY)]
    _, refined = refine(5, pairs)
    assert groups(refined) == {frozenset(members)}


def test_a_chain_without_evidence_against_it_stays_whole():
    # Pairs never scored count neither way: a chain of strong links is one cluster.
    _, refined = refine(4, [(0, 1, STRONG), (1, 2, STRONG), (2, 3, STRONG)])
    assert groups(refined) == {frozenset(range(4))}


def test_a_record_is_moved_off_a_group_its_pairs_mostly_speak_against():
    # Record 3 is linked strongly to 2, but three pairs say it is not 0, 1 or 4.
    pairs = clique([0, 1, 2, 4]) + [(2, 3, WEAK), (0, 3, UNLIKELY), (1, 3, UNLIKELY), (3, 4, UNLIKELY)]
    _, refined = refine(5, pairs)
    assert groups(refined) == {frozenset([0, 1, 2, 4]), frozenset([3])}


def test_a_higher_refinement_threshold_splits_more():
    a, b = [0, 1, 2], [3, 4, 5]
    pairs = clique(a) + clique(b) + [(2, 3, STRONG), (0, 3, -0.5), (1, 4, -0.5)]
    assert len(groups(refine(6, pairs, threshold=0.9)[1])) == 1
    # With 0.99 as the break-even, the 12-bit link still holds, the two -0.5 pairs weigh -7.6 bits each.
    split = refine_clusters(
        np.zeros(6, np.int64),
        np.array([a for a, _, _ in pairs]),
        np.array([b for _, b, _ in pairs]),
        np.array([w for _, _, w in pairs]),
        threshold=0.999,
    )
    assert groups(split) == {frozenset(a), frozenset(b)}


def test_a_component_too_large_to_regroup_at_once_is_first_cut_at_rising_weights():
    # Three strong cliques of four chained by moderately strong links; at most 5 records regrouped at once.
    pairs = clique([0, 1, 2, 3], 30.0) + clique([4, 5, 6, 7], 30.0) + clique([8, 9, 10, 11], 30.0)
    pairs += [(3, 4, 6.0), (7, 8, 6.0)]
    components, refined = refine(12, pairs, dense_limit=5)
    assert len(groups(components)) == 1
    assert groups(refined) == {frozenset(range(0, 4)), frozenset(range(4, 8)), frozenset(range(8, 12))}


def test_refined_labels_are_numbered_in_order_of_each_clusters_first_record():
    a, b = [0, 2, 4], [1, 3, 5]
    pairs = clique(a) + clique(b) + [(4, 5, WEAK)] + [(x, y, UNLIKELY) for x in a for y in b if (x, y) != (4, 5)]
    _, refined = refine(7, pairs)
    assert refined.tolist() == [0, 1, 0, 1, 0, 1, 2]


@st.composite
def scored_graphs(draw):
    n = draw(st.integers(2, 25))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))
    pairs = sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b})
    weights = draw(st.lists(st.floats(-20, 20), min_size=len(pairs), max_size=len(pairs)))
    return n, pairs, weights


@settings(max_examples=60, deadline=None)
@given(scored_graphs())
def test_refinement_only_splits_components_and_numbers_clusters_from_zero(graph):
    n, pairs, weights = graph
    components, refined = refine(n, [(a, b, w) for (a, b), w in zip(pairs, weights)])
    component_groups = groups(components)
    for cluster in groups(refined):
        assert any(cluster <= component for component in component_groups)
    first_seen = list(dict.fromkeys(refined.tolist()))
    assert first_seen == list(range(len(first_seen)))


# ------------------------------------------------------------------ confidence
def test_the_weakest_link_is_the_bottleneck_of_the_strongest_spanning_tree():
    labels = np.array([0, 0, 0, 0, 1])
    left, right = np.array([0, 1, 2, 0]), np.array([1, 2, 3, 3])
    weight = np.array([10.0, 2.0, 8.0, 5.0])  # 0-1 and 2-3 are joined best through 0-3 (5 bits), not 1-2
    weakest, mean = cluster_confidence(labels, left, right, weight)
    assert weakest[0] == pytest.approx(float(probability(5.0)))
    assert mean[0] == pytest.approx(float(probability(weight).mean()))
    assert np.isnan(weakest[1]) and np.isnan(mean[1])


def test_pairs_across_clusters_do_not_count_towards_either_confidence():
    labels = np.array([0, 0, 1, 1])
    left, right = np.array([0, 2, 1]), np.array([1, 3, 2])
    weakest, mean = cluster_confidence(labels, left, right, np.array([6.0, 9.0, -30.0]))
    np.testing.assert_allclose(weakest, probability(np.array([6.0, 9.0])))
    np.testing.assert_allclose(mean, probability(np.array([6.0, 9.0])))
