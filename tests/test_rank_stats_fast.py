"""The fast scoring path (scikit-learn inside `trusted_inputs`, AUROC as roc_curve + auc, Spearman
as the Pearson correlation of reused average ranks) returns exactly, bit for bit, what the plain
library calls return: `roc_auc_score`, `ndcg_score` and `scipy.stats.spearmanr`, on random cases
full of ties, constant vectors and non-finite values."""
import warnings

import numpy as np
import pytest
import sklearn
from scipy import stats
from sklearn.metrics import ndcg_score, roc_auc_score

from varbench.datasets.synthetic import friedman1
from varbench.methods.base import Attribution
from varbench.rank_stats import auroc, spearman, spearman_against
from varbench.scoring import ndcg, score_importance_result

RNG = np.random.default_rng(28)


def vectors(n_cases=300):
    """Random vectors of 2-30 values: continuous, heavily tied (few levels), signed, constant."""
    out = []
    for i in range(n_cases):
        n = int(RNG.integers(2, 31))
        kind = i % 4
        if kind == 0:
            v = RNG.random(n)
        elif kind == 1:
            v = RNG.integers(0, 3, n).astype(float)
        elif kind == 2:
            v = RNG.standard_normal(n).round(1)
        else:
            v = np.full(n, float(RNG.integers(0, 2)))
        out.append(v)
    return out


def same(x: float, y: float) -> bool:
    return (np.isnan(x) and np.isnan(y)) or x == y


def scipy_spearman(a, b):
    """The definition varbench states: scipy's spearmanr of |a| and |b|, NaN if either is constant."""
    a, b = np.abs(a), np.abs(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(a, b).statistic)


def test_spearman_equals_scipy_bit_for_bit():
    vs = vectors()
    n_defined = 0
    for a, b in zip(vs, vs[1:] + vs[:1]):
        n = min(a.size, b.size)
        a, b = a[:n], b[:n]
        expected = scipy_spearman(a, b)
        assert same(spearman(a, b), expected), (a, b)
        n_defined += np.isfinite(expected)
    assert n_defined > 100  # half the pairs have no constant vector: not all NaN == NaN


def test_spearman_against_reuses_ranks_exactly():
    for _ in range(100):
        n = int(RNG.integers(2, 15))
        a = RNG.integers(-3, 4, n).astype(float) if RNG.random() < 0.5 else RNG.standard_normal(n)
        others = [RNG.integers(0, 3, n).astype(float), RNG.random(n), np.ones(n),
                  -RNG.random(n)]
        got = spearman_against(a, others)
        assert len(got) == len(others)
        for g, b in zip(got, others):
            assert same(g, scipy_spearman(a, b))
    assert spearman_against(np.ones(4), [np.arange(4.0)]) == pytest.approx([np.nan], nan_ok=True)
    assert spearman_against(np.arange(3.0), []) == []


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::scipy.stats.ConstantInputWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_spearman_non_finite_as_scipy(bad):
    a = np.array([0.3, 0.1, bad, 0.7, 0.2])
    b = np.array([0.5, 0.2, 0.9, 0.8, 0.1])
    assert same(spearman(a, b), scipy_spearman(a, b))
    assert same(spearman(b, a), scipy_spearman(b, a))
    assert same(spearman_against(b, [a])[0], scipy_spearman(b, a))
    assert same(spearman(np.full(3, bad), np.array([1.0, 2.0, 3.0])),
                scipy_spearman(np.full(3, bad), np.array([1.0, 2.0, 3.0])))


def test_auroc_equals_roc_auc_score_bit_for_bit():
    n_compared = 0
    for scores in vectors():
        labels = RNG.random(scores.size) < 0.4
        if labels.all() or not labels.any():
            assert np.isnan(auroc(scores, labels))
            continue
        assert auroc(scores, labels) == float(roc_auc_score(labels, scores)), (scores, labels)
        n_compared += 1
    assert n_compared > 200
    scores = RNG.random(2000)  # the trainer's model quality: many rows
    labels = RNG.random(2000) < 0.3
    assert auroc(scores, labels) == float(roc_auc_score(labels, scores))
    assert np.isnan(auroc(np.array([0.1, np.nan, 0.3]), np.array([True, False, True])))


def test_ndcg_equals_ndcg_score_bit_for_bit():
    vs = vectors()
    n_compared = 0
    for imp, gain in zip(vs, vs[2:] + vs[:2]):
        n = min(imp.size, gain.size)
        imp, gain = imp[:n] * RNG.choice([-1.0, 1.0], n), np.abs(gain[:n])
        if not np.any(gain > 0):
            assert np.isnan(ndcg(imp, gain))
            continue
        assert ndcg(imp, gain) == float(ndcg_score(gain[None, :], np.abs(imp)[None, :], ignore_ties=False))
        n_compared += 1
    assert n_compared > 150


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_ndcg_non_finite_still_refused_by_scikit_learn(bad):
    imp, gain = np.array([0.3, bad, 0.1]), np.array([1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="(?i)infinity|nan"):
        ndcg(imp, gain)
    with pytest.raises(ValueError, match="(?i)infinity|nan"):
        ndcg(gain, imp)


def test_trusted_inputs_do_not_leak_into_scikit_learn_config():
    before = sklearn.get_config()
    auroc(np.array([0.2, 0.9, 0.4]), np.array([False, True, False]))
    ndcg(np.array([0.2, 0.9, 0.4]), np.array([0.0, 1.0, 0.5]))
    assert sklearn.get_config() == before


def test_score_importance_result_equals_plain_library_calls():
    """One run's scoring (d = 10, the default study's metrics) against the plain calls."""
    data = friedman1(n_samples=200)
    truth = data.truth
    for i in range(20):
        imp = RNG.integers(0, 4, 10).astype(float) if i % 2 else RNG.standard_normal(10)
        model_truths = {"model_spearman": RNG.random(10), "model_spearman_shapley": np.arange(10.0) % 3,
                        "model_spearman_sage": np.ones(10)}
        metrics, _, _ = score_importance_result(Attribution(importance=imp.copy()), data, None, model_truths)
        assert same(metrics["spearman"], scipy_spearman(imp, truth.importance))
        assert metrics["auroc"] == float(roc_auc_score(truth.relevant, np.abs(imp)))
        assert metrics["ndcg"] == float(ndcg_score(truth.importance[None, :], np.abs(imp)[None, :], ignore_ties=False))
        assert same(metrics["relevant_spearman"], scipy_spearman(imp[truth.relevant], truth.importance[truth.relevant]))
        for key, mt in model_truths.items():
            assert same(metrics[key], scipy_spearman(imp, mt))
        assert np.isnan(metrics["model_spearman_sage"])
