"""Rank metrics of an importance vector against the ground truth, all tie-aware.

Conventions (documented in the README):
- Scores use |importance|: a sign says direction, not importance.
- Irrelevant features tie at 0 in the truth. Rank correlations use average ranks
  (Spearman) and tau-b (Kendall), both tie-corrected.
- top-k uses k = number of truly relevant features unless given. Ties in the method's
  scores at the k-th place are broken at random *in expectation*: a tied group at the cut
  contributes its fraction of relevant features times the number of places it fills.
- A metric that is undefined (a constant vector has no ranking; AUROC needs both relevant and
  irrelevant features) is NaN and named in `status`; it is never silently imputed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

METRICS = ("spearman", "kendall", "topk_recall", "precision_at_k", "auroc")


@dataclass(frozen=True)
class MetricInfo:
    """How to read a logged metric: its direction and its range (intervals are kept inside it)."""

    higher_is_better: bool = True
    low: float = -1.0
    high: float = 1.0


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
}


def to_variables(values: np.ndarray, variables: list[tuple[str, list[int]]]) -> np.ndarray:
    """Per-column importances as per-variable ones: the sum of |value| over each variable's columns
    (a one-hot group's columns; identity for ungrouped columns)."""
    v = np.abs(np.asarray(values, dtype=float))
    return np.array([v[cols].sum() for _, cols in variables])


@dataclass(frozen=True)
class Scores:
    """metrics: name -> value (NaN where undefined); status: "ok" or "undefined: ..."."""

    metrics: dict[str, float]
    status: str

    @property
    def finite(self) -> dict[str, float]:
        return {k: v for k, v in self.metrics.items() if np.isfinite(v)}


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of scores separating labels True from False (Mann-Whitney, ties count 1/2).
    NaN when one class is empty."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    return float((ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


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


def score(importance: np.ndarray, truth_importance: np.ndarray, relevant: np.ndarray,
          k: int | None = None) -> Scores:
    """Score one importance vector against the truth. k defaults to the number relevant."""
    imp = np.abs(np.asarray(importance, dtype=float))
    true = np.asarray(truth_importance, dtype=float)
    rel = np.asarray(relevant, dtype=bool)
    if imp.shape != true.shape:
        raise ValueError(f"importance has shape {imp.shape}, truth has {true.shape}")
    if not np.all(np.isfinite(imp)):
        raise ValueError("importance contains NaN or inf")
    d = imp.size
    k = int(rel.sum()) if k is None else int(k)
    if not 1 <= k <= d:
        raise ValueError(f"scoring.k={k} is invalid: expected an integer in [1, n_features={d}]")
    undefined = []
    if np.ptp(imp) == 0:
        undefined.append("spearman, kendall (importance is constant)")
    elif np.ptp(true) == 0:
        undefined.append("spearman, kendall (truth is constant)")
    if np.ptp(imp) == 0 or np.ptp(true) == 0:
        rho = tau = float("nan")
    else:
        rho = spearman(imp, true)
        tau = float(stats.kendalltau(imp, true, variant="b").statistic)
    hits = expected_hits_at_k(imp, rel, k)
    auc = auroc(imp, rel)
    if not np.isfinite(auc):
        undefined.append("auroc (every feature is relevant)")
    metrics = {
        "spearman": rho,
        "kendall": tau,
        "topk_recall": hits / rel.sum(),
        "precision_at_k": hits / k,
        "auroc": auc,
    }
    return Scores(metrics=metrics, status="ok" if not undefined else "undefined: " + "; ".join(undefined))


def score_local(local: np.ndarray, local_truth: np.ndarray) -> dict[str, float]:
    """Per-row agreement of local attributions with exact local truth: mean Spearman and mean
    cosine over rows where each is defined (rows with a constant vector are skipped)."""
    A = np.asarray(local, dtype=float)
    T = np.asarray(local_truth, dtype=float)
    if A.shape != T.shape:
        raise ValueError(f"local attributions have shape {A.shape}, local truth {T.shape}")
    norms = np.linalg.norm(A, axis=1) * np.linalg.norm(T, axis=1)
    ok = norms > 0
    cos = float(np.mean(np.sum(A[ok] * T[ok], axis=1) / norms[ok])) if ok.any() else float("nan")
    rhos = [stats.spearmanr(a, t).statistic for a, t in zip(A, T) if np.ptp(a) > 0 and np.ptp(t) > 0]
    return {"local_spearman": float(np.mean(rhos)) if rhos else float("nan"), "local_cosine": cos}
