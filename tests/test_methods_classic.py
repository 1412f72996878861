"""Oracle tests for the classic methods of Gevrey et al. (2003) / Olden et al. (2004):
PaD, input perturbation, Lek's profile, forward and backward stepwise selection.

Oracles: closed forms on exact Keras models (tests/exact.py): linear nets, a one-hidden-layer
sigmoid net whose derivative is written out in numpy, and function nets with known profiles.
The stepwise tests use the test's own least-squares trainer as `model.refit`, so every retrained
model, and therefore every step's test loss, is known in closed form."""
import numpy as np
import pytest

from exact import dataset, function_net, linear_net, mlp_net
from varbench.methods.base import as_attribution
from varbench.methods.classic import input_perturbation, pad, profile, stepwise_addition, stepwise_elimination

RNG = np.random.default_rng


def _gaussian(n, sd, seed=0, mean=0.0):
    return (RNG(seed).normal(size=(n, len(sd))) * np.asarray(sd) + mean).astype(np.float32)


# ----------------------------------------------------------------------------- PaD

def test_pad_on_a_linear_net_is_n_times_w_squared():
    w = np.array([2.0, -1.0, 0.5, 0.0])
    X = _gaussian(300, [1.0, 2.0, 1.0, 1.0])
    att = as_attribution(pad(linear_net(w, b=0.3), dataset(X, X @ w), RNG(0)), 4)
    np.testing.assert_allclose(att.importance, 300 * w**2, rtol=1e-5)
    assert att.extras["n_rows"] == 300


def test_pad_matches_the_analytic_derivative_of_a_sigmoid_network():
    rng = RNG(3)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    v, c = rng.normal(size=(4, 1)), np.array([0.2])
    model = mlp_net([(W, b), (v, c)], activation="sigmoid")
    X = _gaussian(200, [1.0, 1.0, 1.0], seed=4)
    s = 1 / (1 + np.exp(-(X.astype(np.float64) @ W + b)))
    grad = (s * (1 - s) * v[:, 0]) @ W.T  # df/dx = W (v * sigma'(z)), per row
    att = pad(model, dataset(X, X[:, 0]), RNG(0))
    np.testing.assert_allclose(att.importance, np.sum(grad**2, axis=0), rtol=1e-4)


def test_pad_explains_the_probability_for_classification():
    w = np.array([1.5, -0.5])
    X = _gaussian(200, [1.0, 1.0], seed=5)
    y = (X @ w > 0).astype(np.float32)
    p = 1 / (1 + np.exp(-(X.astype(np.float64) @ w)))
    att = pad(linear_net(w, task="classification"), dataset(X, y, task="classification"), RNG(0))
    np.testing.assert_allclose(att.importance, np.sum((p * (1 - p))[:, None] ** 2 * w**2, axis=0), rtol=1e-4)


def test_pad_uses_the_requested_split_and_rows():
    w = np.array([1.0, 1.0])
    Xtr, Xte = _gaussian(100, [1, 1], seed=1), _gaussian(40, [1, 1], seed=2)
    data = dataset(Xtr, Xtr @ w, Xte, Xte @ w)
    model = linear_net(w)
    assert pad(model, data, RNG(0), split="test").extras["n_rows"] == 40
    assert pad(model, data, RNG(0), n_rows=30).extras["n_rows"] == 30
    assert model.n_evals == 70
    with pytest.raises(ValueError, match="split='validation' is invalid"):
        pad(model, data, RNG(0), split="validation")


# ----------------------------------------------------------------------------- input perturbation

def test_input_perturbation_is_the_closed_form_mse_increase_on_a_linear_net():
    w = np.array([2.0, -1.0, 0.5, 0.0])
    sd = np.array([1.0, 2.0, 0.5, 1.0])
    X = _gaussian(2000, sd, seed=6, mean=3.0)
    data = dataset(X, X @ w + 0.1)  # y = f exactly: the baseline MSE is 0
    model = linear_net(w, b=0.1)
    att = input_perturbation(model, data, RNG(0), noise=0.3, n_repeats=10)
    sd_hat = X.astype(np.float64).std(axis=0)
    # E[MSE increase] = E[(w_j e)^2] = w_j^2 noise^2 sd_j^2; relative sd of the estimate 1.4 %
    np.testing.assert_allclose(att.importance[:3], (w**2 * 0.09 * sd_hat**2)[:3], rtol=0.06)
    assert att.importance[3] == pytest.approx(0.0, abs=1e-9)
    assert att.extras["noise"] == 0.3 and att.extras["base_loss"] == pytest.approx(0.0, abs=1e-8)
    assert model.n_evals == 2000 * (1 + 4 * 10)


def test_input_perturbation_is_deterministic_and_validates():
    w = np.array([1.0, 0.5])
    X = _gaussian(200, [1, 1], seed=7)
    data = dataset(X, X @ w + RNG(1).normal(size=200))
    a = input_perturbation(linear_net(w), data, RNG(4), n_repeats=3)
    b = input_perturbation(linear_net(w), data, RNG(4), n_repeats=3)
    np.testing.assert_array_equal(a.importance, b.importance)
    for bad, match in ((dict(noise=0), "noise=0 is invalid"), (dict(noise=-1.0), "noise=-1.0"),
                       (dict(n_repeats=0), "n_repeats=0 is invalid")):
        with pytest.raises(ValueError, match=match):
            input_perturbation(linear_net(w), data, RNG(0), **bad)


# ----------------------------------------------------------------------------- Lek's profile

def test_profile_of_a_linear_net_is_abs_w_times_the_range():
    w = np.array([2.0, -1.0, 0.5, 0.0])
    X = _gaussian(500, [1.0, 3.0, 1.0, 1.0], seed=8, mean=1.0)
    att = profile(linear_net(w, b=-2.0), dataset(X, X @ w), RNG(0))
    rng_x = X.max(axis=0).astype(np.float64) - X.min(axis=0)
    np.testing.assert_allclose(att.importance, np.abs(w) * rng_x, rtol=1e-4, atol=1e-5)
    assert att.extras == {"n_levels": 5.0, "n_points": 13.0}


def test_profile_closed_forms_of_a_square_and_an_interaction():
    """f = x0^2 + x1: the profile of x0 is x0^2 + median(x1) (range: max minus min of x^2 on the
    13-point grid), that of x1 has slope 1 (range: range(x1)). g = x0 x1: at each level the
    profile of x0 is x0 times a quantile of x1, so the median over the 5 levels is x0 median(x1)
    and the range is |median(x1)| range(x0): the interaction hides when x1 is centred at 0."""
    X = _gaussian(401, [1.0, 1.0], seed=9) + np.float32([0.0, 0.7])
    data = dataset(X, RNG(0).normal(size=401))
    g0 = np.linspace(X[:, 0].min(), X[:, 0].max(), 13).astype(np.float64)
    rng_x = X.max(axis=0).astype(np.float64) - X.min(axis=0)
    square = profile(function_net(lambda x: x[:, 0] ** 2 + x[:, 1], 2), data, RNG(0))
    np.testing.assert_allclose(square.importance, [(g0**2).max() - (g0**2).min(), rng_x[1]], rtol=1e-4)
    inter = profile(function_net(lambda x: x[:, 0] * x[:, 1], 2), data, RNG(0))
    med = np.median(X.astype(np.float64), axis=0)
    np.testing.assert_allclose(inter.importance, [abs(med[1]) * rng_x[0], abs(med[0]) * rng_x[1]], rtol=1e-4)


def test_profile_validates_its_parameters():
    X = _gaussian(50, [1, 1], seed=10)
    data = dataset(X, X[:, 0])
    with pytest.raises(ValueError, match="n_points=1 is invalid"):
        profile(linear_net([1.0, 1.0]), data, RNG(0), n_points=1)
    with pytest.raises(ValueError, match="levels=.*is invalid"):
        profile(linear_net([1.0, 1.0]), data, RNG(0), levels=[0.5, 1.5])


# ----------------------------------------------------------------------------- stepwise selection

def least_squares_model(X, y):
    """The test's trainer: OLS with intercept as an exact Keras linear net that can refit itself."""
    A = np.column_stack([np.ones(len(X)), X]).astype(np.float64)
    coef = np.linalg.lstsq(A, np.asarray(y, np.float64), rcond=None)[0]
    m = linear_net(coef[1:], b=float(coef[0]))
    m.refit = least_squares_model
    return m


W = np.array([2.0, -1.0, 0.5, 0.0, 0.0])
SD = np.array([1.0, 1.5, 1.0, 1.0, 2.0])
NOISE = 0.5


def _independent(seed=0, n=4000):
    X = _gaussian(2 * n, SD, seed=seed, mean=1.0)
    y = X @ W + NOISE * RNG(seed + 100).normal(size=2 * n)
    return dataset(X[:n], y[:n], X[n:], y[n:])


@pytest.mark.parametrize("method", [stepwise_addition, stepwise_elimination])
def test_stepwise_ranks_independent_features_by_explained_variance(method):
    data = _independent()
    model = least_squares_model(data.X_train, data.y_train)
    att = as_attribution(method(model, data, RNG(0)), 5)
    # explained variance w_j^2 sd_j^2 = 4, 2.25, 0.25, 0, 0: x0, x1, x2 in that order, then noise
    assert list(att.importance[:3]) == [5.0, 4.0, 3.0]
    assert sorted(att.importance[3:]) == [1.0, 2.0]
    assert att.extras["n_refits"] == 14  # 5 + 4 + 3 + 2 (the last step needs none)
    assert att.extras["retrain_seconds"] > 0


def test_stepwise_step_losses_are_the_closed_form_residual_variances():
    data = _independent(seed=1)
    explained = W**2 * SD**2
    add = stepwise_addition(least_squares_model(data.X_train, data.y_train), data, RNG(0))
    # after adding x0, then x1, then x2: the unexplained variance of the features not yet in
    for k, left in ((1, explained[1:].sum()), (2, explained[2:].sum()), (3, 0.0)):
        assert add.extras[f"loss_after_step_{k}"] == pytest.approx(NOISE**2 + left, rel=0.06)
    assert add.extras["loss_no_input"] == pytest.approx(NOISE**2 + explained.sum(), rel=0.06)
    elim = stepwise_elimination(least_squares_model(data.X_train, data.y_train), data, RNG(0))
    assert elim.extras["full_loss"] == pytest.approx(NOISE**2, rel=0.06)
    # the last elimination removes x1 and leaves x0 alone
    assert elim.extras["loss_after_step_4"] == pytest.approx(NOISE**2 + explained[1:].sum(), rel=0.06)


def test_forward_and_backward_disagree_on_a_suppressor_pair():
    """y = 10 (x0 - x1) + x2 + e with x0, x1 near-copies of one z: alone, neither x0 nor x1
    explains y (their difference is tiny noise with variance 0.02, times 100 = 2), x2 explains 1
    of 3.25. Forward addition takes x2 first (most important); backward elimination removes the
    noise inputs, then x2 (its removal costs 1, breaking the pair costs ~2): x2 ends third."""
    rng = RNG(11)
    n = 8000
    z = rng.normal(size=n)
    X = np.column_stack([z + 0.1 * rng.normal(size=n), z + 0.1 * rng.normal(size=n), rng.normal(size=n),
                         rng.normal(size=n), rng.normal(size=n)]).astype(np.float32)
    y = 10 * (X[:, 0] - X[:, 1]) + X[:, 2] + 0.5 * rng.normal(size=n)
    data = dataset(X[: n // 2], y[: n // 2], X[n // 2:], y[n // 2:])
    add = stepwise_addition(least_squares_model(data.X_train, data.y_train), data, RNG(0))
    elim = stepwise_elimination(least_squares_model(data.X_train, data.y_train), data, RNG(0))
    assert add.importance[2] == 5.0 and add.extras["loss_after_step_1"] == pytest.approx(2.0 + 0.25, rel=0.1)
    assert elim.importance[2] == 3.0 and sorted(elim.importance[:2]) == [4.0, 5.0]
    assert sorted(elim.importance[3:]) == [1.0, 2.0]
    assert elim.extras["loss_after_step_3"] == pytest.approx(1.0 + 0.25, rel=0.1)


def test_stepwise_needs_refit_and_two_features():
    data = _independent(n=50)
    model = least_squares_model(data.X_train, data.y_train)
    model.refit = None
    for method in (stepwise_addition, stepwise_elimination):
        with pytest.raises(ValueError, match="model.refit is None"):
            method(model, data, RNG(0))
    X = _gaussian(60, [1.0], seed=12)
    one = dataset(X, X[:, 0])
    with pytest.raises(ValueError, match="n_features=1 is invalid"):
        stepwise_addition(least_squares_model(X, X[:, 0]), one, RNG(0))


def test_stepwise_addition_end_to_end_with_the_real_trainer():
    from varbench.models.mlp import build_mlp
    from varbench.models.trainer import TrainerConfig, train

    rng = RNG(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = 2.0 * X[:, 0] + 0.7 * X[:, 1] + 0.1 * rng.normal(size=300)
    data = dataset(X[:200], y[:200], X[200:], y[200:])
    config = TrainerConfig(epochs=40, batch_size=50, lr=0.03, patience=0, val_fraction=0.0, progress_every=0)
    model = train(lambda n, t: build_mlp(n, t, hidden=(4,), activation="sigmoid"), data.X_train, data.y_train,
                  "regression", seed=0, config=config)
    model.n_evals = 0
    att = stepwise_addition(model, data, RNG(0))
    assert list(att.importance) == [3.0, 2.0, 1.0]
    assert att.extras["n_refits"] == 5 and model.n_evals == 100 * 6  # 5 refits + the full model
