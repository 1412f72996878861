"""A dataset with a categorical variable stored one-hot, its truth given per variable (group)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from varbench.datasets._common import check, check_common, make_dataset
from varbench.datasets.base import Dataset, GroundTruth


def categorical(
    n_samples: int = 2000,
    n_numeric: int = 4,
    coefficients: Sequence[float] = (2.0, 1.0, 0.0, 0.0),
    level_effects: Sequence[float] = (-1.5, 0.0, 0.5, 1.0),
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """y = X w + e[c] + noise: numeric x_j ~ N(0, 1) and one categorical c with L = len(level_effects)
    equally likely levels, stored one-hot as columns `colour_0 .. colour_{L-1}` (group `colour`).

    Truth per variable (the numeric columns, then `colour` as one variable, by first column): the
    standard deviation of its additive contribution, |w_j| for x_j and sd(e[c]) = the population
    sd of the level effects for `colour`; relevant = nonzero. (The additive contributions are
    independent, so these are also the square roots of the variance shares times Var f.)"""
    check_common(n_samples, n_numeric, noise, task, test_fraction)
    w = np.asarray(coefficients, dtype=float)
    e = np.asarray(level_effects, dtype=float)
    check(w.shape == (n_numeric,), "coefficients", list(coefficients), f"{n_numeric} numbers (n_numeric)")
    check(e.ndim == 1 and e.size >= 2, "level_effects", list(level_effects), "at least 2 numbers")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_numeric))
    c = rng.integers(e.size, size=n_samples)
    onehot = np.eye(e.size)[c]
    sd_e = float(np.std(e))
    names = [f"x{j}" for j in range(n_numeric)] + [f"colour_{k}" for k in range(e.size)]
    groups = {"colour": list(range(n_numeric, n_numeric + e.size))}
    imp = np.append(np.abs(w), sd_e)
    truth = GroundTruth(importance=imp, relevant=imp > 0,
                        definition="sd of each variable's additive contribution (|w_j|; sd of the level effects)")
    return make_dataset("categorical", np.hstack([X, onehot]), X @ w + e[c], truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng, feature_names=names, groups=groups)
