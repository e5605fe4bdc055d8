"""The Fellegi–Sunter model: m and u per comparison level, a prior, and EM.

Everything here is plain numpy over small tables: the distinct agreement
patterns of the pairs and how many pairs show each one. Nothing depends on
the engine or on the number of records.

Level 0 of every comparison is the null level; it carries no evidence, so its
m and u are not estimated and its weight is 0.

>>> import numpy as np
>>> patterns = np.array([[1, 1], [2, 2], [1, 2]], dtype=np.uint8)
>>> model = FellegiSunterModel(n_levels=[3, 3]).fit(patterns, np.array([90.0, 900.0, 10.0]),
...     u=[np.array([0, 0.05, 0.95]), np.array([0, 0.1, 0.9])])
>>> round(model.prior_, 2)
0.09
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dependence import Interaction
from .errors import ModelError

MODEL_FORMAT_VERSION = 1
_FLOOR = 1e-9


class ConvergenceWarning(UserWarning):
    """EM stopped at its iteration cap before it converged."""


@dataclass(frozen=True)
class EMStep:
    iteration: int
    prior: float
    max_change: float
    log_likelihood: float


def _normalise(counts: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Turn level counts (level 0 ignored) into probabilities, honouring fixed values."""
    out = np.zeros_like(counts, dtype=float)
    free = np.isnan(fixed)
    free[0] = False
    fixed_mass = float(np.nansum(fixed[1:]))
    out[1:][~free[1:]] = fixed[1:][~free[1:]]
    if free.any():
        free_counts = np.maximum(counts[free], 0) + _FLOOR
        out[free] = max(1.0 - fixed_mass, 0.0) * free_counts / free_counts.sum()
    out[1:] = np.maximum(out[1:], _FLOOR)
    return out


class FellegiSunterModel:
    """m, u and prior of a Fellegi–Sunter model, fitted by EM on pattern counts.

    Parameters
    ----------
    n_levels:
        Number of stored levels of each comparison (null, declared levels, else).
    fixed_m, fixed_u:
        Per comparison, an array with a probability for each level that is fixed,
        NaN where the level is estimated.
    max_iterations, tolerance:
        EM stops when no parameter moves by more than ``tolerance``, or after
        ``max_iterations`` with a :class:`ConvergenceWarning`.
    """

    def __init__(
        self,
        n_levels: Sequence[int],
        *,
        fixed_m: Sequence[np.ndarray] | None = None,
        fixed_u: Sequence[np.ndarray] | None = None,
        fixed_prior: float | None = None,
        max_iterations: int = 200,
        tolerance: float = 1e-6,
    ) -> None:
        self.n_levels = list(n_levels)
        self.fixed_m = fixed_m
        self.fixed_u = fixed_u
        self.fixed_prior = fixed_prior
        self.max_iterations = max_iterations
        self.tolerance = tolerance

    # -- fitting ----------------------------------------------------------------
    def _fixed(self, given: Sequence[np.ndarray] | None) -> list[np.ndarray]:
        if given is None:
            return [np.full(k, np.nan) for k in self.n_levels]
        return [np.asarray(g, dtype=float).copy() for g in given]

    def fit(
        self,
        patterns: np.ndarray,
        counts: np.ndarray,
        *,
        m: Sequence[np.ndarray] | None = None,
        u: Sequence[np.ndarray] | None = None,
        prior: float | None = None,
        estimate_u: bool = False,
        estimate_m: bool = True,
        known: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FellegiSunterModel:
        """Fit by EM on the distinct agreement ``patterns`` and their ``counts``.

        ``m``, ``u`` and ``prior`` are starting values; with ``estimate_u=False``
        (the default) ``u`` is held where it starts, as when it was estimated
        from random pairs. ``known`` holds, per pattern, pairs known (labelled)
        to be matches and non-matches, on top of ``counts``: they keep their
        class in every E-step. Returns ``self``.
        """
        patterns = np.asarray(patterns)
        counts = np.asarray(counts, dtype=float)
        if patterns.ndim != 2 or patterns.shape[1] != len(self.n_levels):
            raise ModelError(f"patterns must have one column per comparison ({len(self.n_levels)})")
        fixed_m, fixed_u = self._fixed(self.fixed_m), self._fixed(self.fixed_u)
        m_ = [_normalise(np.asarray(x, float) if x is not None else _default_m(k), f) for x, f, k in zip(m or [None] * len(self.n_levels), fixed_m, self.n_levels)]
        if u is None:
            u = [_default_u(k) for k in self.n_levels]
        u_ = [_normalise(np.asarray(x, float), f) for x, f in zip(u, fixed_u)]
        prior_ = self.fixed_prior if self.fixed_prior is not None else (prior if prior is not None else 0.01)
        one_hot = [patterns[:, c].astype(np.intp) for c in range(len(self.n_levels))]
        history: list[EMStep] = []
        converged = False
        known_match, known_non_match = (np.zeros(len(patterns)), np.zeros(len(patterns))) if known is None else known
        total = counts.sum() + known_match.sum() + known_non_match.sum()
        for iteration in range(1, self.max_iterations + 1):
            log_m = np.zeros(len(patterns))
            log_u = np.zeros(len(patterns))
            for c, levels in enumerate(one_hot):
                log_m += _log_levels(m_[c])[levels]
                log_u += _log_levels(u_[c])[levels]
            a = math.log(prior_) + log_m
            b = math.log1p(-prior_) + log_u
            top = np.maximum(a, b)
            evidence = top + np.log(np.exp(a - top) + np.exp(b - top))
            posterior = np.exp(a - evidence)
            log_likelihood = float((counts * evidence).sum() + (known_match * a).sum() + (known_non_match * b).sum())
            match_weight = counts * posterior + known_match
            non_match_weight = counts * (1.0 - posterior) + known_non_match
            change = 0.0
            new_prior = prior_
            if self.fixed_prior is None:
                new_prior = float(np.clip(match_weight.sum() / total, 1e-12, 1 - 1e-12))
                change = abs(new_prior - prior_)
            for c, levels in enumerate(one_hot):
                if estimate_m:
                    new_m = _normalise(np.bincount(levels, weights=match_weight, minlength=self.n_levels[c]), fixed_m[c])
                    change = max(change, float(np.abs(new_m - m_[c]).max()))
                    m_[c] = new_m
                if estimate_u:
                    new_u = _normalise(np.bincount(levels, weights=non_match_weight, minlength=self.n_levels[c]), fixed_u[c])
                    change = max(change, float(np.abs(new_u - u_[c]).max()))
                    u_[c] = new_u
            prior_ = new_prior
            history.append(EMStep(iteration, prior_, change, log_likelihood))
            if change < self.tolerance:
                converged = True
                break
        if not converged:
            warnings.warn(
                f"EM stopped after {self.max_iterations} iterations without converging "
                f"(last change {history[-1].max_change:.2g}); raise training.em_max_iterations",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.m_ = m_
        self.u_ = u_
        self.prior_ = float(prior_)
        self.interactions_: list[Interaction] = []
        self.n_iter_ = len(history)
        self.converged_ = converged
        self.history_ = history
        return self

    # -- use --------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "m_"):
            raise ModelError("the model is not fitted yet; call fit() first or load a model file")

    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) per comparison level; 0 for the null level."""
        self._check_fitted()
        out = []
        for m, u in zip(self.m_, self.u_):
            w = np.log2(np.maximum(m, _FLOOR) / np.maximum(u, _FLOOR))
            w[0] = 0.0
            out.append(w)
        return out

    def prior_weight(self) -> float:
        self._check_fitted()
        return math.log2(self.prior_ / (1 - self.prior_))

    def pattern_weights(self, patterns: np.ndarray) -> np.ndarray:
        """Match weight (log2 odds) of each agreement pattern, without term frequencies."""
        weights = self.level_weights()
        out = np.full(len(patterns), self.prior_weight())
        for c, w in enumerate(weights):
            out += w[patterns[:, c]]
        return out + self.interaction_weights(patterns)

    def interaction_weights(self, patterns: np.ndarray) -> np.ndarray:
        """The part of each pattern's weight that corrects for dependent comparisons, in bits.

        0 for every pattern unless :attr:`interactions_` holds joint rates of
        comparisons found dependent (see :mod:`linkwise.dependence`).
        """
        self._check_fitted()
        out = np.zeros(len(patterns))
        for interaction in getattr(self, "interactions_", []):
            out += interaction.weights(patterns)
        return out

    def posterior(self, patterns: np.ndarray) -> np.ndarray:
        return probability(self.pattern_weights(patterns))


def _log_levels(p: np.ndarray) -> np.ndarray:
    """Natural log of level probabilities, with 0 for the null level (no evidence)."""
    out = np.log(np.maximum(p, _FLOOR))
    out[0] = 0.0
    return out


def probability(match_weight: np.ndarray) -> np.ndarray:
    """Match probability from a match weight in bits."""
    return 1.0 / (1.0 + np.exp2(-np.asarray(match_weight, dtype=float)))


def _default_m(n_levels: int) -> np.ndarray:
    # Strong levels likely for matches: geometric decay from the strongest level.
    m = np.zeros(n_levels)
    m[1:] = 0.5 ** np.arange(n_levels - 1)
    m[-1] = 0.05
    return m


def _default_u(n_levels: int) -> np.ndarray:
    u = np.zeros(n_levels)
    u[1:] = 0.01
    u[-1] = 1.0
    return u


def model_document(comparisons: Sequence[Any], model: FellegiSunterModel, extra: dict[str, Any]) -> dict[str, Any]:
    """The versioned JSON document of a fitted model (no record values)."""
    model._check_fitted()
    weights = model.level_weights()
    doc: dict[str, Any] = {
        "format": "linkwise-model",
        "format_version": MODEL_FORMAT_VERSION,
        "prior": model.prior_,
        "em": {
            "iterations": model.n_iter_,
            "converged": model.converged_,
            "history": [step.__dict__ for step in model.history_],
        },
        "comparisons": [],
    }
    population_u = getattr(model, "tf_u_", model.u_)
    for comp, m, u, u0, w in zip(comparisons, model.m_, model.u_, population_u, weights):
        doc["comparisons"].append(
            {
                "name": comp.name,
                "levels": [
                    {
                        "label": label,
                        "m": float(m[i]) if i else None,
                        "u": float(u[i]) if i else None,
                        "u_random": float(u0[i]) if i else None,
                        "weight": float(w[i]),
                    }
                    for i, label in enumerate(comp.level_labels)
                ],
            }
        )
    names = [comp.name for comp in comparisons]
    doc["interactions"] = [interaction.to_dict(names) for interaction in getattr(model, "interactions_", [])]
    doc.update(extra)
    return doc


def read_model_document(text: str, where: str) -> dict[str, Any]:
    """Parse and check a model file's JSON."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"model file '{where}' is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(doc, dict) or doc.get("format") != "linkwise-model":
        raise ModelError(f"model file '{where}' is not a linkwise model")
    version = doc.get("format_version")
    if version != MODEL_FORMAT_VERSION:
        raise ModelError(
            f"model file '{where}' has format version {version!r}; this linkwise reads version "
            f"{MODEL_FORMAT_VERSION}. Retrain the model with this version"
        )
    return doc


def model_from_document(doc: dict[str, Any], comparisons: Sequence[Any], where: str) -> FellegiSunterModel:
    """Rebuild a fitted model from its JSON document, checked against the comparisons it scores."""
    comps = doc.get("comparisons")
    if not isinstance(comps, list) or "prior" not in doc:
        raise ModelError(f"model '{where}' lacks its comparisons or prior; is it a linkwise model file?")
    expected = [(c.name, list(c.level_labels)) for c in comparisons]
    found = [(c.get("name"), [lv.get("label") for lv in c.get("levels", [])]) for c in comps]
    if expected != found:
        raise ModelError(
            f"model '{where}' does not match the settings: its comparisons and levels differ; "
            "score with the settings the model was trained with"
        )
    n_levels = [c.n_levels for c in comparisons]
    model = FellegiSunterModel(list(n_levels))
    model.m_ = [np.array([lv["m"] or 0.0 for lv in c["levels"]]) for c in comps]
    model.u_ = [np.array([lv["u"] or 0.0 for lv in c["levels"]]) for c in comps]
    model.tf_u_ = [np.array([lv.get("u_random", lv["u"]) or 0.0 for lv in c["levels"]]) for c in comps]
    model.prior_ = float(doc["prior"])
    names = [c.name for c in comparisons]
    try:
        model.interactions_ = [Interaction.from_dict(x, names, n_levels) for x in doc.get("interactions", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model '{where}' has an unreadable interaction of comparisons: {exc}") from None
    em = doc.get("em", {})
    model.n_iter_ = int(em.get("iterations", 0))
    model.converged_ = bool(em.get("converged", True))
    model.history_ = [EMStep(**step) for step in em.get("history", [])]
    return model
