"""Specification tests for linkwise.dependence: correlated evidence found and scored jointly.

Pattern counts are simulated from known mixtures in which some comparisons
agree together within a class, so what should be found is known exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from linkwise.dependence import (
    Dependence,
    Interaction,
    chi_square_quantile,
    correct_non_match_dependences,
    dependence_forest,
    find_dependences,
    fit_margins,
)
from linkwise.errors import ModelError
from linkwise.model import FellegiSunterModel, model_document, model_from_document
from linkwise.settings import Comparison

AGREE, DISAGREE = 1, 2  # level 0 is the null level


def simulate(n_pairs: int, seed: int, *, prior: float, match_rates, non_match_groups):
    """Distinct patterns, their counts, and each pattern's true share of matches.

    ``match_rates`` is each comparison's chance of agreeing within matches
    (independent); ``non_match_groups`` is a list of (share, rates): the
    non-matches come from these groups, independent within each.
    """
    rng = np.random.default_rng(seed)
    match_rates = np.asarray(match_rates)
    is_match = rng.random(n_pairs) < prior
    group = rng.choice(len(non_match_groups), size=n_pairs, p=[share for share, _ in non_match_groups])
    rates = np.asarray([rates for _, rates in non_match_groups])[group]
    rates[is_match] = match_rates
    levels = np.where(rng.random(rates.shape) < rates, AGREE, DISAGREE).astype(np.uint8)
    patterns, inverse, counts = np.unique(levels, axis=0, return_inverse=True, return_counts=True)
    matches = np.bincount(inverse.reshape(-1), weights=is_match, minlength=len(patterns))
    return patterns, counts.astype(float), matches / counts


def independent_model(patterns, counts, *, prior, m_rates, u_rates) -> FellegiSunterModel:
    """A model with the right m, u and prior of every comparison, that treats comparisons as independent."""
    model = FellegiSunterModel([3] * len(m_rates), fixed_prior=prior, max_iterations=1)
    return model.fit(
        patterns,
        counts,
        m=[np.array([0.0, r, 1 - r]) for r in m_rates],
        u=[np.array([0.0, r, 1 - r]) for r in u_rates],
        estimate_m=False,
    )


# ----------------------------------------------------------------- households
# first name, surname, birth date, address, postal code, phone
MATCH = [0.85, 0.90, 0.85, 0.75, 0.85, 0.70]
HOUSEHOLD = [0.05, 0.95, 0.03, 0.97, 0.98, 0.80]  # share surname, address, postal code, landline
STRANGERS = [0.10, 0.05, 0.03, 0.01, 0.05, 0.005]
PRIOR, HOUSEHOLD_SHARE = 0.3, 0.15
HOUSEHOLD_MEMBER = np.array([[DISAGREE, AGREE, DISAGREE, AGREE, AGREE, AGREE]], dtype=np.uint8)


def true_posterior(pattern: np.ndarray) -> float:
    agree = pattern == AGREE

    def likelihood(rates):
        rates = np.asarray(rates)
        return float(np.prod(np.where(agree, rates, 1 - rates)))

    match = PRIOR * likelihood(MATCH)
    non_match = (1 - PRIOR) * (
        HOUSEHOLD_SHARE * likelihood(HOUSEHOLD) + (1 - HOUSEHOLD_SHARE) * likelihood(STRANGERS)
    )
    return match / (match + non_match)


@pytest.fixture(scope="module")
def households():
    patterns, counts, _ = simulate(
        300_000, 1, prior=PRIOR, match_rates=MATCH,
        non_match_groups=[(HOUSEHOLD_SHARE, HOUSEHOLD), (1 - HOUSEHOLD_SHARE, STRANGERS)],
    )
    u = HOUSEHOLD_SHARE * np.asarray(HOUSEHOLD) + (1 - HOUSEHOLD_SHARE) * np.asarray(STRANGERS)
    return patterns, counts, independent_model(patterns, counts, prior=PRIOR, m_rates=MATCH, u_rates=u)


def test_a_household_member_passes_for_the_same_person_when_its_agreements_count_as_independent(households):
    _, _, model = households
    assert true_posterior(HOUSEHOLD_MEMBER[0]) < 0.05
    assert model.posterior(HOUSEHOLD_MEMBER)[0] > 0.8


def test_a_household_member_scores_as_a_non_match_once_dependent_agreements_are_modelled_jointly(households):
    patterns, counts, independent = households
    model = independent_model(patterns, counts, prior=PRIOR, m_rates=MATCH, u_rates=[u[1] for u in independent.u_])
    found = correct_non_match_dependences(model, patterns, counts, min_information=0.01)
    assert {d.comparisons for d in found if not d.in_matches} == {(1, 3), (1, 4), (1, 5), (3, 4), (3, 5), (4, 5)}
    assert model.interactions_, "the household's dependences are scored jointly"
    assert model.posterior(HOUSEHOLD_MEMBER)[0] < 0.05
    # The same person, agreeing everywhere, is still a match.
    everyone_agrees = np.full((1, 6), AGREE, dtype=np.uint8)
    assert model.posterior(everyone_agrees)[0] > 0.99


def test_scoring_dependences_jointly_brings_posteriors_closer_to_the_truth(households):
    patterns, counts, independent = households
    corrected = independent_model(patterns, counts, prior=PRIOR, m_rates=MATCH, u_rates=[u[1] for u in independent.u_])
    correct_non_match_dependences(corrected, patterns, counts, min_information=0.01)
    truth = np.array([true_posterior(p) for p in patterns])
    error_before = np.average(np.abs(independent.posterior(patterns) - truth), weights=counts)
    error_after = np.average(np.abs(corrected.posterior(patterns) - truth), weights=counts)
    assert error_after < error_before / 2


# ------------------------------------------------------------------ detection
def test_only_the_pair_simulated_as_dependent_is_found_with_its_mutual_information():
    # Non-matches: comparisons 0 and 1 agree together in a fifth of them; 2 and 3 are independent.
    patterns, counts, posterior = simulate(
        400_000, 3, prior=0.2, match_rates=[0.9, 0.8, 0.9, 0.7],
        non_match_groups=[(0.2, [0.9, 0.9, 0.1, 0.2]), (0.8, [0.05, 0.05, 0.1, 0.2])],
    )
    found = find_dependences(patterns, lambda pair: counts, posterior, [3] * 4, min_information=0.001)
    assert [(d.comparisons, d.in_matches) for d in found] == [((0, 1), False)]
    # Mutual information of the simulated non-match table of comparisons 0 and 1.
    both = 0.2 * 0.81 + 0.8 * 0.0025
    one = 0.2 * 0.09 + 0.8 * 0.0475
    neither = 0.2 * 0.01 + 0.8 * 0.9025
    agree = both + one
    joint = np.array([[both, one], [one, neither]])
    margin = np.array([agree, 1 - agree])
    expected_bits = float((joint * np.log2(joint / np.outer(margin, margin))).sum())
    assert found[0].information == pytest.approx(expected_bits, rel=0.05)


def test_independent_comparisons_are_not_reported_however_many_pairs():
    patterns, counts, posterior = simulate(
        500_000, 4, prior=0.3, match_rates=[0.9, 0.8, 0.7], non_match_groups=[(1.0, [0.1, 0.2, 0.05])]
    )
    assert find_dependences(patterns, lambda pair: counts, posterior, [3] * 3, min_information=0.001) == []


def test_a_pair_with_no_pairs_to_judge_it_on_is_skipped():
    patterns, counts, posterior = simulate(
        50_000, 5, prior=0.2, match_rates=[0.9, 0.8, 0.9],
        non_match_groups=[(0.3, [0.9, 0.9, 0.1]), (0.7, [0.05, 0.05, 0.1])],
    )
    found = find_dependences(
        patterns, lambda pair: None if pair == (0, 1) else counts, posterior, [3] * 3, min_information=0.001
    )
    assert (0, 1) not in {d.comparisons for d in found}


def test_the_chi_square_quantile_is_close_to_its_tabled_values():
    assert chi_square_quantile(0.95, 1) == pytest.approx(3.841, rel=0.01)
    assert chi_square_quantile(0.95, 10) == pytest.approx(18.307, rel=0.01)
    assert chi_square_quantile(0.999, 20) == pytest.approx(45.315, rel=0.01)


# ------------------------------------------------------------------ the forest
def dependence(a: int, b: int, bits: float, *, in_matches: bool = False) -> Dependence:
    return Dependence((a, b), in_matches, bits, 1000.0, 1, 1000.0)


def test_the_forest_leaves_out_the_weakest_dependence_of_a_cycle():
    found = [dependence(0, 1, 0.5), dependence(1, 2, 0.4), dependence(0, 2, 0.3), dependence(2, 3, 0.2)]
    assert dependence_forest(found, 4, in_matches=False) == [(0, 1), (1, 2), (2, 3)]


def test_each_class_has_its_own_forest():
    found = [dependence(0, 1, 0.5, in_matches=True), dependence(2, 3, 0.4)]
    assert dependence_forest(found, 4, in_matches=True) == [(0, 1)]
    assert dependence_forest(found, 4, in_matches=False) == [(2, 3)]


# ------------------------------------------------------------------ interactions
def test_fitting_a_table_to_new_margins_keeps_its_odds_ratio():
    table = np.array([[40.0, 10.0], [10.0, 40.0]])
    fitted = fit_margins(table, [np.array([0.2, 0.8]), np.array([0.3, 0.7])])
    np.testing.assert_allclose(fitted.sum(axis=1), [0.2, 0.8], atol=1e-9)
    np.testing.assert_allclose(fitted.sum(axis=0), [0.3, 0.7], atol=1e-9)
    odds_ratio = fitted[0, 0] * fitted[1, 1] / (fitted[0, 1] * fitted[1, 0])
    assert odds_ratio == pytest.approx(16.0, rel=1e-6)


def test_an_interaction_is_a_normalised_joint_distribution_over_the_scored_pairs_rates():
    patterns = np.array([[a, b] for a in range(3) for b in range(3)], dtype=np.uint8)
    rng = np.random.default_rng(8)
    sample, target = rng.random(9) * 100, rng.random(9) * 100
    interaction = Interaction.estimate((0, 1), patterns, (sample, sample), (target, target), [3, 3])
    shares = [np.bincount(patterns[:, c], weights=target, minlength=3) / target.sum() for c in (0, 1)]
    joint = np.outer(*shares).reshape(-1) * np.exp(interaction.log_ratio_u)
    assert joint.sum() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(joint.reshape(3, 3).sum(axis=1), shares[0], atol=1e-9)


def test_a_combination_seen_in_few_pairs_is_shrunk_towards_independence():
    patterns = np.array([[1, 1], [1, 2], [2, 1], [2, 2]], dtype=np.uint8)
    few = np.array([4.0, 1.0, 1.0, 4.0])
    many = few * 1000
    small = Interaction.estimate((0, 1), patterns, (None, few), (None, few), [3, 3], classes=(False, True))
    large = Interaction.estimate((0, 1), patterns, (None, many), (None, many), [3, 3], classes=(False, True))
    assert 0 < small.log_ratio_u[4] < large.log_ratio_u[4]  # level combination (1, 1)
    assert large.log_ratio_u[4] == pytest.approx(math.log(0.4 / 0.25), rel=0.01)
    assert not small.log_ratio_m.any(), "no correction in a class that was not asked for"


def test_a_saved_model_scores_with_its_interactions(households):
    patterns, counts, independent = households
    model = independent_model(patterns, counts, prior=PRIOR, m_rates=MATCH, u_rates=[u[1] for u in independent.u_])
    correct_non_match_dependences(model, patterns, counts, min_information=0.01)
    comparisons = [
        Comparison.parse({"name": f"field_{c}", "column": f"field_{c}", "levels": [{"type": "exact"}]}, "c")
        for c in range(6)
    ]
    document = model_document(comparisons, model, {})
    loaded = model_from_document(document, comparisons, "model.json")
    np.testing.assert_allclose(loaded.pattern_weights(patterns), model.pattern_weights(patterns), rtol=0, atol=1e-9)
    document["interactions"][0]["log_ratio_u"] = [0.0]
    with pytest.raises(ModelError, match="interaction"):
        model_from_document(document, comparisons, "model.json")
