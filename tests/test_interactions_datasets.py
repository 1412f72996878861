"""Oracle tests for the interaction generators: the declared interaction pairs of every Tsang
function against a mixed finite-difference oracle, input ranges, the Monte Carlo total Sobol
helper against Ishigami's analytic indices, the Keras version of each function, the configs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from varbench.paths import conf_dir
from varbench.datasets.sensitivity import ishigami_function, ishigami_indices
from varbench.datasets.interactions import (TSANG_FUNCTIONS, TSANG_USED, mc_total_indices, sample_uniform,
                                            tsang, tsang_bounds, tsang_function, tsang_pairs,
                                            tsang_total_indices, upper_pairs)

CONF = conf_dir()
NAMES = list(TSANG_FUNCTIONS)


@pytest.mark.parametrize("name", NAMES)
def test_declared_pairs_match_mixed_differences(name):
    """f(x + h e_i + h e_j) - f(x + h e_i) - f(x + h e_j) + f(x) is identically 0 exactly when f is
    additively separable in (x_i, x_j): the declared pairs must be those where it is not."""
    low, high = tsang_bounds(name)
    h = 0.05
    rng = np.random.default_rng(0)
    X = low + (high - low - h) * rng.random((3000, 10))  # stay inside the domain after the step
    F = lambda Z: tsang_function(Z, name)  # noqa: E731
    P = tsang_pairs(name)
    iu, ju = upper_pairs(10)
    found = set()
    for i, j in zip(iu, ju):
        ei, ej = np.eye(10)[i] * h, np.eye(10)[j] * h
        mixed = np.abs(F(X + ei + ej) - F(X + ei) - F(X + ej) + F(X)).max()
        if mixed > 1e-9:
            found.add((int(i), int(j)))
    declared = {(int(i), int(j)) for i, j in zip(iu, ju) if P[i, j]}
    assert found == declared


def test_pair_counts_by_hand():
    # F1: {1,2,3} -> 3 pairs, {3,5} -> 1, {7,8,9,10} -> 6, {2,7} -> 1 (1-based)
    counts = {n: int(np.triu(tsang_pairs(n), 1).sum()) for n in NAMES}
    assert counts["F1"] == 11 and counts["F2"] == 11
    assert counts["F3"] == 3 + 6 and counts["F4"] == 4 + 6
    assert counts["F5"] == 3 + 1 + 1 + 3
    assert counts["F9"] == 10 + 1 + 3 + 1


def test_input_ranges_and_noise_features():
    ds = tsang("F1", n_samples=4000, n_features=12, seed=1)
    X = np.concatenate([ds.X_train, ds.X_test])
    lo, hi = X.min(axis=0), X.max(axis=0)
    assert np.all(lo[[3, 4, 7, 9]] >= 0.6) and np.all(lo[[0, 1, 2, 5, 6, 8]] < 0.01)
    assert np.all(hi <= 1.0) and np.all(lo >= 0.0) and X.shape[1] == 12
    ds = tsang("F7", n_samples=4000, seed=1)
    X = np.concatenate([ds.X_train, ds.X_test])
    assert np.all(X.min(axis=0) < -0.99) and np.all(X.max(axis=0) > 0.99)


def test_noiseless_target_is_the_function():
    ds = tsang("F8", n_samples=200, seed=3)
    np.testing.assert_allclose(ds.y_train, tsang_function(ds.X_train.astype(np.float64), "F8"), rtol=1e-5)


def test_mc_total_indices_recover_ishigami():
    low, high = np.full(3, -np.pi), np.full(3, np.pi)
    total, se = mc_total_indices(ishigami_function, lambda n, rng: sample_uniform(low, high, n, rng), 2**15, 7)
    np.testing.assert_allclose(total, ishigami_indices().total, atol=4 * se.max() + 1e-3)
    assert se.max() < 0.01


@pytest.mark.parametrize("name", ["F1", "F5", "F10"])
def test_truth_fields(name):
    ds = tsang(name, n_samples=300, seed=0)
    t = ds.truth
    used = np.zeros(10, bool)
    used[list(TSANG_USED[name])] = True
    np.testing.assert_array_equal(t.relevant, used)
    assert np.all(t.importance[~used] == 0) and np.all(t.importance[used] > 0)
    np.testing.assert_array_equal(t.interactions, t.interactions.T)
    assert set(np.unique(t.interactions)) <= {0.0, 1.0}
    total, se = tsang_total_indices(name)
    assert se.max() < 0.01 and total is tsang_total_indices(name)[0]  # cached


def test_keras_version_equals_numpy():
    import keras

    from exact import function_net

    rng = np.random.default_rng(0)
    for name in NAMES:
        low, high = tsang_bounds(name)
        X = sample_uniform(low, high, 64, rng).astype(np.float32)
        net = function_net(lambda x, n=name: tsang_function(x, n, xp=keras.ops), 10)
        np.testing.assert_allclose(net.predict(X), tsang_function(X.astype(np.float64), name),
                                   rtol=2e-4, atol=2e-4, err_msg=name)


def test_invalid_parameters_name_the_key():
    with pytest.raises(ValueError, match="function='F11'"):
        tsang("F11")
    with pytest.raises(ValueError, match="n_features=9"):
        tsang("F1", n_features=9)
    with pytest.raises(ValueError, match="noise=-1"):
        tsang("F2", noise=-1)
    with pytest.raises(ValueError, match="function='F0'"):
        tsang_bounds("F0")


def test_dataset_configs_instantiate():
    from hydra.utils import instantiate

    for path in sorted((CONF / "dataset").glob("tsang_f*.yaml")) + [CONF / "dataset" / "inter_additive.yaml"]:
        cfg = OmegaConf.load(path)
        cfg.n_samples = 100
        ds = instantiate(cfg)
        assert ds.truth.interactions is not None and ds.n_features == 10, path.name
    assert len(list((CONF / "dataset").glob("tsang_f*.yaml"))) == 10
    additive = instantiate(OmegaConf.load(CONF / "dataset" / "inter_additive.yaml"), n_samples=100)
    assert not additive.truth.interactions.any()
