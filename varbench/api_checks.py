"""Checks of a `varbench.importance(...)` call's arguments, before anything is converted or run.

- **Parameters are values.** A method parameter passed from Python (`n_repeats=...`) goes through
  the same check as a config value (`varbench.config.reject_code`): a `_target_` / `_partial_` /
  `_args_` key anywhere inside it is refused, and a parameter named like a Hydra key
  (`_target_=...`) is not a parameter.
- **Sizes are checked against memory.** A count parameter (`varbench.schema.is_count_param`:
  n_repeats, n_samples, n_permutations, steps, ...) must be an integer >= 1, and the perturbed
  data it multiplies, rows x value x columns x 8 bytes, must fit in this machine's physical
  memory; otherwise one line names the parameter, the estimate and the memory. Counts that only
  pick rows or batches (`CLIPPED`) are bounded by the data and are not multiplied.
- **Messages name what the user passed.** Too few rows, missing (NaN) or infinite values and a
  constant target name `X`, `y`, `X_train` or `y_train` as given, never an internal copy.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from varbench.config import reject_code
from varbench.schema import is_count_param

MIN_ROWS = 2  # rows an importance call needs: methods compare rows, a loss needs more than one
CLIPPED = ("n_rows", "background_size", "batch_size")  # picks rows/batches: bounded by the data or another count


def physical_memory() -> int:
    """Bytes of physical memory on this machine (the bound size parameters are checked against)."""
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def _leaves(name: str, value: Any) -> list[tuple[str, Any]]:
    """(name as the user would write it, array-like) for a table, a list or a dict of inputs."""
    if isinstance(value, Mapping):
        return [(f"{name}[{k!r}]", v) for k, v in value.items()]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (np.ndarray, pd.DataFrame)) for v in value):
        return [(f"{name}[{i}]", v) for i, v in enumerate(value)]
    return [(name, value)]


def _numbers(value: Any) -> np.ndarray | None:
    """The numeric part of an array-like (numeric DataFrame columns only), None if not numeric."""
    if isinstance(value, pd.DataFrame):
        value = value.select_dtypes(include=["number", "bool"])
    if isinstance(value, (pd.DataFrame, pd.Series)):
        value = value.to_numpy()
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return a.astype(float) if a.dtype.kind in "biuf" else None


def check_params(params: Mapping[str, Any], n_rows: int, n_cols: int, memory: int | None = None) -> None:
    """Refuse parameters that are code or too large (module docstring); one-line ValueError.

    Examples
    --------
    >>> check_params({"n_repeats": 10**9}, 100, 5, memory=16 * 10**9)
    Traceback (most recent call last):
    ...
    ValueError: n_repeats=1000000000 is too large: 100 rows x 1000000000 x 5 columns x 8 bytes = 4,000.0 GB of perturbed data, more than this machine's 16.0 GB of memory; lower n_repeats
    """
    for name, value in params.items():
        if name.startswith("_") and name.endswith("_"):
            raise ValueError(f"{name}={value!r} is invalid: a name like {name} is a Hydra key, not a method "
                             "parameter (API parameters are values and never run code)")
        reject_code(value, name)
    memory = physical_memory() if memory is None else memory
    for name, value in params.items():
        if not is_count_param(name) or value is None:
            continue
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} is invalid: expected an integer >= 1")
        if name in CLIPPED:
            continue
        need = float(n_rows) * float(value) * float(n_cols) * 8.0
        if need > memory:
            raise ValueError(f"{name}={value} is too large: {n_rows} rows x {value} x {n_cols} columns x 8 bytes = "
                             f"{_gb(need)} of perturbed data, more than this machine's {_gb(memory)} of memory; "
                             f"lower {name}")


def check_data(X: Any, y: Any, X_train: Any = None, y_train: Any = None) -> tuple[int, int]:
    """Refuse too few rows, NaN / infinite values and a constant target, naming the argument the
    user passed; returns (rows, columns) of X (columns summed over several inputs).

    Examples
    --------
    >>> check_data(np.zeros((1, 3)), np.zeros(1))
    Traceback (most recent call last):
    ...
    ValueError: X has 1 row: too few rows (at least 2)
    """
    rows, cols = 0, 0
    for given, value in (("X", X), ("y", y), ("X_train", X_train), ("y_train", y_train)):
        if value is None:
            continue
        for name, leaf in _leaves(given, value):
            a = _numbers(leaf)
            n = len(leaf) if hasattr(leaf, "__len__") else 0
            if n < MIN_ROWS:
                raise ValueError(f"{name} has {n} row{'s' if n != 1 else ''}: too few rows (at least {MIN_ROWS})")
            if a is not None and not np.all(np.isfinite(a)):
                bad = int(np.sum(~np.isfinite(a)))
                where = ""
                if a.ndim == 2:
                    labels = ([str(c) for c in leaf.select_dtypes(include=["number", "bool"]).columns]
                              if isinstance(leaf, pd.DataFrame) else list(range(a.shape[1])))
                    where = f" in column(s) {[labels[j] for j in np.flatnonzero(~np.isfinite(a).all(axis=0))][:5]}"
                raise ValueError(f"{name} has {bad} missing or infinite value(s){where}: fill or drop them first")
            if given == "X":
                rows = n
                cols += int(a.shape[1]) if a is not None and a.ndim == 2 else 1
    target, name = (y_train, "y_train") if y_train is not None else (y, "y")
    t = _numbers(target)
    if t is not None and t.size and np.ptp(t) == 0:
        raise ValueError(f"{name} is constant (every value {t.flat[0]:g}): nothing to explain")
    return rows, cols


def check_call(params: Mapping[str, Any], X: Any, y: Any, X_train: Any = None, y_train: Any = None) -> None:
    """Every check of this module on one `importance(...)` call, data first (its size bounds the
    parameters). Raises a one-line ValueError.

    Examples
    --------
    >>> check_call({"n_repeats": {"_target_": "builtins.open"}}, np.eye(3), np.arange(3.0))
    Traceback (most recent call last):
    ...
    varbench.schema.ConfigError: n_repeats={'_target_': 'builtins.open'} is invalid: a parameter value is data, it may not contain _target_ (config values never run code, nor API parameters)
    """
    rows, cols = check_data(X, y, X_train, y_train)
    check_params(params, rows, cols)


__all__ = ["check_call", "check_data", "check_params", "physical_memory", "MIN_ROWS"]
