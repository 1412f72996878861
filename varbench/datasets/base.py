"""The dataset contract: features, targets, splits and the ground truth that scores methods."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

TASKS = ("regression", "classification")


@dataclass(frozen=True)
class GroundTruth:
    """What is known about the data-generating process.

    importance: non-negative per-feature importance magnitude (0 = irrelevant).
    relevant: boolean mask of the features the target depends on.
    definition: one line saying how `importance` was computed (e.g. "variance contribution").
    local: optional callable X -> (n, d) exact per-row attributions (interventional Shapley
        values) where they are known in closed form.
    interactions: optional (d, d) symmetric matrix of pairwise interaction strengths.
    """

    importance: np.ndarray
    relevant: np.ndarray
    definition: str
    local: Callable[[np.ndarray], np.ndarray] | None = None
    interactions: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "importance", np.asarray(self.importance, dtype=float))
        object.__setattr__(self, "relevant", np.asarray(self.relevant, dtype=bool))

    @property
    def n_relevant(self) -> int:
        return int(self.relevant.sum())


@dataclass
class Dataset:
    """Train/test splits plus the ground truth. X is float32 (n, d); y is (n,)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    truth: GroundTruth
    feature_names: list[str] = field(default_factory=list)
    name: str = "dataset"

    def __post_init__(self) -> None:
        validate_dataset(self)  # also names the features x0, x1, ... when no names are given

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])


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


def _check_target(name: str, y: object, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1:] == (1,):  # a column vector is accepted as (n,)
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"dataset {name} must have shape ({n},), got {y.shape}")
    _check_values(name, y, "y")
    return y


def validate_dataset(ds: Dataset) -> None:
    """Reject malformed datasets with a message naming the bad field and value: non-finite or
    non-numeric arrays, empty or mismatched shapes, a constant training target,
    non-0/1 labels for classification, feature names that are missing or repeated, and a
    truth with vectors of the wrong length, negative or non-finite importance, no relevant
    feature, a non-callable `local` or an `interactions` matrix of the wrong shape."""
    if ds.task not in TASKS:
        raise ValueError(f"dataset task={ds.task!r} is not one of {TASKS}")
    ds.X_train = _check_matrix("X_train", ds.X_train).astype(np.float32)
    ds.X_test = _check_matrix("X_test", ds.X_test).astype(np.float32)
    d = ds.X_train.shape[1]
    if ds.X_test.shape[1] != d:
        raise ValueError(f"dataset X_test has {ds.X_test.shape[1]} features, X_train has {d}")
    ds.y_train = _check_target("y_train", ds.y_train, ds.X_train.shape[0]).astype(np.float32)
    ds.y_test = _check_target("y_test", ds.y_test, ds.X_test.shape[0]).astype(np.float32)
    if np.ptp(ds.y_train) == 0:
        raise ValueError(f"dataset y_train is constant (value {float(ds.y_train[0])}): nothing to learn")
    for name, y in (("y_train", ds.y_train), ("y_test", ds.y_test)):
        if ds.task == "classification" and not np.all(np.isin(y, (0.0, 1.0))):
            raise ValueError(f"dataset {name} for task=classification must be 0/1 labels")
    given = [] if ds.feature_names is None else list(ds.feature_names)
    names = [str(f) for f in given] if given else [f"x{j}" for j in range(d)]
    if len(names) != d:
        raise ValueError(f"dataset feature_names has {len(names)} names for {d} features")
    if len(set(names)) != d:
        dup = sorted({f for f in names if names.count(f) > 1})
        raise ValueError(f"dataset feature_names repeats {dup}: names must be unique")
    ds.feature_names = names
    t = ds.truth
    if not isinstance(t, GroundTruth):
        raise ValueError(f"dataset truth must be a GroundTruth, got {type(t).__name__}")
    imp = np.asarray(t.importance, dtype=float)
    rel = np.asarray(t.relevant, dtype=bool)
    if imp.shape != (d,):
        raise ValueError(f"dataset truth.importance has shape {imp.shape}, expected ({d},)")
    if rel.shape != (d,):
        raise ValueError(f"dataset truth.relevant has shape {rel.shape}, expected ({d},)")
    if not np.all(np.isfinite(imp)) or np.any(imp < 0):
        raise ValueError("dataset truth.importance must be finite and non-negative")
    if not rel.any():
        raise ValueError("dataset truth.relevant marks no feature as relevant")
    if t.local is not None and not callable(t.local):
        raise ValueError(f"dataset truth.local must be callable or None, got {type(t.local).__name__}")
    if t.interactions is not None:
        inter = np.asarray(t.interactions, dtype=float)
        if inter.shape != (d, d) or not np.all(np.isfinite(inter)):
            raise ValueError(f"dataset truth.interactions must be a finite ({d}, {d}) matrix, got shape {inter.shape}")
