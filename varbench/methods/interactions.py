"""The interaction track's methods: each `fn(model, data, rng, **params) -> Interactions`, a
symmetric matrix of pairwise interaction strengths whose diagonal is ignored (the result type is
`varbench.methods.base.Interactions`; the scores, `varbench.scoring.interactions`; the generators
with known interacting pairs, `varbench.datasets.interactions`). Their configs name them as
`varbench.interactions.methods.<name>`, a re-export kept because that path is part of each
method's config hash.

- `h_statistic`: Friedman & Popescu's (2008) pairwise H^2 from partial dependence;
- `shapley_interactions`: the Shapley interaction index (Grabisch & Roubens 1999) of the
  interventional value function, exact by coalition enumeration or sampled;
- `expected_hessian`: mean |d2f / dxi dxj| over data rows (nested GradientTape), optionally on
  a SoftPlus-smoothed copy of a ReLU network (Janizek et al. 2021);
- `nid`: Neural Interaction Detection (Tsang et al. 2018) from the Dense kernels;
- `sobol_second_order`: second-order Sobol indices of the model (Saltelli 2002 design);
- `random_interactions`, `oracle_interactions`: the floor and the ceiling.

Shared machinery comes from `varbench.methods.shapley` (`coalition_values`, `predict_rows`,
`all_coalitions`, `background_sample`, `check_int`), `varbench.methods.sensitivity`
(`saltelli_matrices`) and `varbench.methods.weights` (`dense_kernels`).
"""
from __future__ import annotations

from math import comb

import numpy as np

from varbench.datasets.base import Dataset
from varbench.datasets.interactions import upper_pairs
from varbench.methods.base import Interactions, sample_rows
from varbench.methods.sensitivity import saltelli_matrices
from varbench.methods.shapley import (MAX_EXACT, all_coalitions, background_sample, check_int,
                                      coalition_values, predict_rows)
from varbench.methods.weights import dense_kernels
from varbench.models.engine import map_blocks
from varbench.models.trained import TrainedModel


def _explained_rows(data: Dataset, n_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(data.X_test[sample_rows(data.X_test.shape[0], n_rows, rng)], dtype=np.float32)


def _symmetric(d: int, upper: np.ndarray) -> np.ndarray:
    """A (d, d) symmetric matrix from its strict upper triangle in `upper_pairs` order."""
    M = np.zeros((d, d))
    iu, ju = upper_pairs(d)
    M[iu, ju] = upper
    M[ju, iu] = upper
    return M


# --- Friedman's H-statistic --------------------------------------------------------------------

def h_statistic(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_rows: int | None = 150,
                normalize: bool = True) -> Interactions:
    """Friedman & Popescu (2008) pairwise H-statistic from partial dependence (PD).

    On a sample of n_rows test rows x^(1..n), which also serves as the background: for S = {j},
    {k} and {j, k}, PD_S(x_S^(i)) = mean_b f(x_S^(i), x_notS^(b)), centred over i. Then
        H^2_jk = sum_i [PD_jk - PD_j - PD_k]^2 / sum_i PD_jk^2            (normalize=True)
        H_jk   = sqrt(mean_i [PD_jk - PD_j - PD_k]^2)                     (normalize=False,
    Friedman & Popescu's unnormalised statistic, in output units). A pair whose joint PD is flat
    (sum PD_jk^2 <= 1e-10 x the largest such sum over pairs) gets 0. All d + d(d-1)/2 partial dependences come from one
    batched pass: (d + d(d-1)/2) n^2 model evaluations. Extras: largest H^2 (or H), rows."""
    if not isinstance(normalize, bool):
        raise ValueError(f"normalize={normalize!r} is invalid: expected true or false")
    X = _explained_rows(data, n_rows, rng)
    n, d = X.shape
    if n < 2:
        raise ValueError(f"n_rows={n_rows!r} is invalid: the H-statistic needs at least 2 rows")
    iu, ju = upper_pairs(d)
    eye = np.eye(d, dtype=bool)
    masks = np.concatenate([eye, eye[iu] | eye[ju]], axis=0)  # singletons, then pairs
    PD = coalition_values(model, X, X, masks)
    PD -= PD.mean(axis=0, keepdims=True)
    single, joint = PD[:, :d], PD[:, d:]
    resid = joint - single[:, iu] - single[:, ju]
    num = np.sum(resid**2, axis=0)
    if normalize:
        den = np.sum(joint**2, axis=0)
        floor = 1e-10 * max(float(den.max(initial=0.0)), 1e-300)
        stat = np.where(den > floor, num / np.where(den > floor, den, 1.0), 0.0)
    else:
        stat = np.sqrt(num / n)
    return Interactions(matrix=_symmetric(d, stat),
                        extras={"max_statistic": float(stat.max(initial=0.0)), "rows": float(n)})


# --- Shapley interaction index -----------------------------------------------------------------

def _interaction_weights(d: int) -> np.ndarray:
    """Grabisch-Roubens weights |S|! (d - |S| - 2)! / (d - 1)! for |S| = 0..d-2, i.e.
    1 / ((d - 1) C(d - 2, s)): uniform size, then a uniform coalition of that size."""
    return np.array([1.0 / ((d - 1) * comb(d - 2, s)) for s in range(d - 1)])


def exact_shapley_interactions(values: np.ndarray) -> np.ndarray:
    """Shapley interaction indices of every pair from a full table of coalition values indexed
    as `all_coalitions` (bit j of the index = feature j):
        I_jk = sum_{S not containing j, k} w(|S|) [v(S+jk) - v(S+j) - v(S+k) + v(S)],
    w(s) = s! (d - s - 2)! / (d - 1)!. values: (..., 2^d) -> (..., d(d-1)/2) in `upper_pairs`
    order. (SHAP interaction values split I_jk equally between (j, k) and (k, j): they are I/2.)"""
    values = np.asarray(values, dtype=np.float64)
    K = values.shape[-1]
    d = K.bit_length() - 1
    if K != 2**d or d < 2:
        raise ValueError(f"values must have 2^d entries (d >= 2) on the last axis, got {K}")
    idx = np.arange(K)
    size = np.array([bin(i).count("1") for i in range(K)])
    w = _interaction_weights(d)
    iu, ju = upper_pairs(d)
    out = np.empty(values.shape[:-1] + (iu.size,))
    for p, (j, k) in enumerate(zip(iu, ju)):  # loop over pairs; rows and coalitions vectorised
        S = idx[((idx >> j) & 1 == 0) & ((idx >> k) & 1 == 0)]
        delta = (values[..., S | (1 << j) | (1 << k)] - values[..., S | (1 << j)]
                 - values[..., S | (1 << k)] + values[..., S])
        out[..., p] = delta @ w[size[S]]
    return out


def _sampled_shapley_interactions(model: TrainedModel, X: np.ndarray, bg: np.ndarray, n_samples: int,
                                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo Shapley interaction indices: per row, pair and sample, a coalition S of the
    other d - 2 features with Grabisch-Roubens probability (size uniform on 0..d-2, members
    uniform) and one background row b; the discrete derivative f(x_{S+jk}, b) - f(x_{S+j}, b) -
    f(x_{S+k}, b) + f(x_S, b) is unbiased for I_jk. Returns (mean (n, P), standard error (n, P))."""
    n, d = X.shape
    iu, ju = upper_pairs(d)
    P, m = iu.size, n_samples
    sizes = rng.integers(0, d - 1, size=(n, P, m))
    pick = rng.integers(bg.shape[0], size=(n, P, m))
    onehot_j = np.eye(d, dtype=bool)[iu][None, :, None, :]
    onehot_k = np.eye(d, dtype=bool)[ju][None, :, None, :]
    per_row = P * m * 4

    def build(i0: int, i1: int) -> np.ndarray:
        # coalitions drawn per block of rows (blocks come in order: deterministic for a seed)
        keys = rng.random((i1 - i0, P, m, d))
        keys[:, np.arange(P), :, iu] = np.inf  # j and k never join S
        keys[:, np.arange(P), :, ju] = np.inf
        s = keys.argsort(axis=-1).argsort(axis=-1) < sizes[i0:i1, ..., None]  # (r, P, m, d)
        masks = np.stack([s | onehot_j | onehot_k, s | onehot_j, s | onehot_k, s], axis=3)  # (r,P,m,4,d)
        B = bg[pick[i0:i1]][:, :, :, None, :]
        return np.where(masks, X[i0:i1, None, None, None, :], B).reshape(i1 - i0, per_row, d)

    F = predict_rows(model, n, per_row, build).reshape(n, P, m, 4)
    delta = F[..., 0] - F[..., 1] - F[..., 2] + F[..., 3]
    se = delta.std(axis=2, ddof=1) / np.sqrt(m) if m > 1 else np.full((n, P), np.nan)
    return delta.mean(axis=2), se


def shapley_interactions(model: TrainedModel, data: Dataset, rng: np.random.Generator,
                         n_rows: int | None = 40, background_size: int | None = 40,
                         max_exact_features: int = 10, n_samples: int = 64) -> Interactions:
    """Pairwise Shapley interaction index (Grabisch & Roubens 1999; the quantity Lundberg et
    al. 2020 split into SHAP interaction values) of the interventional value function
    v_x(S) = mean_b f(x_S, b_notS) over a background of X_train rows, per explained test row;
    global strength = mean over rows of |I_jk(x)|.

    d <= max_exact_features: exact, from all 2^d coalition values per row (cost n_rows x 2^d x
    background_size evaluations). Otherwise sampled: n_samples coalitions per row and pair, each
    with one background row (cost n_rows x d(d-1)/2 x n_samples x 4), unbiased for the same
    index (mean |estimate| over rows is biased upward by about the local standard error for pairs
    whose index is ~0). Extras: exact (1/0), rows, largest strength, and for sampling the largest
    standard error of a local index."""
    check_int("max_exact_features", max_exact_features, 2)
    if max_exact_features > MAX_EXACT:
        raise ValueError(f"max_exact_features={max_exact_features!r} is invalid: expected an integer in "
                         f"[2, {MAX_EXACT}] (exact mode builds 2^d coalitions per row)")
    check_int("n_samples", n_samples, 1)
    X = _explained_rows(data, n_rows, rng)
    bg = background_sample(data.X_train, background_size, rng)
    n, d = X.shape
    if d < 2:
        raise ValueError(f"the data has d={d} feature: interactions need at least 2")
    exact = d <= max_exact_features
    extras = {"exact": float(exact), "rows": float(n)}
    if exact:
        local = exact_shapley_interactions(coalition_values(model, X, bg, all_coalitions(d)))
    else:
        local, se = _sampled_shapley_interactions(model, X, bg, n_samples, rng)
        if n_samples > 1:
            extras["max_stderr"] = float(np.max(se))
    strength = np.mean(np.abs(local), axis=0)
    extras["max_strength"] = float(strength.max(initial=0.0))
    return Interactions(matrix=_symmetric(d, strength), extras=extras)


# --- Expected Hessian --------------------------------------------------------------------------

def _dense_chain(model: TrainedModel, softplus_beta: float, probe: np.ndarray):
    """A TF function computing the network's output with every ReLU replaced by
    softplus(beta z) / beta, for a plain chain of Dense (and Dropout) layers. Checked on the
    `probe` rows against the real network with the replacement switched off; raises ValueError
    for other architectures."""
    import keras
    import tensorflow as tf

    if model.n_outputs != 1 or model.head.activation != "linear":
        raise ValueError(f"softplus_beta={softplus_beta} needs a single linear output unit (the harness's MLP); "
                         f"this model is a {model.head.describe()}: use softplus_beta=null")
    steps = []
    for layer in model.keras.layers:
        kind = layer.__class__.__name__
        if kind == "InputLayer":
            continue
        if kind == "Dropout":
            continue  # identity at inference
        if kind != "Dense":
            raise ValueError(f"softplus_beta={softplus_beta} needs a plain Dense network; found a {kind} "
                             "layer (use softplus_beta=null for the exact Hessian)")
        weights = layer.get_weights()
        W = tf.constant(weights[0])
        b = tf.constant(weights[1] if layer.use_bias else np.zeros(weights[0].shape[1], weights[0].dtype))
        act = layer.activation
        steps.append((W, b, act, getattr(act, "__name__", "") == "relu"))
    if not steps:
        raise ValueError(f"softplus_beta={softplus_beta} needs a Dense network; the model has none")
    beta = float(softplus_beta)

    def forward(x, smooth: bool = True):
        h = x
        for W, b, act, relu in steps:
            z = tf.matmul(h, W) + b
            h = tf.nn.softplus(beta * z) / beta if (relu and smooth) else act(z)
        out = h[:, 0]
        return tf.sigmoid(out) if model.explains_prob else out

    probe = np.asarray(probe, dtype=np.float32)
    exact = forward(tf.constant(probe), smooth=False).numpy()
    ref = keras.ops.convert_to_numpy(model.keras(probe, training=False))[:, 0]
    if model.explains_prob:
        ref = 1 / (1 + np.exp(-ref))
    if not np.allclose(exact, ref, rtol=1e-4, atol=1e-5 * (1 + np.abs(ref).max())):
        raise ValueError(f"softplus_beta={softplus_beta} needs a plain chain of Dense layers; this "
                         "network's layers do not reproduce its output in sequence")
    return forward


def expected_hessian(model: TrainedModel, data: Dataset, rng: np.random.Generator, n_rows: int | None = 500,
                     softplus_beta: float | None = 10.0, scale: bool = True) -> Interactions:
    """Expected absolute Hessian: strength_jk = mean over n_rows test rows of |d2f / dx_j dx_k|,
    times sd(x_j) sd(x_k) of X_train when `scale` (a change of output per joint 1-sd move, so the
    inputs' units do not rank the pairs).

    Computed exactly by a nested GradientTape (batch Jacobian of the input gradient) in one traced
    tf.function, in the engine's blocks (`model.blocks`: d gradient passes per row); each row counts d evaluations in model.n_evals (one
    gradient pass per Hessian row), plus one per row for the smoothing gap when smoothing. A ReLU network's Hessian is 0 almost everywhere, so with
    softplus_beta set (plain Dense networks only) every ReLU is replaced by softplus(beta z) / beta
    for this computation, as Janizek et al. (2021) do for Integrated Hessians; extras report the
    smoothing gap mean |f_smooth - f| / sd(f) on the rows. softplus_beta=null: the model's own
    Hessian. Extras: largest strength, rows, smoothing_gap."""
    import tensorflow as tf

    if softplus_beta is not None and not (isinstance(softplus_beta, (int, float))
                                          and not isinstance(softplus_beta, bool) and softplus_beta > 0):
        raise ValueError(f"softplus_beta={softplus_beta!r} is invalid: expected a number > 0 or null")
    if not isinstance(scale, bool):
        raise ValueError(f"scale={scale!r} is invalid: expected true or false")
    X = _explained_rows(data, n_rows, rng)
    n, d = X.shape
    extras: dict[str, float] = {"rows": float(n)}
    if softplus_beta is None:
        col = model.target or 0

        def head(x):
            return model.explained_tensor(x)[:, col]
    else:
        head = _dense_chain(model, softplus_beta, X[:64])

    def hessian(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = head(x)
            g = inner.gradient(y, x)
        return outer.batch_jacobian(g, x), y

    fn = tf.function(hessian, input_signature=[tf.TensorSpec([None, d], tf.float32)])
    def evaluate(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        H, y = fn(tf.constant(x))
        return np.abs(H.numpy().astype(np.float64)).sum(axis=0), y.numpy()

    parts = map_blocks(model.blocks(n, d), lambda b: X[b[0]:b[1]], evaluate)
    total = np.zeros((d, d))
    for block_total, _ in parts:  # summed in block order, as one block after another
        total += block_total
    outs = [y for _, y in parts]
    model.n_evals += n * d
    M = total / n
    M = (M + M.T) / 2  # float rounding can make the autodiff Hessian very slightly asymmetric
    if softplus_beta is not None:
        f = model.predict(X).astype(np.float64)
        extras["smoothing_gap"] = float(np.mean(np.abs(np.concatenate(outs) - f)) / max(np.std(f), 1e-12))
    if scale:
        sd = np.asarray(data.X_train, dtype=np.float64).std(axis=0)
        M = M * np.outer(sd, sd)
    np.fill_diagonal(M, 0.0)
    extras["max_strength"] = float(M.max(initial=0.0))
    return Interactions(matrix=M, extras=extras)


# --- NID ---------------------------------------------------------------------------------------

def nid(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> Interactions:
    """Neural Interaction Detection, pairwise (Tsang, Cheng & Liu 2018): with first-layer kernel
    W1 (d x h1) and the aggregated influence of each first-layer unit on the output
    z = |W2| |W3| ... |W_L[:, 0]| (h1,), the strength of pair (j, k) is
        omega_jk = sum_h z_h min(|W1[j, h]|, |W1[k, h]|)
    (the paper's min-based formula). Biases and activations are ignored. A network with no
    hidden layer (a linear map) has no interaction: all zeros. Extras: hidden units, largest omega."""
    kernels = [np.asarray(k, dtype=np.float64) for k in dense_kernels(model)]
    d = model.n_features
    if len(kernels) == 1:
        return Interactions(matrix=np.zeros((d, d)), extras={"hidden_units": 0.0, "max_strength": 0.0})
    z = np.abs(kernels[-1][:, :1])
    for W in reversed(kernels[1:-1]):
        z = np.abs(W) @ z
    A = np.abs(kernels[0])  # (d, h1)
    M = np.minimum(A[:, None, :], A[None, :, :]) @ z[:, 0]
    np.fill_diagonal(M, 0.0)
    return Interactions(matrix=M, extras={"hidden_units": float(A.shape[1]), "max_strength": float(M.max())})


# --- Second-order Sobol indices ----------------------------------------------------------------

def sobol_second_from_outputs(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray,
                              fBA: np.ndarray) -> dict[str, np.ndarray]:
    """First- and second-order Sobol indices from the outputs of Saltelli's (2002) design:
    fA, fB (N,); fAB (d, N) = A with column j from B; fBA (d, N) = B with column j from A.
    All outputs are first centred by their grand mean (as SALib does). With V = Var([fA, fB]):
        S_j = mean(fB (fAB_j - fA)) / V                                   (Saltelli et al. 2010)
        S_jk^closed = mean(fBA_j fAB_k - fA fB) / V, S_jk = S_jk^closed - S_j - S_k.
    (BA_j and AB_k share exactly the columns j and k, so their covariance is the variance of
    E[f | x_j, x_k].) Returns first (d,), second (d, d) symmetric with zero diagonal, variance."""
    fA, fB, fAB, fBA = (np.asarray(a, dtype=np.float64) for a in (fA, fB, fAB, fBA))
    c = np.concatenate([fA, fB, fAB.ravel(), fBA.ravel()]).mean()
    fA, fB, fAB, fBA = fA - c, fB - c, fAB - c, fBA - c
    var = float(np.var(np.concatenate([fA, fB])))
    d = fAB.shape[0]
    if var <= 0:
        return {"first": np.zeros(d), "second": np.zeros((d, d)), "variance": np.array(var)}
    first = np.mean(fB[None] * (fAB - fA[None]), axis=1) / var
    closed = (fBA @ fAB.T / fA.size - np.mean(fA * fB)) / var  # closed[j, k] from BA_j, AB_k
    second = closed - first[:, None] - first[None, :]
    second = (second + second.T) / 2  # the (j, k) and (k, j) estimates use different products
    np.fill_diagonal(second, 0.0)
    return {"first": first, "second": second, "variance": np.array(var)}


def sobol_second_order(model: TrainedModel, data: Dataset, rng: np.random.Generator,
                       n_samples: int = 4096) -> Interactions:
    """Second-order Sobol indices S_jk of the model, inputs from the product of X_train's
    empirical marginals (independence assumed, as `varbench.methods.sensitivity`): Saltelli's
    design A, B, AB_j (`saltelli_matrices`) plus BA_j = B with column j from A, (2d + 2) N model
    evaluations in one batch, estimator `sobol_second_from_outputs`. The matrix holds max(S_jk, 0)
    (negative estimates are Monte Carlo noise around 0); extras keep the raw sum and minimum,
    the sum of first-order indices and the output variance."""
    check_int("n_samples", n_samples, 2)
    X_ref = np.asarray(data.X_train, dtype=np.float32)
    d, N = X_ref.shape[1], n_samples
    Z = saltelli_matrices(X_ref, N, rng)
    A, B = Z[:N], Z[N:2 * N]
    BA = np.repeat(B[None], d, axis=0)
    BA[np.arange(d), :, np.arange(d)] = A.T
    f = model.predict(np.concatenate([Z, BA.reshape(-1, d)], axis=0)).astype(np.float64)
    fA, fB = f[:N], f[N:2 * N]
    fAB = f[2 * N:(d + 2) * N].reshape(d, N)
    fBA = f[(d + 2) * N:].reshape(d, N)
    res = sobol_second_from_outputs(fA, fB, fAB, fBA)
    S2 = res["second"]
    iu, ju = upper_pairs(d)
    extras = {"sum_second_raw": float(S2[iu, ju].sum()), "min_second_raw": float(S2[iu, ju].min(initial=0.0)),
              "sum_first": float(res["first"].sum()), "output_variance": float(res["variance"])}
    return Interactions(matrix=np.maximum(S2, 0.0), extras=extras)


# --- Reference points --------------------------------------------------------------------------

def random_interactions(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> Interactions:
    """Uniform random pair strengths (symmetric): the floor (pairwise AUC 0.5 on average)."""
    d = data.n_features
    return Interactions(matrix=_symmetric(d, rng.random(d * (d - 1) // 2)))


def oracle_interactions(model: TrainedModel, data: Dataset, rng: np.random.Generator) -> Interactions:
    """The data-generating interaction truth itself: the ceiling (not in the ranked suite)."""
    if data.truth.interactions is None:
        raise ValueError("the dataset has no interaction truth (truth.interactions is None)")
    return Interactions(matrix=np.asarray(data.truth.interactions, dtype=float).copy())


__all__ = ["h_statistic", "shapley_interactions", "exact_shapley_interactions", "expected_hessian",
           "nid", "sobol_second_order", "sobol_second_from_outputs", "random_interactions",
           "oracle_interactions"]
