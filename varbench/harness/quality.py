"""The quality-threshold rule of a cell: which metrics are its model's quality, the headline number
the threshold applies to, and whether a model falls below it."""
from __future__ import annotations

from typing import Mapping

QUALITY_KEYS = ("r2", "accuracy", "auc")  # the model-quality metrics a cell run carries


def quality_of(metrics: Mapping[str, float]) -> dict[str, float]:
    """The model-quality metrics among `metrics` (in their order).

    Examples
    --------
    >>> quality_of({"r2": 0.9, "epochs": 50.0})
    {'r2': 0.9}
    """
    return {k: v for k, v in metrics.items() if k in QUALITY_KEYS}


def headline(quality: Mapping[str, float]) -> float:
    """The number the quality threshold applies to: R^2, or ROC AUC for classification (NaN if
    neither is known)."""
    return quality.get("r2", quality.get("auc", float("nan")))


def is_low(quality: Mapping[str, float], threshold: float | None) -> bool:
    """Whether a model with this quality is below `threshold` (None: no threshold). A model whose
    headline is unknown (NaN) is below any threshold.

    Examples
    --------
    >>> is_low({"r2": 0.5}, 0.8), is_low({"r2": 0.5}, None), is_low({}, 0.8)
    (True, False, True)
    """
    return threshold is not None and not headline(quality) >= threshold
