"""The interaction track's scores: a pairwise interaction matrix against the interaction truth,
all tie-aware, and `score_interaction_result`, the scoring of one interaction run.

Conventions (as `varbench.scoring.importance`): scores use |matrix|; only the strict upper
triangle counts (the d(d-1)/2 unordered pairs); a pair is truly interacting when its truth entry
is non-zero.
- pair_auroc: ROC AUC of true pairs vs the rest (ties count 1/2);
- pair_ap: average precision, thresholds at the distinct scores (a tied group enters at once,
  as scikit-learn's `average_precision_score` does);
- r_precision: precision among the top R pairs, R = number of true pairs, ties at the cut broken
  at random in expectation (`expected_hits_at_k`);
- spearman: rank correlation with the truth's strengths, only when the truth holds real
  strengths (values other than 0/1, e.g. analytic second-order Sobol indices);
- n_true_pairs.
A metric that is undefined (no true pair, e.g. the additive control; every pair true; a constant
matrix for Spearman) is NaN and named in `status` ("undefined: ..."), never imputed; Spearman
against a 0/1 truth is NaN and the status says "(spearman n/a: the truth is 0/1)".
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from varbench.datasets.interactions import upper_pairs
from varbench.methods.base import as_interactions
from varbench.rank_stats import auroc, average_precision, expected_hits_at_k
from varbench.scoring.table import Scores

TRACK = "interactions"
INTERACTION_METRICS = ("pair_auroc", "pair_ap", "r_precision", "spearman", "n_true_pairs")


def score_interactions(matrix: np.ndarray, truth_matrix: np.ndarray) -> Scores:
    """Score a (d, d) interaction matrix against the (d, d) truth (see the module note).
    Returns `varbench.scoring.table.Scores`: metrics (NaN where undefined) and a status string.

    Examples
    --------
    >>> truth = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float)
    >>> found = np.array([[0, 0.9, 0.1], [0.9, 0, 0.2], [0.1, 0.2, 0]])
    >>> s = score_interactions(found, truth)
    >>> s.metrics["pair_auroc"], s.metrics["r_precision"], s.status
    (1.0, 1.0, 'ok (spearman n/a: the truth is 0/1)')
    """
    M = np.abs(np.asarray(matrix, dtype=float))
    T = np.asarray(truth_matrix, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"interaction matrix has shape {M.shape}, expected (d, d)")
    if T.shape != M.shape:
        raise ValueError(f"interaction matrix has shape {M.shape}, truth has {T.shape}")
    if not np.all(np.isfinite(M)) or not np.all(np.isfinite(T)):
        raise ValueError("interaction matrix or truth contains NaN or inf")
    d = M.shape[0]
    iu, ju = upper_pairs(d)
    s, t = M[iu, ju], np.abs(T[iu, ju])
    true = t > 0
    n_true = int(true.sum())
    undefined = []
    metrics = {"pair_auroc": float("nan"), "pair_ap": float("nan"), "r_precision": float("nan"),
               "spearman": float("nan"), "n_true_pairs": float(n_true)}
    if s.size == 0:
        undefined.append("all (fewer than 2 features)")
    elif n_true == 0:
        undefined.append("pair_auroc, pair_ap, r_precision (no interacting pair in the truth)")
    elif n_true == s.size:
        undefined.append("pair_auroc (every pair interacts)")
        metrics["pair_ap"] = average_precision(s, true)
        metrics["r_precision"] = 1.0
    else:
        metrics["pair_auroc"] = auroc(s, true)
        metrics["pair_ap"] = average_precision(s, true)
        metrics["r_precision"] = expected_hits_at_k(s, true, n_true) / n_true
    binary = bool(np.all(np.isin(t, (0.0, 1.0))))
    if s.size and not binary:
        if np.ptp(s) == 0:
            undefined.append("spearman (matrix is constant)")
        else:
            metrics["spearman"] = float(stats.spearmanr(s, t).statistic)
    status = "ok" if not undefined else "undefined: " + "; ".join(undefined)
    if s.size and binary:
        status += " (spearman n/a: the truth is 0/1)"
    return Scores(metrics=metrics, status=status)


def score_interaction_result(result: object, data: Any) -> tuple[dict[str, float], dict[str, str], np.ndarray]:
    """Validate an interaction method's result and score its matrix against
    `data.truth.interactions`: (metrics, tags, matrix). A dataset without interaction truth gives
    status=ok with score_status "undefined: ..." and no rank metrics. Metrics: pair_auroc,
    pair_ap, r_precision, spearman, n_true_pairs (see `score_interactions`) and extra_<name> for
    the method's extras. Raises ValueError for a malformed result."""
    res = as_interactions(result, data.n_features)
    truth = data.truth.interactions
    if truth is None:
        metrics: dict[str, float] = {}
        score_status = "undefined: the dataset has no interaction truth (truth.interactions is None)"
    else:
        scores = score_interactions(res.matrix, truth)
        metrics, score_status = dict(scores.metrics), scores.status
    metrics.update({f"extra_{k}": float(v) for k, v in res.extras.items()})
    return metrics, {"status": "ok", "score_status": score_status}, res.matrix


__all__ = ["TRACK", "INTERACTION_METRICS", "score_interactions", "score_interaction_result"]
