"""varbench.report.stats against hand computations, statistical tables and scipy's reference tests."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from varbench.report.stats import (block_ranks, cliques, compare, friedman, holm, nemenyi_cd, nemenyi_q,
                            t_interval)

T975_DF2 = 4.302652729749464    # Student t quantile 0.975, 2 degrees of freedom (t-table)
T975_DF1 = 12.706204736174707   # ... 1 degree of freedom
# Demsar (2006), Table 5(a): two-tailed Nemenyi critical values q_0.05 for k = 2..10
DEMSAR_Q05 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]


def test_t_interval_by_hand():
    ci = t_interval([0.9, 0.8, 1.0, np.nan])          # NaN is dropped
    half = T975_DF2 * 0.1 / np.sqrt(3)                 # s = 0.1
    assert ci.n == 3 and ci.mean == pytest.approx(0.9)
    assert (ci.lo, ci.hi) == pytest.approx((0.9 - half, 0.9 + half))
    assert ci.half_width == pytest.approx(half)
    ci2 = t_interval([0.4, 0.6])
    assert (ci2.lo, ci2.hi) == pytest.approx((0.5 - T975_DF1 * 0.1, 0.5 + T975_DF1 * 0.1))
    one = t_interval([0.7])
    assert one.mean == 0.7 and one.n == 1 and np.isnan(one.lo) and np.isnan(one.hi)
    assert t_interval([]).n == 0 and np.isnan(t_interval([]).mean)
    const = t_interval([0.5, 0.5, 0.5])
    assert const.lo == const.hi == 0.5
    with pytest.raises(ValueError, match="level=1.5 is invalid"):
        t_interval([1.0, 2.0], level=1.5)


def test_block_ranks_ties_and_missing():
    S = np.array([[0.9, 0.5, 0.5, np.nan],
                  [0.1, 0.2, 0.3, 0.4]])
    R = block_ranks(S)
    np.testing.assert_array_equal(R[0, :3], [1.0, 2.5, 2.5])
    assert np.isnan(R[0, 3])
    np.testing.assert_array_equal(R[1], [4, 3, 2, 1])
    with pytest.raises(ValueError, match="expected \\(blocks, methods\\)"):
        block_ranks(np.ones(3))


def test_friedman_by_hand_and_against_scipy():
    # three blocks with the same order: rank sums 3, 6, 9 -> 12/(3*3*4)*126 - 36 = 6, p = exp(-3)
    S = np.array([[3.0, 2.0, 1.0]] * 3)
    chi2, p = friedman(S)
    assert chi2 == pytest.approx(6.0) and p == pytest.approx(np.exp(-3.0))
    rng = np.random.default_rng(0)
    for n, k in ((5, 3), (8, 4), (12, 6)):
        X = rng.integers(0, 4, size=(n, k)).astype(float)  # many ties: exercises the correction
        ref = sps.friedmanchisquare(*X.T)
        chi2, p = friedman(X)
        assert chi2 == pytest.approx(ref.statistic, rel=1e-10)
        assert p == pytest.approx(ref.pvalue, rel=1e-10)
    assert np.isnan(friedman(np.ones((4, 3)))[0])       # every block all tied: undefined
    with pytest.raises(ValueError, match="no NaN"):
        friedman(np.array([[1.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="at least 2 blocks"):
        friedman(np.ones((1, 3)))


def test_nemenyi_against_demsar_table_and_cd_formula():
    for k, q in zip(range(2, 11), DEMSAR_Q05):
        assert nemenyi_q(k) == pytest.approx(q, abs=1.5e-3)
    # CD = q_alpha * sqrt(k (k+1) / (6 N)) with k = 4, N = 4: 2.569 * sqrt(20/24)
    assert nemenyi_cd(4, 4) == pytest.approx(2.569 * np.sqrt(20 / 24), abs=1.5e-3)
    assert nemenyi_cd(5, 30) == pytest.approx(2.728 * np.sqrt(30 / 180), abs=1e-3)
    with pytest.raises(ValueError, match="k=1 is invalid"):
        nemenyi_q(1)
    with pytest.raises(ValueError, match="n_blocks=0 is invalid"):
        nemenyi_cd(3, 0)
    with pytest.raises(ValueError, match="alpha=0 is invalid"):
        nemenyi_q(3, alpha=0)


def test_holm_by_hand():
    # sorted p: .005, .01, .03, .04 -> x4, x3, x2, x1 = .02, .03, .06, .04 -> running max .06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])
    out = holm([0.02, np.nan, 0.04])            # NaN is not counted among the m tests
    np.testing.assert_allclose(out[[0, 2]], [0.04, 0.04])
    assert np.isnan(out[1])


def test_cliques_by_hand():
    r = [1.0, 1.5, 3.3, 3.5]
    assert cliques(r, 1.0) == [[0, 1], [2, 3]]
    assert cliques(r, 2.0) == [[0, 1], [1, 2, 3]]
    assert cliques(r, 0.1) == []
    assert cliques([2.0, 1.0, 3.0], 5.0) == [[1, 0, 2]]   # indices in rank order


def test_compare_two_methods_by_hand():
    # a beats b in all 6 blocks by distinct margins: exact Wilcoxon p = 2 / 2^6; Friedman
    # rank sums 6 and 12 -> 12/(6*2*3)*180 - 54 = 6; CD = 1.960 * sqrt(2*3/36)
    a = np.array([0.9, 0.8, 0.7, 0.95, 0.85, 0.75])
    b = a - np.array([0.1, 0.2, 0.3, 0.05, 0.15, 0.25])
    table = pd.DataFrame({"a": a, "b": b, "c": [np.nan, 1, 1, 1, 1, 1]}).drop(columns="c")
    comp = compare(table)
    assert comp.ok and comp.n_blocks == 6 and comp.n_dropped == 0
    assert comp.statistic == pytest.approx(6.0) and comp.pvalue == pytest.approx(sps.chi2.sf(6.0, 1))
    assert comp.cd == pytest.approx(1.960 * np.sqrt(6 / 36), abs=1e-3)
    assert comp.mean_ranks.to_dict() == {"a": 1.0, "b": 2.0}
    w = comp.wilcoxon.iloc[0]
    assert w["p"] == pytest.approx(2 / 2 ** 6) and w["p_holm"] == pytest.approx(2 / 2 ** 6)
    assert bool(w["significant"]) and w["better"] == "a" and w["mean_diff"] == pytest.approx(0.175)
    nem = comp.nemenyi.iloc[0]
    assert bool(nem["significant"]) and nem["better"] == "a"      # 1.0 > CD = 0.80
    assert comp.groups == []


def test_compare_drops_incomplete_blocks_and_refuses_too_little():
    table = pd.DataFrame({"a": [1.0, 0.9, 0.8, np.nan], "b": [0.5, 0.4, np.nan, 0.1],
                          "c": [0.0, 0.1, 0.2, 0.3]})
    comp = compare(table)
    assert comp.n_blocks == 2 and comp.n_dropped == 2
    ref = sps.friedmanchisquare([1.0, 0.9], [0.5, 0.4], [0.0, 0.1])
    assert comp.statistic == pytest.approx(ref.statistic)
    # identical columns: no differences; Wilcoxon p = 1 rather than an error
    same = compare(pd.DataFrame({"a": [0.1, 0.2, 0.3], "b": [0.1, 0.2, 0.3]}))
    assert same.wilcoxon["p"].iloc[0] == 1.0 and not same.wilcoxon["significant"].iloc[0]
    few = compare(pd.DataFrame({"a": [1.0], "b": [0.0]}))
    assert not few.ok and "2 complete cells" in few.note
