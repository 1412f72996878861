"""The importance track's scores: an importance vector (or local attributions) against the
ground truth, all tie-aware, and `score_importance_result`, the scoring of one importance run.

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

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import ndcg_score

from varbench.methods.base import Attribution
from varbench.methods.uncertainty import with_uncertainty
from varbench.rank_stats import auroc, expected_hits_at_k, rowwise_spearman, spearman, spearman_against, trusted_inputs
from varbench.scoring.table import Scores
from varbench.tag_json import vector_json

if TYPE_CHECKING:
    from varbench.datasets.base import GroundTruth

METRICS = ("spearman", "kendall", "topk_recall", "precision_at_k", "auroc")  # what `score` returns


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
    if not (np.isfinite(imp).all() and np.isfinite(gain).all()):  # scikit-learn's own error
        return float(ndcg_score(gain[None, :], imp[None, :], ignore_ties=False))
    with trusted_inputs():
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



def score_importance_result(att: Attribution, data: Any, k: int | None, model_truths: dict[str, np.ndarray] | None,
                            estimand: str = "unknown", seed: int = 0
                            ) -> tuple[dict[str, float], dict[str, str], np.ndarray]:
    """(metrics, tags, importance) of one importance run, its `Attribution` already per variable
    (a group of columns is one variable, as the method's `_meta_.groups` rule honours it:
    `varbench.methods.variables.to_variables`).

    Metrics: the scores of `score_against` where the data's truth is known; `score_local` where
    the method's local attributions and the data's local truth both exist (ungrouped data);
    each `model_truths` entry (e.g. model_spearman: the trained model's own truth, per
    variable) as the Spearman correlation with it; extra_<name> for the method's extras. The
    importance's uncertainty (`varbench.methods.uncertainty`, stream [seed, 1]) travels as tags
    importance_std / importance_ci_low / _high.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from varbench.datasets.base import GroundTruth
    >>> truth = GroundTruth(np.array([2.0, 1.0, 0.0]), np.array([True, True, False]), "planted")
    >>> data = SimpleNamespace(truth=truth, groups=None)
    >>> metrics, tags, imp = score_importance_result(Attribution(importance=np.array([0.9, 0.5, 0.1])), data, None, {})
    >>> metrics["spearman"], tags["score_status"]
    (1.0, 'ok')
    """
    att = with_uncertainty(att, np.random.default_rng([int(seed), 1]))
    tags = {"status": "ok", "aggregation": att.aggregation}
    if data.truth.known:
        scores = score_against(att.importance, data.truth, k, estimand, att.aggregation)
        metrics, tags["score_status"] = dict(scores.metrics), scores.status
    else:
        metrics, tags["score_status"] = {}, "no data truth (real target): scored against the model's own truth"
    if att.local is not None and att.rows is not None and data.truth.local is not None and not data.groups:
        metrics.update(score_local(att.local, data.truth.local(att.rows)))
    same_length = {key: truth for key, truth in (model_truths or {}).items() if len(truth) == len(att.importance)}
    metrics.update(zip(same_length, spearman_against(att.importance, list(same_length.values()))))
    metrics.update({f"extra_{k_}": float(v) for k_, v in att.extras.items()})
    if np.any(np.isfinite(att.std)) or np.any(np.isfinite(att.ci_low)):
        tags.update(importance_std=vector_json(att.std), importance_ci_low=vector_json(att.ci_low),
                    importance_ci_high=vector_json(att.ci_high))
    return metrics, tags, att.importance


__all__ = ["METRICS", "rank_truth", "score", "irrelevant_share", "importance_tv", "ndcg", "relevant_spearman",
           "decoy_share", "magnitude_scores", "estimand_scores", "score_against", "score_local",
           "score_importance_result"]
