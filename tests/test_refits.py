"""`varbench.importance(..., refits=R)`: R retrained clones of the user's network, an interval over
the models that holds training variance, and one-line refusals before anything runs.

Oracles: a linear network trained to convergence on noiseless linear data has one minimiser, so
every refit's saliency (mean |gradient|) is |w| exactly and the spread over refits is ~0, while
the same network stopped after one small step keeps its random start (spread > 0); a small ReLU
network on noisy data varies with its training more than permutation's estimator noise, so the
interval over models is wider than an estimator-only interval for the same mean."""
import doctest

import numpy as np
import pandas as pd
import pytest

import varbench
import varbench.refits
from varbench.refits import ESTIMATOR, TRAINING, refit_importance

W = np.array([2.0, 0.0, -0.5])


def _linear(lr=0.4):
    import keras

    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return net


@pytest.fixture(scope="module")
def linear_data():
    X = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    return X, X @ W


@pytest.mark.slow  # trains a linear network to convergence four times
def test_converged_linear_refits_agree_on_the_closed_form(linear_data):
    import keras

    X, y = linear_data
    keras.utils.set_random_seed(1)
    net = _linear()
    fit = {"epochs": 40, "batch_size": 200}  # full-batch gradient descent, contraction < 0.4 per step
    net.fit(X, y, verbose=0, **fit)
    r = varbench.importance(net, X, y, method="saliency", X_train=X, y_train=y, refits=2, fit_kwargs=fit,
                            progress=False)
    np.testing.assert_allclose(r["importance"], np.abs(W), atol=1e-4)
    assert (r["sd_over_models"] < 1e-4).all() and (r["n_models"] == 3).all()
    assert ((r["ci_low"] <= np.abs(W) + 1e-4) & (np.abs(W) - 1e-4 <= r["ci_high"])).all()
    assert (r["interval_kind"] == TRAINING).all() and r.attrs["interval_kind"] == TRAINING
    assert r.attrs["models"] == ["user", "refit 1", "refit 2"] and len(set(r.attrs["refit_seeds"])) == 2
    assert "training_and_estimator" in str(r) and "training_and_estimator" in r.to_csv()


def test_unconverged_refits_keep_their_random_start(linear_data):
    X, y = linear_data
    net = _linear(lr=1e-3)
    fit = {"epochs": 1, "batch_size": 200}
    net.fit(X, y, verbose=0, **fit)
    r = varbench.importance(net, X, y, method="saliency", X_train=X, y_train=y, refits=2, fit_kwargs=fit,
                            progress=False)
    per = np.array(list(r.attrs["per_model"].values()))  # (3 models, 3 variables)
    assert (r["sd_over_models"] > 0.05).all()
    np.testing.assert_allclose(r["sd_over_models"], per.std(axis=0, ddof=1))
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * per.std(axis=0, ddof=1) / np.sqrt(3)  # the stated rule, by hand
    np.testing.assert_allclose(r["ci_high"] - r["ci_low"], 2 * half, rtol=1e-9)


@pytest.fixture(scope="module")
def noisy():
    import keras

    rng = np.random.default_rng(2)
    X = rng.normal(size=(240, 4)).astype(np.float32)
    y = np.tanh(1.5 * X[:, 0]) + 0.5 * X[:, 1] + 0.5 * rng.normal(size=240)
    keras.utils.set_random_seed(3)
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    net.fit(X, y, epochs=2, batch_size=32, verbose=0)  # stopped early: the start still shows
    return net, X, y


def test_training_variance_widens_the_interval_and_repeats_with_the_seed(noisy):
    net, X, y = noisy
    kw = dict(method="permutation", n_repeats=20, X_train=X, y_train=y, progress=False)
    plain = varbench.importance(net, X, y, **kw)
    assert plain.attrs["interval_kind"] == ESTIMATOR
    r = varbench.importance(net, X, y, refits=2, fit_kwargs={"batch_size": 32}, **kw)  # epochs from history
    assert r.attrs["fit_kwargs"] == {"batch_size": 32, "epochs": 2}
    np.testing.assert_allclose(r.attrs["per_model"]["user"], plain["importance"])  # the user's model, same seed
    relevant = ["x0", "x1"]
    assert (r.loc[relevant, "sd_over_models"] > r.loc[relevant, "within_se"]).all()
    m = r["n_models"].iloc[0]
    estimator_only = 2 * 1.959964 * r["within_se"] / np.sqrt(m)  # the same mean if training did not vary
    assert ((r["ci_high"] - r["ci_low"]) > estimator_only).loc[relevant].all()
    assert ((r["ci_high"] - r["ci_low"]) >= (plain["ci_high"] - plain["ci_low"])).loc[relevant].all()  # one model's
    again = varbench.importance(net, X, y, refits=2, fit_kwargs={"batch_size": 32}, **kw)
    pd.testing.assert_frame_equal(r, again)


def test_a_dict_input_model_refits_from_a_dataframe():
    """The clones are fitted on X_train converted as the API converts it (here a DataFrame whose
    columns feed named inputs, one an integer code into an Embedding)."""
    import keras

    rng = np.random.default_rng(4)
    df = pd.DataFrame({"a": rng.normal(size=200).astype(np.float32), "b": rng.normal(size=200).astype(np.float32),
                       "c": rng.integers(0, 3, size=200)})
    y = 2 * df["a"].to_numpy() + 1.5 * (df["c"] == 2).to_numpy()
    ins = {"a": keras.Input((1,), name="a"), "b": keras.Input((1,), name="b"),
           "c": keras.Input((1,), name="c", dtype="int32")}
    code = keras.layers.Flatten()(keras.layers.Embedding(3, 2)(ins["c"]))
    hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([ins["a"], ins["b"], code]))
    net = keras.Model(ins, keras.layers.Dense(1)(hidden))
    net.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    net.fit({k: df[[k]].to_numpy() for k in "abc"}, y, epochs=3, batch_size=32, verbose=0)
    r = varbench.importance(net, df, y, method="permutation", X_train=df, y_train=y, refits=2, progress=False)
    assert list(r.index) == ["a", "b", "c"] and (r["n_models"] == 3).all() and r.attrs["fit_kwargs"] == {"epochs": 3}
    assert r.loc["a", "importance"] > r.loc["b", "importance"] and r.loc["c", "ci_high"] > r.loc["b", "ci_high"]


def _subclassed():
    import keras

    net = type("Net", (keras.Model,), {"call": lambda self, x: self.d(x)})()  # no get_config: not clonable
    net.d = keras.layers.Dense(1)
    net(np.zeros((2, 3), np.float32))
    net.compile(optimizer="sgd", loss="mse")
    return net


def _custom_layer():
    import keras

    scaled = type("Scaled", (keras.layers.Layer,), {"call": lambda self, x: x * self.k})
    layer = scaled()
    layer.k = 2.0  # set after construction: absent from the layer's config, so a clone lacks it
    inputs = keras.Input((3,))
    net = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    net.compile(optimizer="sgd", loss="mse")
    return net


def _scikeras():
    from scikeras.wrappers import KerasRegressor

    est = KerasRegressor(model=_linear, epochs=1, verbose=0)
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    return est.fit(X, X @ W)


def _uncompiled():
    import keras

    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])


CASES = {
    "one refit": (dict(refits=1), "refits=1 is invalid: expected an integer >= 2"),
    "float refits": (dict(refits=2.0), "refits=2.0 is invalid"),
    "bool refits": (dict(refits=True), "refits=True is invalid"),
    "fit_kwargs alone": (dict(fit_kwargs={"epochs": 2}), "refits=None is invalid"),
    "no training data": (dict(refits=2, X_train=None, y_train=None), "refits=2 needs the training data"),
    "subclassed": (dict(refits=2, model=_subclassed), "model=Net .a subclassed keras.Model. is not supported"),
    "custom layer": (dict(refits=2, model=_custom_layer), "model=Functional is not supported: keras.models.clone"),
    "scikeras": (dict(refits=2, model=_scikeras), "refits with model=KerasRegressor .a scikeras wrapper."),
    "uncompiled": (dict(refits=2, model=_uncompiled), "refits=2 needs a compiled model"),
    "unknown fit arg": (dict(refits=2, fit_kwargs={"epochs": 2, "epoch": 3}), r"fit_kwargs has \['epoch'\]"),
    "epochs not recorded": (dict(refits=2, fit_kwargs={"batch_size": 8}), "refits needs fit_kwargs with 'epochs'"),
    "bad epochs": (dict(refits=2, fit_kwargs={"epochs": 0}), r"fit_kwargs\['epochs'\]=0 is invalid"),
    "code in fit_kwargs": (dict(refits=2, fit_kwargs={"epochs": 2, "callbacks": {"_target_": "os.system"}}),
                           "callbacks"),
}


@pytest.mark.parametrize("case", CASES)
def test_unsupported_calls_fail_in_one_line_before_anything_runs(linear_data, case):
    X, y = linear_data
    args, match = CASES[case]
    args = dict(args)
    model = args.pop("model", None)
    model = model() if model is not None else _linear()  # never fitted: no history records epochs
    call = dict(X_train=X, y_train=y, refits=None, fit_kwargs=None) | args
    ran = []
    with pytest.raises(ValueError, match=match) as err:
        refit_importance(lambda *a, **k: ran.append(1), model, X, y, **call)
    assert "\n" not in str(err.value) and not ran
    with pytest.raises(ValueError, match=match):  # the same line through the public function
        varbench.importance(model, X, y, method="saliency", progress=False, **call)


def test_module_examples_run():
    result = doctest.testmod(varbench.refits)
    assert result.failed == 0 and result.attempted >= 8
