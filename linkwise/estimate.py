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

Two readings of each pair's probability are used: the probability it was
scored with (term-frequency adjustments included: agreeing on 'John Smith'
says less than on a rare name, which matters most for the namesakes and
household members whose probabilities are neither near 0 nor near 1), and
its *pattern posterior*: the model's probability for its agreement pattern
alone, which EM fits to the counts of the patterns. Neither is known to be
the better calibrated (on ``people.py`` data the first counts the matches a
run misses better, the second the precision of a run whose model takes
household members for matches), so each figure is their midpoint and its
range covers both: the uncertainty of calibration.

Every figure is an :class:`Estimate` with an interval. The interval is not a
sampling interval (with a million pairs that would be tiny) but the range
over the assumptions the estimate rests on: calibration (adjusted
probability or pattern posterior) and the blocking recall's bracket.

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

ASSOCIATION_SD = 1.0
"""Prior standard deviation of the log odds ratio between two keys' agreement among matches.

It decides only what the counts cannot: an association between two keys that
no rule lets vary apart stays near independence.
"""


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
def distinct_keys(rules: Sequence[Sequence[tuple[str, tuple]]]) -> list[tuple[str, tuple]]:
    """The distinct keys of the rules, in the order whose bits :func:`blocking_recall` reads."""
    return sorted({key for rule in rules for key in rule}, key=repr)


@dataclass(frozen=True)
class _KeyModel:
    """The combinations of blocking keys agreeing that can occur, and the features of a log-linear model of them.

    ``codes`` holds each state as a bit mask of the keys agreeing;
    ``captured`` flags the states in which some rule holds. Features: each
    key agreeing of its own accord (a key agrees without a say when a key
    implying it agrees: the same column, standardised less), and each two
    keys of different columns agreeing together (their association).
    """

    codes: np.ndarray  # (n_states,) int64
    captured: np.ndarray  # (n_states,) bool
    features: np.ndarray  # (n_states, n_features) float
    penalty: np.ndarray  # (n_features,) prior precision of each coefficient
    n_keys: int

    def common(self) -> _KeyModel:
        """The model with one association common to every two agreeing keys instead of one per two keys."""
        free = self.features[:, : self.n_keys]
        agreeing = self.codes_agreeing()
        features = np.hstack([free, (agreeing * (agreeing - 1) / 2)[:, None]])
        return _KeyModel(self.codes, self.captured, features, np.zeros(features.shape[1]), self.n_keys)

    def codes_agreeing(self) -> np.ndarray:
        """Keys agreeing in each state."""
        bits = (self.codes[:, None] >> np.arange(self.n_keys, dtype=np.int64)) & 1
        return bits.sum(axis=1).astype(float)


def _key_model(rules: Sequence[Sequence[tuple[str, tuple]]]) -> _KeyModel | None:
    keys = distinct_keys(rules)
    if len(keys) > MAX_KEYS:
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
    codes = states.astype(np.int64) @ (np.int64(1) << np.arange(len(keys), dtype=np.int64))
    captured = np.zeros(len(states), dtype=bool)
    for rule in rules:
        captured |= states[:, [index[key] for key in rule]].all(axis=1)
    together = [(a, b) for a, b in itertools.combinations(range(len(keys)), 2) if keys[a][0] != keys[b][0]]
    free = (~implied & (states == 1)).astype(float)
    both = np.stack([states[:, a] * states[:, b] for a, b in together], axis=1).astype(float) if together else np.zeros((len(states), 0))
    penalty = np.r_[np.zeros(len(keys)), np.full(len(together), 1.0 / ASSOCIATION_SD**2)]
    return _KeyModel(codes, captured, np.hstack([free, both]), penalty, len(keys))


def _state_counts(model: _KeyModel, key_masks: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted count of pairs in each state (masks that cannot occur, e.g. a looser key missing, are dropped)."""
    masks = np.asarray(key_masks).astype(np.int64)
    if model.n_keys <= 20:
        by_mask = np.bincount(masks, weights=weights, minlength=1 << model.n_keys)
        return by_mask[model.codes]
    distinct, inverse = np.unique(masks, return_inverse=True)
    sums = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(distinct))
    position = np.searchsorted(distinct, model.codes)
    found = (position < len(distinct)) & (distinct[np.minimum(position, len(distinct) - 1)] == model.codes)
    return np.where(found, sums[np.minimum(position, len(distinct) - 1)], 0.0)


def _state_counts_from_weights(
    model: _KeyModel, key_masks: np.ndarray, match_weight: np.ndarray, threshold: float, sure: float, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs by key mask, counted by probability at or above ``threshold``, by probability, and at or above ``sure``.

    The sums of :func:`_state_counts` (whole masks, before picking the states), added in the same order.
    """
    from . import kernels

    size = 1 << model.n_keys
    sums = tuple(np.zeros(size) for _ in range(3))
    from .model import probability as _probability

    for start in range(0, len(match_weight), batch):
        probability = _probability(match_weight[start : start + batch])
        masks = np.ascontiguousarray(key_masks[start : start + batch])
        kernels.add_weights(sums[0], masks, probability * (probability >= threshold))
        kernels.add_weights(sums[1], masks, probability)
        kernels.add_weights(sums[2], masks, (probability >= sure).astype(float))
    return sums


def _missed_share(model: _KeyModel, counts: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """P(no rule holds | match) and its standard error, from the matches in the captured states.

    A log-linear model of the keys' agreement among matches, fitted by
    penalised maximum likelihood (Newton's method) to the counts of the
    states some rule holds in (a multinomial over them), gives the weight of
    the states no rule holds in: the capture–recapture estimate with keys as
    lists and their pairwise associations as covariates.
    """
    seen = np.flatnonzero(model.captured)
    missing = np.flatnonzero(~model.captured)
    x, n = model.features[seen], counts[seen]
    total = float(n.sum())

    def fit(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = x @ beta
        top = float(eta.max())
        w = np.exp(eta - top)
        z = float(w.sum())
        mean = (w @ x) / z
        centred = x - mean
        value = float(n @ eta) - total * (top + math.log(z)) - 0.5 * float(model.penalty @ beta**2)
        gradient = n @ x - total * mean - model.penalty * beta
        hessian = -total * (centred * w[:, None]).T @ centred / z - np.diag(model.penalty)
        return value, gradient, hessian

    beta = np.zeros(x.shape[1])
    value, gradient, hessian = fit(beta)
    ridge = 1e-9 * max(total, 1.0) * np.eye(len(beta))
    for _ in range(iterations):
        try:
            step = np.linalg.solve(hessian - ridge, -gradient)
        except np.linalg.LinAlgError:
            step = gradient / max(total, 1.0)
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
    eta = model.features @ beta
    w = np.exp(eta - eta.max())
    share = float(w[missing].sum() / w.sum()) if len(missing) else 0.0
    # Delta method: the share's gradient against the (penalised) information of the counts.
    mean_all = (w @ model.features) / w.sum()
    mean_missing = (w[missing] @ model.features[missing]) / w[missing].sum() if share > 0 else mean_all
    derivative = share * (mean_missing - mean_all)
    try:
        variance = float(derivative @ np.linalg.solve(-(hessian - ridge), derivative))
    except np.linalg.LinAlgError:
        variance = 0.0
    return share, math.sqrt(max(variance, 0.0))


def blocking_recall(
    key_masks: np.ndarray,
    match_probability: np.ndarray,
    rules: Sequence[Sequence[tuple[str, tuple]]],
    *,
    threshold: float = 0.5,
    sure: float = 0.9,
    weights: np.ndarray | None = None,
    match_weight: np.ndarray | None = None,
    batch: int = 1 << 20,
) -> Estimate | None:
    """Share of the matching pairs that the blocking rules make, from the matches they make.

    ``key_masks`` holds, per candidate pair, bit ``k`` when key ``k`` of
    :func:`distinct_keys` agrees (equal and present); ``match_probability``
    each pair's probability of being a match; ``rules`` each rule's keys as
    ``(column, standardisers)``; ``weights`` the pairs each row stands for
    (default one). A match escapes blocking when every rule fails, i.e. when
    a key of each disagrees. Which keys agree among the matches that are made
    tells how often each key agrees among matches, and how often two agree
    together: a dirty record fails several keys at once, a person who moved
    changes address, postal code and phone together. A log-linear model of
    the keys' agreement with every two keys' association, fitted to the
    states some rule observes, gives the weight of the states none does
    (capture–recapture with keys as lists). Associations that no rule lets
    the counts measure stay near independence (:data:`ASSOCIATION_SD`).

    Which pairs stand for the matches is the main uncertainty. The estimate
    counts the pairs at or above ``threshold``, each by its probability (the
    matches the run finds). Counting every pair by its probability also
    counts the non-matches that agree on one rule's keys only (namesakes,
    household members) as matches captured once: it understates the recall.
    Counting only the pairs at or above ``sure`` leaves out the matches with
    the fewest keys agreeing: it overstates it. Records of mixed quality can
    fail more keys at once than two keys' associations say; one association
    common to every two agreeing keys (capture–recapture's homogeneous model
    of heterogeneity) allows for more of that. The interval spans the four,
    widened by two standard errors. None when there are more than
    :data:`MAX_KEYS` distinct keys.

    Given ``match_weight`` (the pairs' weights) instead of ``match_probability``,
    the probabilities are worked out and counted a ``batch`` of pairs at a
    time: the same counts, without five arrays of a float per pair.
    """
    model = _key_model(rules)
    if model is None or not len(key_masks):
        return None
    if match_probability is None and (weights is not None or model.n_keys > 20):
        from .model import probability as _probability

        match_probability = _probability(match_weight)
    if match_probability is None:
        # Summed per mask a batch of pairs at a time; the masks are then every state.
        found, everything, certain = _state_counts_from_weights(model, key_masks, match_weight, threshold, sure, batch)
        key_masks = np.arange(1 << model.n_keys)
    else:
        probability = np.asarray(match_probability, float)
        rows = np.ones(len(probability)) if weights is None else np.asarray(weights, float)
        found = probability * (probability >= threshold) * rows
        everything, certain = probability * rows, (probability >= sure) * rows
    return _recall_from_sums(model, key_masks, found, everything, certain)


def blocking_recall_from_sums(
    key_masks: np.ndarray,
    rules: Sequence[Sequence[tuple[str, tuple]]],
    *,
    found: np.ndarray,
    every: np.ndarray,
    sure: np.ndarray,
) -> Estimate | None:
    """:func:`blocking_recall` from sums per row of ``key_masks`` (rows may repeat a mask).

    ``found`` sums the probabilities of the pairs at or above the match
    threshold, ``every`` the probabilities of all pairs, ``sure`` counts the
    pairs at or above the cluster threshold. An engine that keeps its pairs
    elsewhere (Spark) sends these sums per distinct mask.
    """
    model = _key_model(rules)
    if model is None or not len(key_masks):
        return None
    return _recall_from_sums(model, key_masks, found, every, sure)


def _recall_from_sums(
    model: _KeyModel, key_masks: np.ndarray, found: np.ndarray, every: np.ndarray, sure: np.ndarray
) -> Estimate | None:
    readings = []
    found = np.asarray(found, float)
    for reading, counted in ((model, found), (model, np.asarray(every, float)), (model, np.asarray(sure, float)), (model.common(), found)):
        counts = _state_counts(reading, key_masks, counted)
        if counts[reading.captured].sum() <= 0:
            if not readings:
                return None
            continue
        share, error = _missed_share(reading, counts)
        readings.append((1.0 - share, error))
    if not readings:
        return None
    value = readings[0][0]
    low = min(r - 2 * e for r, e in readings)
    high = max(r + 2 * e for r, e in readings)
    return Estimate(value, max(min(low, value), 0.0), min(max(high, value), 1.0))


def rule_keys(settings: Any) -> list[list[tuple[str, tuple]]]:
    """Each blocking rule's keys as (column, standardisers), as :func:`blocking_recall` takes them."""
    return [[(key.column, tuple(key.standardise)) for key in rule.keys] for rule in settings.blocking_rules]


def blocking_keys(settings: Any) -> list[Any]:
    """The distinct keys of the settings' rules (:class:`~linkwise.settings.BlockingKey`), in bit order.

    Empty when there are more than :data:`MAX_KEYS`: the blocking recall is then not estimated.
    """
    by_name = {(key.column, tuple(key.standardise)): key for rule in settings.blocking_rules for key in rule.keys}
    order = distinct_keys(rule_keys(settings))
    return [by_name[key] for key in order] if len(order) <= MAX_KEYS else []


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
    other_probability: np.ndarray | None = None,
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
        The probability used for expectations: in a run, the probability each
        pair was scored with (``pair_probability`` again).
    other_probability : float array (m,), optional
        Another reading of the same pairs (in a run, each pair's pattern
        posterior, :meth:`FellegiSunterModel.posterior` of its levels). With
        it, each figure is the midpoint of the two readings and its range
        covers both; without it, ``match_probability`` is the reading and
        ``pair_probability`` the other end of the range.
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

    if other_probability is None:
        central = metrics(match_probability, shares[0])
        # Calibration: the probabilities the pairs were scored with read them differently; the gap is the uncertainty.
        adjusted = metrics(pair_probability, shares[0])
    else:
        # Two readings, neither known to be the better: their midpoint, with a range that covers both.
        other = np.asarray(other_probability, dtype=float)
        central = metrics((match_probability + other) / 2, shares[0])
        adjusted = metrics(other, shares[0])
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
