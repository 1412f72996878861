"""Test helpers: Keras models whose function is known exactly, and datasets around them."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from varbench.datasets.base import Dataset, GroundTruth
from varbench.models.trained import TrainedModel


def linear_net(w: Sequence[float], b: float = 0.0, task: str = "regression", output: str = "auto") -> TrainedModel:
    """f(x) = w.x + b exactly (a Keras Dense(1) with the given weights)."""
    import keras

    w = np.asarray(w, dtype=np.float32)
    inp = keras.Input(shape=(w.size,))
    layer = keras.layers.Dense(1, name="output")
    net = keras.Model(inp, layer(inp))
    layer.set_weights([w.reshape(-1, 1), np.array([b], np.float32)])
    return TrainedModel(keras=net, task=task, output=output)


def mlp_net(weights: Sequence[tuple[np.ndarray, np.ndarray]], activation: str = "relu",
            task: str = "regression") -> TrainedModel:
    """A Dense MLP with the given (kernel, bias) per layer; hidden layers use `activation`,
    the last layer is linear."""
    import keras

    inp = keras.Input(shape=(weights[0][0].shape[0],))
    h = inp
    layers = []
    for i, (W, b) in enumerate(weights):
        last = i == len(weights) - 1
        layer = keras.layers.Dense(W.shape[1], activation=None if last else activation, name=f"dense_{i}")
        h = layer(h)
        layers.append((layer, W, b))
    net = keras.Model(inp, h)
    for layer, W, b in layers:
        layer.set_weights([np.asarray(W, np.float32), np.asarray(b, np.float32)])
    return TrainedModel(keras=net, task=task)


def function_net(fn: Callable, d: int, task: str = "regression") -> TrainedModel:
    """A Keras model computing fn(x) (x: (n, d) tensor -> (n,) tensor) exactly, e.g. Ishigami."""
    import keras

    class Fn(keras.layers.Layer):
        def call(self, x):
            return keras.ops.expand_dims(fn(x), -1)

    inp = keras.Input(shape=(d,))
    return TrainedModel(keras=keras.Model(inp, Fn()(inp)), task=task)


def dataset(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray | None = None,
            y_test: np.ndarray | None = None, importance: Sequence[float] | None = None,
            task: str = "regression") -> Dataset:
    """Wrap arrays as a Dataset; truth defaults to 'all features equally relevant'."""
    d = X_train.shape[1]
    imp = np.ones(d) if importance is None else np.asarray(importance, float)
    return Dataset(X_train=X_train, y_train=y_train,
                   X_test=X_train if X_test is None else X_test,
                   y_test=y_train if y_test is None else y_test,
                   task=task, truth=GroundTruth(importance=imp, relevant=imp > 0, definition="test"))
