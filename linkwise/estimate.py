"""Label-free estimates of precision and recall, from the model's own probabilities.

Without a truth column, how accurate is a run? Each scored pair carries the
model's probability that it is a match, so the expected number of true
matches among any set of pairs is the sum of their probabilities:

- **precision** of the pairs at or above a threshold is the mean probability
  of those pairs; of the clusters, the expected matches among the pairs
  inside clusters over their number (a pair inside a cluster that was never
  scored counts at the mean probability of its cluster's scored pairs);
- **recall** divides the expected matches found by the expected matches in
  all: those among the candidate pairs plus those blocking never made. The
  latter come from :func:`blocking_recall`.

The probabilities used are each pair's *pattern posterior*: the model's
probability for its agreement pattern, before term-frequency adjustments. EM
fits these to the counts of the patterns, so over many pairs they add up to
the number of matches; the adjusted probabilities separate pairs better but
are less well calibrated in aggregate. How far the two disagree is taken as
the uncertainty of calibration.

Every figure is an :class:`Estimate` with an interval. The interval is not a
sampling interval (with a million pairs that would be tiny) but the range
over the assumptions the estimate rests on: calibration (pattern posterior
or adjusted probability) and the blocking recall's bracket.

>>> est = estimate_accuracy(clusters=np.array([0, 0, 1]), left=np.array([0, 1]), right=np.array([1, 2]),
...                         pair_probability=np.array([0.9, 0.2]), match_probability=np.array([0.9, 0.2]),
...                         threshold=0.5)
>>> round(est.scored_pairs["precision"].value, 2), round(est.scored_pairs["recall"].value, 3)
(0.9, 0.818)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_KEYS = 14
"""Distinct blocking keys up to which the blocking recall is estimated (2**keys agreement states)."""


@dataclass(frozen=True)
class Estimate:
    """An estimated value and the range it could plausibly take."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.value, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, doc: dict[str, float]) -> Estimate:
        return cls(float(doc["estimate"]), float(doc["low"]), float(doc["high"]))


# ------------------------------------------------------------------ blocking recall
@dataclass(frozen=True)
class _KeyModel:
    """The combinations of blocking keys agreeing, and which rules hold for each.

    ``free`` flags, per state and key, that the key agrees of its own accord;
    a key agrees without a say when a key implying it agrees (the same column,
    standardised less). ``agreeing`` counts the keys that agree in all.
    """

    rule_mask: np.ndarray  # (n_states,) bit r set when rule r holds
    free: np.ndarray  # (n_states, n_keys) float 0/1
    agreeing: np.ndarray  # (n_states,) keys agreeing


def _key_model(rules: Sequence[Sequence[tuple[str, tuple]]]) -> _KeyModel | None:
    keys = sorted({key for rule in rules for key in rule}, key=repr)
    if len(keys) > MAX_KEYS or len(rules) > 62:
        return None
    index = {key: k for k, key in enumerate(keys)}
    # A key on a column standardised further than another key on it agrees whenever that one does.
    parents = [
        [a for a, (column_a, steps_a) in enumerate(keys)
         if a != b and column_a == column_b and tuple(steps_b[: len(steps_a)]) == tuple(steps_a)]
        for b, (column_b, steps_b) in enumerate(keys)
    ]
    states = np.array(list(itertools.product((0, 1), repeat=len(keys))), dtype=np.int8).reshape(-1, len(keys))
    allowed = np.ones(len(states), dtype=bool)
    implied = np.zeros(states.shape, dtype=bool)
    for b, above in enumerate(parents):
        for a in above:
            allowed &= ~((states[:, a] == 1) & (states[:, b] == 0))
            implied[:, b] |= states[:, a] == 1
    states, implied = states[allowed], implied[allowed]
    rule_mask = np.zeros(len(states), dtype=np.int64)
    for r, rule in enumerate(rules):
        holds = states[:, [index[key] for key in rule]].all(axis=1)
        rule_mask |= holds.astype(np.int64) << r
    return _KeyModel(rule_mask, (~implied & (states == 1)).astype(float), states.sum(axis=1).astype(float))


def _missed_share(
    model: _KeyModel, observed: np.ndarray, observed_masks: np.ndarray, *, association: bool, iterations: int = 200
) -> tuple[float, float]:
    """P(no rule holds | match), and its standard error, under a log-linear model of key agreement.

    Each key agrees at its own rate (log-linear main effects); with
    ``association``, every two agreeing keys add one common term: the
    homogeneous association with which capture–recapture allows for
    heterogeneity (a dirty record fails several keys at once). Fitted by
    Newton's method to the counts of matches by the rules that hold; the
    matches no rule made are those of the states that no rule observes.
    """
    features = model.free
    if association:
        features = np.hstack([features, (model.agreeing * (model.agreeing - 1) / 2)[:, None]])
    position = {int(m): i for i, m in enumerate(observed_masks)}
    cell = np.array([position.get(int(m), -1) for m in model.rule_mask], dtype=np.int64)
    missing = model.rule_mask == 0
    counts = np.asarray(observed, float)
    members = [np.flatnonzero(cell == c) for c in range(len(counts))]
    seen = np.flatnonzero(~missing)

    def moments(beta: np.ndarray, states: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """log Σ exp(Fβ), and the mean and covariance of F, over some states."""
        eta = features[states] @ beta
        top = float(eta.max())
        w = np.exp(eta - top)
        total = float(w.sum())
        mean = (w @ features[states]) / total
        centred = features[states] - mean
        return top + math.log(total), mean, (centred * w[:, None]).T @ centred / total

    def fit(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log-likelihood of the counts (a multinomial over the observed cells), its gradient and Hessian."""
        log_seen, mean_seen, cov_seen = moments(beta, seen)
        value, gradient, hessian = 0.0, np.zeros(len(beta)), np.zeros((len(beta), len(beta)))
        for c in range(len(counts)):
            if counts[c] <= 0 or not len(members[c]):
                continue
            log_cell, mean_cell, cov_cell = moments(beta, members[c])
            value += counts[c] * (log_cell - log_seen)
            gradient += counts[c] * (mean_cell - mean_seen)
            hessian += counts[c] * (cov_cell - cov_seen)
        return value, gradient, hessian

    beta = np.zeros(features.shape[1])
    value, gradient, hessian = fit(beta)
    for _ in range(iterations):
        try:
            step = np.linalg.solve(hessian - 1e-9 * np.eye(len(beta)), -gradient)
        except np.linalg.LinAlgError:
            step = gradient
        if step @ gradient <= 0:  # where the surface is not concave, climb the gradient
            step = gradient / max(float(counts.sum()), 1.0)
        scale = 1.0
        while True:
            trial = np.clip(beta + scale * step, -30.0, 30.0)
            trial_value, trial_gradient, trial_hessian = fit(trial)
            if trial_value >= value or scale < 1e-8:
                break
            scale /= 2
        gain = trial_value - value
        if gain < 0:
            break
        beta, value, gradient, hessian = trial, trial_value, trial_gradient, trial_hessian
        if gain < 1e-10 * max(abs(value), 1.0):
            break
    log_all, mean_all, _ = moments(beta, np.arange(len(model.rule_mask)))
    log_missing, mean_missing, _ = moments(beta, np.flatnonzero(missing))
    share = math.exp(log_missing - log_all)
    # Delta method: the share's gradient against the information of the counts.
    derivative = share * (mean_missing - mean_all)
    try:
        variance = float(derivative @ np.linalg.solve(-hessian, derivative))
    except np.linalg.LinAlgError:
        variance = 0.0
    return share, math.sqrt(max(variance, 0.0))


def blocking_recall(
    masks: np.ndarray, match_probability: np.ndarray, rules: Sequence[Sequence[tuple[str, tuple]]]
) -> Estimate | None:
    """Share of the matching pairs that the blocking rules make, from the matches they make.

    ``masks`` holds, per candidate pair, bit ``r`` when rule ``r`` holds;
    ``match_probability`` each pair's probability of being a match; ``rules``
    each rule's keys as ``(column, standardisers)``. A match escapes blocking
    when every rule fails, i.e. when a key of each disagrees. Which rules hold
    for the matches that are made tells how often each key agrees among
    matches, and so how often all rules fail (capture–recapture with rules as
    lists). Assuming keys agree independently overstates the recall when
    record quality varies, since a dirty record fails several keys at once;
    a common association between agreeing keys (a log-linear model of
    heterogeneity) allows for that and gives the estimate. The interval spans
    both models, widened by two standard errors. None when there are too many
    distinct keys.
    """
    model = _key_model(rules)
    if model is None or not len(masks):
        return None
    masks = np.asarray(masks)
    weights = np.asarray(match_probability, float)
    if len(rules) <= 20:  # masks index a small table directly: no sort
        observed = np.bincount(masks, weights=weights, minlength=1 << len(rules))
        observed_masks = np.flatnonzero(observed > 0)
        observed = observed[observed_masks]
    else:
        observed_masks, inverse = np.unique(masks.astype(np.int64), return_inverse=True)
        observed = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(observed_masks))
    keep = observed_masks != 0
    observed_masks, observed = observed_masks[keep], observed[keep]
    if observed.sum() <= 0:
        return None
    independent, _ = _missed_share(model, observed, observed_masks, association=False)
    associated, error = _missed_share(model, observed, observed_masks, association=True)
    recalls = (1.0 - independent, 1.0 - associated)
    return Estimate(recalls[1], max(min(recalls) - 2 * error, 0.0), min(max(recalls) + 2 * error, 1.0))


def rule_keys(settings: Any) -> list[list[tuple[str, tuple]]]:
    """Each blocking rule's keys as (column, standardisers), as :func:`blocking_recall` takes them."""
    return [[(key.column, tuple(key.standardise)) for key in rule.keys] for rule in settings.blocking_rules]


# ------------------------------------------------------------------ precision and recall
@dataclass(frozen=True)
class AccuracyEstimate:
    """Estimated precision, recall and F1 of the scored pairs (at a threshold) and of the clusters."""

    threshold: float
    scored_pairs: dict[str, Estimate]
    cluster_pairs: dict[str, Estimate]
    blocking_recall: Estimate | None
    expected_matches: Estimate

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "scored_pairs": {k: v.to_dict() for k, v in self.scored_pairs.items()},
            "cluster_pairs": {k: v.to_dict() for k, v in self.cluster_pairs.items()},
            "blocking_recall": self.blocking_recall.to_dict() if self.blocking_recall else None,
            "expected_matches": self.expected_matches.to_dict(),
        }


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 2.0 * precision * recall / total if total > 0 else 0.0


def _pairs_inside(labels: np.ndarray, sources: np.ndarray | None) -> np.ndarray:
    """Pairs inside each cluster (cross-source only when ``sources`` is given)."""
    sizes = np.bincount(labels).astype(np.float64)
    if sources is None:
        return sizes * (sizes - 1) / 2
    n_sources = int(sources.max()) + 1 if len(sources) else 1
    per_source = np.bincount(labels.astype(np.int64) * n_sources + sources, minlength=len(sizes) * n_sources)
    per_source = per_source.reshape(len(sizes), n_sources).astype(np.float64)
    return (sizes**2 - (per_source**2).sum(axis=1)) / 2


def estimate_accuracy(
    *,
    clusters: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    pair_probability: np.ndarray,
    match_probability: np.ndarray,
    threshold: float,
    blocking: Estimate | None = None,
    sources: np.ndarray | None = None,
    link_type: str = "dedupe",
) -> AccuracyEstimate:
    """Estimated precision and recall of the pairs at ``threshold`` and of the clusters, with intervals.

    Parameters
    ----------
    clusters : int array (n,)
        Cluster label of each record (0..k-1).
    left, right : int arrays (m,)
        Record indices of the scored pairs (in link mode, cross-source pairs only).
    pair_probability : float array (m,)
        The probability each pair was scored with: pairs at or above
        ``threshold`` are the predicted matches.
    match_probability : float array (m,)
        The calibrated probability used for expectations: each pair's pattern
        posterior (:meth:`FellegiSunterModel.posterior` of its levels).
    blocking : Estimate, optional
        Share of matching pairs that blocking made (:func:`blocking_recall`);
        without it, recall counts only the matches among the scored pairs.
    sources, link_type
        In ``"link"`` mode only cross-source pairs count inside clusters.
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    pair_probability = np.asarray(pair_probability, dtype=float)
    match_probability = np.asarray(match_probability, dtype=float)
    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    cluster_pairs = _pairs_inside(clusters, np.asarray(sources, dtype=np.int64) if link_type == "link" and sources is not None else None)
    predicted = pair_probability >= threshold
    shares = [blocking.value, blocking.low, blocking.high] if blocking is not None else [1.0, 1.0, 1.0]
    n_cluster_pairs = float(cluster_pairs.sum())

    n_predicted = int(np.count_nonzero(predicted))
    inside = clusters[left] == clusters[right]
    label = clusters[left[inside]]
    scored_inside = np.bincount(label, minlength=n_clusters).astype(np.float64)
    unscored_inside = np.maximum(cluster_pairs - scored_inside, 0.0)

    def metrics(probability: np.ndarray, share: float) -> dict[str, float]:
        found = float(probability[predicted].sum())
        # A pair inside a cluster that was never scored counts at the mean of its cluster's scored pairs.
        expected_inside = np.bincount(label, weights=probability[inside], minlength=n_clusters)
        mean = np.divide(expected_inside, scored_inside, out=np.ones(n_clusters), where=scored_inside > 0)
        inside_matches = float(expected_inside.sum() + (unscored_inside * mean).sum())
        total = float(probability.sum()) / max(share, 1e-12)
        out = {
            "pair_precision": found / n_predicted if n_predicted else 1.0,
            "pair_recall": found / total if total > 0 else 1.0,
            "cluster_precision": inside_matches / n_cluster_pairs if n_cluster_pairs else 1.0,
            "cluster_recall": min(inside_matches / total, 1.0) if total > 0 else 1.0,
            "matches": total,
        }
        out["pair_f1"] = _f1(out["pair_precision"], out["pair_recall"])
        out["cluster_f1"] = _f1(out["cluster_precision"], out["cluster_recall"])
        return out

    central = metrics(match_probability, shares[0])
    # Calibration: the adjusted probabilities read the same pairs differently; the gap is the uncertainty.
    adjusted = metrics(pair_probability, shares[0])
    # Blocking recall changes only the number of matches in all: scale, do not recount.
    by_blocking = []
    for share in shares[1:]:
        scaled = dict(central)
        scaled["matches"] = central["matches"] * shares[0] / max(share, 1e-12)
        factor = central["matches"] / scaled["matches"]
        scaled["pair_recall"] = central["pair_recall"] * factor
        scaled["cluster_recall"] = min(central["cluster_recall"] * factor, 1.0)
        scaled["pair_f1"] = _f1(scaled["pair_precision"], scaled["pair_recall"])
        scaled["cluster_f1"] = _f1(scaled["cluster_precision"], scaled["cluster_recall"])
        by_blocking.append(scaled)

    def estimate(name: str) -> Estimate:
        value = central[name]
        calibration = abs(adjusted[name] - value)
        below = max([0.0] + [value - x[name] for x in by_blocking])
        above = max([0.0] + [x[name] - value for x in by_blocking])
        upper = math.inf if name == "matches" else 1.0
        return Estimate(value, max(value - calibration - below, 0.0), min(value + calibration + above, upper))

    return AccuracyEstimate(
        threshold=float(threshold),
        scored_pairs={k: estimate(f"pair_{k}") for k in ("precision", "recall", "f1")},
        cluster_pairs={k: estimate(f"cluster_{k}") for k in ("precision", "recall", "f1")},
        blocking_recall=blocking,
        expected_matches=estimate("matches"),
    )
