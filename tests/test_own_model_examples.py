"""The "On your own Keras model" examples (a model with two inputs and an Embedding, a
FeatureSpace model, a scikeras classifier, a plot saved from a script), run exactly as the README
prints them, from an empty directory. EXAMPLES holds the README's code blocks verbatim."""
import os

import pytest

EXAMPLES = [
    r'''import keras, numpy as np, varbench

rng = np.random.default_rng(0)
X_num = rng.normal(size=(500, 3)).astype("float32")
X_cat = rng.integers(0, 4, size=(500, 1))
y = 2 * X_num[:, 0] + np.array([-2.0, -0.5, 0.5, 2.0])[X_cat[:, 0]]
num, cat = keras.Input((3,), name="num"), keras.Input((1,), dtype="int32", name="cat")
emb = keras.layers.Flatten()(keras.layers.Embedding(4, 3)(cat))
hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([num, emb]))
net = keras.Model([num, cat], keras.layers.Dense(1)(hidden))
net.compile("adam", "mse")
net.fit([X_num, X_cat], y, epochs=20, verbose=0)
r = varbench.importance(net, [X_num, X_cat], y, method="permutation")
print(r[["importance", "se"]])  # variables num[0], num[1], num[2], cat
print(varbench.importance(net, [X_num, X_cat], y, method="integrated_gradients")["importance"])
varbench.plot_importance(r, path="importance.png")  # in a script: saved there (or plt.show())
''',
    r'''import keras, numpy as np, pandas as pd, tensorflow as tf, varbench
from scikeras.wrappers import KerasClassifier

rng = np.random.default_rng(0)
df = pd.DataFrame({"u": rng.normal(size=400), "s": rng.choice(["a", "b", "c"], 400)})
y = (2 * df.u + df.s.map({"a": -1.5, "b": 0.0, "c": 1.5})).to_numpy("float32")
F = keras.utils.FeatureSpace
fs = F(features={"u": F.float_normalized(), "s": F.string_categorical()}, output_mode="concat")
fs.adapt(tf.data.Dataset.from_tensor_slices(dict(df)).batch(64))
body = keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
body.compile("adam", "mse")
train = tf.data.Dataset.from_tensor_slices((dict(df), y)).batch(32).map(lambda x, t: (fs(x), t))
body.fit(train, epochs=20, verbose=0)
net = keras.Model(fs.get_inputs(), body(fs.get_encoded_features()))
r_fs = varbench.importance(net, df, y, method="kernel_shap")
print(r_fs["importance"])  # per original feature: u, s

X = rng.normal(size=(400, 4)).astype("float32")
labels = np.where(X[:, 1] > 0, "yes", "no")
layers = [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
clf = KerasClassifier(model=keras.Sequential(layers), loss="binary_crossentropy", epochs=20, verbose=0)
clf.fit(X, labels)
r_clf = varbench.importance(clf, X, labels)  # permutation, labels "yes"/"no" through clf's encoder
print(r_clf["importance"])
''',
]


@pytest.mark.parametrize("block", range(len(EXAMPLES)))
def test_own_model_examples_run_as_printed(block, tmp_path, monkeypatch):
    import keras
    import matplotlib

    matplotlib.use("Agg")
    keras.utils.set_random_seed(0)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(EXAMPLES[block], f"example_{block}", "exec"), ns)  # noqa: S102 - the README's own code
    if block == 0:
        assert list(ns["r"].index) == ["num[0]", "num[1]", "num[2]", "cat"]
        assert set(ns["r"]["importance"].nlargest(2).index) == {"num[0]", "cat"}
        assert os.path.getsize(tmp_path / "importance.png") > 1000
    else:
        assert set(ns["r_fs"].index) == {"u", "s"} and ns["r_fs"]["importance"].min() > 0.3
        assert ns["r_clf"]["importance"].idxmax() == "x1"
