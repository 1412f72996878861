"""Scoring: the one place a method's result is scored, with one metric table and one function
per result kind.

    table.py         METRIC_INFO, the one metric table (direction, range, kind, cost); Scores
    importance.py    importance vs the truth (score_against, score_local, ...); score_importance_result
    interactions.py  interaction matrices vs the pair truth (score_interactions); score_interaction_result
    selection.py     keep/drop decisions vs the relevant mask (fdr_power); score_selection_result

The tie-aware rank statistics they share (auroc, average_precision, expected_hits_at_k, spearman,
rowwise_spearman) are the leaf `varbench.rank_stats`, which the trainer's model quality uses too.
Every name is importable from `varbench.scoring` itself, as before the package was split.
"""
from __future__ import annotations

from varbench.rank_stats import auroc, average_precision, expected_hits_at_k, rowwise_spearman, spearman
from varbench.scoring.importance import (METRICS, decoy_share, estimand_scores, importance_tv, irrelevant_share,
                                         magnitude_scores, ndcg, rank_truth, relevant_spearman, score, score_against,
                                         score_importance_result, score_local)
from varbench.scoring.interactions import INTERACTION_METRICS, score_interaction_result, score_interactions
from varbench.scoring.selection import fdr_power, score_selection_result
from varbench.scoring.table import (ESTIMAND_METRICS, KINDS, MAGNITUDE_METRICS, METRIC_INFO, SELECTION_METRICS,
                                    MetricInfo, Scores, metrics_of_kind)

__all__ = ["KINDS", "MetricInfo", "METRIC_INFO", "metrics_of_kind", "METRICS", "MAGNITUDE_METRICS",
           "ESTIMAND_METRICS", "SELECTION_METRICS", "INTERACTION_METRICS", "Scores",
           "auroc", "average_precision", "expected_hits_at_k", "spearman", "rowwise_spearman",
           "rank_truth", "score", "irrelevant_share", "importance_tv", "ndcg", "relevant_spearman", "decoy_share",
           "magnitude_scores", "estimand_scores", "score_against", "score_local", "score_importance_result",
           "score_interactions", "score_interaction_result", "fdr_power", "score_selection_result"]
