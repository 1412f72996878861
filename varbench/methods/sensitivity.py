"""Variance-based global sensitivity of the trained model: Sobol first-order and total indices.

Assumption: the indices are defined for INDEPENDENT inputs. The input distribution used is the
product of the empirical marginals of X_train (each column resampled on its own, with
replacement), so any dependence between features in the data is deliberately broken: with
correlated features the model is then evaluated off the data manifold, and the indices describe
the model's function, not the data.
"""
from __future__ import annotations

import numpy as np

from varbench.datasets.base import Dataset
from varbench.datasets.sensitivity import sobol_from_outputs
from varbench.methods.base import Attribution
from varbench.methods.shapley import check_int
from varbench.methods.variables import variable_of_column
from varbench.models.trained import TrainedModel


def saltelli_matrices(X_ref: np.ndarray, n_samples: int, rng: np.random.Generator,
                      col_var: np.ndarray | None = None) -> np.ndarray:
    """The (V + 2) * N inputs of the Saltelli design, stacked as [A; B; AB_0; ...; AB_{V-1}].

    A and B: N rows whose variables are drawn independently (with replacement) from the rows of
    X_ref (a group of columns, col_var (d,) mapping columns to variables, is drawn as one block;
    by default every column is its own variable); AB_i is A with variable i taken from B.
    Shape ((V + 2) * N, d), float32."""
    X_ref = np.asarray(X_ref, dtype=np.float32)
    n_ref, d = X_ref.shape
    col_var = np.arange(d) if col_var is None else np.asarray(col_var)
    V = int(col_var.max()) + 1
    pick = rng.integers(n_ref, size=(2, n_samples, V))[..., col_var]
    A = X_ref[pick[0], np.arange(d)]
    B = X_ref[pick[1], np.arange(d)]
    AB = np.repeat(A[None], V, axis=0)
    for v in range(V):
        cols = np.flatnonzero(col_var == v)
        AB[v][:, cols] = B[:, cols]
    return np.concatenate([A, B, AB.reshape(-1, d)], axis=0)


def sobol_indices(model: TrainedModel, X_ref: np.ndarray, n_samples: int,
                  rng: np.random.Generator, col_var: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Sobol indices of `model.predict` under the product of X_ref's empirical marginals (of its
    variables, col_var as in `saltelli_matrices`), from one batched evaluation of the (V + 2) *
    n_samples Saltelli inputs (see `sobol_from_outputs`)."""
    check_int("n_samples", n_samples, 2)
    d = X_ref.shape[1] if col_var is None else int(np.max(col_var)) + 1
    f = model.predict(saltelli_matrices(X_ref, n_samples, rng, col_var)).astype(np.float64)
    return sobol_from_outputs(f[:n_samples], f[n_samples:2 * n_samples],
                              f[2 * n_samples:].reshape(d, n_samples))


def sobol_total(model: TrainedModel, data: Dataset, rng: np.random.Generator,
                n_samples: int = 4096) -> Attribution:
    """Total-order Sobol indices of the model (importance), inputs from the product of X_train's
    empirical marginals (independence assumed, see the module note); N = n_samples, cost
    (d + 2) N model evaluations in one batch. Extras: first-order indices `first_order_<j>`,
    their sum and the sum of total indices (sum_total - sum_first measures interactions), the
    output variance and the largest standard error of a total index."""
    res = sobol_indices(model, data.X_train, n_samples, rng, variable_of_column(data))
    extras = {f"first_order_{j}": float(v) for j, v in enumerate(res["first"])}
    extras.update({"sum_first": float(res["first"].sum()), "sum_total": float(res["total"].sum()),
                   "output_variance": float(res["variance"]),
                   "max_stderr_total": float(res["total_se"].max())})
    return Attribution(importance=res["total"], aggregation="global", extras=extras, std=res["total_se"])
