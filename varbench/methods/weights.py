"""Importance read from the network's weights."""
from __future__ import annotations

import numpy as np

from varbench.datasets.base import Dataset
from varbench.models.trained import TrainedModel


def dense_kernels(model: TrainedModel) -> list[np.ndarray]:
    """The kernels of the network's Dense layers, input to output."""
    kernels = [layer.get_weights()[0] for layer in model.keras.layers
               if layer.__class__.__name__ == "Dense"]
    if not kernels:
        raise ValueError("the model has no Dense layers: weight-based methods need an MLP")
    return kernels


def first_layer(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> np.ndarray:
    """The classic answer: sum over hidden units of |first-layer kernel| per input.
    Blind to input scale and to everything after the first layer."""
    return np.abs(dense_kernels(model)[0]).sum(axis=1)
