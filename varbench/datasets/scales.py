"""Linear target on features with very different scales and/or heavy tails.

Exposes methods that confuse a feature's scale (or its raw coefficient) with its importance:
first-layer weights and plain gradients grow like 1 / sd(x_j), fixed-size probes ignore sd(x_j).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from varbench.datasets._common import check, check_common, make_dataset
from varbench.datasets.base import Dataset, GroundTruth
from varbench.datasets.correlated import spread_positions

DISTRIBUTIONS = ("normal", "student_t")


def mixed_scales(
    n_samples: int = 2000,
    n_features: int = 8,
    n_relevant: int = 4,
    effects: Sequence[float] | None = None,
    scales: Sequence[float] | None = None,
    distribution: str = "normal",
    df: float = 3.0,
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """x_j = scales[j] * z_j with z_j independent, unit-variance ("normal": N(0, 1);
    "student_t": t(df) / sqrt(df / (df - 2)), heavy-tailed, df > 2), so sd(x_j) = scales[j].
    y = sum_j w_j x_j + noise with raw coefficients w_j = effects[j] / scales[j], i.e.
    y = sum_j effects[j] z_j: a feature's effect on y does not depend on its scale.

    Defaults: scales 10^linspace(2, -2, d) (100 down to 0.01); effects 2.0 .. 0.5 on the
    n_relevant spread positions (i * d) // k, zeros elsewhere. So the most important feature has
    the largest scale and the smallest raw coefficient (|w| ranks the relevant features exactly
    backwards), and irrelevant features span the same range of scales.

    Truth (scale-free): importance_j = Var(w_j x_j) / Var(f) = effects_j^2 / sum_k effects_k^2,
    each feature's share of the noiseless output variance (= its Sobol index); relevant =
    nonzero effects. Local truth: phi_j(x) = w_j x_j (interventional Shapley, E x_j = 0). No
    interactions (`interactions` is the zero matrix).
    """
    check_common(n_samples, n_features, noise, task, test_fraction)
    check(distribution in DISTRIBUTIONS, "distribution", distribution, f"one of {DISTRIBUTIONS}")
    check(isinstance(df, (int, float)) and df > 2, "df", df,
          "a number > 2 (the Student-t variance must be finite)")
    if effects is None:
        check(isinstance(n_relevant, int) and 1 <= n_relevant <= n_features, "n_relevant", n_relevant,
              f"an integer in [1, n_features={n_features}]")
        e = np.zeros(n_features)
        e[spread_positions(n_features, n_relevant)] = np.linspace(2.0, 0.5, n_relevant)
    else:
        e = np.asarray(list(effects), dtype=float)
        check(e.shape == (n_features,) and bool(np.all(np.isfinite(e))) and bool(np.any(e != 0)),
              "effects", list(effects), f"{n_features} finite numbers, not all zero")
    if scales is None:
        s = 10.0 ** np.linspace(2, -2, n_features)
    else:
        s = np.asarray(list(scales), dtype=float)
        check(s.shape == (n_features,) and bool(np.all(np.isfinite(s) & (s > 0))), "scales", list(scales),
              f"{n_features} finite numbers > 0")
    rng = np.random.default_rng(seed)
    if distribution == "normal":
        Z = rng.standard_normal((n_samples, n_features))
    else:
        Z = rng.standard_t(float(df), size=(n_samples, n_features)) / np.sqrt(df / (df - 2))
    X = Z * s
    w = e / s
    f = X @ w
    d = n_features
    truth = GroundTruth(
        importance=e**2 / np.sum(e**2), relevant=e != 0,
        definition="share of output variance Var(w_j x_j) / Var(f) (scale-free); local: w_j x_j",
        local=lambda Xq: np.asarray(Xq, float) * w,
        interactions=np.zeros((d, d)),
    )
    name = "mixed_scales" if distribution == "normal" else f"mixed_scales_t{df:g}"
    return make_dataset(name, X, f, truth, noise=noise, task=task, test_fraction=test_fraction, rng=rng)


__all__ = ["mixed_scales", "DISTRIBUTIONS"]
