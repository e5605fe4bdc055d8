"""What holds a cluster together: spanning trees, bridges, and the words of an explanation."""

from __future__ import annotations

import numpy as np
import pytest

from linkwise.explain import Evidence, bridges, format_probability, maximum_spanning_tree, percent


def edges(*links: tuple[int, int, float]):
    a, b, w = zip(*links)
    return np.array(a), np.array(b), np.array(w, dtype=float)


def test_maximum_spanning_tree_keeps_the_strongest_links_that_connect_everything():
    # A triangle 0-1-2 (weights 5, 4, 1) and a tail 2-3 (weight 2).
    a, b, w = edges((0, 1, 5.0), (1, 2, 4.0), (0, 2, 1.0), (2, 3, 2.0))
    tree = maximum_spanning_tree(4, a, b, w)
    assert sorted(tree.tolist()) == [0, 1, 3]
    assert min(w[tree]) == 2.0  # the weakest link that still holds the cluster


def test_bridges_are_the_links_whose_loss_cuts_records_off():
    a, b, w = edges((0, 1, 5.0), (1, 2, 4.0), (0, 2, 1.0), (2, 3, 2.0), (3, 4, 3.0))
    found = {e: side.tolist() for e, side in bridges(5, a, b)}
    # 2-3 cuts {3, 4} off, 3-4 cuts {4}; the triangle's links have a way round.
    assert found == {3: [3, 4], 4: [4]}


def test_a_ring_has_no_bridge_and_a_chain_is_all_bridges():
    ring = edges(*[(i, (i + 1) % 6, 1.0) for i in range(6)])
    assert bridges(6, ring[0], ring[1]) == []
    chain = edges(*[(i, i + 1, 1.0) for i in range(2000)])  # long: no recursion limit
    assert len(bridges(2001, chain[0], chain[1])) == 2000


@pytest.mark.parametrize("share, text", [(0.0103, "1.0%"), (0.00012, "0.012%"), (0.5, "50%"), (0.3333, "33%")])
def test_shares_are_written_as_percentages_with_two_significant_digits(share, text):
    assert percent(share) == text


def test_probabilities_near_one_are_not_rounded_to_one():
    assert format_probability(0.9999997) == "1 - 3e-07"
    assert format_probability(0.5) == "0.500"


def _exact(adjustment: float, share: float) -> Evidence:
    return Evidence(
        comparison="last_name", columns=("last_name",), value_a="smith", value_b="smith", level=1,
        label="exact match", m=0.9, u=0.01, level_weight=6.5, tf_adjustment=adjustment,
        tf_value="smith", tf_share=share, tf_typical_share=0.003,
    )


def test_a_common_value_is_said_to_count_for_less_and_a_rare_one_for_more():
    common, rare = _exact(-1.74, 0.01), _exact(2.1, 0.0007)
    assert common.tf_note == "'smith' is shared by 1.0% of records (a typical value: 0.30%), so agreeing on it counts for less"
    assert rare.tf_note.endswith("so agreeing on it counts for more")
    assert common.weight == pytest.approx(6.5 - 1.74)
