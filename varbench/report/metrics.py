"""What the report knows about each metric of the run table: its direction (higher or lower is
better), its range (intervals are clipped to it, plots use it for axes and colours) and a label.

One place: a metric the runner logs is shown and ranked by the report once it is listed here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    """A score in the run table. lo/hi: the range every value lies in (inf where unbounded)."""

    name: str
    higher_is_better: bool
    lo: float
    hi: float
    label: str

    @property
    def sign(self) -> float:
        """+1 if higher is better, -1 if lower is: sign * value is always "higher is better"."""
        return 1.0 if self.higher_is_better else -1.0

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def clip(self, value: float) -> float:
        """value limited to [lo, hi] (NaN stays NaN)."""
        return float(np.clip(value, self.lo, self.hi)) if np.isfinite(value) else float(value)


_CORR = (-1.0, 1.0)
_SHARE = (0.0, 1.0)
_SPECS = [
    ("spearman", True, _CORR, "Spearman vs truth"),
    ("kendall", True, _CORR, "Kendall tau-b vs truth"),
    ("topk_recall", True, _SHARE, "top-k recall"),
    ("precision_at_k", True, _SHARE, "precision at k"),
    ("auroc", True, _SHARE, "ROC AUC relevant vs irrelevant"),
    ("local_spearman", True, _CORR, "local Spearman vs local truth"),
    ("local_cosine", True, _CORR, "local cosine vs local truth"),
    ("model_spearman", True, _CORR, "Spearman vs the model's Sobol truth"),
    ("model_spearman_shapley", True, _CORR, "Spearman vs the model's Shapley truth"),
    ("model_spearman_sage", True, _CORR, "Spearman vs the model's SAGE truth"),
    ("relevant_spearman", True, _CORR, "Spearman among relevant features"),
    ("ndcg", True, _SHARE, "NDCG"),
    ("irrelevant_share", False, _SHARE, "share of |importance| on irrelevant features"),
    ("decoy_share", False, _SHARE, "share of |importance| on decoys"),
    ("importance_tv", False, _SHARE, "total variation to the true importance shares"),
    ("fdr", False, _SHARE, "selection false discovery rate"),
    ("power", True, _SHARE, "selection power"),
    ("pair_auroc", True, _SHARE, "pairwise interaction ROC AUC"),
    ("pair_ap", True, _SHARE, "pairwise interaction average precision"),
    ("r_precision", True, _SHARE, "pairwise interaction R-precision"),
]
METRICS: dict[str, Metric] = {n: Metric(n, hib, lo, hi, label) for n, hib, (lo, hi), label in _SPECS}
COSTS: dict[str, Metric] = {
    "seconds": Metric("seconds", False, 0.0, np.inf, "seconds per run"),
    "n_model_evals": Metric("n_model_evals", False, 0.0, np.inf, "model evaluations per run"),
}


def metric(name: str, key: str = "--metric") -> Metric:
    """The spec of a score metric; unknown names are refused in one line naming the argument."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"{key}={name!r} is invalid: expected one of {', '.join(METRICS)}") from None


def spec(name: str) -> Metric | None:
    """The spec of any known column (score or cost), None if the report knows nothing about it."""
    return METRICS.get(name) or COSTS.get(name)
