"""Tie-aware rank statistics every scorer shares (`varbench.scoring`), and the model's own
quality (the trainer's ROC AUC): AUROC, average precision, expected hits in the top k (ties
broken at random in expectation), Spearman of |a| and |b|, and row-wise Spearman. AUROC and
average precision delegate to scikit-learn, Spearman to scipy. A leaf: it imports no varbench
module, so the core layer (`varbench.models`) can use it without importing the scoring layer."""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of scores separating labels True from False: scikit-learn's `roc_auc_score`, the
    Mann-Whitney share of correctly ordered pairs, ties counting 1/2. NaN when one class is empty
    or a score is not finite."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any() or not np.all(np.isfinite(scores)):
        return float("nan")
    return float(roc_auc_score(labels, scores))


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


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Tie-corrected Spearman correlation of |a| and |b|; NaN if either is constant."""
    a, b = np.abs(np.asarray(a, float)), np.abs(np.asarray(b, float))
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


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


__all__ = ["auroc", "average_precision", "expected_hits_at_k", "spearman", "rowwise_spearman"]
