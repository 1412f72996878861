"""Dataset-level comparison of methods: intervals, mean ranks and tiers that do not overlap.

Every figure here treats datasets as the units (varbench.report.clusters: one seeded two-stage
cluster bootstrap, t quantiles on G - 1 df, G = number of datasets), over the cells where every
compared method has a score:

- per method: the dataset-weighted mean of the metric and its mean rank within cells (1 = best,
  ties averaged), each with its 95% interval;
- per pair: the dataset-weighted mean paired difference of the metric with its interval and the
  two-sided p-value of "no difference", Holm-corrected over all pairs;
- **tiers** (the rule): walk the methods in mean-rank order. The first method heads tier 1. Each
  next method joins the current tier unless it is significantly worse than the tier's head
  (Holm-adjusted p < alpha and a worse mean paired difference); then it heads a new tier. Tiers are
  therefore disjoint and ordered; within a tier no method is significantly worse than the head,
  although two non-head members may differ. A method significantly *better* on the metric than a
  head ranked above it (mean rank and mean metric disagree) stays in the head's tier.

The critical-difference diagram's bars (Nemenyi cliques over cells) overlap and are not tiers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from varbench.report.clusters import N_BOOT, SEED, cluster_bootstrap, units
from varbench.report.metrics import spec
from varbench.report.prepare import ReportData, numeric
from varbench.report.stats import block_ranks, holm
from varbench.report.tables import ALPHA, LEVEL, cell_matrix, coverage

TIER_COLUMNS = ["tier", "method", "mean_rank", "rank_lo", "rank_hi", "mean", "lo", "hi", "head", "diff_vs_head",
                "p_holm_vs_head", "n_datasets", "n_cells"]
PAIR_COLUMNS = ["method_a", "method_b", "better", "mean_diff", "lo", "hi", "p", "p_holm", "significant"]


@dataclass
class DatasetComparison:
    """The result of `dataset_comparison`: `tiers` (one row per method, TIER_COLUMNS, in mean-rank
    order) and `pairs` (PAIR_COLUMNS); `note` says why nothing was computed ('' when it was)."""

    metric: str
    tiers: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TIER_COLUMNS))
    pairs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PAIR_COLUMNS))
    units: str = ""
    n_dropped: int = 0
    alpha: float = 0.05
    level: float = 0.95
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note

    @property
    def n_tiers(self) -> int:
        return int(self.tiers["tier"].max()) if len(self.tiers) else 0

    def tier_lists(self) -> list[list[str]]:
        """The methods of each tier, in order."""
        return [list(g["method"]) for _, g in self.tiers.groupby("tier", sort=True)]


def walk_tiers(order: list[str], p_holm: pd.DataFrame, worse: pd.DataFrame, alpha: float) -> tuple[list[int], list[str]]:
    """Tiers by the module's rule: (tier of each method of `order`, head of its tier).

    p_holm[a][b]: adjusted p-value of the pair; worse[a][b]: True if b's mean is worse than a's.

    Examples
    --------
    >>> import pandas as pd
    >>> m = ["a", "b", "c"]
    >>> p = pd.DataFrame([[1, .5, .01], [.5, 1, .2], [.01, .2, 1]], index=m, columns=m)
    >>> w = pd.DataFrame(True, index=m, columns=m)
    >>> walk_tiers(m, p, w, 0.05)          # b is not worse than a; c is: c heads tier 2
    ([1, 1, 2], ['a', 'a', 'c'])
    """
    tier, head = 1, order[0]
    tiers, heads = [], []
    for m in order:
        if m != head and p_holm.loc[head, m] < alpha and worse.loc[head, m]:
            tier, head = tier + 1, m
        tiers.append(tier)
        heads.append(head)
    return tiers, heads


def dataset_comparison(scores: pd.DataFrame, datasets: pd.Series, metric: str = "metric",
                       higher_is_better: bool = True, bounds: tuple[float, float] = (-np.inf, np.inf),
                       alpha: float = 0.05, level: float = 0.95, n_boot: int = N_BOOT,
                       seed: int = SEED) -> DatasetComparison:
    """Mean, mean rank, pairwise differences and tiers with datasets as the units.

    Parameters
    ----------
    scores : cells x methods values of the metric (rows with any NaN are dropped).
    datasets : the dataset (or family) of each cell, indexed like `scores`. With a single
        dataset the cells themselves are the units (`units` says so).
    metric, higher_is_better, bounds : the metric's name, direction and range (for intervals).
    alpha, level : significance level of the tests (Holm over all pairs), confidence level.
    n_boot, seed : the cluster bootstrap's resamples and seed.

    Returns
    -------
    DatasetComparison

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"good": [.9, .8, .9, .85, .95, .9], "bad": [.1, .2, .15, .1, .2, .1]})
    >>> d = pd.Series(["x", "x", "y", "y", "z", "z"])
    >>> c = dataset_comparison(s, d, n_boot=200)
    >>> c.tier_lists()
    [['good'], ['bad']]
    """
    out = DatasetComparison(metric, alpha=alpha, level=level)
    complete = scores.dropna(axis=0, how="any")
    out.n_dropped = len(scores) - len(complete)
    methods = [str(c) for c in scores.columns]
    if len(methods) < 2 or len(complete) < 2:
        out.note = (f"needs at least 2 methods and 2 complete cells (have {len(methods)} methods, "
                    f"{len(complete)} complete cells)")
        return out
    missing = complete.index.difference(datasets.index)
    if len(missing):
        raise ValueError(f"datasets has no label for {len(missing)} cell(s), e.g. {missing[0]!r}")
    labels, out.units = units(datasets.loc[complete.index].to_numpy(), complete.index.to_numpy())
    bs = cluster_bootstrap(labels, n_boot, seed)
    if bs.n_clusters < 2:
        out.note = f"needs at least 2 units ({out.units})"
        return out
    X = complete.to_numpy(dtype=float)
    sign = 1.0 if higher_is_better else -1.0
    R = block_ranks(sign * X)
    rank = bs.summary(R, level, (1.0, float(len(methods)))).set_axis(methods)
    value = bs.summary(X, level, bounds).set_axis(methods)
    i, j = np.triu_indices(len(methods), 1)
    diff = bs.summary(X[:, i] - X[:, j], level)
    p_adj = holm(diff["p"].to_numpy())
    md = diff["mean"].to_numpy()
    a, b = [methods[x] for x in i], [methods[x] for x in j]
    better = np.where(sign * md > 0, a, np.where(sign * md < 0, b, "-"))
    out.pairs = pd.DataFrame({"method_a": a, "method_b": b, "better": better, "mean_diff": md,
                              "lo": diff["lo"].to_numpy(), "hi": diff["hi"].to_numpy(), "p": diff["p"].to_numpy(),
                              "p_holm": p_adj, "significant": p_adj < alpha})[PAIR_COLUMNS]
    P = pd.DataFrame(1.0, index=methods, columns=methods)
    D = pd.DataFrame(0.0, index=methods, columns=methods)   # D[x][y] = mean of x - y
    for x, y, p, d in zip(a, b, p_adj, md):
        P.loc[x, y] = P.loc[y, x] = p
        D.loc[x, y], D.loc[y, x] = d, -d
    order = list(rank["mean"].sort_values(kind="stable").index)
    tier, head = walk_tiers(order, P, sign * D > 0, alpha)
    out.tiers = pd.DataFrame({
        "tier": tier, "method": order, "mean_rank": rank.loc[order, "mean"].to_numpy(),
        "rank_lo": rank.loc[order, "lo"].to_numpy(), "rank_hi": rank.loc[order, "hi"].to_numpy(),
        "mean": value.loc[order, "mean"].to_numpy(), "lo": value.loc[order, "lo"].to_numpy(),
        "hi": value.loc[order, "hi"].to_numpy(), "head": head,
        "diff_vs_head": [D.loc[m, h] for m, h in zip(order, head)],
        "p_holm_vs_head": [np.nan if m == h else P.loc[h, m] for m, h in zip(order, head)],
        "n_datasets": bs.n_clusters, "n_cells": len(complete)})[TIER_COLUMNS]
    return out


def pair_gap(scores: pd.DataFrame, datasets: pd.Series, a: str, b: str, level: float = 0.95,
             n_boot: int = N_BOOT, seed: int = SEED) -> pd.Series:
    """One pair's dataset-level mean difference a - b over the cells both scored: mean, se, lo, hi,
    p, n_clusters, n_cells (one pair, no multiplicity correction; `units` in .attrs).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0], "b": [0.0, 0.0, 0.0, 0.0]})
    >>> float(pair_gap(s, pd.Series(["x", "x", "y", "y"]), "a", "b", n_boot=100)["mean"])
    1.5
    """
    both = scores[[a, b]].dropna()
    labels, note = units(datasets.loc[both.index].to_numpy(), both.index.to_numpy())
    row = cluster_bootstrap(labels, n_boot, seed).summary((both[a] - both[b]).to_numpy(), level).iloc[0]
    row.attrs["units"] = note
    return row


def dataset_level(data: ReportData, n_boot: int = N_BOOT, seed: int = SEED) -> DatasetComparison:
    """`dataset_comparison` of a report's compared methods (varbench.report.tables.coverage) over
    the good cells they all scored, with each cell's dataset as its unit, in the metric's direction
    and range."""
    M = cell_matrix(data)
    if M.empty:
        return DatasetComparison(data.metric, note="no scored cells")
    cov = coverage(data)
    core = list(cov.loc[cov["compared"], "method"])
    ds = data.scored.drop_duplicates("cell").set_index("cell")["dataset"]
    m = data.spec
    return dataset_comparison(M[core], ds, data.metric, m.higher_is_better, (m.lo, m.hi), ALPHA, LEVEL, n_boot, seed)


def dataset_ci_table(df: pd.DataFrame, by: list[str], col: str, bounds: tuple[float, float] | None = None,
                     level: float = LEVEL, n_boot: int = N_BOOT, seed: int = SEED) -> pd.DataFrame:
    """Per group of `by`: the dataset-weighted mean of `col` over the group's finite rows and its
    interval with datasets as units (cells, when the group holds one dataset): columns col,
    col_lo, col_hi, col_n (cells) and col_units (datasets, or cells when one dataset).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"method": ["a"] * 4, "dataset": ["x", "x", "y", "y"], "cell": list("pqrs"),
    ...                    "v": [0.0, 0.2, 1.0, 1.0]})
    >>> float(dataset_ci_table(df, ["method"], "v", n_boot=100)["v"].iloc[0])     # (0.1 + 1.0) / 2
    0.55
    """
    if bounds is None:
        m = spec(col)
        bounds = (m.lo, m.hi) if m else (-np.inf, np.inf)
    rows = []
    for key, g in df.assign(_v=numeric(df, col)).groupby(by, sort=False):
        g = g[np.isfinite(g["_v"])]
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        if g.empty:
            row.update({col: np.nan, f"{col}_lo": np.nan, f"{col}_hi": np.nan, f"{col}_n": 0, f"{col}_units": 0})
        else:
            labels, _ = units(g["dataset"].to_numpy(), g["cell"].to_numpy())
            r = cluster_bootstrap(labels, n_boot, seed).summary(g["_v"].to_numpy(), level, bounds).iloc[0]
            row.update({col: r["mean"], f"{col}_lo": r["lo"], f"{col}_hi": r["hi"], f"{col}_n": len(g),
                        f"{col}_units": int(r["n_clusters"])})
        rows.append(row)
    cols = by + [f"{col}{s}" for s in ("", "_lo", "_hi", "_n", "_units")]
    return pd.DataFrame(rows, columns=cols)
