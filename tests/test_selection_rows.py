"""The row-level permutation test (varbench.methods.selection.permutation_row_test) against scipy's
one-sample t-test on hand-computed per-row losses, and the non-Gaussian correlated design
(varbench.datasets.correlated.copula_marginals) against scipy's distributions."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from exact import dataset, linear_net
from varbench.datasets.correlated import copula_marginals, correlated_linear
from varbench.methods.base import as_selection, sample_rows
from varbench.methods.selection import permutation_row_test

W = np.array([1.5, -1.0, 0.5, 0.0, 0.0])


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, W.size)).astype(np.float32)
    y = X @ W + 0.5 * rng.standard_normal(n)
    return dataset(X, y.astype(np.float32), importance=np.abs(W))


@pytest.mark.parametrize("n_repeats", [1, 3])
def test_pvalues_are_scipys_one_sided_t_over_rows(n_repeats):
    data = _data()
    sel = permutation_row_test(linear_net(W), data, np.random.default_rng(7), n_repeats=n_repeats, n_rows=300)
    rng = np.random.default_rng(7)                       # the same stream, consumed as the method does
    idx = sample_rows(len(data.X_test), 300, rng)
    X, y = data.X_test[idx].astype(np.float64), data.y_test[idx].astype(np.float64)
    perms = [[X[rng.permutation(len(X)), j] for j in range(W.size)] for _ in range(n_repeats)]
    full = (X @ W - y) ** 2
    for j in range(W.size):
        D = np.mean([(np.column_stack([p[j] if k == j else X[:, k] for k in range(W.size)]) @ W - y) ** 2 - full
                     for p in perms], axis=0)
        if np.any(D != 0):
            ref = stats.ttest_1samp(D, 0.0, alternative="greater").pvalue
            assert sel.pvalues[j] == pytest.approx(ref, rel=1e-3, abs=1e-12)
            assert sel.statistic[j] == pytest.approx(D.mean(), rel=1e-4)
        else:                                            # a column the model does not read
            assert sel.pvalues[j] == 1.0


def test_exact_model_selects_exactly_the_relevant_and_bad_repeats_are_refused():
    sel = as_selection(permutation_row_test(linear_net(W), _data(), np.random.default_rng(0)), W.size)
    np.testing.assert_array_equal(sel.selected, W != 0)
    with pytest.raises(ValueError, match="n_repeats=0 is invalid"):
        permutation_row_test(linear_net(W), _data(), np.random.default_rng(0), n_repeats=0)


def test_copula_marginals_are_standardised_and_keep_ranks():
    Z = np.random.default_rng(1).standard_normal((200_000, 2)) @ np.linalg.cholesky([[1, .8], [.8, 1]]).T
    logn = copula_marginals(Z, "lognormal")
    ref = stats.lognorm(s=1.0)
    assert (np.exp(Z[:, 0]) - ref.mean()) / ref.std() == pytest.approx(logn[:, 0])
    assert stats.skew(logn[:, 0]) > 3                    # lognormal(1) skewness is 6.2
    t = copula_marginals(Z, "student_t")
    assert t.std(axis=0) == pytest.approx([1, 1], abs=0.05) and stats.kurtosis(t[:, 0]) > 3
    for x in (logn, t):                                 # monotone per column: rank correlation unchanged
        assert stats.spearmanr(x[:20_000]).statistic == pytest.approx(stats.spearmanr(Z[:20_000]).statistic)
    with pytest.raises(ValueError, match="marginal='cauchy' is invalid"):
        copula_marginals(Z, "cauchy")


def test_skewed_design_keeps_truth_and_decoys_and_claims_no_gaussian_estimand():
    g = correlated_linear(n_samples=300, n_features=6, n_relevant=2, seed=3)
    s = correlated_linear(n_samples=300, n_features=6, n_relevant=2, seed=3, marginal="lognormal")
    assert np.array_equal(g.truth.importance, s.truth.importance) and g.truth.decoys == s.truth.decoys
    assert g.truth.estimands and not s.truth.estimands
    assert stats.skew(s.X_train[:, 0]) > 1 and "lognormal" in s.truth.definition
    same = correlated_linear(n_samples=300, n_features=6, n_relevant=2, seed=3, marginal="gaussian")
    assert np.array_equal(g.X_train, same.X_train)      # the default design is unchanged
    with pytest.raises(ValueError, match="marginal='skew' is invalid"):
        correlated_linear(marginal="skew")


def test_selection_full_composes_with_the_new_baseline_and_design(compose_cfg):
    from varbench.config import resolve_cell

    cfg = compose_cfg(["+experiment=selection_full", "dataset=sel_skewed", "seed=19"])
    spec = resolve_cell(cfg, check_model=False)
    assert cfg.study == "selection_full" and "permutation_row_test" in spec.methods
    assert spec.dataset.truth.relevant.sum() == 10 and stats.skew(spec.dataset.X_train[:, 0]) > 1


def test_registered_and_run_by_the_harness_as_a_selection():
    from varbench.api import method_callable
    from varbench.registry import method_info
    from varbench.runner import run_method

    meta = method_info("permutation_row_test").meta
    metrics, tags, payload = run_method("permutation_row_test", method_callable("permutation_row_test"),
                                        linear_net(W), _data(), 0, meta=meta)
    assert tags["status"] == "ok" and tags["track"] == "selection" and tags["estimand"] == "marginal"
    assert metrics["fdr"] == 0.0 and metrics["power"] == 1.0 and payload.tolist() == [1, 1, 1, 0, 0]
