"""Tie-aware rank statistics every scorer shares (`varbench.scoring`), and the model's own
quality (the trainer's ROC AUC): AUROC, average precision, expected hits in the top k (ties
broken at random in expectation), Spearman of |a| and |b|, and row-wise Spearman. AUROC and
average precision delegate to scikit-learn, Spearman to scipy's average ranks. A leaf: it imports
no varbench module, so the core layer (`varbench.models`) can use it without importing the scoring
layer.

Speed (a study scores every method run): scikit-learn is called inside `trusted_inputs`, which
skips its per-call parameter and finiteness checks once the inputs were checked here, and AUROC
calls `roc_curve` + `auc`, the body of `roc_auc_score`'s binary case, without its label-type
inference. Spearman is the Pearson correlation of average ranks (`np.corrcoef` of
`scipy.stats.rankdata`, on the same (n, 2) array `scipy.stats.spearmanr` builds), so the ranks of
one vector can be reused (`spearman_against`); the values are bit-identical to the plain library
calls (tests/test_rank_stats_fast.py)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats
from sklearn import config_context
from sklearn.metrics import auc, average_precision_score, roc_curve


def trusted_inputs() -> config_context:
    """scikit-learn's `config_context` for inputs already checked here (finite, right types):
    no parameter validation, no finiteness check."""
    return config_context(skip_parameter_validation=True, assume_finite=True)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of scores separating labels True from False: scikit-learn's `roc_auc_score`, the
    Mann-Whitney share of correctly ordered pairs, ties counting 1/2. NaN when one class is empty
    or a score is not finite."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any() or not np.all(np.isfinite(scores)):
        return float("nan")
    with trusted_inputs():  # roc_auc_score's binary case: roc_curve, then the trapezoid area
        fpr, tpr, _ = roc_curve(labels, scores)
        return float(auc(fpr, tpr))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision sum_t (R_t - R_{t-1}) P_t over thresholds t at the distinct scores,
    highest first (scikit-learn's `average_precision_score`). NaN when there is no positive label."""
    labels = np.asarray(labels, dtype=bool)
    if not labels.any():
        return float("nan")
    return float(average_precision_score(labels, np.asarray(scores, dtype=float)))


def expected_hits_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Expected number of relevant features among the top k, ties broken uniformly at random."""
    scores = np.asarray(scores, dtype=float)
    relevant = np.asarray(relevant, dtype=bool)
    cut = np.sort(scores)[::-1][k - 1]
    above = scores > cut
    tied = scores == cut
    slots = k - int(above.sum())
    return float(relevant[above].sum() + slots * relevant[tied].sum() / tied.sum())


def _spearman_ranked(a: np.ndarray, b: np.ndarray, rank_a: np.ndarray | None) -> float:
    """Spearman of the already absolute a and b, `rank_a` the average ranks of a (None: rank it).
    Non-finite input goes to `scipy.stats.spearmanr` itself, so NaN/inf behave exactly as there."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float(stats.spearmanr(a, b).statistic)
    ranks = np.column_stack((stats.rankdata(a) if rank_a is None else rank_a, stats.rankdata(b)))
    return float(np.corrcoef(ranks, rowvar=False)[1, 0])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Tie-corrected Spearman correlation of |a| and |b|; NaN if either is constant.

    Examples
    --------
    >>> spearman(np.array([3.0, -2.0, 1.0]), np.array([0.5, 0.4, 0.1]))
    1.0
    """
    return _spearman_ranked(np.abs(np.asarray(a, float)), np.abs(np.asarray(b, float)), None)


def spearman_against(a: np.ndarray, others: Sequence[np.ndarray]) -> list[float]:
    """`spearman(a, b)` for each b in `others`, ranking |a| once.

    Examples
    --------
    >>> spearman_against(np.array([3.0, 2.0, 1.0]), [np.array([1.0, 2.0, 3.0]), np.array([9.0, 8.0, 0.0])])
    [-1.0, 1.0]
    """
    a = np.abs(np.asarray(a, float))
    rank_a = stats.rankdata(a) if a.size and np.ptp(a) != 0 and np.isfinite(a).all() else None
    return [_spearman_ranked(a, np.abs(np.asarray(b, float)), rank_a) for b in others]


def rowwise_spearman(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Tie-corrected Spearman correlation of each row of A with the same row of B (the Pearson
    correlation of their average ranks, as `scipy.stats.spearmanr`); NaN where a row is constant."""
    ra = stats.rankdata(A, axis=1)
    rb = stats.rankdata(B, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt(np.sum(ra * ra, axis=1) * np.sum(rb * rb, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.sum(ra * rb, axis=1) / denom
    return np.where((np.ptp(A, axis=1) > 0) & (np.ptp(B, axis=1) > 0), np.clip(rho, -1.0, 1.0), np.nan)


__all__ = ["trusted_inputs", "auroc", "average_precision", "expected_hits_at_k", "spearman",
           "spearman_against", "rowwise_spearman"]
