"""Oracle tests for the interaction methods: closed forms on f = x0 x1 + x2 (function_net), zero
on an additive model, NID against the paper's formula computed by hand on a hand-made network,
the SoftPlus-smoothed Hessian against its closed form, the Shapley interaction index against
its definition, second-order Sobol indices against Ishigami's S13 and against SALib."""
from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pytest

from exact import dataset, function_net, linear_net, mlp_net
from varbench.datasets.base import Dataset, GroundTruth
from varbench.datasets.sensitivity import ishigami_function, ishigami_indices
from varbench.datasets.interactions import pair_matrix, upper_pairs
from varbench.methods.interactions import (exact_shapley_interactions, expected_hessian, h_statistic, nid,
                                           oracle_interactions, random_interactions, shapley_interactions,
                                           sobol_second_from_outputs, sobol_second_order)
from varbench.scoring.interactions import score_interactions

ONLY_01 = pair_matrix([{0, 1}], 4)


def _product_model():
    return function_net(lambda x: x[:, 0] * x[:, 1] + x[:, 2], 4)


def _additive_model():
    import keras

    return function_net(lambda x: keras.ops.sin(2 * x[:, 0]) + x[:, 1] ** 2 + 0.5 * x[:, 2], 4)


def _uniform_data(n_train=300, n_test=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    Xtr = rng.uniform(-1, 1, (n_train, d)).astype(np.float32)
    Xte = rng.uniform(-1, 1, (n_test, d)).astype(np.float32)
    return dataset(Xtr, Xtr[:, 0] * Xtr[:, 1] + Xtr[:, 2], Xte, Xte[:, 0] * Xte[:, 1] + Xte[:, 2])


def _upper(M):
    iu, ju = upper_pairs(M.shape[0])
    return M[iu, ju]


def _finds_only_01(M):
    s = score_interactions(M, ONLY_01)
    assert s.metrics["pair_auroc"] == 1.0 and s.metrics["r_precision"] == 1.0
    others = _upper(M)[1:]
    assert M[0, 1] > 0 and np.all(np.abs(others) <= 1e-6 * M[0, 1] + 1e-7), M


def test_h_statistic_closed_form_on_product():
    data = _uniform_data()
    model = _product_model()
    out = h_statistic(model, data, np.random.default_rng(0), n_rows=None)
    X = data.X_test.astype(np.float64)
    n = X.shape[0]
    x0, x1 = X[:, 0] - X[:, 0].mean(), X[:, 1] - X[:, 1].mean()
    joint = X[:, 0] * X[:, 1] - np.mean(X[:, 0] * X[:, 1])  # PD_01 (the x2 part is constant)
    resid = joint - X[:, 1].mean() * x0 - X[:, 0].mean() * x1  # minus PD_0 and PD_1
    assert out.matrix[0, 1] == pytest.approx(np.sum(resid**2) / np.sum(joint**2), rel=1e-4)
    _finds_only_01(out.matrix)
    assert model.n_evals == (4 + 6) * n * n
    raw = h_statistic(model, data, np.random.default_rng(0), n_rows=None, normalize=False)
    assert raw.matrix[0, 1] == pytest.approx(np.sqrt(np.mean(resid**2)), rel=1e-4)


def test_shapley_interaction_closed_form_on_product():
    data = _uniform_data()
    model = _product_model()
    out = shapley_interactions(model, data, np.random.default_rng(0), n_rows=None, background_size=None)
    X, B = data.X_test.astype(np.float64), data.X_train.astype(np.float64)
    # Delta_01(S) does not depend on S (x2, x3 only shift v): x0 x1 - x0 m1 - m0 x1 + mean(b0 b1)
    local = (X[:, 0] * X[:, 1] - X[:, 0] * B[:, 1].mean() - B[:, 0].mean() * X[:, 1]
             + np.mean(B[:, 0] * B[:, 1]))
    assert out.matrix[0, 1] == pytest.approx(np.mean(np.abs(local)), rel=1e-4)
    assert out.extras["exact"] == 1.0
    _finds_only_01(out.matrix)


def test_sampled_shapley_interaction_is_unbiased():
    data = _uniform_data(n_test=30)
    X, B = data.X_test.astype(np.float64), data.X_train.astype(np.float64)
    local = (X[:, 0] * X[:, 1] - X[:, 0] * B[:, 1].mean() - B[:, 0].mean() * X[:, 1]
             + np.mean(B[:, 0] * B[:, 1]))
    out = shapley_interactions(_product_model(), data, np.random.default_rng(1), n_rows=None,
                               background_size=None, max_exact_features=3, n_samples=400)
    assert out.extras["exact"] == 0.0 and out.extras["max_stderr"] < 0.05
    # seeds 0-9 give errors within 0.009 of the exact mean |I| (per-row s.e. <= 0.05)
    assert out.matrix[0, 1] == pytest.approx(np.mean(np.abs(local)), abs=0.03)
    _finds_only_01(out.matrix)  # the other pairs' discrete derivatives are exactly 0
    again = shapley_interactions(_product_model(), data, np.random.default_rng(1), n_rows=None,
                                 background_size=None, max_exact_features=3, n_samples=400)
    np.testing.assert_array_equal(again.matrix, out.matrix)  # seeded: same draws, same numbers


def test_exact_interaction_index_matches_definition():
    """Brute force over subsets for a random game on 4 players, written from the definition."""
    rng = np.random.default_rng(3)
    d = 4
    values = rng.normal(size=(2, 2**d))
    got = exact_shapley_interactions(values)
    v = lambda r, S: values[r, sum(1 << i for i in S)]  # noqa: E731
    for p, (j, k) in enumerate(combinations(range(d), 2)):
        others = [i for i in range(d) if i not in (j, k)]
        for r in range(2):
            want = 0.0
            for size in range(d - 1):
                for S in combinations(others, size):
                    w = factorial(size) * factorial(d - size - 2) / factorial(d - 1)
                    want += w * (v(r, S + (j, k)) - v(r, S + (j,)) - v(r, S + (k,)) + v(r, S))
            assert got[r, p] == pytest.approx(want)


def test_hessian_exact_on_product():
    data = _uniform_data()
    model = _product_model()
    out = expected_hessian(model, data, np.random.default_rng(0), n_rows=None, softplus_beta=None, scale=False)
    assert out.matrix[0, 1] == pytest.approx(1.0, abs=1e-6)
    _finds_only_01(out.matrix)
    assert model.n_evals == data.X_test.shape[0] * 4
    scaled = expected_hessian(model, data, np.random.default_rng(0), n_rows=None, softplus_beta=None)
    sd = data.X_train.astype(np.float64).std(axis=0)
    assert scaled.matrix[0, 1] == pytest.approx(sd[0] * sd[1], rel=1e-5)


def test_sobol_second_order_on_product():
    # uniform-grid columns: marginals are U(-1, 1) up to quadrature error
    rng = np.random.default_rng(0)
    grid = (np.arange(2048) + 0.5) / 2048 * 2 - 1
    X = np.stack([rng.permutation(grid) for _ in range(4)], axis=1).astype(np.float32)
    out = sobol_second_order(_product_model(), dataset(X, X[:, 0]), np.random.default_rng(1), n_samples=2**14)
    # Var(x0 x1) = 1/9, Var(x2) = 1/3: S_01 = (1/9) / (4/9) = 1/4, every other pair 0
    assert out.matrix[0, 1] == pytest.approx(0.25, abs=0.03)
    assert np.all(_upper(out.matrix)[1:] < 0.03)
    assert out.extras["sum_first"] == pytest.approx(0.75, abs=0.03)


def test_additive_model_has_no_interaction():
    data = _uniform_data()
    model = _additive_model()
    rng = np.random.default_rng(0)
    assert np.abs(h_statistic(model, data, rng, n_rows=None).matrix).max() < 1e-6
    assert np.abs(shapley_interactions(model, data, rng, n_rows=None, background_size=50).matrix).max() < 1e-6
    assert np.abs(expected_hessian(model, data, rng, n_rows=None, softplus_beta=None).matrix).max() < 1e-6
    assert np.abs(sobol_second_order(model, data, rng, n_samples=2**13).matrix).max() < 0.03


def _hand_net():
    W1 = np.array([[1.0, -2.0, 0.0], [0.5, 1.0, 0.0], [0.0, 3.0, -1.0], [0.0, 0.0, 0.0]])
    W2 = np.array([[1.0, -1.0], [2.0, 0.0], [-0.5, 1.0]])
    W3 = np.array([[3.0], [-2.0]])
    return [(W1, np.zeros(3)), (W2, np.array([0.1, -0.2])), (W3, np.zeros(1))]


def test_nid_equals_hand_computed_formula():
    layers = _hand_net()
    out = nid(mlp_net(layers), None, np.random.default_rng(0))
    W1, W2, W3 = (abs(w) for w, _ in layers)
    # aggregated influence of first-layer unit h: z_h = sum_u |W2[h, u]| |W3[u, 0]|
    z = [sum(W2[h, u] * W3[u, 0] for u in range(2)) for h in range(3)]
    assert z == [5.0, 6.0, 3.5]
    want = np.zeros((4, 4))
    for j in range(4):
        for k in range(4):
            if j != k:
                want[j, k] = sum(z[h] * min(W1[j, h], W1[k, h]) for h in range(3))
    np.testing.assert_allclose(out.matrix, want)
    # e.g. pair (0, 1): 5 min(1, .5) + 6 min(2, 1) + 3.5 min(0, 0) = 8.5
    assert out.matrix[0, 1] == pytest.approx(8.5)
    assert out.matrix[0, 3] == 0.0 and out.extras["hidden_units"] == 3.0


def test_nid_one_hidden_layer_and_linear_model():
    W1 = np.array([[1.0, 2.0], [3.0, 0.0], [1.0, 1.0]])
    v = np.array([[2.0], [-1.0]])
    out = nid(mlp_net([(W1, np.zeros(2)), (v, np.zeros(1))]), None, np.random.default_rng(0))
    assert out.matrix[0, 1] == pytest.approx(2 * 1 + 1 * 0)
    assert out.matrix[0, 2] == pytest.approx(2 * 1 + 1 * 1)
    assert out.matrix[1, 2] == pytest.approx(2 * 1 + 1 * 0)
    assert not nid(linear_net([1.0, 2.0, 3.0]), None, np.random.default_rng(0)).matrix.any()


def test_softplus_smoothed_hessian_closed_form():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 5))
    b = rng.normal(size=5) * 0.3
    v = rng.normal(size=(5, 1))
    model = mlp_net([(W, b), (v, np.zeros(1))])
    X = rng.uniform(-1, 1, (80, 3)).astype(np.float32)
    data = dataset(X, X[:, 0])
    assert not expected_hessian(model, data, rng, n_rows=None, softplus_beta=None).matrix.any()  # ReLU: 0 a.e.
    beta = 4.0
    out = expected_hessian(model, data, np.random.default_rng(0), n_rows=None, softplus_beta=beta, scale=False)
    # f = sum_h v_h softplus(beta z_h) / beta: d2f/dxj dxk = sum_h v_h beta s_h (1 - s_h) W_jh W_kh
    s = 1 / (1 + np.exp(-beta * (X.astype(np.float64) @ W + b)))
    H = np.einsum("h,nh,jh,kh->njk", v[:, 0], beta * s * (1 - s), W, W)
    want = np.abs(H).mean(axis=0)
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(out.matrix, want, rtol=1e-4, atol=1e-6)
    assert 0 < out.extras["smoothing_gap"] < 1


def test_hessian_smoothing_needs_a_dense_network():
    with pytest.raises(ValueError, match="softplus_beta=10"):
        expected_hessian(_product_model(), _uniform_data(), np.random.default_rng(0), softplus_beta=10.0)
    with pytest.raises(ValueError, match="softplus_beta=0"):
        expected_hessian(_product_model(), _uniform_data(), np.random.default_rng(0), softplus_beta=0)


def _ishigami_model():
    import keras

    return function_net(lambda x: ishigami_function(x, xp=keras.ops), 3)


def test_sobol_second_order_recovers_ishigami_s13():
    rng = np.random.default_rng(0)
    grid = (np.arange(4096) + 0.5) / 4096 * 2 * np.pi - np.pi
    X = np.stack([rng.permutation(grid) for _ in range(3)], axis=1).astype(np.float32)
    out = sobol_second_order(_ishigami_model(), dataset(X, X[:, 0]), np.random.default_rng(2), n_samples=2**15)
    want = ishigami_indices().second  # S13 = 0.2437, S12 = S23 = 0
    # method seeds 0-11 give max errors 0.004-0.015 at N = 2^15 (Saltelli 2002 estimator)
    np.testing.assert_allclose(out.matrix, want, atol=0.03)
    assert out.matrix[0, 2] == pytest.approx(0.2437, abs=0.03)


def test_second_order_estimator_matches_salib():
    """SALib's Saltelli-2002 estimator on the same outputs; ours averages the (j, k) and (k, j)
    products, i.e. SALib on the problem and on the problem with its columns reversed."""
    from SALib.analyze import sobol as salib_sobol

    rng = np.random.default_rng(5)
    d, N = 4, 512
    fA, fB = rng.normal(size=N), rng.normal(size=N)
    fAB, fBA = rng.normal(size=(d, N)) + fA, rng.normal(size=(d, N)) + fB

    def salib_s2(fAB_, fBA_):
        Y = np.column_stack([fA, fAB_.T, fBA_.T, fB]).ravel()  # SALib's per-sample layout
        problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0, 1]] * d}
        return salib_sobol.analyze(problem, Y, calc_second_order=True, num_resamples=2, seed=0)

    res = sobol_second_from_outputs(fA, fB, fAB, fBA)
    ref = salib_s2(fAB, fBA)
    rev = salib_s2(fAB[::-1], fBA[::-1])
    np.testing.assert_allclose(res["first"], ref["S1"], rtol=1e-10)
    for j, k in combinations(range(d), 2):
        both = (ref["S2"][j, k] + rev["S2"][d - 1 - k, d - 1 - j]) / 2
        assert res["second"][j, k] == pytest.approx(both, rel=1e-10)


def test_random_and_oracle():
    data = _uniform_data()
    a = random_interactions(None, data, np.random.default_rng(4)).matrix
    b = random_interactions(None, data, np.random.default_rng(4)).matrix
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, a.T)
    assert np.all(np.diag(a) == 0) and np.all(_upper(a) > 0)
    T = pair_matrix([{0, 2}], 4)
    with_truth = Dataset(X_train=data.X_train, y_train=data.y_train, X_test=data.X_test, y_test=data.y_test,
                         task="regression", truth=GroundTruth(importance=np.ones(4), relevant=np.ones(4, bool),
                                                              definition="t", interactions=T))
    np.testing.assert_array_equal(oracle_interactions(None, with_truth, np.random.default_rng(0)).matrix, T)
    with pytest.raises(ValueError, match="no interaction truth"):
        oracle_interactions(None, data, np.random.default_rng(0))


def test_invalid_parameters_name_the_key():
    data, model, rng = _uniform_data(), _product_model(), np.random.default_rng(0)
    with pytest.raises(ValueError, match="n_rows=0"):
        h_statistic(model, data, rng, n_rows=0)
    with pytest.raises(ValueError, match="normalize='yes'"):
        h_statistic(model, data, rng, normalize="yes")
    with pytest.raises(ValueError, match="max_exact_features=21"):
        shapley_interactions(model, data, rng, max_exact_features=21)
    with pytest.raises(ValueError, match="n_samples=0"):
        shapley_interactions(model, data, rng, n_samples=0)
    with pytest.raises(ValueError, match="n_samples=1"):
        sobol_second_order(model, data, rng, n_samples=1)
    with pytest.raises(ValueError, match="softplus_beta=0"):
        expected_hessian(model, data, rng, softplus_beta=0)
    with pytest.raises(ValueError, match="Dense"):
        nid(model, data, rng)
