"""Variables as first-class facts: a Dataset may map several columns to one variable (groups)."""
import numpy as np
import pytest

from varbench.datasets.base import Dataset, GroundTruth

NAMES = ["a", "colour_red", "colour_blue", "colour_green", "z"]


def _ds(groups, n_var=3):
    X = np.random.default_rng(0).normal(size=(40, 5))
    truth = GroundTruth(np.r_[1.0, np.zeros(n_var - 1)], np.r_[True, np.zeros(n_var - 1, bool)], "test")
    return Dataset(X, X[:, 0], X, X[:, 0], "regression", truth, feature_names=NAMES, groups=groups)


def test_groups_by_name_or_index_become_variables_in_column_order():
    ds = _ds({"colour": ["colour_red", 2, "colour_green"]})
    assert ds.groups == {"colour": [1, 2, 3]}
    assert ds.variables == [("a", [0]), ("colour", [1, 2, 3]), ("z", [4])] and ds.n_variables == 3


def test_without_groups_each_column_is_a_variable():
    ds = _ds(None, n_var=5)
    assert ds.variables == [(f, [j]) for j, f in enumerate(NAMES)] and ds.groups is None


@pytest.mark.parametrize("groups, message", [
    ({"colour": ["colour_pink"]}, "names column 'colour_pink'"),
    ({"colour": [1, 2], "other": [2]}, "in both 'colour' and 'other'"),
    ({"a": [1, 2]}, "name of an ungrouped feature"),
    ({"colour": []}, "non-empty list"),
    ({"colour": [7]}, "index in [0, 5)"),
    (["colour"], "expected a mapping"),
])
def test_bad_groups_are_named(groups, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        _ds(groups)


def test_truth_is_per_variable_when_grouped():
    with pytest.raises(ValueError, match=r"expected \(3,\): per variable"):
        _ds({"colour": [1, 2, 3]}, n_var=5)
