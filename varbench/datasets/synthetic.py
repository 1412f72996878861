"""Core synthetic generators: linear, Friedman #1 and pure interactions.

Each returns a `Dataset` whose `GroundTruth` states how importance is defined.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from varbench.datasets._common import check, check_common, make_dataset
from varbench.datasets.base import Dataset, GroundTruth


def linear(
    n_samples: int = 2000,
    n_features: int = 8,
    coefficients: Sequence[float] | None = None,
    n_relevant: int = 4,
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """y = X w + noise, X ~ N(0, I).

    Coefficients default to n_relevant values spaced evenly from 2.0 down to 0.5, then zeros.
    Truth: importance_j = |w_j| * sd(x_j) = |w_j|; local truth phi_j(x) = w_j x_j (exact
    interventional Shapley value, since E[x_j] = 0 and the features are independent).
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    if coefficients is None:
        check(isinstance(n_relevant, int) and 1 <= n_relevant <= n_features, "n_relevant", n_relevant,
              f"an integer in [1, n_features={n_features}]")
        w = np.zeros(n_features)
        w[:n_relevant] = np.linspace(2.0, 0.5, n_relevant)
    else:
        w = np.asarray(list(coefficients), dtype=float)
        check(w.shape == (n_features,), "coefficients", list(coefficients), f"{n_features} numbers")
        check(bool(np.any(w != 0)), "coefficients", list(coefficients), "at least one non-zero value")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    f = X @ w
    truth = GroundTruth(
        importance=np.abs(w), relevant=w != 0,
        definition="|coefficient| x sd(feature); local: w_j x_j",
        local=lambda Z: np.asarray(Z, float) * w,
    )
    return make_dataset("linear", X, f, truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng)


@lru_cache(maxsize=1)
def friedman1_total_indices() -> np.ndarray:
    """Analytic total Sobol indices of Friedman #1's five active inputs (noise excluded).

    f = 10 sin(pi x0 x1) + 20 (x2 - 1/2)^2 + 10 x3 + 5 x4, x ~ U(0, 1). The sin term's
    conditional moments are integrated by 200-point Gauss-Legendre quadrature on [0, 1]^2.
    """
    t, w = np.polynomial.legendre.leggauss(200)
    u, wu = (t + 1) / 2, w / 2
    s = 10 * np.sin(np.pi * np.outer(u, u))  # s[i, k] = g(x0=u_i, x1=u_k)
    mean = wu @ s @ wu
    var_s = wu @ (s**2) @ wu - mean**2
    cond_var_given_x1 = (wu @ s**2) - (wu @ s) ** 2  # Var over x0 for each x1
    st01 = float(wu @ cond_var_given_x1)  # E_x1 Var_x0 = total effect of x0 (same for x1)
    v2 = 400 * (1 / 80 - 1 / 144)  # Var(20 (U - 1/2)^2)
    v3, v4 = 100 / 12, 25 / 12
    total = var_s + v2 + v3 + v4
    return np.array([st01, st01, v2, v3, v4]) / total


def friedman1(
    n_samples: int = 2000,
    n_features: int = 10,
    noise: float = 1.0,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Friedman #1 as scikit-learn's make_friedman1 defines it: x ~ U(0, 1)^d,
    y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise N(0, 1); x5.. are pure noise.

    Truth: analytic total Sobol indices of the noiseless function (x0 and x1 tie: their
    interaction is credited to both, as the total index does).
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    check(n_features >= 5, "n_features", n_features, "an integer >= 5 (Friedman #1 uses 5 inputs)")
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n_samples, n_features))
    f = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2
         + 10 * X[:, 3] + 5 * X[:, 4])
    imp = np.zeros(n_features)
    imp[:5] = friedman1_total_indices()
    truth = GroundTruth(importance=imp, relevant=imp > 0,
                        definition="analytic total Sobol index of the noiseless function")
    return make_dataset("friedman1", X, f, truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng)


def interaction(
    n_samples: int = 2000,
    n_features: int = 6,
    kind: str = "product",
    strengths: Sequence[float] = (2.0, 1.0),
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Features that matter only jointly: pairs (x0, x1), (x2, x3), ... each enter as
    a_p * x_{2p} x_{2p+1} ("product", x ~ N(0, 1)) or a_p * sign(x_{2p}) sign(x_{2p+1}) ("xor").

    Every main effect is zero, so one-at-a-time probing around 0 sees nothing. Truth: total
    Sobol index of each partner, a_p^2 / sum_q a_q^2 (both partners of a pair get the whole
    pair's variance, as the total index counts it); `interactions` holds a_p^2 per pair.
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    check(kind in ("product", "xor"), "kind", kind, "'product' or 'xor'")
    a = np.asarray(list(strengths), dtype=float)
    check(a.ndim == 1 and a.size >= 1 and bool(np.all(a > 0)), "strengths", list(strengths),
          "a non-empty list of positive numbers")
    check(2 * a.size <= n_features, "n_features", n_features,
          f"at least 2 x len(strengths) = {2 * a.size}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    g = X if kind == "product" else np.sign(X)
    f = sum(a[p] * g[:, 2 * p] * g[:, 2 * p + 1] for p in range(a.size))
    imp = np.zeros(n_features)
    inter = np.zeros((n_features, n_features))
    for p in range(a.size):
        imp[2 * p] = imp[2 * p + 1] = a[p] ** 2 / np.sum(a**2)
        inter[2 * p, 2 * p + 1] = inter[2 * p + 1, 2 * p] = a[p] ** 2
    truth = GroundTruth(importance=imp, relevant=imp > 0, interactions=inter,
                        definition="total Sobol index (a pair's variance credited to both partners)")
    return make_dataset(f"interaction_{kind}", X, f, truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng)


__all__ = ["linear", "friedman1", "interaction", "friedman1_total_indices"]
