"""Reference points: a random floor and an oracle ceiling."""
from __future__ import annotations

import numpy as np

from varbench.datasets.base import Dataset
from varbench.models.trained import TrainedModel


def random(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> np.ndarray:
    """Uniform random scores: the floor every method must beat (Spearman ~ 0 on average)."""
    return rng.random(data.n_variables)


def oracle(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> np.ndarray:
    """The data-generating truth itself: the ceiling (excluded from rankings by default)."""
    return np.asarray(data.truth.importance, dtype=float).copy()
