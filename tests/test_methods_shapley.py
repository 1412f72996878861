"""Oracle tests for KernelSHAP, sampling Shapley, SAGE and model_truth (varbench.methods.shapley,
varbench.methods.model_truth): closed forms for linear models, brute-force permutation
enumeration in numpy for nonlinear ones, and shap as a reference library when installed."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from exact import dataset, function_net, linear_net, mlp_net
from varbench.methods.model_truth import model_truth
from varbench.methods.shapley import kernel_shap, loss_of_output, sage, sampling_shapley

W = np.array([2.0, -1.0, 0.5, 0.0, 1.5])


def _linear_data(n_train: int = 40, n_test: int = 12, seed: int = 0, noise: float = 0.0):
    rng = np.random.default_rng(seed)
    scale = np.array([1.0, 2.0, 0.5, 1.0, 1.0])
    shift = np.array([0.5, -1.0, 0.0, 2.0, 0.0])
    X = (rng.standard_normal((n_train + n_test, 5)) * scale + shift).astype(np.float32)
    y = X @ W + 0.3 + noise * rng.standard_normal(X.shape[0])
    return dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:])


def _f_np(X: np.ndarray) -> np.ndarray:
    """The nonlinear test function in numpy (float64): the oracle side. The three-way term
    matters: on games with at most pairwise interactions every symmetric weighting of the
    coalitions (e.g. Banzhaf's) gives the Shapley values, so it would not test the kernel."""
    return (X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.5 * X[:, 3] ** 2 + 0.3 * X[:, 0]
            + 0.5 * X[:, 1] * X[:, 2] * X[:, 3])


def _f_keras(x):
    import keras

    return (x[:, 0] * x[:, 1] + keras.ops.sin(x[:, 2]) + 0.5 * x[:, 3] ** 2 + 0.3 * x[:, 0]
            + 0.5 * x[:, 1] * x[:, 2] * x[:, 3])


def _f8_np(X: np.ndarray) -> np.ndarray:
    return X[:, 0] * X[:, 1] * X[:, 2] * X[:, 3] + X[:, 4] * X[:, 5] * X[:, 6] + np.sin(X[:, 7])


def _f8_keras(x):
    import keras

    return x[:, 0] * x[:, 1] * x[:, 2] * x[:, 3] + x[:, 4] * x[:, 5] * x[:, 6] + keras.ops.sin(x[:, 7])


def brute_force_shapley(f, X: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Interventional Shapley values by walking every permutation of the features (numpy)."""
    X = X.astype(np.float64)
    bg = bg.astype(np.float64)
    d = X.shape[1]
    value = {}
    for S in itertools.product([False, True], repeat=d):
        m = np.array(S)
        Z = np.where(m[None, None, :], X[:, None, :], bg[None, :, :])
        value[S] = f(Z.reshape(-1, d)).reshape(X.shape[0], bg.shape[0]).mean(axis=1)
    phi = np.zeros(X.shape)
    perms = list(itertools.permutations(range(d)))
    for perm in perms:
        S = [False] * d
        for j in perm:
            before = value[tuple(S)]
            S[j] = True
            phi[:, j] += value[tuple(S)] - before
    return phi / len(perms)


def _nonlinear_data(d: int = 4, n_train: int = 16, n_test: int = 8, seed: int = 1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n_train + n_test, d)).astype(np.float32)
    y = X.sum(axis=1)
    return dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:])


# ---------------------------------------------------------------- KernelSHAP


def test_kernel_shap_exact_linear_closed_form():
    data = _linear_data()
    model = linear_net(W, b=0.3)
    att = kernel_shap(model, data, np.random.default_rng(0), n_rows=None, background_size=None)
    expected = W * (data.X_test - data.X_train.mean(axis=0))
    np.testing.assert_allclose(att.local, expected, atol=2e-4)
    np.testing.assert_array_equal(att.rows, data.X_test)
    assert att.extras["exact"] == 1.0 and att.extras["efficiency_error"] < 1e-4
    assert att.aggregation == "mean_abs_local"


def test_kernel_shap_sampled_linear_closed_form():
    # an additive game is fitted exactly by any determined coalition design
    data = _linear_data()
    att = kernel_shap(linear_net(W, b=0.3), data, np.random.default_rng(3), n_rows=None,
                      background_size=None, max_exact_features=0, n_coalitions=20)
    assert att.extras["exact"] == 0.0 and att.extras["coalitions_per_row"] == 20
    np.testing.assert_allclose(att.local, W * (data.X_test - data.X_train.mean(axis=0)), atol=2e-4)


def test_kernel_shap_exact_equals_brute_force_permutations():
    data = _nonlinear_data()
    att = kernel_shap(function_net(_f_keras, 4), data, np.random.default_rng(0), n_rows=None,
                      background_size=None)
    oracle = brute_force_shapley(_f_np, data.X_test, data.X_train)
    np.testing.assert_allclose(att.local, oracle, atol=1e-4)


def test_kernel_shap_sampled_converges_to_exact_on_interactions():
    data = _nonlinear_data(d=8, n_train=10, n_test=4, seed=2)
    oracle = brute_force_shapley(_f8_np, data.X_test, data.X_train)  # 8! orders
    att = kernel_shap(function_net(_f8_keras, 8), data, np.random.default_rng(0), n_rows=None,
                      background_size=None, max_exact_features=3, n_coalitions=20000)
    assert att.extras["exact"] == 0.0
    err = np.abs(att.local - oracle).max()
    # attributions reach ~2.4; seeds 0-2 give max errors 0.038-0.054, while drawing coalition
    # sizes uniformly instead of from the kernel leaves errors of 0.21-0.23: the bound separates them
    assert err < 0.1, err
    np.testing.assert_allclose(att.local.sum(axis=1), oracle.sum(axis=1), atol=1e-4)


def test_kernel_shap_sampled_mode_d_above_threshold_needs_enough_coalitions():
    data = _nonlinear_data(d=8)
    with pytest.raises(ValueError, match="n_coalitions=6"):
        kernel_shap(function_net(_f8_keras, 8), data, np.random.default_rng(0), max_exact_features=3,
                    n_coalitions=6)


# ---------------------------------------------------------------- sampling Shapley


@pytest.mark.parametrize("antithetic", [True, False])
def test_sampling_shapley_linear_within_mc_tolerance(antithetic):
    data = _linear_data(n_train=200)
    m = 400
    att = sampling_shapley(linear_net(W, b=0.3), data, np.random.default_rng(5), n_rows=None,
                           background_size=None, n_permutations=m, antithetic=antithetic)
    expected = W * (data.X_test - data.X_train.mean(axis=0))
    # for a linear model each walk contributes w_j (x_j - b_j): error = w_j * (mean of the
    # drawn b_j - background mean); independent draws: m/2 with antithetic pairs, m without
    n_draws = m // 2 if antithetic else m
    tol = 4.5 * np.abs(W) * data.X_train.std(axis=0) / np.sqrt(n_draws) + 1e-4
    assert np.all(np.abs(att.local - expected) <= tol)
    assert att.extras["max_stderr"] > 0


def test_sampling_shapley_nonlinear_vs_brute_force():
    data = _nonlinear_data()
    oracle = brute_force_shapley(_f_np, data.X_test, data.X_train)
    att = sampling_shapley(function_net(_f_keras, 4), data, np.random.default_rng(0), n_rows=None,
                           background_size=None, n_permutations=2000)
    se = att.extras["max_stderr"]
    assert se < 0.1
    assert np.abs(att.local - oracle).max() < 5 * se


# ---------------------------------------------------------------- SAGE


def _sage_linear_data(seed: int = 0, n: int = 3000):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    w = np.array([2.0, 1.0, 0.5, 0.0])
    y = X @ w + 0.1 * rng.standard_normal(n)
    return w, dataset(X[: n // 2], y[: n // 2], X[n // 2:], y[n // 2:])


def test_sage_linear_mse_closed_form_and_loss_reduction():
    w, data = _sage_linear_data()
    att = sage(linear_net(w), data, np.random.default_rng(0), n_rows=None, background_size=256,
               n_permutations=4096, convergence_threshold=None)
    expected = w**2 * data.X_test.var(axis=0)
    # per-sample contribution of feature j has sd <~ 2.5 w_j^2 + 2 |w_j| sqrt(sum w^2): 4 se bound
    se = (2.5 * w**2 + 2 * np.abs(w) * np.sqrt((w**2).sum()) + 0.05) / np.sqrt(4096)
    assert np.all(np.abs(att.importance - expected) < 4 * se), (att.importance, expected)
    assert "converged" not in att.extras
    reduction = att.extras["loss_empty"] - att.extras["loss_full"]
    np.testing.assert_allclose(reduction, (w**2).sum(), rtol=0.1)
    # the estimate's sum is the mean over sampled rows of (y - f0)^2 - (y - f(x))^2 ~ (f(x) - f0)^2,
    # whose sd is sqrt(2) * sum w^2 for a Gaussian f(x) - f0: 4 standard errors
    assert abs(att.importance.sum() - reduction) < 4 * np.sqrt(2) * (w**2).sum() / np.sqrt(4096)
    assert att.extras["efficiency_gap"] == pytest.approx(att.importance.sum() - reduction)


def test_sage_convergence_stops_early():
    w, data = _sage_linear_data()
    att = sage(linear_net(w), data, np.random.default_rng(1), n_rows=500, background_size=64,
               n_permutations=20000, convergence_threshold=0.05, batch_size=64)
    n = att.extras["n_permutations"]
    assert att.extras["converged"] == 1.0 and n < 20000 and n % 64 == 0
    spread = att.importance.max() - att.importance.min()
    assert att.extras["max_stderr"] < 0.05 * spread


def test_sage_classification_averages_probabilities_whatever_the_output():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3)).astype(np.float32)
    w = np.array([2.0, -1.0, 0.0])
    y = (X @ w + 0.5 * rng.standard_normal(300) > 0).astype(np.float32)
    data = dataset(X[:150], y[:150], X[150:], y[150:], task="classification")
    prob = linear_net(w, task="classification", output="prob")
    logit = linear_net(w, task="classification", output="logit")
    a = sage(prob, data, np.random.default_rng(2), n_permutations=256, convergence_threshold=None)
    b = sage(logit, data, np.random.default_rng(2), n_permutations=256, convergence_threshold=None)
    np.testing.assert_allclose(a.importance, b.importance, rtol=1e-4, atol=1e-6)
    assert a.importance[0] > a.importance[1] > abs(a.importance[2])
    # the loss on averaged outputs is the model's own loss when nothing is averaged
    p = prob.predict(data.X_test)
    np.testing.assert_allclose(loss_of_output(prob, p, data.y_test), prob.loss(data.X_test, data.y_test),
                               rtol=1e-6)


# ---------------------------------------------------------------- shared contract


@pytest.mark.parametrize("method,params", [
    (kernel_shap, {"n_rows": 5, "background_size": 8}),
    (kernel_shap, {"n_rows": 5, "background_size": 8, "max_exact_features": 2, "n_coalitions": 20}),
    (sampling_shapley, {"n_rows": 5, "background_size": 8, "n_permutations": 10}),
    (sage, {"background_size": 8, "n_permutations": 64, "convergence_threshold": 0.1, "batch_size": 16}),
])
def test_same_seed_same_output(method, params):
    data = _nonlinear_data(n_train=30, n_test=20)
    model = function_net(_f_keras, 4)
    a = method(model, data, np.random.default_rng(7), **params)
    b = method(model, data, np.random.default_rng(7), **params)
    c = method(model, data, np.random.default_rng(8), **params)
    for x, z in ((a.local, b.local), (a.importance, b.importance)):
        if x is not None:
            np.testing.assert_array_equal(x, z)
    va = a.local if a.local is not None else a.importance
    vc = c.local if c.local is not None else c.importance
    assert not np.array_equal(va, vc)


@pytest.mark.parametrize("method,params,match", [
    (kernel_shap, {"n_coalitions": 7}, "n_coalitions=7"),
    (kernel_shap, {"n_coalitions": 0}, "n_coalitions=0"),
    (kernel_shap, {"max_exact_features": -1}, "max_exact_features=-1"),
    (kernel_shap, {"max_exact_features": 21}, "max_exact_features=21"),
    (kernel_shap, {"background_size": 0}, "background_size=0"),
    (sampling_shapley, {"n_permutations": 0}, "n_permutations=0"),
    (sampling_shapley, {"n_permutations": 3}, "n_permutations=3"),
    (sampling_shapley, {"n_rows": 0}, "n_rows=0"),
    (sage, {"convergence_threshold": 0}, "convergence_threshold=0"),
    (sage, {"batch_size": 0}, "batch_size=0"),
    (sage, {"n_permutations": 1}, "n_permutations=1"),
])
def test_invalid_parameters(method, params, match):
    data = _nonlinear_data()
    with pytest.raises(ValueError, match=match):
        method(linear_net([1.0, 1.0, 1.0, 1.0]), data, np.random.default_rng(0), **params)


# ---------------------------------------------------------------- model_truth


def test_model_truth_linear_closed_forms():
    w = np.array([2.0, -1.0, 0.5, 0.0])
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((600, 4)) * [1.0, 2.0, 1.0, 1.0]).astype(np.float32)
    y = X @ w + 0.2 * rng.standard_normal(600)
    data = dataset(X[:400], y[:400], X[400:], y[400:])
    model = linear_net(w, b=0.1)
    t = model_truth(model, data, background_size=64, rows=None, sobol_samples=2**15)
    Xr, bg = t["rows"], t["background"]
    assert Xr.shape == (200, 4) and bg.shape == (64, 4)
    np.testing.assert_array_equal(Xr, data.X_test)  # rows=None: all test rows, in order
    phi = w * (Xr - bg.mean(axis=0))
    np.testing.assert_allclose(t["shapley_local"], phi, atol=2e-4)
    np.testing.assert_allclose(t["shapley"], np.abs(phi).mean(axis=0), atol=2e-4)
    # exact SAGE of MSE for a linear model, finite-sample closed form: with u_ij = w_j (x_ij - m_j)
    # and residual r_i = y_i - f(x_i), phi_j = 2 mean(r u_j) + sum_k mean(u_j u_k)
    yr = data.y_test.astype(np.float64)
    u = w * (Xr - bg.mean(axis=0))
    r = yr - (Xr @ w + 0.1)
    sage_cf = 2 * (r[:, None] * u).mean(axis=0) + (u[:, :, None] * u[:, None, :]).mean(axis=0).sum(axis=1)
    np.testing.assert_allclose(t["sage"], sage_cf, atol=2e-3)
    np.testing.assert_allclose(t["sage"].sum(), t["sage_loss_empty"] - t["sage_loss_full"], atol=1e-6)
    # Sobol of a linear function with independent inputs: S = ST = w^2 Var / sum
    v = w**2 * data.X_train.var(axis=0)
    np.testing.assert_allclose(t["sobol_total"], v / v.sum(), atol=0.02)
    np.testing.assert_allclose(t["sobol_first"], v / v.sum(), atol=0.02)


def test_model_truth_matches_kernel_shap_exact_on_an_mlp():
    rng = np.random.default_rng(3)
    W1, b1 = rng.standard_normal((5, 8)), rng.standard_normal(8)
    W2, b2 = rng.standard_normal((8, 1)), rng.standard_normal(1)
    model = mlp_net([(W1, b1), (W2, b2)], activation="tanh")
    X = rng.standard_normal((40, 5)).astype(np.float32)
    data = dataset(X[:24], X[:24, 0], X[24:], X[24:, 0])
    t = model_truth(model, data, background_size=None, rows=None, sobol_samples=256)
    att = kernel_shap(model, data, np.random.default_rng(0), n_rows=None, background_size=None)
    np.testing.assert_allclose(t["shapley_local"], att.local, atol=1e-5)  # formula vs regression
    np.testing.assert_allclose(t["rows"], att.rows)


def test_model_truth_classification_logit_sage_efficiency():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 3)).astype(np.float32)
    w = np.array([1.5, -1.0, 0.2])
    y = (X @ w + 0.3 * rng.standard_normal(200) > 0).astype(np.float32)
    data = dataset(X[:100], y[:100], X[100:], y[100:], task="classification")
    model = linear_net(w, task="classification", output="logit")
    model.n_evals = 0
    t = model_truth(model, data, background_size=32, rows=None, sobol_samples=256)
    # logits and probabilities from one pass: rows x 2^d x background, plus Sobol's (d + 2) x samples
    assert model.n_evals == 100 * 2**3 * 32 + (3 + 2) * 256
    # independent oracle: log loss of the mean background probability, and the model's own loss
    p0 = np.mean(1 / (1 + np.exp(-model.predict(t["background"]).astype(np.float64))))
    p0 = np.clip(p0, 1e-7, 1 - 1e-7)
    yt = data.y_test.astype(np.float64)
    loss_empty = np.mean(-(yt * np.log(p0) + (1 - yt) * np.log(1 - p0)))
    loss_full = model.loss(data.X_test, data.y_test).mean()
    np.testing.assert_allclose(t["sage"].sum(), loss_empty - loss_full, rtol=1e-4)
    assert t["sage"][0] > t["sage"][1] > t["sage"][2]
    t2 = model_truth(model, data, background_size=32, rows=None, sobol_samples=256)
    for key in t:
        np.testing.assert_array_equal(t[key], t2[key])  # same seed -> identical
    np.testing.assert_allclose(t["shapley_local"].sum(axis=1),
                               model.predict(data.X_test) - model.predict(t["background"]).mean(),
                               atol=1e-4)


def test_model_truth_rejects_too_many_features():
    X = np.random.default_rng(0).standard_normal((30, 13)).astype(np.float32)
    data = dataset(X, X[:, 0])
    with pytest.raises(ValueError, match="d=13 exceeds max_features=10"):
        model_truth(linear_net(np.ones(13)), data)


# ---------------------------------------------------------------- reference library


def test_kernel_shap_agrees_with_shap_library():
    shap = pytest.importorskip("shap")
    rng = np.random.default_rng(6)
    W1, b1 = rng.standard_normal((4, 6)), rng.standard_normal(6)
    W2, b2 = rng.standard_normal((6, 1)), rng.standard_normal(1)
    model = mlp_net([(W1, b1), (W2, b2)], activation="relu")
    X = rng.standard_normal((26, 4)).astype(np.float32)
    data = dataset(X[:20], X[:20, 0], X[20:], X[20:, 0])
    ours = kernel_shap(model, data, np.random.default_rng(0), n_rows=None, background_size=None).local
    f = lambda Z: model.predict(np.asarray(Z, np.float32)).astype(np.float64)  # noqa: E731
    # with d = 4, shap's KernelExplainer enumerates all 14 proper coalitions (nsamples >= 14), so
    # it is exact too. (shap.explainers.Exact agrees as well but costs ~7 s of numba compilation.)
    kern = shap.KernelExplainer(f, data.X_train)
    ref = np.asarray(kern.shap_values(data.X_test, nsamples=200, l1_reg=False, silent=True))
    np.testing.assert_allclose(ref, ours, atol=1e-4)
