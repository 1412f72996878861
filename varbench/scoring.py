"""Rank metrics of an importance vector against the ground truth, all tie-aware.

Conventions (documented in docs/scoring.md):
- Scores use |importance|: a sign says direction, not importance.
- Irrelevant features tie at 0 in the truth. Rank correlations use average ranks
  (Spearman) and tau-b (Kendall), both tie-corrected.
- top-k uses k = number of truly relevant features unless given. Ties in the method's
  scores at the k-th place are broken at random *in expectation*: a tied group at the cut
  contributes its fraction of relevant features times the number of places it fills.
- A metric that is undefined (a constant vector has no ranking; AUROC needs both relevant and
  irrelevant features) is NaN and named in `status`; it is never silently imputed.
- Weakly relevant variables (`GroundTruth.weak`: relevant, but below a stated share of variance)
  are their own tier: rank correlations see them tied with each other, between the strongly
  relevant and the irrelevant; top-k, precision and AUROC leave them out (k = the strong count).
- Magnitude scores (`magnitude_scores`) use the sum-normalised |importance|: irrelevant_share,
  importance_tv, ndcg (truth as gains, ties in the method's scores at their expected discount),
  relevant_spearman and, with declared decoy pairs, decoy_share.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import ndcg_score, roc_auc_score

if TYPE_CHECKING:
    from varbench.datasets.base import GroundTruth

METRICS = ("spearman", "kendall", "topk_recall", "precision_at_k", "auroc")
MAGNITUDE_METRICS = ("irrelevant_share", "importance_tv", "ndcg", "relevant_spearman", "decoy_share")
ESTIMAND_METRICS = ("estimand_spearman", "estimand_tv")


KINDS = ("rank", "magnitude", "estimand", "selection", "truth_free")


@dataclass(frozen=True)
class MetricInfo:
    """How to read a logged metric: its direction, its range (intervals are kept inside it), its
    kind (rank / magnitude / estimand scores against a truth, selection decisions, or truth-free:
    computed from the model, the data and the method's output alone, `varbench.truth_free`) and
    what it costs beyond the method's own run (empty: scoring arithmetic only)."""

    higher_is_better: bool = True
    low: float = -1.0
    high: float = 1.0
    kind: str = "rank"
    cost: str = ""


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


def abs_sum_per_variable(values: np.ndarray, variables: list[tuple[str, list[int]]]) -> np.ndarray:
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
    """ROC AUC of scores separating labels True from False: scikit-learn's `roc_auc_score`, the
    Mann-Whitney share of correctly ordered pairs, ties counting 1/2. NaN when one class is empty
    or a score is not finite."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any() or not np.all(np.isfinite(scores)):
        return float("nan")
    return float(roc_auc_score(labels, scores))


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


def rank_truth(truth_importance: np.ndarray, weak: np.ndarray | None) -> np.ndarray:
    """The truth rank scores compare with: weakly relevant variables tied as one tier (at the
    smallest weak value), strongly relevant and irrelevant ones as given."""
    true = np.asarray(truth_importance, dtype=float).copy()
    if weak is not None and np.any(weak):
        weak = np.asarray(weak, dtype=bool)
        true[weak] = true[weak].min()
    return true


def score(importance: np.ndarray, truth_importance: np.ndarray, relevant: np.ndarray,
          k: int | None = None, weak: np.ndarray | None = None) -> Scores:
    """Score one importance vector against the truth. k defaults to the number relevant (the
    number strongly relevant when `weak` marks weakly relevant variables, which then tie as
    one tier in Spearman/Kendall and are left out of top-k, precision and AUROC)."""
    imp = np.abs(np.asarray(importance, dtype=float))
    true = np.asarray(truth_importance, dtype=float)
    rel = np.asarray(relevant, dtype=bool)
    if imp.shape != true.shape:
        raise ValueError(f"importance has shape {imp.shape}, truth has {true.shape}")
    if not np.all(np.isfinite(imp)):
        raise ValueError("importance contains NaN or inf")
    weak_mask = np.zeros(imp.shape, bool) if weak is None else np.asarray(weak, dtype=bool)
    if weak_mask.shape != imp.shape:
        raise ValueError(f"weak has shape {weak_mask.shape}, truth has {true.shape}")
    true = rank_truth(true, weak_mask)
    keep = ~weak_mask  # the binary metrics compare strong relevant vs irrelevant only
    imp_b, rel_b = imp[keep], rel[keep]
    d = imp_b.size
    k = int(rel_b.sum()) if k is None else int(k)
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
    hits = expected_hits_at_k(imp_b, rel_b, k)
    auc = auroc(imp_b, rel_b)
    if not np.isfinite(auc):
        undefined.append("auroc (every feature is relevant)")
    metrics = {
        "spearman": rho,
        "kendall": tau,
        "topk_recall": hits / rel_b.sum() if rel_b.any() else float("nan"),
        "precision_at_k": hits / k,
        "auroc": auc,
    }
    return Scores(metrics=metrics, status="ok" if not undefined else "undefined: " + "; ".join(undefined))


def _shares(v: np.ndarray) -> np.ndarray | None:
    """|v| / sum |v|, or None when v is all zero."""
    a = np.abs(np.asarray(v, dtype=float))
    total = a.sum()
    return a / total if total > 0 else None


def irrelevant_share(importance: np.ndarray, relevant: np.ndarray) -> float:
    """Share of the |importance| mass on truly irrelevant variables (0 is perfect); NaN if the
    importance is all zero."""
    p = _shares(importance)
    return float("nan") if p is None else float(p[~np.asarray(relevant, dtype=bool)].sum())


def importance_tv(importance: np.ndarray, truth_importance: np.ndarray) -> float:
    """Total-variation distance 1/2 sum |p - q| between the sum-normalised |importance| p and
    truth q, in [0, 1] (0 is perfect); NaN if either is all zero."""
    p, q = _shares(importance), _shares(truth_importance)
    return float("nan") if p is None or q is None else float(0.5 * np.abs(p - q).sum())


def ndcg(importance: np.ndarray, truth_importance: np.ndarray) -> float:
    """Normalised discounted cumulative gain of the method's order, the truth as gains and
    discount 1 / log2(1 + position). A group of tied scores gets the mean discount of the
    positions it fills (the expectation over random tie-breaking): scikit-learn's `ndcg_score`
    with `ignore_ties=False`. NaN if the truth is all zero."""
    imp = np.abs(np.asarray(importance, dtype=float))
    gain = np.asarray(truth_importance, dtype=float)
    if not np.any(gain > 0):
        return float("nan")
    if imp.size == 1:  # scikit-learn refuses one item; its only order is the ideal one
        return 1.0
    return float(ndcg_score(gain[None, :], imp[None, :], ignore_ties=False))


def relevant_spearman(importance: np.ndarray, truth_importance: np.ndarray, relevant: np.ndarray) -> float:
    """Spearman among the relevant variables only (NaN with fewer than 3 of them or a constant
    vector there)."""
    rel = np.asarray(relevant, dtype=bool)
    if rel.sum() < 3:
        return float("nan")
    return spearman(np.asarray(importance, float)[rel], np.asarray(truth_importance, float)[rel])


def decoy_share(importance: np.ndarray, decoys: Sequence[tuple[int, int]]) -> float:
    """Mean over declared (decoy, relevant twin) pairs of |imp_decoy| / (|imp_decoy| + |imp_twin|)
    (0 is perfect, 0.5 = no preference); pairs where both are 0 count 0.5; NaN without pairs."""
    if not decoys:
        return float("nan")
    a = np.abs(np.asarray(importance, dtype=float))
    vals = [a[i] / (a[i] + a[j]) if a[i] + a[j] > 0 else 0.5 for i, j in decoys]
    return float(np.mean(vals))


def magnitude_scores(importance: np.ndarray, truth_importance: np.ndarray, relevant: np.ndarray,
                     weak: np.ndarray | None = None,
                     decoys: Sequence[tuple[int, int]] | None = None) -> dict[str, float]:
    """The magnitude-aware scores of one importance vector (see MAGNITUDE_METRICS); decoy_share
    only when decoy pairs are declared. relevant_spearman sees the weak tier as rank scores do."""
    out = {
        "irrelevant_share": irrelevant_share(importance, relevant),
        "importance_tv": importance_tv(importance, truth_importance),
        "ndcg": ndcg(importance, truth_importance),
        "relevant_spearman": relevant_spearman(importance, rank_truth(truth_importance, weak), relevant),
    }
    if decoys:
        out["decoy_share"] = decoy_share(importance, decoys)
    return out


def estimand_scores(importance: np.ndarray, estimand_truth: np.ndarray, squared: bool) -> dict[str, float]:
    """Error of a method against the truth of its own estimand (`GroundTruth.estimands`, on the
    variance scale): Spearman and TV distance. `squared`: compare importance^2 (a local method's
    mean |attribution| is on the scale of a standard deviation)."""
    imp = np.abs(np.asarray(importance, dtype=float))
    imp = imp ** 2 if squared else imp
    return {"estimand_spearman": spearman(imp, estimand_truth),
            "estimand_tv": importance_tv(imp, estimand_truth)}


def score_against(importance: np.ndarray, truth: "GroundTruth", k: int | None = None, estimand: str = "unknown",
                  aggregation: str = "global") -> Scores:
    """Every score of one importance vector against a dataset's truth: the rank scores (weak
    tier included), the magnitude scores and, where the truth states the method's estimand, the
    estimand scores (a mean-|local| aggregate is squared first, see `estimand_scores`). The one
    place the runner and re-scoring of logged runs (`varbench.rescore`) score importance."""
    scores = score(importance, truth.importance, truth.relevant, k, weak=truth.weak)
    metrics = dict(scores.metrics)
    metrics.update(magnitude_scores(importance, truth.importance, truth.relevant, truth.weak, truth.decoys))
    if estimand in truth.estimands:  # does the method estimate its own target?
        metrics.update(estimand_scores(importance, truth.estimands[estimand], squared=aggregation == "mean_abs_local"))
    return Scores(metrics=metrics, status=scores.status)


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
    rhos = rowwise_spearman(A, T)
    rhos = rhos[np.isfinite(rhos)]
    return {"local_spearman": float(np.mean(rhos)) if rhos.size else float("nan"), "local_cosine": cos}


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
