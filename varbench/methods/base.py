"""The method contract and the helpers every method shares.

A method is any callable ``method(model, data, rng, **params)`` where `model` is a
`TrainedModel`, `data` a `Dataset` and `rng` a seeded `numpy.random.Generator`. It returns
either an array of length d (global importance) or an `Attribution`; a selection method (the
selection track, scored by `varbench.scoring.selection`) returns a `Selection`; an interaction
method (the interaction track, `varbench.methods.interactions`, scored by
`varbench.scoring.interactions`) returns an `Interactions` or a (d, d) matrix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence, Union, get_args

import numpy as np
from scipy import stats

AGGREGATIONS = ("global", "mean_abs_local")
Q = 0.1  # the nominal FDR level of every selection (Benjamini-Hochberg q, knockoff q)


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


@dataclass
class Selection:
    """A selection method's output: `pvalues` (d,) and/or `selected` (d,) bool; if only p-values
    are given, selected = Benjamini-Hochberg at `q`. `statistic`: the per-variable score the
    test is based on (logged); extras: scalar diagnostics."""

    pvalues: np.ndarray | None = None
    selected: np.ndarray | None = None
    statistic: np.ndarray | None = None
    q: float = Q
    extras: dict[str, float] = field(default_factory=dict)


def check_q(q: float) -> None:
    """Raise ValueError unless `q`, a nominal FDR level, is a number in (0, 1)."""
    if not (isinstance(q, (int, float)) and 0 < q < 1):
        raise ValueError(f"q={q!r} is invalid: expected a number in (0, 1)")


def benjamini_hochberg(pvalues: np.ndarray, q: float = Q) -> np.ndarray:
    """Benjamini-Hochberg step-up at level q: reject the k smallest p-values, k the largest
    i with p_(i) <= q i / m, i.e. BH-adjusted p-values (scipy's `false_discovery_control`)
    <= q. Returns the rejected mask (same order as given)."""
    check_q(q)
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return np.zeros(0, bool)
    return stats.false_discovery_control(p, method="bh") <= q


def as_selection(result: Any, d: int) -> Selection:
    """Validate a selection method's return value; fill `selected` from the p-values by BH."""
    if not isinstance(result, Selection):
        raise ValueError(f"a selection method must return a varbench.selection.Selection, got {type(result).__name__}")
    if result.pvalues is None and result.selected is None:
        raise ValueError("Selection has neither pvalues nor selected")
    if result.pvalues is not None:
        p = np.asarray(result.pvalues, dtype=float)
        if p.shape != (d,) or not np.all((p >= 0) & (p <= 1)):
            raise ValueError(f"Selection.pvalues must be {d} values in [0, 1], got {p.tolist()}")
        result.pvalues = p
        if result.selected is None:
            result.selected = benjamini_hochberg(p, result.q)
    sel = np.asarray(result.selected)
    if sel.shape != (d,) or sel.dtype != bool:
        raise ValueError(f"Selection.selected must be {d} booleans, got {sel.tolist()}")
    return result


@dataclass
class Interactions:
    """An interaction method's output: its pairwise interaction strengths.

    matrix: (d, d) symmetric, non-negative by convention (scores use |matrix|); the diagonal is
        ignored and set to 0 by `as_interactions`.
    extras: scalar diagnostics to log (e.g. an estimator's standard error).
    """

    matrix: np.ndarray
    extras: dict[str, float] = field(default_factory=dict)


def as_interactions(result: object, d: int, rtol: float = 1e-5) -> Interactions:
    """Normalise a method's return value: a (d, d) finite matrix, symmetric up to `rtol` of its
    largest entry (then symmetrised exactly), with a zero diagonal. Raises ValueError otherwise."""
    if not isinstance(result, Interactions):
        result = Interactions(matrix=np.asarray(result, dtype=float))
    M = np.asarray(result.matrix, dtype=float)
    if M.shape != (d, d):
        raise ValueError(f"method returned an interaction matrix of shape {M.shape}, expected ({d}, {d})")
    if not np.all(np.isfinite(M)):
        raise ValueError("method returned a non-finite interaction matrix")
    scale = float(np.max(np.abs(M))) if M.size else 0.0
    if np.max(np.abs(M - M.T), initial=0.0) > rtol * max(scale, 1e-300):
        raise ValueError("method returned an asymmetric interaction matrix "
                         f"(max |M - M.T| = {float(np.max(np.abs(M - M.T))):.3g})")
    M = (M + M.T) / 2
    np.fill_diagonal(M, 0.0)
    result.matrix = M
    result.extras = {str(k): float(v) for k, v in result.extras.items()}
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
