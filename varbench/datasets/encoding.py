"""A saved table encoding applied to a table: the columns a model trained on it expects.

`Encoded.save` (varbench.datasets.table) writes the encoding of a table as JSON: the encoded
column names in order, the mean and sd of each standardised column (and of a regression target),
the one-hot levels of each categorical (with OTHER last where rare levels were merged: unseen levels go there too), the classes of
a classification target and the values filled in for missing ones. `apply_encoding` encodes a
table through such a record, so a network trained on that encoding is fed exactly what it was
trained on; a table that does not fit it (a missing column, text where numbers were, a level or
class the encoding does not know, missing values with no recorded fill) is refused in one line.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from varbench.datasets.table import ENCODING_FORMAT, Encoded, _as_numeric, one_hot

FIELDS = ("format", "target", "task", "columns", "scaling", "one_hot", "classes")


def read_encoding(path: str | Path, flag: str = "--encoding") -> dict[str, Any]:
    """The encoding record saved by `Encoded.save`; a one-line ValueError naming `flag` otherwise.

    Examples
    --------
    >>> rec = read_encoding("encoding.json")  # doctest: +SKIP
    >>> rec["columns"]                         # doctest: +SKIP
    """
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise ValueError(f"{flag} {path}: no such file")
    try:
        rec = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{flag} {path}: not JSON ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if not isinstance(rec, dict) or rec.get("format") != ENCODING_FORMAT:
        raise ValueError(f"{flag} {path}: not a varbench encoding (expected \"format\": \"{ENCODING_FORMAT}\", "
                         "as written by varbench.datasets.table.Encoded.save)")
    missing = [k for k in FIELDS if k not in rec]
    if missing:
        raise ValueError(f"{flag} {path}: the encoding lacks {missing}")
    return rec


def _target(values: pd.Series, rec: dict[str, Any], source: str, flag: str) -> np.ndarray:
    """The target encoded as the model was trained on it (standardised, or class codes)."""
    name, task = rec["target"], rec["task"]
    numeric = _as_numeric(values, name, source)
    if task == "regression":
        if numeric is None:
            raise ValueError(f"{source}: target column {name!r} is text; the {flag} encoding has a regression target")
        y = numeric.to_numpy(dtype=float)
        sc = rec["scaling"].get(name)
        return (y - sc["mean"]) / sc["sd"] if sc else y
    classes = rec["classes"] or []
    key = numeric if numeric is not None and all(isinstance(c, (int, float)) for c in classes) else values.astype(str)
    codes = key.map({c: i for i, c in enumerate(classes)})
    if codes.isna().any():
        unknown = key[codes.isna()].unique()[:5].tolist()
        raise ValueError(f"{source}: target column {name!r} has classes {unknown} that the {flag} encoding does "
                         f"not know (its classes: {classes[:10]})")
    return codes.to_numpy(dtype=float)


def apply_encoding(frame: pd.DataFrame, rec: dict[str, Any], source: str = "DataFrame",
                   flag: str = "--encoding") -> Encoded:
    """Encode `frame` through the saved record `rec` (`read_encoding`): its columns, order,
    scaling, levels and fills; the target too when the frame has it. Raises a one-line
    ValueError naming the column and `flag` when the table does not fit the encoding.

    Examples
    --------
    >>> enc = apply_encoding(pd.read_csv("my.csv"), read_encoding("encoding.json"))  # doctest: +SKIP
    """
    columns, scaling, levels = list(rec["columns"]), rec["scaling"], rec["one_hot"]
    target, fill = rec["target"], rec.get("fill") or {}
    sources = list(dict.fromkeys([*[c for c in scaling if c != target], *levels]))
    absent = [c for c in sources + ([target] if target else []) if c not in frame.columns]
    if absent:
        raise ValueError(f"{source}: columns {absent} of the {flag} encoding are not in the table")
    built: dict[str, np.ndarray] = {}
    for c in sources:
        col = frame[c]
        if col.isna().any():
            if c not in fill:
                raise ValueError(f"{source}: column {c!r} has {int(col.isna().sum())} missing values and the "
                                 f"{flag} encoding records no fill for it")
            col = col.fillna(fill[c])
        if c in levels:
            text = col.astype(str)
            merged = c in (rec.get("merged") or {})  # rare levels went to OTHER, and so do unseen ones
            unknown = sorted(set(text.unique()) - set(levels[c]))
            if unknown and not merged:
                raise ValueError(f"{source}: column {c!r} has levels {unknown[:5]} that the {flag} encoding does "
                                 f"not know (its levels: {levels[c][:10]})")
            for lv, vec in zip(levels[c], one_hot(text, levels[c], merged).T):
                built[f"{c}={lv}"] = vec
        else:
            num = _as_numeric(col, c, source)
            if num is None:
                raise ValueError(f"{source}: column {c!r} is text; the {flag} encoding has it as a numeric column")
            built[c] = (num.to_numpy(dtype=float) - scaling[c]["mean"]) / scaling[c]["sd"]
    if sorted(built) != sorted(columns):
        raise ValueError(f"{flag}: its columns {columns[:8]} do not match its scaling and one_hot entries")
    X = np.column_stack([built[c] for c in columns])
    groups = {c: [columns.index(f"{c}={lv}") for lv in levels[c]] for c in levels}
    y = _target(frame[target], rec, source, flag) if target in frame.columns else None
    return Encoded(X=X, y=y, feature_names=columns, groups=groups, task=rec["task"], source=source, target=target,
                   scaling={c: (v["mean"], v["sd"]) for c, v in scaling.items()}, categories=levels,
                   classes=rec["classes"], dropped=rec.get("dropped") or {}, fill=fill,
                   merged=rec.get("merged") or {})


__all__ = ["read_encoding", "apply_encoding"]
