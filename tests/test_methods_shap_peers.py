"""Oracle tests for the background-averaged methods that mirror shap's explainers:
`expected_gradients` (shap.GradientExplainer), `deep_shap` (shap.DeepExplainer) and
`sampling_shapley(average_background=True)` (shap.PermutationExplainer).

Oracles: shap itself on a small trained Keras MLP (same rows, same background), closed forms
(DeepSHAP on a linear model, Shapley values of a two-player game), summation-to-delta against
model.predict, and the expected-gradients estimand computed deterministically (Integrated Gradients
from every background row by Gauss-Legendre quadrature). Monte Carlo tolerances are stated in
standard errors estimated from the samples' own spread."""
import warnings

import numpy as np
import pytest

from exact import dataset, function_net, linear_net, mlp_net
from varbench.datasets.synthetic import friedman1
from varbench.methods.gradients import _integrated, deep_shap, deeplift, expected_gradients
from varbench.methods.shapley import kernel_shap, sampling_shapley
from varbench.models.mlp import build_mlp
from varbench.models.trainer import TrainerConfig, train

shap = pytest.importorskip("shap")
Z_MAX = 5.0  # |difference| / its standard error; over <= 100 entries a true |z| > 5 has p < 1e-4


@pytest.fixture(scope="module")
def cell():
    """A small trained ReLU MLP on Friedman #1 (d = 6), 10 explained rows, a 30-row background;
    the dataset is cut to exactly those rows so varbench and shap see the same ones."""
    data = friedman1(n_samples=400, n_features=6, seed=0)
    model = train(lambda n, t: build_mlp(n, t, hidden=(16, 16)), data.X_train, data.y_train, data.task, 0,
                  TrainerConfig(epochs=5, progress_every=0))
    X, bg = data.X_test[:10].astype(np.float32), data.X_train[:30].astype(np.float32)
    return model, dataset(bg, data.y_train[:30], X_test=X, y_test=data.y_test[:10]), X, bg


def _sample_spread(model, X, bg, n, seed=9):
    """Per-entry standard deviation of one expected-gradients sample grad f(b + a (x - b)) * (x - b),
    and of its row sum, from n independent draws (the tolerance's scale, not the estimate)."""
    rng = np.random.default_rng(seed)
    ref = bg[rng.integers(len(bg), size=(len(X), n))]
    diff = X[:, None, :] - ref
    path = ref + rng.random((len(X), n, 1)).astype(np.float32) * diff
    h = model.gradient(path.reshape(-1, X.shape[1])).reshape(diff.shape).astype(np.float64) * diff
    return h.std(axis=1, ddof=1), h.sum(axis=2).std(axis=1, ddof=1)


def test_deep_shap_matches_shap_deep_explainer(cell):
    model, data, X, bg = cell
    ours = deep_shap(model, data, np.random.default_rng(0), n_rows=None, background_size=None)
    np.testing.assert_array_equal(ours.rows, X)  # every row and the whole background, in order
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.asarray(shap.DeepExplainer(model.keras, bg).shap_values(X)).reshape(X.shape)
    scale = np.abs(theirs).max()
    # both are deterministic: they differ by float32 (shap, TensorFlow) against float64 (ours) rounding
    np.testing.assert_allclose(ours.local, theirs, atol=1e-5 * scale)
    assert scale > 0.1 and np.abs(ours.local - deeplift(model, data, None, n_rows=None).local).max() > 1e-3


def test_deep_shap_sums_to_output_minus_mean_background_output(cell):
    model, data, X, bg = cell
    ours = deep_shap(model, data, np.random.default_rng(0), n_rows=None, background_size=None)
    target = model.predict(X).astype(np.float64) - model.predict(bg).astype(np.float64).mean()
    np.testing.assert_allclose(ours.local.sum(axis=1), target, atol=1e-4 * np.abs(target).max())
    assert ours.extras["max_abs_delta"] < 1e-10


def test_deep_shap_on_a_linear_model_is_w_times_x_minus_mean_background():
    rng = np.random.default_rng(1)
    w = np.array([1.5, -2.0, 0.0, 0.5])
    data = dataset(rng.normal(size=(40, 4)), rng.normal(size=40),
                   X_test=rng.normal(size=(12, 4)), y_test=rng.normal(size=12))
    m = linear_net(w, b=0.3)
    att = deep_shap(m, data, np.random.default_rng(0), n_rows=None, background_size=None)
    expected = w * (data.X_test.astype(np.float32) - data.X_train.astype(np.float32).mean(axis=0)).astype(np.float64)
    np.testing.assert_allclose(att.local, expected, rtol=1e-6, atol=1e-6)
    assert m.n_evals == 12 + 40 + 12 * 40


def test_deep_shap_explains_the_chosen_output_column_like_the_engine():
    rng = np.random.default_rng(3)
    sizes = (4, 6, 3)
    m = mlp_net([(2 * rng.normal(size=(a, b)) / np.sqrt(a), 0.5 * rng.normal(size=b))
                 for a, b in zip(sizes[:-1], sizes[1:])], "tanh").for_output(1)
    data = dataset(rng.normal(size=(20, 4)), rng.normal(size=20),
                   X_test=rng.normal(size=(8, 4)), y_test=rng.normal(size=8))
    att = deep_shap(m, data, np.random.default_rng(0), n_rows=None, background_size=None)
    target = m.predict(att.rows).astype(float) - m.predict(data.X_train).astype(float).mean()
    np.testing.assert_allclose(att.local.sum(axis=1), target, atol=1e-5)
    assert att.extras["max_abs_delta"] < 1e-10 and np.ptp(target) > 0.05


def test_deep_shap_is_the_same_in_any_chunk_size(cell):
    model, data, X, bg = cell
    runs = []
    for chunk in (7, 8192):  # a block of one row per 30 pairs, and every pair in one block
        model.chunk_size = chunk
        runs.append(deep_shap(model, data, np.random.default_rng(0), n_rows=None, background_size=None).local)
    model.chunk_size = 8192
    np.testing.assert_array_equal(*runs)


def test_expected_gradients_matches_shap_gradient_explainer_within_sampling_error(cell):
    model, data, X, bg = cell
    S = 2000
    ours = expected_gradients(model, data, np.random.default_rng(0), n_rows=None, background_size=None, n_samples=S)
    np.random.seed(0)  # shap draws from numpy's global generator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.asarray(shap.GradientExplainer(model.keras, bg).shap_values(X, nsamples=S)).reshape(X.shape)
    sd, _ = _sample_spread(model, X, bg, 4000)
    se = sd * np.sqrt(2.0 / S)  # two independent means of S samples each
    z = np.abs(ours.local - theirs) / np.maximum(se, 1e-12)
    assert z.max() < Z_MAX, z.max()
    assert np.abs(ours.local).max() > 20 * se.max()  # the tolerance is far below the values


def test_expected_gradients_estimates_the_mean_of_integrated_gradients_over_the_background(cell):
    model, data, X, bg = cell
    S = 2000
    ours = expected_gradients(model, data, np.random.default_rng(1), n_rows=None, background_size=None, n_samples=S)
    # the estimand, deterministically: IG from each background row (256 Gauss-Legendre nodes), averaged
    igs = [_integrated(model, X, b, 256, "gausslegendre", None) for b in bg]
    estimand = np.mean([phi for phi, _ in igs], axis=0)
    quad = max(extras["max_abs_delta"] for _, extras in igs)  # the quadrature's own completeness error
    sd, sd_sum = _sample_spread(model, X, bg, 4000)
    z = np.abs(ours.local - estimand) / (sd / np.sqrt(S) + quad)
    assert z.max() < Z_MAX, z.max()
    # completeness in expectation: sum_j phi_j - (f(x) - E_b f(b)) is a mean of S zero-mean terms
    target = model.predict(X).astype(np.float64) - model.predict(bg).astype(np.float64).mean()
    z_sum = np.abs(ours.local.sum(axis=1) - target) / (sd_sum / np.sqrt(S))
    assert z_sum.max() < Z_MAX, z_sum.max()
    assert ours.extras["relative_gap"] < 0.05


def test_expected_gradients_is_seeded_and_independent_of_the_chunk_size(cell):
    model, data, X, bg = cell
    runs = []
    for chunk in (64, 8192):
        model.chunk_size = chunk
        runs.append(expected_gradients(model, data, np.random.default_rng(3), n_rows=None, n_samples=50).local)
    model.chunk_size = 8192
    np.testing.assert_array_equal(*runs)
    other = expected_gradients(model, data, np.random.default_rng(4), n_rows=None, n_samples=50).local
    assert np.abs(other - runs[0]).max() > 0


def test_sampling_shapley_averaged_background_is_exact_for_two_players():
    # with d = 2, an order and its reverse are the two orders: antithetic sampling enumerates them
    rng = np.random.default_rng(2)
    data = dataset(rng.normal(size=(25, 2)), rng.normal(size=25),
                   X_test=rng.normal(size=(6, 2)), y_test=rng.normal(size=6))
    m = function_net(lambda z: z[:, 0] * z[:, 1] + z[:, 0], 2)
    att = sampling_shapley(m, data, np.random.default_rng(0), n_rows=None, background_size=None, n_permutations=2,
                           average_background=True)
    x1, x2 = data.X_test[:, 0].astype(np.float64), data.X_test[:, 1].astype(np.float64)
    b = data.X_train.astype(np.float32).astype(np.float64)
    f = lambda u, v: u * v + u  # noqa: E731
    v_empty, v_1 = f(b[:, 0], b[:, 1]).mean(), f(x1[:, None], b[None, :, 1]).mean(axis=1)
    v_2, v_12 = f(b[None, :, 0], x2[:, None]).mean(axis=1), f(x1, x2)
    phi1 = 0.5 * (v_1 - v_empty) + 0.5 * (v_12 - v_2)
    np.testing.assert_allclose(att.local[:, 0], phi1, atol=1e-5)
    np.testing.assert_allclose(att.local.sum(axis=1), v_12 - v_empty, atol=1e-5)


def _shapley_errors(model, data, pairs, seeds=3):
    """Median relative error against the exact Shapley values (KernelSHAP exact mode, same background)
    of sampling_shapley with `pairs` antithetic pairs of orders, one-row and averaged-background modes."""
    exact = kernel_shap(model, data, np.random.default_rng(0), n_rows=None, background_size=None).local
    kw = dict(n_rows=None, background_size=None, n_permutations=2 * pairs)
    errs = {avg: float(np.median([_rel(sampling_shapley(model, data, np.random.default_rng(r), average_background=avg,
                                                        **kw).local, exact) for r in range(seeds)]))
            for avg in (False, True)}
    return exact, errs


def _rel(phi, exact):
    return float(np.linalg.norm(phi - exact) / np.linalg.norm(exact))


def test_sampling_shapley_averaged_background_removes_the_background_noise(cell):
    model, data, X, bg = cell
    _, errs = _shapley_errors(model, data, pairs=6)
    # same orders: the one-row mode's error includes the background row's noise, the averaged mode's not
    assert errs[True] < errs[False] / 5, errs
    assert errs[True] < 0.02, errs


@pytest.mark.slow  # shap's PermutationExplainer compiles its numba kernels on first use (5-10 s)
def test_sampling_shapley_averaged_background_reaches_shap_permutation_error(cell):
    model, data, X, bg = cell
    pairs = 6  # antithetic pairs of orders: shap runs max_evals // (2 d + 1) of them
    exact, errs = _shapley_errors(model, data, pairs)
    np.random.seed(0)
    theirs = shap.PermutationExplainer(model.predict, shap.maskers.Independent(bg, max_samples=len(bg)))(
        X, max_evals=pairs * (2 * X.shape[1] + 1)).values
    # same number of orders, independent draws: within a factor 2 of shap's error either way
    assert 0.5 * _rel(theirs, exact) <= errs[True] <= 2 * _rel(theirs, exact), (errs, _rel(theirs, exact))


def test_sampling_shapley_averaged_background_is_the_same_in_any_chunk_size(cell):
    model, data, X, bg = cell
    runs = []
    for chunk in (37, 8192):  # a block far smaller than one row's walk, and the default
        model.chunk_size = chunk
        runs.append(sampling_shapley(model, data, np.random.default_rng(2), n_rows=None, background_size=None,
                                     n_permutations=4, average_background=True).local)
    model.chunk_size = 8192
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-7, atol=1e-12)  # TF's kernels on tiny batches


def test_default_sampling_shapley_draws_are_unchanged(cell):
    model, data, X, bg = cell
    a = sampling_shapley(model, data, np.random.default_rng(5), n_rows=None, n_permutations=8)
    b = sampling_shapley(model, data, np.random.default_rng(5), n_rows=None, n_permutations=8,
                         average_background=False)
    np.testing.assert_array_equal(a.local, b.local)


@pytest.mark.parametrize("call,message", [
    (lambda m, d: expected_gradients(m, d, None, n_samples=0), "n_samples=0"),
    (lambda m, d: expected_gradients(m, d, np.random.default_rng(0), background_size=0), "background_size=0"),
    (lambda m, d: deep_shap(m, d, np.random.default_rng(0), background_size=-1), "background_size=-1"),
    (lambda m, d: sampling_shapley(m, d, np.random.default_rng(0), average_background="yes"),
     "average_background='yes'"),
])
def test_invalid_parameters_are_named(cell, call, message):
    model, data, _, _ = cell
    with pytest.raises(ValueError, match=message):
        call(model, data)
