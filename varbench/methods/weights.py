"""Importance read from the network's weights."""
from __future__ import annotations

import numpy as np

from varbench.datasets.base import Dataset
from varbench.models.chain import layer_chain
from varbench.models.trained import TrainedModel


def dense_kernels(model: TrainedModel) -> list[np.ndarray]:
    """The kernels of the network's Dense layers, input to output. The network must be one chain
    of Dense / Activation / Dropout layers (an MLP): weights read through an embedding, a
    residual block, a normalisation or attention would be numbers about another function, so
    anything else is refused in one line."""
    return [layer.get_weights()[0] for layer in layer_chain(model.keras, "weights read from the network")
            if layer.__class__.__name__ == "Dense"]


def first_layer(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> np.ndarray:
    """The classic answer: sum over hidden units of |first-layer kernel| per input.
    Blind to input scale and to everything after the first layer."""
    return np.abs(dense_kernels(model)[0]).sum(axis=1)


def _single_output(kernels: list[np.ndarray], column: int = 0) -> list[np.ndarray]:
    """The kernels with the last one cut to the explained output unit (`model.target`)."""
    return [*kernels[:-1], kernels[-1][:, column:column + 1]]


def garson(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> np.ndarray:
    """Garson's algorithm (Garson 1991; the form used by Goh 1995 and Olden & Jackson 2002).

    One hidden layer, input i, hidden unit h, output weight v_h:
        RI_i = sum_h (|w_ih| / sum_r |w_rh|) |v_h|, normalised so that sum_i RI_i = 1,
    i.e. each hidden unit's absolute output weight is shared among the inputs in proportion
    to their absolute incoming weights. (Some implementations divide |w_ih v_h| by
    sum_r |w_rh v_h| instead, which cancels v_h for a single output; we keep Garson's form.)

    Deeper networks (our choice): every non-output Dense layer l is turned into a share matrix
    S_l = |W_l| with each unit's incoming column normalised to sum 1, and
        RI is proportional to S_1 S_2 ... S_{L-1} |w_L|,
    i.e. the output's absolute weights are passed back layer by layer in proportion to
    absolute incoming weights. With one hidden layer this is exactly the formula above; with
    no hidden layer it is |w| / sum |w|. Biases and activations are ignored, and the result is
    unsigned (it cannot tell the direction of an effect) and blind to the input scale.
    """
    kernels = _single_output(dense_kernels(model), model.target or 0)
    share = np.abs(kernels[-1].astype(np.float64))
    for W in reversed(kernels[:-1]):
        A = np.abs(W.astype(np.float64))
        col = A.sum(axis=0, keepdims=True)
        share = (A / np.where(col > 0, col, 1.0)) @ share  # a unit with no incoming weight passes nothing
    total = share.sum()
    return share[:, 0] / total if total > 0 else share[:, 0]


def connection_weights(model: TrainedModel) -> np.ndarray:
    """Olden's signed connection weights: the product W_1 W_2 ... W_L of the Dense kernels,
    i.e. the end-to-end linear map of the network with activations and biases ignored.
    With one hidden layer, c_i = sum_h w_ih v_h. Shape (d,)."""
    kernels = _single_output(dense_kernels(model), model.target or 0)
    c = kernels[0].astype(np.float64)
    for W in kernels[1:]:
        c = c @ W.astype(np.float64)
    return c[:, 0]


def olden(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> np.ndarray:
    """Olden & Jackson (2002) connection-weight importance: |sum over hidden units of
    w_ih * w_ho|, generalised to deeper networks as |W_1 W_2 ... W_L| (the network's
    end-to-end linear map, activations and biases ignored; see `connection_weights` for the
    signed values). The score is the absolute value; inputs are not rescaled, so a feature's
    score depends on its units."""
    return np.abs(connection_weights(model))
