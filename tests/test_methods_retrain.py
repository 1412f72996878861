"""Oracle tests for drop-column importance and LOCO.

Most tests use a model whose `refit` is the test's own closed-form trainer (least squares in
numpy, returned as an exact linear_net), so the refitted models are known exactly and fast.
One test runs the real trainer end to end on a tiny MLP."""
import numpy as np
import pytest

from exact import dataset, linear_net
from varbench.methods.base import as_attribution
from varbench.methods.retrain import drop_column, loco, mean_interval, median_interval

W = np.array([2.0, -1.0, 0.5, 0.0, 0.0])
SD = np.array([1.0, 1.5, 1.0, 1.0, 2.0])
NOISE = 0.5


def least_squares_model(X: np.ndarray, y: np.ndarray):
    """The test's trainer: ordinary least squares with intercept, as an exact Keras linear net
    that can refit itself on other columns."""
    A = np.column_stack([np.ones(len(X)), X]).astype(np.float64)
    coef = np.linalg.lstsq(A, np.asarray(y, np.float64), rcond=None)[0]
    m = linear_net(coef[1:], b=float(coef[0]))
    m.refit = least_squares_model
    return m


def _linear_data(n_train=4000, n_test=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train + n_test, 5)) * SD + 1.0
    y = X @ W + NOISE * rng.standard_normal(n_train + n_test)
    return dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:])


def test_drop_column_is_the_explained_variance_of_each_independent_feature():
    data = _linear_data()
    m = least_squares_model(data.X_train, data.y_train)
    att = as_attribution(drop_column(m, data, np.random.default_rng(0)), 5)
    expected = W**2 * SD**2  # MSE increase when x_j is left out (independent features)
    np.testing.assert_allclose(att.importance[:3], expected[:3], rtol=0.1)
    assert np.all(np.abs(att.importance[3:]) < 0.01)
    assert att.extras["n_refits"] == 5 and att.extras["retrain_seconds"] > 0
    assert att.extras["full_loss"] == pytest.approx(NOISE**2, rel=0.1)
    assert m.n_evals == 4000 * (1 + 5)  # full model + each refitted model on the test split


def test_loco_mean_is_the_closed_form_absolute_error_increase():
    data = _linear_data(seed=1)
    m = least_squares_model(data.X_train, data.y_train)
    att = loco(m, data, np.random.default_rng(0), statistic="mean")
    # |y - f_-j| ~ |N(0, s^2 + w_j^2 sd_j^2)|, |y - f| ~ |N(0, s^2)|; E|N(0, v)| = sqrt(2 v / pi)
    expected = np.sqrt(2 / np.pi) * (np.sqrt(NOISE**2 + W**2 * SD**2) - NOISE)
    np.testing.assert_allclose(att.importance[:3], expected[:3], rtol=0.1)
    assert np.all(np.abs(att.importance[3:]) < 0.01)
    # seeded: here the irrelevant features' 90 % intervals contain 0 (uncorrected intervals
    # wrongly exclude 0 for an irrelevant feature about 5 % of the time)
    assert att.extras["n_significant"] == 3


def test_loco_median_matches_simulated_distribution():
    data = _linear_data(seed=2)
    m = least_squares_model(data.X_train, data.y_train)
    att = loco(m, data, np.random.default_rng(0))  # default: median, as in Lei et al.
    # oracle: the median of Delta_j = |e + w_j z_j| - |e| simulated from the true distribution
    rng = np.random.default_rng(9)
    e = NOISE * rng.standard_normal(1_000_000)
    z = rng.standard_normal(1_000_000)
    expected = [np.median(np.abs(e + W[j] * SD[j] * z) - np.abs(e)) for j in range(3)]
    np.testing.assert_allclose(att.importance[:3], expected, rtol=0.15)
    assert np.all(np.abs(att.importance[3:]) < 0.01)
    assert att.extras["n_significant"] == 3 and att.extras["alpha"] == 0.1


def test_median_interval_has_its_nominal_coverage():
    rng = np.random.default_rng(0)
    samples = rng.exponential(size=(4000, 41))  # true median log 2
    med, lo, hi = median_interval(samples, alpha=0.1)
    covered = np.mean((lo <= np.log(2)) & (np.log(2) <= hi))
    # distribution-free: coverage >= 0.9; for n = 41 the order-statistic interval gives 0.94
    assert 0.9 - 0.015 <= covered <= 0.97
    np.testing.assert_array_equal(med, np.median(samples, axis=1))
    # too few rows for any finite 90 % interval: P(Binomial(3, 1/2) = 0) = 1/8 > 0.05
    _, lo3, hi3 = median_interval(samples[:2, :3], alpha=0.1)
    assert np.all(np.isinf(lo3)) and np.all(np.isinf(hi3))


def test_mean_interval_has_its_nominal_coverage():
    rng = np.random.default_rng(1)
    samples = rng.normal(loc=2.0, size=(4000, 200))
    _, lo, hi = mean_interval(samples, alpha=0.1)
    assert np.mean((lo <= 2.0) & (2.0 <= hi)) == pytest.approx(0.9, abs=0.02)


def test_retraining_methods_reject_bad_input():
    data = _linear_data(n_train=50, n_test=50)
    m = least_squares_model(data.X_train, data.y_train)
    with pytest.raises(ValueError, match="statistic='trimmed'"):
        loco(m, data, np.random.default_rng(0), statistic="trimmed")
    with pytest.raises(ValueError, match="alpha=1.5"):
        loco(m, data, np.random.default_rng(0), alpha=1.5)
    m.refit = None
    with pytest.raises(ValueError, match="model.refit is None"):
        drop_column(m, data, np.random.default_rng(0))


def test_drop_column_end_to_end_with_the_real_trainer():
    from varbench.models.mlp import build_mlp
    from varbench.models.trainer import TrainerConfig, train

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = 2.0 * X[:, 0] + 0.5 * X[:, 1] + 0.1 * rng.standard_normal(400)
    data = dataset(X[:300], y[:300], X[300:], y[300:])
    config = TrainerConfig(epochs=15, batch_size=32, lr=0.01, patience=0, val_fraction=0.0, progress_every=0)

    def build(n_features, task):
        return build_mlp(n_features, task, hidden=(8,))

    model = train(build, data.X_train, data.y_train, "regression", seed=0, config=config)
    att = drop_column(model, data, np.random.default_rng(0))
    assert att.extras["n_refits"] == 3 and att.extras["retrain_seconds"] > 0
    assert np.argsort(-att.importance).tolist() == [0, 1, 2]  # 4 > 0.25 > 0 (explained variances)
    assert att.importance[0] > 1.0
    assert model.n_evals == 100 * 4
