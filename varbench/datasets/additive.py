"""Nonlinear additive target on independent uniform features, with analytic truth.

Shared here (also used by varbench/datasets/semisynthetic.py): `COMPONENTS`, the univariate
shapes a generator may plant, and `component(kind)`.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from varbench.datasets._common import additive_local, check, check_common, make_dataset
from varbench.datasets.base import Dataset, GroundTruth

COMPONENTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda t: t,
    "sin": lambda t: np.sin(np.pi * t),
    "square": lambda t: t**2,
    "abs": np.abs,
    "step": lambda t: (t > 0).astype(float),
}

# Exact mean and variance of each shape at T ~ U(-1, 1):
# sin: E = 0, E sin^2(pi T) = 1/2; square: E T^2 = 1/3, E T^4 = 1/5 -> 1/5 - 1/9 = 4/45;
# abs: E|T| = 1/2, E T^2 = 1/3 -> 1/12; step: Bernoulli(1/2); linear: 0, 1/3.
UNIFORM_MOMENTS: dict[str, tuple[float, float]] = {
    "linear": (0.0, 1 / 3),
    "sin": (0.0, 1 / 2),
    "square": (1 / 3, 4 / 45),
    "abs": (1 / 2, 1 / 12),
    "step": (1 / 2, 1 / 4),
}


def component(kind: str, strength: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """The univariate function t -> strength * COMPONENTS[kind](t)."""
    check(kind in COMPONENTS, "kinds", kind, f"one of {tuple(COMPONENTS)}")
    g = COMPONENTS[kind]
    return lambda t: strength * g(np.asarray(t, dtype=float))


def nonlinear_additive(
    n_samples: int = 2000,
    n_features: int = 8,
    kinds: Sequence[str] = ("sin", "square", "abs", "step"),
    strengths: Sequence[float] = (2.0, 3.0, 2.0, 0.8),
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """y = sum_j a_j g_j(x_j) + noise with x ~ U(-1, 1)^d independent; feature j < len(kinds)
    gets shape g_j = kinds[j] (sin(pi t), t^2, |t|, 1[t > 0] or t) with strength a_j = strengths[j];
    the remaining features are pure noise.

    Truth: importance_j = Var(a_j g_j(X_j)) / Var(f), each component's share of the noiseless
    output variance, computed analytically (for an additive function of independent inputs this
    is both the first-order and the total Sobol index). Relevant = features with a component.
    Local truth: phi_j(x) = a_j g_j(x_j) - E[a_j g_j(X_j)] (exact interventional Shapley value).
    No interactions (`interactions` is the zero matrix). With the defaults the shares are
    0.607 (sin), 0.243 (square), 0.101 (abs), 0.049 (step): the ranking differs from the
    ranking of the raw strengths.
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    kinds = [str(k) for k in kinds]
    a = np.asarray(list(strengths), dtype=float)
    check(len(kinds) >= 1, "kinds", kinds, "a non-empty list")
    for k in kinds:
        check(k in COMPONENTS, "kinds", kinds, f"names from {tuple(COMPONENTS)}")
    check(a.shape == (len(kinds),) and bool(np.all(np.isfinite(a) & (a != 0))), "strengths",
          list(strengths), f"{len(kinds)} finite non-zero numbers (one per kind)")
    check(n_features >= len(kinds), "n_features", n_features, f"an integer >= len(kinds) = {len(kinds)}")
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_features))
    comps: list[Callable[[np.ndarray], np.ndarray] | None] = [None] * n_features
    means = np.zeros(n_features)
    var = np.zeros(n_features)
    for j, (k, s) in enumerate(zip(kinds, a)):
        comps[j] = component(k, s)
        m, v = UNIFORM_MOMENTS[k]
        means[j], var[j] = s * m, s**2 * v
    f = sum(comps[j](X[:, j]) for j in range(len(kinds)))
    truth = GroundTruth(
        importance=var / var.sum(), relevant=var > 0,
        definition="analytic variance share Var(a_j g_j(x_j)) / Var(f) (= first-order = total Sobol "
                   "index); local: a_j g_j(x_j) - E a_j g_j (interventional Shapley)",
        local=additive_local(comps, means),
        interactions=np.zeros((n_features, n_features)),
    )
    return make_dataset("nonlinear_additive", X, f, truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng)


__all__ = ["nonlinear_additive", "COMPONENTS", "UNIFORM_MOMENTS", "component"]
