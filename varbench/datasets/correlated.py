"""Linear targets on correlated features: decoys and redundant near-copies.

The truth in this module is "what the function uses": a feature matters by the size of its own
term in the data-generating function, |w_j| x sd(x_j). A feature that is merely correlated with a
relevant one (a decoy, a near-copy) gets 0 however strongly it predicts y marginally, so methods
that measure marginal association (or that share credit along the correlation) are penalised.

Shared helpers defined here (also used by varbench/datasets/scales.py): `spread_positions`,
`linear_truth`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from varbench.datasets._common import check, check_common, make_dataset
from varbench.datasets.base import Dataset, GroundTruth
from varbench.datasets.estimands import MAX_EXACT, linear_gaussian_estimands

STRUCTURES = ("toeplitz", "block")
MARGINALS = ("gaussian", "lognormal", "student_t")
T_DF = 3.0              # degrees of freedom of the student_t marginal (finite variance, heavy tails)


def copula_marginals(Z: np.ndarray, marginal: str) -> np.ndarray:
    """Standard-normal columns Z mapped through a Gaussian copula to mean-0, variance-1 columns
    with the named marginal: gaussian (Z itself), lognormal (exp(z), skewed) or student_t (T_DF
    degrees of freedom, heavy-tailed). The map is monotone per column: the rank correlations of Z
    are kept, the linear ones shrink a little.

    Examples
    --------
    >>> x = copula_marginals(np.random.default_rng(0).standard_normal((200_000, 1)), "lognormal")
    >>> round(float(x.mean()), 1), round(float(x.std()), 1)
    (0.0, 1.0)
    """
    if marginal == "gaussian":
        return Z
    if marginal == "lognormal":
        e = np.e
        return (np.exp(Z) - np.sqrt(e)) / np.sqrt((e - 1) * e)
    if marginal == "student_t":
        return stats.t.ppf(stats.norm.cdf(Z), T_DF) / np.sqrt(T_DF / (T_DF - 2))
    raise ValueError(f"marginal={marginal!r} is invalid: expected one of {MARGINALS}")


def spread_positions(n_features: int, n_relevant: int) -> np.ndarray:
    """Indices of n_relevant features spread evenly over n_features columns: (i * d) // k.

    With n_features >= 2 * n_relevant every relevant column is followed by an irrelevant one,
    so under a Toeplitz or block covariance each relevant feature has a correlated decoy.
    """
    return (np.arange(n_relevant) * n_features) // n_relevant


def default_coefficients(n_features: int, n_relevant: int, positions: np.ndarray) -> np.ndarray:
    """n_relevant coefficients spaced evenly from 2.0 down to 0.5 at `positions`, zeros elsewhere."""
    w = np.zeros(n_features)
    w[positions] = np.linspace(2.0, 0.5, n_relevant)
    return w


def resolve_coefficients(coefficients: Sequence[float] | None, n_relevant: int, n_features: int,
                         leading: bool = False) -> np.ndarray:
    """Validated coefficient vector: the given one (length n_features, not all zero), or the
    default 2.0 .. 0.5 ramp on the first n_relevant features (leading) or spread positions."""
    if coefficients is None:
        check(isinstance(n_relevant, int) and 1 <= n_relevant <= n_features, "n_relevant", n_relevant,
              f"an integer in [1, n_features={n_features}]")
        pos = np.arange(n_relevant) if leading else spread_positions(n_features, n_relevant)
        return default_coefficients(n_features, n_relevant, pos)
    w = np.asarray(list(coefficients), dtype=float)
    check(w.shape == (n_features,) and bool(np.all(np.isfinite(w))), "coefficients", list(coefficients),
          f"{n_features} finite numbers")
    check(bool(np.any(w != 0)), "coefficients", list(coefficients), "at least one non-zero value")
    return w


def linear_truth(w: np.ndarray, sd: np.ndarray, mean: np.ndarray, definition: str,
                 cov: np.ndarray | None = None, design: np.ndarray | None = None,
                 gaussian: bool = True) -> GroundTruth:
    """Truth of f = X w: importance |w_j| sd(x_j), relevant w_j != 0, no interactions, and local
    phi_j(x) = w_j (x_j - E x_j), the exact interventional (marginal-background) Shapley value
    of a linear function whatever the feature dependence. With the Gaussian inputs' covariance
    `cov`: the exact estimand truths (`linear_gaussian_estimands`) and the decoy pairs
    (`decoy_pairs` of `design`, the correlation pattern of the design; default cov). With
    gaussian=False (inputs not jointly Gaussian) the decoys are kept and no estimand is claimed."""
    d = w.size
    extra = {}
    if cov is not None:
        extra["decoys"] = decoy_pairs(w != 0, cov if design is None else design)
        if d <= MAX_EXACT and gaussian:
            extra["estimands"] = linear_gaussian_estimands(w, cov)
    return GroundTruth(
        importance=np.abs(w) * sd, relevant=w != 0, definition=definition,
        local=lambda Z: (np.asarray(Z, float) - mean) * w,
        interactions=np.zeros((d, d)), **extra,
    )


def decoy_pairs(relevant: np.ndarray, cov: np.ndarray) -> tuple[tuple[int, int], ...]:
    """(decoy, twin) for every irrelevant variable that `cov` (a covariance or correlation pattern)
    ties to a relevant one: the relevant variable it is most correlated with (first on ties)."""
    rel = np.asarray(relevant, bool)
    sd = np.sqrt(np.diag(cov))
    corr = np.abs(cov / np.outer(sd, sd))
    pairs = []
    for j in np.flatnonzero(~rel):
        cand = np.flatnonzero(rel)
        best = cand[np.argmax(corr[j, cand])]
        if corr[j, best] > 1e-12:
            pairs.append((int(j), int(best)))
    return tuple(pairs)


def correlation_matrix(n_features: int, rho: float, structure: str, block_size: int) -> np.ndarray:
    """Toeplitz rho^|i-j|, or equicorrelated blocks of `block_size` consecutive features
    (correlation rho within a block, 0 across blocks; the last block may be shorter)."""
    idx = np.arange(n_features)
    if structure == "toeplitz":
        return rho ** np.abs(idx[:, None] - idx[None, :]).astype(float)
    same = (idx[:, None] // block_size) == (idx[None, :] // block_size)
    C = np.where(same, rho, 0.0)
    np.fill_diagonal(C, 1.0)
    return C


def correlated_linear(
    n_samples: int = 2000,
    n_features: int = 10,
    n_relevant: int = 4,
    coefficients: Sequence[float] | None = None,
    rho: float = 0.8,
    structure: str = "toeplitz",
    block_size: int = 2,
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    marginal: str = "gaussian",
    seed: int = 0,
) -> Dataset:
    """y = X w + noise with X ~ N(0, C), C a correlation matrix (all sd(x_j) = 1), or, with
    `marginal` lognormal (skewed) or student_t (heavy-tailed), X = the Gaussian draw mapped column
    by column to that marginal (`copula_marginals`: mean 0, sd 1, same rank correlations; a
    non-Gaussian correlated design on which Gaussian knockoffs and samplers are misspecified):
    "toeplitz" C_ij = rho^|i-j|, or "block": equicorrelated blocks of `block_size` consecutive
    features (rho within a block, 0 across).

    Default coefficients: n_relevant values from 2.0 down to 0.5 placed at spread positions
    (i * d) // k, so each relevant feature has irrelevant neighbours that are correlated with it
    (decoys): they predict y marginally but the function never reads them.

    Truth ("what the function uses"): relevant = nonzero coefficients; importance_j =
    |w_j| * sd(x_j) = |w_j|; correlated decoys get 0. Decoy pairs: each irrelevant feature with
    the relevant one the structure correlates it with most (the same pairs at every rho, 0
    included, so decoy_share is comparable along a rho sweep). Estimand truths: exact, see
    `varbench.datasets.estimands`. Local truth: phi_j(x) = w_j x_j, the
    interventional Shapley value (observational/conditional Shapley would instead share credit
    with the decoys). No interactions (`interactions` is the zero matrix).
    rho must lie in (-1, 1) and give a positive-definite C (block: rho > -1/(block_size - 1)).
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    check(structure in STRUCTURES, "structure", structure, f"one of {STRUCTURES}")
    check(isinstance(rho, (int, float)) and -1 < rho < 1, "rho", rho, "a number in (-1, 1)")
    check(isinstance(block_size, int) and block_size >= 2, "block_size", block_size, "an integer >= 2")
    check(marginal in MARGINALS, "marginal", marginal, f"one of {MARGINALS}")
    w = resolve_coefficients(coefficients, n_relevant, n_features)
    C = correlation_matrix(n_features, float(rho), structure, block_size)
    try:
        L = np.linalg.cholesky(C)
    except np.linalg.LinAlgError:
        L = None
    check(L is not None, "rho", rho,
          f"a value giving a positive-definite {structure} correlation matrix"
          + (f" (rho > -1/(block_size - 1) = {-1 / (block_size - 1):.4g})" if structure == "block" else ""))
    rng = np.random.default_rng(seed)
    X = copula_marginals(rng.standard_normal((n_samples, n_features)) @ L.T, marginal)
    f = X @ w
    shape = "" if marginal == "gaussian" else f"; {marginal} marginals through a Gaussian copula"
    truth = linear_truth(w, np.ones(n_features), np.zeros(n_features),
                         definition=f"|coefficient| x sd(feature) (what the function uses; correlated "
                                    f"decoys get 0; {structure} rho={rho}{shape}); local: w_j x_j (interventional)",
                         cov=C, design=correlation_matrix(n_features, 0.5, structure, block_size),
                         gaussian=marginal == "gaussian")
    return make_dataset(f"correlated_{structure}", X, f, truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng)


def redundant(
    n_samples: int = 2000,
    n_features: int = 8,
    n_relevant: int = 3,
    n_copies: int = 1,
    copy_noise: float = 0.1,
    coefficients: Sequence[float] | None = None,
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Relevant features plus near-copies that carry no signal of their own.

    Column layout: for each of the n_relevant sources s_i ~ N(0, 1), the source then its
    n_copies near-copies s_i + copy_noise * N(0, 1); the remaining columns are independent N(0, 1)
    noise features. y = sum_i w_i s_i + noise, with w = `coefficients` (one per source, default
    2.0 .. 0.5).

    Truth ("what the function uses"): relevant = the sources; importance = |w_i| * sd(s_i) =
    |w_i|; every copy and noise feature gets 0, although a copy predicts y almost as well as its
    source (corr = 1 / sqrt(1 + copy_noise^2)). Local truth phi_i(x) = w_i s_i (interventional
    Shapley); no interactions.
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    check(isinstance(n_relevant, int) and n_relevant >= 1, "n_relevant", n_relevant, "an integer >= 1")
    check(isinstance(n_copies, int) and n_copies >= 1, "n_copies", n_copies, "an integer >= 1")
    check(isinstance(copy_noise, (int, float)) and copy_noise > 0, "copy_noise", copy_noise, "a number > 0")
    width = n_relevant * (1 + n_copies)
    check(n_features >= width, "n_features", n_features,
          f"an integer >= n_relevant x (1 + n_copies) = {width}")
    if coefficients is None:
        w_src = np.linspace(2.0, 0.5, n_relevant)
    else:
        w_src = np.asarray(list(coefficients), dtype=float)
        check(w_src.shape == (n_relevant,) and bool(np.all(np.isfinite(w_src) & (w_src != 0))),
              "coefficients", list(coefficients), f"{n_relevant} finite non-zero numbers (one per source)")
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((n_samples, n_relevant))
    src_cols = np.arange(n_relevant) * (1 + n_copies)
    X = rng.standard_normal((n_samples, n_features))
    names = [f"noise{j - width}" for j in range(n_features)]
    for i, c in enumerate(src_cols):
        X[:, c] = S[:, i]
        names[c] = f"x{i}"
        X[:, c + 1:c + 1 + n_copies] = S[:, [i]] + copy_noise * X[:, c + 1:c + 1 + n_copies]
        for k in range(n_copies):
            names[c + 1 + k] = f"x{i}_copy{k + 1}"
    w = np.zeros(n_features)
    w[src_cols] = w_src
    sd = np.ones(n_features)
    cov = np.eye(n_features)  # sources N(0, 1); a copy s + copy_noise e has var 1 + copy_noise^2
    for c in src_cols:
        block = np.arange(c, c + 1 + n_copies)
        cov[np.ix_(block, block)] = 1.0
        cov[block[1:], block[1:]] = 1.0 + copy_noise ** 2
    truth = linear_truth(w, sd, np.zeros(n_features), cov=cov,
                         definition=f"|coefficient| x sd(feature) (what the function uses; near-copies "
                                    f"with copy_noise={copy_noise} get 0); local: w_j x_j (interventional)")
    return make_dataset("redundant", X, X @ w, truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng, feature_names=names)


__all__ = ["correlated_linear", "redundant", "spread_positions", "linear_truth", "correlation_matrix"]
