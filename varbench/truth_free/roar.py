"""Remove-and-retrain (ROAR, Hooker et al. 2019, NeurIPS, "A benchmark for interpretability
methods in deep neural networks") and keep-and-retrain, with the shared trainer (`model.refit`:
the same architecture and trainer config, built for the columns kept).

roar: test loss of the model retrained without the columns of the k most important variables,
minus the trained model's test loss (higher is better: the method found what the model needs);
roar_keep: test loss of the model retrained on those k variables only, minus the trained model's
(lower is better). Variables move with all their columns. Two trainings per method run: opt-in.
"""
from __future__ import annotations

import numpy as np

from varbench.models.trained import TrainedModel


def retrain_loss(model: TrainedModel, data: object, cols: np.ndarray) -> float:
    """Mean test loss of `model.refit` on the training split's columns `cols`."""
    if model.refit is None:
        raise ValueError("model.refit is None: roar needs a model from the shared trainer "
                         "(varbench.models.trainer.train), which can be refitted on other columns")
    sub = model.refit(data.X_train[:, cols], data.y_train)
    loss = float(np.mean(sub.loss(data.X_test[:, cols], data.y_test)))
    model.n_evals += sub.n_evals
    return loss


def roar_scores(model: TrainedModel, data: object, order: np.ndarray, col_var: np.ndarray,
                k: int) -> dict[str, float]:
    """roar and roar_keep at k for an order of the variables (most important first).

    Examples
    --------
    See ``tests/test_truth_free.py`` (a stub `refit` whose loss is known for each column set).
    """
    V = order.size
    if not 1 <= k < V:
        raise ValueError(f"k={k!r} is invalid for roar: expected an integer in [1, {V - 1}] (something "
                         "must be left to retrain on)")
    top = np.isin(col_var, order[:k])
    base = float(np.mean(model.loss(data.X_test, data.y_test)))
    return {"roar": retrain_loss(model, data, np.flatnonzero(~top)) - base,
            "roar_keep": retrain_loss(model, data, np.flatnonzero(top)) - base}
