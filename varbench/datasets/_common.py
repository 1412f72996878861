"""Helpers shared by the generators: argument checks, noise, task links and splitting."""
from __future__ import annotations

from typing import Callable

import numpy as np

from varbench.datasets.base import Dataset, GroundTruth, TASKS


# A relevant variable whose total Sobol index is below this share of Var(f) is declared weakly
# relevant (GroundTruth.weak): it is in the function but hardly detectable from data.
WEAK_SHARE = 0.01


def weak_below(total_index: np.ndarray, relevant: np.ndarray, share: float = WEAK_SHARE) -> np.ndarray:
    """Mask of the relevant variables whose total index (a share of variance) is below `share`."""
    return np.asarray(relevant, bool) & (np.asarray(total_index, float) < share)


N_CLASSES = 3  # classes of a task=multiclass dataset (tertiles of the signal)


def check(condition: bool, key: str, value: object, expected: str) -> None:
    """Raise a one-line ValueError naming the bad key and value."""
    if not condition:
        raise ValueError(f"dataset.{key}={value!r} is invalid: expected {expected}")


def check_common(n_samples: int, n_features: int, noise: float, task: str, test_fraction: float) -> None:
    check(isinstance(n_samples, int) and n_samples >= 20, "n_samples", n_samples, "an integer >= 20")
    check(isinstance(n_features, int) and n_features >= 1, "n_features", n_features, "an integer >= 1")
    check(isinstance(noise, (int, float)) and noise >= 0, "noise", noise, "a number >= 0")
    check(task in TASKS, "task", task, f"one of {TASKS}")
    check(0 < test_fraction < 1, "test_fraction", test_fraction, "a number in (0, 1)")


def make_dataset(
    name: str,
    X: np.ndarray,
    f: np.ndarray,
    truth: GroundTruth,
    *,
    noise: float,
    task: str,
    test_fraction: float,
    rng: np.random.Generator,
    feature_names: list[str] | None = None,
    groups: dict[str, list[int]] | None = None,
) -> Dataset:
    """Add noise to the noiseless signal f, apply the task's link, shuffle and split.

    Regression: y = f + noise * N(0, 1). Classification: y = 1[s > median(s)] with
    s = f + noise * sd(f) * N(0, 1) (">=" when the median sits on a level of a discrete s)
    (a threshold link, so relevance and ranking of the features are those of f). Multiclass:
    y = the tertile of s (N_CLASSES = 3 ordered classes of equal frequency; again a threshold
    link of f, so the per-variable truth of f applies).
    """
    eps = rng.standard_normal(f.shape[0])
    if task == "regression":
        y = f + noise * eps
    elif task == "multiclass":
        score = f + noise * np.std(f) * eps
        cuts = np.quantile(score, np.arange(1, N_CLASSES) / N_CLASSES)
        y = np.searchsorted(cuts, score, side="right").astype(np.float32)
        if len(np.unique(y)) < N_CLASSES:
            raise ValueError(f"dataset.task='multiclass' needs a signal with at least {N_CLASSES} levels; "
                             f"{name}'s has {len(np.unique(score))}")
    else:
        score = f + noise * np.std(f) * eps
        cut = np.median(score)
        y = score > cut
        if y.all() or not y.any():  # a discrete signal with the median on a level (e.g. XOR)
            y = score >= cut
        y = y.astype(np.float32)
    n_test = max(1, int(round(test_fraction * X.shape[0])))
    perm = rng.permutation(X.shape[0])
    test, train = perm[:n_test], perm[n_test:]
    return Dataset(
        X_train=X[train], y_train=y[train], X_test=X[test], y_test=y[test],
        task=task, truth=truth, feature_names=feature_names or [], name=name, groups=groups,
    )


def additive_local(components: list[Callable[[np.ndarray], np.ndarray] | None],
                   means: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Exact interventional Shapley values of an additive function sum_j g_j(x_j) with
    independent features: phi_j(x) = g_j(x_j) - E[g_j(X_j)] (0 for features with no component)."""

    def local(X: np.ndarray) -> np.ndarray:
        out = np.zeros(X.shape, dtype=float)
        for j, g in enumerate(components):
            if g is not None:
                out[:, j] = g(X[:, j]) - means[j]
        return out

    return local
