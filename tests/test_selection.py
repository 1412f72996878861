"""Oracle tests of the selection track: BH, FDR/power, knockoffs, and the four tests on models
known exactly (least-squares refits, as in test_methods_retrain)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from exact import dataset, linear_net
from test_methods_retrain import least_squares_model  # the closed-form trainer (exact refits)
from varbench.methods.base import Selection, as_selection, benjamini_hochberg
from varbench.methods.selection import (cpi, equicorrelated_s, gaussian_knockoffs, knockoff_threshold, knockoffs,
                                        loco_test, one_sided_t, permutation_test)
from varbench.scoring.selection import fdr_power, score_selection_result


def test_benjamini_hochberg_hand_computed():
    # sorted 0.01 <= 0.025, 0.03 <= 0.05, 0.04 <= 0.075, 0.5 > 0.1: the three smallest
    np.testing.assert_array_equal(benjamini_hochberg([0.01, 0.04, 0.03, 0.5], 0.1), [1, 1, 1, 0])
    # step-up: 0.02 fails at rank 1 (0.0125) and 2 (0.025 ok) -> both rejected by the larger rank
    np.testing.assert_array_equal(benjamini_hochberg([0.02, 0.024, 0.9, 0.8], 0.05), [1, 1, 0, 0])
    assert not benjamini_hochberg([0.5, 0.6], 0.1).any()


def test_fdr_and_power_hand_computed():
    rel = np.array([1, 1, 1, 1, 0, 0], bool)
    m = fdr_power(np.array([1, 1, 0, 0, 1, 0], bool), rel)
    assert m["fdr"] == pytest.approx(1 / 3) and m["power"] == pytest.approx(0.5)
    assert fdr_power(np.zeros(6, bool), rel)["fdr"] == 0.0               # no selection, no false discovery
    weak = np.array([0, 0, 0, 1, 0, 0], bool)                            # weak: not a false discovery, not in power
    m = fdr_power(np.array([1, 0, 0, 1, 0, 0], bool), rel, weak)
    assert m["fdr"] == 0.0 and m["power"] == pytest.approx(1 / 3)


def test_selection_validation_names_the_field():
    with pytest.raises(ValueError, match="pvalues"):
        as_selection(Selection(pvalues=np.array([0.1, 2.0])), 2)
    with pytest.raises(ValueError, match="Selection"):
        as_selection(np.zeros(2), 2)


def test_one_sided_t_matches_scipy():
    D = np.random.default_rng(1).normal(0.1, 1, size=(3, 30))
    ref = [stats.ttest_1samp(r, 0, alternative="greater").pvalue for r in D]
    np.testing.assert_allclose(one_sided_t(D), ref)
    np.testing.assert_array_equal(one_sided_t(np.zeros((1, 5))), [1.0])


def test_knockoff_threshold_hand_computed():
    W = np.array([5, 4, 3, 2, -1, 1, 0.5, 6, 7, 8, 9, 10])
    # knockoff+: t = 0.5: (1 + 1) / 11; t = 1: (1 + 1) / 10; t = 2: (1 + 0) / 9 > 0.1; t = 3: 1 / 8 ... none
    assert knockoff_threshold(W, 0.1, offset=1) == np.inf
    assert knockoff_threshold(W, 0.1, offset=0) == 0.5      # 1 / 11 <= 0.1
    assert knockoff_threshold(W, 0.25, offset=1) == 0.5     # 2 / 11 <= 0.25
    # t = 1: 1 / 3; t = 2: 1 / 2; t = 2.5: 1 / 1; t = 3: 0 / 1
    assert knockoff_threshold(np.array([3, 2, -2.5, 1]), 0.1, offset=0) == 3.0


def test_gaussian_knockoffs_have_the_knockoff_covariance():
    C = np.array([[1.0, 0.9, 0.2], [0.9, 1.0, 0.1], [0.2, 0.1, 1.0]]) * 4.0
    rng = np.random.default_rng(2)
    X = rng.multivariate_normal(np.ones(3), C, size=200_000)
    s = equicorrelated_s(C)
    Xk = gaussian_knockoffs(X, np.ones(3), C, rng, s)
    G = np.cov(np.hstack([X, Xk]), rowvar=False)
    np.testing.assert_allclose(G[3:, 3:], C, atol=0.05)
    np.testing.assert_allclose(G[:3, 3:], C - np.diag(s), atol=0.05)
    assert s == pytest.approx(np.full(3, 4 * 2 * np.linalg.eigvalsh(C / 4).min() * (1 - 1e-3)))


W = np.array([2.0, -1.0, 0.5, 0.0, 0.0, 0.0])


def _data(n=1500, seed=7, rho=0.0):
    rng = np.random.default_rng(seed)
    C = np.eye(6)
    C[0, 3] = C[3, 0] = rho  # x3 is a decoy of x0
    X = rng.multivariate_normal(np.zeros(6), C, size=2 * n)
    y = X @ W + 0.5 * rng.standard_normal(2 * n)
    return dataset(X[:n], y[:n], X[n:], y[n:], importance=np.abs(W))


def test_exact_model_tests_select_exactly_the_relevant():
    data = _data()
    exact = linear_net(W)  # reads only x0..x2: irrelevant columns change no loss, p = 1
    rel = W != 0
    for fn, kw in ((permutation_test, {"n_repeats": 5, "n_rows": 500}), (cpi, {})):
        sel = as_selection(fn(exact, data, np.random.default_rng(0), **kw), 6)
        np.testing.assert_array_equal(sel.selected, rel)
        assert np.all(sel.pvalues[~rel] == 1.0) and np.all(sel.pvalues[rel] < 1e-6)


def test_permutation_test_selects_a_decoy_the_model_reads_and_cpi_does_not():
    # a model that splits x0's weight with its near-copy x3: x3 is used by the model, so the
    # marginal test flags it; conditionally on x0 it adds little, but it is used -> CPI too may.
    data = _data(rho=0.95)
    leaky = linear_net(np.array([1.5, -1.0, 0.5, 0.5, 0.0, 0.0]))
    perm = as_selection(permutation_test(leaky, data, np.random.default_rng(0), n_repeats=5, n_rows=500), 6)
    assert perm.selected[3]
    m = fdr_power(perm.selected, W != 0)
    assert m["fdr"] == pytest.approx(1 / 4) and m["power"] == 1.0


def test_loco_test_and_knockoffs_on_least_squares_refits():
    data = _data()
    model = least_squares_model(data.X_train, data.y_train)
    rel = W != 0
    loco = as_selection(loco_test(model, data, np.random.default_rng(0)), 6)
    assert loco.selected[rel].all() and loco.extras["n_refits"] == 6
    # irrelevant refits are near-identical: the per-row signs are a fair coin under H0
    assert np.all(loco.pvalues[~rel] > 1e-3)
    ko = knockoffs(model, data, np.random.default_rng(99), q=0.5, offset=0)  # not the data seed
    sel = as_selection(ko, 6)
    assert sel.selected[rel].all()                      # strong signals beat their knockoffs
    assert np.all(ko.statistic[rel] > 0)


def test_score_selection_result_logs_fdr_and_power():
    data = _data(n=200)
    metrics, tags, payload = score_selection_result(Selection(pvalues=np.array([1e-9, 1e-9, 0.5, 1e-9, 1, 1])), data)
    assert metrics["fdr"] == pytest.approx(1 / 3) and metrics["power"] == pytest.approx(2 / 3)
    assert tags["status"] == "ok" and "pvalues" in tags and payload.tolist() == [1, 1, 0, 1, 0, 0]


def test_runner_dispatches_selection_results():
    from varbench.registry import MethodMeta
    from varbench.runner import run_method

    data = _data(n=300)
    metrics, tags, payload = run_method("cpi", cpi, linear_net(W), data, 0, meta=MethodMeta(returns="selection"))
    assert tags["track"] == "selection" and tags["returns"] == "selection" and tags["status"] == "ok"
    assert metrics["fdr"] == 0.0 and metrics["power"] == 1.0 and "spearman" not in metrics
    # a Selection from a method without metadata is recognised too
    _, tags, _ = run_method("cpi", cpi, linear_net(W), data, 0)
    assert tags["track"] == "selection"


def test_selection_report_tables(tmp_path):
    import pandas as pd

    from varbench.outdir import OutDir
    from varbench.report.write import selection_report

    runs = pd.DataFrame({"dataset": ["d"] * 3, "method": ["t"] * 3, "seed": [0, 1, 2], "status": ["ok"] * 3,
                         "fdr": [0.0, 0.2, 0.1], "power": [1.0, 0.5, 0.75], "n_selected": [4, 5, 6]})
    out = tmp_path / "out"
    written = selection_report(runs, OutDir(out, "report"))
    table = pd.read_csv(out / "selection_fdr_power.csv")
    assert table.loc[0, "fdr"] == pytest.approx(0.1) and table.loc[0, "power"] == pytest.approx(0.75)
    assert table.loc[0, "n"] == 3 and (out / "selection.md") in written
    assert selection_report(runs.iloc[:0], OutDir(tmp_path / "none", "report")) == []


def test_sweep_summary_of_a_selection_only_run(tmp_path, capsys):
    """A sweep that ran only selection methods prints the selection track's table (FDR, power),
    not an empty main table."""
    from hydra import compose, initialize_config_dir

    from varbench.callbacks import print_summary
    from varbench.paths import conf_dir
    from varbench.runner import run_cell

    uri = f"sqlite:///{tmp_path}/m.db"
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["dataset=sel_independent", "methods=[cpi]", "dataset.n_samples=200",
                                           "trainer.epochs=2", "trainer.progress_every=0", "cache.dir=null",
                                           "model_truth.enabled=false", f"tracking.uri={uri}"])
    run_cell(cfg)
    print_summary(uri, "varbench", set())
    out = capsys.readouterr().out
    assert "no method runs found" not in out and "selection track: 1 run(s)" in out
    row = next(line for line in out.splitlines() if line.startswith("cpi"))
    fdr, power, runs, failed = row.split()[1:]
    assert 0 <= float(fdr) <= 1 and 0 <= float(power) <= 1 and (runs, failed) == ("1", "0")
