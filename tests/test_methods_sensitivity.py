"""Oracle tests for the Sobol indices of the model (varbench.methods.sensitivity): closed forms
for a linear model, the analytic Ishigami indices, and SALib's estimators when installed."""
from __future__ import annotations

import numpy as np
import pytest

from exact import dataset, function_net, linear_net
from varbench.methods.sensitivity import (saltelli_matrices, sobol_from_outputs, sobol_indices,
                                          sobol_total)

# Ishigami (a = 7, b = 0.1), inputs U(-pi, pi): analytic first-order and total indices
ISHIGAMI_S = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def _ishigami(x):
    import keras

    s0 = keras.ops.sin(x[:, 0])
    return s0 + 7.0 * keras.ops.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * s0


def _uniform_grid_data(n: int, d: int, seed: int = 0):
    """Columns are independent shuffles of the n midpoints of (-pi, pi): empirical marginals
    that are uniform up to quadrature error."""
    rng = np.random.default_rng(seed)
    grid = (np.arange(n) + 0.5) / n * 2 * np.pi - np.pi
    X = np.stack([rng.permutation(grid) for _ in range(d)], axis=1).astype(np.float32)
    return dataset(X, X[:, 0] + X[:, 1])


def test_ishigami_indices_match_analytic_values():
    data = _uniform_grid_data(4096, 3)
    att = sobol_total(function_net(_ishigami, 3), data, np.random.default_rng(0), n_samples=2**15)
    # seeds 0-7 give max errors 0.006-0.021 at this N (standard error of a total index ~0.008)
    np.testing.assert_allclose(att.importance, ISHIGAMI_ST, atol=0.03)
    first = np.array([att.extras[f"first_order_{j}"] for j in range(3)])
    np.testing.assert_allclose(first, ISHIGAMI_S, atol=0.03)
    assert att.extras["max_stderr_total"] < 0.01
    assert att.aggregation == "global"


def test_linear_model_first_equals_total_equals_variance_share():
    w = np.array([2.0, -1.0, 0.5, 0.0])
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((2000, 4)) * [1.0, 1.5, 2.0, 1.0]).astype(np.float32)
    data = dataset(X, X @ w)
    att = sobol_total(linear_net(w, b=3.0), data, np.random.default_rng(2), n_samples=2**14)
    v = w**2 * X.var(axis=0)
    np.testing.assert_allclose(att.importance, v / v.sum(), atol=0.02)
    first = np.array([att.extras[f"first_order_{j}"] for j in range(4)])
    np.testing.assert_allclose(first, v / v.sum(), atol=0.02)
    assert att.importance[3] == 0.0  # the column never changes the output
    np.testing.assert_allclose(att.extras["output_variance"], v.sum(), rtol=0.05)


def test_saltelli_design_and_independent_resampling():
    X = np.arange(40, dtype=np.float32).reshape(10, 4) * [1, 100, 10_000, 1e6]
    Z = saltelli_matrices(X, 50, np.random.default_rng(0))
    N, d = 50, 4
    assert Z.shape == ((d + 2) * N, d)
    A, B, AB = Z[:N], Z[N:2 * N], Z[2 * N:].reshape(d, N, d)
    for i in range(d):
        np.testing.assert_array_equal(AB[i][:, i], B[:, i])
        others = [j for j in range(d) if j != i]
        np.testing.assert_array_equal(AB[i][:, others], A[:, others])
    for j in range(d):  # every value comes from its own column of X
        assert np.isin(A[:, j], X[:, j]).all() and np.isin(B[:, j], X[:, j]).all()
    # columns are resampled independently: rows of A are (almost all) not rows of X
    assert np.mean([any((row == X).all(axis=1)) for row in A]) < 0.2


def test_constant_model_gives_zero_indices():
    X = np.random.default_rng(0).standard_normal((50, 3)).astype(np.float32)
    att = sobol_total(linear_net([0.0, 0.0, 0.0], b=1.0), dataset(X, X[:, 0]), np.random.default_rng(0),
                      n_samples=64)
    np.testing.assert_array_equal(att.importance, 0.0)


def test_same_seed_same_output():
    data = _uniform_grid_data(256, 3)
    model = function_net(_ishigami, 3)
    a = sobol_total(model, data, np.random.default_rng(5), n_samples=256)
    b = sobol_total(model, data, np.random.default_rng(5), n_samples=256)
    c = sobol_total(model, data, np.random.default_rng(6), n_samples=256)
    np.testing.assert_array_equal(a.importance, b.importance)
    assert a.extras == b.extras
    assert not np.array_equal(a.importance, c.importance)


@pytest.mark.parametrize("n_samples", [0, 1, 2.5, True])
def test_invalid_n_samples(n_samples):
    data = _uniform_grid_data(32, 2)
    with pytest.raises(ValueError, match=f"n_samples={n_samples!r}"):
        sobol_total(linear_net([1.0, 1.0]), data, np.random.default_rng(0), n_samples=n_samples)


def test_estimators_agree_with_salib():
    pytest.importorskip("SALib")
    from SALib.analyze import sobol as salib_sobol

    data = _uniform_grid_data(1024, 3)
    model = function_net(_ishigami, 3)
    N, d = 1024, 3
    f = model.predict(saltelli_matrices(data.X_train, N, np.random.default_rng(3))).astype(np.float64)
    fA, fB, fAB = f[:N], f[N:2 * N], f[2 * N:].reshape(d, N)
    ours = sobol_from_outputs(fA, fB, fAB)
    # SALib's layout: per sample, A, AB_0, ..., AB_{d-1}, B
    Y = np.concatenate([fA[:, None], fAB.T, fB[:, None]], axis=1).ravel()
    problem = {"num_vars": d, "names": ["x0", "x1", "x2"], "bounds": [[-np.pi, np.pi]] * d}
    ref = salib_sobol.analyze(problem, Y, calc_second_order=False, num_resamples=10, seed=0)
    np.testing.assert_allclose(ours["total"], ref["ST"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours["first"], ref["S1"], rtol=1e-9, atol=1e-12)
    # and through the method: same rng -> same matrices -> same indices
    res = sobol_indices(model, data.X_train, N, np.random.default_rng(3))
    np.testing.assert_allclose(res["total"], ref["ST"], rtol=1e-9, atol=1e-12)
