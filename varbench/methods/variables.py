"""Variables as the methods see them: one per column, or a group of columns (a one-hot
categorical, any block judged as one variable; `Dataset.groups`).

How a method honours groups is one fact of its `_meta_` (`groups:`):
- "joint": the method treats each variable as one unit itself (a group is permuted, occluded or
  made a Shapley player as a block) and returns one value per variable;
- "sum": the method's attributions are additive over columns (Integrated Gradients, gradient x
  input, DeepLIFT: they sum to f(x) - f(baseline)), so a group's local attribution is the sum
  over its columns, by that definition; then mean |.| over rows (a global score that is itself a
  sum over columns, first_layer's sum of |weights|, is summed over the group);
- "none": the method cannot honour groups; asking for them is an error (one line), never
  silently per-column values.
`explain` is the one place that applies the rule (the runner and the API both call it).

What a method does with a categorical variable (`Dataset.categorical`: category codes, see
`varbench.models.inputs`) is another fact of its `_meta_` (`categorical:`):
- "resample": it replaces a variable's value by other rows' values (permutation, background
  rows, sampled marginals, LIME's categorical sampling): exact for codes;
- "mask": it replaces it by a reference value; for a categorical variable that is the training
  mode (the most frequent category), never a mean of codes;
- "embedding": a gradient method, taken with respect to the categorical input's embedding (or
  lookup) output and summed over its units (`varbench.models.layer_view`);
- "ignores": it never reads the inputs (a reference method);
- "refuse": it would do arithmetic on codes (average, add noise, differentiate, read first-layer
  weights): asking for it on categorical variables is an error (one line).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution, as_attribution

GROUP_RULES = ("joint", "sum", "none")
CATEGORICAL_RULES = ("resample", "mask", "embedding", "ignores", "refuse")


def column_sets(data: Dataset) -> list[list[int]]:
    """The columns of each variable, in `data.variables` order (singletons without groups)."""
    return [cols for _, cols in data.variables]


def variable_of_column(data: Dataset) -> np.ndarray:
    """(d,) index of the variable each column belongs to."""
    out = np.empty(data.n_features, dtype=int)
    for v, cols in enumerate(column_sets(data)):
        out[cols] = v
    return out


def check_groups(name: str, rule: str, data: Dataset) -> None:
    """One-line ValueError when the data has groups the method cannot honour."""
    if rule not in GROUP_RULES:
        raise ValueError(f"method {name!r}: groups rule {rule!r} is not one of {GROUP_RULES}")
    if data.groups and rule == "none":
        raise ValueError(f"method {name!r} cannot honour variable groups (groups={sorted(data.groups)}): "
                         "use a method whose groups rule is joint or sum (see varbench.describe_methods())")


def check_categorical(name: str, rule: str, data: Dataset) -> None:
    """One-line ValueError when the data has categorical variables the method cannot honour."""
    if rule not in CATEGORICAL_RULES:
        raise ValueError(f"method {name!r}: categorical rule {rule!r} is not one of {CATEGORICAL_RULES}")
    if data.categorical and rule == "refuse":
        cats = [data.feature_names[c] for c in data.categorical]
        raise ValueError(f"method {name!r} would do arithmetic on the category codes of {cats}: use a method whose "
                         "categorical rule is resample, mask or embedding (see varbench.describe_methods())")


def sum_over_groups(values: np.ndarray, data: Dataset) -> np.ndarray:
    """(..., d) per-column values -> (..., V) per-variable sums (signed: additive attributions).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> data = SimpleNamespace(variables=[("a", [0]), ("b", [1, 2])])
    >>> sum_over_groups(np.array([0.5, -1.0, 2.0]), data).tolist()
    [0.5, 1.0]
    """
    return np.stack([values[..., cols].sum(axis=-1) for cols in column_sets(data)], axis=-1)


def variable_level(values: np.ndarray, data: Dataset) -> np.ndarray:
    """(d,) per-column magnitudes of a grouped dataset -> (V,) per variable: the sum of |value|
    over each variable's columns (e.g. the model's own per-column truth). Values already per
    variable, or an ungrouped dataset's, are returned unchanged. (A method's own result goes
    through its groups rule instead: `to_variables`.)

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> data = SimpleNamespace(groups={"b": [1, 2]}, n_features=3, variables=[("a", [0]), ("b", [1, 2])])
    >>> variable_level(np.array([0.5, -1.0, 2.0]), data).tolist()
    [0.5, 3.0]
    """
    values = np.asarray(values, dtype=float)
    if not getattr(data, "groups", None) or values.shape[0] != data.n_features:
        return values
    return sum_over_groups(np.abs(values), data)


def to_variables(raw: object, data: Dataset, rule: str) -> Attribution:
    """A method's raw result as an `Attribution` per variable, by the method's groups `rule` (see
    the module note): "joint" results are already per variable, "sum" ones are summed over each
    group's columns (`sum_over_groups`)."""
    if not data.groups:
        return as_attribution(raw, data.n_features)
    if rule == "joint":
        return as_attribution(raw, data.n_variables)
    att = as_attribution(raw, data.n_features)
    if rule != "sum":
        raise ValueError(f"groups rule {rule!r} is not one of {GROUP_RULES}")
    if att.local is None:  # a global score additive over columns (e.g. first_layer's sum of |weights|)
        return Attribution(importance=sum_over_groups(att.importance, data), aggregation=att.aggregation,
                           extras=att.extras)
    local = sum_over_groups(att.local, data)
    return Attribution(local=local, importance=np.mean(np.abs(local), axis=0), aggregation="mean_abs_local",
                       extras=att.extras)


def explain(name: str, fn: Callable[..., Any], model: Any, data: Dataset, rng: np.random.Generator,
            rule: str = "none", categorical: str = "refuse") -> Attribution:
    """Run method `fn` (registered as `name`, groups rule `rule`, categorical rule `categorical`)
    and return its result per variable. The checks come first, before any model evaluation."""
    check_groups(name, rule, data)
    check_categorical(name, categorical, data)
    return to_variables(fn(model, data, rng), data, rule)
