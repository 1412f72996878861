"""Tests for the Olden, Joy & Death (2004)-style generator: the sampled correlation structure is
the prescribed one, the truth is the paper's ranking, invalid structures are refused.

Oracles: the target correlation matrix itself (sample correlations of 200k rows), and ordinary
least squares on a large sample for the population regression coefficients."""
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from varbench.paths import conf_dir
from varbench.datasets.olden import OLDEN2004_CORRELATIONS, correlation_matrix, olden2004, regression_coefficients

CONF = conf_dir()
PAPER_LIKE = (0.8, 0.6, 0.4, 0.2, 0.0)  # needs correlated predictors to be a valid correlation matrix


def _joint(data):
    X = np.vstack([data.X_train, data.X_test]).astype(np.float64)
    y = np.concatenate([data.y_train, data.y_test]).astype(np.float64)
    return np.column_stack([y, X])


@pytest.mark.parametrize("r, c", [(OLDEN2004_CORRELATIONS, 0.0), (PAPER_LIKE, 0.2)])
def test_generated_correlation_structure_is_the_prescribed_one(r, c):
    data = olden2004(n_samples=200_000, response_correlations=r, predictor_correlation=c, seed=1)
    sample = np.corrcoef(_joint(data), rowvar=False)
    np.testing.assert_allclose(sample, correlation_matrix(r, c), atol=0.01)
    Z = _joint(data)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, atol=0.01)


def test_default_design_and_truth():
    data = olden2004(seed=0)
    assert data.X_train.shape == (50, 5) and data.X_test.shape == (50, 5)
    assert data.task == "regression" and data.name == "olden2004"
    np.testing.assert_allclose(data.truth.importance, [0.6, 0.45, 0.3, 0.15, 0.0])
    assert list(np.argsort(-data.truth.importance)) == [0, 1, 2, 3, 4]  # x1 > x2 > ... > x5
    assert list(data.truth.relevant) == [True, True, True, True, False]
    C = correlation_matrix(OLDEN2004_CORRELATIONS)
    np.testing.assert_allclose(C[1:, 1:], np.eye(5))  # independent predictors
    assert float(C[0, 1:] @ C[0, 1:]) == pytest.approx(0.675)  # population R^2


def test_regression_coefficients_match_least_squares_on_a_large_sample():
    np.testing.assert_allclose(regression_coefficients(OLDEN2004_CORRELATIONS), OLDEN2004_CORRELATIONS)
    data = olden2004(n_samples=200_000, response_correlations=PAPER_LIKE, predictor_correlation=0.2, seed=2)
    Z = _joint(data)
    ols = np.linalg.lstsq(Z[:, 1:], Z[:, 0], rcond=None)[0]
    b = regression_coefficients(PAPER_LIKE, 0.2)
    np.testing.assert_allclose(ols, b, atol=0.01)
    # the suppressor: x5 is uncorrelated with y but has a clearly negative coefficient
    assert data.truth.importance[4] == 0.0 and b[4] < -0.2
    np.testing.assert_allclose(data.truth.local(np.eye(5)), np.diag(b))


def test_seeds_are_deterministic_and_distinct():
    a, b, c = olden2004(seed=3), olden2004(seed=3), olden2004(seed=4)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_train, c.X_train)


def test_classification_labels_split_at_the_median():
    data = olden2004(n_samples=2000, task="classification", seed=0)
    y = np.concatenate([data.y_train, data.y_test])
    assert set(np.unique(y)) == {0.0, 1.0} and y.mean() == pytest.approx(0.5, abs=0.001)


def test_invalid_structures_are_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="response_correlations=.*positive definite"):
        olden2004(response_correlations=PAPER_LIKE)  # sum r^2 = 1.2 > 1 with independent predictors
    with pytest.raises(ValueError, match="predictor_correlation=1.0 is invalid"):
        olden2004(predictor_correlation=1.0)
    with pytest.raises(ValueError, match="response_correlations=.*in \\(-1, 1\\)"):
        olden2004(response_correlations=[1.0, 0.0])
    with pytest.raises(ValueError, match="n_samples=10 is invalid"):
        olden2004(n_samples=10)
    with pytest.raises(ValueError, match="test_fraction=1.0 is invalid"):
        olden2004(test_fraction=1.0)


def test_yaml_instantiates_the_documented_defaults():
    from hydra.utils import instantiate

    cfg = OmegaConf.load(CONF / "dataset" / "olden2004.yaml")
    data = instantiate(cfg, seed=5)
    ref = olden2004(seed=5)
    np.testing.assert_array_equal(data.X_train, ref.X_train)
    np.testing.assert_array_equal(data.truth.importance, ref.truth.importance)
