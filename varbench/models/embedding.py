"""`mlp_embed`: an MLP over the numeric columns plus one learned embedding per categorical."""
from __future__ import annotations

from typing import Mapping, Sequence

from varbench.models.layout import column_layout
from varbench.models.mlp import check_head, check_rates, dense_stack


def build_mlp_embed(
    n_features: int,
    task: str,
    groups: Mapping[str, Sequence[int]] | None = None,
    embed_dim: int = 4,
    hidden: Sequence[int] = (64, 64),
    activation: str = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
    n_outputs: int = 1,
):
    """x (n, n_features) -> [numeric columns, one `embed_dim` embedding per one-hot group] ->
    Dense hidden... -> n_outputs linear units.

    groups: {name: one-hot columns}, bound from the dataset by the harness
    (`varbench.models.layout.bind_groups`); each group's block times its (levels, embed_dim)
    table is its embedding (`varbench.models.layers.OneHotEmbedding`): the embedding lookup on
    one-hot rows, differentiable in every column, so gradient methods, perturbations and the
    model truth work on the raw variables. Without groups the layer passes the columns through
    (an MLP). l2: L2 penalty on the hidden kernels, as in `build_mlp`.

    Examples
    --------
    >>> net = build_mlp_embed(6, "regression", groups={"colour": [3, 4, 5]}, embed_dim=2, hidden=[8])
    >>> net.get_layer("embedding").compute_output_shape((None, 6))
    (None, 5)
    """
    import keras

    from varbench.models.layers import OneHotEmbedding

    check_rates(dropout=dropout, l2=l2)
    check_head(task, n_outputs)
    if isinstance(embed_dim, bool) or not isinstance(embed_dim, int) or embed_dim < 1:
        raise ValueError(f"model.embed_dim={embed_dim!r} is invalid: expected an integer >= 1")
    layout = column_layout(n_features, groups)
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input(shape=(n_features,), name="x")
    h = OneHotEmbedding(layout.numeric, [cols for _, cols in layout.categorical], embed_dim, name="embedding")(inputs)
    h = dense_stack(h, hidden, activation, dropout, reg)
    out = keras.layers.Dense(int(n_outputs), name="output")(h)
    return keras.Model(inputs, out, name="mlp_embed")
