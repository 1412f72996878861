"""Friedman, Benjamini-Hochberg, AUROC, NDCG and average precision are delegated to scipy and
scikit-learn; these tests hold the library calls to the definitions varbench states, written here
from first principles (pair counting, enumeration of every tie-breaking order, step-up search) and
checked on inputs full of ties, where libraries' conventions differ most."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from varbench.methods.base import benjamini_hochberg
from varbench.rank_stats import average_precision
from varbench.report.stats import friedman
from varbench.scoring import auroc, ndcg

RNG = np.random.default_rng(27)
TIED = [(RNG.integers(0, 4, n).astype(float), RNG.random(n) < 0.4) for n in (2, 5, 7, 12, 30) for _ in range(8)]


def auroc_by_pairs(scores, labels):
    """Share of (relevant, irrelevant) pairs ordered correctly, a tie counting 1/2."""
    pos, neg = scores[labels], scores[~labels]
    return float(np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])))


def ndcg_by_enumeration(importance, gain):
    """NDCG averaged over every order that breaks the ties of |importance| (all equally likely)."""
    imp = np.abs(importance)
    disc = 1 / np.log2(np.arange(2, imp.size + 2))
    ideal = np.sort(gain)[::-1] @ disc
    levels = sorted(set(imp), reverse=True)
    groups = [np.flatnonzero(imp == v) for v in levels]
    dcgs = [gain[np.concatenate(order)] @ disc
            for order in itertools.product(*(itertools.permutations(g) for g in groups))]
    return float(np.mean(dcgs) / ideal)


def ap_by_definition(scores, labels):
    """sum over the distinct score levels, highest first, of (recall gain) x (precision at that level)."""
    total, tp, seen = 0.0, 0, 0
    for v in sorted(set(scores), reverse=True):
        at = scores == v
        tp, seen = tp + int(labels[at].sum()), seen + int(at.sum())
        total += labels[at].sum() / labels.sum() * tp / seen
    return total


def bh_by_step_up(p, q):
    """Reject the k smallest p-values, k the largest i with p_(i) <= q i / m."""
    m = len(p)
    ks = [i for i in range(1, m + 1) if sorted(p)[i - 1] <= q * i / m]
    cut = sorted(p)[max(ks) - 1] if ks else -1.0
    return np.array([x <= cut for x in p])


def friedman_by_formula(S):
    """Tie-corrected Friedman chi-square from within-block average ranks (Conover's form)."""
    n, k = S.shape
    R = np.array([[np.mean([1 + np.sum(row < x), np.sum(row <= x)]) for x in row] for row in S])
    t = np.concatenate([np.unique(row, return_counts=True)[1] for row in S])  # tie-group sizes
    ties = np.sum(t ** 3 - t)
    c = 1 - ties / (n * k * (k * k - 1))
    if c == 0:
        return float("nan")
    return (12 / (n * k * (k + 1)) * np.sum(R.sum(axis=0) ** 2) - 3 * n * (k + 1)) / c


def test_auroc_is_the_tie_aware_mann_whitney_share():
    checked = 0
    for scores, labels in TIED:
        if labels.all() or not labels.any():
            assert math.isnan(auroc(scores, labels))
            continue
        assert auroc(scores, labels) == pytest.approx(auroc_by_pairs(scores, labels), abs=1e-12)
        checked += 1
    assert checked > 20
    assert math.isnan(auroc(np.array([0.1, np.nan, 0.3]), np.array([True, False, False])))  # no guess on NaN


def test_ndcg_counts_ties_at_their_expected_discount():
    checked = 0
    for scores, labels in TIED:
        if scores.size > 7:
            continue
        gain = labels * RNG.integers(1, 4, scores.size)  # graded truth, irrelevant at 0
        signed = scores * RNG.choice([-1, 1], scores.size)  # |importance| is what counts
        if gain.sum() == 0:
            assert math.isnan(ndcg(signed, gain))
            continue
        assert ndcg(signed, gain) == pytest.approx(ndcg_by_enumeration(signed, gain), abs=1e-12)
        checked += 1
    assert checked > 10
    assert ndcg([5.0], [2.0]) == 1.0  # one variable: its only order is the ideal one


def test_average_precision_enters_a_tied_group_at_once():
    checked = 0
    for scores, labels in TIED:
        if not labels.any():
            assert math.isnan(average_precision(scores, labels))
            continue
        assert average_precision(scores, labels) == pytest.approx(ap_by_definition(scores, labels), abs=1e-12)
        checked += 1
    assert checked > 20


def test_benjamini_hochberg_is_the_step_up_procedure():
    for m in (1, 2, 5, 20, 60):
        for _ in range(20):
            p = np.round(RNG.random(m) ** 3, 3)  # rounded: ties among p-values
            q = float(RNG.choice([0.05, 0.1, 0.2]))
            np.testing.assert_array_equal(benjamini_hochberg(p, q), bh_by_step_up(list(p), q))
    assert benjamini_hochberg(np.array([]), 0.1).shape == (0,)
    with pytest.raises(ValueError, match="q=1.5 is invalid"):
        benjamini_hochberg([0.1], 1.5)


def test_friedman_matches_the_tie_corrected_formula_for_every_k():
    for n, k in ((3, 2), (6, 2), (5, 3), (8, 4), (12, 6)):
        for _ in range(5):
            S = RNG.integers(0, 3, size=(n, k)).astype(float)
            chi2, p = friedman(S)
            ref = friedman_by_formula(S)
            if not np.isfinite(ref):  # every block all tied
                assert math.isnan(chi2) and math.isnan(p)
                continue
            assert chi2 == pytest.approx(ref, rel=1e-10, abs=1e-12)
            assert p == pytest.approx(stats.chi2.sf(ref, k - 1), rel=1e-10)
    # k = 2: the sign test's chi-square, (wins - losses)^2 / (wins + losses), ties dropped
    S = np.array([[2.0, 1.0]] * 5 + [[1.0, 2.0]] + [[1.0, 1.0]] * 3)
    assert friedman(S)[0] == pytest.approx((5 - 1) ** 2 / 6)
    assert all(math.isnan(v) for v in friedman(np.ones((4, 2))))
