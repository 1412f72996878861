"""The dataset contract: features, targets, splits and the ground truth that scores methods."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

TASKS = ("regression", "classification", "multiclass")
DATASET_TASKS = TASKS


@dataclass(frozen=True)
class GroundTruth:
    """What is known about the data-generating process.

    importance: non-negative importance magnitude per variable (0 = irrelevant): per feature
        column, or, for a dataset with `groups`, per variable in `Dataset.variables` order.
    relevant: boolean mask of the variables the target depends on (same indexing).
    definition: one line saying how `importance` was computed (e.g. "variance contribution").
    local: optional callable X -> (n, d) exact per-row attributions (interventional Shapley
        values) where they are known in closed form.
    interactions: optional (d, d) symmetric matrix of pairwise interaction strengths.
    known: False for a real target whose truth nobody knows (`dataset=table`): `importance` and
        `relevant` are then placeholders (zeros) and methods are scored against the trained
        model's own truth only.
    weak: optional mask of weakly relevant variables (relevant, but each below `weak_threshold`
        share of the target's variance); rank scores treat them as their own tier.
    weak_threshold: the stated share of variance below which a relevant variable is weak.
    decoys: (decoy index, relevant twin index) pairs: an irrelevant variable correlated with a
        relevant one it could stand in for (`decoy_share` scores them).
    estimands: {estimand name (see varbench.registry.ESTIMANDS): exact value per variable, on the
        variance (loss) scale} where the data-generating process allows one in closed form.
    """

    importance: np.ndarray
    relevant: np.ndarray
    definition: str
    local: Callable[[np.ndarray], np.ndarray] | None = None
    interactions: np.ndarray | None = None
    known: bool = True
    weak: np.ndarray | None = None
    weak_threshold: float | None = None
    decoys: tuple[tuple[int, int], ...] = ()
    estimands: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "importance", np.asarray(self.importance, dtype=float))
        object.__setattr__(self, "relevant", np.asarray(self.relevant, dtype=bool))
        if self.weak is not None:
            object.__setattr__(self, "weak", np.asarray(self.weak, dtype=bool))
        object.__setattr__(self, "decoys", tuple((int(a), int(b)) for a, b in self.decoys))
        object.__setattr__(self, "estimands", {str(k): np.asarray(v, dtype=float)
                                               for k, v in dict(self.estimands).items()})

    @property
    def n_relevant(self) -> int:
        return int(self.relevant.sum())


@dataclass
class Dataset:
    """Train/test splits plus the ground truth. X is float32 (n, d); y is (n,).

    groups: optional {variable name: column indices} (e.g. a categorical stored one-hot, or any
    block judged as one variable; columns may be given by name or index and are stored as indices).
    The truth is then per variable (`variables`), and so is scoring.
    fingerprint: optional hash of the data's content (a user's table), part of the model cache key.
    encoding: optional JSON-able record of how a user's table was encoded (scaling, one-hot levels,
    dropped and imputed columns), logged with the cell.
    categorical: the columns holding category codes (`varbench.models.inputs`): whole categorical
    variables that methods resample or mask as values, never average or differentiate."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    truth: GroundTruth
    feature_names: list[str] = field(default_factory=list)
    name: str = "dataset"
    groups: dict[str, list[int]] | None = None
    fingerprint: str | None = None
    encoding: dict | None = None
    categorical: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        validate_dataset(self)  # also names the features x0, x1, ... when no names are given

    @property
    def n_features(self) -> int:
        """Number of input columns d."""
        return int(self.X_train.shape[1])

    @property
    def variables(self) -> list[tuple[str, list[int]]]:
        """The variables importance is judged on, as (name, column indices), ordered by first column:
        each group of `groups` (e.g. the one-hot columns of a categorical) is one variable, every
        other column a variable of its own. Without groups: one variable per column."""
        return variables(self.feature_names, self.groups)

    @property
    def n_variables(self) -> int:
        return len(self.variables)


def variables(feature_names: list[str], groups: dict[str, list[int]] | None) -> list[tuple[str, list[int]]]:
    """(name, columns) per variable: the groups, plus one per ungrouped column, by first column."""
    grouped = {j for cols in (groups or {}).values() for j in cols}
    out = [(name, sorted(cols)) for name, cols in (groups or {}).items()]
    out += [(f, [j]) for j, f in enumerate(feature_names) if j not in grouped]
    return sorted(out, key=lambda v: v[1][0])


def _check_groups(groups: object, names: list[str]) -> dict[str, list[int]] | None:
    """Groups as {variable name: [column index, ...]}; columns may be given by name or index."""
    if groups is None or (isinstance(groups, dict) and not groups):
        return None
    if not isinstance(groups, dict):
        raise ValueError(f"dataset groups={groups!r} is invalid: expected a mapping of name -> columns")
    d, index = len(names), {f: j for j, f in enumerate(names)}
    out: dict[str, list[int]] = {}
    seen: dict[int, str] = {}
    for gname, cols in groups.items():
        if not isinstance(gname, str) or not gname:
            raise ValueError(f"dataset groups has a group named {gname!r}: expected a non-empty string")
        if isinstance(cols, (str, int)) or not hasattr(cols, "__iter__") or not list(cols):
            raise ValueError(f"dataset groups[{gname!r}]={cols!r} is invalid: expected a non-empty list of columns")
        idx = []
        for c in cols:
            if isinstance(c, str) and c in index:
                j = index[c]
            elif isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= int(c) < d:
                j = int(c)
            else:
                raise ValueError(f"dataset groups[{gname!r}] names column {c!r}, which is not a feature name "
                                 f"or an index in [0, {d})")
            if j in seen:
                raise ValueError(f"dataset groups: column {names[j]!r} is in both {seen[j]!r} and {gname!r}")
            seen[j] = gname
            idx.append(j)
        out[gname] = sorted(idx)
    clash = sorted(set(out) & {f for j, f in enumerate(names) if j not in seen})
    if clash:
        raise ValueError(f"dataset groups {clash} have the name of an ungrouped feature: rename the group")
    return out


def _check_values(name: str, a: np.ndarray, symbol: str) -> None:
    """Real, finite values within float32 range (they are trained on as float32)."""
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)
            or np.issubdtype(a.dtype, np.bool_)):
        raise ValueError(f"dataset {name} must be real numbers, got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"dataset {name} contains NaN or inf ({int((~np.isfinite(a)).sum())} entries)")
    if np.issubdtype(a.dtype, np.floating) and np.abs(a).max() > np.finfo(np.float32).max:
        raise ValueError(f"dataset {name} has values beyond float32 range (max |{symbol}| = {np.abs(a).max():.3g})")


def _check_matrix(name: str, X: object) -> np.ndarray:
    try:
        X = np.asarray(X)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"dataset {name} is not a rectangular array: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"dataset {name} must be 2-D (n, d), got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"dataset {name} has shape {X.shape}: expected at least one row and one feature")
    _check_values(name, X, "x")
    return X


def _check_target(name: str, y: object, n: int, multi_output: bool = False) -> np.ndarray:
    """y as (n,); a regression target may also have k outputs, (n, k)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1:] == (1,):  # a column vector is accepted as (n,)
        y = y[:, 0]
    if multi_output and y.ndim == 2 and y.shape[0] == n:
        _check_values(name, y, "y")
        return y
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"dataset {name} must have shape ({n},), got {y.shape}")
    _check_values(name, y, "y")
    return y


def validate_dataset(ds: Dataset) -> None:
    """Reject malformed datasets with a message naming the bad field and value: non-finite or
    non-numeric arrays, empty or mismatched shapes, a constant training target,
    non-0/1 labels for classification (non-integer labels for multiclass), feature names that are missing or repeated, and a
    truth with vectors of the wrong length, negative or non-finite importance, no relevant
    feature, a non-callable `local` or an `interactions` matrix of the wrong shape."""
    if ds.task not in DATASET_TASKS:
        raise ValueError(f"dataset task={ds.task!r} is not one of {DATASET_TASKS}")
    ds.X_train = _check_matrix("X_train", ds.X_train).astype(np.float32)
    ds.X_test = _check_matrix("X_test", ds.X_test).astype(np.float32)
    d = ds.X_train.shape[1]
    if ds.X_test.shape[1] != d:
        raise ValueError(f"dataset X_test has {ds.X_test.shape[1]} features, X_train has {d}")
    multi = ds.task == "regression"
    ds.y_train = _check_target("y_train", ds.y_train, ds.X_train.shape[0], multi).astype(np.float32)
    ds.y_test = _check_target("y_test", ds.y_test, ds.X_test.shape[0], multi).astype(np.float32)
    if ds.y_train.shape[1:] != ds.y_test.shape[1:]:
        raise ValueError(f"dataset y_test must have shape {(ds.y_test.shape[0], *ds.y_train.shape[1:])}, got "
                         f"{ds.y_test.shape} (as many outputs as y_train)")
    if np.ptp(ds.y_train) == 0:
        raise ValueError(f"dataset y_train is constant (value {float(ds.y_train[0])}): nothing to learn")
    for name, y in (("y_train", ds.y_train), ("y_test", ds.y_test)):
        if ds.task == "classification" and not np.all(np.isin(y, (0.0, 1.0))):
            raise ValueError(f"dataset {name} for task=classification must be 0/1 labels")
        if ds.task == "multiclass" and not (np.all(y >= 0) and np.all(y == np.round(y))):
            raise ValueError(f"dataset {name} for task=multiclass must be integer class labels 0..k-1")
    given = [] if ds.feature_names is None else list(ds.feature_names)
    names = [str(f) for f in given] if given else [f"x{j}" for j in range(d)]
    if len(names) != d:
        raise ValueError(f"dataset feature_names has {len(names)} names for {d} features")
    if len(set(names)) != d:
        dup = sorted({f for f in names if names.count(f) > 1})
        raise ValueError(f"dataset feature_names repeats {dup}: names must be unique")
    ds.feature_names = names
    ds.groups = _check_groups(ds.groups, names)
    ds.categorical = tuple(int(c) for c in ds.categorical)
    if any(not 0 <= c < d for c in ds.categorical):
        raise ValueError(f"dataset categorical={list(ds.categorical)} is invalid: expected column indices in [0, {d})")
    n_var = len(variables(names, ds.groups))
    t = ds.truth
    if not isinstance(t, GroundTruth):
        raise ValueError(f"dataset truth must be a GroundTruth, got {type(t).__name__}")
    imp = np.asarray(t.importance, dtype=float)
    rel = np.asarray(t.relevant, dtype=bool)
    per = "per variable (one per group or ungrouped column)" if ds.groups else "per feature"
    if imp.shape != (n_var,):
        raise ValueError(f"dataset truth.importance has shape {imp.shape}, expected ({n_var},): {per}")
    if rel.shape != (n_var,):
        raise ValueError(f"dataset truth.relevant has shape {rel.shape}, expected ({n_var},): {per}")
    if not np.all(np.isfinite(imp)) or np.any(imp < 0):
        raise ValueError("dataset truth.importance must be finite and non-negative")
    if t.known and not rel.any():
        raise ValueError("dataset truth.relevant marks no feature as relevant")
    if t.local is not None and not callable(t.local):
        raise ValueError(f"dataset truth.local must be callable or None, got {type(t.local).__name__}")
    _check_truth_extras(t, n_var)
    if t.interactions is not None:
        inter = np.asarray(t.interactions, dtype=float)
        if inter.shape != (d, d) or not np.all(np.isfinite(inter)):
            raise ValueError(f"dataset truth.interactions must be a finite ({d}, {d}) matrix, got shape {inter.shape}")


def _check_truth_extras(t: GroundTruth, n_var: int) -> None:
    """weak (a subset of relevant, with its threshold), decoy pairs (irrelevant decoy, relevant
    twin) and estimand truths (finite, one value per variable)."""
    if t.weak is not None:
        if t.weak.shape != (n_var,):
            raise ValueError(f"dataset truth.weak has shape {t.weak.shape}, expected ({n_var},)")
        if np.any(t.weak & ~t.relevant):
            raise ValueError(f"dataset truth.weak marks irrelevant variables {np.flatnonzero(t.weak & ~t.relevant).tolist()}: "
                             "weak variables must be relevant")
        if not (isinstance(t.weak_threshold, (int, float)) and 0 < t.weak_threshold < 1):
            raise ValueError(f"dataset truth.weak_threshold={t.weak_threshold!r} is invalid: expected the stated "
                             "share of variance in (0, 1) when weak variables are marked")
    for a, b in t.decoys:
        if not (0 <= a < n_var and 0 <= b < n_var) or t.relevant[a] or not t.relevant[b]:
            raise ValueError(f"dataset truth.decoys has pair ({a}, {b}): expected (irrelevant decoy, relevant twin) "
                             f"indices in [0, {n_var})")
    for name, v in t.estimands.items():
        if v.shape != (n_var,) or not np.all(np.isfinite(v)):
            raise ValueError(f"dataset truth.estimands[{name!r}] must be {n_var} finite values, got shape {v.shape}")
