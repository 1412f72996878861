"""Core synthetic generators: linear, Friedman #1 and pure interactions.

Each returns a `Dataset` whose `GroundTruth` states how importance is defined.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from varbench.datasets._common import WEAK_SHARE, check, check_common, make_dataset, weak_below
from varbench.datasets.correlated import resolve_coefficients
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
    w = resolve_coefficients(coefficients, n_relevant, n_features, leading=True)
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


# --- Friedman #2 and #3 (scikit-learn's make_friedman2 / make_friedman3) -------------------------

FRIEDMAN23_LOW = np.array([0.0, 40 * np.pi, 0.0, 1.0])
FRIEDMAN23_HIGH = np.array([100.0, 560 * np.pi, 1.0, 11.0])


def friedman2_function(X: np.ndarray) -> np.ndarray:
    """Noiseless Friedman #2: sqrt(x0^2 + (x1 x2 - 1 / (x1 x3))^2) on the first four columns."""
    X = np.asarray(X, dtype=float)
    return np.sqrt(X[:, 0] ** 2 + (X[:, 1] * X[:, 2] - 1 / (X[:, 1] * X[:, 3])) ** 2)


def friedman3_function(X: np.ndarray) -> np.ndarray:
    """Noiseless Friedman #3: arctan((x1 x2 - 1 / (x1 x3)) / x0) on the first four columns."""
    X = np.asarray(X, dtype=float)
    return np.arctan((X[:, 1] * X[:, 2] - 1 / (X[:, 1] * X[:, 3])) / X[:, 0])


def _total_indices_by_quadrature(fn, low: np.ndarray, high: np.ndarray, m: int) -> np.ndarray:
    """Total Sobol indices of fn(X) for independent X_j ~ U(low_j, high_j), by an m-point
    Gauss-Legendre tensor grid: ST_j = E[Var(f | X_~j)] / Var(f), both variances centred
    before squaring (no cancellation). Cost m^d evaluations."""
    d = low.size
    t, w = np.polynomial.legendre.leggauss(m)
    u, wu = (t + 1) / 2, w / 2
    axes = [low[j] + (high[j] - low[j]) * u for j in range(d)]
    rest = np.stack(np.meshgrid(*axes[1:], indexing="ij"), axis=-1).reshape(-1, d - 1)
    F = np.empty((m,) * d)
    for i in range(m):  # one slice of the grid at a time keeps memory at m^(d-1) rows
        F[i] = fn(np.column_stack([np.full(rest.shape[0], axes[0][i]), rest])).reshape((m,) * (d - 1))

    def wmean(A: np.ndarray, axis: int) -> np.ndarray:
        return np.expand_dims(np.tensordot(A, wu, axes=([axis], [0])), axis)

    def full_mean(A: np.ndarray) -> float:
        for axis in range(d):
            A = wmean(A, axis)
        return float(A.item())

    var = full_mean((F - full_mean(F)) ** 2)
    return np.array([full_mean((F - wmean(F, j)) ** 2) for j in range(d)]) / var


@lru_cache(maxsize=1)
def friedman2_total_indices() -> np.ndarray:
    """Total Sobol indices of noiseless Friedman #2's four inputs (48^4-point Gauss-Legendre
    quadrature; converged to ~1e-6): about (0.00063, 0.507, 0.625, 8e-13)."""
    return _total_indices_by_quadrature(friedman2_function, FRIEDMAN23_LOW, FRIEDMAN23_HIGH, 48)


@lru_cache(maxsize=1)
def friedman3_total_indices() -> np.ndarray:
    """Total Sobol indices of noiseless Friedman #3's four inputs (48^4-point Gauss-Legendre
    quadrature; converged to ~1e-5): about (0.223, 0.237, 0.680, 4e-10)."""
    return _total_indices_by_quadrature(friedman3_function, FRIEDMAN23_LOW, FRIEDMAN23_HIGH, 48)


def _friedman23(name: str, fn, indices: np.ndarray, n_samples: int, n_features: int, noise: float,
                task: str, test_fraction: float, seed: int, unit_inputs: bool) -> Dataset:
    check_common(n_samples, n_features, noise, task, test_fraction)
    check(n_features >= 4, "n_features", n_features, f"an integer >= 4 ({name} uses 4 inputs)")
    check(isinstance(unit_inputs, bool), "unit_inputs", unit_inputs, "true or false")
    rng = np.random.default_rng(seed)
    U = rng.uniform(size=(n_samples, n_features))
    X = U.copy()
    X[:, :4] = FRIEDMAN23_LOW + (FRIEDMAN23_HIGH - FRIEDMAN23_LOW) * U[:, :4]
    f = fn(X)
    if unit_inputs:
        X = U
    imp = np.zeros(n_features)
    imp[:4] = indices
    truth = GroundTruth(importance=imp, relevant=imp > 0,
                        weak=weak_below(imp, imp > 0), weak_threshold=WEAK_SHARE,
                        definition="total Sobol index of the noiseless function (Gauss-Legendre "
                                   "quadrature); x3's index is negligible (< 1e-9) though the "
                                   f"function depends on it; weak: total index < {WEAK_SHARE}")
    return make_dataset(name, X, f, truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng)


def friedman2(
    n_samples: int = 2000,
    n_features: int = 4,
    noise: float = 0.0,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
    unit_inputs: bool = False,
) -> Dataset:
    """Friedman #2 as scikit-learn's make_friedman2 defines it: x0 ~ U(0, 100),
    x1 ~ U(40 pi, 560 pi), x2 ~ U(0, 1), x3 ~ U(1, 11),
    y = sqrt(x0^2 + (x1 x2 - 1 / (x1 x3))^2) + noise N(0, 1); columns 4.. (if n_features > 4)
    are U(0, 1) noise inputs. The noise level of Friedman's (1991) paper is not quoted here (not verified);
    scikit-learn's default is 0. The output is on its raw scale (sd(y) ~ 380).
    unit_inputs=True reports x0..x3 rescaled to [0, 1], u_j = (x_j - low_j) / (high_j - low_j)
    (y is unchanged: f is evaluated on the raw x); Sobol indices are invariant to this map.

    Truth: total Sobol indices of the noiseless function by quadrature (`friedman2_total_indices`):
    ~ (0.0006, 0.507, 0.625, 8e-13). Relevant = x0..x3 (the function depends on all four), but
    x3 enters only through 1/(x1 x3) < 0.008 and x0 is nearly masked by x1 x2: both are
    practically undetectable. The x1-x2 interaction is credited to both (total indices).
    """
    return _friedman23("friedman2", friedman2_function, friedman2_total_indices(), n_samples,
                       n_features, noise, task, test_fraction, seed, unit_inputs)


def friedman3(
    n_samples: int = 2000,
    n_features: int = 4,
    noise: float = 0.0,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
    unit_inputs: bool = False,
) -> Dataset:
    """Friedman #3 as scikit-learn's make_friedman3 defines it: inputs as in Friedman #2,
    y = arctan((x1 x2 - 1 / (x1 x3)) / x0) + noise N(0, 1); columns 4.. are U(0, 1) noise inputs.
    The noise level of Friedman's (1991) paper is not quoted here (not verified); scikit-learn's
    default is 0.
    unit_inputs=True reports x0..x3 rescaled to [0, 1] as in `friedman2`.

    Truth: total Sobol indices of the noiseless function by quadrature (`friedman3_total_indices`):
    ~ (0.223, 0.237, 0.680, 4e-10). Relevant = x0..x3 (x3 is practically undetectable).
    Interactions are credited to every partner (total indices).
    """
    return _friedman23("friedman3", friedman3_function, friedman3_total_indices(), n_samples,
                       n_features, noise, task, test_fraction, seed, unit_inputs)


__all__ += ["friedman2", "friedman3", "friedman2_function", "friedman3_function",
            "friedman2_total_indices", "friedman3_total_indices"]
