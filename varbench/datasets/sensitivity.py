"""Global-sensitivity test functions with analytic Sobol indices: Ishigami and Sobol' G; and
`sobol_from_outputs`, the Monte Carlo estimator of the indices from function outputs (the truth of
the interaction generators and the `varbench.methods.sensitivity` methods both use it).

The pure functions take an array module `xp` (numpy by default; pass `keras.ops` to build them
into a Keras model, e.g. `tests/exact.function_net(lambda x: ishigami_function(x, xp=keras.ops), 3)`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from varbench.datasets._common import WEAK_SHARE, check, check_common, make_dataset, weak_below
from varbench.datasets.base import Dataset, GroundTruth

DEFAULT_G_A = (0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0)


@dataclass(frozen=True)
class SobolIndices:
    """first (d,), total (d,) and second-order (d, d) symmetric Sobol indices (zero diagonal),
    all as fractions of Var(f)."""

    first: np.ndarray
    total: np.ndarray
    second: np.ndarray


def sobol_from_outputs(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray) -> dict[str, np.ndarray]:
    """First-order (Saltelli et al. 2010) and total (Jansen 1999) indices from model outputs.

    fA, fB: (N,); fAB: (d, N). Outputs are first centred by their grand mean (all (d + 2) N
    outputs; it does not change the total index and lowers the first-order estimator's variance).
    V = Var([fA, fB]); S_i = mean(fB (fAB_i - fA)) / V; ST_i = mean((fA - fAB_i)^2) / (2 V).
    Returns first, total, their standard errors (d,), and the output variance (as a 0-d array).
    A constant output gives all-zero indices."""
    fA, fB, fAB = (np.asarray(a, dtype=np.float64) for a in (fA, fB, fAB))
    c = np.concatenate([fA, fB, fAB.ravel()]).mean()
    fA, fB, fAB = fA - c, fB - c, fAB - c
    var = float(np.var(np.concatenate([fA, fB])))
    first_terms = fB[None] * (fAB - fA[None])
    total_terms = 0.5 * (fA[None] - fAB) ** 2
    N = fA.shape[0]
    scale = 1.0 / var if var > 0 else 0.0
    se = (lambda t: t.std(axis=1, ddof=1) / np.sqrt(N) * scale) if N > 1 else (lambda t: np.zeros(t.shape[0]))
    return {"first": first_terms.mean(axis=1) * scale, "total": total_terms.mean(axis=1) * scale,
            "first_se": se(first_terms), "total_se": se(total_terms), "variance": np.array(var)}


def ishigami_function(X: Any, a: float = 7.0, b: float = 0.1, xp: Any = np) -> Any:
    """sin(x0) + a sin(x1)^2 + b x2^4 sin(x0) on the first three columns (inputs U(-pi, pi))."""
    s0 = xp.sin(X[:, 0])
    return s0 + a * xp.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * s0


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> SobolIndices:
    """Analytic Sobol indices of the Ishigami function with x ~ U(-pi, pi)^3:
    V1 = 1/2 + b pi^4/5 + b^2 pi^8/50, V2 = a^2/8, V13 = 8 b^2 pi^8/225, V = V1 + V2 + V13.
    a=7, b=0.1: S = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437), S13 = 0.2437."""
    pi = np.pi
    v1 = 0.5 + b * pi**4 / 5 + b**2 * pi**8 / 50
    v2 = a**2 / 8
    v13 = 8 * b**2 * pi**8 / 225
    v = v1 + v2 + v13
    second = np.zeros((3, 3))
    second[0, 2] = second[2, 0] = v13 / v
    return SobolIndices(first=np.array([v1, v2, 0.0]) / v,
                        total=np.array([v1 + v13, v2, v13]) / v, second=second)


def ishigami_local(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Exact interventional Shapley values of the Ishigami function (independent U(-pi, pi)
    inputs), columns 3.. get 0. With E sin(x0) = 0 and E x2^4 = pi^4/5 the interaction term
    h = b x2^4 sin(x0) splits as phi_0 += b sin(x0) (x2^4 + pi^4/5) / 2 and
    phi_2 = b sin(x0) (x2^4 - pi^4/5) / 2, so the values sum to f(x) - a/2."""
    X = np.asarray(X, dtype=float)
    out = np.zeros(X.shape)
    s0 = np.sin(X[:, 0])
    m4 = np.pi**4 / 5
    out[:, 0] = s0 + b * s0 * (X[:, 2] ** 4 + m4) / 2
    out[:, 1] = a * np.sin(X[:, 1]) ** 2 - a / 2
    out[:, 2] = b * s0 * (X[:, 2] ** 4 - m4) / 2
    return out


def ishigami(
    n_samples: int = 2000,
    n_features: int = 5,
    a: float = 7.0,
    b: float = 0.1,
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Ishigami: x ~ U(-pi, pi)^d, y = sin(x0) + a sin(x1)^2 + b x2^4 sin(x0) + noise; columns
    3.. (n_features > 3) are U(-pi, pi) noise inputs.

    Truth: analytic total Sobol indices (`ishigami_indices`); a=7, b=0.1: ST = (0.5576, 0.4424,
    0.2437), first-order S = (0.3139, 0.4424, 0) (in the definition string). x2 acts only through
    its interaction with x0, credited to both by the total index; `interactions` holds the
    second-order index S13 = 0.2437 at (0, 2). Local truth: exact interventional Shapley values
    (`ishigami_local`, the interaction split as the Shapley value splits it).
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    check(n_features >= 3, "n_features", n_features, "an integer >= 3 (Ishigami uses 3 inputs)")
    check(isinstance(a, (int, float)) and bool(np.isfinite(a)), "a", a, "a finite number")
    check(isinstance(b, (int, float)) and bool(np.isfinite(b)), "b", b, "a finite number")
    a, b = float(a), float(b)
    idx = ishigami_indices(a, b)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-np.pi, np.pi, size=(n_samples, n_features))
    imp = np.zeros(n_features)
    imp[:3] = idx.total
    inter = np.zeros((n_features, n_features))
    inter[:3, :3] = idx.second
    s = ", ".join(f"{v:.4f}" for v in idx.first)
    truth = GroundTruth(
        importance=imp, relevant=imp > 0, interactions=inter,
        local=lambda Z: ishigami_local(Z, a, b),
        definition=f"analytic total Sobol index; first-order S = ({s}); interactions: second-order "
                   f"index; local: exact interventional Shapley",
    )
    return make_dataset("ishigami", X, ishigami_function(X, a, b), truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng)


def sobol_g_function(X: Any, a: Sequence[float] = DEFAULT_G_A, xp: Any = np) -> Any:
    """Sobol' G: prod_j (|4 x_j - 2| + a_j) / (1 + a_j) over the first len(a) columns (x ~ U(0, 1))."""
    out = None
    for j, aj in enumerate(a):
        aj = float(aj)
        term = (xp.abs(4 * X[:, j] - 2) + aj) / (1 + aj)
        out = term if out is None else out * term
    return out


def sobol_g_indices(a: Sequence[float] = DEFAULT_G_A) -> SobolIndices:
    """Analytic Sobol indices of the G-function with x ~ U(0, 1)^d: V_j = 1 / (3 (1 + a_j)^2),
    V = prod(1 + V_j) - 1, S_j = V_j / V, ST_j = V_j prod_{k != j}(1 + V_k) / V,
    S_jk = V_j V_k / V."""
    a = np.asarray(list(a), dtype=float)
    vj = 1 / (3 * (1 + a) ** 2)
    v = np.prod(1 + vj) - 1
    second = np.outer(vj, vj) / v
    np.fill_diagonal(second, 0.0)
    return SobolIndices(first=vj / v, total=vj * np.prod(1 + vj) / (1 + vj) / v, second=second)


def sobol_g(
    n_samples: int = 2000,
    n_features: int = 10,
    a: Sequence[float] = DEFAULT_G_A,
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Sobol' G-function: x ~ U(0, 1)^d, y = prod_{j < len(a)} (|4 x_j - 2| + a_j) / (1 + a_j)
    + noise; columns len(a).. are U(0, 1) noise inputs. Small a_j = important (a_j = 0: most;
    a_j = 99: ~1e-4). Default a = (0, 1, 4.5, 9, 99, 99, 99, 99), n_features = 10.

    Truth: analytic total Sobol indices (`sobol_g_indices`), which credit every interaction
    (the function is a product: all orders interact) to each partner; relevant = the len(a)
    inputs of the product (the a_j = 99 ones are nearly undetectable). `interactions` holds the
    analytic second-order indices V_j V_k / V; no closed-form local truth is set. Inputs with a
    total index below WEAK_SHARE (the a_j = 99 ones, ~1e-4) are declared weakly relevant.
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    a_arr = np.asarray(list(a), dtype=float)
    check(a_arr.ndim == 1 and a_arr.size >= 1 and bool(np.all(np.isfinite(a_arr) & (a_arr >= 0))), "a",
          list(a), "a non-empty list of finite numbers >= 0")
    check(n_features >= a_arr.size, "n_features", n_features, f"an integer >= len(a) = {a_arr.size}")
    idx = sobol_g_indices(a_arr)
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n_samples, n_features))
    k = a_arr.size
    imp = np.zeros(n_features)
    imp[:k] = idx.total
    inter = np.zeros((n_features, n_features))
    inter[:k, :k] = idx.second
    s = ", ".join(f"{v:.4g}" for v in idx.first)
    truth = GroundTruth(importance=imp, relevant=imp > 0, interactions=inter,
                        weak=weak_below(imp, imp > 0), weak_threshold=WEAK_SHARE,
                        definition=f"analytic total Sobol index; first-order S = ({s}); "
                                   f"interactions: second-order index; weak: total index < {WEAK_SHARE}")
    return make_dataset("sobol_g", X, sobol_g_function(X, a_arr), truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng)


__all__ = ["SobolIndices", "sobol_from_outputs", "ishigami", "ishigami_function", "ishigami_indices", "ishigami_local",
           "sobol_g", "sobol_g_function", "sobol_g_indices", "DEFAULT_G_A"]
