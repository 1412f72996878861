"""scikit-learn wrappers of Keras models (scikeras `KerasRegressor` / `KerasClassifier`), unwrapped.

A fitted scikeras estimator holds the network in `model_`, and two fitted encoders: the feature
encoder (scikeras's default is the identity `FunctionTransformer()`) and the target encoder
(`RegressorTargetEncoder`, or `ClassifierLabelEncoder`, which maps the class labels to the codes
or one-hot rows the network was fitted on). `unwrap` returns the network and the labels encoded
as the network saw them, with the class names as output names; an estimator with a custom feature
or target encoder is refused in one line (its columns or labels are not the network's).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def is_scikeras(model: Any) -> bool:
    """A scikeras wrapper (fitted or not)."""
    return any(c.__module__.startswith("scikeras.") for c in type(model).__mro__)


def _target_codes(est: Any, y: Any, name: str) -> Any:
    """y as the network was fitted on it, through the estimator's own fitted target encoder."""
    if y is None:
        return None
    from scikeras.utils.transformers import ClassifierLabelEncoder, RegressorTargetEncoder

    enc = est.target_encoder_
    if type(enc) not in (ClassifierLabelEncoder, RegressorTargetEncoder):
        raise ValueError(f"model is a {type(est).__name__} with a custom target encoder ({type(enc).__name__}): "
                         f"pass its network model.model_ and {name} encoded as the network was fitted")
    try:
        return enc.transform(np.asarray(y))
    except ValueError as err:
        raise ValueError(f"{name} does not match the labels the {type(est).__name__} was fitted on: {err}") from err


def unwrap(model: Any, y: Any, y_train: Any = None) -> tuple[Any, Any, Any, list[str] | None]:
    """(network, y, y_train, output names or None) of a fitted scikeras estimator; anything else
    is returned as it is (with None output names).

    Examples
    --------
    >>> from varbench.models.wrappers import unwrap
    >>> unwrap("not a wrapper", [1, 2])
    ('not a wrapper', [1, 2], None, None)
    """
    if not is_scikeras(model):
        return model, y, y_train, None
    name = type(model).__name__
    if not hasattr(model, "model_"):
        raise ValueError(f"model is an unfitted {name}: call model.fit(X, y) first")
    from sklearn.preprocessing import FunctionTransformer

    fenc = getattr(model, "feature_encoder_", None)
    if fenc is not None and not (type(fenc) is FunctionTransformer and fenc.func is None):
        raise ValueError(f"model is a {name} with a custom feature encoder ({type(fenc).__name__}): pass its "
                         "network model.model_ and X encoded as the network takes it")
    classes = getattr(model, "classes_", None)
    names = [str(c) for c in classes] if classes is not None and len(classes) > 2 else None
    return model.model_, _target_codes(model, y, "y"), _target_codes(model, y_train, "y_train"), names
