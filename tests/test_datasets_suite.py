"""Ground-truth dataset suite: every truth is re-derived here INDEPENDENTLY of the generator.

Oracles: the documented data-generating formula re-implemented in this file (and checked
against the generated y with noise=0), scikit-learn's make_friedman2/3 for the Friedman
functions, least squares on noiseless data for linear coefficients, Monte Carlo variance
decompositions and Jansen/Saltelli Sobol estimators for variance-based truths, and brute-force
interventional Shapley values (all 2^d coalitions over a background sample) for local truth.
"""
from __future__ import annotations

from math import factorial
from pathlib import Path

import numpy as np
import pytest

from varbench.datasets.additive import nonlinear_additive
from varbench.datasets.base import Dataset
from varbench.datasets.correlated import correlated_linear, redundant
from varbench.datasets.scales import mixed_scales
from varbench.datasets.semisynthetic import semisynthetic
from varbench.datasets.sensitivity import (ishigami, ishigami_function, ishigami_indices, sobol_g,
                                           sobol_g_function, sobol_g_indices)
from varbench.datasets.synthetic import (friedman2, friedman2_function, friedman3,
                                         friedman3_function)

CONF = Path(__file__).resolve().parents[1] / "conf" / "dataset"


# ---------------------------------------------------------------- independent estimators

def sobol_mc(f, sample, d: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Saltelli (2010) first-order and Jansen (1999) total indices of f with inputs drawn by
    sample(rng, n) -> (n, d); returns (first, total, Var f)."""
    rng = np.random.default_rng(seed)
    A, B = sample(rng, n), sample(rng, n)
    fA, fB = f(A), f(B)
    var = np.var(np.concatenate([fA, fB]))
    first, total = np.zeros(d), np.zeros(d)
    for j in range(d):
        ABj = A.copy()
        ABj[:, j] = B[:, j]
        fABj = f(ABj)
        first[j] = np.mean(fB * (fABj - fA)) / var
        total[j] = 0.5 * np.mean((fA - fABj) ** 2) / var
    return first, total, var


def brute_shapley(f, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Interventional Shapley values of f at row x by enumerating all 2^d coalitions:
    v(S) = mean_b f(x_S, b_~S) over the background rows."""
    d = x.size
    masks = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(bool)  # (2^d, d)
    Z = np.where(masks[:, None, :], x[None, None, :], background[None, :, :])
    v = f(Z.reshape(-1, d)).reshape(2**d, -1).mean(axis=1)
    size = masks.sum(axis=1)
    phi = np.zeros(d)
    for j in range(d):
        without = ~masks[:, j]
        w = np.array([factorial(s) * factorial(d - s - 1) / factorial(d) for s in size[without]])
        idx = np.flatnonzero(without)
        phi[j] = np.sum(w * (v[idx | (1 << j)] - v[idx]))
    return phi


def check_local(ds: Dataset, f, background: np.ndarray, atol: float, rows: int = 3) -> None:
    for x in ds.X_test[:rows].astype(float):
        np.testing.assert_allclose(ds.truth.local(x[None, :])[0], brute_shapley(f, x, background),
                                   atol=atol)


def all_X(ds: Dataset) -> np.ndarray:
    return np.vstack([ds.X_train, ds.X_test]).astype(float)


def all_y(ds: Dataset) -> np.ndarray:
    return np.concatenate([ds.y_train, ds.y_test]).astype(float)


# ---------------------------------------------------------------- correlated / redundant

@pytest.mark.parametrize("structure, rho", [("toeplitz", 0.8), ("block", 0.9), ("toeplitz", -0.5)])
def test_correlated_linear_truth_is_what_the_function_uses(structure, rho):
    ds = correlated_linear(n_samples=20000, n_features=10, n_relevant=4, rho=rho, structure=structure,
                           block_size=2, noise=0.0, seed=1)
    X, y = all_X(ds), all_y(ds)
    # documented default: coefficients 2.0 .. 0.5 at spread positions (i * 10) // 4 = 0, 2, 5, 7
    w_doc = np.zeros(10)
    w_doc[[0, 2, 5, 7]] = [2.0, 1.5, 1.0, 0.5]
    w_hat = np.linalg.lstsq(X, y, rcond=None)[0]  # noiseless: the function itself
    np.testing.assert_allclose(w_hat, w_doc, atol=1e-3)
    np.testing.assert_allclose(ds.truth.importance, np.abs(w_hat) * X.std(axis=0), rtol=0.03, atol=1e-3)
    assert list(np.flatnonzero(ds.truth.relevant)) == [0, 2, 5, 7]
    i = np.arange(10)
    C = rho ** np.abs(i[:, None] - i[None, :]) if structure == "toeplitz" else \
        np.where(i[:, None] // 2 == i[None, :] // 2, rho, 0.0) + (1 - rho) * np.eye(10)
    np.testing.assert_allclose(np.corrcoef(X.T), C, atol=0.03)
    # the decoys really fool marginal methods: x1 predicts y although its truth is 0
    assert ds.truth.importance[1] == 0 and abs(np.corrcoef(X[:, 1], y)[0, 1]) > 0.3


def test_correlated_linear_local_truth_is_interventional_shapley():
    ds = correlated_linear(n_samples=4000, n_features=6, n_relevant=3, rho=0.7, noise=0.0, seed=2)
    X, y = all_X(ds), all_y(ds)
    w_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    # interventional Shapley of a linear function over a background of data rows; background
    # mean is ~N(0, 1/sqrt(m)) away from the population mean 0 the truth uses
    check_local(ds, lambda Z: Z @ w_hat, X[:3000], atol=0.1)


def test_redundant_copies_get_zero_truth():
    ds = redundant(n_samples=20000, n_features=8, n_relevant=3, n_copies=1, copy_noise=0.1, noise=0.0, seed=3)
    X, y = all_X(ds), all_y(ds)
    assert ds.feature_names[:6] == ["x0", "x0_copy1", "x1", "x1_copy1", "x2", "x2_copy1"]
    w_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(w_hat, [2.0, 0, 1.25, 0, 0.5, 0, 0, 0], atol=1e-3)
    np.testing.assert_allclose(ds.truth.importance, np.abs(w_hat) * X.std(axis=0), rtol=0.03, atol=1e-3)
    for src in (0, 2, 4):  # a copy is an almost perfect substitute for its source
        assert np.corrcoef(X[:, src], X[:, src + 1])[0, 1] == pytest.approx(1 / np.sqrt(1.01), abs=0.005)
    assert np.all(ds.truth.importance[[1, 3, 5, 6, 7]] == 0)


# ---------------------------------------------------------------- nonlinear additive

def additive_terms(X: np.ndarray) -> np.ndarray:
    """The documented default components, written out: (n, 4)."""
    return np.column_stack([2.0 * np.sin(np.pi * X[:, 0]), 3.0 * X[:, 1] ** 2, 2.0 * np.abs(X[:, 2]),
                            0.8 * (X[:, 3] > 0)])


def test_nonlinear_additive_truth_matches_monte_carlo():
    ds = nonlinear_additive(n_samples=500, n_features=6, noise=0.0, seed=4)
    np.testing.assert_allclose(all_y(ds), additive_terms(all_X(ds)).sum(axis=1), rtol=1e-5, atol=1e-5)
    U = np.random.default_rng(40).uniform(-1, 1, size=(1_000_000, 4))
    T = additive_terms(U)
    share = T.var(axis=0) / T.sum(axis=1).var()
    np.testing.assert_allclose(ds.truth.importance[:4], share, atol=0.004)
    assert np.all(ds.truth.importance[4:] == 0)
    # additive: first-order = total Sobol index = variance share (Jansen/Saltelli, independent)
    first, total, _ = sobol_mc(lambda Z: additive_terms(Z).sum(axis=1),
                               lambda r, n: r.uniform(-1, 1, size=(n, 4)), 4, 200_000, seed=41)
    np.testing.assert_allclose(total, ds.truth.importance[:4], atol=0.01)
    np.testing.assert_allclose(first, ds.truth.importance[:4], atol=0.02)


def test_nonlinear_additive_local_truth_is_interventional_shapley():
    ds = nonlinear_additive(n_samples=500, n_features=5, noise=0.0, seed=5)
    background = np.random.default_rng(50).uniform(-1, 1, size=(20000, 5))
    check_local(ds, lambda Z: additive_terms(Z).sum(axis=1), background, atol=0.05)


# ---------------------------------------------------------------- Friedman #2 / #3

@pytest.mark.parametrize("gen, fn, ref", [(friedman2, friedman2_function, "make_friedman2"),
                                         (friedman3, friedman3_function, "make_friedman3")])
def test_friedman23_follow_sklearn_and_total_indices_match_jansen(gen, fn, ref):
    from sklearn import datasets as skd

    Xs, ys = getattr(skd, ref)(n_samples=500, noise=0.0, random_state=0)
    np.testing.assert_allclose(fn(Xs), ys, rtol=1e-12)  # same function as scikit-learn
    ds = gen(n_samples=2000, n_features=6, noise=0.0, seed=6)
    X = all_X(ds)
    lo, hi = np.array([0, 40 * np.pi, 0, 1]), np.array([100, 560 * np.pi, 1, 11])
    assert np.all(X[:, :4] >= lo - 1e-3) and np.all(X[:, :4] <= hi + 1e-3)
    assert np.all((X[:, 4:] >= 0) & (X[:, 4:] <= 1))
    np.testing.assert_allclose(all_y(ds), fn(X), rtol=1e-5, atol=1e-5)
    _, total, _ = sobol_mc(fn, lambda r, n: lo + (hi - lo) * r.uniform(size=(n, 4)), 4, 300_000, seed=60)
    np.testing.assert_allclose(ds.truth.importance[:4], total, atol=0.01)
    assert np.all(ds.truth.importance[4:] == 0) and ds.truth.relevant[:4].all()
    # unit_inputs: same draws reported as (x - low) / (high - low); y and truth unchanged
    du = gen(n_samples=2000, n_features=6, noise=0.0, seed=6, unit_inputs=True)
    np.testing.assert_allclose(du.X_train[:, :4], (ds.X_train[:, :4] - lo) / (hi - lo), atol=1e-5)
    np.testing.assert_array_equal(du.y_train, ds.y_train)
    np.testing.assert_array_equal(du.truth.importance, ds.truth.importance)


# ---------------------------------------------------------------- Ishigami / Sobol G

def ishigami_doc(X: np.ndarray) -> np.ndarray:
    return np.sin(X[:, 0]) + 7 * np.sin(X[:, 1]) ** 2 + 0.1 * X[:, 2] ** 4 * np.sin(X[:, 0])


def test_ishigami_indices_are_the_published_values_and_match_monte_carlo():
    idx = ishigami_indices(7.0, 0.1)
    np.testing.assert_allclose(idx.first, [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(idx.total, [0.5576, 0.4424, 0.2437], atol=1e-4)
    first, total, var = sobol_mc(ishigami_doc, lambda r, n: r.uniform(-np.pi, np.pi, size=(n, 3)), 3,
                                 300_000, seed=7)
    np.testing.assert_allclose(first, idx.first, atol=0.02)
    np.testing.assert_allclose(total, idx.total, atol=0.02)
    ds = ishigami(n_samples=500, n_features=5, noise=0.0, seed=7)
    np.testing.assert_allclose(all_y(ds), ishigami_doc(all_X(ds)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ds.truth.importance, [*idx.total, 0, 0])
    np.testing.assert_allclose(ds.truth.interactions[0, 2], idx.total[2])  # S13 = ST3 = 0.2437
    assert "0.3139" in ds.truth.definition and "0.4424" in ds.truth.definition


def test_ishigami_local_truth_is_interventional_shapley():
    ds = ishigami(n_samples=200, n_features=4, noise=0.0, seed=8)
    background = np.random.default_rng(80).uniform(-np.pi, np.pi, size=(40000, 4))
    # background-mean error of b x2^4 sin(x0)/2 and a sin^2(x1): sd ~ 3 / sqrt(40000)
    check_local(ds, ishigami_doc, background, atol=0.08)
    phi = ds.truth.local(all_X(ds))
    np.testing.assert_allclose(phi.sum(axis=1), ishigami_doc(all_X(ds)) - 3.5, atol=1e-9)  # efficiency


def test_sobol_g_indices_match_monte_carlo():
    a = np.array([0.0, 1.0, 4.5, 9.0, 99.0])

    def g(X):  # written out from the definition
        return np.prod((np.abs(4 * X[:, :5] - 2) + a) / (1 + a), axis=1)

    ds = sobol_g(n_samples=500, n_features=7, a=list(a), noise=0.0, seed=9)
    np.testing.assert_allclose(all_y(ds), g(all_X(ds)), rtol=1e-4)
    first, total, var = sobol_mc(g, lambda r, n: r.uniform(size=(n, 5)), 5, 300_000, seed=90)
    np.testing.assert_allclose(ds.truth.importance[:5], total, atol=0.01)
    np.testing.assert_allclose(sobol_g_indices(a).first, first, atol=0.015)
    assert np.all(ds.truth.importance[5:] == 0) and ds.truth.relevant[:5].all()
    # second-order index of (x0, x1): closed index of the pair minus both first-order ones
    rng = np.random.default_rng(91)
    A, B = rng.uniform(size=(300_000, 5)), rng.uniform(size=(300_000, 5))
    AB = A.copy()
    AB[:, :2] = B[:, :2]
    s01 = np.mean(g(B) * (g(AB) - g(A))) / var - first[0] - first[1]
    assert ds.truth.interactions[0, 1] == pytest.approx(s01, abs=0.015)


def test_pure_functions_also_run_as_keras_models():
    import keras

    from exact import function_net

    X = np.random.default_rng(10).uniform(0, 1, size=(64, 8)).astype(np.float32)
    m = function_net(lambda x: ishigami_function(x, xp=keras.ops), 8)
    np.testing.assert_allclose(m.predict(X), ishigami_doc(X.astype(float)), rtol=1e-4, atol=1e-4)
    g = function_net(lambda x: sobol_g_function(x, xp=keras.ops), 8)
    np.testing.assert_allclose(g.predict(X), sobol_g_function(X.astype(float)), rtol=1e-4)


# ---------------------------------------------------------------- semi-synthetic

def standardised(source: str) -> np.ndarray:
    from sklearn import datasets as skd

    X = getattr(skd, f"load_{source}")().data.astype(float)
    return (X - X.mean(axis=0)) / X.std(axis=0)


def test_semisynthetic_planted_truth_on_real_features():
    Z = standardised("diabetes")  # columns: age sex bmi bp s1 s2 s3 s4 s5 s6

    def f(X):  # documented: w_0 g(z_0) + sum w_j z_j, planted = [bmi, s5, age]
        return 1.0 * X[:, 2] ** 2 - 2.0 * X[:, 8] + 0.5 * X[:, 0]

    ds = semisynthetic(source="diabetes", relevant=["bmi", "s5", 0], coefficients=[1.0, -2.0, 0.5],
                       nonlinearity="square", n_samples=300, noise=0.0, seed=11)
    X = all_X(ds)
    # rows are real, distinct rows of the standardised matrix
    dist = np.abs(X[:, None, :] - Z[None, :, :]).max(axis=2)
    assert np.all(dist.min(axis=1) < 1e-5) and len(set(dist.argmin(axis=1))) == 300
    np.testing.assert_allclose(all_y(ds), f(X), rtol=1e-5, atol=1e-5)
    expected = np.zeros(10)
    expected[[2, 8, 0]] = [np.std(Z[:, 2] ** 2), 2.0, 0.5]
    np.testing.assert_allclose(ds.truth.importance, expected, rtol=1e-9)
    # s5 is strongly correlated with unplanted s4 (real structure), whose truth is 0
    assert abs(np.corrcoef(Z[:, 8], Z[:, 7])[0, 1]) > 0.6 and ds.truth.importance[7] == 0
    # local truth: brute-force interventional Shapley over ALL rows (the population) is exact
    check_local(ds, f, Z, atol=1e-6, rows=2)


def test_semisynthetic_random_planting_follows_seed():
    a = semisynthetic(source="wine", n_relevant=3, seed=1)
    b = semisynthetic(source="wine", n_relevant=3, seed=2)
    assert a.truth.n_relevant == b.truth.n_relevant == 3
    sets = {tuple(np.flatnonzero(semisynthetic(source="wine", n_relevant=3, seed=s).truth.relevant))
            for s in range(6)}
    assert len(sets) > 1
    np.testing.assert_allclose(np.sort(a.truth.importance[a.truth.relevant]), [0.5, 1.25, 2.0])


# ---------------------------------------------------------------- scales / heavy tails

def test_mixed_scales_truth_is_scale_free_variance_share():
    ds = mixed_scales(n_samples=200_000, n_features=8, distribution="student_t", df=5.0, noise=0.0, seed=12)
    X, y = all_X(ds), all_y(ds)
    np.testing.assert_allclose(X.std(axis=0), 10.0 ** np.linspace(2, -2, 8), rtol=0.05)
    w_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    share = (w_hat * X).var(axis=0) / y.var()
    np.testing.assert_allclose(ds.truth.importance, share, atol=0.02)
    e = np.array([2.0, 0, 1.5, 0, 1.0, 0, 0.5, 0])
    np.testing.assert_allclose(ds.truth.importance, e**2 / np.sum(e**2))
    rel = ds.truth.relevant
    # the trap: raw coefficients rank the relevant features exactly backwards
    assert list(np.argsort(-np.abs(w_hat[rel]))) == [3, 2, 1, 0]
    # heavy tails: excess kurtosis of t(5) is 6
    z = X[:, 0] / X[:, 0].std()
    assert np.mean(z**4) - 3 > 3


def test_mixed_scales_truth_and_target_do_not_depend_on_scales():
    a = mixed_scales(n_samples=500, scales=[1.0] * 8, noise=0.0, seed=13)
    b = mixed_scales(n_samples=500, scales=[0.01, 1, 100, 5, 0.2, 3, 7, 1e3], noise=0.0, seed=13)
    np.testing.assert_allclose(a.y_train, b.y_train, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a.truth.importance, b.truth.importance)
    np.testing.assert_allclose(b.X_train / a.X_train, np.broadcast_to([0.01, 1, 100, 5, 0.2, 3, 7, 1e3],
                                                                      a.X_train.shape), rtol=1e-4)


# ---------------------------------------------------------------- determinism and validation

GENERATORS = [
    (correlated_linear, {}), (correlated_linear, {"structure": "block"}), (redundant, {}),
    (nonlinear_additive, {}), (friedman2, {}), (friedman3, {}), (ishigami, {}), (sobol_g, {}),
    (mixed_scales, {}), (mixed_scales, {"distribution": "student_t"}),
    (semisynthetic, {"nonlinearity": "sin"}),
    (ishigami, {"task": "classification"}), (semisynthetic, {"source": "breast_cancer",
                                                             "task": "classification"}),
]


@pytest.mark.parametrize("gen, kw", GENERATORS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_same_seed_same_arrays(gen, kw):
    a, b, c = (gen(n_samples=100, seed=s, **kw) for s in (5, 5, 6))
    for name in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.truth.importance, b.truth.importance)
    assert not np.array_equal(a.X_train, c.X_train)
    if kw.get("task") == "classification":
        assert set(np.unique(a.y_train)) == {0.0, 1.0}


BAD = [
    (correlated_linear, {"rho": 1.0}, "rho"),
    (correlated_linear, {"rho": -0.6, "structure": "block", "block_size": 3}, "rho"),
    (correlated_linear, {"structure": "ar1"}, "structure"),
    (correlated_linear, {"n_relevant": 11}, "n_relevant"),
    (correlated_linear, {"coefficients": [1.0, 2.0]}, "coefficients"),
    (redundant, {"copy_noise": 0.0}, "copy_noise"),
    (redundant, {"n_features": 5}, "n_features"),
    (nonlinear_additive, {"kinds": ["sin", "cube"], "strengths": [1.0, 1.0]}, "kinds"),
    (nonlinear_additive, {"strengths": [1.0]}, "strengths"),
    (nonlinear_additive, {"n_features": 3}, "n_features"),
    (friedman2, {"n_features": 3}, "n_features"),
    (friedman3, {"noise": -1.0}, "noise"),
    (friedman2, {"unit_inputs": "yes"}, "unit_inputs"),
    (ishigami, {"n_features": 2}, "n_features"),
    (sobol_g, {"a": [0.0, -2.0]}, "a"),
    (sobol_g, {"n_features": 4}, "n_features"),
    (mixed_scales, {"df": 2.0, "distribution": "student_t"}, "df"),
    (mixed_scales, {"scales": [1.0] * 7 + [0.0]}, "scales"),
    (mixed_scales, {"distribution": "cauchy"}, "distribution"),
    (semisynthetic, {"source": "iris"}, "source"),
    (semisynthetic, {"source": "wine", "n_samples": 500}, "n_samples"),
    (semisynthetic, {"relevant": ["bmi", "nope"]}, "relevant"),
    (semisynthetic, {"nonlinearity": "cube"}, "nonlinearity"),
    (semisynthetic, {"task": "ranking"}, "task"),
]


@pytest.mark.parametrize("gen, kw, key", BAD, ids=[f"{g.__name__}-{k}" for g, _, k in BAD])
def test_invalid_arguments_raise_naming_the_key(gen, kw, key):
    with pytest.raises(ValueError, match=rf"dataset\.{key}=.* is invalid"):
        gen(**kw)


def _generated(path):
    """Configs that generate data (not `table`, which needs the user's file: tests/test_table.py)."""
    import yaml

    return "path" not in (yaml.safe_load(path.read_text()) or {})


@pytest.mark.parametrize("path", [p for p in sorted(CONF.glob("*.yaml")) if _generated(p)], ids=lambda p: p.stem)
def test_every_dataset_config_instantiates(path):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(path)
    kwargs = {"n_samples": 120}
    if "seed" not in cfg:
        kwargs["seed"] = 0
    ds = instantiate(cfg, **kwargs)
    assert isinstance(ds, Dataset)
    assert ds.X_train.shape[0] + ds.X_test.shape[0] == 120
    if cfg.get("n_features") is not None:
        assert ds.n_features == cfg.n_features
    assert ds.truth.importance.shape == (ds.n_variables,) and ds.truth.relevant.any()  # per variable (groups)
    assert ds.truth.definition
