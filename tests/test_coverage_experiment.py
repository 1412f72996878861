"""The coverage experiment's machinery (experiments/coverage/run.py): each method's population value
against an independent Monte Carlo of its definition, the summary on a hand-built table, and a
two-draw run through varbench.importance."""
import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PATH = Path(__file__).resolve().parents[1] / "experiments" / "coverage" / "run.py"
spec = importlib.util.spec_from_file_location("coverage_run", PATH)
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)

N_MC = 400_000


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_MC, run.W.size)) @ np.linalg.cholesky(run.SIGMA).T
    return X, X @ run.W, rng


def test_loss_based_population_values_match_a_monte_carlo(sample):
    X, f, rng = sample
    pop = run.population()
    prec = np.linalg.inv(run.SIGMA)
    for j in range(run.W.size):
        # permutation: replace x_j by an independent draw of it; the noise cancels in expectation
        Xp = X.copy()
        Xp[:, j] = rng.permutation(X[:, j])
        assert np.mean((Xp @ run.W - f) ** 2) == pytest.approx(pop["permutation"][j], rel=0.02, abs=1e-9)
        # conditional: x_j redrawn from N(E[x_j | x_-j], 1 / prec_jj)
        Xc = X.copy()
        mean = -(X @ prec[j] - prec[j, j] * X[:, j]) / prec[j, j]
        Xc[:, j] = mean + rng.standard_normal(len(X)) / np.sqrt(prec[j, j])
        assert np.mean((Xc @ run.W - f) ** 2) == pytest.approx(pop["conditional_permutation"][j], rel=0.02, abs=1e-9)
    # kernel_shap: mean |w_j x_j| (interventional Shapley value of a linear f, background mean 0)
    assert np.abs(X * run.W).mean(axis=0) == pytest.approx(pop["kernel_shap"], rel=0.01, abs=1e-9)


def test_sobol_and_sage_population_values_match_their_definitions(sample):
    X, f, _ = sample
    pop = run.population()
    # total Sobol index under independent marginals: shuffle every column independently
    Xi = np.column_stack([np.random.default_rng(j).permutation(X[:, j]) for j in range(X.shape[1])])
    total_var = np.var(Xi @ run.W)
    assert (X.var(axis=0) * run.W ** 2 / total_var) == pytest.approx(pop["sobol_total"], abs=0.01)
    # SAGE: v(S) = loss(empty) - loss(S), absent features imputed by their mean (0); Shapley by enumeration
    d = run.W.size

    Xs, fs = X[:100_000], f[:100_000]
    value = {}
    for k in range(d + 1):
        for S in itertools.combinations(range(d), k):
            rest = [i for i in range(d) if i not in S]
            value[S] = np.mean(fs ** 2) - np.mean((Xs[:, rest] @ run.W[rest]) ** 2)

    def v(S):
        return value[tuple(sorted(S))]

    phi = np.zeros(d)
    for j in range(d):
        others = [k for k in range(d) if k != j]
        for k in range(d):
            for S in itertools.combinations(others, k):
                wgt = math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d)
                phi[j] += wgt * (v(S + (j,)) - v(S))
    assert phi == pytest.approx(pop["sage"], rel=0.02, abs=0.01)


def test_draws_are_seeded_and_follow_the_design():
    a, b = run.draw(3, 50, 20), run.draw(3, 50, 20)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    X = run.draw(1, 100_000, 10)[0]
    assert np.cov(X.T) == pytest.approx(run.SIGMA, abs=0.02)


def test_summary_counts_coverage_per_method_with_draws_as_units():
    rows = pd.DataFrame({
        "draw": [0, 0, 1, 1, 2, 2, 3, 3], "method": "m", "variable": [0, 1] * 4,
        "relevant": [True, False] * 4, "estimate": [1.1, 0, 0.9, 0, 1.2, 0, 1.0, 0],
        "ci_low": [1.0, 0, 0.8, 0, 1.1, 0, 0.5, 0], "ci_high": [1.2, 0, 1.1, 0, 1.3, 0, 1.5, 0],
        "population": [1.0, 0.0] * 4, "covered": [1, 1, 1, 1, 0, 1, 1, 1]})
    s = run.summarize(rows).iloc[0]
    assert s["coverage_relevant"] == pytest.approx(0.75) and s["coverage_irrelevant"] == 1.0
    assert s["lo_relevant"] < 0.75 < s["hi_relevant"] <= 1 and s["draws"] == 4
    assert s["mean_width_relevant"] == pytest.approx(np.mean([0.2, 0.3, 0.2, 1.0]))
    assert s["relative_bias_relevant"] == pytest.approx(np.mean([0.1, -0.1, 0.2, 0.0]))


def test_two_draws_through_varbench_importance_are_reproducible():
    one = run.coverage_rows(range(2), ("permutation",), n_train=200, n_test=200)
    two = run.coverage_rows(range(2), ("permutation",), n_train=200, n_test=200)
    pd.testing.assert_frame_equal(one, two)
    assert len(one) == 2 * run.W.size and set(one["covered"].dropna()) <= {0.0, 1.0}
    rel = one[one["relevant"]]
    assert (rel["ci_low"] < rel["ci_high"]).all() and (one.loc[~one["relevant"], "estimate"].abs() < 1e-5).all()
    with pytest.raises(ValueError, match="model='nope' is invalid"):
        run.coverage_rows(range(1), ("permutation",), model="nope")
