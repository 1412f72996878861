"""Oracle tests for occlusion and conditional permutation importance."""
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsRegressor

from exact import dataset, function_net, linear_net
from varbench.methods.conditional import conditional_permutation, gaussian_conditionals
from varbench.methods.perturbation import occlusion, permutation

W = np.array([1.5, -2.0, 0.0, 0.5])


def _shifted_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * np.array([1.0, 0.5, 2.0, 1.0]) + np.array([3.0, -1.0, 0.5, 2.0])
    return X.astype(np.float32)


# ---------------------------------------------------------------- occlusion

def test_occlusion_zero_baseline_on_linear_model():
    X = _shifted_data()
    m = linear_net(W, b=0.7)
    att = occlusion(m, dataset(X, X @ W), np.random.default_rng(0), baseline="zero", n_rows=None)
    np.testing.assert_allclose(att.local, X * W, rtol=1e-4, atol=1e-4)  # f(x) - f(x, x_j=0) = w_j x_j
    np.testing.assert_allclose(np.abs(att.local).mean(axis=0), np.abs(W) * np.abs(X).mean(axis=0),
                               rtol=1e-4, atol=1e-4)
    assert att.aggregation == "mean_abs_local" and att.importance is None  # filled by as_attribution
    np.testing.assert_array_equal(att.rows, X)
    assert m.n_evals == 200 * (4 + 1)  # one batch: the rows plus one ablated copy per feature


def test_occlusion_mean_baseline_on_centred_data_matches_linear_truth():
    from varbench.methods.base import as_attribution

    X = _shifted_data(seed=1)
    X = X - X.mean(axis=0)
    m = linear_net(W, b=-0.3)
    att = as_attribution(occlusion(m, dataset(X, X @ W), np.random.default_rng(0), baseline="mean",
                                   n_rows=None), 4)
    np.testing.assert_allclose(att.importance, np.abs(W) * np.abs(X).mean(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(att.local, X * W, rtol=1e-4, atol=1e-4)  # = exact Shapley w_j (x_j - E x_j)


def test_occlusion_median_baseline_uses_train_median_and_samples_rows():
    X = _shifted_data(n=301, seed=2)
    X_test = _shifted_data(n=500, seed=3)
    m = linear_net(W)
    data = dataset(X, X @ W, X_test, X_test @ W)
    att = occlusion(m, data, np.random.default_rng(5), baseline="median", n_rows=50)
    assert att.local.shape == (50, 4) and att.rows.shape == (50, 4)
    assert all(any(np.array_equal(r, t) for t in X_test) for r in att.rows[:5])
    np.testing.assert_allclose(att.local, (att.rows - np.median(X, axis=0)) * W, rtol=1e-4, atol=1e-4)


def test_occlusion_of_a_product_credits_both_factors():
    X = _shifted_data(n=64)[:, :3]
    m = function_net(lambda z: z[:, 0] * z[:, 1], 3)
    att = occlusion(m, dataset(X, X[:, 0] * X[:, 1]), np.random.default_rng(0), baseline="zero", n_rows=None)
    prod = X[:, 0] * X[:, 1]
    np.testing.assert_allclose(att.local, np.stack([prod, prod, 0 * prod], axis=1), rtol=1e-4, atol=1e-4)


def test_occlusion_rejects_bad_baseline():
    X = _shifted_data(n=30)
    with pytest.raises(ValueError, match="baseline='mode'"):
        occlusion(linear_net(W), dataset(X, X @ W), np.random.default_rng(0), baseline="mode")


# ---------------------------------------------------- conditional permutation

def _gaussian_design(n_train, n_test, seed=0):
    """x0, x1 0.9-correlated; x2, x3 0.5-correlated; the pairs independent. Unit variances."""
    cov = np.eye(4)
    cov[0, 1] = cov[1, 0] = 0.9
    cov[2, 3] = cov[3, 2] = 0.5
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(cov)
    return (rng.standard_normal((n_train, 4)) @ L.T, rng.standard_normal((n_test, 4)) @ L.T, cov)


@pytest.mark.parametrize("w", [[1.0, 0.0, 0.0, 0.0],   # y = x0, x1 a 0.9-correlated decoy
                               [1.0, 0.5, -1.0, 0.0]])
def test_conditional_vs_plain_permutation_closed_forms(w):
    w = np.array(w)
    X_train, X_test, cov = _gaussian_design(20000, 3000)
    m = linear_net(w)
    data = dataset(X_train, X_train @ w, X_test, X_test @ w)
    cond_var = 1.0 / np.diag(np.linalg.inv(cov))  # Var(x_j | x_-j) of the true design
    cond = conditional_permutation(m, data, np.random.default_rng(1), n_repeats=8, n_rows=None)
    np.testing.assert_allclose(cond.importance, 2 * w**2 * cond_var, rtol=0.08, atol=1e-6)
    plain = permutation(m, data, np.random.default_rng(1), n_repeats=8, n_rows=None)
    np.testing.assert_allclose(plain.importance, 2 * w**2 * np.diag(cov), rtol=0.08, atol=1e-6)
    assert cond.extras["mean_variance_ratio"] == pytest.approx(np.mean(cond_var), rel=0.03)
    assert cond.extras["base_loss"] == pytest.approx(0.0, abs=1e-8)


def test_linear_regressor_sampler_has_the_same_closed_form():
    w = np.array([1.0, 0.5, -1.0, 0.0])
    X_train, X_test, cov = _gaussian_design(20000, 3000, seed=4)
    data = dataset(X_train, X_train @ w, X_test, X_test @ w)
    att = conditional_permutation(linear_net(w), data, np.random.default_rng(0), sampler="regressor",
                                  n_repeats=8, n_rows=None)
    np.testing.assert_allclose(att.importance, 2 * w**2 / np.diag(np.linalg.inv(cov)), rtol=0.08, atol=1e-6)


def test_gaussian_conditionals_match_scikit_learn_regressions():
    X_train, _, _ = _gaussian_design(500, 1, seed=2)
    X_train[:, 2] += 5.0
    mu, B, var = gaussian_conditionals(X_train, ridge=0.0)
    for j in range(4):
        rest = np.delete(np.arange(4), j)
        lr = LinearRegression().fit(X_train[:, rest], X_train[:, j])
        np.testing.assert_allclose(B[j, rest], lr.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(mu[j] - mu[rest] @ B[j, rest], lr.intercept_, rtol=1e-8)
        resid = X_train[:, j] - lr.predict(X_train[:, rest])
        np.testing.assert_allclose(var[j], np.sum(resid**2) / (500 - 1), rtol=1e-8)  # Schur complement = RSS/(n-1)
        assert B[j, j] == 0.0


def test_sklearn_regressor_handles_nonlinear_dependence():
    # x1 = x0^2 + 0.3 eps: uncorrelated with x0, so the linear sampler sees no dependence,
    # while a k-NN regression recovers Var(x1 | x0) = 0.09 -> importance ~ 2 * 0.09 for f = x1
    rng = np.random.default_rng(0)

    def draw(n):
        x0 = rng.uniform(-2, 2, n)
        return np.stack([x0, x0**2 + 0.3 * rng.standard_normal(n)], axis=1)

    X_train, X_test = draw(4000), draw(2000)
    w = np.array([0.0, 1.0])
    data = dataset(X_train, X_train @ w, X_test, X_test @ w)
    knn = conditional_permutation(linear_net(w), data, np.random.default_rng(1), sampler="regressor",
                                  regressor=KNeighborsRegressor(n_neighbors=30), n_repeats=5, n_rows=None)
    lin = conditional_permutation(linear_net(w), data, np.random.default_rng(1), sampler="regressor",
                                  regressor="linear", n_repeats=5, n_rows=None)
    assert knn.importance[1] == pytest.approx(2 * 0.09, rel=0.2)
    assert lin.importance[1] == pytest.approx(2 * X_test[:, 1].var(), rel=0.1)  # = plain permutation
    assert knn.importance[0] == 0.0 and lin.importance[0] == 0.0  # f ignores x0: loss unchanged


def test_conditional_permutation_classification_and_determinism():
    X_train, X_test, _ = _gaussian_design(400, 300, seed=5)
    w = np.array([2.0, 0.0, -1.0, 0.0])
    y_train = (X_train @ w > 0).astype(float)
    y_test = (X_test @ w > 0).astype(float)
    m = linear_net(w, task="classification")
    data = dataset(X_train, y_train, X_test, y_test, task="classification")
    a = conditional_permutation(m, data, np.random.default_rng(3), n_repeats=3, n_rows=200)
    b = conditional_permutation(m, data, np.random.default_rng(3), n_repeats=3, n_rows=200)
    np.testing.assert_array_equal(a.importance, b.importance)
    assert a.importance[1] == 0.0 and a.importance[3] == 0.0  # ignored features: log loss unchanged
    assert a.importance[0] > a.importance[2] > 0
    assert m.n_evals == 2 * 200 * (1 + 4 * 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"sampler": "knockoff"}, "sampler='knockoff'"),
    ({"sampler": "regressor", "regressor": "forest"}, "regressor='forest'"),
    ({"regressor": KNeighborsRegressor()}, "with sampler='gaussian'"),
    ({"n_repeats": 0}, "n_repeats=0"),
    ({"n_rows": 0}, "n_rows=0"),
])
def test_conditional_permutation_rejects_bad_parameters(kwargs, match):
    X = _shifted_data(n=40)
    with pytest.raises(ValueError, match=match):
        conditional_permutation(linear_net(W), dataset(X, X @ W), np.random.default_rng(0), **kwargs)
