"""Statistics for comparing importance methods over benchmark cells.

Conventions:
- Every metric is "higher is better"; rank 1 is the best method of a block (a cell).
- Ties share the average rank.
- Confidence intervals are two-sided Student t intervals, mean +- t_{1-a/2, n-1} * s / sqrt(n)
  with the sample standard deviation s (ddof=1); undefined (NaN) for n < 2. Given the metric's
  range, the interval is intersected with it (the true mean lies in the range, so this never
  lowers coverage; a Spearman interval never reaches above 1).
- Friedman's chi-square is the tie-corrected statistic of scipy.stats.friedmanchisquare (for two
  methods, which scipy refuses, the same statistic in its closed form, the sign test's chi-square);
  Nemenyi's critical difference is CD = q_alpha * sqrt(k (k+1) / (6 N)) with
  q_alpha = studentized_range.ppf(1 - alpha, k, inf) / sqrt(2) (Demsar 2006, Table 5);
  pairwise Wilcoxon signed-rank tests (two-sided, zero differences dropped) are corrected
  with Holm's step-down procedure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided t interval over n finite values."""

    mean: float
    lo: float
    hi: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2


def _check_level(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ValueError(f"{name}={value!r} is invalid: expected a number in (0, 1)")


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95,
               bounds: tuple[float, float] = (-np.inf, np.inf)) -> Interval:
    """Mean and two-sided Student t confidence interval of the finite values (NaN dropped),
    intersected with `bounds` (the metric's range)."""
    _check_level("level", level)
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, float("nan"), float("nan"), 1, level)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    lo, hi = bounds
    return Interval(mean, max(mean - half, lo), min(mean + half, hi), n, level)


def block_ranks(scores: np.ndarray) -> np.ndarray:
    """Rank the columns (methods) within each row (block), 1 = highest score, ties averaged.
    NaN scores get NaN ranks and the others are ranked among themselves."""
    S = np.asarray(scores, dtype=float)
    if S.ndim != 2:
        raise ValueError(f"scores has shape {S.shape}: expected (blocks, methods)")
    S = np.where(np.isfinite(S), S, np.nan)
    return stats.rankdata(-S, method="average", axis=1, nan_policy="omit").astype(float)


def friedman(scores: np.ndarray) -> tuple[float, float]:
    """Tie-corrected Friedman chi-square statistic and p-value (df = k - 1) for a complete
    (blocks x methods) score matrix: scipy's `friedmanchisquare`. NaN statistic (p = NaN) when
    every block is all ties."""
    S = np.asarray(scores, dtype=float)
    if S.ndim != 2 or S.shape[0] < 2 or S.shape[1] < 2:
        raise ValueError(f"scores has shape {S.shape}: expected at least 2 blocks x 2 methods")
    if not np.all(np.isfinite(S)):
        raise ValueError("scores must be complete (no NaN): drop incomplete blocks first")
    if S.shape[1] == 2:
        # scipy asks for k >= 3; with two methods the tie-corrected statistic is the sign test's
        # chi-square (wins - losses)^2 / (wins + losses), tied blocks dropped
        wins, losses = int(np.sum(S[:, 0] > S[:, 1])), int(np.sum(S[:, 0] < S[:, 1]))
        if wins + losses == 0:
            return float("nan"), float("nan")
        chi2 = (wins - losses) ** 2 / (wins + losses)
        return float(chi2), float(stats.chi2.sf(chi2, 1))
    with np.errstate(invalid="ignore", divide="ignore"):  # all blocks tied: 0 / 0, reported as NaN
        res = stats.friedmanchisquare(*S.T)
    if not np.isfinite(res.statistic):
        return float("nan"), float("nan")
    return float(res.statistic), float(res.pvalue)


def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Critical value q_alpha of the Nemenyi test for k methods (studentized range / sqrt 2)."""
    if not (isinstance(k, (int, np.integer)) and k >= 2):
        raise ValueError(f"k={k!r} is invalid: expected an integer >= 2")
    _check_level("alpha", alpha)
    return float(stats.studentized_range.ppf(1 - alpha, int(k), np.inf) / np.sqrt(2))


def nemenyi_cd(k: int, n_blocks: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of mean ranks: q_alpha * sqrt(k (k+1) / (6 N))."""
    if not (isinstance(n_blocks, (int, np.integer)) and n_blocks >= 1):
        raise ValueError(f"n_blocks={n_blocks!r} is invalid: expected an integer >= 1")
    return nemenyi_q(k, alpha) * float(np.sqrt(k * (k + 1) / (6.0 * n_blocks)))


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (same order as given; NaN stays NaN, not counted)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def cliques(mean_ranks: Sequence[float], cd: float) -> list[list[int]]:
    """Maximal groups of methods (indices into mean_ranks) whose mean ranks all lie within cd
    of each other (no significant Nemenyi difference), in rank order; singletons omitted."""
    r = np.asarray(mean_ranks, dtype=float)
    order = np.argsort(r, kind="stable")
    groups: list[list[int]] = []
    last_end = -1
    for a in range(order.size):
        b = a
        while b + 1 < order.size and r[order[b + 1]] - r[order[a]] <= cd:
            b += 1
        if b > last_end and b > a:  # not contained in the previous group
            groups.append([int(i) for i in order[a:b + 1]])
        last_end = max(last_end, b)
    return groups


@dataclass
class Comparison:
    """The result of `compare`: tests over complete blocks."""

    methods: list[str]
    mean_ranks: pd.Series                  # over complete blocks, ascending
    n_blocks: int                          # complete blocks used
    n_dropped: int                         # blocks dropped for a missing method
    alpha: float
    statistic: float = float("nan")        # Friedman chi-square
    pvalue: float = float("nan")
    cd: float = float("nan")               # Nemenyi critical difference
    nemenyi: pd.DataFrame = field(default_factory=pd.DataFrame)
    wilcoxon: pd.DataFrame = field(default_factory=pd.DataFrame)
    groups: list[list[str]] = field(default_factory=list)
    note: str = ""
    left_out: dict[str, int] = field(default_factory=dict)   # method -> cells scored, too few to compare

    @property
    def ok(self) -> bool:
        return not self.note


def _wilcoxon(d: np.ndarray) -> tuple[float, float]:
    if np.all(d == 0):
        return float("nan"), 1.0
    res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def compare(table: pd.DataFrame, alpha: float = 0.05) -> Comparison:
    """Friedman test, Nemenyi critical difference and Holm-corrected pairwise Wilcoxon tests.

    table: blocks x methods scores (higher is better); rows with any NaN are dropped.
    """
    _check_level("alpha", alpha)
    complete = table.dropna(axis=0, how="any")
    methods = [str(c) for c in table.columns]
    comp = Comparison(methods=methods, mean_ranks=pd.Series(dtype=float), n_blocks=len(complete),
                      n_dropped=len(table) - len(complete), alpha=alpha)
    k, n = len(methods), len(complete)
    if k < 2 or n < 2:
        comp.note = f"needs at least 2 methods and 2 complete cells (have {k} methods, {n} complete cells)"
        return comp
    S = complete.to_numpy(dtype=float)
    comp.mean_ranks = pd.Series(block_ranks(S).mean(axis=0), index=methods).sort_values(kind="stable")
    comp.statistic, comp.pvalue = friedman(S)
    comp.cd = nemenyi_cd(k, n, alpha)
    rows, wrows = [], []
    for i in range(k):
        for j in range(i + 1, k):
            a, b = methods[i], methods[j]
            diff = float(comp.mean_ranks[a] - comp.mean_ranks[b])
            better = a if diff < 0 else b if diff > 0 else "-"
            rows.append({"method_a": a, "method_b": b, "rank_a": comp.mean_ranks[a],
                         "rank_b": comp.mean_ranks[b], "rank_diff": abs(diff),
                         "significant": bool(abs(diff) > comp.cd), "better": better})
            d = S[:, i] - S[:, j]
            w, p = _wilcoxon(d)
            md = float(d.mean())
            wrows.append({"method_a": a, "method_b": b, "mean_diff": md, "n": int(np.sum(d != 0)),
                          "statistic": w, "p": p, "better": a if md > 0 else b if md < 0 else "-"})
    comp.nemenyi = pd.DataFrame(rows)
    w = pd.DataFrame(wrows)
    w["p_holm"] = holm(w["p"].to_numpy())
    w["significant"] = w["p_holm"] < alpha
    comp.wilcoxon = w[["method_a", "method_b", "better", "mean_diff", "n", "statistic", "p", "p_holm",
                       "significant"]]
    order = list(comp.mean_ranks.index)
    comp.groups = [[order[i] for i in g] for g in cliques(comp.mean_ranks.to_numpy(), comp.cd)]
    return comp
