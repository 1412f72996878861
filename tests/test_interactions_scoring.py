"""Oracle tests for the interaction scores: hand-computed AUC / AP / R-precision, scikit-learn's
ROC AUC and average precision as references, and the undefined cases."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from varbench.datasets.interactions import pair_matrix, upper_pairs
from varbench.methods.base import Interactions, as_interactions
from varbench.rank_stats import average_precision
from varbench.scoring.interactions import score_interactions


def _from_upper(values, d=4):
    M = np.zeros((d, d))
    iu, ju = upper_pairs(d)
    M[iu, ju] = values
    return M + M.T


# pairs in upper_pairs order for d = 4: (0,1) (0,2) (0,3) (1,2) (1,3) (2,3); true: (0,1), (2,3)
TRUTH = pair_matrix([{0, 1}, {2, 3}], 4)


def test_hand_computed_auc_ap_r_precision():
    s = score_interactions(_from_upper([0.9, 0.8, 0.1, 0.3, 0.2, 0.5]), TRUTH)
    # AUC: 0.9 beats all 4 negatives, 0.5 beats 3 of them -> 7/8
    assert s.metrics["pair_auroc"] == pytest.approx(7 / 8)
    # ranking + - + - - -: AP = 1/2 * 1/1 + 1/2 * 2/3
    assert s.metrics["pair_ap"] == pytest.approx(0.5 + 1 / 3)
    # R = 2: the top two are (0,1) (true) and (0,2) (false)
    assert s.metrics["r_precision"] == pytest.approx(0.5)
    assert s.metrics["n_true_pairs"] == 2.0
    assert np.isnan(s.metrics["spearman"]) and s.status.startswith("ok") and "n/a" in s.status


def test_ties_hand_computed():
    s = score_interactions(_from_upper([0.5, 0.5, 0.0, 0.0, 0.0, 0.2]), TRUTH)
    # positive 0.5 ties one negative (1/2) and beats 3; positive 0.2 beats 3 -> 6.5 / 8
    assert s.metrics["pair_auroc"] == pytest.approx(6.5 / 8)
    # thresholds 0.5: P = 1/2 at R = 1/2; 0.2: P = 2/3 at R = 1
    assert s.metrics["pair_ap"] == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    assert s.metrics["r_precision"] == pytest.approx(0.5)  # two tied places, one true among them
    # a tie at the cut: (0,1) first, then one place for three tied pairs, one of them true
    s = score_interactions(_from_upper([0.5, 0.2, 0.2, 0.0, 0.0, 0.2]), TRUTH)
    assert s.metrics["r_precision"] == pytest.approx((1 + 1 / 3) / 2)


def test_matches_sklearn_on_random_tied_scores():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        d = 8
        iu, ju = upper_pairs(d)
        labels = rng.random(iu.size) < 0.3
        labels[0], labels[1] = True, False
        scores = rng.integers(0, 5, iu.size).astype(float)  # many ties
        T = np.zeros((d, d))
        T[iu, ju] = labels
        s = score_interactions(_from_upper(scores, d), T + T.T)
        assert s.metrics["pair_auroc"] == pytest.approx(roc_auc_score(labels, scores))
        assert s.metrics["pair_ap"] == pytest.approx(average_precision_score(labels, scores))
        assert average_precision(scores, labels) == pytest.approx(average_precision_score(labels, scores))


def test_sign_is_ignored_and_diagonal_does_not_count():
    M = _from_upper([-0.9, 0.8, 0.1, 0.3, 0.2, -0.5])
    np.fill_diagonal(M, 100.0)
    s = score_interactions(M, TRUTH)
    assert s.metrics["pair_auroc"] == pytest.approx(7 / 8)


def test_spearman_against_strengths():
    T = _from_upper([0.24, 0.0, 0.0, 0.0, 0.0, 0.05])  # real strengths (e.g. second-order Sobol)
    M = _from_upper([0.9, 0.8, 0.1, 0.3, 0.2, 0.5])
    s = score_interactions(M, T)
    iu, ju = upper_pairs(4)
    assert s.metrics["spearman"] == pytest.approx(stats.spearmanr(M[iu, ju], T[iu, ju]).statistic)
    assert s.status == "ok"
    s = score_interactions(np.ones((4, 4)), T)  # a constant matrix has no ranking
    assert np.isnan(s.metrics["spearman"]) and "matrix is constant" in s.status
    assert s.metrics["pair_auroc"] == 0.5


def test_undefined_cases_are_nan_with_status():
    s = score_interactions(_from_upper([0.9, 0.8, 0.1, 0.3, 0.2, 0.5]), np.zeros((4, 4)))
    assert all(np.isnan(s.metrics[k]) for k in ("pair_auroc", "pair_ap", "r_precision"))
    assert "no interacting pair" in s.status and s.metrics["n_true_pairs"] == 0
    s = score_interactions(_from_upper([0.9, 0.8, 0.1, 0.3, 0.2, 0.5]), np.ones((4, 4)))
    assert np.isnan(s.metrics["pair_auroc"]) and s.metrics["r_precision"] == 1.0
    assert "every pair interacts" in s.status
    with pytest.raises(ValueError, match="shape"):
        score_interactions(np.zeros((3, 3)), TRUTH)
    with pytest.raises(ValueError, match="NaN"):
        score_interactions(np.full((4, 4), np.nan), TRUTH)


def test_as_interactions_normalises_and_rejects():
    M = _from_upper([1, 2, 3, 4, 5, 6]) + np.eye(4)
    out = as_interactions(M, 4)
    assert isinstance(out, Interactions) and np.all(np.diag(out.matrix) == 0)
    with pytest.raises(ValueError, match="asymmetric"):
        as_interactions(np.triu(np.ones((4, 4)), 1), 4)
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        as_interactions(np.zeros((3, 3)), 4)
    with pytest.raises(ValueError, match="non-finite"):
        as_interactions(Interactions(matrix=np.full((4, 4), np.inf)), 4)


def test_pair_matrix_expands_groups():
    M = pair_matrix([{0, 1, 2}, {3, 4}], 5)
    iu, ju = upper_pairs(5)
    assert {(i, j) for i, j in zip(iu, ju) if M[i, j]} == {(0, 1), (0, 2), (1, 2), (3, 4)}
    with pytest.raises(ValueError, match="outside"):
        pair_matrix([{0, 7}], 5)
