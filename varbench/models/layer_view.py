"""Gradient methods on categorical inputs: the network seen from its embedding (lookup) outputs.

A categorical input (integer or string codes) has no gradient. As Captum's layer attribution
does (`LayerIntegratedGradients`: attribute to a layer's output, then sum over its units), the
gradient methods take the network as a function of each categorical input's first float tensor
downstream — the output of its `Embedding`, or the one-hot/multi-hot output of its
`StringLookup`/`IntegerLookup`/`CategoryEncoding` chain (as `keras.utils.FeatureSpace` builds) —
and of its numeric inputs as they are. `embedding_view` returns that cut network as a
`TrainedModel` and the data in its *embedded matrix* (numeric columns, then for each categorical
variable the flattened layer output, in the variable matrix's column order), with each variable's
columns as a group: an additive attribution (IG, gradient x input) summed over a variable's columns
is that variable's, exactly as Captum sums over the embedding dimension. One difference: the
method's baseline rule ("zero", "mean") applies in the layer's own space (e.g. IG from the mean
embedding), which is continuous, whereas Captum maps a baseline *input* through the layer (its
default: input 0). Saliency and SmoothGrad report |gradient| summed over the layer's units.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from varbench.datasets.base import Dataset, GroundTruth, variables
from varbench.models.inputs import Slot, Variables, from_model


def _consumers(net: Any, tensor: Any) -> list[tuple[Any, list[Any], int]]:
    """(layer, output tensors, number of input tensors) of every call in `net` taking `tensor`."""
    out = []
    for layer in net.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            if any(t is tensor for t in node.input_tensors):
                out.append((layer, list(node.outputs), len(node.input_tensors)))
    return out


def first_float_output(net: Any, tensor: Any, name: str) -> Any:
    """The first float tensor reached from an integer/string input through a chain of single
    layers of one input each (lookups, then an Embedding or a one-hot encoding; never a nested
    model, whose output is not the input's own layer output); one-line error otherwise."""
    import keras

    t = tensor
    for _ in range(8):
        calls = _consumers(net, t)
        if len(calls) != 1 or len(calls[0][1]) != 1 or calls[0][2] != 1 or isinstance(calls[0][0], keras.Model):
            raise ValueError(f"gradient methods: the categorical input {name!r} does not feed one chain of "
                             "single-input layers ending in an Embedding or a one-hot lookup; use permutation "
                             "or kernel_shap")
        t = calls[0][1][0]
        if str(t.dtype).startswith("float"):
            return t
    raise ValueError(f"gradient methods: no float layer output follows the categorical input {name!r}")


def embedding_view(model: Any, data: Dataset, method: str) -> tuple[Any, Dataset, Dataset]:
    """(the network from its embedding outputs as a TrainedModel, the data in its embedded
    matrix without groups, the same with one group per variable) for gradient method `method`.
    The grouped data's variables are those of `data`, in the same order."""
    import keras

    v: Variables = model.inputs if model.inputs is not None else from_model(model.keras, data.X_test[:1])
    net = model.keras
    numeric_categorical = [data.feature_names[c] for c in data.categorical
                           if any(s.kind == "numeric" and c in s.columns for s in v.slots)]
    if numeric_categorical:
        raise ValueError(f"method {method!r} differentiates its inputs, and the categorical variables "
                         f"{numeric_categorical} enter the model as numbers (no embedding or lookup layer): use "
                         "a method that resamples them (e.g. permutation, kernel_shap)")
    struct = getattr(net, "input", None)
    tensors = list(struct.values()) if isinstance(struct, dict) else list(net.inputs)
    cut_inputs, slots, embed_of, start = [], [], {}, 0
    for s, t in zip(v.slots, tensors):
        if s.kind == "numeric":
            cut_inputs.append(t)
            slots.append(dataclasses.replace(s, start=start))
            start += s.width
            continue
        out = first_float_output(net, t, s.name)
        shape = tuple(int(d) for d in out.shape[1:])
        width = int(np.prod(shape))
        if s.width > 1 and (len(shape) != 2 or shape[0] != s.width):
            raise ValueError(f"method {method!r}: the categorical input {s.name!r} has {s.width} columns but its "
                             f"layer output has shape {shape}: its columns cannot be told apart")
        cut_inputs.append(out)
        embed_of[s.name] = keras.Model(t, out)
        slots.append(Slot(s.name, shape, "float32", "numeric", start, width))
        start += width
    try:
        cut = keras.Model(cut_inputs, net.outputs[0])
    except Exception as err:  # noqa: BLE001 - a graph that does not split at these layers
        raise ValueError(f"method {method!r}: the network cannot be cut at its embedding outputs ({err})") from err
    names, groups = [], {}
    for s_old, s_new in zip(v.slots, slots):
        if s_old.kind == "numeric":
            names.extend(v.names[c] for c in s_old.columns)
            continue
        per = s_new.width // s_old.width
        for j, c in enumerate(s_old.columns):
            cols = [f"{v.names[c]}[e{k}]" for k in range(per)]
            names.extend(cols)
            groups[v.names[c]] = list(range(s_new.start + j * per, s_new.start + (j + 1) * per))
    view_vars = Variables("list", tuple(slots), tuple(names), ())
    view = dataclasses.replace(model, keras=cut, inputs=view_vars, n_evals=0, _fns={}, refit=None)

    def embed(X: np.ndarray) -> np.ndarray:
        decoded = v.decode(X)
        parts = decoded if isinstance(decoded, list) else (
            list(decoded.values()) if isinstance(decoded, dict) else [decoded])
        blocks = []
        for s, part in zip(v.slots, parts):
            if s.kind == "numeric":
                blocks.append(np.asarray(X[:, s.start:s.start + s.width], np.float32))
            else:
                e = embed_of[s.name](part, training=False)
                blocks.append(np.asarray(e, np.float32).reshape(X.shape[0], -1))
        return np.concatenate(blocks, axis=1)

    X_train, X_test = embed(data.X_train), embed(data.X_test)
    for name, cols in (data.groups or {}).items():  # a user's group: the union of its variables' columns
        members = [data.feature_names[c] for c in cols]
        groups_cols = [groups.pop(m) if m in groups else [names.index(m)] for m in members]
        groups[name] = sorted(c for g in groups_cols for c in g)
    return view, _embedded(data, X_train, X_test, names, None), _embedded(data, X_train, X_test, names, groups)


def _embedded(data: Dataset, X_train: np.ndarray, X_test: np.ndarray, names: list[str],
              groups: dict[str, list[int]] | None) -> Dataset:
    """`data` in the embedded matrix (its truth unknown: a user's data has none)."""
    n_var = len(variables(names, groups))
    unknown = GroundTruth(importance=np.ones(n_var), relevant=np.ones(n_var, bool), definition="unknown (user data)")
    return Dataset(X_train=X_train, y_train=data.y_train, X_test=X_test, y_test=data.y_test, task=data.task,
                   truth=unknown, feature_names=names, name=data.name, groups=groups)
