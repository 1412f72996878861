"""Oracle tests of the closed-form estimand truths of linear-Gaussian data."""
from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import pytest

from varbench.datasets.correlated import correlated_linear, redundant
from varbench.datasets.estimands import conditional_shapley_matrix, linear_gaussian_estimands


def _equicorrelated(d: int, rho: float) -> np.ndarray:
    C = np.full((d, d), rho)
    np.fill_diagonal(C, 1.0)
    return C


def _shapley_by_permutations(v, d: int) -> np.ndarray:
    """Shapley values of a game v(frozenset) as the mean marginal contribution over all d! orders."""
    phi = np.zeros(d)
    for order in permutations(range(d)):
        s: frozenset = frozenset()
        for j in order:
            phi[j] += v(s | {j}) - v(s)
            s = s | {j}
    return phi / math.factorial(d)


def _cond_mean_coef(w, C, S):
    """Coefficients b with E[w.X | X_S = x_S] = b . x (zero mean), by regression of w.X on X_S."""
    b = np.zeros(len(w))
    if S:
        s = sorted(S)
        b[s] = np.linalg.solve(C[np.ix_(s, s)], C[s] @ w)
    return b


W = np.array([4.0, 3.0, 2.0, 1.0])
C = _equicorrelated(4, 0.5)
C[0, 3] = C[3, 0] = 0.2


def test_conditional_shapley_matches_permutation_enumeration():
    # local game at x: v_x(S) = E[f | X_S = x_S] = b_S . x; check phi(x) = A x at random x
    A = conditional_shapley_matrix(W, C)
    rng = np.random.default_rng(0)
    for x in rng.standard_normal((3, 4)):
        phi = _shapley_by_permutations(lambda S: _cond_mean_coef(W, C, S) @ x, 4)
        np.testing.assert_allclose(A @ x, phi, atol=1e-10)
        assert phi.sum() == pytest.approx(W @ x)  # efficiency


def test_global_truths_against_references():
    e = linear_gaussian_estimands(W, C)
    np.testing.assert_allclose(e["marginal"], W ** 2)
    # conditional: Var(x_j | x_-j) by the Schur complement
    for j in range(4):
        r = [k for k in range(4) if k != j]
        var = C[j, j] - C[j, r] @ np.linalg.solve(C[np.ix_(r, r)], C[r, j])
        assert e["conditional"][j] == pytest.approx(W[j] ** 2 * var)
    # SAGE population value: Shapley of v(S) = Var f - Var(w_~S . x_~S), by enumeration
    def v(S):
        rest = [k for k in range(4) if k not in S]
        return W @ C @ W - (W[rest] @ C[np.ix_(rest, rest)] @ W[rest] if rest else 0.0)
    np.testing.assert_allclose(e["marginal_loss_shapley"], _shapley_by_permutations(v, 4), atol=1e-10)
    assert e["marginal_loss_shapley"].sum() == pytest.approx(W @ C @ W)
    # conditional Shapley variance, Monte Carlo over Gaussian rows
    rng = np.random.default_rng(1)
    X = rng.multivariate_normal(np.zeros(4), C, size=200_000)
    phi = X @ conditional_shapley_matrix(W, C).T
    np.testing.assert_allclose(e["conditional_shapley"], phi.var(axis=0), rtol=0.02)


def test_conditional_permutation_loss_by_simulation():
    # half the MSE increase of redrawing x_j from p(x_j | x_-j) is the conditional truth
    e = linear_gaussian_estimands(W, C)
    rng = np.random.default_rng(2)
    X = rng.multivariate_normal(np.zeros(4), C, size=200_000)
    P = np.linalg.inv(C)
    for j in range(4):
        mean = -(X @ P[j] - P[j, j] * X[:, j]) / P[j, j]
        Xj = mean + rng.standard_normal(len(X)) / np.sqrt(P[j, j])
        assert 0.5 * np.mean((W[j] * (X[:, j] - Xj)) ** 2) == pytest.approx(e["conditional"][j], rel=0.02)


def test_independent_inputs_make_every_estimand_equal():
    e = linear_gaussian_estimands(W, np.eye(4))
    for v in e.values():
        np.testing.assert_allclose(v, W ** 2, atol=1e-12)


def test_datasets_declare_truths_and_decoys():
    d = correlated_linear(n_samples=100, n_features=8, coefficients=[4, 0, 3, 0, 2, 0, 1, 0], rho=0.9,
                          structure="block", block_size=2)
    assert d.truth.decoys == ((1, 0), (3, 2), (5, 4), (7, 6))
    assert set(d.truth.estimands) >= {"marginal", "conditional", "conditional_shapley"}
    # decoys get conditional-Shapley credit but no marginal or conditional-permutation credit
    assert np.all(d.truth.estimands["conditional_shapley"][[1, 3, 5, 7]] > 0)
    assert np.all(d.truth.estimands["marginal"][[1, 3, 5, 7]] == 0)
    r = redundant(n_samples=100)
    assert r.truth.decoys == ((1, 0), (3, 2), (5, 4))
    np.testing.assert_allclose(r.truth.estimands["conditional"][0], 4.0 * 0.01 / 1.01)
