"""Oracle tests for the gradient methods: saliency, gradient x input, Integrated Gradients,
SmoothGrad and DeepLIFT (Rescale).

Oracles: closed forms on linear / product / one-linear-region networks, the completeness
axiom checked against model.predict, Keras itself for the activation table, central finite
differences of model.predict for classification gradients, and exact polynomial integrals for
the quadrature rules."""
import numpy as np
import pytest

from exact import dataset, function_net, linear_net, mlp_net
from varbench.methods.base import as_attribution
from varbench.methods.gradients import (ACTIVATIONS, QUADRATURES, SMOOTHGRAD_BASES, deeplift, grad_input,
                                        integrated_gradients, path_quadrature, saliency, smoothgrad)

W = np.array([1.5, -2.0, 0.0, 0.5])


def _data(n=40, d=4, seed=0, scale=1.0, task="regression"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * scale + 0.3
    y = (rng.uniform(size=n) < 0.5).astype(float) if task == "classification" else rng.normal(size=n)
    y[:2] = [0.0, 1.0]
    return dataset(X, y, X_test=rng.normal(size=(n, d)) * scale, y_test=y, task=task)


def _rand_mlp(activation, d=4, hidden=(16, 16), seed=0, task="regression", scale=1.0, n_out=1):
    rng = np.random.default_rng(seed)
    sizes = (d, *hidden, n_out)
    layers = [(scale * rng.normal(size=(a, b)) / np.sqrt(a), 0.5 * rng.normal(size=b))
              for a, b in zip(sizes[:-1], sizes[1:])]
    return mlp_net(layers, activation, task)


def _rows(data, n_rows, seed):
    """The rows the methods explain with this seed (same sampling as theirs)."""
    from varbench.methods.base import sample_rows

    return data.X_test[sample_rows(data.X_test.shape[0], n_rows, np.random.default_rng(seed))]


# ----------------------------------------------------------------------------- linear model

def test_saliency_and_grad_input_on_linear_model():
    m, data = linear_net(W, b=0.7), _data()
    X = _rows(data, 10, 0)
    sal = saliency(m, data, np.random.default_rng(0), n_rows=10)
    np.testing.assert_allclose(sal.local, np.tile(np.abs(W), (10, 1)), rtol=1e-6)
    assert sal.aggregation == "mean_abs_local" and sal.rows is None
    gi = grad_input(m, data, np.random.default_rng(0), n_rows=10)
    np.testing.assert_allclose(gi.local, W * X, rtol=1e-5, atol=1e-6)
    assert gi.rows is None
    assert m.n_evals == 20
    att = as_attribution(gi, 4)
    np.testing.assert_allclose(att.importance, np.mean(np.abs(W * X), axis=0), rtol=1e-5)


def test_integrated_gradients_zero_baseline_is_w_times_x():
    m, data = linear_net(W, b=-1.0), _data()
    att = integrated_gradients(m, data, np.random.default_rng(3), n_rows=12, baseline="zero", steps=5)
    X = _rows(data, 12, 3)
    np.testing.assert_allclose(att.local, W * X, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(att.rows, X)
    assert att.extras["max_abs_delta"] < 1e-5


LINEAR_METHODS = [
    ("grad_input", lambda m, d, b: grad_input(m, d, np.random.default_rng(1), n_rows=8, baseline=b)),
    ("deeplift", lambda m, d, b: deeplift(m, d, np.random.default_rng(1), n_rows=8, baseline=b)),
    *[(f"ig_{q}", lambda m, d, b, q=q: integrated_gradients(m, d, np.random.default_rng(1), n_rows=8,
                                                            baseline=b, steps=3, method=q))
      for q in QUADRATURES],
    *[(f"smoothgrad_{base}", lambda m, d, b, base=base: smoothgrad(
        m, d, np.random.default_rng(1), base=base, noise=0.5, n_samples=7, n_rows=8, baseline=b, steps=3))
      for base in ("grad_input", "integrated_gradients")],
]


@pytest.mark.parametrize("baseline", ["mean", 0.8])
def test_every_method_gives_exact_shapley_on_linear_model(baseline):
    # For f = w.x + c with baseline b, the exact Shapley value is w_j (x_j - b_j).
    m, data = linear_net(W, b=0.2), _data()
    b = data.X_train.mean(axis=0) if baseline == "mean" else np.full(4, baseline)
    expected = W * (_rows(data, 8, 1) - b)
    for name, method in LINEAR_METHODS:
        np.testing.assert_allclose(method(m, data, baseline).local, expected, rtol=1e-5, atol=1e-5,
                                   err_msg=name)


def test_smoothgrad_on_linear_model_equals_its_base_with_noise():
    m, data = linear_net(W, b=0.2), _data()
    for base in SMOOTHGRAD_BASES:
        sg = smoothgrad(m, data, np.random.default_rng(2), base=base, noise=1.0, n_samples=9, n_rows=6,
                        baseline="mean", steps=4)
        ref = {"saliency": saliency(m, data, np.random.default_rng(2), n_rows=6),
               "grad_input": grad_input(m, data, np.random.default_rng(2), n_rows=6, baseline="mean"),
               "integrated_gradients": integrated_gradients(m, data, np.random.default_rng(2), n_rows=6,
                                                            baseline="mean", steps=4)}[base]
        np.testing.assert_allclose(sg.local, ref.local, rtol=1e-5, atol=1e-6, err_msg=base)


# ----------------------------------------------------------------------------- Integrated Gradients

@pytest.mark.parametrize("activation,method,steps", [("tanh", "gausslegendre", 64),
                                                     ("relu", "riemann_middle", 20000)])
def test_integrated_gradients_completeness_against_predict(activation, method, steps):
    # ReLU paths have kinks, so every rule converges as O(1/steps): many cheap steps are needed.
    m, data = _rand_mlp(activation), _data()
    att = integrated_gradients(m, data, np.random.default_rng(0), n_rows=6, baseline="mean",
                               steps=steps, method=method)
    b = data.X_train.mean(axis=0, keepdims=True)
    target = m.predict(att.rows).astype(float) - m.predict(b).astype(float)
    np.testing.assert_allclose(att.local.sum(axis=1), target, atol=1e-4)
    assert att.extras["max_abs_delta"] < 1e-4
    assert att.extras["mean_abs_delta"] <= att.extras["max_abs_delta"]


def test_gauss_legendre_beats_left_riemann_on_a_smooth_network():
    m, data = _rand_mlp("tanh", seed=4), _data()
    for steps in (8, 16):
        gl = integrated_gradients(m, data, np.random.default_rng(0), n_rows=10, steps=steps,
                                  method="gausslegendre")
        left = integrated_gradients(m, data, np.random.default_rng(0), n_rows=10, steps=steps,
                                    method="riemann_left")
        assert gl.extras["max_abs_delta"] < left.extras["max_abs_delta"] / 10
        assert left.extras["max_abs_delta"] > 1e-4  # the comparison is not between two roundings


def test_integrated_gradients_on_product_closed_form():
    m = function_net(lambda z: z[:, 0] * z[:, 1], 2)
    data = dataset(np.random.default_rng(0).normal(size=(30, 2)), np.arange(30.0))
    att = integrated_gradients(m, data, np.random.default_rng(0), n_rows=10, baseline="zero", steps=4)
    x0, x1 = att.rows[:, 0].astype(float), att.rows[:, 1].astype(float)
    np.testing.assert_allclose(att.local, np.stack([x0 * x1 / 2] * 2, axis=1), rtol=1e-5, atol=1e-6)
    # general baseline b: phi_0 = (x0 - b0)(b1 + (x1 - b1)/2), the path integrand is linear
    att = integrated_gradients(m, data, np.random.default_rng(0), n_rows=10, baseline=0.5, steps=2,
                               method="riemann_trapezoid")
    expected = np.stack([(x0 - 0.5) * (0.5 + (x1 - 0.5) / 2), (x1 - 0.5) * (0.5 + (x0 - 0.5) / 2)], axis=1)
    np.testing.assert_allclose(att.local, expected, rtol=1e-5, atol=1e-6)


def test_integrated_gradients_is_one_batched_call(monkeypatch):
    m, data = _rand_mlp("tanh"), _data()
    calls = {"gradient": [], "predict": []}
    for kind in calls:
        real = getattr(m, kind)
        monkeypatch.setattr(m, kind, lambda X, real=real, kind=kind: (calls[kind].append(len(X)), real(X))[1])
    integrated_gradients(m, data, np.random.default_rng(0), n_rows=7, steps=9)
    assert calls == {"gradient": [7 * 9], "predict": [7 + 1]}
    assert m.n_evals == 7 * 9 + 7 + 1  # rows x steps gradients + f(x) and f(baseline) for the delta
    calls = {"gradient": [], "predict": []}
    smoothgrad(m, data, np.random.default_rng(0), base="integrated_gradients", n_rows=5, n_samples=3, steps=4)
    assert calls == {"gradient": [5 * 3 * 4], "predict": [2 * 5 * 3]}
    calls = {"gradient": [], "predict": []}
    smoothgrad(m, data, np.random.default_rng(0), base="grad_input", n_rows=5, n_samples=3)
    assert calls == {"gradient": [5 * 3], "predict": []}


def test_path_quadrature_integrates_polynomials():
    for steps in (1, 3, 6):
        a, w = path_quadrature(steps, "gausslegendre")
        for p in range(2 * steps):  # exact up to degree 2 steps - 1
            assert w @ a**p == pytest.approx(1 / (p + 1), rel=1e-12)
    a, w = path_quadrature(4, "riemann_trapezoid")
    np.testing.assert_allclose(a, [0, 1 / 3, 2 / 3, 1])
    assert w @ a == pytest.approx(0.5) and w @ a**2 == pytest.approx(1 / 3 + 1 / 54)
    for method, first in [("riemann_left", 0.0), ("riemann_right", 0.25), ("riemann_middle", 0.125)]:
        a, w = path_quadrature(4, method)
        assert a[0] == pytest.approx(first) and w.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(np.diff(a), 0.25)
    assert path_quadrature(4, "riemann_middle")[1] @ path_quadrature(4, "riemann_middle")[0] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- SmoothGrad

@pytest.mark.parametrize("base", SMOOTHGRAD_BASES)
def test_smoothgrad_with_zero_noise_equals_base(base):
    m, data = _rand_mlp("tanh", seed=2), _data()
    kw = dict(n_rows=6, baseline="median", steps=16)
    ref = {"saliency": lambda: saliency(m, data, np.random.default_rng(5), n_rows=6),
           "grad_input": lambda: grad_input(m, data, np.random.default_rng(5), n_rows=6, baseline="median"),
           "integrated_gradients": lambda: integrated_gradients(m, data, np.random.default_rng(5), **kw)}[base]()
    sg = smoothgrad(m, data, np.random.default_rng(5), base=base, noise=0.0, n_samples=4, **kw)
    np.testing.assert_allclose(sg.local, ref.local, rtol=1e-5, atol=1e-7)
    if base == "integrated_gradients":
        assert sg.extras["max_abs_delta"] < 1e-5


def test_smoothgrad_noise_changes_a_nonlinear_model_and_is_seeded():
    m, data = _rand_mlp("tanh", seed=2, scale=3.0), _data()
    a = smoothgrad(m, data, np.random.default_rng(7), noise=0.5, n_samples=16, n_rows=6)
    b = smoothgrad(m, data, np.random.default_rng(7), noise=0.5, n_samples=16, n_rows=6)
    np.testing.assert_array_equal(a.local, b.local)
    plain = saliency(m, data, np.random.default_rng(7), n_rows=6)
    assert np.max(np.abs(a.local - plain.local)) > 1e-2
    # IG on the smoothed model is complete w.r.t. the noisy end points (same draw along the path)
    ig = smoothgrad(m, data, np.random.default_rng(7), base="integrated_gradients", noise=0.5,
                    n_samples=8, n_rows=6, steps=64, baseline="mean")
    assert ig.extras["max_abs_delta"] < 1e-4 and ig.rows is None


# ----------------------------------------------------------------------------- DeepLIFT

@pytest.mark.parametrize("activation,task,output", [("relu", "regression", "auto"), ("tanh", "regression", "auto"),
                                                    ("relu", "classification", "prob"),
                                                    ("tanh", "classification", "logit"),
                                                    ("elu", "regression", "auto")])
def test_deeplift_summation_to_delta_against_predict(activation, task, output):
    m = _rand_mlp(activation, hidden=(12, 8, 6), seed=3, task=task, scale=2.0)
    m.output = output
    data = _data(task=task, scale=2.0)
    att = deeplift(m, data, np.random.default_rng(0), n_rows=15, baseline="mean")
    b = data.X_train.mean(axis=0, keepdims=True)
    target = m.predict(att.rows).astype(float) - m.predict(b).astype(float)
    np.testing.assert_allclose(att.local.sum(axis=1), target, atol=1e-4)
    assert att.extras["max_abs_delta"] < 1e-8
    assert np.ptp(target) > 0.05  # the test is not vacuous
    if output == "prob":
        assert np.all(np.abs(target) < 1)


def test_deeplift_explains_the_chosen_output_column_like_the_engine():
    m = _rand_mlp("tanh", hidden=(6,), seed=2, n_out=3, scale=2.0).for_output(1)
    data = _data(scale=2.0)
    att = deeplift(m, data, np.random.default_rng(0), n_rows=10, baseline="zero")
    target = m.predict(att.rows).astype(float) - m.predict(np.zeros((1, 4))).astype(float)
    np.testing.assert_allclose(att.local.sum(axis=1), target, atol=1e-5)
    assert att.extras["max_abs_delta"] < 1e-8  # the delta is of the explained column too


def test_deeplift_counts_two_passes_per_row_and_differs_from_gradients():
    m = _rand_mlp("relu", hidden=(12, 8), seed=1, scale=2.0)
    data = _data(scale=2.0)
    att = deeplift(m, data, np.random.default_rng(0), n_rows=9)
    assert m.n_evals == 2 * 9
    gi = grad_input(m, data, np.random.default_rng(0), n_rows=9, baseline="mean")
    assert np.max(np.abs(att.local - gi.local)) > 1e-3  # kinks between x and b: not a gradient


def test_deeplift_equals_ig_and_gradient_in_one_linear_region():
    # One hidden ReLU layer; large biases keep every unit's sign fixed for |x| <= 1 and the
    # baseline, so f is affine there: phi = (x - b) * W1 @ (W2 * active) for all three methods.
    rng = np.random.default_rng(0)
    W1 = rng.uniform(-0.5, 0.5, size=(3, 6)); b1 = np.array([5.0, -5, 5, -5, 5, 5])
    W2 = rng.normal(size=(6, 1)); b2 = np.array([0.3])
    m = mlp_net([(W1, b1), (W2, b2)], "relu")
    X = rng.uniform(-1, 1, size=(20, 3))
    data = dataset(X, np.arange(20.0))
    base = 0.25
    expected = (X - base) * (W1 @ (W2[:, 0] * (b1 > 0)))
    kw = dict(n_rows=None, baseline=base)
    for att in (deeplift(m, data, None, **kw), integrated_gradients(m, data, None, steps=3, **kw),
                grad_input(m, data, None, **kw)):
        np.testing.assert_allclose(att.local, expected, rtol=1e-5, atol=1e-6)


def test_deeplift_on_the_project_builder_with_dropout():
    from varbench.models.mlp import build_mlp
    from varbench.models.trained import TrainedModel

    import keras

    keras.utils.set_random_seed(0)
    m = TrainedModel(keras=build_mlp(4, "classification", hidden=(8, 8), activation="tanh", dropout=0.3),
                     task="classification")
    data = _data(task="classification")
    att = deeplift(m, data, np.random.default_rng(0), n_rows=10, baseline="zero")
    target = m.predict(att.rows).astype(float) - m.predict(np.zeros((1, 4))).astype(float)
    np.testing.assert_allclose(att.local.sum(axis=1), target, atol=1e-5)


def test_deeplift_rejects_unsupported_architectures():
    import keras

    data = _data(d=2)
    with pytest.raises(ValueError, match="Dense"):
        deeplift(function_net(lambda z: z[:, 0] * z[:, 1], 2), data, None)
    from varbench.models.trained import TrainedModel

    inp = keras.Input((2,))
    h = keras.layers.Dense(3)(inp)
    branch = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Add()([h, keras.layers.Dense(3)(inp)])))
    with pytest.raises(ValueError, match="chain"):
        deeplift(TrainedModel(branch, "regression"), data, None)
    soft = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Dense(3, activation="softmax")(inp)))
    with pytest.raises(ValueError, match="softmax"):
        deeplift(TrainedModel(soft, "regression"), data, None)
    bn = keras.Model(inp, keras.layers.Dense(1)(keras.layers.BatchNormalization()(inp)))
    with pytest.raises(ValueError, match="BatchNormalization"):
        deeplift(TrainedModel(bn, "regression"), data, None)


def test_activation_table_matches_keras():
    import keras
    import tensorflow as tf

    z = np.concatenate([np.linspace(-7, 7, 141), [-1e-3, 1e-3, 5.9, 6.1]])
    for name, (fn, grad) in ACTIVATIONS.items():
        act = keras.activations.get(name)
        zt = tf.constant(z, tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(zt)
            out = act(zt)
        np.testing.assert_allclose(fn(z), out.numpy(), rtol=1e-6, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(grad(z), tape.gradient(out, zt).numpy(), rtol=1e-6, atol=1e-9, err_msg=name)


# ----------------------------------------------------------------------------- classification

@pytest.mark.parametrize("output", ["prob", "logit"])
def test_classification_gradients_match_finite_differences(output):
    m = _rand_mlp("tanh", seed=5, task="classification")
    m.output = output
    data = _data(task="classification")
    att = saliency(m, data, np.random.default_rng(0), n_rows=8)
    X = _rows(data, 8, 0).astype(np.float64)
    h = 1e-2
    steps = np.eye(4) * h
    probes = np.concatenate([X[:, None, :] + steps, X[:, None, :] - steps], axis=1).reshape(-1, 4)
    f = m.predict(probes).astype(np.float64).reshape(8, 2, 4)
    fd = (f[:, 0] - f[:, 1]) / (2 * h)
    np.testing.assert_allclose(att.local, np.abs(fd), atol=2e-4)
    assert np.max(att.local) > 0.01
    ig = integrated_gradients(m, data, np.random.default_rng(0), n_rows=8, steps=32)
    assert ig.extras["max_abs_delta"] < 1e-5  # complete w.r.t. the same output predict returns


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize("call,message", [
    (lambda m, d: integrated_gradients(m, d, None, steps=0), "steps=0"),
    (lambda m, d: integrated_gradients(m, d, None, steps=1, method="riemann_trapezoid"), "steps=1"),
    (lambda m, d: integrated_gradients(m, d, None, method="simpson"), "method='simpson'"),
    (lambda m, d: integrated_gradients(m, d, None, baseline="mode"), "baseline='mode'"),
    (lambda m, d: smoothgrad(m, d, None, base="deeplift"), "base='deeplift'"),
    (lambda m, d: smoothgrad(m, d, None, noise=-0.1), "noise=-0.1"),
    (lambda m, d: smoothgrad(m, d, None, n_samples=0), "n_samples=0"),
    (lambda m, d: saliency(m, d, None, n_rows=0), "n_rows=0"),
    (lambda m, d: deeplift(m, d, None, baseline="first"), "baseline='first'"),
])
def test_invalid_parameters_are_named(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call(linear_net(W), _data())


def test_relative_completeness_gap_hand_computed():
    from varbench.methods.gradients import _deltas

    d = _deltas(np.array([1.0, 2.0]), np.array([1.1, -2.0]))
    assert d["mean_abs_delta"] == pytest.approx((0.1 + 4.0) / 2)
    assert d["relative_gap"] == pytest.approx(((0.1 + 4.0) / 2) / ((1.1 + 2.0) / 2))
    assert np.isnan(_deltas(np.array([0.0]), np.array([0.0]))["relative_gap"])
