"""Generators with known pairwise interactions: the ten synthetic functions of Tsang, Cheng &
Liu (2018, "Detecting Statistical Interactions from Neural Network Weights", ICLR, Table 1).

Inputs: x_1..x_10 ~ U(-1, 1) independently, except F1 (Hooker 2004's function, used by the paper
with the ranges of that literature): x1, x2, x3, x6, x7, x9 ~ U(0, 1) and x4, x5, x8, x10 ~
U(0.6, 1). Names below are 0-based (x0..x9) in code and 1-based in formulas.

Two functions are undefined in real numbers on part of U(-1, 1)^10 as printed, and are read the
only real-valued way (documented where they are defined): F2's sqrt(x7 / (1 + |x8|)) uses |x7|,
and F3/F4's x3^(2|x4|) is (x3^2)^|x4| = |x3|^(2|x4|).

Truth: `interactions` is the 0/1 matrix of interacting pairs, where an interaction group of any
order {i, j, k, ...} makes all its pairs interact (the paper's pairwise ground truth).
`importance` is the total Sobol index of the noiseless function, by a seeded Monte Carlo
(Jansen estimator, 2^16 base samples, cached); `relevant` is the set of inputs the formula uses.
A pair inside a higher-order group can have a zero second-order Sobol index (e.g. F5's x8 x9 x10
with zero-mean inputs): the 0/1 truth still counts it, as the paper does.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import numpy as np

from varbench.datasets._common import check, make_dataset
from varbench.datasets.base import Dataset, GroundTruth
from varbench.datasets.sensitivity import sobol_from_outputs

N_INPUTS = 10
TRUTH_SAMPLES = 2**16
TRUTH_SEED = 20180430  # fixed: the truth is a property of the function, not of the cell seed


def pair_matrix(groups: list[set[int]] | list[tuple[int, ...]], d: int) -> np.ndarray:
    """The (d, d) 0/1 matrix of interacting pairs implied by interaction groups: a group
    {i, j, k} of any order makes every pair inside it interact."""
    M = np.zeros((d, d))
    for g in groups:
        members = sorted(set(int(i) for i in g))
        bad = [a for a in members if not 0 <= a < d]
        if bad:
            raise ValueError(f"interaction group {members} names feature {bad[0]}, outside [0, {d})")
        for a in members:
            for b in members:
                if a != b:
                    M[a, b] = 1.0
    return M


def upper_pairs(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the d (d - 1) / 2 pairs i < j (row-major order): the order
    interaction matrices are read and scored in.

    Examples
    --------
    >>> [p.tolist() for p in upper_pairs(3)]
    [[0, 0, 1], [1, 2, 2]]
    """
    return np.triu_indices(d, k=1)


def _cols(X: Any) -> list[Any]:
    return [X[:, j] for j in range(N_INPUTS)]


def _f1(X: Any, xp: Any = np) -> Any:
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    return (xp.exp(np.log(np.pi) * x1 * x2) * xp.sqrt(2 * x3) - xp.arcsin(x4) + xp.log(x3 + x5)
            - (x9 / x10) * xp.sqrt(x7 / x8) - x2 * x7)


def _f2(X: Any, xp: Any = np) -> Any:
    # As printed, sqrt(x7 / (1 + |x8|)) is undefined for x7 < 0 on U(-1, 1): |x7| is used.
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    return (xp.exp(np.log(np.pi) * x1 * x2) * xp.sqrt(2 * xp.abs(x3)) - xp.arcsin(0.5 * x4)
            + xp.log(xp.abs(x3 + x5) + 1)
            - (x9 / (1 + xp.abs(x10))) * xp.sqrt(xp.abs(x7) / (1 + xp.abs(x8))) - x2 * x7)


def _f3_terms(X: Any, xp: Any) -> Any:
    # x3^(2|x4|) is read as (x3^2)^|x4| = |x3|^(2|x4|) (real for negative x3).
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    return (xp.exp(xp.abs(x1 - x2)) + xp.abs(x2 * x3) - xp.power(xp.abs(x3), 2 * xp.abs(x4))
            + xp.log(x4**2 + x5**2 + x7**2 + x8**2) + x9 + 1 / (1 + x10**2))


def _f3(X: Any, xp: Any = np) -> Any:
    return _f3_terms(X, xp)


def _f4(X: Any, xp: Any = np) -> Any:
    return _f3_terms(X, xp) + (X[:, 0] * X[:, 3]) ** 2


def _f5(X: Any, xp: Any = np) -> Any:
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    return (1 / (1 + x1**2 + x2**2 + x3**2) + xp.sqrt(xp.exp(x4 + x5)) + xp.abs(x6 + x7)
            + x8 * x9 * x10)


def _f6(X: Any, xp: Any = np) -> Any:
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    return (xp.exp(xp.abs(x1 * x2) + 1) - xp.exp(xp.abs(x3 + x4) + 1) + xp.cos(x5 + x6 - x8)
            + xp.sqrt(x8**2 + x9**2 + x10**2))


def _f7(X: Any, xp: Any = np) -> Any:
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    total = x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
    return ((xp.arctan(x1) + xp.arctan(x2)) ** 2 + xp.maximum(x3 * x4 + x6, 0.0)
            - 1 / (1 + (x4 * x5 * x6 * x7 * x8) ** 2) + (xp.abs(x7) / (1 + xp.abs(x9))) ** 5 + total)


def _f8(X: Any, xp: Any = np) -> Any:
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    ln2 = np.log(2.0)
    return (x1 * x2 + xp.exp(ln2 * (x3 + x5 + x6)) + xp.exp(ln2 * (x3 + x4 + x5 + x7))
            + xp.sin(x7 * xp.sin(x8 + x9)) + xp.arccos(0.9 * x10))


def _f9(X: Any, xp: Any = np) -> Any:
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    return (xp.tanh(x1 * x2 + x3 * x4) * xp.sqrt(xp.abs(x5)) + xp.exp(x5 + x6)
            + xp.log((x6 * x7 * x8) ** 2 + 1) + x9 * x10 + 1 / (1 + xp.abs(x10)))


def _f10(X: Any, xp: Any = np) -> Any:
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = _cols(X)
    return (xp.sinh(x1 + x2) + xp.arccos(xp.tanh(x3 + x5 + x7)) + xp.cos(x4 + x5)
            + 1 / xp.cos(x7 * x9))


TSANG_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "F1": _f1, "F2": _f2, "F3": _f3, "F4": _f4, "F5": _f5,
    "F6": _f6, "F7": _f7, "F8": _f8, "F9": _f9, "F10": _f10,
}

# Interaction groups (0-based) as the paper lists them; every pair inside a group interacts.
TSANG_GROUPS: dict[str, list[set[int]]] = {
    "F1": [{0, 1, 2}, {2, 4}, {6, 7, 8, 9}, {1, 6}],
    "F2": [{0, 1, 2}, {2, 4}, {6, 7, 8, 9}, {1, 6}],
    "F3": [{0, 1}, {1, 2}, {2, 3}, {3, 4, 6, 7}],
    "F4": [{0, 1}, {1, 2}, {2, 3}, {0, 3}, {3, 4, 6, 7}],
    "F5": [{0, 1, 2}, {3, 4}, {5, 6}, {7, 8, 9}],
    "F6": [{0, 1}, {2, 3}, {4, 5, 7}, {7, 8, 9}],
    "F7": [{0, 1}, {2, 3, 5}, {3, 4, 5, 6, 7}, {6, 8}],
    "F8": [{0, 1}, {2, 4, 5}, {2, 3, 4, 6}, {6, 7, 8}],
    "F9": [{0, 1, 2, 3, 4}, {4, 5}, {5, 6, 7}, {8, 9}],
    "F10": [{0, 1}, {2, 4, 6}, {3, 4}, {6, 8}],
}

# Inputs the formula uses at all (main effects included); the others are pure noise inputs.
TSANG_USED: dict[str, tuple[int, ...]] = {
    "F1": (0, 1, 2, 3, 4, 6, 7, 8, 9),
    "F2": (0, 1, 2, 3, 4, 6, 7, 8, 9),
    "F3": (0, 1, 2, 3, 4, 6, 7, 8, 9),
    "F4": (0, 1, 2, 3, 4, 6, 7, 8, 9),
    "F5": tuple(range(10)),
    "F6": (0, 1, 2, 3, 4, 5, 7, 8, 9),
    "F7": tuple(range(10)),
    "F8": tuple(range(10)),
    "F9": tuple(range(10)),
    "F10": (0, 1, 2, 3, 4, 6, 8),
}


def tsang_bounds(function: str) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the 10 uniform inputs: U(-1, 1) everywhere except F1 (U(0, 1), and
    U(0.6, 1) for x4, x5, x8, x10 in the paper's 1-based names)."""
    _check_function(function)
    if function == "F1":
        low = np.zeros(N_INPUTS)
        low[[3, 4, 7, 9]] = 0.6
        return low, np.ones(N_INPUTS)
    return -np.ones(N_INPUTS), np.ones(N_INPUTS)


def tsang_function(X: Any, function: str, xp: Any = np) -> Any:
    """Noiseless F1..F10 on the first 10 columns of X; `xp` is numpy or `keras.ops`."""
    _check_function(function)
    return TSANG_FUNCTIONS[function](X, xp=xp)


def tsang_pairs(function: str, d: int = N_INPUTS) -> np.ndarray:
    """The (d, d) 0/1 matrix of interacting pairs of F1..F10 (higher-order groups imply pairs)."""
    _check_function(function)
    return pair_matrix(TSANG_GROUPS[function], d)


def sample_uniform(low: np.ndarray, high: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n rows of independent U(low_j, high_j) inputs."""
    return low + (high - low) * rng.random((n, low.size))


def mc_total_indices(fn: Callable[[np.ndarray], np.ndarray], sampler: Callable[[int, np.random.Generator], np.ndarray],
                     n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Total Sobol indices of a numpy function of independent inputs by Monte Carlo: A, B from
    `sampler`, AB_j = A with column j from B, Jansen's estimator (`sobol_from_outputs`).
    Returns (total (d,), standard errors (d,)); an input fn ignores gets exactly 0."""
    rng = np.random.default_rng(seed)
    A, B = sampler(n, rng), sampler(n, rng)
    d = A.shape[1]
    AB = np.repeat(A[None], d, axis=0)
    AB[np.arange(d), :, np.arange(d)] = B.T
    res = sobol_from_outputs(fn(A), fn(B), fn(AB.reshape(-1, d)).reshape(d, n))
    return res["total"], res["total_se"]


@lru_cache(maxsize=None)
def tsang_total_indices(function: str) -> tuple[np.ndarray, np.ndarray]:
    """Total Sobol indices (and their Monte Carlo standard errors) of noiseless F1..F10 under the
    paper's input distribution: 2^16 base samples, fixed seed, cached per function."""
    low, high = tsang_bounds(function)
    total, se = mc_total_indices(lambda Z: tsang_function(Z, function),
                                 lambda n, rng: sample_uniform(low, high, n, rng),
                                 TRUTH_SAMPLES, TRUTH_SEED)
    unused = np.setdiff1d(np.arange(N_INPUTS), TSANG_USED[function])
    total[unused] = 0.0  # already exactly 0 (AB_j == A); made explicit
    return total, se


def tsang(
    function: str = "F1",
    n_samples: int = 6000,
    n_features: int = 10,
    noise: float = 0.0,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Tsang et al. (2018) synthetic function `function` (F1..F10) as a regression dataset:
    x as in the paper (see the module note; F1 has its own ranges), y = F(x) + noise * N(0, 1).
    Columns 10.. (n_features > 10) are extra U(-1, 1) noise inputs (U(0, 1) for F1).

    Truth: `interactions` = 0/1 interacting pairs (`tsang_pairs`); importance = total Sobol
    indices by Monte Carlo (`tsang_total_indices`, standard error <= ~0.01); relevant = inputs the
    formula uses. Regression only: a classification link (thresholding F) would create
    interactions between every pair of relevant inputs, so the pair truth would not hold.
    Noise defaults to 0 (noiseless targets, our reading of the paper's setup)."""
    check(function in TSANG_FUNCTIONS, "function", function, f"one of {tuple(TSANG_FUNCTIONS)}")
    check(isinstance(n_samples, int) and n_samples >= 20, "n_samples", n_samples, "an integer >= 20")
    check(isinstance(n_features, int) and n_features >= N_INPUTS, "n_features", n_features,
          f"an integer >= {N_INPUTS} (the functions use 10 inputs)")
    check(isinstance(noise, (int, float)) and noise >= 0, "noise", noise, "a number >= 0")
    check(isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1, "test_fraction",
          test_fraction, "a number in (0, 1)")
    low, high = tsang_bounds(function)
    extra = n_features - N_INPUTS
    low = np.concatenate([low, np.full(extra, 0.0 if function == "F1" else -1.0)])
    high = np.concatenate([high, np.ones(extra)])
    rng = np.random.default_rng(seed)
    X = sample_uniform(low, high, n_samples, rng)
    total, se = tsang_total_indices(function)
    imp = np.zeros(n_features)
    imp[:N_INPUTS] = total
    relevant = np.zeros(n_features, dtype=bool)
    relevant[list(TSANG_USED[function])] = True
    inter = np.zeros((n_features, n_features))
    inter[:N_INPUTS, :N_INPUTS] = tsang_pairs(function)
    truth = GroundTruth(
        importance=imp, relevant=relevant, interactions=inter,
        definition=f"total Sobol index of noiseless {function} by Monte Carlo (Jansen, N=2^16, "
                   f"max s.e. {float(se.max()):.4f}); interactions: 0/1 pairs of Tsang et al. (2018) "
                   f"(higher-order groups imply all their pairs)",
    )
    return make_dataset(f"tsang_{function.lower()}", X, tsang_function(X, function), truth, noise=noise,
                        task="regression", test_fraction=test_fraction, rng=rng)


def _check_function(function: str) -> None:
    if function not in TSANG_FUNCTIONS:
        raise ValueError(f"function={function!r} is invalid: expected one of {tuple(TSANG_FUNCTIONS)}")


__all__ = ["pair_matrix", "upper_pairs", "tsang", "tsang_function", "tsang_pairs", "tsang_bounds", "tsang_total_indices",
           "mc_total_indices", "sample_uniform", "TSANG_FUNCTIONS", "TSANG_GROUPS", "TSANG_USED"]
