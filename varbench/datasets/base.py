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
        if not self.feature_names:
            self.feature_names = [f"x{j}" for j in range(self.X_train.shape[1])]
        validate_dataset(self)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])


def _check_matrix(name: str, X: object) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"dataset {name} must be 2-D (n, d), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"dataset {name} must be numeric, got dtype {X.dtype}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"dataset {name} contains NaN or inf ({int((~np.isfinite(X)).sum())} entries)")
    return X


def _check_target(name: str, y: object, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"dataset {name} must have shape ({n},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)):
        raise ValueError(f"dataset {name} must be finite numbers")
    return y


def validate_dataset(ds: Dataset) -> None:
    """Reject malformed datasets with a message naming the bad field and value."""
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
    if ds.task == "classification" and not np.all(np.isin(ds.y_train, (0.0, 1.0))):
        raise ValueError("dataset y_train for task=classification must be 0/1 labels")
    if len(ds.feature_names) != d:
        raise ValueError(f"dataset feature_names has {len(ds.feature_names)} names for {d} features")
    t = ds.truth
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
