"""Use varbench's methods on your own trained Keras model, outside the harness."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from varbench.datasets.base import Dataset, GroundTruth
from varbench.methods.base import as_attribution



def available_methods() -> list[str]:
    """Names of the registered importance methods (their `_meta_` says `returns: importance`;
    ceilings such as the oracle, which read the data's truth, are not listed)."""
    from varbench.registry import available_methods as _available

    return _available("importance")


def method_callable(name: str, **params: Any):
    """The registered method `name` as a callable (model, data, rng), with params overriding
    its YAML defaults (its `_meta_` block is not passed on)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from varbench.registry import method_info

    cfg = OmegaConf.merge(method_info(name).config, params, {"_partial_": True})
    return instantiate(cfg)


def importance(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    method: str = "permutation",
    task: str | None = None,
    feature_names: Sequence[str] | None = None,
    X_train: np.ndarray | None = None,
    y_train: np.ndarray | None = None,
    seed: int = 0,
    output: str = "auto",
    **params: Any,
) -> pd.Series:
    """Importance of each input of a trained Keras `model` on data (X, y) by a registered method.

    task: "regression" or "classification" (single-logit or single-sigmoid output explained as
    P(class 1) unless output="logit"); inferred from y if None (0/1 labels -> classification).
    X_train, y_train: the model's training data, used by methods that need a reference sample
    (LIME's scaling, SHAP backgrounds) or retraining; defaults to (X, y).
    Extra keyword arguments override the method's parameters (e.g. n_repeats=10).
    Returns a Series indexed by feature name, in input order.

    Note: the network must output one value per row (regression value or class-1 logit/probability).
    """
    from varbench.models.trained import TrainedModel

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if task is None:
        task = "classification" if set(np.unique(y)) <= {0.0, 1.0} else "regression"
    d = X.shape[1]
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(d)]
    if (X_train is None) != (y_train is None):
        raise ValueError("X_train and y_train go together: give both or neither")
    unknown = GroundTruth(importance=np.ones(d), relevant=np.ones(d, bool), definition="unknown (user data)")
    data = Dataset(X_train=X if X_train is None else X_train, y_train=y if y_train is None else y_train,
                   X_test=X, y_test=y, task=task, truth=unknown, feature_names=names, name="user")
    wrapped = model if isinstance(model, TrainedModel) else TrainedModel(keras=model, task=task, output=output)
    if task == "classification" and not isinstance(model, TrainedModel) and _ends_in_sigmoid(model):
        raise ValueError("the model ends in a sigmoid; give varbench the logit model (drop the final "
                         "activation) so that P(class 1) is not squashed twice")
    fn = method_callable(method, **params)
    att = as_attribution(fn(wrapped, data, np.random.default_rng(seed)), d)
    return pd.Series(att.importance, index=names, name=method)


def _ends_in_sigmoid(model: Any) -> bool:
    act = getattr(model.layers[-1], "activation", None)
    return getattr(act, "__name__", "") == "sigmoid"
