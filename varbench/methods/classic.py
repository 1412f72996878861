"""The classic ANN importance methods compared by Gevrey, Dimopoulos & Lek (2003) and Olden, Joy &
Death (2004), besides Garson's algorithm and connection weights (those are in `weights.py`).

- `pad`: partial derivatives (Dimopoulos, Bourret & Lek 1995; Dimopoulos et al. 1999).
- `input_perturbation`: noise added to one input, loss increase (Scardi & Harding 1999).
- `profile`: Lek's profile method (Lek et al. 1996), the "sensitivity analysis" of Olden et al.
- `stepwise_addition` / `stepwise_elimination`: classical forward / backward stepwise selection
  with a retrained network at every step (Gevrey et al. 2003, "classical stepwise method").

As the papers do, these methods read the rows the network was fitted on (`split="train"`) by
default; `split="test"` uses the held-out rows instead. Retraining goes through `model.refit`
(same architecture, trainer and seed), as in `retrain.py`; the per-row loss is the model's own
(`model.loss`: squared error, or log loss for classification).

Shared helper defined here: `_rows` (a split of the data, optionally a seeded sample of rows).
"""
from __future__ import annotations

import logging
import time
from typing import Literal, Sequence, get_args

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution, sample_rows
from varbench.methods.gradients import _check_int
from varbench.methods.perturbation import loss_increase, single_column
from varbench.methods.retrain import _model_loss, check_refit
from varbench.models.trained import TrainedModel

log = logging.getLogger(__name__)

Split = Literal["train", "test"]
SPLITS = get_args(Split)
PROFILE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)  # minimum, quartiles, maximum


def _rows(data: Dataset, split: str, n_rows: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the chosen split ("train" or "test"), all rows or a seeded sample of n_rows."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is invalid: expected one of {SPLITS}")
    X, y = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
    idx = sample_rows(X.shape[0], n_rows, rng)
    return np.asarray(X[idx], dtype=np.float32), np.asarray(y[idx])


# ----------------------------------------------------------------------------- partial derivatives

def pad(model: TrainedModel, data: Dataset, rng: np.random.Generator, split: Split = "train",
        n_rows: int | None = None) -> Attribution:
    """PaD, the partial-derivatives method (Dimopoulos et al. 1995, 1999; Gevrey et al. 2003):
    SSD_j = sum over rows i of (d f / d x_j at x_i)^2, the sum of squared derivatives of the
    network output with respect to input j over the explained rows (one batched gradient call).

    This is the "SSD" variant (Gevrey et al. eq. 3), the one that ranks inputs; the papers also
    report SSD_j / sum_k SSD_k in percent, which has the same ranking. Extras: `mean_sq_gradient`
    of the top input (SSD / n) so that values can be compared across sample sizes."""
    X, _ = _rows(data, split, n_rows, rng)
    g = model.gradient(X).astype(np.float64)
    ssd = np.sum(g**2, axis=0)
    return Attribution(importance=ssd, extras={"n_rows": float(X.shape[0]),
                                               "mean_sq_gradient": float(ssd.max() / X.shape[0])})


# ----------------------------------------------------------------------------- input perturbation

def input_perturbation(model: TrainedModel, data: Dataset, rng: np.random.Generator, noise: float = 0.5,
                       n_repeats: int = 10, split: Split = "train", n_rows: int | None = None) -> Attribution:
    """Input perturbation (Scardi & Harding 1999; Gevrey et al. 2003): add noise to input j alone
    and record the increase of the loss (MSE for regression, log loss for classification):
        importance_j = mean over repeats of L(X with x_j + e) - L(X),  e ~ N(0, (noise * sd_j)^2)
    with sd_j the standard deviation of x_j over the explained rows. `noise` is the perturbation
    as a fraction of the input's spread (the papers step it through 10 %, ..., 50 %; one fixed
    level is used here, 0.5 by default). For a linear model f = w.x the expected MSE increase is
    w_j^2 noise^2 sd_j^2. Uses the shared batched `loss_increase` of `perturbation.py`."""
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise > 0 or not np.isfinite(noise):
        raise ValueError(f"noise={noise!r} is invalid: expected a number > 0")
    n_repeats = _check_int("n_repeats", n_repeats, 1)
    X, y = _rows(data, split, n_rows, rng)
    sd = X.astype(np.float64).std(axis=0)

    def perturb(j: int, Xr: np.ndarray, r: np.random.Generator, repeats: int) -> np.ndarray:
        return Xr[None, :, j] + noise * sd[j] * r.standard_normal((repeats, Xr.shape[0]))

    att = loss_increase(model, X, y, single_column(perturb), rng, n_repeats)
    att.extras["noise"] = float(noise)
    return att


# ----------------------------------------------------------------------------- Lek's profile

def profile(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_points: int = 13,
            levels: Sequence[float] = PROFILE_LEVELS, split: Split = "train") -> Attribution:
    """Lek's profile method (Lek et al. 1996; Gevrey et al. 2003), called "sensitivity analysis"
    by Olden et al. (2004). For input j, the other inputs are held together at their q-quantile
    for each q in `levels` (minimum, quartiles, maximum), while x_j runs over `n_points` equally
    spaced values from its minimum to its maximum (default 13 points: 12 intervals). The
    profile of x_j is the median over the levels of the response at each point; the importance is
    the range (max - min) of that median profile. All d x levels x points inputs go through one
    batched predict. For a linear model f = w.x every profile is a line and the importance is
    |w_j| (max x_j - min x_j)."""
    n_points = _check_int("n_points", n_points, 2)
    q = np.asarray(list(levels), dtype=float)
    if q.ndim != 1 or q.size < 1 or not np.all((q >= 0) & (q <= 1)):
        raise ValueError(f"levels={list(levels)!r} is invalid: expected a non-empty list of quantiles in [0, 1]")
    X, _ = _rows(data, split, None, rng)
    n_levels, d = q.size, X.shape[1]
    fixed = np.quantile(X.astype(np.float64), q, axis=0)  # (levels, d)
    grid = np.linspace(X.min(axis=0), X.max(axis=0), n_points, dtype=np.float64)  # (points, d)
    batch = np.broadcast_to(fixed[None, :, None, :], (d, n_levels, n_points, d)).copy()
    batch[np.arange(d), :, :, np.arange(d)] = grid.T[:, None, :]  # input j runs over its grid
    out = model.predict(batch.reshape(-1, d)).astype(np.float64).reshape(d, n_levels, n_points)
    curves = np.median(out, axis=1)  # (d, points): the median profile of each input
    return Attribution(importance=curves.max(axis=1) - curves.min(axis=1),
                       extras={"n_levels": float(n_levels), "n_points": float(n_points)})


# ----------------------------------------------------------------------------- stepwise selection

def _subset_loss(model: TrainedModel, data: Dataset, cols: list[int]) -> float:
    """Mean test loss of the network retrained on the columns `cols` only; with no column, the
    loss of the constant prediction (mean of y_train, or its class frequency)."""
    y = np.asarray(data.y_test, dtype=np.float64)
    if not cols:
        if model.task == "multiclass":  # the class frequencies of y_train, scored by cross-entropy
            freq = np.bincount(data.y_train.astype(int), minlength=model.n_outputs) / len(data.y_train)
            return float(np.mean(model.loss_of_probabilities(np.tile(freq, (len(y), 1)), y)))
        c = float(np.mean(data.y_train))
        if model.task == "regression":
            return float(np.mean((y - c) ** 2))
        c = min(max(c, 1e-7), 1 - 1e-7)
        return float(-np.mean(y * np.log(c) + (1 - y) * np.log(1 - c)))
    sub = model.refit(data.X_train[:, cols], data.y_train)
    if sub.n_features != len(cols):
        raise ValueError(f"model.refit returned a model with {sub.n_features} inputs, expected {len(cols)}")
    sub.n_evals = 0
    loss = float(np.mean(_model_loss(sub, data.X_test[:, cols], data.y_test)))
    model.n_evals += sub.n_evals
    return loss


def stepwise_addition(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> Attribution:
    """Forward stepwise addition (classical stepwise method; Gevrey et al. 2003, Olden et al.
    2004). Start from no input; at each step retrain the network once per remaining input with
    that input added, keep the input whose model has the lowest test loss, and repeat until all
    inputs are in. The order of entry is the ranking: importance = d for the first input added,
    d - 1 for the second, ..., 1 for the last. d (d + 1) / 2 - 1 retrainings (the last step is the
    full model, which is `model` itself). Extras: the test loss after each addition
    (`loss_after_step_k`), the constant-prediction loss, and the retraining cost."""
    d = check_refit(model, data, "stepwise")
    start = time.perf_counter()
    chosen: list[int] = []
    extras = {"loss_no_input": _subset_loss(model, data, [])}
    n_refits = 0
    while len(chosen) < d:
        rest = [j for j in range(d) if j not in chosen]
        if len(rest) == 1:  # the full model: the one we were given
            losses = [float(np.mean(_model_loss(model, data.X_test, data.y_test)))]
        else:
            losses = [_subset_loss(model, data, sorted(chosen + [j])) for j in rest]
            n_refits += len(rest)
        best = int(np.argmin(losses))
        chosen.append(rest[best])
        extras[f"loss_after_step_{len(chosen)}"] = losses[best]
        log.info("  step %d: added %s (test loss %.4g)", len(chosen), data.feature_names[rest[best]], losses[best])
    importance = np.empty(d)
    importance[chosen] = np.arange(d, 0, -1, dtype=float)
    extras.update(n_refits=float(n_refits), retrain_seconds=time.perf_counter() - start)
    return Attribution(importance=importance, extras=extras)


def stepwise_elimination(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> Attribution:
    """Backward stepwise elimination (classical stepwise method; Gevrey et al. 2003, Olden et al.
    2004). Start from all inputs; at each step retrain the network once per remaining input with
    that input removed, and eliminate the input whose removal leaves the lowest test loss (the
    least useful one); repeat until one input is left. The order of elimination is the ranking:
    importance = 1 for the first input eliminated, ..., d for the input left at the end.
    d (d + 1) / 2 - 1 retrainings. Extras: the test loss after each elimination
    (`loss_after_step_k`), the full model's loss, and the retraining cost."""
    d = check_refit(model, data, "stepwise")
    start = time.perf_counter()
    kept = list(range(d))
    order: list[int] = []
    extras = {"full_loss": float(np.mean(_model_loss(model, data.X_test, data.y_test)))}
    n_refits = 0
    while len(kept) > 1:
        losses = [_subset_loss(model, data, [k for k in kept if k != j]) for j in kept]
        n_refits += len(kept)
        worst = int(np.argmin(losses))
        order.append(kept.pop(worst))
        extras[f"loss_after_step_{len(order)}"] = losses[worst]
        log.info("  step %d: removed %s (test loss %.4g)", len(order), data.feature_names[order[-1]], losses[worst])
    order.append(kept[0])
    importance = np.empty(d)
    importance[order] = np.arange(1, d + 1, dtype=float)
    extras.update(n_refits=float(n_refits), retrain_seconds=time.perf_counter() - start)
    return Attribution(importance=importance, extras=extras)


__all__ = ["pad", "input_perturbation", "profile", "stepwise_addition", "stepwise_elimination"]
