"""Specification tests for linkwise.model (the Fellegi–Sunter model and its EM).

EM is checked on agreement-pattern counts simulated from a known mixture, so
the parameters it should recover are known exactly.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwise.errors import ModelError
from linkwise.model import (
    MODEL_FORMAT_VERSION,
    ConvergenceWarning,
    EMStep,
    FellegiSunterModel,
    model_document,
    model_from_document,
    probability,
    read_model_document,
)
from linkwise.settings import Comparison

# Level 0 is the null level (no m, no u); the rest of each vector sums to 1.
TRUE_M = [
    np.array([0.0, 0.70, 0.20, 0.10]),
    np.array([0.0, 0.80, 0.15, 0.05]),
    np.array([0.0, 0.90, 0.10]),
    np.array([0.0, 0.60, 0.20, 0.10, 0.10]),
]
TRUE_U = [
    np.array([0.0, 0.05, 0.15, 0.80]),
    np.array([0.0, 0.02, 0.08, 0.90]),
    np.array([0.0, 0.10, 0.90]),
    np.array([0.0, 0.01, 0.04, 0.15, 0.80]),
]
N_LEVELS = [len(m) for m in TRUE_M]
TRUE_PRIOR = 0.1
NULL_RATE = [0.05, 0.15, 0.0, 0.30]


def simulate_patterns(n_pairs: int, seed: int, *, prior: float = TRUE_PRIOR):
    """Draw pairs from the known mixture; return distinct patterns and their counts."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(n_pairs) < prior
    levels = np.empty((n_pairs, len(N_LEVELS)), dtype=np.uint8)
    for c, k in enumerate(N_LEVELS):
        from_m = rng.choice(np.arange(1, k), size=n_pairs, p=TRUE_M[c][1:])
        from_u = rng.choice(np.arange(1, k), size=n_pairs, p=TRUE_U[c][1:])
        column = np.where(is_match, from_m, from_u)
        # The null level turns up at the same rate for matches and non-matches.
        column[rng.random(n_pairs) < NULL_RATE[c]] = 0
        levels[:, c] = column
    patterns, counts = np.unique(levels, axis=0, return_counts=True)
    return patterns.astype(np.uint8), counts.astype(float)


@pytest.fixture(scope="module")
def simulated():
    return simulate_patterns(200_000, seed=20240501)


def rough_u_start() -> list[np.ndarray]:
    """A deliberately poor starting u: agreement levels too likely, disagreement too rare."""
    return [np.r_[0.0, np.full(k - 2, 0.2), 1.0] for k in N_LEVELS]


@pytest.fixture(scope="module")
def fitted(simulated):
    patterns, counts = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return FellegiSunterModel(N_LEVELS, max_iterations=2000).fit(
            patterns, counts, u=rough_u_start(), prior=0.3, estimate_u=True
        )


def comparisons_for(n_levels) -> list[Comparison]:
    """Settings comparisons with the given numbers of stored levels (null + declared + else)."""
    kinds = [{"type": "exact"}, {"type": "levenshtein", "max": 1}, {"type": "jaro_winkler", "threshold": 0.8}]
    return [
        Comparison.parse({"name": f"field_{c}", "column": f"field_{c}", "levels": kinds[: k - 2]}, f"comparisons[{c}]")
        for c, k in enumerate(n_levels)
    ]


# ------------------------------------------------------------------ EM recovers the truth
def test_em_recovers_known_m_u_and_prior_from_simulated_pattern_counts(fitted):
    assert fitted.converged_
    assert fitted.prior_ == pytest.approx(TRUE_PRIOR, abs=0.01)
    for c in range(len(N_LEVELS)):
        np.testing.assert_allclose(fitted.m_[c][1:], TRUE_M[c][1:], atol=0.02, err_msg=f"m of comparison {c}")
        np.testing.assert_allclose(fitted.u_[c][1:], TRUE_U[c][1:], atol=0.02, err_msg=f"u of comparison {c}")


def test_fitted_m_and_u_are_probabilities_over_the_non_null_levels(fitted):
    for m, u in zip(fitted.m_, fitted.u_):
        assert m[1:].sum() == pytest.approx(1.0)
        assert u[1:].sum() == pytest.approx(1.0)
        assert (m[1:] > 0).all() and (u[1:] > 0).all()


@pytest.mark.parametrize("prior", [0.02, 0.3])
def test_em_recovers_the_prior_whatever_its_size(prior):
    patterns, counts = simulate_patterns(100_000, seed=7, prior=prior)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = FellegiSunterModel(N_LEVELS, max_iterations=2000).fit(
            patterns, counts, u=rough_u_start(), estimate_u=True
        )
    assert model.prior_ == pytest.approx(prior, abs=0.01)


def test_em_log_likelihood_never_decreases(simulated):
    patterns, counts = simulated
    model = FellegiSunterModel(N_LEVELS, max_iterations=50, tolerance=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(patterns, counts, u=rough_u_start(), prior=0.3, estimate_u=True)
    log_likelihoods = np.array([step.log_likelihood for step in model.history_])
    assert len(log_likelihoods) >= 5
    scale = np.abs(log_likelihoods).max()
    assert (np.diff(log_likelihoods) >= -1e-9 * scale).all()


def test_patterns_with_a_wrong_number_of_columns_are_refused():
    with pytest.raises(ModelError, match="one column per comparison"):
        FellegiSunterModel([3, 3]).fit(np.zeros((4, 3), dtype=np.uint8), np.ones(4))


# ------------------------------------------------------------------ what stays fixed
def test_u_is_held_where_it_starts_when_estimate_u_is_false(simulated):
    patterns, counts = simulated
    start_u = rough_u_start()
    start_m = [np.r_[0.0, np.linspace(2.0, 1.0, k - 1) / np.linspace(2.0, 1.0, k - 1).sum()] for k in N_LEVELS]
    model = FellegiSunterModel(N_LEVELS, max_iterations=2000).fit(patterns, counts, m=start_m, u=start_u)
    for c, u in enumerate(start_u):
        expected = np.r_[0.0, u[1:] / u[1:].sum()]
        np.testing.assert_allclose(model.u_[c], expected, rtol=0, atol=1e-8)
    # m, estimated alongside, did move away from where it started.
    assert max(np.abs(model.m_[c] - start_m[c]).max() for c in range(len(N_LEVELS))) > 0.05


def test_m_is_held_where_it_starts_when_estimate_m_is_false(simulated):
    patterns, counts = simulated
    start_m = [np.r_[0.0, np.full(k - 1, 1.0 / (k - 1))] for k in N_LEVELS]
    model = FellegiSunterModel(N_LEVELS, max_iterations=2000).fit(
        patterns, counts, m=start_m, u=TRUE_U, estimate_m=False
    )
    for c, m in enumerate(start_m):
        np.testing.assert_allclose(model.m_[c], m, rtol=0, atol=1e-8)


def test_fixed_m_and_u_levels_stay_exactly_fixed(simulated):
    patterns, counts = simulated
    fixed_m = [np.full(k, np.nan) for k in N_LEVELS]
    fixed_u = [np.full(k, np.nan) for k in N_LEVELS]
    fixed_m[0][1] = 0.55  # not the true 0.70: EM would move it if it could
    fixed_m[3][2] = 0.3
    fixed_u[1][1] = 0.07
    fixed_u[2][1] = 0.25
    model = FellegiSunterModel(N_LEVELS, fixed_m=fixed_m, fixed_u=fixed_u, max_iterations=2000).fit(
        patterns, counts, u=rough_u_start(), estimate_u=True
    )
    assert model.m_[0][1] == 0.55
    assert model.m_[3][2] == 0.3
    assert model.u_[1][1] == 0.07
    assert model.u_[2][1] == 0.25
    # The free levels share what the fixed ones leave.
    assert model.m_[0][1:].sum() == pytest.approx(1.0)
    assert model.u_[1][1:].sum() == pytest.approx(1.0)
    assert model.u_[2][2] == pytest.approx(0.75)


def test_fixed_levels_stay_fixed_at_every_iteration(simulated):
    patterns, counts = simulated
    fixed_m = [np.full(k, np.nan) for k in N_LEVELS]
    fixed_m[1][2] = 0.4
    for iterations in (1, 2, 5):
        model = FellegiSunterModel(N_LEVELS, fixed_m=fixed_m, max_iterations=iterations, tolerance=1e-15)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(patterns, counts, u=TRUE_U)
        assert model.m_[1][2] == 0.4


def test_a_fixed_prior_stays_fixed(simulated):
    patterns, counts = simulated
    model = FellegiSunterModel(N_LEVELS, fixed_prior=0.25, max_iterations=2000).fit(
        patterns, counts, u=rough_u_start(), prior=0.01, estimate_u=True
    )
    assert model.prior_ == 0.25
    assert all(step.prior == 0.25 for step in model.history_)


def test_a_starting_prior_is_not_fixed(simulated):
    patterns, counts = simulated
    model = FellegiSunterModel(N_LEVELS, max_iterations=2000).fit(patterns, counts, u=TRUE_U, prior=0.25)
    assert model.prior_ != 0.25
    assert model.prior_ == pytest.approx(TRUE_PRIOR, abs=0.01)


# ------------------------------------------------------------------ convergence and history
def test_hitting_max_iterations_warns_and_keeps_one_history_step_per_iteration(simulated):
    patterns, counts = simulated
    model = FellegiSunterModel(N_LEVELS, max_iterations=3, tolerance=1e-12)
    with pytest.warns(ConvergenceWarning, match="3 iterations"):
        returned = model.fit(patterns, counts, u=rough_u_start(), estimate_u=True)
    assert returned is model
    assert model.converged_ is False
    assert model.n_iter_ == 3
    assert [step.iteration for step in model.history_] == [1, 2, 3]
    assert all(isinstance(step, EMStep) for step in model.history_)
    assert all(step.max_change > 1e-12 for step in model.history_)
    assert model.history_[-1].prior == model.prior_


def test_converged_fit_does_not_warn_and_its_last_step_is_below_tolerance(simulated):
    patterns, counts = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = FellegiSunterModel(N_LEVELS, max_iterations=2000, tolerance=1e-6).fit(patterns, counts, u=TRUE_U)
    assert model.converged_ is True
    assert model.n_iter_ == len(model.history_) < 2000
    assert model.history_[-1].max_change < 1e-6
    assert all(step.max_change >= 1e-6 for step in model.history_[:-1])


def test_constructor_only_stores_its_arguments():
    model = FellegiSunterModel([3, 4], fixed_prior=0.2, max_iterations=7, tolerance=1e-3)
    assert (model.n_levels, model.fixed_prior, model.max_iterations, model.tolerance) == ([3, 4], 0.2, 7, 1e-3)
    assert not any(name.endswith("_") and not name.startswith("_") for name in vars(model))


# ------------------------------------------------------------------ using the model
@pytest.mark.parametrize(
    "use",
    [
        lambda m: m.level_weights(),
        lambda m: m.prior_weight(),
        lambda m: m.pattern_weights(np.zeros((1, 2), dtype=np.uint8)),
        lambda m: m.posterior(np.zeros((1, 2), dtype=np.uint8)),
        lambda m: model_document(comparisons_for([3, 3]), m, {}),
    ],
    ids=["level_weights", "prior_weight", "pattern_weights", "posterior", "model_document"],
)
def test_an_unfitted_model_raises_model_error(use):
    with pytest.raises(ModelError, match="not fitted"):
        use(FellegiSunterModel([3, 3]))


def test_level_weights_are_log2_m_over_u_and_zero_for_the_null_level(fitted):
    weights = fitted.level_weights()
    for c, w in enumerate(weights):
        assert w[0] == 0.0
        np.testing.assert_allclose(w[1:], np.log2(fitted.m_[c][1:] / fitted.u_[c][1:]))
    # Agreement counts for a match, the else level against one.
    assert all(w[1] > 0 > w[-1] for w in weights)


def test_null_level_weighs_zero_even_when_its_stored_m_and_u_differ():
    model = FellegiSunterModel([3])
    model.m_, model.u_, model.prior_ = [np.array([0.9, 0.5, 0.5])], [np.array([0.01, 0.5, 0.5])], 0.5
    assert model.level_weights()[0][0] == 0.0
    assert model.pattern_weights(np.array([[0]], dtype=np.uint8))[0] == 0.0


def test_pattern_weight_is_prior_weight_plus_level_weights(fitted, simulated):
    patterns, _ = simulated
    weights = fitted.level_weights()
    expected = np.log2(fitted.prior_ / (1 - fitted.prior_)) + sum(
        weights[c][patterns[:, c]] for c in range(len(N_LEVELS))
    )
    np.testing.assert_allclose(fitted.pattern_weights(patterns), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fitted.posterior(patterns), probability(expected), rtol=1e-12)


def test_an_all_null_pattern_scores_the_prior(fitted):
    all_null = np.zeros((1, len(N_LEVELS)), dtype=np.uint8)
    assert fitted.posterior(all_null)[0] == pytest.approx(fitted.prior_)


def test_probability_of_zero_bits_is_one_half():
    assert probability(np.array([0.0]))[0] == 0.5


@given(st.floats(-200, 200), st.floats(-200, 200))
def test_probability_is_monotone_in_the_match_weight(a, b):
    low, high = sorted((a, b))
    p_low, p_high = probability(np.array([low, high]))
    assert 0.0 <= p_low <= p_high <= 1.0


@given(st.floats(-40, 40))
def test_probability_of_opposite_weights_sums_to_one(weight):
    p, q = probability(np.array([weight, -weight]))
    assert p + q == pytest.approx(1.0, abs=1e-12)


def test_probability_is_strictly_increasing_where_it_is_not_saturated():
    weights = np.linspace(-30, 30, 601)
    assert (np.diff(probability(weights)) > 0).all()


# ------------------------------------------------------------------ model documents
def test_model_document_round_trips_through_json(fitted, simulated):
    patterns, _ = simulated
    comparisons = comparisons_for(N_LEVELS)
    doc = model_document(comparisons, fitted, {"settings": {"note": "synthetic"}})
    text = json.dumps(doc)
    assert "NaN" not in text and "Infinity" not in text
    loaded = model_from_document(read_model_document(text, "model.json"), comparisons, "model.json")
    assert loaded.prior_ == fitted.prior_
    for c in range(len(N_LEVELS)):
        np.testing.assert_array_equal(loaded.m_[c], fitted.m_[c])
        np.testing.assert_array_equal(loaded.u_[c], fitted.u_[c])
    np.testing.assert_array_equal(loaded.pattern_weights(patterns), fitted.pattern_weights(patterns))
    assert loaded.n_iter_ == fitted.n_iter_
    assert loaded.converged_ == fitted.converged_
    assert loaded.history_ == fitted.history_
    assert doc["settings"] == {"note": "synthetic"}


def test_model_document_labels_every_level_and_leaves_the_null_level_without_m_and_u(fitted):
    comparisons = comparisons_for(N_LEVELS)
    doc = model_document(comparisons, fitted, {})
    assert doc["format"] == "linkwise-model" and doc["format_version"] == MODEL_FORMAT_VERSION
    for comp, entry in zip(comparisons, doc["comparisons"]):
        assert entry["name"] == comp.name
        assert [lv["label"] for lv in entry["levels"]] == list(comp.level_labels)
        null = entry["levels"][0]
        assert null["m"] is None and null["u"] is None and null["weight"] == 0.0


def test_model_document_keeps_the_population_u_for_term_frequencies(fitted):
    population_u = [np.r_[0.0, np.full(k - 1, 1.0 / (k - 1))] for k in N_LEVELS]
    fitted.tf_u_ = population_u
    try:
        doc = json.loads(json.dumps(model_document(comparisons_for(N_LEVELS), fitted, {})))
    finally:
        del fitted.tf_u_
    loaded = model_from_document(doc, comparisons_for(N_LEVELS), "model.json")
    for c in range(len(N_LEVELS)):
        np.testing.assert_array_equal(loaded.tf_u_[c][1:], population_u[c][1:])
        np.testing.assert_array_equal(loaded.u_[c], fitted.u_[c])


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_a_model_document_of_another_format_version_is_refused_naming_the_version(fitted, version):
    doc = model_document(comparisons_for(N_LEVELS), fitted, {})
    doc["format_version"] = version
    with pytest.raises(ModelError) as caught:
        read_model_document(json.dumps(doc), "old/model.json")
    message = str(caught.value)
    assert repr(version) in message
    assert "old/model.json" in message
    assert f"version {MODEL_FORMAT_VERSION}" in message


def test_text_that_is_not_json_is_refused_with_the_file_name():
    with pytest.raises(ModelError, match=r"'broken\.json' is not valid JSON"):
        read_model_document("{not json", "broken.json")


@pytest.mark.parametrize("doc", [[], {"format": "splink"}, {"format_version": 1}])
def test_json_that_is_not_a_linkwise_model_is_refused(doc):
    with pytest.raises(ModelError, match="not a linkwise model"):
        read_model_document(json.dumps(doc), "other.json")


def test_a_model_document_with_other_levels_than_the_settings_is_refused(fitted):
    doc = json.loads(json.dumps(model_document(comparisons_for(N_LEVELS), fitted, {})))
    with pytest.raises(ModelError, match="does not match"):
        model_from_document(doc, comparisons_for([*N_LEVELS[:-1], N_LEVELS[-1] - 1]), "model.json")
    with pytest.raises(ModelError, match="does not match"):
        model_from_document(doc, comparisons_for(N_LEVELS[:-1]), "model.json")


@settings(max_examples=25, deadline=None)
@given(
    prior=st.floats(1e-6, 0.999),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_fitted_parameters_survive_the_json_round_trip(prior, seed):
    rng = np.random.default_rng(seed)
    model = FellegiSunterModel(N_LEVELS)
    model.m_ = [np.r_[0.0, rng.dirichlet(np.ones(k - 1))] for k in N_LEVELS]
    model.u_ = [np.r_[0.0, rng.dirichlet(np.ones(k - 1))] for k in N_LEVELS]
    model.prior_, model.n_iter_, model.converged_, model.history_ = prior, 1, True, [EMStep(1, prior, 0.0, -1.0)]
    text = json.dumps(model_document(comparisons_for(N_LEVELS), model, {}))
    loaded = model_from_document(read_model_document(text, "m.json"), comparisons_for(N_LEVELS), "m.json")
    patterns = np.array([[rng.integers(k) for k in N_LEVELS] for _ in range(20)], dtype=np.uint8)
    np.testing.assert_array_equal(loaded.pattern_weights(patterns), model.pattern_weights(patterns))
