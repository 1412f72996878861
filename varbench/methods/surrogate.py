"""Local surrogate models (LIME)."""
from __future__ import annotations

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution, sample_rows
from varbench.methods.variables import column_sets
from varbench.models.trained import TrainedModel


def weighted_ridge(Z: np.ndarray, f: np.ndarray, w: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Batched weighted ridge with an unpenalised intercept.

    Z: (m, s, d) inputs, f: (m, s) targets, w: (m, s) weights -> coefficients (m, d) and
    weighted R^2 (m,), one fit per leading index (as scikit-learn's Ridge with sample_weight)."""
    wn = w / w.sum(axis=1, keepdims=True)
    zbar = np.einsum("ms,msd->md", wn, Z)
    fbar = np.einsum("ms,ms->m", wn, f)
    Zc = Z - zbar[:, None, :]
    fc = f - fbar[:, None]
    A = np.einsum("msd,ms,mse->mde", Zc, w, Zc) + alpha * np.eye(Z.shape[2])
    b = np.einsum("msd,ms,ms->md", Zc, w, fc)
    coef = np.linalg.solve(A, b[..., None])[..., 0]
    resid = fc - np.einsum("msd,md->ms", Zc, coef)
    ss_tot = np.einsum("ms,ms->m", w, fc**2)
    r2 = 1 - np.einsum("ms,ms->m", w, resid**2) / np.where(ss_tot > 0, ss_tot, 1.0)
    return coef, r2


def lime(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_rows: int = 50,
         n_samples: int = 1000, kernel_width: float | None = None, alpha: float = 1.0,
         sample_around_instance: bool = True) -> Attribution:
    """Tabular LIME for continuous features, without discretisation.

    For each explained row x: draw n_samples points z = x + sd * N(0, I) (or around the training
    mean if sample_around_instance is false), weight them by the exponential kernel
    sqrt(exp(-||z_s - x_s||^2 / width^2)) on standardised coordinates (width 0.75 sqrt(V), as in
    the lime package), and fit a weighted ridge (alpha) of the model output on the standardised
    features. Local attribution = the coefficients; global = mean |coefficient| over rows.
    All rows x samples are evaluated in one batched pass.

    A group of columns (`data.groups`, e.g. a one-hot categorical) is treated as the lime package
    treats a categorical feature: each sample takes the whole block from a random training row,
    and the interpretable feature is 1 when the block equals the instance's block, else 0; its
    coefficient is the effect of the instance's value against the others. A categorical variable
    (`data.categorical`: one column of category codes) is sampled the same way."""
    if not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples={n_samples!r} is invalid: expected an integer >= 2")
    X = data.X_test[sample_rows(data.X_test.shape[0], n_rows, rng)].astype(np.float64)
    mu = data.X_train.mean(axis=0)
    sd = data.X_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    m, d = X.shape
    sets = column_sets(data)
    width = 0.75 * np.sqrt(len(sets)) if kernel_width is None else float(kernel_width)
    xs = (X - mu) / sd
    noise = rng.standard_normal((m, n_samples, d))
    Zs = xs[:, None, :] + noise if sample_around_instance else noise
    Zs[:, 0, :] = xs  # the instance itself is the first sample, as in lime
    inputs, design, instance = Zs * sd + mu, Zs, xs
    if data.groups or data.categorical:
        design = np.empty((m, n_samples, len(sets)))
        instance = np.ones((m, len(sets)))
        for v, cols in enumerate(sets):
            if len(cols) == 1 and cols[0] not in data.categorical:
                design[..., v], instance[:, v] = Zs[..., cols[0]], xs[:, cols[0]]
                continue
            block = data.X_train[rng.integers(data.X_train.shape[0], size=(m, n_samples))][..., cols]
            block[:, 0] = X[:, cols]
            inputs[..., cols] = block
            design[..., v] = np.all(block == X[:, None, cols], axis=-1)
    f = model.predict(inputs.reshape(-1, d)).reshape(m, n_samples).astype(np.float64)
    dist2 = np.sum((design - instance[:, None, :]) ** 2, axis=2)
    w = np.sqrt(np.exp(-dist2 / width**2))
    coef, r2 = weighted_ridge(design, f, w, alpha)
    return Attribution(local=coef, aggregation="mean_abs_local", extras={"mean_surrogate_r2": float(r2.mean())})
