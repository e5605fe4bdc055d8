"""End-to-end specification tests of the pipeline on the DuckDB engine.

Synthetic people (``linkwise.datasets``) with the shipped example settings.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import linkwise
import linkwise.pipeline as pipeline
from linkwise.datasets import people, people_link

SETTINGS = Path(linkwise.__file__).parent / "data" / "people_settings.json"
N_RECORDS = 2000
SEED = 5
OUTPUT_FILES = ("clusters.parquet", "pairs.parquet", "model.json")


@pytest.fixture(scope="module")
def data() -> pa.Table:
    return people(N_RECORDS, seed=SEED)


@pytest.fixture(scope="module")
def result(data):
    return linkwise.run(data, SETTINGS)


def scored_pairs(result) -> dict[tuple[str, str], float]:
    """(id, id) -> match weight, ids in sorted order within the pair."""
    pairs = result.pairs_table()
    out = {}
    for id_l, id_r, weight in zip(
        pairs["id_l"].to_pylist(), pairs["id_r"].to_pylist(), pairs["match_weight"].to_pylist()
    ):
        key = (min(id_l, id_r), max(id_l, id_r))
        assert key not in out, f"pair {key} scored twice"
        out[key] = weight
    return out


def partition(result) -> set[frozenset]:
    clusters = result.clusters_table()
    members = defaultdict(set)
    for record_id, cluster_id in zip(clusters["id"].to_pylist(), clusters["cluster_id"].to_pylist()):
        members[cluster_id].add(record_id)
    return {frozenset(m) for m in members.values()}


def assert_same_result(actual, expected) -> None:
    actual_pairs, expected_pairs = scored_pairs(actual), scored_pairs(expected)
    assert actual_pairs.keys() == expected_pairs.keys()
    keys = sorted(expected_pairs)
    np.testing.assert_allclose(
        [actual_pairs[k] for k in keys], [expected_pairs[k] for k in keys], rtol=0, atol=1e-9
    )
    assert partition(actual) == partition(expected)


# ------------------------------------------------------------------ the result itself
def test_every_input_record_appears_exactly_once_in_the_clusters(data, result):
    clusters = result.clusters_table()
    ids = clusters["id"].to_pylist()
    assert clusters.num_rows == N_RECORDS
    assert Counter(ids) == Counter(data["record_id"].to_pylist())
    sizes = Counter(clusters["cluster_id"].to_pylist())
    assert clusters["cluster_size"].to_pylist() == [sizes[c] for c in clusters["cluster_id"].to_pylist()]
    assert sorted(sizes) == list(range(len(sizes)))


def _components_over(result, threshold: float) -> set[frozenset]:
    parent = list(range(result.records.n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for left, right, p in zip(result.left, result.right, result.match_probability):
        if p >= threshold:
            parent[root(int(left))] = root(int(right))
    components = defaultdict(set)
    for i in range(result.records.n):
        components[root(i)].add(i)
    return {frozenset(c) for c in components.values()}


def _clusters(result) -> set[frozenset]:
    clusters = defaultdict(set)
    for i, label in enumerate(result.clusters):
        clusters[int(label)].add(i)
    return {frozenset(c) for c in clusters.values()}


def test_without_refinement_clusters_are_the_connected_components_of_pairs_over_the_cluster_threshold(data):
    settings = json.loads(SETTINGS.read_text())
    settings["cluster_refinement"] = {"method": "none"}
    plain = linkwise.run(data, settings)
    assert _clusters(plain) == _components_over(plain, plain.settings.cluster_threshold)


def test_refined_clusters_split_connected_components_and_never_join_them(result):
    components = _components_over(result, result.settings.cluster_threshold)
    clusters = _clusters(result)
    component_of = {i: c for c in components for i in c}
    assert all(len({component_of[i] for i in cluster}) == 1 for cluster in clusters)
    assert len(clusters) >= len(components)


def test_each_cluster_has_its_weakest_link_and_mean_probability(result):
    table = result.clusters_table()
    cluster_of = table["cluster_id"].to_pylist()
    weakest = dict(zip(cluster_of, table["cluster_weakest_link"].to_pylist()))
    mean = dict(zip(cluster_of, table["cluster_mean_probability"].to_pylist()))
    inside = defaultdict(list)
    for left, right, p in zip(result.left, result.right, result.match_probability):
        if result.clusters[left] == result.clusters[right]:
            inside[int(result.clusters[left])].append(float(p))
    for cluster, size in zip(cluster_of, table["cluster_size"].to_pylist()):
        if size == 1:
            assert weakest[cluster] is None and mean[cluster] is None
        else:
            probabilities = inside[cluster]
            assert mean[cluster] == pytest.approx(sum(probabilities) / len(probabilities))
            assert min(probabilities) - 1e-12 <= weakest[cluster] <= max(probabilities) + 1e-12
            if size == 2:
                assert weakest[cluster] == pytest.approx(probabilities[0])


def test_deduplication_finds_the_true_clusters_well(result):
    evaluation = result.evaluate("entity_id")
    assert evaluation.cluster_pairs.f1 > 0.9
    assert evaluation.scored_pairs.f1 > 0.9
    assert evaluation.blocking_recall > 0.9


def test_pairs_are_made_once_each_with_a_finite_weight_and_a_probability(result):
    assert len(result.left) == len(set(zip(result.left.tolist(), result.right.tolist())))
    assert (result.left < result.right).all()
    assert np.isfinite(result.match_weight).all()
    assert ((result.match_probability >= 0) & (result.match_probability <= 1)).all()


# ------------------------------------------------------------------ determinism
def test_shuffling_the_input_rows_gives_the_same_pairs_weights_and_clusters(data, result):
    order = np.random.default_rng(99).permutation(data.num_rows)
    shuffled = linkwise.run(data.take(pa.array(order)), SETTINGS)
    assert_same_result(shuffled, result)


def test_the_same_seed_gives_byte_identical_output_files(result, tmp_path):
    again = linkwise.run(people(N_RECORDS, seed=SEED), SETTINGS)
    first = result.write(tmp_path / "first")
    second = again.write(tmp_path / "second")
    for name in OUTPUT_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


# ------------------------------------------------------------------ other inputs
def test_a_pandas_dataframe_gives_the_same_result_as_the_arrow_table(data, result):
    pd = pytest.importorskip("pandas")
    frame = data.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert_same_result(linkwise.run(frame, SETTINGS), result)


def test_a_polars_dataframe_gives_the_same_result_as_the_arrow_table(data, result):
    pl = pytest.importorskip("polars")
    frame = pl.from_arrow(data)
    assert isinstance(frame, pl.DataFrame)
    assert_same_result(linkwise.run(frame, SETTINGS), result)


# ------------------------------------------------------------------ linking
@pytest.fixture(scope="module")
def link_tables():
    return people_link(N_RECORDS, seed=SEED)


def test_link_makes_only_cross_source_pairs(link_tables):
    a, b = link_tables
    linked = linkwise.link(a, b, settings=SETTINGS)
    assert linked.settings.link_type == "link"
    sources = linked.records.source_codes
    assert len(linked.left) > 0
    assert (sources[linked.left] != sources[linked.right]).all()
    pairs = linked.pairs_table()
    assert pairs.num_rows == len(linked.left)
    assert all(l != r for l, r in zip(pairs["source_l"].to_pylist(), pairs["source_r"].to_pylist()))
    assert linked.evaluate("entity_id").cluster_pairs.f1 > 0.9


# ------------------------------------------------------------------ reusing a model
@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the pipeline trained although a model was given")

    monkeypatch.setattr(pipeline, "train", refuse)
    monkeypatch.setattr(pipeline, "estimate_u", refuse)


def test_a_written_model_scores_the_same_data_with_the_same_weights_without_retraining(
    data, result, tmp_path, no_training
):
    out = result.write(tmp_path / "run")
    rescored = linkwise.run(data, model=out / "model.json")
    assert rescored.training == {"loaded_model": True}
    assert_same_result(rescored, result)
    written = json.loads((out / "model.json").read_text(encoding="utf-8"))
    again = rescored.model_document()
    assert again["comparisons"] == written["comparisons"]
    assert again["random_pair_prior"] == pytest.approx(written["random_pair_prior"], rel=1e-12)


def test_a_model_folder_can_be_given_instead_of_its_model_file(data, result, tmp_path, no_training):
    out = result.write(tmp_path / "run")
    rescored = linkwise.run(data, model=out)
    np.testing.assert_allclose(rescored.match_weight, result.match_weight, rtol=0, atol=1e-9)


def test_a_result_can_be_given_as_the_model_to_score_with(data, result, no_training):
    rescored = linkwise.run(data, model=result)
    assert rescored.training == {"loaded_model": True}
    assert_same_result(rescored, result)


def test_a_written_model_scores_new_data_without_retraining(result, tmp_path, no_training):
    out = result.write(tmp_path / "run")
    fresh = linkwise.run(people(N_RECORDS, seed=SEED + 1), model=out / "model.json")
    assert fresh.training == {"loaded_model": True}
    assert fresh.evaluate("entity_id").cluster_pairs.f1 > 0.9


def test_a_rule_with_more_pairs_than_records_does_not_teach_m_when_selective_rules_cover_its_comparisons(data):
    settings = json.loads(SETTINGS.read_text())
    settings["blocking_rules"].append(["sex"])  # about half of all pairs: nearly all non-matches
    result = linkwise.run(data, settings)
    rules = {r["rule"]: r for r in result.training["rules"]}
    assert rules["sex"]["pairs"] > N_RECORDS
    assert rules["sex"]["used"] is False
    assert rules["email"]["used"] is True  # the most selective rule always teaches
    # Every comparison still got its m from some rule, none from all pairs.
    assert result.training["m_from_all_pairs"] == []
    assert result.evaluate("entity_id").cluster_pairs.f1 > 0.9


def test_refining_m_keeps_household_members_that_rules_make_from_passing_for_matches():
    # Rules on the phone and on sex and address make household members too: same
    # surname, address and postal code, different birth date and first name.
    # Judged against random pairs (who share none of these) they pass for
    # matches; judged against the candidate pairs' u they do not.
    data = people(20_000, seed=11)
    settings = json.loads(SETTINGS.read_text())
    settings["blocking_rules"] = [["phone"], ["email"], ["last_name", "dob"], ["sex", "address"]]
    runs = {}
    for refine in (False, True):
        settings["training"] = {"refine_m": refine}
        runs[refine] = linkwise.run(data, settings)
    result = runs[True]
    names = [c.name for c in result.settings.comparisons]
    truth = result.truth_codes("entity_id")
    same = truth[result.left] == truth[result.right]
    agree = {name: result.levels[:, names.index(name)] == 1 for name in ("phone", "sex", "address")}
    for rule, made in (("phone", agree["phone"]), ("sex & address", agree["sex"] & agree["address"])):
        true_matches = int(same[made].sum())
        assert true_matches < 0.95 * made.sum()  # the rule makes non-matches too
        estimated = {refine: next(r["estimated_matches"] for r in run.training["rules"] if r["rule"] == rule)
                     for refine, run in runs.items()}
        assert estimated[False] > 1.1 * true_matches
        assert estimated[True] == pytest.approx(true_matches, rel=0.02)
    # m of a birth date years apart: the household members had inflated it.
    dob = names.index("dob")
    levels = result.levels[same, dob]
    true_m = np.bincount(levels[levels > 0], minlength=len(result.model.m_[dob]))[1:] / (levels > 0).sum()
    years_apart = slice(-2, None)
    error = {refine: np.abs(run.model.m_[dob][1:][years_apart] - true_m[years_apart]).sum() for refine, run in runs.items()}
    assert error[True] < 0.1 * error[False]
    quality = {refine: run.evaluate("entity_id").cluster_pairs for refine, run in runs.items()}
    assert quality[True].precision > quality[False].precision + 0.01
    assert quality[True].f1 > quality[False].f1


def test_household_members_score_lower_once_dependent_comparisons_are_scored_jointly(data, result):
    settings = json.loads(SETTINGS.read_text())
    settings.setdefault("training", {})["correct_dependence"] = False
    independent = linkwise.run(data, settings)
    assert independent.training["dependence"]["corrected"] == []
    assert ["last_name", "address"] in result.training["dependence"]["corrected"]
    truth = result.truth_codes("entity_id")
    names = [c.name for c in result.settings.comparisons]
    levels = result.levels
    # Not the same person, yet the same surname and the same address: a household member.
    household = (
        (truth[result.left] != truth[result.right])
        & (levels[:, names.index("last_name")] == 1)
        & (levels[:, names.index("address")] == 1)
    )
    assert household.sum() > 50
    assert result.match_probability[household].mean() < 0.8 * independent.match_probability[household].mean()
    assert result.evaluate("entity_id").scored_pairs.f1 >= independent.evaluate("entity_id").scored_pairs.f1 - 0.002


def test_label_free_estimates_are_near_the_measured_accuracy(result):
    estimated = result.estimate_accuracy()
    measured = result.evaluate("entity_id")
    assert result.summary()["estimated_blocking_recall"] == estimated.blocking_recall.to_dict()
    assert estimated.blocking_recall.value == pytest.approx(measured.blocking_recall, abs=0.03)
    for group in ("scored_pairs", "cluster_pairs"):
        for name in ("precision", "recall", "f1"):
            figure = getattr(estimated, group)[name]
            assert figure.low <= figure.value <= figure.high
            assert figure.value == pytest.approx(getattr(getattr(measured, group), name), abs=0.03), f"{group} {name}"


@pytest.fixture(scope="module")
def partly_labelled(data):
    rng = np.random.default_rng(1)
    known = [e if rng.random() < 0.2 else None for e in data["entity_id"].to_pylist()]
    return data.append_column("known_entity", pa.array(known, pa.string()))


def _bad_thresholds() -> dict:
    settings = json.loads(SETTINGS.read_text())
    settings.update(match_threshold=0.01, cluster_threshold=0.01, cluster_refinement="none")
    return settings


def test_a_partial_truth_column_chooses_thresholds_that_mend_bad_ones(partly_labelled):
    unlabelled = linkwise.run(partly_labelled, _bad_thresholds())
    labelled = linkwise.run(partly_labelled, _bad_thresholds(), label_column="known_entity")
    info = labelled.training["labels"]
    assert info["matches"] > 50 and info["non_matches"] > 10
    assert labelled.settings.match_threshold == info["match_threshold"] > 0.01
    assert labelled.settings.cluster_threshold == info["cluster_threshold"] > 0.01
    before, after = unlabelled.evaluate("entity_id"), labelled.evaluate("entity_id")
    assert after.cluster_pairs.f1 > before.cluster_pairs.f1 + 0.01
    assert after.scored_pairs.f1 >= before.scored_pairs.f1


def test_thresholds_given_explicitly_are_kept_when_labels_are_given(partly_labelled):
    result = linkwise.run(partly_labelled, _bad_thresholds(), label_column="known_entity", cluster_threshold=0.3)
    assert result.settings.cluster_threshold == 0.3
    assert result.settings.match_threshold != 0.01  # chosen by the labels


def test_a_labels_file_of_pairs_calibrates_the_same_way(data, result, tmp_path):
    truth = result.truth_codes("entity_id")
    ids = result.records.ids.to_pylist()
    rng = np.random.default_rng(2)
    chosen = rng.choice(len(result.left), 300, replace=False)
    path = tmp_path / "labels.csv"
    import pyarrow.csv as pacsv

    pacsv.write_csv(pa.table({
        "id_l": [ids[i] for i in result.left[chosen]],
        "id_r": [ids[i] for i in result.right[chosen]],
        "match": ["match" if truth[a] == truth[b] else "non-match" for a, b in zip(result.left[chosen], result.right[chosen])],
    }), path)
    labelled = linkwise.run(data, _bad_thresholds(), labels=str(path))
    assert labelled.training["labels"]["pairs"] == 300
    assert labelled.evaluate("entity_id").cluster_pairs.f1 > 0.95
