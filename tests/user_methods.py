"""Methods used by the runner tests (importable because tests/ is on the pytest path)."""
import numpy as np


def boom(model, data, rng):
    raise RuntimeError("this method always fails")


def nan_method(model, data, rng):
    return np.full(data.n_features, np.nan)


def wrong_shape(model, data, rng):
    return np.ones(data.n_features + 1)
