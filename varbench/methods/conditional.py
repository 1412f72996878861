"""Conditional permutation importance: replace x_j by a draw from a model of x_j given the
other features, so that a feature is not credited for information its correlated neighbours
already carry, and the model is not evaluated far outside the data (as plain permutation does
when features are dependent)."""
from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution, sample_rows
from varbench.methods.perturbation import loss_increase, single_column
from varbench.models.trained import TrainedModel

Sampler = Literal["gaussian", "regressor"]
SAMPLERS = get_args(Sampler)


def gaussian_conditionals(X: np.ndarray, ridge: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit a multivariate Gaussian N(mu, Sigma) to X and return (mu, B, var) such that, for
    every j, E[x_j | x_-j] = mu_j + (x - mu) @ B[j] and Var(x_j | x_-j) = var[j].

    Closed form through the precision matrix P = Sigma^-1: B[j, k] = -P_jk / P_jj (k != j,
    B[j, j] = 0) and var[j] = 1 / P_jj. B[j] is also the least-squares regression of x_j on the
    other columns (with intercept) fitted on X. Sigma gets `ridge` x mean variance on its
    diagonal so that singular designs (duplicated or constant columns) stay invertible."""
    mu, sigma = gaussian_fit(X, ridge)
    P = np.linalg.inv(sigma)
    diag = np.diag(P)
    B = -P / diag[:, None]
    np.fill_diagonal(B, 0.0)
    return mu, B, 1.0 / diag


def gaussian_fit(X: np.ndarray, ridge: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """(mu, Sigma) of a multivariate Gaussian fitted to X, with `ridge` x mean variance added to
    Sigma's diagonal (as `gaussian_conditionals`) so that singular designs stay invertible."""
    if not isinstance(ridge, (int, float)) or ridge < 0:
        raise ValueError(f"ridge={ridge!r} is invalid: expected a number >= 0")
    X = np.asarray(X, dtype=np.float64)
    sigma = np.atleast_2d(np.cov(X, rowvar=False))
    scale = float(np.mean(np.diag(sigma)))
    return X.mean(axis=0), sigma + ridge * (scale if scale > 0 else 1.0) * np.eye(sigma.shape[0])


def gaussian_set_draws(mu: np.ndarray, sigma: np.ndarray, X: np.ndarray, keep: np.ndarray, n_draws: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Draws of the hidden columns given the kept ones under N(mu, Sigma), for every row and every
    coalition: shape (n, K, n_draws, d); column j of coalition k is x_j where keep[k, j] and a draw
    from p(x_R | x_K) otherwise (R = hidden, K = kept columns), in closed form:
    E[x_R | x_K] = mu_R + Sigma_RK Sigma_KK^-1 (x_K - mu_K), Cov = Sigma_RR - Sigma_RK Sigma_KK^-1 Sigma_KR.
    The background of a conditional value function (`varbench.methods.shapley.coalition_outputs`)."""
    X = np.asarray(X, dtype=np.float64)
    keep = np.asarray(keep, dtype=bool)
    n, d = X.shape
    out = np.repeat(np.repeat(X[:, None, None, :], keep.shape[0], axis=1), n_draws, axis=2)
    for k, kept in enumerate(keep):  # one small solve per coalition; rows and draws are vectorised
        R, Kc = np.flatnonzero(~kept), np.flatnonzero(kept)
        if R.size == 0:
            continue
        if Kc.size:
            A = np.linalg.solve(sigma[np.ix_(Kc, Kc)], sigma[np.ix_(Kc, R)]).T  # (|R|, |K|)
            mean = mu[R] + (X[:, Kc] - mu[Kc]) @ A.T
            cov = sigma[np.ix_(R, R)] - A @ sigma[np.ix_(Kc, R)]
        else:
            mean, cov = np.broadcast_to(mu[R], (n, R.size)), sigma[np.ix_(R, R)]
        vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))  # cov = root @ root.T (PSD-safe)
        out[:, k, :, R] = np.moveaxis(mean[:, None, :] + rng.standard_normal((n, n_draws, R.size)) @ root.T, -1, 0)
    return out


def _is_estimator(obj: Any) -> bool:
    return hasattr(obj, "fit") and hasattr(obj, "predict")


def _regressor_means(regressor: Any, X_train: np.ndarray, X: np.ndarray) -> np.ndarray:
    """E[x_j | x_-j] for the rows of X from a fresh clone of `regressor` per feature, fitted
    on X_train. Returns (n, d)."""
    from sklearn.base import clone

    d = X.shape[1]
    means = np.empty(X.shape, dtype=np.float64)
    for j in range(d):  # one fit per feature; predictions are batched over rows
        rest = np.delete(np.arange(d), j)
        est = clone(regressor).fit(X_train[:, rest], X_train[:, j])
        means[:, j] = np.asarray(est.predict(X[:, rest]), dtype=np.float64).reshape(-1)
    return means


def conditional_permutation(model: TrainedModel, data: Dataset, rng: np.random.Generator,
                            sampler: Sampler = "gaussian", regressor: Any = "linear",
                            n_repeats: int = 5, n_rows: int | None = 1000) -> Attribution:
    """Conditional permutation importance: increase of the test loss (MSE, or log loss) when
    x_j is replaced by a draw from an estimate of p(x_j | x_-j) fitted on the train split,
    averaged over n_repeats draws (via `loss_increase`).

    sampler="gaussian" (default): X is modelled as multivariate Gaussian;
        x_j ~ N(E[x_j | x_-j], Var(x_j | x_-j)) in closed form (`gaussian_conditionals`).
        Assumes the dependence between features is Gaussian (linear, homoscedastic); for a
        linear model f = w.x and Gaussian X the MSE importance is 2 w_j^2 Var(x_j | x_-j),
        where plain permutation gives 2 w_j^2 Var(x_j).
    sampler="regressor": x_j = g_j(x_-j) + a permutation of the residuals x_j - g_j(x_-j) of the
        explained rows (Strobl-like / "knockoff-lite"), with g_j fitted on the train split:
        regressor="linear" is least squares (the same conditional mean as the Gaussian sampler,
        but empirical residuals instead of normal noise), or any scikit-learn-style estimator
        (cloned and fitted once per feature) for non-linear dependence. Assumes the residual
        is independent of x_-j (additive, homoscedastic noise).

    extras: base_loss, max_stderr (from `loss_increase`) and mean_variance_ratio, the mean over
    features of Var(x_j | x_-j) / Var(x_j) implied by the sampler (1 = independent features).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is invalid: expected one of {SAMPLERS}")
    if sampler == "regressor" and not (_is_estimator(regressor) or regressor == "linear"):
        raise ValueError(f"regressor={regressor!r} is invalid: expected 'linear' or an estimator "
                         "with fit and predict")
    if sampler == "gaussian" and not (isinstance(regressor, str) and regressor == "linear"):
        raise ValueError(f"regressor={regressor!r} is invalid with sampler='gaussian': a regressor is "
                         "only used by sampler='regressor'")
    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r} is invalid: expected an integer >= 1")
    idx = sample_rows(data.X_test.shape[0], n_rows, rng)
    X, y = data.X_test[idx], data.y_test[idx]
    X64 = X.astype(np.float64)
    X_train = data.X_train.astype(np.float64)
    n = X.shape[0]

    if sampler == "regressor" and regressor != "linear":
        means = _regressor_means(regressor, X_train, X64)
    else:
        mu, B, var = gaussian_conditionals(X_train)
        means = mu + (X64 - mu) @ B.T  # column j = E[x_j | x_-j] for every row
    if sampler == "gaussian":
        sd = np.sqrt(var)
        cond_var = var

        def replace(j: int, X_: np.ndarray, rng_: np.random.Generator, k: int) -> np.ndarray:
            return means[:, j][None, :] + sd[j] * rng_.standard_normal((k, n))
    else:
        resid = X64 - means
        cond_var = resid.var(axis=0)

        def replace(j: int, X_: np.ndarray, rng_: np.random.Generator, k: int) -> np.ndarray:
            return means[:, j][None, :] + np.stack([resid[rng_.permutation(n), j] for _ in range(k)])

    att = loss_increase(model, X, y, single_column(replace), rng, n_repeats)
    total_var = X_train.var(axis=0)
    ratio = np.where(total_var > 0, cond_var / np.where(total_var > 0, total_var, 1.0), 0.0)
    att.extras["mean_variance_ratio"] = float(np.mean(ratio))
    return att
