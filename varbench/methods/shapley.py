"""Shapley-family methods with the interventional (marginal) value function.

For an explained row x and a background sample b_1..b_B of X_train, the value of a coalition S
is v_x(S) = mean_k f(x_S, b_k,notS) (features in S from x, the others from the background row).
Its Shapley values phi(x) satisfy sum_j phi_j(x) = f(x) - mean_k f(b_k).

Shared machinery (also used by `varbench.methods.model_truth`):
- `predict_rows`: evaluate many inputs per row, built and predicted in memory-bounded row batches;
- `coalition_values`: v(S) for many coalitions S and many rows in one batched pass
  (`coalition_outputs`: the same pass before the average over the background);
- `exact_shapley`: Shapley values from a full table of coalition values;
- `background_sample`, `check_int`, `loss_of_output`, `to_probability`.

Methods: `kernel_shap` (exact enumeration or paired kernel-weighted sampling), `sampling_shapley`
(permutation sampling, optionally antithetic) and `sage` (global loss-based Shapley values).
"""
from __future__ import annotations

from math import comb, factorial
from typing import Callable, Sequence

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution, sample_rows
from varbench.methods.variables import variable_of_column
from varbench.models.engine import map_blocks
from varbench.models.trained import TrainedModel, pointwise_loss

# Largest d for which KernelSHAP may enumerate all 2^d coalitions.
MAX_EXACT = 20


def check_int(name: str, value: object, minimum: int) -> int:
    """Return value if it is an integer >= minimum, else raise a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid: expected an integer >= {minimum}")
    return int(value)


def _rows_background_players(data: Dataset, n_rows: int | None, background_size: int | None,
                             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The explained test rows, a background sample of training rows, the variable (player) of each
    column and the number of players (a group of columns is one player)."""
    X = np.asarray(data.X_test[sample_rows(data.X_test.shape[0], n_rows, rng)], dtype=np.float32)
    bg = background_sample(data.X_train, background_size, rng)
    return X, bg, variable_of_column(data), data.n_variables


def background_sample(X_train: np.ndarray, size: int | None, rng: np.random.Generator) -> np.ndarray:
    """`size` rows of X_train drawn without replacement (all rows if size is None or too large)."""
    if size is not None:
        check_int("background_size", size, 1)
    return np.asarray(X_train[sample_rows(X_train.shape[0], size, rng)], dtype=np.float32)


def to_probability(model: TrainedModel) -> Callable[[np.ndarray], np.ndarray] | None:
    """The map from `model.predict` output to P(class 1) (None when it already is one, or for
    regression). Defined for single-output heads (regression, binary)."""
    single_output(model, "a loss of averaged predictions")
    if model.task == "classification" and not model.explains_prob:
        return lambda z: 1.0 / (1.0 + np.exp(-z))
    return None


def single_output(model: TrainedModel, what: str) -> None:
    """One-line ValueError unless the head has one output (regression or binary)."""
    if model.n_outputs != 1 or model.task == "multiclass":
        raise ValueError(f"{what} is defined for single-output heads (regression with one output, binary "
                         f"classifier); this model is a {model.head.describe()}")


def loss_of_output(model: TrainedModel, p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row loss of a prediction p, as `TrainedModel.loss` computes it (`pointwise_loss`):
    squared error for regression, log loss where p = P(class 1) for classification.
    Needed because SAGE scores averaged (imputed) predictions, which no single input produces."""
    return pointwise_loss(model.task, p, y)


def predict_rows(model: TrainedModel, n: int, per_row: int,
                 build: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Model outputs for n rows x per_row inputs, shape (n, per_row), float64.

    build(i0, i1) returns the inputs of rows i0..i1-1, shape (i1 - i0, per_row, d). Rows are
    taken in the engine's blocks (`TrainedModel.blocks`: at most `chunk_size` inputs built at
    once, or one row's per_row inputs when that is more); each block is one `model.predict` call,
    blocks built in order here and evaluated in the engine's lanes (`map_blocks`)."""
    out = np.empty((n, per_row), dtype=np.float64)
    if n == 0 or per_row == 0:
        return out
    blocks = model.blocks(n, per_row)
    parts = map_blocks(blocks, lambda b: build(*b).reshape(-1, model.n_features), model.predict)
    for (i0, i1), part in zip(blocks, parts):
        out[i0:i1] = part.reshape(i1 - i0, per_row)
    return out


def coalition_values(model: TrainedModel, X: np.ndarray, background: np.ndarray, masks: np.ndarray,
                     output_fn: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """v_x(S) = mean over background rows b of g(f(x_S, b_notS)) for every row x and coalition S.

    X: (n, d) rows; background: (B, d); masks: (K, d) booleans shared by all rows, or (n, K, d)
    one set per row (True = feature taken from x). output_fn (g) maps model outputs before
    averaging (e.g. logit -> probability); identity if None. Returns (n, K) float64."""
    return coalition_values_of(model, X, background, masks, [output_fn])[0]


def coalition_values_of(model: TrainedModel, X: np.ndarray, background: np.ndarray, masks: np.ndarray,
                        output_fns: Sequence[Callable[[np.ndarray], np.ndarray] | None]) -> list[np.ndarray]:
    """`coalition_values` for each of several output maps g from one pass of model evaluations
    (e.g. the logit and the probability of a classifier): one (n, K) array per map."""
    F = coalition_outputs(model, X, background, masks)
    return [(F if g is None else g(F)).mean(axis=2) for g in output_fns]


def coalition_outputs(model: TrainedModel, X: np.ndarray, background: np.ndarray,
                      masks: np.ndarray) -> np.ndarray:
    """f(x_S, b_notS) for every row x, coalition S and background row b, shape (n, K, B), float64:
    the value function before its average over the background.

    X: (n, d); masks: (K, d) shared by all rows or (n, K, d) per row (True = column from x);
    background: (B, d) shared by all rows, (n, B, d) per row, or (n, K, B, d) per row and
    coalition (e.g. draws from a conditional distribution given each row's kept columns)."""
    X = np.asarray(X, dtype=np.float32)
    background = np.asarray(background, dtype=np.float32)
    masks = np.asarray(masks, dtype=bool)
    n, d = X.shape
    if masks.ndim not in (2, 3) or masks.shape[-1] != d or (masks.ndim == 3 and masks.shape[0] != n):
        raise ValueError(f"masks must have shape (K, {d}) or ({n}, K, {d}), got {masks.shape}")
    K, B = masks.shape[-2], background.shape[-2]
    if background.ndim not in (2, 3, 4) or background.shape[-1] != d or (
            background.ndim > 2 and background.shape[0] != n) or (background.ndim == 4 and background.shape[1] != K):
        raise ValueError(f"background must have shape (B, {d}), ({n}, B, {d}) or ({n}, {K}, B, {d}), "
                         f"got {background.shape}")

    def build(i0: int, i1: int) -> np.ndarray:
        M = masks[None] if masks.ndim == 2 else masks[i0:i1]
        bg = {2: lambda: background[None, None], 3: lambda: background[i0:i1, None],
              4: lambda: background[i0:i1]}[background.ndim]()
        return np.where(M[:, :, None, :], X[i0:i1, None, None, :], bg)

    return predict_rows(model, n, K * B, build).reshape(n, K, B)


def all_coalitions(d: int) -> np.ndarray:
    """All 2^d coalitions as a (2^d, d) boolean array; row k holds the bits of k (bit j = feature j)."""
    k = np.arange(2**d)
    return ((k[:, None] >> np.arange(d)[None, :]) & 1).astype(bool)


def exact_shapley(values: np.ndarray) -> np.ndarray:
    """Shapley values from a full table of coalition values indexed as `all_coalitions`.

    values: (..., 2^d) -> (..., d), phi_j = sum_{S not containing j} |S|!(d-|S|-1)!/d! (v(S+j) - v(S))."""
    values = np.asarray(values, dtype=np.float64)
    K = values.shape[-1]
    d = K.bit_length() - 1
    if K != 2**d:
        raise ValueError(f"values must have 2^d entries on the last axis, got {K}")
    k = np.arange(K)
    size = np.array([bin(i).count("1") for i in range(K)])
    weight = np.array([factorial(s) * factorial(d - s - 1) / factorial(d) for s in range(d)])
    phi = np.empty(values.shape[:-1] + (d,))
    for j in range(d):  # loop over features; rows and coalitions are vectorised
        without = k[(k >> j) & 1 == 0]
        phi[..., j] = (values[..., without | (1 << j)] - values[..., without]) @ weight[size[without]]
    return phi


def shapley_kernel(d: int, sizes: np.ndarray) -> np.ndarray:
    """Shapley kernel weight (d - 1) / (C(d, s) s (d - s)) of a coalition of size s, 0 < s < d."""
    sizes = np.asarray(sizes)
    binom = np.array([comb(d, s) for s in range(d + 1)], dtype=np.float64)
    return (d - 1) / (binom[sizes] * sizes * (d - sizes))


def constrained_wls(Z: np.ndarray, w: np.ndarray, y: np.ndarray, total: np.ndarray) -> np.ndarray:
    """KernelSHAP's regression: per row, minimise sum_k w_k (y_k - Z_k . phi)^2 subject to
    sum(phi) = total, solved exactly by eliminating the last coefficient.

    Z: (K, d) design shared by all rows or (n, K, d) per row; w: (K,) or (n, K); y: (n, K)
    targets v(S) - v(empty); total: (n,) = v(all) - v(empty). Returns phi (n, d)."""
    Z = np.asarray(Z, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    if Z.shape[-1] == 1:
        return total[:, None]
    Zt = Z[..., :-1] - Z[..., -1:]
    yt = y - Z[..., -1] * total[:, None]
    if Z.ndim == 2:
        A = np.einsum("kd,k,ke->de", Zt, w, Zt)
        b = np.einsum("kd,k,nk->nd", Zt, w, yt)
        head = np.linalg.solve(A, b.T).T
    else:
        A = np.einsum("nkd,nk,nke->nde", Zt, w, Zt)
        b = np.einsum("nkd,nk,nk->nd", Zt, w, yt)
        head = np.linalg.solve(A, b[..., None])[..., 0]
    return np.concatenate([head, (total - head.sum(axis=1))[:, None]], axis=1)


def _sampled_coalitions(n: int, d: int, n_coalitions: int, rng: np.random.Generator) -> np.ndarray:
    """(n, n_coalitions, d) masks: per row, n_coalitions / 2 coalitions whose size s is drawn with
    probability proportional to the Shapley kernel's total mass at that size, (d - 1) / (s (d - s)),
    and whose members are uniform given s; each is followed by its complement (paired sampling).
    Sampled this way, every coalition enters the regression with weight 1."""
    half = n_coalitions // 2
    s = np.arange(1, d)
    p = 1.0 / (s * (d - s))
    sizes = rng.choice(s, size=(n, half), p=p / p.sum())
    ranks = rng.random((n, half, d)).argsort(axis=2).argsort(axis=2)
    masks = ranks < sizes[..., None]
    return np.concatenate([masks, ~masks], axis=1)


def kernel_shap_budget(d: int, n_coalitions: int | None = None) -> int:
    """KernelSHAP's sampled coalitions per row for d players: `n_coalitions` when given, else the
    rule of the shap package's KernelExplainer (nsamples="auto": 2 d + 2048; even, as the
    complementary pairs need).

    Examples
    --------
    >>> from varbench.methods.shapley import kernel_shap_budget
    >>> kernel_shap_budget(20), kernel_shap_budget(20, 500)
    (2088, 500)
    """
    return 2 * d + 2048 if n_coalitions is None else int(n_coalitions)


def kernel_shap(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_rows: int | None = 50,
                background_size: int | None = 50, max_exact_features: int = 12,
                n_coalitions: int | None = None) -> Attribution:
    """KernelSHAP (Lundberg & Lee 2017) with the interventional value function.

    d <= max_exact_features: all 2^d - 2 proper coalitions with Shapley kernel weights,
    efficiency imposed as an exact constraint: the result is the exact Shapley value for this
    background. Otherwise, per row, n_coalitions paired coalitions (default None: 2 d + 2048, the
    shap package's "auto" rule, `kernel_shap_budget`) sampled (with replacement)
    from the kernel and the same constrained least squares, with no regularisation (when
    n_coalitions >= 2^d - 2, raising max_exact_features is cheaper and exact). Local
    attributions (rows, d); global = mean |phi|. Extras: efficiency error (max over rows of
    |sum phi - (f(x) - E_b f(b))|), exact (1/0), coalitions per row."""
    check_int("max_exact_features", max_exact_features, 0)
    if max_exact_features > MAX_EXACT:
        raise ValueError(f"max_exact_features={max_exact_features!r} is invalid: expected an integer "
                         f"in [0, {MAX_EXACT}] (exact mode builds 2^d coalitions per row)")
    if n_coalitions is not None:
        check_int("n_coalitions", n_coalitions, 2)
    if n_coalitions is not None and n_coalitions % 2:
        raise ValueError(f"n_coalitions={n_coalitions!r} is invalid: expected an even integer "
                         "(coalitions are sampled in complementary pairs)")
    X, bg, col_var, d = _rows_background_players(data, n_rows, background_size, rng)
    n_coalitions = kernel_shap_budget(d, n_coalitions)
    n = X.shape[0]
    fx = model.predict(X).astype(np.float64)
    f0 = float(np.mean(model.predict(bg)))
    exact = d <= max(max_exact_features, 1)  # d = 1: no proper coalition, phi = f(x) - E f
    if exact:
        masks = all_coalitions(d)[1:-1]
        w = shapley_kernel(d, masks.sum(axis=1))
    else:
        if n_coalitions < 2 * d:
            raise ValueError(f"n_coalitions={n_coalitions} is invalid: expected an even integer >= "
                             f"2 * d = {2 * d} so that the regression is determined")
        masks = _sampled_coalitions(n, d, n_coalitions, rng)
        w = np.ones(masks.shape[:2])
    V = coalition_values(model, X, bg, masks[..., col_var])
    try:
        phi = constrained_wls(masks, w, V - f0, fx - f0)
    except np.linalg.LinAlgError:
        raise ValueError(f"n_coalitions={n_coalitions} is invalid here: the sampled coalitions do "
                         "not determine the regression for some row; use more") from None
    eff = float(np.max(np.abs(phi.sum(axis=1) - (fx - f0))))
    return Attribution(local=phi, aggregation="mean_abs_local", rows=None if data.groups else X.astype(np.float64),
                       extras={"efficiency_error": eff, "exact": float(exact),
                               "coalitions_per_row": float(masks.shape[-2])})


def _permutation_ranks(n: int, m: int, d: int, antithetic: bool, rng: np.random.Generator) -> np.ndarray:
    """(n, m, d) ranks: rank[i, k, j] = position of feature j in permutation k of row i. With
    antithetic sampling, permutation 2t+1 is the reverse of permutation 2t."""
    if antithetic:
        ranks = rng.random((n, m // 2, d)).argsort(axis=2).argsort(axis=2)
        return np.stack([ranks, d - 1 - ranks], axis=2).reshape(n, m, d)
    return rng.random((n, m, d)).argsort(axis=2).argsort(axis=2)


def _walk_permutations(model: TrainedModel, X: np.ndarray, starts: np.ndarray,
                       ranks: np.ndarray, col_var: np.ndarray) -> np.ndarray:
    """Outputs along each permutation walk of the V players, shape (n, m, V + 1): step k has the
    columns of the k first players of the permutation from x (row of X) and the others from
    `starts` (n, m, d); col_var (d,) maps each column to its player."""
    n, d = X.shape
    m, V = ranks.shape[1], ranks.shape[2]
    steps = np.arange(V + 1)

    def build(i0: int, i1: int) -> np.ndarray:
        M = ranks[i0:i1, :, None, :][..., col_var] < steps[None, None, :, None]
        return np.where(M, X[i0:i1, None, None, :], starts[i0:i1, :, None, :]).reshape(i1 - i0, -1, d)

    return predict_rows(model, n, m * (V + 1), build).reshape(n, m, V + 1)


def _contributions(F: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Marginal contribution of each feature along each walk: F[rank_j + 1] - F[rank_j], (n, m, d)."""
    return np.take_along_axis(F, ranks + 1, axis=2) - np.take_along_axis(F, ranks, axis=2)


def sampling_shapley(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_rows: int | None = 50,
                     background_size: int | None = 100, n_permutations: int = 100,
                     antithetic: bool = True, average_background: bool = False) -> Attribution:
    """Permutation-sampling Shapley values (Castro et al. 2009; Strumbelj & Kononenko 2014).

    For each explained row, n_permutations random feature orders; walking an order from the
    reference to x (d + 1 steps) gives every feature's marginal contribution. The mean is
    unbiased for the interventional Shapley value with the background sample. The reference:

    - average_background=False (default): each order is paired with one background row drawn
      uniformly from the background sample, d + 1 evaluations per order;
    - average_background=True: every coalition on the walk is valued against the whole
      background sample, v_x(S) = mean_b f(x_S, b_notS), as shap's `PermutationExplainer`
      does: (d - 1) x background evaluations per order (the empty and full coalitions, the
      same for every order, are evaluated once), and no background noise in the estimate.

    Antithetic: each order is followed by its reverse (same background row). Extras: largest
    standard error over rows and features."""
    check_int("n_permutations", n_permutations, 1)
    if antithetic and n_permutations % 2:
        raise ValueError(f"n_permutations={n_permutations!r} is invalid with antithetic=True: "
                         "expected an even integer (orders come in reversed pairs)")
    if not isinstance(average_background, (bool, np.bool_)):
        raise ValueError(f"average_background={average_background!r} is invalid: expected true or false")
    X, bg, col_var, d = _rows_background_players(data, n_rows, background_size, rng)
    n = X.shape[0]
    m = n_permutations
    ranks = _permutation_ranks(n, m, d, antithetic, rng)
    if average_background:
        F = _averaged_walks(model, X, bg, ranks, col_var)
    else:
        pick = rng.integers(bg.shape[0], size=(n, m // 2 if antithetic else m))
        if antithetic:
            pick = np.repeat(pick, 2, axis=1)
        F = _walk_permutations(model, X, bg[pick], ranks, col_var)
    C = _contributions(F, ranks)
    units = C.reshape(n, m // 2, 2, d).mean(axis=2) if antithetic else C  # independent units
    extras = {}
    if units.shape[1] > 1:
        extras["max_stderr"] = float(np.max(units.std(axis=1, ddof=1)) / np.sqrt(units.shape[1]))
    return Attribution(local=C.mean(axis=1), aggregation="mean_abs_local",
                       rows=None if data.groups else X.astype(np.float64), extras=extras)


def _averaged_walks(model: TrainedModel, X: np.ndarray, bg: np.ndarray, ranks: np.ndarray,
                    col_var: np.ndarray) -> np.ndarray:
    """Coalition values v_x(S) = mean_b f(x_S, b_notS) along each permutation walk of the V
    players, shape (n, m, V + 1) (as `_walk_permutations`, each step averaged over the whole
    background): the V - 1 inner steps through `coalition_values`, the empty coalition
    (mean_b f(b)) and the full one (f(x)) once."""
    n, m, V = ranks.shape
    inner = ranks[:, :, None, :] < np.arange(1, V)[None, None, :, None]  # (n, m, V - 1, V)
    mid = coalition_values(model, X, bg, inner.reshape(n, m * (V - 1), V)[..., col_var])
    ends = model.predict(np.vstack([X, bg])).astype(np.float64)
    empty = np.full((n, m, 1), ends[n:].mean())
    return np.concatenate([empty, mid.reshape(n, m, V - 1), np.broadcast_to(ends[:n, None, None], (n, m, 1))],
                          axis=2)


def sage(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_rows: int | None = 1000,
         background_size: int | None = 64, n_permutations: int = 2048,
         convergence_threshold: float | None = 0.025, batch_size: int = 128) -> Attribution:
    """SAGE (Covert, Lundberg & Lee 2020): Shapley values of the game v(S) = E[loss(y, f_empty)]
    - E[loss(y, f_S(x_S))], with f_S(x_S) = mean over the background of f(x_S, b_notS) (marginal
    imputation; for classification the averaged quantity is P(class 1)). Loss: squared error or
    log loss, as `TrainedModel.loss`.

    Permutation estimator: each sample draws (x, y) uniformly from a pool of n_rows test rows and a
    random feature order, and adds features one at a time, crediting each with the loss decrease.
    Samples are taken batch_size at a time, up to n_permutations; with convergence_threshold set,
    it stops once the largest standard error is below that fraction of the spread (max - min;
    |phi| when d = 1) of the estimates (the rule of the `sage` package). Extras: samples used,
    converged (only with a threshold), largest standard error, pool losses with no feature and
    with all features, and the efficiency gap sum(phi) - (loss_empty - loss_full)."""
    check_int("n_permutations", n_permutations, 2)
    check_int("batch_size", batch_size, 1)
    if convergence_threshold is not None and not (isinstance(convergence_threshold, (int, float))
                                                  and convergence_threshold > 0):
        raise ValueError(f"convergence_threshold={convergence_threshold!r} is invalid: "
                         "expected a number > 0 or null")
    idx = sample_rows(data.X_test.shape[0], n_rows, rng)
    Xp = np.asarray(data.X_test[idx], dtype=np.float32)
    yp = np.asarray(data.y_test[idx], dtype=np.float64)
    bg = background_sample(data.X_train, background_size, rng)
    col_var = variable_of_column(data)  # players: the variables (a group is one player)
    d = data.n_variables
    g = to_probability(model)
    out_bg = model.predict(bg).astype(np.float64)
    f_empty = float(np.mean(out_bg if g is None else g(out_bg)))
    fx_pool = model.predict(Xp).astype(np.float64)
    pool_full = loss_of_output(model, fx_pool if g is None else g(fx_pool), yp)
    loss_empty = float(np.mean(loss_of_output(model, np.full(yp.shape, f_empty), yp)))

    total, total_sq, done = np.zeros(d), np.zeros(d), 0
    converged, se = False, np.full(d, np.inf)
    while done < n_permutations and not converged:
        m = min(batch_size, n_permutations - done)
        rows = rng.integers(Xp.shape[0], size=m)
        ranks = rng.random((m, d)).argsort(axis=1).argsort(axis=1)
        # prefixes of length 1..d-1 are imputed; length 0 and d are known exactly
        prefixes = ranks[:, None, :] < np.arange(1, d)[None, :, None]
        mid = coalition_values(model, Xp[rows], bg, prefixes[..., col_var], output_fn=g)
        F = np.concatenate([np.full((m, 1), f_empty), mid,
                            (fx_pool if g is None else g(fx_pool))[rows, None]], axis=1)
        L = loss_of_output(model, F, yp[rows, None])
        gain = np.take_along_axis(L, ranks, axis=1) - np.take_along_axis(L, ranks + 1, axis=1)
        total += gain.sum(axis=0)
        total_sq += (gain**2).sum(axis=0)
        done += m
        mean = total / done
        if done > 1:
            var = np.maximum(total_sq / done - mean**2, 0.0) * done / (done - 1)
            se = np.sqrt(var / done)
            if convergence_threshold is not None:
                spread = float(mean.max() - mean.min()) if d > 1 else float(abs(mean[0]))
                converged = bool(se.max() == 0 or (spread > 0 and se.max() < convergence_threshold * spread))
    phi = total / done
    loss_full = float(np.mean(pool_full))
    extras = {"n_permutations": float(done), "max_stderr": float(se.max()),
              "loss_empty": loss_empty, "loss_full": loss_full,
              "efficiency_gap": float(phi.sum() - (loss_empty - loss_full))}
    if convergence_threshold is not None:
        extras["converged"] = float(converged)
    return Attribution(importance=phi, aggregation="global", extras=extras)
