"""Perturbation methods: change inputs, watch the output or the loss."""
from __future__ import annotations

from typing import Callable

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution, Baseline, baseline_vector, sample_rows
from varbench.models.trained import TrainedModel

# replace(j, X, rng, n_repeats) -> (n_repeats, n) new values for column j
Replacer = Callable[[int, np.ndarray, np.random.Generator, int], np.ndarray]


def repeat_losses(model: TrainedModel, X: np.ndarray, y: np.ndarray, replace: Replacer,
                  rng: np.random.Generator, n_repeats: int) -> tuple[float, np.ndarray]:
    """(mean loss on X, (d, n_repeats) mean loss with column j replaced, per repeat).

    The repeats of one column are evaluated in batches of at most the engine's chunk size
    (peak memory bounded by it, not by repeats x rows x features)."""
    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r} is invalid: expected an integer >= 1")
    n, d = X.shape
    base = float(np.mean(model.loss(X, y)))
    per_repeat = np.empty((d, n_repeats))
    block = max(1, model.chunk_size // n)  # repeats per batch: memory bounded by the chunk size
    for j in range(d):
        values = replace(j, X, rng, n_repeats)  # (n_repeats, n): drawn at once, same stream
        for lo in range(0, n_repeats, block):
            r = min(block, n_repeats - lo)
            Xr = np.repeat(X[None], r, axis=0)
            Xr[:, :, j] = values[lo:lo + r]
            per_repeat[j, lo:lo + r] = model.loss(Xr.reshape(-1, d), np.tile(y, r)).reshape(r, n).mean(axis=1)
    return base, per_repeat


def loss_increase(model: TrainedModel, X: np.ndarray, y: np.ndarray, replace: Replacer,
                  rng: np.random.Generator, n_repeats: int) -> Attribution:
    """Mean loss with column j replaced, minus the mean loss on X, for each j (`repeat_losses`);
    returns the mean over repeats, with the largest standard error across features as a diagnostic."""
    base, per_repeat = repeat_losses(model, X, y, replace, rng, n_repeats)
    means = per_repeat.mean(axis=1) - base
    ses = per_repeat.std(axis=1, ddof=1) / np.sqrt(n_repeats) if n_repeats > 1 else np.zeros(len(means))
    return Attribution(importance=means, extras={"base_loss": base, "max_stderr": float(ses.max())})


def _permute(j: int, X: np.ndarray, rng: np.random.Generator, n_repeats: int) -> np.ndarray:
    return np.stack([X[rng.permutation(X.shape[0]), j] for _ in range(n_repeats)])


def permutation(model: TrainedModel, data: Dataset, rng: np.random.Generator,
                n_repeats: int = 5, n_rows: int | None = 1000) -> Attribution:
    """Permutation importance (Breiman; eli5 / scikit-learn): increase of the test loss
    (MSE, or log loss) when column j is shuffled, averaged over n_repeats shuffles."""
    idx = sample_rows(data.X_test.shape[0], n_rows, rng)
    return loss_increase(model, data.X_test[idx], data.y_test[idx], _permute, rng, n_repeats)


def probing(model: TrainedModel, data: Dataset, rng: np.random.Generator,
            baseline: float = 0.0, value: float = 1.0) -> np.ndarray:
    """One-hot probing (the first answer to the Keras question): |f(b + (value - b) e_j) - f(b)|
    with the all-`baseline` input b (zeros by default). Looks at one point only: blind to
    interactions and to effects away from the baseline."""
    d = data.n_features
    probes = np.full((d + 1, d), baseline, dtype=np.float32)
    probes[np.arange(1, d + 1), np.arange(d)] = value
    out = model.predict(probes)
    return np.abs(out[1:] - out[0])


def occlusion(model: TrainedModel, data: Dataset, rng: np.random.Generator,
              baseline: Baseline = "mean", n_rows: int | None = 1000) -> Attribution:
    """Occlusion / ablation: local attribution f(x) - f(x with x_j := b_j) for each explained
    test row x and feature j, where b = `baseline_vector(X_train, baseline)` ("zero", "mean",
    "median" or a constant). Global importance = mean |local| over rows. All rows x features
    (plus the unperturbed rows) go through the model in one batch of n (d + 1) rows.

    The local values are in output units; for a linear model with the "mean" baseline they
    equal the exact interventional Shapley values w_j (x_j - E x_j), otherwise they are the
    single-feature ablation effects (they need not sum to f(x) - E f)."""
    b = baseline_vector(data.X_train, baseline)
    X = data.X_test[sample_rows(data.X_test.shape[0], n_rows, rng)]
    n, d = X.shape
    batch = np.repeat(X[None], d + 1, axis=0)  # batch[0] = X, batch[j + 1] = X with column j := b_j
    batch[np.arange(1, d + 1), :, np.arange(d)] = b[:, None]
    out = model.predict(batch.reshape(-1, d)).astype(np.float64).reshape(d + 1, n)
    local = (out[0][None, :] - out[1:]).T
    return Attribution(local=local, aggregation="mean_abs_local", rows=X)
