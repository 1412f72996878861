"""Inputs as the model has them: the `Variables` map from a Keras model's inputs (one tensor, a
list, or a dict of named inputs) to the variables a user names.

Methods work on one flat float matrix, the *variable matrix*: one column per variable column of
the model's inputs, in input order. A numeric (float) input contributes its columns as they are;
an integer or string input is categorical: each of its columns is one categorical variable,
stored as a code (an integer input's own value; a string input's index into `vocabulary`, the
sorted values seen in the data). `Variables.decode` turns a block of that matrix back into the
model's own inputs (dtype, shape and structure) inside the engine's compiled call, so permuting or
masking a code column is exact for a categorical variable. `Variables.categorical` lists the code
columns; a method that would do arithmetic on them (average, add noise, differentiate) is refused
(`varbench.methods.variables.check_categorical`). A `category`-dtype DataFrame column feeding a
float input is a categorical variable too (its values are passed as numbers, as the model takes
them).

`from_model(net, X, ...)` reads the structure and converts the user's X column by column: bool
-> 0/1; pandas nullable Int64/Float64/boolean -> exact, or a one-line error naming a column with
missing values; `category` -> a categorical variable; strings only for a string input; repeated
column names refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

EXACT_CODE = 2 ** 24  # integers up to this size are exact in the float32 variable matrix


@dataclass(frozen=True)
class Slot:
    """One model input: its name, per-row shape, dtype, kind and its columns in the variable matrix.

    kind: "numeric" (a float input) or "categorical" (an integer or string input); vocabulary:
    a string input's values, indexed by code."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    kind: str
    start: int
    width: int
    vocabulary: tuple[str, ...] | None = None

    @property
    def columns(self) -> list[int]:
        return list(range(self.start, self.start + self.width))


@dataclass(frozen=True)
class Variables:
    """The map from a Keras model's inputs to the columns of the variable matrix (module note).

    structure: "single", "list" or "dict" (how the model takes its inputs); slots: one per model
    input in the model's order; names: one per column; categorical: the code columns (whole
    categorical variables: permuted or masked as values, never averaged)."""

    structure: str
    slots: tuple[Slot, ...]
    names: tuple[str, ...]
    categorical: tuple[int, ...] = ()

    @property
    def n_columns(self) -> int:
        return len(self.names)

    @property
    def is_plain(self) -> bool:
        """One float input taking the matrix as it is: no decoding needed."""
        return self.structure == "single" and self.slots[0].kind == "numeric" and len(self.slots[0].shape) == 1

    def decode(self, x: Any) -> Any:
        """A block (n, d) of the variable matrix (float32 tensor or array) -> the model's inputs:
        one tensor, a list or a dict, each in its own dtype and shape (string codes looked up in
        the vocabulary). Traceable: the engine calls it inside its compiled function."""
        import tensorflow as tf

        x = tf.convert_to_tensor(x, tf.float32)
        parts = []
        for s in self.slots:
            cols = x[:, s.start:s.start + s.width]
            if s.vocabulary is not None:
                value = tf.gather(tf.constant(list(s.vocabulary)), tf.cast(tf.round(cols), tf.int32))
            elif s.kind == "categorical":
                value = tf.cast(tf.round(cols), s.dtype)
            else:
                value = tf.cast(cols, s.dtype)
            parts.append(tf.reshape(value, [-1, *s.shape]))
        if self.structure == "single":
            return parts[0]
        if self.structure == "dict":
            return {s.name: p for s, p in zip(self.slots, parts)}
        return parts

    def encode(self, X: Any, name: str = "X") -> np.ndarray:
        """The user's X (same forms as `from_model`) as a float32 variable matrix, with the codes
        of this map (a string value not in `vocabulary`: one-line error)."""
        blocks = _blocks(self.structure, [(s.name, s.shape, s.dtype) for s in self.slots], X, name)
        out = []
        for s, (values, _) in zip(self.slots, blocks):
            out.append(_codes(values, s, name))
        return np.concatenate(out, axis=1).astype(np.float32) if out else np.zeros((0, 0), np.float32)


# ----------------------------------------------------------------------------- reading the model

def _kind(dtype: str) -> str:
    if dtype.startswith("float") or dtype.startswith("bfloat"):
        return "numeric"
    if dtype.startswith("int") or dtype.startswith("uint") or dtype in ("string", "bool"):
        return "categorical"
    raise ValueError(f"a model input has dtype {dtype!r}: varbench explains float, integer or string inputs")


def model_inputs(net: Any) -> tuple[str, list[tuple[str, tuple[int, ...], str]]]:
    """(structure, [(name, per-row shape, dtype)]) of a Keras model's inputs; one-line error for
    inputs that are not tables (rank > 2 per batch) or have a free non-batch dimension."""
    struct = getattr(net, "input", None)
    tensors = getattr(net, "inputs", None) or []
    if not tensors:
        raise ValueError("the model has no defined inputs: build it (call it once, or start it with keras.Input)")
    if isinstance(struct, Mapping):
        structure, named = "dict", list(struct.items())
    elif len(tensors) == 1 and not isinstance(struct, (list, tuple)):
        structure, named = "single", [(tensors[0].name, tensors[0])]
    else:
        structure, named = "list", [(t.name, t) for t in tensors]
    out = []
    for key, t in named:
        shape = tuple(t.shape[1:])
        if len(shape) > 1 or any(s is None for s in shape):
            raise ValueError(f"the model's input {key!r} has shape {tuple(t.shape)}: varbench explains tabular "
                             "inputs of shape (n,) or (n, k)")
        out.append((str(key), tuple(int(s) for s in shape), str(t.dtype)))
    return structure, out


def _width(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) if shape else 1


# ----------------------------------------------------------------------------- reading the data

def _frame_columns(df: pd.DataFrame, name: str) -> list[tuple[str, np.ndarray, bool]]:
    """[(column name, values, is a `category` column)] of a DataFrame, converted column by column."""
    cols = [str(c) for c in df.columns]
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise ValueError(f"{name} has repeated column names {dup}: give every column its own name")
    out = []
    for j, c in enumerate(cols):
        s = df.iloc[:, j]
        missing = int(s.isna().sum())
        if missing:
            raise ValueError(f"{name} column {c!r} has {missing} missing value(s) (dtype {s.dtype}): fill or drop "
                             "them first; varbench does not impute")
        if isinstance(s.dtype, pd.CategoricalDtype):
            out.append((c, np.asarray(s.cat.categories)[s.cat.codes.to_numpy()], True))
        elif pd.api.types.is_bool_dtype(s.dtype):
            out.append((c, s.to_numpy(dtype=np.float64), False))
        elif pd.api.types.is_extension_array_dtype(s.dtype) and pd.api.types.is_numeric_dtype(s.dtype):
            out.append((c, s.to_numpy(dtype=np.float64 if pd.api.types.is_float_dtype(s.dtype) else np.int64), False))
        elif pd.api.types.is_numeric_dtype(s.dtype):
            out.append((c, s.to_numpy(), False))
        else:
            out.append((c, s.to_numpy(dtype=object), False))
    return out


def _as_2d(values: Any, key: str, shape: tuple[int, ...], name: str) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim == 1 and _width(shape) == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] != _width(shape):
        raise ValueError(f"{name}[{key!r}] has shape {a.shape}: the model's input {key!r} takes "
                         f"(n, {_width(shape)})")
    return a


def _single_2d(values: np.ndarray, key: str, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The table of a single-input model, checked against the input's width."""
    a = np.asarray(values)
    if a.ndim == 2 and a.shape[1] != _width(shape):
        raise ValueError(f"{name} has {a.shape[1]} columns: the model takes {_width(shape)} inputs")
    return _as_2d(a, key, shape, name)


def _blocks(structure: str, specs: list[tuple[str, tuple[int, ...], str]], X: Any,
            name: str) -> list[tuple[np.ndarray, list[tuple[str, bool]] | None]]:
    """Per model input: (values (n, width), [(column name, is category)] or None) from X."""
    keys = [k for k, _, _ in specs]
    if structure == "single":
        shape = specs[0][1]
        if isinstance(X, pd.DataFrame):
            cols = _frame_columns(X, name)
            text = [c for c, v, _ in cols if not _is_numbers(_numeric_if_possible(v))]
            if text and _kind(specs[0][2]) == "numeric":
                raise ValueError(f"{name} columns {text} hold non-numeric values: the model's one input takes "
                                 f"{specs[0][2]}; encode them as the model was trained")
            values = _numeric_if_possible(np.column_stack([v for _, v, _ in cols]) if cols
                                          else np.zeros((len(X), 0)))
            block = _single_2d(values, keys[0], shape, name)
            return [(block, [(c, cat) for c, _, cat in cols])]
        if isinstance(X, (list, tuple, Mapping)):
            raise ValueError(f"{name} is a {type(X).__name__}: the model has one input, pass one array or DataFrame")
        a = np.asarray(X)
        if a.ndim != 2:
            raise ValueError(f"{name} must be a 2-D table (n, d), got shape {a.shape}")
        return [(_single_2d(a, keys[0], shape, name), None)]
    if isinstance(X, pd.DataFrame):
        cols = {c: (v, cat) for c, v, cat in _frame_columns(X, name)}
        wide = [k for k, shape, _ in specs if _width(shape) != 1]
        if wide:
            raise ValueError(f"{name} is a DataFrame but the model's inputs {wide} take several columns: pass a "
                             f"dict or list of arrays, one per input {keys}")
        _check_keys(name, "columns", list(cols), keys)
        return [(_as_2d(cols[k][0], k, shape, name), [(k, cols[k][1])]) for k, shape, _ in specs]
    if isinstance(X, Mapping):
        _check_keys(name, "keys", [str(k) for k in X], keys)
        X = {str(k): v for k, v in X.items()}
        return [(_as_2d(_series_values(X[k], name, k), k, shape, name), _category_flag(X[k], k))
                for k, shape, _ in specs]
    if isinstance(X, (list, tuple)):
        if len(X) != len(specs):
            raise ValueError(f"{name} is a list of {len(X)} arrays: the model has {len(specs)} inputs {keys}")
        return [(_as_2d(_series_values(v, name, k), k, shape, name), _category_flag(v, k))
                for v, (k, shape, _) in zip(X, specs)]
    raise ValueError(f"{name} is a {type(X).__name__}: the model has {len(specs)} inputs {keys}; pass a list or "
                     "dict of arrays (or a DataFrame whose columns are the input names)")


def _check_keys(name: str, what: str, given: list[str], keys: list[str]) -> None:
    missing = [k for k in keys if k not in given]
    extra = [k for k in given if k not in keys]
    if missing or extra:
        raise ValueError(f"{name} {what} {given} do not match the model's inputs {keys}: missing {missing}, "
                         f"not model inputs {extra}")


def _series_values(v: Any, name: str, key: str) -> np.ndarray:
    if isinstance(v, (pd.Series, pd.DataFrame)):
        frame = v.to_frame() if isinstance(v, pd.Series) else v
        cols = _frame_columns(frame, f"{name}[{key!r}]")
        return _numeric_if_possible(np.column_stack([vals for _, vals, _ in cols]))
    return np.asarray(v)


def _category_flag(v: Any, key: str) -> list[tuple[str, bool]] | None:
    if isinstance(v, pd.Series):
        return [(key, isinstance(v.dtype, pd.CategoricalDtype))]
    return None


def _numeric_if_possible(values: np.ndarray) -> np.ndarray:
    """An object block of numbers as float64; strings or mixtures stay object."""
    if values.dtype == object and all(isinstance(v, (int, float, np.integer, np.floating, np.bool_))
                                      for v in values.ravel()):
        return values.astype(np.float64)
    return values


def _is_numbers(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.bool_)


def _codes(values: np.ndarray, slot: Slot, name: str) -> np.ndarray:
    """One input's values (n, width) as float codes/values of the variable matrix."""
    if slot.vocabulary is not None:
        strings = values.astype(str)
        index = {v: i for i, v in enumerate(slot.vocabulary)}
        unknown = sorted({str(v) for v in strings.ravel() if v not in index})
        if unknown:
            raise ValueError(f"{name}[{slot.name!r}] holds values {unknown[:5]} not seen when the variables were "
                             "built: pass them in X or X_train")
        return np.vectorize(index.__getitem__, otypes=[np.float64])(strings) if strings.size else \
            np.zeros(strings.shape)
    if not _is_numbers(values):
        raise ValueError(f"{name}[{slot.name!r}] holds non-numeric values (dtype {values.dtype}): the model's "
                         f"input {slot.name!r} takes {slot.dtype}; encode them as the model was trained")
    out = values.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name}[{slot.name!r}] holds NaN or inf values: fill or drop them first")
    if slot.kind == "categorical":
        if not np.all(out == np.round(out)):
            raise ValueError(f"{name}[{slot.name!r}] holds non-integer values: the model's input {slot.name!r} "
                             f"takes {slot.dtype} codes")
        if np.abs(out).max(initial=0) >= EXACT_CODE:
            raise ValueError(f"{name}[{slot.name!r}] holds codes of {EXACT_CODE} or more: not exact in float32")
    return out


def from_model(net: Any, X: Any, X_train: Any = None, feature_names: Sequence[str] | None = None,
               name: str = "X") -> Variables:
    """The `Variables` map of Keras model `net` for the user's X (a numpy array, a DataFrame, a
    list or a dict of arrays; DataFrame columns are matched to a dict model's input names).
    X_train, when given, is read too so that a string input's vocabulary covers both.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from varbench.models.inputs import from_model
    >>> num, cat = keras.Input((2,), name="num"), keras.Input((1,), dtype="int32", name="cat")
    >>> emb = keras.layers.Flatten()(keras.layers.Embedding(4, 2)(cat))
    >>> net = keras.Model([num, cat], keras.layers.Dense(1)(keras.layers.Concatenate()([num, emb])))
    >>> v = from_model(net, [np.zeros((3, 2)), np.array([[0], [1], [3]])])
    >>> v.names, v.categorical
    (('num[0]', 'num[1]', 'cat'), (2,))
    """
    structure, specs = model_inputs(net)
    blocks = _blocks(structure, specs, X, name)
    train = _blocks(structure, specs, X_train, "X_train") if X_train is not None else None
    slots, names, categorical, start = [], [], [], 0
    for i, ((key, shape, dtype), (values, cols)) in enumerate(zip(specs, blocks)):
        kind = _kind(dtype)
        width = values.shape[1]
        vocab = None
        if dtype == "string":
            seen = values if train is None else np.concatenate([values, train[i][0]])
            vocab = tuple(sorted({str(v) for v in seen.ravel()}))
        slots.append(Slot(key, shape, dtype, kind, start, width, vocab))
        col_names = [c for c, _ in cols] if cols else (
            [key] if width == 1 and structure != "single" else
            [f"x{j}" for j in range(width)] if structure == "single" else [f"{key}[{j}]" for j in range(width)])
        is_cat = [kind == "categorical" or (cols is not None and cols[j][1]) for j in range(width)]
        names.extend(col_names)
        categorical.extend(start + j for j in range(width) if is_cat[j])
        start += width
    if feature_names is not None:
        feature_names = [str(f) for f in feature_names]
        if len(feature_names) != start:
            raise ValueError(f"feature_names has {len(feature_names)} names for {start} columns {names}")
        names = feature_names
    out = Variables(structure, tuple(slots), tuple(names), tuple(categorical))
    for s, (values, _) in zip(out.slots, blocks):  # every value must be representable before any evaluation
        _codes(values, s, name)
    return out
