"""A network read as one chain of Dense layers: what the weight-reading methods (first-layer
weights, Garson, Olden, NID) and DeepLIFT's Rescale rule assume. Anything else (embeddings,
residual blocks, normalisation, attention) is refused in one line naming the first layer that
breaks the chain."""
from __future__ import annotations

from typing import Any

CHAIN_LAYERS = ("Dense", "Activation", "Dropout")


def layer_chain(net: Any, who: str) -> list[Any]:
    """The layers of `net` (its InputLayer left out) when it is one chain input -> layer -> ... ->
    output of Dense, Activation and Dropout layers with at least one Dense layer; else a
    one-line ValueError starting with `who` (the method that needs the chain).

    Examples
    --------
    >>> import keras
    >>> x = keras.Input((3,)); net = keras.Model(x, keras.layers.Dense(1)(keras.layers.Dense(4)(x)))
    >>> [type(layer).__name__ for layer in layer_chain(net, "garson")]
    ['Dense', 'Dense']
    """
    if len(net.inputs) != 1 or len(net.outputs) != 1:
        raise ValueError(f"{who}: the model must have exactly one input and one output")
    chain, current = [], net.inputs[0]
    for layer in net.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind not in CHAIN_LAYERS:
            raise ValueError(f"{who}: the network must be one chain of {', '.join(CHAIN_LAYERS)} layers "
                             f"(an MLP); layer {layer.name!r} is a {kind}")
        try:
            inp, out = layer.input, layer.output
        except (AttributeError, ValueError) as exc:
            raise ValueError(f"{who}: layer {layer.name!r} is not used exactly once in a chain") from exc
        if inp is not current:
            raise ValueError(f"{who}: layer {layer.name!r} does not follow the previous layer "
                             "(only a single chain of layers is supported)")
        chain.append(layer)
        current = out
    if current is not net.outputs[0] or not any(type(layer).__name__ == "Dense" for layer in chain):
        raise ValueError(f"{who}: the model's output is not the end of a chain of Dense layers")
    return chain
