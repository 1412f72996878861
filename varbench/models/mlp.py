"""Keras MLP builder: the architecture half of a model config."""
from __future__ import annotations

from typing import Sequence


def build_mlp(
    n_features: int,
    task: str,
    hidden: Sequence[int] = (64, 64),
    activation: str = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
    l1: float = 0.0,
    n_outputs: int = 1,
):
    """A dense network n_features -> hidden... -> n_outputs linear units.

    The outputs are the regression values, the logit of class 1 (binary classification) or the
    k class logits (multiclass: n_outputs = k, passed by the trainer); `TrainedModel` applies the
    sigmoid / softmax when probabilities are explained.
    l2: L2 penalty on the hidden kernels; l1: L1 penalty on every kernel, the output's included
    (as in the reference code of Neural Interaction Detection, which sparsifies every weight matrix).
    """
    import keras

    for name, value in (("l1", l1), ("l2", l2), ("dropout", dropout)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
            raise ValueError(f"model.{name}={value!r} is invalid: expected a number >= 0")
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
        raise ValueError(f"n_outputs={n_outputs!r} is invalid: expected an integer >= 1")
    if task == "multiclass" and n_outputs < 2:
        raise ValueError(f"n_outputs={n_outputs} is invalid for task='multiclass': expected k >= 2 classes")
    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 > 0 or l2 > 0) else None
    out_reg = keras.regularizers.L1(l1) if l1 > 0 else None
    inputs = keras.Input(shape=(n_features,), name="x")
    h = inputs
    for i, width in enumerate(hidden):
        h = keras.layers.Dense(int(width), activation=activation, kernel_regularizer=reg, name=f"dense_{i}")(h)
        if dropout > 0:
            h = keras.layers.Dropout(dropout, name=f"dropout_{i}")(h)
    out = keras.layers.Dense(int(n_outputs), kernel_regularizer=out_reg, name="output")(h)
    return keras.Model(inputs, out, name="mlp")
