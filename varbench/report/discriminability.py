"""How well a metric tells methods apart over benchmark cells.

For one metric and a (cells x methods) matrix: how many method pairs differ significantly
(two-sided Wilcoxon signed-rank over cells, Holm-corrected over all pairs) and how many bars
the critical-difference diagram draws ("groups"). Groups are counted as the diagram draws them:
methods in mean-rank order, each maximal run of consecutive methods with no significant pair inside
is a bar; a method in no bar is a group of its own. The bars overlap, so they are not tiers:
`discriminability_table` also gives `tiers`, the number of disjoint tiers with datasets as the
units (varbench.report.tiers), when the runs name their dataset. `groups_nemenyi` uses the Nemenyi critical difference
(the report's CD diagram), `groups_wilcoxon` the Holm-corrected Wilcoxon pairs (as
scikit-posthocs' critical_difference_diagram draws bars from a pairwise significance matrix).
The report calls `discriminability_table` (also importable as `varbench.discriminability`); lower-is-better metrics (METRIC_INFO) are
negated first, so ranks are always 1 = best.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from varbench.scoring import METRIC_INFO
from varbench.report.stats import compare
from varbench.report.tiers import dataset_comparison


@dataclass(frozen=True)
class Discrimination:
    """One metric's power to separate methods."""

    metric: str
    n_methods: int
    n_cells: int
    n_pairs: int
    n_significant: int         # Wilcoxon-Holm pairs at alpha
    groups_nemenyi: int
    groups_wilcoxon: int
    note: str = ""


def oriented(matrix: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The matrix with higher = better (negated for a metric whose METRIC_INFO says lower is better)."""
    info = METRIC_INFO.get(metric)
    return -matrix if info is not None and not info.higher_is_better else matrix


def run_groups(order: Sequence[str], same: dict[frozenset, bool]) -> list[list[str]]:
    """Maximal runs of consecutive methods (in `order`) whose pairs are all not significantly
    different (`same[frozenset((a, b))]`), plus every method in no run as a singleton."""
    groups: list[list[str]] = []
    last_end = -1
    n = len(order)
    for a in range(n):
        b = a
        while b + 1 < n and all(same[frozenset((order[i], order[b + 1]))] for i in range(a, b + 1)):
            b += 1
        if b > last_end:
            groups.append(list(order[a:b + 1]))
            last_end = b
    return groups


def discriminability(matrix: pd.DataFrame, metric: str, alpha: float = 0.05) -> Discrimination:
    """Significant pairs and CD-diagram groups of `metric` over a cells x methods matrix
    (cells with a missing method are dropped, as in `varbench.report.stats.compare`)."""
    M = oriented(matrix.dropna(axis=1, how="all"), metric)
    comp = compare(M, alpha)
    k = len(comp.methods)
    if not comp.ok:
        return Discrimination(metric, k, comp.n_blocks, k * (k - 1) // 2, 0, 0, 0, comp.note)
    order = list(comp.mean_ranks.index)
    w = comp.wilcoxon
    same_w = {frozenset((a, b)): not s for a, b, s in zip(w["method_a"], w["method_b"], w["significant"])}
    nem = comp.nemenyi
    same_n = {frozenset((a, b)): not s for a, b, s in zip(nem["method_a"], nem["method_b"], nem["significant"])}
    return Discrimination(metric, k, comp.n_blocks, len(w), int(w["significant"].sum()),
                          len(run_groups(order, same_n)), len(run_groups(order, same_w)))


def discriminability_table(runs: pd.DataFrame, metrics: Sequence[str], alpha: float = 0.05,
                           cell: str = "cell") -> pd.DataFrame:
    """One row per metric (present in `runs`, a tidy table with `cell`, `method` and metric
    columns): methods, cells, pairs, significant pairs and groups (see `Discrimination`), and
    `tiers` with datasets as units when `runs` has a `dataset` column (NaN otherwise)."""
    rows = []
    for m in metrics:
        if m not in runs or not np.isfinite(pd.to_numeric(runs[m], errors="coerce")).any():
            continue
        M = runs.assign(_v=pd.to_numeric(runs[m], errors="coerce")).pivot_table(
            index=cell, columns="method", values="_v", aggfunc="first")
        row = dict(discriminability(M, m, alpha).__dict__)
        if "dataset" in runs:
            ds = runs.drop_duplicates(cell).set_index(cell)["dataset"]
            tiers = dataset_comparison(oriented(M.dropna(axis=1, how="all"), m), ds, m, alpha=alpha)
            row["tiers"] = tiers.n_tiers if tiers.ok else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=list(Discrimination.__dataclass_fields__) + ["tiers"])


__all__ = ["Discrimination", "discriminability", "discriminability_table", "oriented", "run_groups"]
