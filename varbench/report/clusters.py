"""Datasets as the units of inference: a seeded two-stage cluster bootstrap.

A benchmark's cells (dataset, model, seed) are not independent: every seed of one dataset shares
its generator, so pooling cells as if they were independent draws makes intervals too narrow and
lets one dataset carry a verdict. Here the units are clusters (datasets, or dataset families):

- **Estimate**: the mean over clusters of each cluster's mean over its cells (every dataset weighs
  the same, however many seeds or models it has).
- **Bootstrap**: draw G clusters with replacement from the G clusters, then, within each drawn
  cluster, its n_c cells with replacement. A cluster drawn k times contributes k independent
  within-cluster resamples, i.e. multinomial(k * n_c, 1/n_c) cell counts. Every statistic here is a
  weighted mean of per-cell values (scores, within-cell ranks, paired differences), so one
  (B x cells) weight matrix serves them all, and every interval of one comparison uses the same
  resamples. Seeded: same input and seed, same numbers.
- **Interval and test**: the bootstrap standard error, scaled by sqrt(G / (G - 1)) (so that with one
  cell per cluster it estimates s / sqrt(G), the usual standard error of G values), with Student t
  quantiles on G - 1 degrees of freedom: mean +- t(1 - a/2, G - 1) * se; the test of "mean = 0" is
  t = mean / se on G - 1 df (two-sided). With one cell per cluster the standard error is that
  limit, s / sqrt(G), computed exactly (the interval is then the Student t interval of the values). Percentile intervals of a bootstrap over few clusters are
  too narrow (with 5 datasets that all favour one method, every resample does too); the t quantile
  on G - 1 df keeps the few-units penalty. With G = 1 there is no between-dataset variation to
  measure: interval and p-value are NaN (callers may take the cells as units instead and say so:
  `units`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

N_BOOT = 2000           # bootstrap resamples of every dataset-level interval
SEED = 0                # the bootstrap's default seed


@dataclass(frozen=True)
class ClusterBootstrap:
    """Resampling weights over cells grouped into clusters.

    Attributes
    ----------
    labels : the cluster of each cell (as given), length n.
    point : (n,) weights of the estimate: 1 / (G * n_c) for a cell of cluster c.
    weights : (B, n) weights of each bootstrap resample (rows sum to 1).
    n_clusters : G.
    """

    labels: np.ndarray
    point: np.ndarray
    weights: np.ndarray
    n_clusters: int

    def estimate(self, values: np.ndarray) -> np.ndarray:
        """Cluster-weighted mean of each column of `values` ((n,) or (n, k))."""
        return self.point @ np.asarray(values, dtype=float)

    def replicates(self, values: np.ndarray) -> np.ndarray:
        """Bootstrap replicates of the cluster-weighted mean: (B,) or (B, k)."""
        return self.weights @ np.asarray(values, dtype=float)

    def summary(self, values: np.ndarray | pd.DataFrame, level: float = 0.95,
                bounds: tuple[float, float] = (-np.inf, np.inf)) -> pd.DataFrame:
        """Per column: mean, se, lo, hi (t on G - 1 df, clipped to `bounds`), p of "mean = 0",
        n_clusters and n_cells."""
        cols = list(values.columns) if isinstance(values, pd.DataFrame) else None
        X = np.asarray(values, dtype=float)
        X = X[:, None] if X.ndim == 1 else X
        if not np.all(np.isfinite(X)):
            raise ValueError("values must be finite: drop the cells with a missing score first")
        mean, reps = self.estimate(X), self.replicates(X)
        G = self.n_clusters
        out = pd.DataFrame({"mean": mean}, index=cols)
        if G < 2:
            se = np.full(mean.shape, np.nan)
            half = p = se
        else:
            if X.shape[0] == G:   # one cell per unit: the bootstrap's limit, exactly (no resampling noise)
                se = X.std(axis=0, ddof=1) / np.sqrt(G)
            else:
                se = reps.std(axis=0, ddof=1) * np.sqrt(G / (G - 1))
            half = stats.t.ppf(0.5 + level / 2, G - 1) * se
            with np.errstate(divide="ignore", invalid="ignore"):
                tstat = np.where(se > 0, mean / np.where(se > 0, se, 1.0), np.where(mean == 0, 0.0, np.inf))
            p = 2 * stats.t.sf(np.abs(tstat), G - 1)
        out["se"] = se
        out["lo"] = np.maximum(mean - half, bounds[0])
        out["hi"] = np.minimum(mean + half, bounds[1])
        out["p"] = p
        out["n_clusters"] = G
        out["n_cells"] = X.shape[0]
        return out


def cluster_bootstrap(labels: Sequence | np.ndarray, n_boot: int = N_BOOT, seed: int = SEED) -> ClusterBootstrap:
    """Two-stage bootstrap weights: clusters with replacement, then cells within each drawn cluster.

    Parameters
    ----------
    labels : the cluster (e.g. dataset) of each cell.
    n_boot : number of resamples B.
    seed : seed of the numpy Generator (same labels and seed, same weights).

    Returns
    -------
    ClusterBootstrap

    Examples
    --------
    >>> import numpy as np
    >>> bs = cluster_bootstrap(["a", "a", "b", "c"], n_boot=500, seed=1)
    >>> round(float(bs.estimate(np.array([1.0, 3.0, 4.0, 6.0]))), 3)   # (2 + 4 + 6) / 3
    4.0
    >>> bs.weights.shape
    (500, 4)
    """
    lab = np.asarray(labels, dtype=object)
    if lab.ndim != 1 or lab.size == 0:
        raise ValueError(f"labels has shape {lab.shape}: expected a non-empty 1-d sequence of cluster names")
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise ValueError(f"n_boot={n_boot!r} is invalid: expected an integer >= 2")
    names = sorted({str(x) for x in lab})
    code = np.array([names.index(str(x)) for x in lab])
    G, n = len(names), lab.size
    sizes = np.bincount(code, minlength=G)
    point = 1.0 / (G * sizes[code])
    rng = np.random.default_rng(seed)
    drawn = (rng.integers(0, G, size=(n_boot, G))[:, :, None] == np.arange(G)).sum(axis=1)   # (B, G) draws
    W = np.zeros((n_boot, n))
    for c in range(G):
        members = np.flatnonzero(code == c)
        counts = rng.multinomial(drawn[:, c] * sizes[c], np.full(sizes[c], 1.0 / sizes[c]))
        W[:, members] = counts / (G * sizes[c])
    return ClusterBootstrap(lab, point, W, G)


def units(datasets: Sequence[str] | np.ndarray, cells: Sequence[str] | np.ndarray) -> tuple[np.ndarray, str]:
    """The units of inference for cells: their datasets, or the cells themselves when all cells
    share one dataset (then each seed is a fresh draw of one design, and the verdict covers that
    design only). Returns (labels, a sentence naming the units)."""
    d = np.asarray(datasets, dtype=object)
    names = sorted({str(x) for x in d})
    if len(names) >= 2:
        return d, f"units: {len(names)} datasets (cells resampled within them)"
    c = np.asarray(cells, dtype=object)
    return c, (f"units: the {len(set(map(str, c)))} cells of the one dataset {names[0] if names else '?'} "
               "(fresh draws of one design: the verdict covers this design only)")
