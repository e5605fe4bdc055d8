"""Explanations of pairs and clusters add up to what the run scored, on the DuckDB engine.

Synthetic people (``linkwise.datasets``) with the shipped example settings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import linkwise
from linkwise.blocking import rule_holds, rule_masks
from linkwise.cluster import connected_components
from linkwise.datasets import people
from linkwise.errors import InputError
from linkwise.explain import load_run
from linkwise.prepare import prepare

SETTINGS = Path(linkwise.__file__).parent / "data" / "people_settings.json"
N_RECORDS = 1500
SEED = 11
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A dedupe run written to a folder, its input a Parquet file; and the result in memory."""
    folder = tmp_path_factory.mktemp("explain")
    data = folder / "people.parquet"
    pq.write_table(people(N_RECORDS, seed=SEED), data)
    result = linkwise.run(str(data), SETTINGS)
    result.write(folder / "out")
    return folder / "out", result


@pytest.fixture(scope="module")
def run(run_folder):
    return load_run(run_folder[0])


@pytest.fixture(scope="module")
def written_pairs(run_folder):
    return pq.read_table(run_folder[0] / "pairs.parquet")


def sample_rows(pairs: pa.Table, n: int, *, where: np.ndarray | None = None, seed: int = 0) -> list[int]:
    rows = np.arange(pairs.num_rows) if where is None else np.flatnonzero(where)
    return sorted(np.random.default_rng(seed).choice(rows, size=min(n, len(rows)), replace=False).tolist())


def test_contributions_add_up_to_the_weight_each_pair_was_scored_with(run, written_pairs):
    # Half the sample agrees exactly on a term-frequency adjusted name, so the adjustments are tested too.
    exact_name = (written_pairs["first_name_level"].to_numpy() == 1) | (written_pairs["last_name_level"].to_numpy() == 1)
    rows = sample_rows(written_pairs, 60, where=exact_name) + sample_rows(written_pairs, 60, seed=1)
    adjusted = 0
    for row in rows:
        pair = written_pairs.slice(row, 1).to_pylist()[0]
        explanation = run.explain(pair["id_l"], pair["id_r"])
        parts = (explanation.prior_weight + sum(e.level_weight + e.tf_adjustment for e in explanation.evidence)
                 + explanation.dependence_weight)
        assert parts == pytest.approx(pair["match_weight"], abs=TOLERANCE, rel=0)
        assert sum(w for _, w in explanation.contributions()) == pytest.approx(pair["match_weight"], abs=TOLERANCE, rel=0)
        assert explanation.match_weight == pytest.approx(pair["match_weight"], abs=TOLERANCE, rel=0)
        assert explanation.candidate
        assert [e.level for e in explanation.evidence] == [pair[f"{e.comparison}_level"] for e in explanation.evidence]
        adjusted += any(e.tf_adjustment != 0 for e in explanation.evidence)
    assert adjusted >= 45


def test_a_result_in_memory_explains_its_pairs_the_same_way(run_folder):
    _, result = run_folder
    pairs = result.pairs_table()
    for row in sample_rows(pairs, 60, seed=2):
        pair = pairs.slice(row, 1).to_pylist()[0]
        explanation = result.explain(pair["id_r"], pair["id_l"])  # either order
        total = explanation.prior_weight + sum(e.weight for e in explanation.evidence) + explanation.dependence_weight
        assert total == pytest.approx(pair["match_weight"], abs=TOLERANCE, rel=0)


def test_the_explanation_of_a_data_frame_run_reads_records_from_the_frame():
    data = people(600, seed=3)
    result = linkwise.dedupe(data, SETTINGS)
    pair = result.pairs_table().slice(0, 1).to_pylist()[0]
    explanation = result.explain(pair["id_l"], pair["id_r"])
    assert explanation.record_a["record_id"] == pair["id_l"]
    assert set(explanation.record_a) >= {"first_name", "last_name", "dob"}
    assert explanation.match_weight == pytest.approx(pair["match_weight"], abs=TOLERANCE, rel=0)


def _non_candidate_with_same_last_initial(run, written_pairs) -> tuple[str, str]:
    candidates = set(zip(written_pairs["id_l"].to_pylist(), written_pairs["id_r"].to_pylist()))
    ids = run.records.ids.to_pylist()
    last = run.explainer.column("last_name").to_pylist()
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            if last[i] and last[j] and last[i][0].lower() == last[j][0].lower() and (ids[i], ids[j]) not in candidates:
                return ids[i], ids[j]
    raise AssertionError("no such pair")


def test_a_pair_never_made_is_scored_on_demand_as_a_run_that_made_it_would(run_folder, run, written_pairs):
    a, b = _non_candidate_with_same_last_initial(run, written_pairs)
    explanation = run.explain(a, b)
    assert not explanation.candidate and explanation.made_by is None
    assert not any(r.holds for r in explanation.rules)
    assert "never a candidate pair" in explanation.blocking_summary
    # A second run, with a rule that makes the pair and the first run's model, scores it the same,
    # apart from the prior, which depends on how many candidate pairs there are.
    _, result = run_folder
    settings = result.settings.to_dict()
    settings["blocking_rules"] = settings["blocking_rules"] + [[{"column": "last_name", "standardise": [{"first_n": 1}]}]]
    wider = linkwise.run(run.summary["inputs"][0], settings, model=result)
    scored = {(l, r): w for l, r, w in zip(*(wider.pairs_table()[c].to_pylist() for c in ("id_l", "id_r", "match_weight")))}
    assert (a, b) in scored
    evidence = explanation.match_weight - explanation.prior_weight
    assert scored[(a, b)] - wider.model.prior_weight() == pytest.approx(evidence, abs=TOLERANCE, rel=0)
    again = wider.explain(a, b)
    assert again.candidate and again.made_by == "last_name|first_n(1)"


def test_each_rule_is_said_to_hold_exactly_when_blocking_finds_it_holds(run, written_pairs):
    _, keys = prepare(run.records, run.settings)
    rng = np.random.default_rng(4)
    left = np.concatenate([rng.integers(0, run.records.n, 60), np.zeros(0, int)])
    right = (left + rng.integers(1, run.records.n, 60)) % run.records.n
    made = run.pairs()
    pick = rng.choice(len(made[0]), 60, replace=False)
    left = np.concatenate([left, made[0][pick]]).astype(np.int32)
    right = np.concatenate([right, made[1][pick]]).astype(np.int32)
    masks = rule_masks(keys, np.minimum(left, right), np.maximum(left, right))
    for k, (a, b) in enumerate(zip(left.tolist(), right.tolist())):
        checks = run.explainer.rule_checks(a, b)
        expected = [bool(rule_holds(masks[k : k + 1], r)[0]) for r in range(len(checks))]
        assert [c.holds for c in checks] == expected, (a, b, checks)


def test_common_surname_agreement_counts_for_less_than_a_rare_one(run, written_pairs):
    exact_last = np.flatnonzero(written_pairs["last_name_level"].to_numpy() == 1)
    explained = []
    for row in exact_last[:80].tolist():
        pair = written_pairs.slice(row, 1).to_pylist()[0]
        explanation = run.explain(pair["id_l"], pair["id_r"])
        explained.append(next(e for e in explanation.evidence if e.comparison == "last_name"))
    common = max(explained, key=lambda e: e.tf_share)
    rare = min(explained, key=lambda e: e.tf_share)
    assert common.tf_share > rare.tf_share
    assert common.tf_adjustment < rare.tf_adjustment
    assert common.tf_note.startswith(f"'{common.tf_value}' is shared by ")
    assert common.tf_note.endswith("counts for less") and rare.tf_note.endswith("counts for more")


def test_unknown_or_repeated_ids_are_errors_that_say_so(run):
    with pytest.raises(InputError, match="no record has record_id 'nobody'"):
        run.explain("nobody", run.records.ids[0].as_py())
    one = run.records.ids[0].as_py()
    with pytest.raises(InputError, match="two different records"):
        run.explain(one, one)


def test_in_a_link_run_ids_repeated_across_sources_are_told_apart_by_source():
    a = people(300, seed=8).drop_columns(["record_id"])
    b = people(300, seed=9).drop_columns(["record_id"])
    settings = {k: v for k, v in linkwise.Settings.load(SETTINGS).to_dict().items() if k != "unique_id_column"}
    result = linkwise.link(a, b, settings=settings)
    with pytest.raises(InputError, match="in several sources"):
        result.explain(1, 2)
    explanation = result.explain(1, 2, source_a="source_0", source_b="source_1")
    assert explanation.multi_source and explanation.label_a() == "1 (source_0)"
    same_source = result.explain(1, 2, source_a="source_0", source_b="source_0")
    assert not same_source.candidate and "across sources only" in same_source.blocking_summary


# -- clusters ------------------------------------------------------------------------------
def _largest_cluster(result) -> int:
    return int(np.argmax(np.bincount(result.clusters)))


def test_a_cluster_is_held_together_by_its_links_above_the_cluster_threshold(run_folder):
    _, result = run_folder
    cluster = _largest_cluster(result)
    explanation = result.explain_cluster(cluster)
    members = np.flatnonzero(result.clusters == cluster)
    assert explanation.size == len(members) > 2
    assert all(link.match_probability >= result.settings.cluster_threshold for link in explanation.links)
    inside = np.isin(result.left, members) & np.isin(result.right, members)
    above = result.match_probability >= result.settings.cluster_threshold
    assert len(explanation.links) == int((inside & above).sum())
    # The spanning links connect every record: one cluster of size - 1 links.
    tree = explanation.spanning_links
    assert len(tree) == len(members) - 1
    index = {r: i for i, r in enumerate(members.tolist())}
    labels = connected_components(len(members), np.array([index[l.a] for l in tree]), np.array([index[l.b] for l in tree]))
    assert len(set(labels.tolist())) == 1


def test_above_the_weakest_link_the_cluster_splits_and_at_it_it_holds(run_folder):
    _, result = run_folder
    explanation = result.explain_cluster(_largest_cluster(result))
    weakest = explanation.weakest_link
    members = sorted({l.a for l in explanation.links} | {l.b for l in explanation.links})
    index = {r: i for i, r in enumerate(members)}

    def pieces(keep) -> int:
        kept = [l for l in explanation.links if keep(l)]
        labels = connected_components(len(members), np.array([index[l.a] for l in kept], dtype=np.int64),
                                      np.array([index[l.b] for l in kept], dtype=np.int64))
        return len(set(labels.tolist()))

    assert pieces(lambda l: l.match_weight >= weakest.match_weight) == 1
    assert pieces(lambda l: l.match_weight > weakest.match_weight) > 1


def test_records_held_by_one_link_fall_away_when_that_link_goes(run_folder):
    _, result = run_folder
    sizes = np.bincount(result.clusters)
    checked = 0
    for cluster in np.flatnonzero(sizes >= 3)[:40].tolist():
        explanation = result.explain_cluster(cluster)
        ids = [r["record_id"] for r in explanation.records]
        for single in explanation.single_links:
            kept = [l for l in explanation.links if l is not single.link]
            index = {i: k for k, i in enumerate(ids)}
            labels = connected_components(len(ids), np.array([index[l.id_a] for l in kept], dtype=np.int64),
                                          np.array([index[l.id_b] for l in kept], dtype=np.int64))
            apart = {ids[k] for k in range(len(ids)) if labels[k] != labels[index[ids[0]]]}
            smaller = apart if 2 * len(apart) <= len(ids) else set(ids) - apart
            assert set(single.ids) == smaller
            checked += 1
    assert checked > 5


def test_a_cluster_of_one_record_has_no_links(run_folder):
    _, result = run_folder
    single = int(np.flatnonzero(np.bincount(result.clusters) == 1)[0])
    explanation = result.explain_cluster(single)
    assert explanation.size == 1 and explanation.links == () and explanation.weakest_link is None
    assert "A single record" in explanation.to_text()


def test_a_written_run_explains_a_cluster_as_the_result_in_memory_does(run_folder, run):
    _, result = run_folder
    cluster = _largest_cluster(result)
    from_folder, in_memory = run.explain_cluster(cluster), result.explain_cluster(cluster)
    assert from_folder.to_dict() == in_memory.to_dict()
    with pytest.raises(InputError, match="there is no cluster"):
        run.explain_cluster(10**6)


def test_a_long_chain_is_listed_in_part_as_text_and_in_full_as_json(run_folder):
    from linkwise.explain import LINKS_SHOWN, Explainer

    _, result = run_folder
    n = 200
    labels = np.zeros(result.records.n, dtype=np.int64)
    labels[n:] = 1
    chain_left, chain_right = np.arange(n - 1), np.arange(1, n)
    explanation = Explainer.of(result).explain_cluster(0, labels, chain_left, chain_right, np.linspace(5, 20, n - 1))
    assert len(explanation.single_links) == n - 1 and len(explanation.spanning_links) == n - 1
    assert explanation.weakest_link.match_weight == 5.0
    text = explanation.to_text()
    assert f"... and {n - 1 - LINKS_SHOWN} weaker ones" in text and f"... and {n - 1 - LINKS_SHOWN} more" in text
    assert f"... and {n - len(explanation.records)} more records" in text
    assert len(explanation.to_dict()["single_links"]) == n - 1
