"""The model-parameter randomisation check (Adebayo et al. 2018, "Sanity checks for saliency
maps", NeurIPS): a method whose importance does not change when the network's weights are
re-initialised does not explain the trained model.

`randomized_model` copies the network with re-initialised weights (kernels redrawn
Glorot-uniform from a seeded numpy stream, 1-D weights such as biases set to zero): the last
layer with weights only ("last"), or every layer ("all"). `randomization_spearman` is the Spearman
correlation between the method's importance on the trained model and on such a copy; lower is
better (a method blind to the weights scores 1).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from varbench.models.trained import TrainedModel

SCOPES = ("last", "all")


def randomized_model(model: TrainedModel, scope: str, rng: np.random.Generator) -> TrainedModel:
    """A copy of `model` (same head, output and target) whose weights in `scope` ("last": the last
    layer that has weights; "all": every layer) are re-initialised; the original is untouched.

    Examples
    --------
    See ``tests/test_truth_free.py``.
    """
    import keras

    if scope not in SCOPES:
        raise ValueError(f"scope={scope!r} is invalid: expected one of {SCOPES}")
    copy = keras.models.clone_model(model.keras)
    copy.set_weights(model.keras.get_weights())
    layers = [layer for layer in copy.layers if layer.weights]
    for layer in layers[-1:] if scope == "last" else layers:
        new = []
        for w in layer.get_weights():
            if w.ndim >= 2:
                fan_in, fan_out = int(np.prod(w.shape[:-1])), int(w.shape[-1])
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                new.append(rng.uniform(-limit, limit, w.shape).astype(w.dtype))
            else:
                new.append(np.zeros_like(w))
        layer.set_weights(new)
    return dataclasses.replace(model, keras=copy, refit=None, n_evals=0, _fns={})
