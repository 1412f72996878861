"""Retraining methods: refit the model without feature j and compare test losses.

Both methods need `model.refit` (set by the shared trainer, also for cached models): it trains
the same architecture, built for d - 1 inputs, with the same trainer config and seed. They cost
d full trainings; `retrain_seconds` and `n_refits` are reported in the extras, and the refitted
models' test-set evaluations are added to `model.n_evals` (training passes are not counted).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Literal, get_args

import numpy as np
from scipy import stats

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution
from varbench.models.trained import TrainedModel

log = logging.getLogger(__name__)

Statistic = Literal["mean", "median"]
STATISTICS = get_args(Statistic)

# row_loss(model, X, y) -> per-row loss (n,)
RowLoss = Callable[[TrainedModel, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class _Refits:
    """Per-row test losses of the full model (n,) and of each model refitted without feature j
    (d, n), and what the refits cost."""

    full: np.ndarray
    dropped: np.ndarray
    seconds: float

    def extras(self) -> dict[str, float]:
        return {"retrain_seconds": self.seconds, "n_refits": float(self.dropped.shape[0]),
                "full_loss": float(self.full.mean())}


def check_refit(model: TrainedModel, data: Dataset, what: str = "retraining") -> int:
    """The number of features d, after checking the model can be refitted on other columns and
    that there are at least two (`what` names the method family in the message)."""
    if model.refit is None:
        raise ValueError(f"model.refit is None: {what} methods need a model from the shared trainer "
                         "(varbench.models.trainer.train), which can be refitted on other columns")
    d = data.n_features
    if d < 2:
        raise ValueError(f"n_features={d} is invalid for a {what} method: expected at least 2 features")
    return d


def _refit_without_each(model: TrainedModel, data: Dataset, row_loss: RowLoss) -> _Refits:
    """Refit once per feature on X_train without that column; per-row test losses of all fits."""
    d = check_refit(model, data)
    full = row_loss(model, data.X_test, data.y_test)
    dropped = np.empty((d, data.X_test.shape[0]))
    start = time.perf_counter()
    for j in range(d):  # d trainings: inherently sequential
        keep = np.delete(np.arange(d), j)
        sub = model.refit(data.X_train[:, keep], data.y_train)
        if sub.n_features != d - 1:
            raise ValueError(f"model.refit returned a model with {sub.n_features} inputs, expected {d - 1}")
        sub.n_evals = 0
        dropped[j] = row_loss(sub, data.X_test[:, keep], data.y_test)
        model.n_evals += sub.n_evals
        log.info("  refit %d/%d without %s: test loss %.4g", j + 1, d, data.feature_names[j], dropped[j].mean())
    return _Refits(full=full, dropped=dropped, seconds=time.perf_counter() - start)


def _model_loss(model: TrainedModel, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return model.loss(X, y)


def _loco_loss(model: TrainedModel, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Lei et al.'s per-row loss: absolute error for regression, log loss for classification."""
    if model.task == "regression":
        return np.abs(np.asarray(y, np.float64) - model.predict(X).astype(np.float64))
    return model.loss(X, y)


def drop_column(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> Attribution:
    """Drop-column importance: test loss (MSE, or log loss) of the model retrained without
    feature j, minus the test loss of the full model. d retrainings with the same architecture,
    trainer and seed. Measures what the *data* in x_j adds given the other features (a
    correlated copy can stand in for it), not what the trained network uses."""
    fits = _refit_without_each(model, data, _model_loss)
    return Attribution(importance=fits.dropped.mean(axis=1) - fits.full.mean(), extras=fits.extras())


def median_interval(deltas: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row-of-`deltas` median and distribution-free (sign-test / order-statistic) 1 - alpha
    confidence interval for the population median: [D_(k), D_(n+1-k)] with the largest k such
    that P(Binomial(n, 1/2) < k) <= alpha / 2 (coverage >= 1 - alpha for continuous data).
    If n is too small for any such k, the interval is the whole real line."""
    D = np.sort(np.asarray(deltas, dtype=np.float64), axis=-1)
    n = D.shape[-1]
    k = int(stats.binom.ppf(alpha / 2, n, 0.5))  # smallest k with P(B <= k) >= alpha/2
    if stats.binom.cdf(k, n, 0.5) > alpha / 2:
        k -= 1  # now P(B <= k) <= alpha/2, i.e. P(B < k + 1) <= alpha/2
    # 1-based order statistic k + 1 = index k
    if k < 0:
        inf = np.full(D.shape[:-1], np.inf)
        return np.median(D, axis=-1), -inf, inf
    return np.median(D, axis=-1), D[..., k], D[..., n - 1 - k]


def mean_interval(deltas: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row-of-`deltas` mean and normal-approximation (CLT) 1 - alpha confidence interval."""
    D = np.asarray(deltas, dtype=np.float64)
    n = D.shape[-1]
    m = D.mean(axis=-1)
    half = stats.norm.ppf(1 - alpha / 2) * D.std(axis=-1, ddof=1) / np.sqrt(n)
    return m, m - half, m + half


def loco(model: TrainedModel, data: Dataset, rng: np.random.Generator, statistic: Statistic = "median",
         alpha: float = 0.1) -> Attribution:
    """LOCO, leave-one-covariate-out (Lei, G'Sell, Rinaldo, Tibshirani & Wasserman 2018, sec. 6).

    Refit without feature j (on the train split) and take, on each held-out test row,
    Delta_j = |y - f_-j(x)| - |y - f(x)| (absolute error for regression; log loss for
    classification). Importance = the median of Delta_j over test rows (statistic="median", the
    paper's parameter, with its distribution-free sign-test interval) or the mean
    (statistic="mean", with a normal-approximation interval). The intervals are 1 - alpha,
    per feature, not corrected for multiplicity; extras report n_significant, the number of
    features whose lower bound is > 0, plus the retraining cost.
    Shares the retraining loop with `drop_column`; it differs in the loss (absolute, not
    squared, error) and in reporting a robust statistic with an interval.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic={statistic!r} is invalid: expected one of {STATISTICS}")
    if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r} is invalid: expected a number in (0, 1)")
    fits = _refit_without_each(model, data, _loco_loss)
    deltas = fits.dropped - fits.full[None, :]
    est, lo, hi = (median_interval if statistic == "median" else mean_interval)(deltas, alpha)
    extras = {**fits.extras(), "n_significant": float(np.sum(lo > 0)), "alpha": float(alpha)}
    return Attribution(importance=est, extras=extras, ci_low=lo, ci_high=hi, ci_level=1 - float(alpha))
