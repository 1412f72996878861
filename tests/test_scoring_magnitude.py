"""Oracle tests of the magnitude-aware scores and of the weak tier in the rank scores."""
from __future__ import annotations

import numpy as np
import pytest

from varbench.scoring import (METRIC_INFO, decoy_share, estimand_scores, importance_tv, irrelevant_share,
                              magnitude_scores, ndcg, relevant_spearman, score)

TRUTH = np.array([4.0, 3.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0])
REL = TRUTH > 0
PAIRS = ((4, 0), (5, 1), (6, 2), (7, 3))


def test_every_new_metric_is_registered():
    for m in ("irrelevant_share", "importance_tv", "ndcg", "relevant_spearman", "decoy_share",
              "estimand_spearman", "estimand_tv", "fdr", "power"):
        assert m in METRIC_INFO
    assert not METRIC_INFO["irrelevant_share"].higher_is_better and METRIC_INFO["ndcg"].higher_is_better


def test_oracle_scores_perfectly():
    m = magnitude_scores(TRUTH, TRUTH, REL, decoys=PAIRS)
    assert m == pytest.approx({"irrelevant_share": 0.0, "importance_tv": 0.0, "ndcg": 1.0,
                               "relevant_spearman": 1.0, "decoy_share": 0.0})
    # scale does not matter: shares are sum-normalised
    assert magnitude_scores(7 * TRUTH, TRUTH, REL, decoys=PAIRS) == pytest.approx(m)


def test_hand_computed_values():
    assert irrelevant_share([3, 1, 1, 0], np.array([1, 1, 0, 0], bool)) == pytest.approx(0.2)
    assert importance_tv([3, 1, 0, 0], [2, 2, 0, 0]) == pytest.approx(0.25)
    # order: x1 (gain 1) at 1, x2 (gain 0) at 2, x0 (gain 3) at 3; ideal 3 + 1/log2(3)
    assert ndcg([0.1, 0.5, 0.4], [3, 1, 0]) == pytest.approx((1 + 3 * 0.5) / (3 + 1 / np.log2(3)))
    # a tie between x0 and x1 at the top: both get the mean discount of places 1 and 2
    assert ndcg([1, 1, 0], [3, 1, 0]) == pytest.approx(4 * (1 + 1 / np.log2(3)) / 2 / (3 + 1 / np.log2(3)))
    assert decoy_share([4, 1, 2, 2], ((1, 0), (3, 2))) == pytest.approx((1 / 5 + 2 / 4) / 2)
    assert decoy_share([0, 0, 1, 3], ((1, 0), (3, 2))) == pytest.approx((0.5 + 0.75) / 2)  # 0/0 = no preference
    assert relevant_spearman([1, 2, 3, 9, 9], [3, 2, 1, 0, 0], np.array([1, 1, 1, 0, 0], bool)) == pytest.approx(-1.0)
    # signs are ignored everywhere
    assert importance_tv([-3, 1, 0, 0], [2, 2, 0, 0]) == pytest.approx(0.25)


def test_undefined_cases_are_nan():
    assert np.isnan(irrelevant_share([0, 0], np.array([True, False])))
    assert np.isnan(importance_tv([1, 0], [0, 0]))
    assert np.isnan(ndcg([1, 2], [0, 0]))
    assert np.isnan(relevant_spearman([1, 2, 3], [1, 2, 0], np.array([1, 1, 0], bool)))  # < 3 relevant
    assert np.isnan(decoy_share([1, 2], ()))
    assert "decoy_share" not in magnitude_scores(TRUTH, TRUTH, REL)


def _expected_tv_dirichlet(q: np.ndarray) -> float:
    """E[TV(p, q)] for p ~ Dirichlet(1, ..., 1): p_j ~ Beta(1, d - 1), F(x) = 1 - (1 - x)^(d - 1),
    E|p_j - q_j| = E p_j - q_j + 2 int_0^q F = 1/d - q + 2 (q - (1 - (1 - q)^d) / d)."""
    d = q.size
    e = 1 / d - q + 2 * (q - (1 - (1 - q) ** d) / d)
    return float(0.5 * e.sum())


def test_random_importance_is_near_its_expectation():
    rng = np.random.default_rng(0)
    draws = rng.exponential(size=(4000, TRUTH.size))  # normalised: Dirichlet(1, ..., 1)
    m = [magnitude_scores(v, TRUTH, REL, decoys=PAIRS) for v in draws]
    mean = {k: np.mean([r[k] for r in m]) for k in m[0]}
    d, r = TRUTH.size, REL.sum()
    disc = 1 / np.log2(np.arange(2, d + 2))
    assert mean["irrelevant_share"] == pytest.approx((d - r) / d, abs=0.01)     # exchangeable: (d - r) / d
    assert mean["decoy_share"] == pytest.approx(0.5, abs=0.01)                 # symmetric
    assert mean["relevant_spearman"] == pytest.approx(0.0, abs=0.03)
    assert mean["ndcg"] == pytest.approx(TRUTH.sum() * disc.mean() / (np.sort(TRUTH)[::-1] @ disc), abs=0.01)
    assert mean["importance_tv"] == pytest.approx(_expected_tv_dirichlet(TRUTH / TRUTH.sum()), abs=0.01)


def test_weak_variables_are_their_own_tier():
    truth = np.array([0.5, 0.3, 1e-4, 2e-4, 0.0])
    rel = truth > 0
    weak = np.array([False, False, True, True, False])
    a = score([0.5, 0.3, 0.01, 0.02, 0.0], truth, rel, weak=weak).metrics
    b = score([0.5, 0.3, 0.02, 0.01, 0.0], truth, rel, weak=weak).metrics
    assert a["spearman"] == pytest.approx(b["spearman"])        # the order within the weak tier is noise
    untiered = score([0.5, 0.3, 0.02, 0.01, 0.0], truth, rel).metrics
    assert untiered["spearman"] < b["spearman"]                 # without the tier it is penalised
    assert a["topk_recall"] == 1.0 and a["auroc"] == 1.0        # k = 2 strong; weak left out
    # a weak variable above a strong one still costs rank correlation
    c = score([0.01, 0.3, 0.5, 0.02, 0.0], truth, rel, weak=weak).metrics
    assert c["spearman"] < a["spearman"]


def test_estimand_scores_square_local_aggregates():
    truth = np.array([16.0, 9.0, 4.0, 1.0, 0.0])
    e = estimand_scores(np.sqrt(truth) * 0.8, truth, squared=True)    # mean |phi| = sd x sqrt(2 / pi)
    assert e["estimand_tv"] == pytest.approx(0.0, abs=1e-12) and e["estimand_spearman"] == pytest.approx(1.0)
    assert estimand_scores(np.sqrt(truth), truth, squared=False)["estimand_tv"] > 0.1
