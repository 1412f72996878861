"""varbench's custom Keras layers: categorical embeddings read from one-hot blocks, and the
FT-Transformer's feature tokenizer.

Both take the harness's (n, d) float matrix. A categorical variable is a block of one-hot
columns (`varbench.models.layout`); its embedding is the block times an embedding table, which
for a one-hot row IS the table's row (an embedding lookup) and between rows (an interpolation
path, a perturbed row) is the matching mix of rows, so the network stays differentiable in
every input column and every method keeps working on the raw variables.

Each layer is registered with `keras.saving.register_keras_serializable(package="varbench")`
so the model cache loads it in Keras safe mode. Importing this module imports Keras: the
builders import it when they build, the cache before it loads.
"""
from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops

PACKAGE = "varbench"


def _uniform(dim: int) -> keras.initializers.Initializer:
    """U(-1/sqrt(dim), 1/sqrt(dim)), the embeddings' initialisation in Gorishniy et al.'s package
    (`_init_uniform_rsqrt`, yandex-research/rtdl-revisiting-models, package/paper_tabular_dl_revisiting_models.py)."""
    return keras.initializers.RandomUniform(-dim ** -0.5, dim ** -0.5)


def _embed_blocks(x: Any, groups: Sequence[Sequence[int]], tables: Sequence[Any]) -> list[Any]:
    """Each one-hot block of x times its table: one (n, dim) embedding per categorical."""
    return [ops.matmul(ops.take(x, list(cols), axis=1), table) for cols, table in zip(groups, tables)]


class _Layout(keras.layers.Layer):
    """A layer configured by the input's layout: numeric columns, one-hot groups, a width."""

    def __init__(self, numeric: Sequence[int], groups: Sequence[Sequence[int]], dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.numeric = [int(j) for j in numeric]
        self.groups = [[int(c) for c in cols] for cols in groups]
        self.dim = int(dim)
        if self.dim < 1:
            raise ValueError(f"dim={dim!r} is invalid: expected an integer >= 1")

    def _tables(self) -> list[Any]:
        return [self.add_weight(shape=(len(cols), self.dim), initializer=_uniform(self.dim), name=f"table_{i}")
                for i, cols in enumerate(self.groups)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "numeric": self.numeric, "groups": self.groups, "dim": self.dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class OneHotEmbedding(_Layout):
    """(n, d) -> (n, n_numeric + n_groups * dim): the numeric columns as they are, then one
    `dim`-wide embedding per one-hot group (block @ table: an embedding lookup on one-hot rows)."""

    def build(self, input_shape: Any) -> None:
        self.tables = self._tables()

    def call(self, x: Any) -> Any:
        parts = ([ops.take(x, self.numeric, axis=1)] if self.numeric else []) + _embed_blocks(x, self.groups,
                                                                                             self.tables)
        return ops.concatenate(parts, axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, int]:
        return (input_shape[0], len(self.numeric) + len(self.groups) * self.dim)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FeatureTokenizer(_Layout):
    """(n, d) -> (n, 1 + n_numeric + n_groups, dim): the tokens of FT-Transformer's feature
    tokenizer (Gorishniy et al. 2021, section 3.3), as in the authors' package
    (yandex-research/rtdl-revisiting-models, package/paper_tabular_dl_revisiting_models.py):
    [CLS] first (`CLSEmbedding` prepends one trainable vector to every row); numeric column j
    as x_j * W_j + b_j with a weight and a bias vector per feature (`LinearEmbeddings`);
    categorical g as its embedding plus a bias vector per feature (`CategoricalFeatureEmbeddings`,
    bias=True: "In the paper, we used `bias=True`"), the embedding read from the one-hot block."""

    def build(self, input_shape: Any) -> None:
        init = _uniform(self.dim)
        self.cls = self.add_weight(shape=(self.dim,), initializer=init, name="cls")
        if self.numeric:
            self.weight = self.add_weight(shape=(len(self.numeric), self.dim), initializer=init, name="weight")
            self.bias = self.add_weight(shape=(len(self.numeric), self.dim), initializer=init, name="bias")
        self.tables = self._tables()
        if self.groups:
            self.cat_bias = self.add_weight(shape=(len(self.groups), self.dim), initializer=init, name="cat_bias")

    def call(self, x: Any) -> Any:
        ones = ops.ones_like(x[:, :1])  # (n, 1): the [CLS] token for every row
        tokens = [ops.expand_dims(ones * self.cls, 1)]
        if self.numeric:
            xn = ops.take(x, self.numeric, axis=1)
            tokens.append(ops.expand_dims(xn, -1) * self.weight + self.bias)
        if self.groups:
            tokens.append(ops.stack(_embed_blocks(x, self.groups, self.tables), axis=1) + self.cat_bias)
        return ops.concatenate(tokens, axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, int, int]:
        return (input_shape[0], 1 + len(self.numeric) + len(self.groups), self.dim)
