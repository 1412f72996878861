"""`varbench.importance` on the models people build (small real Keras models trained here with
fixed seeds): two inputs with an Embedding, dict inputs from `keras.utils.FeatureSpace`, a
mixed-type DataFrame (float, bool, nullable Int64, a `category` column feeding an Embedding), and
a scikeras wrapper. Planted relevant variables must come out exactly on top for permutation,
kernel_shap, integrated_gradients and lime. Oracles: a linear model over an Embedding, whose
layer Integrated Gradients, gradient x input, occlusion (the mode) and exact KernelSHAP are known
in closed form; the engine's own count of model evaluations for the stated cost. Plus the
DataFrame conversion rules, the categorical refusals and scikeras's encoders."""
import inspect

import numpy as np
import pandas as pd
import pytest

import varbench
from varbench.models.inputs import from_model
from varbench.progress import expected_evals

CORE = ["permutation", "kernel_shap", "integrated_gradients", "lime"]
SMALL = {"permutation": {"n_repeats": 3}, "kernel_shap": {"n_rows": 25, "background_size": 20},
         "integrated_gradients": {"n_rows": 120, "steps": 16}, "lime": {"n_rows": 25, "n_samples": 300}}
N = 400


def _fit(net, X, y, epochs=30, loss="mse"):
    import keras

    net.compile(optimizer=keras.optimizers.Adam(0.02), loss=loss)
    net.fit(X, y, epochs=epochs, batch_size=32, verbose=0)
    return net


def _two_inputs(rng):
    """[numeric (3 columns), int code -> Embedding, int code -> Embedding]; planted num[0], cat."""
    import keras

    Xn = rng.normal(size=(N, 3)).astype("float32")
    cat, noise = rng.integers(0, 4, N), rng.integers(0, 3, N)
    y = 2.0 * Xn[:, 0] + np.array([-2.0, -0.5, 0.5, 2.0])[cat] + 0.05 * rng.normal(size=N)
    num = keras.Input((3,), name="num")
    c1, c2 = keras.Input((1,), dtype="int32", name="cat"), keras.Input((1,), dtype="int32", name="noise_cat")
    e1 = keras.layers.Flatten()(keras.layers.Embedding(4, 3)(c1))
    e2 = keras.layers.Flatten()(keras.layers.Embedding(3, 2)(c2))
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([num, e1, e2]))
    X = [Xn, cat[:, None], noise[:, None]]
    return _fit(keras.Model([num, c1, c2], keras.layers.Dense(1)(h)), X, y), X, y, {"num[0]", "cat"}


def _feature_space(rng):
    """A FeatureSpace inference model (dict of named inputs: floats, a string, an integer);
    planted u, s."""
    import keras
    import tensorflow as tf

    df = pd.DataFrame({"u": rng.normal(size=N).astype("float32"), "v": rng.normal(size=N).astype("float32"),
                       "s": rng.choice(["a", "b", "c"], N), "k": rng.integers(0, 3, N)})
    y = (2.0 * df.u + df.s.map({"a": -1.5, "b": 0.0, "c": 1.5})).to_numpy("float32")
    F = keras.utils.FeatureSpace
    fs = F(features={"u": F.float_normalized(), "v": F.float_normalized(),
                     "s": F.string_categorical(num_oov_indices=0), "k": F.integer_categorical(num_oov_indices=0)},
           output_mode="concat")
    fs.adapt(tf.data.Dataset.from_tensor_slices(dict(df)).batch(64))
    body = keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    body.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    body.fit(tf.data.Dataset.from_tensor_slices((dict(df), y)).batch(32).map(lambda x, t: (fs(x), t)),
             epochs=30, verbose=0, shuffle=False)
    return keras.Model(fs.get_inputs(), body(fs.get_encoded_features())), df, y, {"u", "s"}


def _mixed_frame(rng):
    """A DataFrame of float, bool, nullable Int64 and `category` (strings) columns for a dict model
    (the category column through StringLookup + Embedding); planted a, b, d."""
    import keras

    df = pd.DataFrame({"a": rng.normal(size=N), "b": rng.random(N) > 0.5,
                       "c": pd.array(rng.integers(0, 5, N), dtype="Int64"),
                       "d": pd.Categorical(rng.choice(["lo", "mid", "hi"], N))})
    y = (2.0 * df.a + 1.5 * df.b + df.d.map({"lo": -1.5, "mid": 0.0, "hi": 1.5}).astype(float)).to_numpy("float32")
    ins = {k: keras.Input((1,), name=k) for k in "abc"}
    ins["d"] = keras.Input((1,), dtype="string", name="d")
    codes = keras.layers.StringLookup(vocabulary=["lo", "mid", "hi"])(ins["d"])
    emb = keras.layers.Flatten()(keras.layers.Embedding(4, 2)(codes))
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([ins["a"], ins["b"], ins["c"], emb]))
    net = keras.Model(ins, keras.layers.Dense(1)(h))
    fit_X = {"a": df.a.to_numpy("float32")[:, None], "b": df.b.to_numpy("float32")[:, None],
             "c": df.c.to_numpy("float32")[:, None], "d": df.d.to_numpy(str)[:, None]}
    import tensorflow as tf

    fit_X["d"] = tf.constant(fit_X["d"])
    return _fit(net, fit_X, y), df, y, {"a", "b", "d"}


def _scikeras(rng):
    """A fitted scikeras KerasRegressor; planted x1, x3."""
    import keras
    from scikeras.wrappers import KerasRegressor

    X = rng.normal(size=(N, 4)).astype("float32")
    y = 2.0 * X[:, 1] - 1.5 * X[:, 3]

    def build(meta):
        return keras.Sequential([keras.Input((meta["n_features_in_"],)), keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(1)])

    est = KerasRegressor(model=build, loss="mse", optimizer="adam", optimizer__learning_rate=0.02, epochs=30,
                         batch_size=32, verbose=0, random_state=0)
    return est.fit(X, y), X, y, {"x1", "x3"}


@pytest.fixture(scope="module")
def kinds():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    return {"two inputs + embedding": _two_inputs(rng), "FeatureSpace dict": _feature_space(rng),
            "mixed-type DataFrame": _mixed_frame(rng), "scikeras": _scikeras(rng)}


@pytest.mark.parametrize("kind", ["two inputs + embedding", "FeatureSpace dict", "mixed-type DataFrame", "scikeras"])
@pytest.mark.parametrize("method", CORE)
def test_the_planted_variables_come_out_on_top(kinds, kind, method):
    model, X, y, relevant = kinds[kind]
    r = varbench.importance(model, X, y, method=method, progress=False, **SMALL[method])
    assert set(r["importance"].nlargest(len(relevant)).index) == relevant, r
    low = r["importance"].drop(list(relevant))
    assert r["importance"][list(relevant)].min() > 3 * low.abs().max(), r  # on top by a margin, not by a hair


# ----------------------------------------------------------------------------- oracle: a linear model over an embedding

@pytest.fixture(scope="module")
def linear_embedding():
    """f(x, c) = w . x + v . E[c] + b with hand-set weights, and its data."""
    import keras

    rng = np.random.default_rng(1)
    num, cat = keras.Input((2,), name="num"), keras.Input((1,), dtype="int32", name="cat")
    emb = keras.layers.Embedding(4, 3, name="emb")
    h = keras.layers.Concatenate()([num, keras.layers.Flatten()(emb(cat))])
    net = keras.Model([num, cat], keras.layers.Dense(1)(h))
    E = rng.normal(size=(4, 3)).astype("float32")
    w, v, b = np.array([1.5, -0.5], "float32"), np.array([0.7, -1.2, 0.4], "float32"), np.float32(0.3)
    emb.set_weights([E])
    net.layers[-1].set_weights([np.concatenate([w, v])[:, None], np.array([b])])
    Xn = rng.normal(size=(60, 2)).astype("float32")
    c = np.array([0, 0, 0, 1, 2, 3] * 10)
    return net, [Xn, c[:, None]], Xn @ w + E[c] @ v + b, (E, w, v, c, Xn)


def test_layer_attribution_of_a_linear_model_over_an_embedding_is_its_closed_form(linear_embedding):
    net, X, y, (E, w, v, c, Xn) = linear_embedding
    run = lambda m, **kw: varbench.importance(net, X, y, method=m, progress=False, **kw)["importance"]  # noqa: E731
    cat_ig = E[c] @ v - (E[c].mean(axis=0) @ v)  # IG from the mean embedding, exact for a linear map
    ig = run("integrated_gradients", n_rows=None, steps=8)
    np.testing.assert_allclose(ig["cat"], np.mean(np.abs(cat_ig)), rtol=1e-4)
    np.testing.assert_allclose(ig[["num[0]", "num[1]"]], np.mean(np.abs(w * (Xn - Xn.mean(axis=0))), axis=0),
                               rtol=1e-4)
    gi = run("grad_input", n_rows=None)  # baseline zero in the embedding space
    np.testing.assert_allclose(gi["cat"], np.mean(np.abs(E[c] @ v)), rtol=1e-4)
    sal = run("saliency", n_rows=None)  # |gradient| summed over the embedding dimension
    np.testing.assert_allclose(sal["cat"], np.abs(v).sum(), rtol=1e-5)
    occ = run("occlusion", n_rows=None)  # masked by the mode, code 0 (half the rows)
    np.testing.assert_allclose(occ["cat"], np.mean(np.abs(E[c] @ v - E[0] @ v)), rtol=1e-4)
    ks = run("kernel_shap", n_rows=None, background_size=None)  # exact, interventional: v.E[c] - mean
    np.testing.assert_allclose(ks["cat"], np.mean(np.abs(cat_ig)), rtol=1e-4)


def test_methods_that_would_do_arithmetic_on_codes_refuse_in_one_line(linear_embedding):
    net, X, y, _ = linear_embedding
    for method in ("probing", "input_perturbation", "deeplift", "first_layer", "conditional_permutation", "profile"):
        with pytest.raises(ValueError, match=r"would do arithmetic on the category codes of \['cat'\]") as err:
            varbench.importance(net, X, y, method=method)
        assert "\n" not in str(err.value)
    table = varbench.describe_methods()
    assert table.loc["permutation", "categorical"] == "resample" and table.loc["occlusion", "categorical"] == "mask"
    assert table.loc["integrated_gradients", "categorical"] == "embedding"
    assert table.loc["probing", "categorical"] == "refuse"
    text = repr(table)
    assert "..." not in text and "no (retrains: needs the shared trainer)" in text and "categorical" in text


def test_weight_methods_refuse_a_model_of_several_inputs():
    import keras

    a, b = keras.Input((2,), name="a"), keras.Input((1,), name="b")
    net = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Concatenate()([b, a])))  # rows not in input order
    X = [np.zeros((5, 2)), np.ones((5, 1))]
    for method in ("first_layer", "garson", "olden", "deeplift"):
        with pytest.raises(ValueError, match=r"reads the first Dense layer's rows .* list inputs \['a', 'b'\]"):
            varbench.importance(net, X, np.arange(5.0), method=method)


def test_a_category_column_that_enters_as_a_number_is_not_differentiated():
    import keras

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=50), "d": pd.Categorical(rng.integers(0, 3, 50))})
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    r = varbench.importance(net, X, rng.normal(size=50), method="permutation", progress=False)
    assert list(r.index) == ["a", "d"]
    with pytest.raises(ValueError, match=r"categorical variables \['d'\] enter the model as numbers"):
        varbench.importance(net, X, rng.normal(size=50), method="integrated_gradients")


# ----------------------------------------------------------------------------- DataFrames, column by column

def test_dataframe_columns_are_converted_one_by_one():
    import keras

    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    df = pd.DataFrame({"f": [0.5, 1.0, 2.0], "b": [True, False, True], "i": pd.array([1, 2, 3], dtype="Int64")})
    v = from_model(net, df)
    np.testing.assert_array_equal(v.encode(df), np.array([[0.5, 1, 1], [1, 0, 2], [2, 1, 3]], "float32"))
    assert v.names == ("f", "b", "i") and v.categorical == ()
    nullable = df.assign(f=pd.array([0.5, 1.0, 2.0], dtype="Float64"), b=pd.array([True, False, True], dtype="boolean"))
    np.testing.assert_array_equal(v.encode(nullable), v.encode(df))
    bad = df.assign(i=pd.array([1, None, 3], dtype="Int64"))
    with pytest.raises(ValueError, match=r"X column 'i' has 1 missing value\(s\) \(dtype Int64\)"):
        from_model(net, bad)
    with pytest.raises(ValueError, match=r"X has repeated column names \['f'\]"):
        from_model(net, pd.DataFrame([[1.0, 2.0, 3.0]], columns=["f", "f", "g"]))
    with pytest.raises(ValueError, match=r"X columns \['b'\] hold non-numeric values: the model's one input"):
        from_model(net, df.assign(b=["x", "y", "z"]))


def test_dict_and_list_inputs_are_matched_by_name_and_order():
    import keras

    a, s = keras.Input((1,), name="a"), keras.Input((1,), dtype="string", name="s")
    net = keras.Model({"a": a, "s": s}, a)
    df = pd.DataFrame({"s": ["p", "q", "p"], "a": [1.0, 2.0, 3.0]})
    v = from_model(net, df)
    assert v.names == ("a", "s") and v.categorical == (1,)
    np.testing.assert_array_equal(v.encode(df), [[1, 0], [2, 1], [3, 0]])
    assert [x.decode() for x in np.asarray(v.decode(v.encode(df))["s"]).ravel()] == ["p", "q", "p"]
    with pytest.raises(ValueError, match=r"missing \['s'\], not model inputs \['t'\]"):
        from_model(net, df.rename(columns={"s": "t"}))
    with pytest.raises(ValueError, match=r"values \['r'\] not seen"):
        v.encode(df.assign(s=["p", "r", "p"]))
    two = keras.Model([a, keras.Input((2,), name="b")], a)
    with pytest.raises(ValueError, match=r"X is a list of 1 arrays: the model has 2 inputs \['a', 'b'\]"):
        from_model(two, [np.zeros((3, 1))])


# ----------------------------------------------------------------------------- scikeras

def test_scikeras_encoders_are_respected_or_refused(kinds):
    import keras
    from scikeras.wrappers import KerasClassifier, KerasRegressor
    from sklearn.preprocessing import StandardScaler

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3)).astype("float32")
    labels = np.where(X[:, 2] > 0, "yes", "no")

    def build(meta):
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                                 keras.layers.Dense(1, activation="sigmoid")])

    clf = KerasClassifier(model=build, loss="binary_crossentropy", optimizer__learning_rate=0.02, epochs=20,
                          verbose=0, random_state=0).fit(X, labels)
    r = varbench.importance(clf, X, labels, progress=False)  # string labels through the target encoder
    assert r["importance"].idxmax() == "x2" and "binary classifier" in r.attrs["head"]
    with pytest.raises(ValueError, match="unfitted KerasRegressor: call model.fit"):
        varbench.importance(KerasRegressor(model=build), X, X[:, 0])

    class Scaled(KerasRegressor):
        @property
        def feature_encoder(self):
            return StandardScaler()

    est, Xr, yr, _ = kinds["scikeras"]
    scaled = Scaled(model=est.model, loss="mse", epochs=1, verbose=0).fit(Xr, yr)
    with pytest.raises(ValueError, match="custom feature encoder \\(StandardScaler\\): pass its network model.model_"):
        varbench.importance(scaled, Xr, yr)


# ----------------------------------------------------------------------------- cost, progress, signature, plot

@pytest.mark.parametrize("method", ["permutation", "occlusion", "kernel_shap", "lime", "sampling_shapley"])
def test_stated_cost_is_the_engines_count(linear_embedding, method):
    net, X, y, _ = linear_embedding
    params = {"kernel_shap": {"n_rows": 7, "background_size": 9}, "lime": {"n_rows": 5, "n_samples": 40},
              "sampling_shapley": {"n_rows": 4, "background_size": 6, "n_permutations": 6}}.get(method, {})
    r = varbench.importance(net, X, y, method=method, progress=False, **params)
    assert r.attrs["n_model_evals"] == expected_evals(method, r.attrs["params"], 60, 60, 3)


def test_kernel_shap_default_budget_follows_shaps_rule():
    from varbench.methods.shapley import kernel_shap_budget

    assert [kernel_shap_budget(d) for d in (13, 50, 150)] == [2074, 2148, 2348]
    assert expected_evals("kernel_shap", {"n_rows": 2, "background_size": 3, "max_exact_features": 12,
                                          "n_coalitions": None}, 10, 10, 20) == 2 + 3 + 2 * 2088 * 3


def test_a_long_call_shows_one_progress_bar_with_its_cost(linear_embedding, capsys, monkeypatch):
    import varbench.progress

    monkeypatch.setattr(varbench.progress, "DELAY", 0.0)
    net, X, y, _ = linear_embedding
    r = varbench.importance(net, X, y, method="permutation", n_repeats=2)
    err = capsys.readouterr().err
    assert f"permutation: {r.attrs['n_model_evals']:,} model evaluations" in err
    varbench.importance(net, X, y, method="permutation", n_repeats=2, progress=False)
    assert capsys.readouterr().err == ""


def test_help_shows_the_real_signature_and_plot_saves_in_a_script(linear_embedding, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    params = inspect.signature(varbench.importance).parameters
    assert {"model", "X", "y", "method", "groups", "progress"} <= set(params)
    net, X, y, _ = linear_embedding
    r = varbench.importance(net, X, y, progress=False)
    assert (r["se"] == r["std"]).all() and list(r.columns[:4]) == ["importance", "se", "ci_low", "ci_high"]
    ax = varbench.plot_importance(r, path=tmp_path / "importance.png")
    assert (tmp_path / "importance.png").stat().st_size > 1000 and len(ax.patches) == len(r)


def test_gradients_refuse_a_categorical_input_that_enters_a_nested_model():
    import keras

    a, c = keras.Input((1,)), keras.Input((1,), dtype="int32")
    inner = keras.Model([a, c], keras.layers.Dense(1)(keras.layers.Concatenate()(
        [a, keras.layers.Flatten()(keras.layers.Embedding(3, 2)(c))])))
    a2, c2 = keras.Input((1,), name="a"), keras.Input((1,), dtype="int32", name="c")
    outer = keras.Model([a2, c2], inner([a2, c2]))
    rng = np.random.default_rng(4)
    X, y = [rng.normal(size=(40, 1)), rng.integers(0, 3, (40, 1))], rng.normal(size=40)
    assert list(varbench.importance(outer, X, y, progress=False).index) == ["a", "c"]
    with pytest.raises(ValueError, match="the categorical input 'c' does not feed one chain of single-input layers"):
        varbench.importance(outer, X, y, method="integrated_gradients")


def test_an_integer_input_of_several_columns_is_one_variable_per_column_at_its_embedding():
    import keras

    rng = np.random.default_rng(5)
    tok = keras.Input((2,), dtype="int32", name="tok")
    emb = keras.layers.Embedding(5, 2)
    net = keras.Model(tok, keras.layers.Dense(1)(keras.layers.Flatten()(emb(tok))))
    E, u = rng.normal(size=(5, 2)).astype("float32"), rng.normal(size=4).astype("float32")
    emb.set_weights([E])
    net.layers[-1].set_weights([u[:, None], np.zeros(1, "float32")])
    codes = rng.integers(0, 5, (40, 2))
    r = varbench.importance(net, codes, E[codes].reshape(40, 4) @ u, method="grad_input", n_rows=None,
                            progress=False)
    assert list(r.index) == ["x0", "x1"]
    for j in range(2):  # position j: its embedding E[c_j] times its own weights u[2j:2j+2]
        np.testing.assert_allclose(r["importance"].iloc[j], np.mean(np.abs(E[codes[:, j]] @ u[2 * j:2 * j + 2])),
                                   rtol=1e-5)


def test_a_softmax_model_with_an_embedding_is_explained_per_class_at_its_embedding():
    import keras

    rng = np.random.default_rng(6)
    num, cat = keras.Input((2,), name="num"), keras.Input((1,), dtype="int32", name="cat")
    h = keras.layers.Concatenate()([num, keras.layers.Flatten()(keras.layers.Embedding(3, 2)(cat))])
    net = keras.Model([num, cat], keras.layers.Dense(3, activation="softmax")(h))
    X, y = [rng.normal(size=(30, 2)), rng.integers(0, 3, (30, 1))], rng.integers(0, 3, 30)
    r = varbench.importance(net, X, y, method="integrated_gradients", n_rows=None, steps=8, progress=False)
    per_class = r[[f"importance[{k}]" for k in range(3)]]
    np.testing.assert_allclose(r["importance"], per_class.mean(axis=1), rtol=1e-12)
    assert list(r.index) == ["num[0]", "num[1]", "cat"] and (per_class.to_numpy() > 0).all()
