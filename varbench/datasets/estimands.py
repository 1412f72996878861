"""Exact estimand truths of a linear function of Gaussian inputs, f(x) = w.x, x ~ N(mu, Sigma).

What a method estimates differs (see `varbench.registry.ESTIMANDS`); where the process allows it,
the dataset states each estimand's exact value per variable, on the variance (loss) scale, in
`GroundTruth.estimands`:

- marginal: w_j^2 Sigma_jj. Half the MSE increase of permuting x_j (marginal permutation), the
  variance of the interventional Shapley value phi_j = w_j (x_j - mu_j), and proportional to the
  total Sobol index under independent marginals and to the loss increase of additive input noise.
- conditional: w_j^2 Var(x_j | x_-j) = w_j^2 / (Sigma^-1)_jj. Half the MSE increase of
  conditional permutation (x_j redrawn from p(x_j | x_-j)).
- retrained: the same value, the MSE increase of the best predictor without x_j,
  E[(f - E[f | x_-j])^2] (drop-column's population value; LOCO's median |error| increase
  orders variables the same way only approximately).
- marginal_loss_shapley: w_j (Sigma w)_j, the Shapley value of the explained variance with
  marginal imputation, v(S) = Var f - Var(w_~S . x_~S) (SAGE's population value for a model equal
  to f under squared loss).
- conditional_shapley: Var of the conditional (observational) Shapley value phi_j(x), the game
  v_x(S) = E[f(X) | X_S = x_S], as XAI-Bench defines its ground truth (Liu et al. 2021,
  github.com/abacusai/xai-bench, custom_explainers/ground_truth_shap.py, which estimates it by
  conditional sampling and kernel regression over all coalitions). Here it is exact: for a linear
  f and Gaussian X, v_x(S) = c_S . (x - mu) with c_S = w_S + Sigma_SS^-1 Sigma_S~S w_~S on S and 0
  elsewhere, so phi(x) = A (x - mu) and Var phi_j = A_j Sigma A_j^T (2^d coalitions).
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np

LINEAR_GAUSSIAN_ESTIMANDS = ("marginal", "conditional", "retrained", "marginal_loss_shapley",
                             "conditional_shapley")
MAX_EXACT = 14  # conditional Shapley enumerates 2^d coalitions


def _coalition_vector(w: np.ndarray, sigma: np.ndarray, S: tuple[int, ...]) -> np.ndarray:
    """c_S with E[w.X | X_S = x_S] - w.mu = c_S . (x - mu)."""
    d = w.size
    c = np.zeros(d)
    if not S:
        return c
    s = np.array(S)
    rest = np.setdiff1d(np.arange(d), s)
    c[s] = w[s]
    if rest.size:
        c[s] += np.linalg.solve(sigma[np.ix_(s, s)], sigma[np.ix_(s, rest)] @ w[rest])
    return c


def conditional_shapley_matrix(w: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """A (d, d) with phi(x) = A (x - mu): the exact conditional Shapley values of f = w.x."""
    w, sigma = np.asarray(w, float), np.asarray(sigma, float)
    d = w.size
    if d > MAX_EXACT:
        raise ValueError(f"n_features={d} is too many for exact conditional Shapley (2^d coalitions): "
                         f"expected <= {MAX_EXACT}")
    vec = {S: _coalition_vector(w, sigma, S) for k in range(d + 1) for S in combinations(range(d), k)}
    A = np.zeros((d, d))
    for j in range(d):
        others = [i for i in range(d) if i != j]
        for k in range(d):
            weight = math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d)
            for S in combinations(others, k):
                A[j] += weight * (vec[tuple(sorted(S + (j,)))] - vec[S])
    return A


def linear_gaussian_estimands(w: np.ndarray, sigma: np.ndarray) -> dict[str, np.ndarray]:
    """{estimand: exact value per variable (variance scale)} for f = w.x, x ~ N(., sigma)."""
    w, sigma = np.asarray(w, float), np.asarray(sigma, float)
    cond = w ** 2 / np.diag(np.linalg.inv(sigma))
    A = conditional_shapley_matrix(w, sigma)
    return {"marginal": w ** 2 * np.diag(sigma), "conditional": cond, "retrained": cond.copy(),
            "marginal_loss_shapley": w * (sigma @ w),
            "conditional_shapley": np.einsum("jk,kl,jl->j", A, sigma, A)}


__all__ = ["linear_gaussian_estimands", "conditional_shapley_matrix", "LINEAR_GAUSSIAN_ESTIMANDS"]
