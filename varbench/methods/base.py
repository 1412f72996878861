"""The method contract and the helpers every method shares.

A method is any callable ``method(model, data, rng, **params)`` where `model` is a
`TrainedModel`, `data` a `Dataset` and `rng` a seeded `numpy.random.Generator`. It returns
either an array of length d (global importance) or an `Attribution`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence, Union, get_args

import numpy as np

AGGREGATIONS = ("global", "mean_abs_local")


@dataclass
class Attribution:
    """A method's output.

    importance: (d,) global importance; if None it is mean |local| over rows.
    local: optional (n, d) per-row attributions.
    aggregation: "global" (the method's own global score) or "mean_abs_local".
    extras: scalar diagnostics to log (e.g. a convergence delta).
    rows: the inputs (n, d) that `local` explains, so local truth can score it; set it only
        when `local` is an additive attribution (it sums to f(x) - f(reference)), not e.g. slopes.
    replicates: optional (R, d) independent replicate estimates of `importance` (e.g. one per
        permutation repeat; importance is their mean), from which its standard error is derived.
    std, ci_low, ci_high: the standard error of `importance` and a confidence interval at level
        `ci_level`, per variable, where the method can estimate them (see
        `varbench.methods.uncertainty`); None where it cannot.
    """

    importance: np.ndarray | None = None
    local: np.ndarray | None = None
    aggregation: str = "global"
    extras: dict[str, float] = field(default_factory=dict)
    rows: np.ndarray | None = None
    replicates: np.ndarray | None = None
    std: np.ndarray | None = None
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    ci_level: float = 0.95


def as_attribution(result: object, d: int) -> Attribution:
    """Normalise a method's return value and reject wrong shapes and non-finite values."""
    if result is None:
        raise ValueError("method returned None: expected an importance vector or an Attribution")
    if not isinstance(result, Attribution):
        result = Attribution(importance=np.asarray(result, dtype=float))
    if result.local is not None:
        local = np.asarray(result.local, dtype=float)
        if local.ndim != 2 or local.shape[1] != d:
            raise ValueError(f"method returned local attributions of shape {local.shape}, expected (n, {d})")
        if not np.all(np.isfinite(local)):
            raise ValueError("method returned NaN or inf local attributions")
        result.local = local
        if result.importance is None:
            result.importance = np.mean(np.abs(local), axis=0)
            result.aggregation = "mean_abs_local"
    if result.importance is None:
        raise ValueError("method returned neither importance nor local attributions")
    imp = np.asarray(result.importance, dtype=float)
    if imp.shape != (d,):
        raise ValueError(f"method returned importance of shape {imp.shape}, expected ({d},)")
    if not np.all(np.isfinite(imp)):
        raise ValueError(f"method returned non-finite importance: {imp.tolist()}")
    if result.aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation={result.aggregation!r} is not one of {AGGREGATIONS}")
    result.importance = imp
    for name in ("std", "ci_low", "ci_high"):
        value = getattr(result, name)
        if value is not None:
            value = np.asarray(value, dtype=float)
            if value.shape != (d,):
                raise ValueError(f"method returned {name} of shape {value.shape}, expected ({d},)")
            setattr(result, name, value)
    if result.replicates is not None:
        rep = np.asarray(result.replicates, dtype=float)
        if rep.ndim != 2 or rep.shape[1] != d:
            raise ValueError(f"method returned replicates of shape {rep.shape}, expected (R, {d})")
        result.replicates = rep
    return result


def sample_rows(n: int, n_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of the rows a method uses: all n, or a seeded sample of n_rows of them."""
    if n_rows is None:
        return np.arange(n)
    if not isinstance(n_rows, int) or isinstance(n_rows, bool) or n_rows < 1:
        raise ValueError(f"n_rows={n_rows!r} is invalid: expected an integer >= 1 or null")
    if n_rows >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=n_rows, replace=False))


BaselineName = Literal["zero", "mean", "median"]
Baseline = Union[BaselineName, float]  # a method parameter's type hint: checked before training
BASELINES = get_args(BaselineName)


def baseline_vector(X: np.ndarray, baseline: Baseline, categorical: Sequence[int] = ()) -> np.ndarray:
    """A reference point: "zero", "mean" or "median" of X, or a constant; in the `categorical`
    columns (category codes), whatever the baseline, the training mode (most frequent code)."""
    ref = _baseline(X, baseline)
    for c in categorical:
        codes, counts = np.unique(X[:, c], return_counts=True)
        ref[c] = codes[np.argmax(counts)]
    return ref


def _baseline(X: np.ndarray, baseline: Baseline) -> np.ndarray:
    if baseline == "zero":
        return np.zeros(X.shape[1], dtype=np.float32)
    if baseline == "mean":
        return X.mean(axis=0).astype(np.float32)
    if baseline == "median":
        return np.median(X, axis=0).astype(np.float32)
    if isinstance(baseline, (int, float)):
        return np.full(X.shape[1], float(baseline), dtype=np.float32)
    raise ValueError(f"baseline={baseline!r} is invalid: expected 'zero', 'mean', 'median' or a number")
