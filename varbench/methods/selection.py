"""Selection methods (`returns: selection`): per-variable tests or decisions, not scores.

- `permutation_test`: permutation importance over n_repeats shuffles, one-sided t-test of the
  repeats' mean loss increase > 0 (the repeats are the sample: only the shuffling is random;
  the model and the test rows are held fixed).
- `permutation_row_test`: the marginal counterpart of CPI: x_j permuted across the test rows
  (n_repeats shuffles, per-row loss differences averaged over them), one-sided paired t-test
  over the test rows, so its variance is taken over rows as CPI's is, not over shuffles of fixed
  rows as `permutation_test`'s.
- `cpi`: conditional predictive impact (Watson & Wright 2021, "Testing conditional independence
  in supervised learning algorithms", Machine Learning 110): x_j replaced by its Gaussian
  model-X knockoff, per-row loss differences, one-sided paired t-test over the test rows.
- `loco_test`: LOCO's sign test (Lei et al. 2018): per-row increase of |error| of the model
  refitted without x_j; exact one-sided binomial test that the median increase is > 0.
- `knockoffs`: model-X knockoffs (Candes, Fan, Janson & Lv 2018) with Gaussian equicorrelated
  knockoffs: the network is refitted on [X, X~]; W_j = loss increase of permuting x_j minus that
  of permuting x~_j on the test split; knockoff+ threshold at q (offset 1; offset 0 = the plain
  knockoff filter, which controls a modified FDR).
p-values are turned into selections by Benjamini-Hochberg at q (`varbench.methods.base.as_selection`;
scored by `varbench.scoring.selection`).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from varbench.datasets.base import Dataset
from varbench.methods.base import Q, Selection, check_q, sample_rows
from varbench.methods.perturbation import _permute, repeat_losses
from varbench.methods.retrain import _loco_loss, _refit_without_each
from varbench.models.trained import TrainedModel


def one_sided_t(D: np.ndarray) -> np.ndarray:
    """p-values of the one-sided t-test that each row of D has mean > 0 (1 where D is constant
    and <= 0, 0 where constant and > 0)."""
    D = np.asarray(D, float)
    m = D.mean(axis=1)
    sd = D.std(axis=1, ddof=1)
    n = D.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = m / (sd / np.sqrt(n))
    p = stats.t.sf(t, n - 1)
    return np.where(sd > 0, p, np.where(m > 0, 0.0, 1.0))


def permutation_test(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_repeats: int = 20,
                     n_rows: int | None = 1000, q: float = Q) -> Selection:
    """Permutation importance with a one-sided t-test over its n_repeats shuffles (see module)."""
    check_q(q)
    if not isinstance(n_repeats, int) or n_repeats < 2:
        raise ValueError(f"n_repeats={n_repeats!r} is invalid: expected an integer >= 2 (a test needs repeats)")
    idx = sample_rows(data.X_test.shape[0], n_rows, rng)
    base, per_repeat = repeat_losses(model, data.X_test[idx], data.y_test[idx], _permute, rng, n_repeats)
    D = per_repeat - base
    return Selection(pvalues=one_sided_t(D), statistic=D.mean(axis=1), q=q)


def equicorrelated_s(sigma: np.ndarray) -> np.ndarray:
    """Equicorrelated knockoff diagonal: s_j = min(1, 2 lambda_min(R)) sd_j^2 (R the correlation
    matrix), shrunk by 1e-3 so that 2S - S Sigma^-1 S stays positive definite numerically."""
    sd = np.sqrt(np.diag(sigma))
    R = sigma / np.outer(sd, sd)
    lam = float(np.linalg.eigvalsh(R).min())
    return min(1.0, 2 * lam) * (1 - 1e-3) * sd ** 2


def gaussian_knockoffs(X: np.ndarray, mu: np.ndarray, sigma: np.ndarray, rng: np.random.Generator,
                       s: np.ndarray | None = None) -> np.ndarray:
    """Model-X Gaussian knockoffs of the rows of X ~ N(mu, sigma): X~ | X ~ N(X - (X - mu)
    Sigma^-1 S, 2S - S Sigma^-1 S), S = diag(s) (default `equicorrelated_s`), so that [X, X~]
    has covariance [[Sigma, Sigma - S], [Sigma - S, Sigma]]."""
    X = np.asarray(X, np.float64)
    s = equicorrelated_s(sigma) if s is None else np.asarray(s, float)
    S = np.diag(s)
    inv_s = np.linalg.solve(sigma, S)  # Sigma^-1 S
    mean = X - (X - mu) @ inv_s
    V = 2 * S - S @ inv_s
    L = np.linalg.cholesky((V + V.T) / 2 + 1e-12 * np.eye(len(s)))
    return mean + rng.standard_normal(X.shape) @ L.T


def _gaussian_fit(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, np.float64)
    sigma = np.atleast_2d(np.cov(X, rowvar=False))
    return X.mean(axis=0), sigma + 1e-6 * float(np.mean(np.diag(sigma))) * np.eye(sigma.shape[0])


def row_test(model: TrainedModel, X: np.ndarray, y: np.ndarray, replaced: np.ndarray, q: float) -> Selection:
    """One-sided paired t-test over the rows of X: per row, the loss with column j := replaced[r, :, j]
    minus the loss on X, averaged over the R replacements (replaced: (R, n, d)), for every j."""
    n, d = X.shape
    R = replaced.shape[0]
    batch = np.repeat(X[None, None], d, axis=0).repeat(R, axis=1)       # (d, R, n, d)
    batch[np.arange(d), :, :, np.arange(d)] = np.moveaxis(replaced, 2, 0)  # batch[j, r] = X, column j replaced
    full = model.loss(X, y).astype(np.float64)
    swapped = model.loss(batch.reshape(-1, d), np.tile(y, d * R)).astype(np.float64).reshape(d, R, n)
    D = (swapped - full[None, None, :]).mean(axis=1)   # differences first: an unread column gives exact zeros
    return Selection(pvalues=one_sided_t(D), statistic=D.mean(axis=1), q=q)


def permutation_row_test(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_repeats: int = 1,
                         n_rows: int | None = None, q: float = Q) -> Selection:
    """Permutation importance tested over the test rows (see module): each column shuffled n_repeats
    times across the rows, one stream, column after column."""
    check_q(q)
    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r} is invalid: expected an integer >= 1")
    idx = sample_rows(data.X_test.shape[0], n_rows, rng)
    X, y = data.X_test[idx], data.y_test[idx]
    n, d = X.shape
    perms = np.stack([np.stack([X[rng.permutation(n), j] for j in range(d)], axis=1) for _ in range(n_repeats)])
    return row_test(model, X, y, perms.astype(X.dtype), q)


def cpi(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_rows: int | None = None,
        q: float = Q) -> Selection:
    """Conditional predictive impact (see module): Gaussian knockoffs fitted on the train split."""
    check_q(q)
    idx = sample_rows(data.X_test.shape[0], n_rows, rng)
    X, y = data.X_test[idx], data.y_test[idx]
    mu, sigma = _gaussian_fit(data.X_train)
    Xk = gaussian_knockoffs(X, mu, sigma, rng).astype(np.float32)
    return row_test(model, X, y, Xk[None], q)


def loco_test(model: TrainedModel, data: Dataset, rng: np.random.Generator, q: float = Q) -> Selection:
    """LOCO's sign test (see module); d refits, shared with `varbench.methods.retrain`."""
    check_q(q)
    fits = _refit_without_each(model, data, _loco_loss)
    D = fits.dropped - fits.full[None, :]
    pos, nonzero = (D > 0).sum(axis=1), (D != 0).sum(axis=1)
    p = np.array([stats.binomtest(int(k), int(m), 0.5, alternative="greater").pvalue if m else 1.0
                  for k, m in zip(pos, nonzero)])
    return Selection(pvalues=p, statistic=np.median(D, axis=1), q=q, extras=fits.extras())


def knockoff_threshold(W: np.ndarray, q: float = Q, offset: int = 1) -> float:
    """The knockoff(+) threshold: the smallest t in {|W_j| > 0} with (offset + #{W <= -t}) /
    max(1, #{W >= t}) <= q; inf if there is none (nothing is selected)."""
    W = np.asarray(W, float)
    for t in np.sort(np.abs(W[W != 0])):
        if (offset + np.sum(W <= -t)) / max(1, np.sum(W >= t)) <= q:
            return float(t)
    return float("inf")


def knockoffs(model: TrainedModel, data: Dataset, rng: np.random.Generator, q: float = Q, offset: int = 1,
              n_repeats: int = 5) -> Selection:
    """Model-X knockoff filter with Gaussian knockoffs and a refitted network (see module)."""
    check_q(q)
    if offset not in (0, 1):
        raise ValueError(f"offset={offset!r} is invalid: expected 1 (knockoff+) or 0 (knockoff)")
    if model.refit is None:
        raise ValueError("model.refit is None: knockoffs refit the network on [X, X~] and need a model "
                         "from the shared trainer")
    d = data.n_features
    mu, sigma = _gaussian_fit(data.X_train)
    s = equicorrelated_s(sigma)
    aug_train = np.hstack([data.X_train, gaussian_knockoffs(data.X_train, mu, sigma, rng, s)]).astype(np.float32)
    aug_test = np.hstack([data.X_test, gaussian_knockoffs(data.X_test, mu, sigma, rng, s)]).astype(np.float32)
    sub = model.refit(aug_train, data.y_train)
    sub.n_evals = 0
    base, per_repeat = repeat_losses(sub, aug_test, data.y_test, _permute, rng, n_repeats)
    imp = per_repeat.mean(axis=1) - base
    model.n_evals += sub.n_evals
    W = imp[:d] - imp[d:]
    t = knockoff_threshold(W, q, offset)
    return Selection(selected=W >= t, statistic=W, q=q,
                     extras={"threshold": t if np.isfinite(t) else -1.0, "mean_s": float(np.mean(s))})
