"""Keras MLP builder: the architecture half of a model config, and the argument checks every
builder shares."""
from __future__ import annotations

from typing import Any, Sequence


def check_rates(**values: Any) -> None:
    """Each named value must be a number >= 0 (a rate or a penalty); one-line ValueError naming
    `model.<name>` otherwise."""
    for name, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
            raise ValueError(f"model.{name}={value!r} is invalid: expected a number >= 0")


def check_head(task: str, n_outputs: int) -> None:
    """n_outputs must be an integer >= 1, and >= 2 class logits for a multiclass task."""
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
        raise ValueError(f"n_outputs={n_outputs!r} is invalid: expected an integer >= 1")
    if task == "multiclass" and n_outputs < 2:
        raise ValueError(f"n_outputs={n_outputs} is invalid for task='multiclass': expected k >= 2 classes")


def dense_stack(h: Any, hidden: Sequence[int], activation: str, dropout: float, reg: Any = None) -> Any:
    """Dense layers `dense_0, dense_1, ...` of the given widths on the tensor h, each followed by
    `dropout_i` when dropout > 0."""
    import keras

    for i, width in enumerate(hidden):
        h = keras.layers.Dense(int(width), activation=activation, kernel_regularizer=reg, name=f"dense_{i}")(h)
        if dropout > 0:
            h = keras.layers.Dropout(dropout, name=f"dropout_{i}")(h)
    return h


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

    check_rates(l1=l1, l2=l2, dropout=dropout)
    check_head(task, n_outputs)
    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 > 0 or l2 > 0) else None
    out_reg = keras.regularizers.L1(l1) if l1 > 0 else None
    inputs = keras.Input(shape=(n_features,), name="x")
    h = dense_stack(inputs, hidden, activation, dropout, reg)
    out = keras.layers.Dense(int(n_outputs), kernel_regularizer=out_reg, name="output")(h)
    return keras.Model(inputs, out, name="mlp")
