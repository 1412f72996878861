"""Truth-free scores of local (per-row) attributions: faithfulness correlation, infidelity and
max-sensitivity.

faithfulness_corr and infidelity are defined for additive local attributions (the method's
`Attribution.rows` is set: they sum to a change of the output, e.g. Shapley values, Integrated
Gradients, occlusion); max_sensitivity for any local attributions. All per variable.

- faithfulness_corr (Bhatt, Weller & Moura 2020, IJCAI, "Evaluating and aggregating
  feature-based model explanations", mu_F): for random subsets S of a fixed size, the Pearson
  correlation over subsets between sum_{i in S} phi_i(x) and f(x) - v_x(notS), the output drop
  when S is hidden by the marginal value function (background rows, as the curves); mean over
  rows (rows where either side is constant over the subsets are left out). Higher is better.
- infidelity (Yeh et al. 2019, NeurIPS, "On the (in)fidelity and sensitivity of explanations"),
  with their subset-removal perturbations I = x - x_(S hidden), which turns I^T phi into
  sum_{i in S} phi_i for additive attributions: mean over rows and subsets of
  (sum_{i in S} phi_i(x) - (f(x) - v_x(notS)))^2, divided by the variance of f over the explained
  rows (scale-free; 0 is perfect; lower is better). Both come from the same pass.
- max_sensitivity (Yeh et al. 2019): the method re-run on rows moved uniformly within
  radius x (standard deviation of each column); per row, the largest
  ||phi(x') - phi(x)|| / ||phi(x)|| over the draws, mean over rows (lower is better). phi(x) is
  the re-run on the unmoved rows with the same random stream, so only the input changes.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from varbench.methods.base import Attribution
from varbench.methods.shapley import coalition_values
from varbench.models.trained import TrainedModel


def random_subsets(n: int, n_subsets: int, V: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(n, n_subsets, V) boolean masks, each with `size` variables chosen uniformly (True = in S).

    Examples
    --------
    >>> import numpy as np
    >>> random_subsets(2, 3, 5, 2, np.random.default_rng(0)).sum(axis=2).tolist()
    [[2, 2, 2], [2, 2, 2]]
    """
    ranks = rng.random((n, n_subsets, V)).argsort(axis=2).argsort(axis=2)
    return ranks < size


def faithfulness_infidelity(model: TrainedModel, X: np.ndarray, phi: np.ndarray, background: np.ndarray,
                            col_var: np.ndarray, n_subsets: int, subset_size: int,
                            rng: np.random.Generator) -> dict[str, float]:
    """faithfulness_corr and infidelity of local attributions phi (n, V) of rows X (n, d) (see the
    module note), from one pass of n x n_subsets x B evaluations.

    Examples
    --------
    See ``tests/test_truth_free.py``: for a linear f and its exact interventional Shapley values
    with the same background, faithfulness_corr is 1 and infidelity 0.
    """
    phi = np.asarray(phi, dtype=np.float64)
    n, V = phi.shape
    if not 1 <= subset_size <= V:
        raise ValueError(f"subset_size={subset_size!r} is invalid: expected an integer in [1, {V}]")
    S = random_subsets(n, n_subsets, V, subset_size, rng)
    keep = ~S[..., col_var]  # (n, m, d) columns kept from x
    fx = model.predict(X).astype(np.float64)
    drop = fx[:, None] - coalition_values(model, X, background, keep)
    pred = np.einsum("nmv,nv->nm", S, phi)
    var_f = float(np.var(fx))
    a, b = pred - pred.mean(axis=1, keepdims=True), drop - drop.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    ok = den > 1e-12 * max(1.0, float(np.max(np.abs(drop))) ** 2)
    corr = float(np.mean((a * b).sum(axis=1)[ok] / den[ok])) if ok.any() else float("nan")
    infid = float(np.mean((pred - drop) ** 2) / var_f) if var_f > 0 else float("nan")
    return {"faithfulness_corr": corr, "infidelity": infid}


def max_sensitivity(rerun: Callable[[TrainedModel, Any], Attribution], model: TrainedModel, data: Any,
                    rows: np.ndarray, y: np.ndarray, radius: float, n_draws: int,
                    rng: np.random.Generator) -> float:
    """max_sensitivity of a local method (see the module note): `rerun(model, data)` runs the
    method on a copy of `data` whose test split is the given rows (moved or not) and returns its
    per-variable `Attribution` with one local row per input row.

    Examples
    --------
    See ``tests/test_truth_free.py``: for gradient x input on a linear model the value is
    known in closed form from the draws.
    """
    rows = np.asarray(rows, dtype=np.float32)
    scale = radius * np.asarray(data.X_train, dtype=np.float64).std(axis=0)

    def local(X: np.ndarray) -> np.ndarray:
        att = rerun(model, dataclasses.replace(data, X_test=np.asarray(X, dtype=np.float32), y_test=y))
        if att.local is None or att.local.shape[0] != X.shape[0]:
            raise ValueError("max_sensitivity needs one local attribution per row: the method returned "
                             f"{None if att.local is None else att.local.shape[0]} for {X.shape[0]} rows")
        return np.asarray(att.local, dtype=np.float64)

    base = local(rows)
    norm = np.linalg.norm(base, axis=1)
    worst = np.zeros(rows.shape[0])
    for _ in range(n_draws):  # each draw is one re-run of the method on all rows at once
        moved = rows + rng.uniform(-1.0, 1.0, rows.shape) * scale
        worst = np.maximum(worst, np.linalg.norm(local(moved) - base, axis=1))
    ok = norm > 0
    return float(np.mean(worst[ok] / norm[ok])) if ok.any() else float("nan")
