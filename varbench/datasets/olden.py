"""The simulated data of Olden, Joy & Death (2004), as far as its design could be reconstructed.

Olden et al. drew Monte Carlo data sets "exhibiting defined (and consequently known) numeric
relationships": a response and five predictors with a prescribed correlation structure, the true
importance of a predictor being the strength of its correlation with the response. The body of
the paper (its correlation matrix, sample size and number of replicates) was not available to us;
experiments/olden2004/README.md says what was verified and which values are our choice.

Our generator: (y, x_1, ..., x_d) jointly Gaussian, zero mean, unit variances, with
corr(y, x_j) = r_j and corr(x_j, x_k) = c for j != k. Defaults r = (0.6, 0.45, 0.3, 0.15, 0.0)
(equal steps down to an irrelevant fifth predictor) and c = 0 (independent predictors), so the
population R^2 is sum r_j^2 = 0.675 and every reading of "importance" (correlation, standardised
coefficient, share of explained variance) gives the same ranking.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from varbench.datasets._common import check, make_dataset
from varbench.datasets.base import Dataset, GroundTruth, TASKS

OLDEN2004_CORRELATIONS = (0.6, 0.45, 0.3, 0.15, 0.0)


def correlation_matrix(response_correlations: Sequence[float], predictor_correlation: float = 0.0) -> np.ndarray:
    """The (d + 1) x (d + 1) correlation matrix of (y, x_1..x_d): first row/column the response
    correlations r, predictors equicorrelated at c. Raises ValueError if it is not positive
    definite (no Gaussian vector has it)."""
    r = np.asarray(list(response_correlations), dtype=float)
    check(r.ndim == 1 and r.size >= 2 and bool(np.all(np.abs(r) < 1)), "response_correlations",
          list(response_correlations), "at least 2 numbers in (-1, 1)")
    check(isinstance(predictor_correlation, (int, float)) and -1 < predictor_correlation < 1,
          "predictor_correlation", predictor_correlation, "a number in (-1, 1)")
    d = r.size
    C = np.full((d + 1, d + 1), float(predictor_correlation))
    C[0, 1:] = C[1:, 0] = r
    np.fill_diagonal(C, 1.0)
    eig = float(np.linalg.eigvalsh(C).min())
    check(eig > 1e-9, "response_correlations", list(response_correlations),
          f"values that, with predictor_correlation={predictor_correlation}, give a positive definite "
          f"correlation matrix (smallest eigenvalue {eig:.3g}; with independent predictors sum r_j^2 must be < 1)")
    return C


def regression_coefficients(response_correlations: Sequence[float], predictor_correlation: float = 0.0) -> np.ndarray:
    """Population coefficients b of E[y | x] = x.b (all variables standardised): b = R^-1 r with R
    the predictors' correlation matrix. Equal to r when the predictors are independent."""
    C = correlation_matrix(response_correlations, predictor_correlation)
    return np.linalg.solve(C[1:, 1:], C[1:, 0])


def olden2004(
    n_samples: int = 100,
    response_correlations: Sequence[float] = OLDEN2004_CORRELATIONS,
    predictor_correlation: float = 0.0,
    task: str = "regression",
    test_fraction: float = 0.5,
    seed: int = 0,
) -> Dataset:
    """Olden et al. (2004)-style Monte Carlo data: n_samples rows of (y, x) ~ N(0, C) with C =
    `correlation_matrix(response_correlations, predictor_correlation)`, split into train and
    test (test_fraction). Classification: y := 1[y > median(y)].

    Truth (the paper's definition): importance_j = |r_j|, the absolute population correlation of
    x_j with the response; relevant = r_j != 0. With correlated predictors (c != 0) this can differ
    from the regression coefficients b = R^-1 r that a fitted model reads (a predictor with r_j = 0
    then gets b_j != 0); see `regression_coefficients`. Local truth: b_j x_j, the exact
    interventional Shapley values of the regression function E[y | x] = x.b (E x = 0).
    """
    check(isinstance(n_samples, int) and not isinstance(n_samples, bool) and n_samples >= 20, "n_samples",
          n_samples, "an integer >= 20")
    check(task in TASKS, "task", task, f"one of {TASKS}")
    check(isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1, "test_fraction", test_fraction,
          "a number in (0, 1)")
    C = correlation_matrix(response_correlations, predictor_correlation)
    r = C[1:, 0]
    b = np.linalg.solve(C[1:, 1:], r)
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_samples, C.shape[0])) @ np.linalg.cholesky(C).T
    truth = GroundTruth(
        importance=np.abs(r), relevant=r != 0,
        definition="|population correlation of x_j with the response| (Olden et al. 2004); local: b_j x_j",
        local=lambda X: np.asarray(X, float) * b,
    )
    return make_dataset("olden2004", Z[:, 1:], Z[:, 0], truth, noise=0.0, task=task,
                        test_fraction=test_fraction, rng=rng)


__all__ = ["olden2004", "correlation_matrix", "regression_coefficients", "OLDEN2004_CORRELATIONS"]
