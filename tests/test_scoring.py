import numpy as np
import pytest

from varbench.scoring import auroc, expected_hits_at_k, score, score_local


def test_perfect_and_reversed_rankings():
    truth = np.array([3.0, 2.0, 1.0, 0.0])
    rel = truth > 0
    s = score(truth, truth, rel)
    assert s.status == "ok"
    assert s.metrics == pytest.approx({"spearman": 1.0, "kendall": 1.0, "topk_recall": 1.0,
                                       "precision_at_k": 1.0, "auroc": 1.0})
    r = score(truth[::-1].copy(), truth, rel)
    assert r.metrics["spearman"] == pytest.approx(-1.0)
    assert r.metrics["topk_recall"] == pytest.approx(2 / 3)  # top 3 = x3, x2, x1: two relevant
    assert r.metrics["auroc"] == pytest.approx(0.0)


def test_ties_in_truth_use_average_ranks():
    # truth ranks (avg): [4, 3, 1.5, 1.5]; method ranks [4, 3, 2, 1] -> hand-computed Pearson of ranks
    truth = np.array([2.0, 1.0, 0.0, 0.0])
    imp = np.array([0.9, 0.5, 0.2, 0.1])
    a = np.array([4, 3, 1.5, 1.5]); b = np.array([4, 3, 2, 1.0])
    expected = np.corrcoef(a, b)[0, 1]
    assert score(imp, truth, truth > 0).metrics["spearman"] == pytest.approx(expected)
    # Kendall tau-b by hand: concordant 5, discordant 0, one pair tied in truth only
    # tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)) with n0 = 6, n1 = 1 (truth ties), n2 = 0
    assert score(imp, truth, truth > 0).metrics["kendall"] == pytest.approx(5 / np.sqrt(5 * 6))


def test_topk_ties_are_expected_value():
    rel = np.array([True, True, False, False])
    # all tied: expected hits at k=2 is 2 * 2/4 = 1
    assert expected_hits_at_k(np.ones(4), rel, 2) == pytest.approx(1.0)
    # x0 clearly first, then a 3-way tie for 1 slot among {x1 (rel), x2, x3}
    assert expected_hits_at_k(np.array([5, 1, 1, 1.0]), rel, 2) == pytest.approx(1 + 1 / 3)


def test_constant_importance_is_undefined_not_nan_silently():
    truth = np.array([1.0, 0.5, 0.0])
    s = score(np.zeros(3), truth, truth > 0)
    assert np.isnan(s.metrics["spearman"]) and np.isnan(s.metrics["kendall"])
    assert "importance is constant" in s.status
    assert "spearman" not in s.finite and s.metrics["auroc"] == pytest.approx(0.5)


def test_all_relevant_makes_auroc_undefined():
    s = score(np.array([3.0, 2, 1]), np.array([3.0, 2, 1]), np.ones(3, bool))
    assert np.isnan(s.metrics["auroc"]) and "auroc" in s.status


def test_signs_are_ignored_and_bad_input_rejected():
    truth = np.array([2.0, 1.0, 0.0])
    assert score(np.array([-2.0, 1.0, 0.1]), truth, truth > 0).metrics["spearman"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="NaN"):
        score(np.array([np.nan, 1, 0]), truth, truth > 0)
    with pytest.raises(ValueError, match="scoring.k=5"):
        score(truth, truth, truth > 0, k=5)


def test_score_local():
    T = np.array([[1.0, -1.0, 0.0], [0.5, 0.2, -0.3]])
    out = score_local(2 * T, T)
    assert out["local_cosine"] == pytest.approx(1.0) and out["local_spearman"] == pytest.approx(1.0)


def test_rowwise_spearman_equals_scipy_per_row():
    """Oracle: scipy.stats.spearmanr row by row, ties (rounded values) and constant rows included."""
    from scipy import stats

    from varbench.scoring import rowwise_spearman

    rng = np.random.default_rng(0)
    A, B = np.round(rng.normal(size=(60, 7)), 1), np.round(rng.normal(size=(60, 7)), 1)
    A[3], B[5] = 1.0, 2.0  # constant rows: undefined
    got = rowwise_spearman(A, B)
    want = [stats.spearmanr(a, b).statistic if np.ptp(a) and np.ptp(b) else np.nan for a, b in zip(A, B)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert np.isnan(got[3]) and np.isnan(got[5]) and np.isfinite(np.delete(got, [3, 5])).all()


def test_column_importances_summed_per_variable():
    from types import SimpleNamespace

    from varbench.methods.variables import variable_level

    variables = [("a", [0]), ("colour", [1, 2, 3]), ("z", [4])]
    grouped = SimpleNamespace(groups={"colour": [1, 2, 3]}, n_features=5, variables=variables)
    values = np.array([0.5, -1.0, 2.0, 0.25, -3.0])
    assert variable_level(values, grouped).tolist() == [0.5, 3.25, 3.0]
    assert variable_level(np.array([1.0, -2.0, 3.0]), grouped).tolist() == [1.0, -2.0, 3.0]  # already per variable
    ungrouped = SimpleNamespace(groups={}, n_features=5, variables=[(str(j), [j]) for j in range(5)])
    assert variable_level(values, ungrouped).tolist() == values.tolist()  # per column is per variable
