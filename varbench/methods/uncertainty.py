"""The uncertainty of an importance estimate: one rule per kind of evidence a method has.

- replicates (permutation family: one estimate per repeat, importance = their mean):
  std = sd / sqrt(R) (standard error of the mean), interval mean +- t_{R-1, 0.975} std;
- local attributions aggregated as mean |attribution| over the explained rows: a bootstrap over
  those rows (n_bootstrap resamples; std = sd of the resampled means, percentile interval);
- the method's own interval (LOCO) is kept as it is; a method's own standard error (Sobol's)
  gets the normal interval importance +- z_{0.975} std;
- otherwise NaN: no number is made up.
The interval describes the estimate's sampling noise (rows, repeats) for this model, not the
noise of training the model again. A second independent run's value falls inside a 95 %
interval less often than 95 % (both runs are noisy: about 83 % when they have equal variance).
"""
from __future__ import annotations

import numpy as np

from varbench.methods.base import Attribution

LEVEL = 0.95


def bootstrap_mean(values: np.ndarray, rng: np.random.Generator, n_bootstrap: int = 200,
                   level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(std, ci_low, ci_high) of the column means of values (n, V), by resampling rows."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    if n < 2 or n_bootstrap < 2:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan.copy(), nan.copy()
    idx = rng.integers(n, size=(n_bootstrap, n))
    means = values[idx].mean(axis=1)  # (B, V)
    q = (1 - level) / 2
    return means.std(axis=0, ddof=1), np.quantile(means, q, axis=0), np.quantile(means, 1 - q, axis=0)


def replicate_interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(std, ci_low, ci_high) of the mean of R replicates (R, V): standard error and t interval."""
    from scipy import stats

    rep = np.asarray(replicates, dtype=np.float64)
    R = rep.shape[0]
    if R < 2:
        nan = np.full(rep.shape[1], np.nan)
        return nan, nan.copy(), nan.copy()
    se = rep.std(axis=0, ddof=1) / np.sqrt(R)
    half = stats.t.ppf(1 - (1 - level) / 2, R - 1) * se
    m = rep.mean(axis=0)
    return se, m - half, m + half


def with_uncertainty(att: Attribution, rng: np.random.Generator, n_bootstrap: int = 200) -> Attribution:
    """Fill att.std / ci_low / ci_high by the rules above (NaN where none applies); in place."""
    V = att.importance.shape[0]
    if att.std is not None or att.ci_low is not None:  # the method's own (LOCO's interval, Sobol's se)
        nan = np.full(V, np.nan)
        if att.ci_low is None and att.std is not None:  # normal interval from its standard error
            from scipy import stats

            half = stats.norm.ppf(1 - (1 - att.ci_level) / 2) * att.std
            att.ci_low, att.ci_high = att.importance - half, att.importance + half
        att.std = nan if att.std is None else att.std
        att.ci_low = nan.copy() if att.ci_low is None else att.ci_low
        att.ci_high = nan.copy() if att.ci_high is None else att.ci_high
        return att
    if att.replicates is not None:
        att.std, att.ci_low, att.ci_high = replicate_interval(att.replicates, att.ci_level)
    elif att.local is not None and att.aggregation == "mean_abs_local":
        att.std, att.ci_low, att.ci_high = bootstrap_mean(np.abs(att.local), rng, n_bootstrap, att.ci_level)
    else:
        att.std, att.ci_low, att.ci_high = (np.full(V, np.nan) for _ in range(3))
    return att
