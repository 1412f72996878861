"""`varbench.importance` on small real Keras models of every supported kind (trained here, seconds):
sigmoid binary, softmax 3-class with int and one-hot labels, 2-output regression, Normalization +
Dropout on raw-unit inputs, and a DataFrame with a one-hot categorical group. Planted relevant
variables must come out on top for permutation, kernel_shap, integrated_gradients and lime; the
intervals must cover a second independent run at roughly their nominal rate; bad input gets one
line. Oracles: a linear softmax model's per-class gradients and exact Shapley values in closed
form; grouped exact Shapley against brute force over the groups."""
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest

import varbench
from varbench.api import describe_methods, plot_importance

CORE = ["permutation", "kernel_shap", "integrated_gradients", "lime"]
SMALL = {"permutation": {"n_repeats": 5}, "kernel_shap": {"n_rows": 40, "background_size": 30},
         "integrated_gradients": {"n_rows": 150, "steps": 16}, "lime": {"n_rows": 40, "n_samples": 300}}
N, D = 800, 5


def _fit(net, X, y, loss, epochs=40):
    import keras

    net.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    net.fit(X, y, epochs=epochs, batch_size=64, verbose=0)
    return net


def _mlp(d, units, activation, pre=()):
    import keras

    layers = [keras.Input((d,)), *pre, keras.layers.Dense(16, activation="relu"),
              keras.layers.Dense(units, activation=activation)]
    return keras.Sequential(layers)


def _signal(rng):
    X = rng.normal(size=(N, D)).astype(np.float32)
    return X, 2.0 * X[:, 0] - 1.5 * X[:, 1]  # x0, x1 relevant; x2..x4 noise


@pytest.fixture(scope="module")
def kinds():
    return build_kinds()


def build_kinds():
    """{kind: (model, X, y, relevant variable names)}: one small trained Keras model per kind
    (also used by experiments/own_models/table.py)."""
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    out = {}
    X, z = _signal(rng)
    yb = (z + 0.3 * rng.normal(size=N) > 0).astype(int)
    out["sigmoid binary"] = (_fit(_mlp(D, 1, "sigmoid"), X, yb, "binary_crossentropy"), X, yb, {"x0", "x1"})
    yc = np.digitize(z, [-1.0, 1.0])
    net3 = _fit(_mlp(D, 3, "softmax"), X, yc, "sparse_categorical_crossentropy")
    out["softmax 3-class int"] = (net3, X, yc, {"x0", "x1"})
    out["softmax 3-class one-hot"] = (net3, X, np.eye(3)[yc], {"x0", "x1"})
    Y2 = np.stack([2.0 * X[:, 0], -2.0 * X[:, 1]], axis=1) + 0.1 * rng.normal(size=(N, 2))
    out["2-output regression"] = (_fit(_mlp(D, 2, None), X, Y2, "mse"), X, Y2, {"x0", "x1"})
    scale, shift = np.array([100.0, 0.01, 1.0, 10.0, 1000.0]), np.array([5e3, 0.0, -3.0, 0.0, 1e4])
    Xraw = (X * scale + shift).astype(np.float64)  # raw units; the network normalises them itself
    norm = keras.layers.Normalization()
    norm.adapt(Xraw.astype(np.float32))
    net_n = _mlp(D, 1, None, pre=[norm, keras.layers.Dropout(0.2)])
    out["Normalization+Dropout"] = (_fit(net_n, Xraw, z, "mse"), Xraw, z, {"x0", "x1"})
    colour = rng.integers(3, size=N)
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    for i, name in enumerate(["red", "green", "blue"]):
        df[f"colour_{name}"] = (colour == i).astype(int)
    yg = 2.0 * df["a"] + np.array([-2.0, 0.0, 2.0])[colour] + 0.1 * rng.normal(size=N)
    out["DataFrame + one-hot group"] = (_fit(_mlp(6, 1, None), df.to_numpy(np.float32), yg.to_numpy(), "mse"),
                                        df, yg, {"a", "colour"})
    return out


GROUPS = {"colour": ["colour_red", "colour_green", "colour_blue"]}


def _run(kinds, kind, method, seed=0, **extra):
    model, X, y, _ = kinds[kind]
    groups = GROUPS if kind.startswith("DataFrame") else None
    return varbench.importance(model, X, y, method=method, groups=groups, seed=seed, **SMALL[method], **extra)


KINDS = ["sigmoid binary", "softmax 3-class int", "softmax 3-class one-hot", "2-output regression",
         "Normalization+Dropout", "DataFrame + one-hot group"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", CORE)
def test_the_planted_variables_come_out_on_top(kinds, kind, method):
    relevant = kinds[kind][3]
    r = _run(kinds, kind, method)
    top = set(r["importance"].nlargest(len(relevant)).index)
    assert top == relevant, r
    assert list(r.columns[:5]) == ["importance", "se", "ci_low", "ci_high", "std"]
    assert np.all(np.isfinite(r[["se", "ci_low", "ci_high"]].to_numpy()))
    assert np.all(r["ci_low"] <= r["importance"] + 1e-12) and np.all(r["importance"] <= r["ci_high"] + 1e-12)
    assert r.attrs["method"] == method and r.attrs["n_model_evals"] > 0
    per_output = [c for c in r.columns if c.startswith("importance[")]
    multi = kind.startswith("softmax") or kind.startswith("2-output")
    loss_on_classes = method == "permutation" and kind.startswith("softmax")
    assert len(per_output) == (0 if not multi or loss_on_classes else (3 if kind.startswith("softmax") else 2))
    if per_output:  # the overall value is the mean over outputs
        np.testing.assert_allclose(r["importance"], r[per_output].mean(axis=1), rtol=1e-12)
    if kind == "2-output regression":  # each output has its own relevant input
        assert r["importance[0]"].idxmax() == "x0" and r["importance[1]"].idxmax() == "x1"


def test_dataframe_names_and_groups_index_the_result(kinds):
    r = _run(kinds, "DataFrame + one-hot group", "permutation")
    assert list(r.index) == ["a", "b", "c", "colour"] and r.index.name == "variable"


def test_one_hot_and_int_labels_give_the_same_answer(kinds):
    a = _run(kinds, "softmax 3-class int", "kernel_shap")
    b = _run(kinds, "softmax 3-class one-hot", "kernel_shap")
    pd.testing.assert_frame_equal(a, b)


def test_intervals_cover_a_second_independent_run(kinds):
    """Two runs with independent seeds: the second's value lies in the first's 95 % interval at
    roughly the nominal rate (both runs are noisy: ~83 % for equal variances)."""
    hits = []
    for method in CORE:
        for seed in (1, 3, 5):
            a = _run(kinds, "sigmoid binary", method, seed=seed)
            b = _run(kinds, "sigmoid binary", method, seed=seed + 1)
            hits += list((b["importance"] >= a["ci_low"]) & (b["importance"] <= a["ci_high"]))
    rate = float(np.mean(hits))
    print(f"coverage of a second run by the 95 % intervals: {rate:.2f} over {len(hits)} values")
    assert 0.6 <= rate <= 0.99, rate


def test_sigmoid_model_logit_output_is_the_log_odds(kinds):
    model, X, y, _ = kinds["sigmoid binary"]
    from varbench.models.trained import TrainedModel

    prob, logit = TrainedModel(model, "classification"), TrainedModel(model, "classification", output="logit")
    p, z = prob.predict(X[:200]).astype(np.float64), logit.predict(X[:200]).astype(np.float64)
    ok = np.abs(z) < 8  # beyond, float32 P(class 1) saturates; the logit is read before the sigmoid
    assert ok.sum() > 50 and np.isfinite(z).all()
    np.testing.assert_allclose(z[ok], np.log(p[ok] / (1 - p[ok])), rtol=2e-3, atol=2e-3)
    r = varbench.importance(model, X, y, method="integrated_gradients", output="logit", n_rows=50, steps=16)
    assert r.attrs["explains"] == "the class-1 logit"


def test_loss_based_methods_use_the_heads_loss(kinds):
    model, X, y, _ = kinds["softmax 3-class int"]
    from varbench.models.trained import TrainedModel

    m = TrainedModel(model, "multiclass")
    P = np.asarray(model(X[:100]), dtype=np.float64)
    np.testing.assert_allclose(m.loss(X[:100], y[:100]), -np.log(P[np.arange(100), y[:100]]), rtol=1e-5)
    assert "categorical cross-entropy" in _run(kinds, "softmax 3-class int", "permutation").attrs["explains"]


# ----------------------------------------------------------------------------- bad input: one line

def _multi_input():
    import keras

    a, b = keras.Input((2,)), keras.Input((3,))
    return keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Concatenate()([a, b])))


@pytest.mark.parametrize("case, match", [
    ("softmax, continuous y", "expected integer labels 0..2"),
    ("softmax, labels 0..4", "expected integer labels 0..2"),
    ("sigmoid, 3 labels", "must be 0/1 labels"),
    ("linear, 0/1 labels", "pass task='classification' if the output is a logit"),
    ("2-output, 1-column y", r"expected \(n, 2\)"),
    ("multi-input", r"the model has 2 inputs .*pass a list or dict of arrays"),
    ("retraining method", "needs: trainer"),
    ("groups, method without groups", "cannot honour variable groups"),
    ("unknown group column", "not a feature name"),
    ("wrong width", "the model takes 5 inputs"),
    ("task contradicts head", "contradicts the model's head"),
])
def test_bad_input_gets_one_line(kinds, case, match):
    net1, X, yb, _ = kinds["sigmoid binary"]
    net3, _, yc, _ = kinds["softmax 3-class int"]
    net2, _, Y2, _ = kinds["2-output regression"]
    calls = {
        "softmax, continuous y": lambda: varbench.importance(net3, X, X[:, 0]),
        "softmax, labels 0..4": lambda: varbench.importance(net3, X, np.arange(N) % 5),
        "sigmoid, 3 labels": lambda: varbench.importance(net1, X, yc),
        "linear, 0/1 labels": lambda: varbench.importance(_mlp(D, 1, None), X, yb),
        "2-output, 1-column y": lambda: varbench.importance(net2, X, Y2[:, 0]),
        "multi-input": lambda: varbench.importance(_multi_input(), X, yb),
        "retraining method": lambda: varbench.importance(net1, X, yb, method="loco"),
        "groups, method without groups": lambda: varbench.importance(net1, X, yb, method="saliency",
                                                                     groups={"g": ["x0", "x1"]}),
        "unknown group column": lambda: varbench.importance(net1, X, yb, groups={"g": ["x0", "nope"]}),
        "wrong width": lambda: varbench.importance(net1, X[:, :4], yb),
        "task contradicts head": lambda: varbench.importance(net1, X, yb, task="regression"),
    }
    with pytest.raises(ValueError, match=match) as err:
        calls[case]()
    assert "\n" not in str(err.value)


def test_describe_methods_says_what_each_needs_and_how_it_honours_groups():
    table = describe_methods()
    assert table.loc["loco", "own_model"].startswith("no") and table.loc["permutation", "own_model"] == "yes"
    assert table.loc["permutation", "groups"] == "joint" and table.loc["integrated_gradients", "groups"] == "sum"
    assert table.loc["saliency", "groups"] == "none" and table.loc["permutation", "explains"] == "loss"


def test_plot_draws_bars_with_error_bars_and_per_class_bars(kinds):
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_importance(_run(kinds, "sigmoid binary", "permutation"))
    assert len(ax.patches) == D and len(ax.lines) >= 1  # bars and error-bar lines
    ax = plot_importance(_run(kinds, "softmax 3-class int", "kernel_shap"))
    assert len(ax.patches) == 4 * D  # 3 classes + overall


# ----------------------------------------------------------------------------- oracles

@pytest.fixture(scope="module")
def linear_softmax():
    """logits = X W + b exactly, softmax head (a Dense(3, softmax) with set weights)."""
    import keras

    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 3)).astype(np.float32)
    b = np.array([0.1, -0.2, 0.3], np.float32)
    inp = keras.Input((4,))
    layer = keras.layers.Dense(3, activation="softmax")
    net = keras.Model(inp, layer(inp))
    layer.set_weights([W, b])
    X = rng.normal(size=(60, 4)).astype(np.float32)
    return net, W.astype(np.float64), b.astype(np.float64), X


def test_linear_softmax_per_class_gradient_in_closed_form(linear_softmax):
    from varbench.models.trained import TrainedModel

    net, W, b, X = linear_softmax
    model = TrainedModel(net, "multiclass")
    Z = X.astype(np.float64) @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    for k in range(3):
        want = P[:, k:k + 1] * (W[:, k][None, :] - P @ W.T)  # d p_k / dx = p_k (w_k - sum_j p_j w_j)
        np.testing.assert_allclose(model.for_output(k).gradient(X), want, rtol=1e-4, atol=1e-6)
        logit = TrainedModel(net, "multiclass", output="logit").for_output(k)
        np.testing.assert_allclose(logit.gradient(X), np.broadcast_to(W[:, k], X.shape), rtol=1e-5)
        np.testing.assert_allclose(logit.predict(X), Z[:, k], rtol=1e-4, atol=1e-5)


def test_linear_softmax_exact_shapley_per_class_in_closed_form(linear_softmax):
    """Explaining class logits of a linear model: phi_jk(x) = W_jk (x_j - mean_b x_j) exactly."""
    net, W, _, X = linear_softmax
    r = varbench.importance(net, X, np.arange(len(X)) % 3, method="kernel_shap", output="logit",
                            n_rows=None, background_size=None)
    dev = X.astype(np.float64) - X.astype(np.float64).mean(axis=0)
    for k in range(3):
        np.testing.assert_allclose(r[f"importance[{k}]"], np.abs(dev * W[:, k]).mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r["importance"], np.mean([np.abs(dev * W[:, k]).mean(axis=0) for k in range(3)],
                                                        axis=0), rtol=1e-4, atol=1e-6)


def _brute_force_group_shapley(f, x, bg, sets):
    """Shapley values over the players `sets` (lists of columns), by the subset formula."""
    V = len(sets)

    def value(S):
        Z = bg.copy()
        for v in S:
            Z[:, sets[v]] = x[sets[v]]
        return f(Z).mean()

    phi = np.zeros(V)
    for v in range(V):
        others = [u for u in range(V) if u != v]
        for size in range(V):
            for S in combinations(others, size):
                w = factorial(size) * factorial(V - size - 1) / factorial(V)
                phi[v] += w * (value(S + (v,)) - value(S))
    return phi


def test_grouped_exact_shapley_matches_brute_force_over_groups():
    from exact import dataset, function_net

    from varbench.methods.shapley import kernel_shap
    from varbench.methods.variables import explain

    import keras

    def fn(x):  # interactions inside and across the group {x1, x2}
        return x[:, 0] * x[:, 1] + keras.ops.sin(x[:, 2]) * x[:, 3] + 0.5 * x[:, 4] ** 2

    model = function_net(fn, 5)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    data = dataset(X, X[:, 0], X[:8], X[:8, 0])
    data.groups = {"g": [1, 2]}
    data.truth = type(data.truth)(importance=np.ones(4), relevant=np.ones(4, bool), definition="test")
    att = explain("kernel_shap", lambda m, d, r: kernel_shap(m, d, r, n_rows=None, background_size=None),
                  model, data, np.random.default_rng(0), "joint")
    sets = [cols for _, cols in data.variables]
    assert sets == [[0], [1, 2], [3], [4]]
    f = lambda Z: model.predict(Z).astype(np.float64)  # noqa: E731
    for i in range(8):
        want = _brute_force_group_shapley(f, X[i], X.copy(), sets)
        np.testing.assert_allclose(att.local[i], want, rtol=1e-4, atol=1e-5)


def test_grouped_occlusion_and_sum_rule_on_a_linear_model():
    """Occluding a block of a linear model removes w_g . (x_g - b_g); IG summed over the group
    is the same quantity (its completeness over the block)."""
    from exact import dataset, linear_net

    from varbench.methods.gradients import integrated_gradients
    from varbench.methods.perturbation import occlusion
    from varbench.methods.variables import explain

    w = np.array([1.0, -2.0, 3.0, 0.5])
    model = linear_net(w)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    data = dataset(X, X @ w, X, X @ w)
    data.groups = {"g": [1, 2]}
    data.truth = type(data.truth)(importance=np.ones(3), relevant=np.ones(3, bool), definition="test")
    dev = (X - X.mean(axis=0)).astype(np.float64) * w
    want = np.stack([dev[:, 0], dev[:, 1] + dev[:, 2], dev[:, 3]], axis=1)
    occ = explain("occlusion", lambda m, d, r: occlusion(m, d, r, n_rows=None), model, data, rng, "joint")
    np.testing.assert_allclose(occ.local, want, rtol=1e-4, atol=1e-5)
    ig = explain("integrated_gradients", lambda m, d, r: integrated_gradients(m, d, r, n_rows=None, steps=4),
                 model, data, rng, "sum")
    np.testing.assert_allclose(ig.local, want, rtol=1e-4, atol=1e-5)


def test_explaining_logits_does_not_retrain_an_identical_network(compose_cfg):
    """`output` is a top-level key, not the trainer's: the model hash (the cache key) is the same
    for probabilities and logits; the method hashes (what was explained) differ."""
    from varbench.config import resolve_cell

    auto = resolve_cell(compose_cfg(["dataset=linear", "dataset.task=classification", "methods=[permutation]"]),
                        check_model=False)
    logit = resolve_cell(compose_cfg(["dataset=linear", "dataset.task=classification", "methods=[permutation]",
                                      "output=logit"]), check_model=False)
    assert auto.model_hash == logit.model_hash and logit.output == "logit"
    assert auto.method_hashes["permutation"] != logit.method_hashes["permutation"]
