"""The one metric table: every score the runner logs and the reports rank, with its direction,
range, kind and cost (`METRIC_INFO`), and `Scores`, the value every scorer returns.

A metric is declared here once; the report (`varbench.report.metrics`), the advisor and the docs
read its facts from this table. The metric-name tuples of a kind (`MAGNITUDE_METRICS`, ...) are
derived from it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("rank", "magnitude", "estimand", "selection", "truth_free")


@dataclass(frozen=True)
class MetricInfo:
    """How to read a logged metric: its direction, its range (intervals are kept inside it), its
    kind (rank / magnitude / estimand scores against a truth, selection decisions, or truth-free:
    computed from the model, the data and the method's output alone, `varbench.truth_free`) and
    what it costs beyond the method's own run (empty: scoring arithmetic only). The report reads
    a run's costs (seconds, model evaluations: lower is better, in [0, inf)) through the same
    type, with kind "cost" (`varbench.report.metrics.COSTS`); they are not scores, so not here."""

    higher_is_better: bool = True
    low: float = -1.0
    high: float = 1.0
    kind: str = "rank"
    cost: str = ""

    @property
    def sign(self) -> float:
        """+1 if higher is better, -1 if lower is: sign * value is always "higher is better"."""
        return 1.0 if self.higher_is_better else -1.0

    @property
    def direction(self) -> str:
        """The direction in words: "higher is better" or "lower is better"."""
        return "higher is better" if self.higher_is_better else "lower is better"


_INF = float("inf")
_CURVE = "one batched pass with the curves: rows x 2(V + 1) x background_size evaluations"

# One place for every score metric the runner logs and the reports rank: add new metrics here.
METRIC_INFO: dict[str, MetricInfo] = {
    "spearman": MetricInfo(True, -1.0, 1.0),
    "kendall": MetricInfo(True, -1.0, 1.0),
    "topk_recall": MetricInfo(True, 0.0, 1.0),
    "precision_at_k": MetricInfo(True, 0.0, 1.0),
    "auroc": MetricInfo(True, 0.0, 1.0),
    "local_spearman": MetricInfo(True, -1.0, 1.0),
    "local_cosine": MetricInfo(True, -1.0, 1.0),
    "model_spearman": MetricInfo(True, -1.0, 1.0),
    "model_spearman_shapley": MetricInfo(True, -1.0, 1.0),
    "model_spearman_sage": MetricInfo(True, -1.0, 1.0),
    "pair_auroc": MetricInfo(True, 0.0, 1.0),
    "pair_ap": MetricInfo(True, 0.0, 1.0),
    "r_precision": MetricInfo(True, 0.0, 1.0),
    # magnitude-aware scores (vs the relevance truth)
    "irrelevant_share": MetricInfo(False, 0.0, 1.0, "magnitude"),
    "importance_tv": MetricInfo(False, 0.0, 1.0, "magnitude"),
    "ndcg": MetricInfo(True, 0.0, 1.0, "magnitude"),
    "relevant_spearman": MetricInfo(True, -1.0, 1.0, "magnitude"),
    "decoy_share": MetricInfo(False, 0.0, 1.0, "magnitude"),
    # vs the truth of the method's own estimand, where the dataset gives one
    "estimand_spearman": MetricInfo(True, -1.0, 1.0, "estimand"),
    "estimand_tv": MetricInfo(False, 0.0, 1.0, "estimand"),
    # selection track (returns: selection), vs the relevant mask
    "fdr": MetricInfo(False, 0.0, 1.0, "selection"),
    "power": MetricInfo(True, 0.0, 1.0, "selection"),
    # truth-free (varbench.truth_free): normalised curves may step outside [0, 1], so unbounded
    "deletion_auc": MetricInfo(True, -_INF, _INF, "truth_free", _CURVE),
    "insertion_auc": MetricInfo(True, -_INF, _INF, "truth_free", _CURVE),
    "pgi": MetricInfo(True, 0.0, _INF, "truth_free", _CURVE),
    "pgu": MetricInfo(False, 0.0, _INF, "truth_free", _CURVE),
    "deletion_auc_conditional": MetricInfo(True, -_INF, _INF, "truth_free",
                                           "rows x (V + 1) x background_size evaluations + V Gaussian solves"),
    "faithfulness_corr": MetricInfo(True, -1.0, 1.0, "truth_free",
                                    "rows x n_subsets x background_size evaluations (with infidelity)"),
    "infidelity": MetricInfo(False, 0.0, _INF, "truth_free",
                             "rows x n_subsets x background_size evaluations (with faithfulness_corr)"),
    "max_sensitivity": MetricInfo(False, 0.0, _INF, "truth_free",
                                  "sensitivity_draws + 1 re-runs of the method on sensitivity_rows rows"),
    "randomization_spearman_last": MetricInfo(False, -1.0, 1.0, "truth_free", "one re-run of the method"),
    "randomization_spearman": MetricInfo(False, -1.0, 1.0, "truth_free", "one re-run of the method"),
    "roar": MetricInfo(True, -_INF, _INF, "truth_free", "one retraining of the network"),
    "roar_keep": MetricInfo(False, -_INF, _INF, "truth_free", "one retraining of the network"),
}


def metrics_of_kind(kind: str) -> tuple[str, ...]:
    """The names of the metrics of one kind, in table order.

    Examples
    --------
    >>> metrics_of_kind("estimand")
    ('estimand_spearman', 'estimand_tv')
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is invalid: expected one of {KINDS}")
    return tuple(n for n, i in METRIC_INFO.items() if i.kind == kind)


MAGNITUDE_METRICS = metrics_of_kind("magnitude")
ESTIMAND_METRICS = metrics_of_kind("estimand")
SELECTION_METRICS = metrics_of_kind("selection")


@dataclass(frozen=True)
class Scores:
    """metrics: name -> value (NaN where undefined); status: "ok" or "undefined: ..."."""

    metrics: dict[str, float]
    status: str

    @property
    def finite(self) -> dict[str, float]:
        return {k: v for k, v in self.metrics.items() if np.isfinite(v)}


__all__ = ["KINDS", "MetricInfo", "METRIC_INFO", "metrics_of_kind", "MAGNITUDE_METRICS", "ESTIMAND_METRICS",
           "SELECTION_METRICS", "Scores"]
