"""Perturbation methods: change inputs, watch the output or the loss."""
from __future__ import annotations

from typing import Callable

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution, Baseline, baseline_vector, sample_rows
from varbench.methods.variables import column_sets
from varbench.models.engine import map_blocks
from varbench.models.trained import TrainedModel

# replace(cols, X, rng, n_repeats) -> (n_repeats, n, len(cols)) new values for the columns `cols`
# of one variable (a single column, or a group replaced as a block)
Replacer = Callable[[list[int], np.ndarray, np.random.Generator, int], np.ndarray]


def single_column(replace_one: Callable[[int, np.ndarray, np.random.Generator, int], np.ndarray]) -> Replacer:
    """A Replacer from a per-column rule replace_one(j, X, rng, n_repeats) -> (n_repeats, n), for
    methods defined on single columns only (their `_meta_` says groups: none)."""
    def replace(cols: list[int], X: np.ndarray, rng: np.random.Generator, n_repeats: int) -> np.ndarray:
        if len(cols) != 1:
            raise ValueError(f"this replacement is defined for single columns, got the block {cols}")
        return replace_one(cols[0], X, rng, n_repeats)[..., None]

    return replace


def repeat_losses(model: TrainedModel, X: np.ndarray, y: np.ndarray, replace: Replacer,
                  rng: np.random.Generator, n_repeats: int,
                  variables: list[list[int]] | None = None) -> tuple[float, np.ndarray]:
    """(mean loss on X, (V, n_repeats) mean loss with variable v's columns replaced, per repeat);
    `variables`: the column sets, one column each by default.

    The repeats of one variable are evaluated in the engine's blocks (`model.blocks`: peak memory
    bounded by the chunk size, not by repeats x rows x features), every variable's blocks through
    the engine's lanes (`map_blocks`)."""
    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r} is invalid: expected an integer >= 1")
    n, d = X.shape
    variables = [[j] for j in range(d)] if variables is None else variables
    base = float(np.mean(model.loss(X, y)))
    per_repeat = np.empty((len(variables), n_repeats))
    drawn: list[np.ndarray] = []  # the current variable's replacement values

    def prepare(block: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        v, lo, hi = block
        if lo == 0:  # (n_repeats, n, |cols|): drawn at once, variable after variable, one stream
            drawn[:] = [replace(variables[v], X, rng, n_repeats)]
        Xr = np.repeat(X[None], hi - lo, axis=0)
        Xr[:, :, variables[v]] = drawn[0][lo:hi]
        return Xr.reshape(-1, d), np.concatenate([y] * (hi - lo), axis=0)

    blocks = [(v, lo, hi) for v in range(len(variables)) for lo, hi in model.blocks(n_repeats, n)]
    for (v, lo, hi), loss in zip(blocks, map_blocks(blocks, prepare, lambda xy: model.loss(*xy))):
        per_repeat[v, lo:hi] = loss.reshape(hi - lo, n).mean(axis=1)
    return base, per_repeat


def loss_increase(model: TrainedModel, X: np.ndarray, y: np.ndarray, replace: Replacer,
                  rng: np.random.Generator, n_repeats: int,
                  variables: list[list[int]] | None = None) -> Attribution:
    """Mean loss with variable v's columns replaced, minus the mean loss on X, for each variable
    (`repeat_losses`); returns the mean over repeats, the per-repeat values as replicates (their
    standard error is the uncertainty), and the largest standard error as a diagnostic."""
    base, per_repeat = repeat_losses(model, X, y, replace, rng, n_repeats, variables)
    ses = per_repeat.std(axis=1, ddof=1) / np.sqrt(n_repeats) if n_repeats > 1 else np.zeros(len(per_repeat))
    return Attribution(importance=per_repeat.mean(axis=1) - base, replicates=(per_repeat - base).T,
                       extras={"base_loss": base, "max_stderr": float(ses.max())})


def _permute(cols: list[int], X: np.ndarray, rng: np.random.Generator, n_repeats: int) -> np.ndarray:
    return np.stack([X[rng.permutation(X.shape[0])][:, cols] for _ in range(n_repeats)])


def permutation(model: TrainedModel, data: Dataset, rng: np.random.Generator,
                n_repeats: int = 5, n_rows: int | None = 1000) -> Attribution:
    """Permutation importance (Breiman; eli5 / scikit-learn): increase of the test loss (the
    head's loss: MSE, log loss or cross-entropy) when variable j is shuffled, averaged over
    n_repeats shuffles. A group of columns (`data.groups`) is shuffled as one block (the same
    row permutation for all its columns), so a one-hot categorical stays one-hot."""
    idx = sample_rows(data.X_test.shape[0], n_rows, rng)
    return loss_increase(model, data.X_test[idx], data.y_test[idx], _permute, rng, n_repeats,
                         column_sets(data))


def probing(model: TrainedModel, data: Dataset, rng: np.random.Generator,
            baseline: float = 0.0, value: float = 1.0) -> np.ndarray:
    """One-hot probing (the first answer to the Keras question): |f(b + (value - b) e_j) - f(b)|
    with the all-`baseline` input b (zeros by default). Looks at one point only: blind to
    interactions and to effects away from the baseline. A group of columns is probed as one
    block (all its columns set to `value`)."""
    d = data.n_features
    sets = column_sets(data)
    probes = np.full((len(sets) + 1, d), baseline, dtype=np.float32)
    for v, cols in enumerate(sets):  # a group of columns is probed as one block
        probes[v + 1, cols] = value
    out = model.predict(probes)
    return np.abs(out[1:] - out[0])


def occlusion(model: TrainedModel, data: Dataset, rng: np.random.Generator,
              baseline: Baseline = "mean", n_rows: int | None = 1000) -> Attribution:
    """Occlusion / ablation: local attribution f(x) - f(x with x_j := b_j) for each explained
    test row x and variable j, where b = `baseline_vector(X_train, baseline)` ("zero", "mean",
    "median" or a constant; a categorical variable's is its training mode); a group of columns is
    occluded as one block. Global importance =
    mean |local| over rows. All rows x variables (plus the unperturbed rows) go through the
    model in one batch of n (V + 1) rows.

    The local values are in output units; for a linear model with the "mean" baseline they
    equal the exact interventional Shapley values w_j (x_j - E x_j), otherwise they are the
    single-feature ablation effects (they need not sum to f(x) - E f)."""
    b = baseline_vector(data.X_train, baseline, data.categorical)  # a categorical variable: its mode
    X = data.X_test[sample_rows(data.X_test.shape[0], n_rows, rng)]
    n, d = X.shape
    sets = column_sets(data)
    batch = np.repeat(X[None], len(sets) + 1, axis=0)  # batch[0] = X, batch[v + 1] = X with variable v := b
    for v, cols in enumerate(sets):
        batch[v + 1][:, cols] = b[cols]
    out = model.predict(batch.reshape(-1, d)).astype(np.float64).reshape(len(sets) + 1, n)
    local = (out[0][None, :] - out[1:]).T
    return Attribution(local=local, aggregation="mean_abs_local", rows=X if not data.groups else None)
