"""`resmlp`: an MLP of residual blocks with layer normalisation and dropout."""
from __future__ import annotations

from varbench.models.mlp import check_head, check_rates


def build_resmlp(
    n_features: int,
    task: str,
    d_main: int = 64,
    d_hidden: int = 128,
    n_blocks: int = 2,
    dropout: float = 0.1,
    residual_dropout: float = 0.0,
    n_outputs: int = 1,
):
    """The ResNet of Gorishniy et al. 2021 (section 3.2), as their package draws it
    (yandex-research/rtdl-revisiting-models, package/paper_tabular_dl_revisiting_models.py,
    `ResNet`)::

        x -> Dense(d_main) -> Block x n_blocks -> Norm -> ReLU -> Dense(n_outputs)
        Block: h + Dropout(residual_dropout)(Dense(d_main)(Dropout(dropout)(ReLU(Dense(d_hidden)(Norm(h))))))

    Normalisation: LayerNormalization where the paper uses BatchNorm. A layer norm is a function
    of each row alone, in training as at inference: the network has no moving statistics for
    early stopping's best-weight restore to keep in step, what it learns does not depend on
    which rows share a mini-batch, and it is the normalisation of the FT-Transformer's residual
    blocks in the same paper.

    Examples
    --------
    >>> build_resmlp(5, "regression", d_main=8, d_hidden=16, n_blocks=1).output.shape
    (None, 1)
    """
    import keras

    check_rates(dropout=dropout, residual_dropout=residual_dropout)
    check_head(task, n_outputs)
    for name, value in (("d_main", d_main), ("d_hidden", d_hidden), ("n_blocks", n_blocks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"model.{name}={value!r} is invalid: expected an integer >= 1")
    layers = keras.layers
    inputs = keras.Input(shape=(n_features,), name="x")
    h = layers.Dense(d_main, name="input_projection")(inputs)
    for i in range(n_blocks):
        r = layers.LayerNormalization(name=f"norm_{i}")(h)
        r = layers.Dense(d_hidden, activation="relu", name=f"dense_{i}a")(r)
        if dropout > 0:
            r = layers.Dropout(dropout, name=f"dropout_{i}")(r)
        r = layers.Dense(d_main, name=f"dense_{i}b")(r)
        if residual_dropout > 0:
            r = layers.Dropout(residual_dropout, name=f"residual_dropout_{i}")(r)
        h = layers.Add(name=f"residual_{i}")([h, r])
    h = layers.LayerNormalization(name="output_norm")(h)
    h = layers.Activation("relu", name="output_relu")(h)
    out = layers.Dense(int(n_outputs), name="output")(h)
    return keras.Model(inputs, out, name="resmlp")
