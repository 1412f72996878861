"""Oracle tests for the seed-answer methods (first-layer weights, probing, LIME, permutation)."""
import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.inspection import permutation_importance

from exact import dataset, linear_net, mlp_net
from varbench.methods.baselines import oracle, random
from varbench.methods.perturbation import permutation, probing
from varbench.methods.surrogate import lime
from varbench.methods.weights import first_layer


def test_first_layer_sums_abs_kernel_rows():
    W1 = np.array([[1.0, -2.0], [0.5, 0.5], [0.0, -3.0]]); W2 = np.array([[1.0], [1.0]])
    m = mlp_net([(W1, np.zeros(2)), (W2, np.zeros(1))])
    data = dataset(np.zeros((30, 3)) + np.arange(3), np.arange(30.0))
    np.testing.assert_allclose(first_layer(m, data, None), [3.0, 1.0, 3.0])


def test_probing_on_linear_model_is_abs_weight_times_value():
    w = np.array([2.0, -1.0, 0.0, 0.5])
    m = linear_net(w, b=0.3)
    data = dataset(np.random.default_rng(0).normal(size=(40, 4)), np.arange(40.0))
    np.testing.assert_allclose(probing(m, data, None), np.abs(w), rtol=1e-6)
    np.testing.assert_allclose(probing(m, data, None, baseline=1.0, value=3.0), 2 * np.abs(w), rtol=1e-6)
    assert m.n_evals == 10  # d + 1 probes per call, one batch each


def _linear_data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * np.array([1.0, 2.0, 1.0, 0.5])
    w = np.array([1.5, -1.0, 0.0, 2.0])
    return X, X @ w, w


def test_permutation_matches_closed_form_for_linear_model():
    # For f = w.x with independent features, E[MSE increase] = 2 w_j^2 Var(x_j) (y = f exactly).
    X, y, w = _linear_data()
    m = linear_net(w)
    att = permutation(m, dataset(X, y), np.random.default_rng(1), n_repeats=5, n_rows=None)
    expected = 2 * w**2 * X.var(axis=0)
    np.testing.assert_allclose(att.importance, expected, rtol=0.08, atol=1e-6)
    assert m.n_evals == 4000 * (1 + 4 * 5)


class _Wrap(BaseEstimator, RegressorMixin):
    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y):
        return self

    def predict(self, X):
        return self.model.predict(X)


def test_permutation_agrees_with_scikit_learn():
    X, y, w = _linear_data(n=1000, seed=3)
    y = y + np.random.default_rng(4).normal(scale=0.5, size=y.shape)
    m = linear_net(w)
    ours = permutation(m, dataset(X, y), np.random.default_rng(0), n_repeats=20, n_rows=None).importance
    ref = permutation_importance(_Wrap(m), X, y, scoring="neg_mean_squared_error", n_repeats=20,
                                 random_state=0).importances_mean
    np.testing.assert_allclose(ours, ref, rtol=0.1, atol=0.02)


def test_lime_recovers_standardised_slopes_of_linear_model():
    X, y, w = _linear_data(n=500)
    m = linear_net(w, b=1.0)
    att = lime(m, dataset(X, y), np.random.default_rng(0), n_rows=10, n_samples=500, alpha=1e-6)
    # the surrogate is fitted on standardised features: slope = w_j * sd_j, for every row
    np.testing.assert_allclose(att.local, np.tile(w * X.std(axis=0), (10, 1)), rtol=1e-4, atol=1e-4)
    assert att.aggregation == "mean_abs_local"
    assert att.extras["mean_surrogate_r2"] == pytest.approx(1.0)
    assert m.n_evals == 10 * 500


def test_lime_is_seeded():
    X, y, w = _linear_data(n=300)
    m = mlp_net([(np.random.default_rng(0).normal(size=(4, 8)), np.zeros(8)),
                 (np.random.default_rng(1).normal(size=(8, 1)), np.zeros(1))])
    a = lime(m, dataset(X, y), np.random.default_rng(7), n_rows=5, n_samples=200).local
    b = lime(m, dataset(X, y), np.random.default_rng(7), n_rows=5, n_samples=200).local
    np.testing.assert_array_equal(a, b)


def test_baselines():
    data = dataset(np.zeros((30, 3)) + np.arange(3), np.arange(30.0), importance=[2.0, 0.0, 1.0])
    np.testing.assert_array_equal(oracle(None, data, None), [2.0, 0.0, 1.0])
    r = random(None, data, np.random.default_rng(0))
    assert r.shape == (3,) and np.all((0 <= r) & (r < 1))


def test_random_scores_near_zero_on_average():
    from varbench.scoring import score

    truth = np.array([4.0, 3, 2, 1, 0, 0, 0, 0])
    data = dataset(np.zeros((30, 8)) + np.arange(8), np.arange(30.0), importance=truth)
    rhos = [score(random(None, data, np.random.default_rng(s)), truth, truth > 0).metrics["spearman"]
            for s in range(400)]
    assert abs(np.mean(rhos)) < 0.05  # SE of the mean ~ 0.4 / 20 = 0.02
