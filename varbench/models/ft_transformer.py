"""`ft_transformer`: a small FT-Transformer (Gorishniy et al. 2021, "Revisiting Deep Learning
Models for Tabular Data", arXiv:2106.11959, section 3.3)."""
from __future__ import annotations

from typing import Mapping, Sequence

from varbench.models.layout import column_layout
from varbench.models.mlp import check_head, check_rates


def build_ft_transformer(
    n_features: int,
    task: str,
    groups: Mapping[str, Sequence[int]] | None = None,
    d_token: int = 16,
    n_blocks: int = 2,
    n_heads: int = 2,
    ffn_factor: float = 4 / 3,
    attention_dropout: float = 0.1,
    ffn_dropout: float = 0.05,
    residual_dropout: float = 0.0,
    n_outputs: int = 1,
):
    """Feature tokenizer -> n_blocks pre-norm transformer blocks -> readout from [CLS].

    Where each design choice was read: the authors' package, yandex-research/rtdl-revisiting-models,
    file package/paper_tabular_dl_revisiting_models.py ("If the package diverges from the original
    paper code, it is a bug"), cross-checked with the `Tokenizer` and `Transformer` classes of
    bin/ft_transformer.py there (the stored copy, at commit 10041ee, also carries a masked-token
    modification; those two classes build [CLS] as a constant-1 first token with no bias).

    - Tokens (`varbench.models.layers.FeatureTokenizer`): numeric x_j -> x_j W_j + b_j, a weight
      and a bias vector per feature (`LinearEmbeddings`); a categorical -> its embedding plus a
      per-feature bias (`CategoricalFeatureEmbeddings`, bias=True), read here from its one-hot
      block (`groups`, bound from the dataset by `varbench.models.layout.bind_groups`).
    - [CLS]: one trainable token prepended to every row (`CLSEmbedding`).
    - Blocks, pre-norm (`FTTransformerBackbone`: 'the so called "PreNorm" variation is used';
      "the very first normalization is skipped. This is CRUCIAL"): h + Attention(LN(h)), then
      h + FFN(LN(h)), with no LayerNorm before the first block's attention. The FFN is
      Linear(d_token -> 2 * hidden), ReGLU (a * relu(b) of its halves), dropout, Linear back, with
      hidden = int(d_token * ffn_factor) ("4 / 3 results in roughly the same number of
      parameters as 2.0 would with simple element-wise activations"); here the two halves are two
      Dense layers (the same map). In the last block only [CLS] queries the attention (the
      package's `x[:, :1] if i_block + 1 == n_blocks`; bin/ft_transformer.py: "for the last
      attention, it is enough to process only [CLS]").
    - Readout: the [CLS] token's representation -> LayerNorm -> ReLU -> Linear (`output`).
    - Defaults (ours, small so it trains in seconds on the harness's data): d_token 16, 2 blocks,
      2 heads (the package's defaults start at d_block 96 and 8 heads); attention dropout 0.1 and
      FFN dropout 0.05 (the package's `get_default_kwargs` gives 0.1 / 0.0 for one block and
      0.15 / 0.05 for two). Keras's MultiHeadAttention always has an output projection
      (the package's has one only for n_heads > 1). Trained by varbench's shared trainer
      (Adam, conf/trainer), not the paper's AdamW with weight decay.

    Examples
    --------
    >>> build_ft_transformer(6, "regression", groups={"c": [3, 4, 5]}, d_token=8, n_blocks=1).output.shape
    (None, 1)
    """
    import keras

    from varbench.models.layers import FeatureTokenizer

    check_rates(attention_dropout=attention_dropout, ffn_dropout=ffn_dropout, residual_dropout=residual_dropout,
                ffn_factor=ffn_factor)
    check_head(task, n_outputs)
    for name, value in (("d_token", d_token), ("n_blocks", n_blocks), ("n_heads", n_heads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"model.{name}={value!r} is invalid: expected an integer >= 1")
    if d_token % n_heads:
        raise ValueError(f"model.d_token={d_token} is invalid with n_heads={n_heads}: expected a multiple of n_heads")
    hidden = int(d_token * ffn_factor)
    if hidden < 1:
        raise ValueError(f"model.ffn_factor={ffn_factor!r} is invalid: d_token * ffn_factor must be >= 1")
    layout = column_layout(n_features, groups)
    n_tokens = 1 + len(layout.numeric) + len(layout.categorical)
    L = keras.layers

    def cls_only(t, name):  # the first token, [CLS], kept as a sequence of one
        return L.Cropping1D((0, n_tokens - 1), name=name)(t)

    def dropout(t, rate, name):
        return L.Dropout(rate, name=name)(t) if rate > 0 else t

    inputs = keras.Input(shape=(n_features,), name="x")
    h = FeatureTokenizer(layout.numeric, [cols for _, cols in layout.categorical], d_token,
                         name="tokenizer")(inputs)
    for i in range(n_blocks):
        last = i == n_blocks - 1
        a = h if i == 0 else L.LayerNormalization(name=f"attention_norm_{i}")(h)
        query = cls_only(a, f"cls_query_{i}") if last else a
        att = L.MultiHeadAttention(n_heads, d_token // n_heads, dropout=attention_dropout,
                                   name=f"attention_{i}")(query, a)
        h = L.Add(name=f"attention_residual_{i}")([cls_only(h, f"cls_residual_{i}") if last else h,
                                                  dropout(att, residual_dropout, f"attention_dropout_{i}")])
        f = L.LayerNormalization(name=f"ffn_norm_{i}")(h)
        f = L.Multiply(name=f"reglu_{i}")([L.Dense(hidden, name=f"ffn_{i}_linear")(f),
                                          L.Dense(hidden, activation="relu", name=f"ffn_{i}_gate")(f)])
        f = L.Dense(d_token, name=f"ffn_{i}_out")(dropout(f, ffn_dropout, f"ffn_dropout_{i}"))
        h = L.Add(name=f"ffn_residual_{i}")([h, dropout(f, residual_dropout, f"ffn_residual_dropout_{i}")])
    h = L.Reshape((d_token,), name="cls")(h)  # the last block kept [CLS] only
    h = L.LayerNormalization(name="output_norm")(h)
    h = L.Activation("relu", name="output_relu")(h)
    out = L.Dense(int(n_outputs), name="output")(h)
    return keras.Model(inputs, out, name="ft_transformer")
