"""The engine's shared traces (`varbench.models.engine.shared_function`): networks of one
architecture share one compiled function per kind, their weights passed as arguments. Oracle:
the same network through its own trace (sharing switched off), bitwise."""
import numpy as np
import pytest

import varbench.models.engine as engine
from varbench.models.engine import architecture_key
from varbench.models.trained import TrainedModel

KINDS = ("predict", "gradient", "predict_all", "probabilities")


def _net(seed, head="linear", units=1):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,), name="x")
    h = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    h = keras.layers.Dropout(0.1, name="drop")(h)
    out = keras.layers.Dense(units, activation=None if head == "linear" else head, name="out")(h)
    return keras.Model(inputs, out, name="net")


CASES = [("linear", 1, "regression", "auto"), ("linear", 1, "classification", "logit"),
         ("linear", 1, "classification", "prob"), ("sigmoid", 1, "classification", "prob"),
         ("sigmoid", 1, "classification", "logit"), ("softmax", 3, "multiclass", "prob"),
         ("softmax", 3, "multiclass", "logit")]


def _outputs(model, X):
    views = [model] if model.n_outputs == 1 else [model.for_output(j) for j in range(model.n_outputs)]
    return [getattr(v, kind)(X) for v in views for kind in KINDS]


@pytest.mark.parametrize("head,units,task,output", CASES)
def test_a_shared_trace_gives_bitwise_each_models_own_outputs(head, units, task, output, monkeypatch):
    X = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    first, second = (TrainedModel(_net(seed, head, units), task, output=output, chunk_size=128) for seed in (1, 2))
    shared = [_outputs(m, X) for m in (first, second)]
    arch = architecture_key(first.keras)
    assert arch == architecture_key(second.keras) is not None
    fns = [fn for k, fn in engine._SHARED.items() if k[:4] == (arch, first.task, output, first.head)]
    assert len(fns) == 2 * first.n_outputs + 2  # predict and gradient per column, all, proba
    assert all(fn.experimental_get_tracing_count() == 1 for fn in fns)  # two models, one trace
    monkeypatch.setattr(engine, "architecture_key", lambda net: None)  # each model traces its own
    for m, got in zip((first, second), shared):
        own = _outputs(TrainedModel(m.keras, task, output=output, chunk_size=128), X)
        for a, b in zip(got, own):
            assert np.array_equal(a, b)
    assert not np.array_equal(shared[0][0], shared[1][0])  # the weights passed are each model's own


def test_weights_set_after_wrapping_are_read_at_each_call():
    X = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    a, b = _net(3), _net(4)
    model = TrainedModel(a, "regression")
    before = model.predict(X)
    a.set_weights(b.get_weights())
    assert not np.array_equal(before, model.predict(X))
    assert np.array_equal(model.predict(X), TrainedModel(b, "regression").predict(X))


def test_networks_with_custom_code_or_other_shapes_are_never_shared():
    import keras

    class Scaled(keras.layers.Dense):  # a subclass: its Python code is not in its config
        def call(self, x):
            return 2.0 * super().call(x)

    inputs = keras.Input((4,), name="x")
    custom = keras.Model(inputs, Scaled(1, name="out")(inputs))
    assert architecture_key(custom) is None

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(1)

        def call(self, x):
            return self.d(x)

    sub = Sub()
    sub(np.zeros((1, 4), np.float32))
    assert architecture_key(sub) is None
    assert architecture_key(_net(0)) != architecture_key(_net(0, units=2))


def test_custom_activations_keep_their_own_trace_and_their_own_values():
    """Two activation functions of one name have the same config: such networks are never
    shared (nor copied, which would fail for an unregistered function), and each predicts
    what Keras computes with its own function."""
    import keras

    def scaled(c):
        def act(x):
            return c * x
        return act

    def net(c):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,), name="x")
        h = keras.layers.Dense(8, activation=scaled(c), name="hidden")(inputs)
        return keras.Model(inputs, keras.layers.Dense(1, name="out")(h), name="net")

    X = np.random.default_rng(2).normal(size=(20, 4)).astype(np.float32)
    for c in (2.0, 3.0):
        model = net(c)
        assert architecture_key(model) is None
        np.testing.assert_allclose(TrainedModel(model, "regression").predict(X), model(X).numpy()[:, 0], rtol=1e-6)


def test_a_network_keras_cannot_copy_keeps_its_own_trace():
    """An unregistered custom initializer is in the config but cannot be rebuilt from it: the
    copy a shared trace needs fails, so the model keeps its own trace and its own values."""
    import keras

    class Init(keras.initializers.Initializer):  # not registered: clone_model cannot rebuild it
        def __call__(self, shape, dtype=None):
            return keras.ops.ones(shape, dtype=dtype) * 0.1

    inputs = keras.Input((4,), name="x")
    net = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer=Init(), name="out")(inputs), name="net")
    X = np.random.default_rng(3).normal(size=(10, 4)).astype(np.float32)
    np.testing.assert_allclose(TrainedModel(net, "regression").predict(X), net(X).numpy()[:, 0], rtol=1e-6)
