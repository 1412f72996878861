"""The trained model's OWN truth, where it is computable exactly (d <= ~12).

The data-generating truth says what matters in the data; a method explains the trained model,
which may have learned something else. `model_truth` computes what an ideal explainer of that
model would report: exact interventional Shapley values and exact SAGE values (by enumerating
all 2^d coalitions over a background sample, sharing `coalition_values` with KernelSHAP), and the
model's total Sobol indices from a large Saltelli sample.
"""
from __future__ import annotations

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import sample_rows
from varbench.methods.sensitivity import sobol_indices
from varbench.methods.shapley import (all_coalitions, background_sample, check_int, coalition_values_of,
                                      exact_shapley, loss_of_output, to_probability)
from varbench.models.trained import TrainedModel
from varbench.schema import ModelTruthConfig


_DEFAULTS = ModelTruthConfig()  # the one source of these defaults (conf/config.yaml repeats them; a test checks)


def model_truth(model: TrainedModel, data: Dataset, background_size: int | None = _DEFAULTS.background_size,
                rows: int | None = _DEFAULTS.rows, sobol_samples: int = _DEFAULTS.sobol_samples,
                max_features: int = _DEFAULTS.max_features, seed: int = 0) -> dict[str, np.ndarray]:
    """Exact Shapley / SAGE values and large-sample Sobol indices of the trained model.

    rows: how many X_test rows (with their y_test) are explained (None = all); background_size:
    X_train rows forming the background (None = all). Cost: rows * 2^d * background_size model
    evaluations (a classifier explained as a logit, whose SAGE averages probabilities, gets
    both from the same evaluations), plus (d + 2) * sobol_samples.

    Returns arrays: "rows" (n, d) explained inputs, "background" (B, d), "shapley_local" (n, d)
    exact interventional Shapley values of `model.predict`, "shapley" (d,) = mean |phi|,
    "sage" (d,) exact SAGE values on those rows (loss as `TrainedModel.loss`, marginal
    imputation), "sage_loss_empty" / "sage_loss_full" (0-d) mean losses with no feature and
    all features, "sobol_total" and "sobol_first" (d,) with inputs from X_train's independent
    empirical marginals. Raises ValueError if d > max_features."""
    check_int("max_features", max_features, 1)
    check_int("sobol_samples", sobol_samples, 2)
    if rows is not None:
        check_int("rows", rows, 1)
    d = data.n_features
    if d > max_features:
        raise ValueError(f"model_truth enumerates all 2^d coalitions: d={d} exceeds "
                         f"max_features={max_features}")
    rng = np.random.default_rng(seed)
    idx = sample_rows(data.X_test.shape[0], rows, rng)
    X = np.asarray(data.X_test[idx], dtype=np.float32)
    y = np.asarray(data.y_test[idx], dtype=np.float64)
    bg = background_sample(data.X_train, background_size, rng)
    masks = all_coalitions(d)

    g = to_probability(model)  # a classifier explained as a logit: SAGE averages probabilities
    # (n, 2^d): v_x(S) of the explained output, and of P(class) for SAGE, from one pass of evaluations
    values = coalition_values_of(model, X, bg, masks, [None] if g is None else [None, g])
    V, P = values[0], values[-1]
    loss = loss_of_output(model, P, y[:, None]).mean(axis=0)  # (2^d,) mean loss with S known
    sage = exact_shapley(loss[0] - loss)
    phi = exact_shapley(V)
    sobol = sobol_indices(model, data.X_train, sobol_samples, rng)
    return {"rows": X.astype(np.float64), "background": bg.astype(np.float64),
            "shapley_local": phi, "shapley": np.abs(phi).mean(axis=0), "sage": sage,
            "sage_loss_empty": np.array(loss[0]), "sage_loss_full": np.array(loss[-1]),
            "sobol_total": sobol["total"], "sobol_first": sobol["first"]}
