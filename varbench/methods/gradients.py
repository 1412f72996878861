"""Gradient-based attributions: saliency, gradient x input, Integrated Gradients, Expected
Gradients, SmoothGrad, DeepLIFT (Rescale rule) and DeepSHAP.

All methods explain rows of `data.X_test` (a seeded sample of `n_rows`) and aggregate the local
attributions as mean |attribution| ("mean_abs_local"). Every gradient goes through one batched
`model.gradient` call on the whole (rows x samples x steps, d) matrix; the engine chunks it.
Baselines ("zero", "mean", "median" or a number) are computed on `data.X_train`.

Shared helpers defined here: `path_quadrature` (nodes and weights of the IG path integral) and
`dense_chain` (a Dense MLP read as a list of affine maps and elementwise activations).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, get_args

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution, Baseline, baseline_vector, sample_rows
from varbench.methods.shapley import background_sample
from varbench.models.chain import layer_chain
from varbench.models.engine import map_blocks
from varbench.models.trained import TrainedModel

Quadrature = Literal["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"]
SmoothgradBase = Literal["saliency", "grad_input", "integrated_gradients"]
QUADRATURES = get_args(Quadrature)
SMOOTHGRAD_BASES = get_args(SmoothgradBase)


# ----------------------------------------------------------------------------- validation

def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid: expected an integer >= {minimum}")
    return int(value)


def _explained_rows(data: Dataset, n_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    """The rows of X_test a method explains, float32 (n, d)."""
    if n_rows is not None:
        _check_int("n_rows", n_rows, 1)
    X = data.X_test[sample_rows(data.X_test.shape[0], n_rows, rng)]
    return np.asarray(X, dtype=np.float32)


def _deltas(sums: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Completeness diagnostics: |sum_j phi_j - (f(x) - f(baseline))| per row: its max and mean,
    and relative_gap = mean gap / mean |f(x) - f(baseline)| (NaN if the model is flat there)."""
    target = np.asarray(target, np.float64)
    delta = np.abs(np.asarray(sums, np.float64) - target)
    scale = float(np.abs(target).mean())
    return {"max_abs_delta": float(delta.max()), "mean_abs_delta": float(delta.mean()),
            "relative_gap": float(delta.mean() / scale) if scale > 0 else float("nan")}


# ----------------------------------------------------------------------------- quadrature

def path_quadrature(steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes alpha_k in [0, 1] and weights w_k with sum_k w_k g(alpha_k) ~ int_0^1 g.

    "gausslegendre": Gauss-Legendre nodes mapped to [0, 1] (exact for polynomials of degree
    2 steps - 1); "riemann_left/right/middle": steps equal cells, evaluated at their left end,
    right end or centre; "riemann_trapezoid": steps equally spaced nodes including both ends
    (steps >= 2), end weights halved."""
    if method not in QUADRATURES:
        raise ValueError(f"method={method!r} is invalid: expected one of {QUADRATURES}")
    steps = _check_int("steps", steps, 2 if method == "riemann_trapezoid" else 1)
    if method == "gausslegendre":
        from scipy.special import roots_legendre

        t, w = roots_legendre(steps)
        return (t + 1) / 2, w / 2
    if method == "riemann_trapezoid":
        alphas = np.linspace(0.0, 1.0, steps)
        w = np.full(steps, 1.0 / (steps - 1))
        w[[0, -1]] /= 2
        return alphas, w
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (np.arange(steps) + offset) / steps, np.full(steps, 1.0 / steps)


# ----------------------------------------------------------------------------- gradient core

def _smoothed_gradient(model: TrainedModel, X: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    """grad f(x) per row, or its average over the noisy copies x + noise[:, s] (one batch)."""
    if noise is None:
        return model.gradient(X).astype(np.float64)
    n, s, d = noise.shape
    G = model.gradient((X[:, None, :] + noise).reshape(-1, d)).reshape(n, s, d)
    return G.astype(np.float64).mean(axis=1)


def _integrated(model: TrainedModel, X: np.ndarray, ref: np.ndarray, steps: int, method: str,
                noise: np.ndarray | None) -> tuple[np.ndarray, dict[str, float]]:
    """IG from `ref` to each row of X, of f or (with noise (n, s, d)) of each shifted model
    f(. + noise[i, s]) averaged over s. Returns phi (n, d) and the completeness deltas.

    Rows are taken in the engine's blocks (`model.blocks`) of at most `model.chunk_size` path points (samples x steps per
    row), so peak memory is bounded by the engine's chunk size, not by rows x steps x features;
    each block is one gradient call and one predict call for its end points, in the engine's
    lanes (`map_blocks`)."""
    alphas, weights = path_quadrature(steps, method)
    n, d = X.shape
    s = 1 if noise is None else noise.shape[1]

    def prepare(block: tuple[int, int]) -> tuple[np.ndarray, ...]:
        lo, hi = block
        Xb = X[lo:hi]
        eps = np.zeros((Xb.shape[0], 1, d), np.float32) if noise is None else noise[lo:hi]
        diff = Xb - ref  # float32 (nb, d)
        a = alphas.astype(np.float32)[None, None, :, None]
        return Xb, eps, diff, ref + a * diff[:, None, None, :] + eps[:, :, None, :]  # path (nb, s, k, d)

    def evaluate(prepared: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        Xb, eps, diff, path = prepared
        nb = Xb.shape[0]
        G = model.gradient(path.reshape(-1, d)).reshape(nb, s, len(alphas), d)
        avg = np.einsum("k,nskd->nd", weights, G.astype(np.float64)) / s
        phi = diff.astype(np.float64) * avg
        if noise is None:
            out = model.predict(np.vstack([Xb, ref[None, :]])).astype(np.float64)
            return phi, out[:nb] - out[nb]
        ends = np.concatenate([Xb[:, None, :] + eps, ref + eps], axis=1).reshape(-1, d)
        out = model.predict(ends).astype(np.float64).reshape(nb, 2, s)
        return phi, (out[:, 0] - out[:, 1]).mean(axis=1)

    parts = map_blocks(model.blocks(n, s * len(alphas)), prepare, evaluate)
    phis, targets = [p[0] for p in parts], [p[1] for p in parts]
    phi = np.concatenate(phis)
    return phi, _deltas(phi.sum(axis=1), np.concatenate(targets))


# ----------------------------------------------------------------------------- methods

def saliency(model: TrainedModel, data: Dataset, rng: np.random.Generator,
             n_rows: int | None = 1000) -> Attribution:
    """Saliency (Simonyan et al. 2014): |d f / d x_j| at each explained row. A sensitivity,
    not an additive attribution (rows is not set)."""
    X = _explained_rows(data, n_rows, rng)
    return Attribution(local=np.abs(model.gradient(X).astype(np.float64)), aggregation="mean_abs_local")


def grad_input(model: TrainedModel, data: Dataset, rng: np.random.Generator,
               n_rows: int | None = 1000, baseline: Baseline = "zero") -> Attribution:
    """Gradient x input (Shrikumar et al. 2016): grad f(x)_j * (x_j - b_j); the classic form has
    b = 0 ("zero"). Equal to the exact Shapley value w_j (x_j - b_j) for a linear model, but
    not additive for a non-linear f (sum_j phi_j != f(x) - f(b)), so rows is not set."""
    X = _explained_rows(data, n_rows, rng)
    ref = baseline_vector(data.X_train, baseline)
    local = model.gradient(X).astype(np.float64) * (X - ref).astype(np.float64)
    return Attribution(local=local, aggregation="mean_abs_local")


def integrated_gradients(model: TrainedModel, data: Dataset, rng: np.random.Generator,
                         n_rows: int | None = 500, baseline: Baseline = "mean", steps: int = 128,
                         method: Quadrature = "gausslegendre") -> Attribution:
    """Integrated Gradients (Sundararajan et al. 2017): phi_j = (x_j - b_j) int_0^1
    d f / d x_j (b + a (x - b)) da, the integral by `method` quadrature with `steps` nodes.
    Additive: sum_j phi_j = f(x) - f(b) up to the quadrature error, reported as extras
    max_abs_delta / mean_abs_delta / relative_gap. The default 128 Gauss-Legendre nodes keep
    relative_gap under 1% on the default ReLU MLP (measured up to 0.58%, on mixed_scales; 64
    nodes reached 1.12%: docs/ig-quadrature.md). Costs rows x steps gradients (batched calls of at most
    the engine's chunk size) plus rows + 1 predictions per block for the delta."""
    X = _explained_rows(data, n_rows, rng)
    ref = baseline_vector(data.X_train, baseline)
    phi, extras = _integrated(model, X, ref, steps, method, noise=None)
    return Attribution(local=phi, aggregation="mean_abs_local", extras=extras, rows=X)


def expected_gradients(model: TrainedModel, data: Dataset, rng: np.random.Generator,
                       n_rows: int | None = 500, background_size: int | None = 100,
                       n_samples: int = 200) -> Attribution:
    """Expected Gradients (Erion et al. 2021; shap's `GradientExplainer`): Integrated Gradients
    averaged over references drawn from a background sample of X_train, estimated by Monte
    Carlo as shap does: each of n_samples draws per row takes a uniform background row b and a
    uniform point a in [0, 1] and contributes grad f(b + a (x - b)) * (x - b). The estimand is
    mean_b IG(x; b), so sum_j phi_j(x) = f(x) - mean_b f(b) in expectation; the sampled gap is
    reported as max_abs_delta / mean_abs_delta / relative_gap (it shrinks as 1 / sqrt(n_samples)).

    The draws are made up front (the numbers do not depend on the engine's chunk size); the
    gradients go through the engine in blocks of at most `chunk_size` path points
    (`model.blocks`), one gradient call per block, in the engine's lanes (`map_blocks`). Costs
    rows x n_samples gradients plus rows + background predictions.

    Examples
    --------
    >>> from varbench.datasets.synthetic import linear
    >>> from varbench.models.mlp import build_mlp
    >>> from varbench.models.trainer import TrainerConfig, train
    >>> data = linear(n_samples=200, n_features=4, n_relevant=2, seed=0)
    >>> model = train(lambda n, t: build_mlp(n, t, hidden=(8,)), data.X_train, data.y_train, data.task, 0,
    ...               TrainerConfig(epochs=2, progress_every=0))
    >>> expected_gradients(model, data, np.random.default_rng(0), n_rows=20, n_samples=50).local.shape
    (20, 4)
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    X = _explained_rows(data, n_rows, rng)
    bg = background_sample(data.X_train, background_size, rng)
    n, d = X.shape
    pick = rng.integers(bg.shape[0], size=(n, n_samples))
    alpha = rng.random((n, n_samples, 1)).astype(np.float32)

    def prepare(block: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = block
        ref = bg[pick[lo:hi]]  # (nb, s, d)
        diff = X[lo:hi, None, :] - ref
        return diff, ref + alpha[lo:hi] * diff

    def evaluate(prepared: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        diff, path = prepared
        G = model.gradient(path.reshape(-1, d)).reshape(diff.shape)
        return (G.astype(np.float64) * diff.astype(np.float64)).mean(axis=1)

    phi = np.concatenate(map_blocks(model.blocks(n, n_samples), prepare, evaluate))
    out = model.predict(np.vstack([X, bg])).astype(np.float64)
    extras = _deltas(phi.sum(axis=1), out[:n] - out[n:].mean())
    return Attribution(local=phi, aggregation="mean_abs_local", extras=extras, rows=X)


def smoothgrad(model: TrainedModel, data: Dataset, rng: np.random.Generator,
               base: SmoothgradBase = "saliency", noise: float = 0.15, n_samples: int = 32,
               n_rows: int | None = 200, baseline: Baseline = "zero", steps: int = 32,
               method: Quadrature = "gausslegendre") -> Attribution:
    """SmoothGrad (Smilkov et al. 2017): the `base` method applied to the Gaussian-smoothed
    model f_s(x) = E f(x + e), e ~ N(0, diag((noise * sd_j)^2)) with sd_j the training std of
    feature j, estimated with n_samples draws per row (one batched gradient call):

    - "saliency": |mean_s grad f(x + e_s)| (the paper's averaged gradient, then magnitude);
    - "grad_input": (x - b) * mean_s grad f(x + e_s) (the input factor is not noised);
    - "integrated_gradients": mean_s IG of f(. + e_s) from b to x, the same draw e_s along the
      whole path, so sum_j phi_j = mean_s [f(x + e_s) - f(b + e_s)]; its deviation is reported
      as max_abs_delta / mean_abs_delta. `baseline` (default "zero"), `steps` and `method` are
      used by grad_input / integrated_gradients only.

    Smoothing the gradient (not noising the input factor, as Captum's NoiseTunnel does) keeps
    SmoothGrad equal to its base on a model with constant gradient. Not additive w.r.t. f
    (rows is not set)."""
    if base not in SMOOTHGRAD_BASES:
        raise ValueError(f"base={base!r} is invalid: expected one of {SMOOTHGRAD_BASES}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} is invalid: expected a finite number >= 0")
    n_samples = _check_int("n_samples", n_samples, 1)
    X = _explained_rows(data, n_rows, rng)
    ref = baseline_vector(data.X_train, baseline)
    sd = data.X_train.std(axis=0).astype(np.float64)
    eps = (rng.standard_normal((X.shape[0], n_samples, X.shape[1])) * (float(noise) * sd)).astype(np.float32)
    extras: dict[str, float] = {}
    if base == "integrated_gradients":
        local, extras = _integrated(model, X, ref, steps, method, noise=eps)
    else:
        G = _smoothed_gradient(model, X, eps)
        local = np.abs(G) if base == "saliency" else G * (X - ref).astype(np.float64)
    return Attribution(local=local, aggregation="mean_abs_local", extras=extras)


# ----------------------------------------------------------------------------- DeepLIFT

def _sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


def _gelu(z: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * z * (1 + erf(z / math.sqrt(2)))


def _gelu_grad(z: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * (1 + erf(z / math.sqrt(2))) + z * np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)


_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# name -> (a(z), a'(z)) in float64; each is checked against Keras in the tests.
ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "linear": (lambda z: z, np.ones_like),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
    "relu6": (lambda z: np.clip(z, 0.0, 6.0), lambda z: ((z > 0) & (z < 6)).astype(np.float64)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.2 * z), lambda z: np.where(z > 0, 1.0, 0.2)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "softplus": (lambda z: np.logaddexp(0.0, z), _sigmoid),
    "softsign": (lambda z: z / (1 + np.abs(z)), lambda z: 1 / (1 + np.abs(z)) ** 2),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
    "selu": (lambda z: _SELU_S * np.where(z > 0, z, _SELU_A * np.expm1(np.minimum(z, 0))),
             lambda z: _SELU_S * np.where(z >= 0, 1.0, _SELU_A * np.exp(np.minimum(z, 0)))),
    "silu": (lambda z: z * _sigmoid(z), lambda z: _sigmoid(z) * (1 + z * (1 - _sigmoid(z)))),
    "gelu": (_gelu, _gelu_grad),
    "exponential": (np.exp, np.exp),
}


@dataclass(frozen=True)
class Affine:
    """z = h @ W + b (float64)."""

    W: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class Elementwise:
    """h = a(z) for one of ACTIVATIONS."""

    name: str


def _activation_name(layer) -> str:
    import keras

    act = layer.activation
    name = getattr(act, "__name__", repr(act))
    if name not in ACTIVATIONS or act is not keras.activations.get(name):
        raise ValueError(f"DeepLIFT: layer {layer.name!r} has activation {name!r}; supported: "
                         f"{sorted(ACTIVATIONS)} (the stock Keras functions)")
    return name


def dense_chain(keras_model) -> list[Affine | Elementwise]:
    """Read a Keras model that is a plain chain input -> Dense / Activation / Dropout ... ->
    output as affine maps and elementwise activations (Dropout is the identity at inference).
    Raises ValueError for anything else (other layers, branches, shared layers, several
    inputs or outputs: `varbench.models.chain.layer_chain`)."""
    ops: list[Affine | Elementwise] = []
    for layer in layer_chain(keras_model, "DeepLIFT"):
        kind = layer.__class__.__name__
        if kind == "Dense":
            weights = layer.get_weights()
            W = np.asarray(weights[0], np.float64)
            b = np.asarray(weights[1], np.float64) if layer.use_bias else np.zeros(W.shape[1])
            ops.append(Affine(W, b))
            name = _activation_name(layer)
            if name != "linear":
                ops.append(Elementwise(name))
        elif kind == "Activation":
            ops.append(Elementwise(_activation_name(layer)))
    return ops


def _forward(ops: list[Affine | Elementwise], H: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Output and the pre-activation input of every Elementwise op."""
    pre = []
    for op in ops:
        if isinstance(op, Affine):
            H = H @ op.W + op.b
        else:
            pre.append(H)
            H = ACTIVATIONS[op.name][0](H)
    return H, pre


def _rescale(name: str, z: np.ndarray, z0: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Rescale multiplier (a(z) - a(z0)) / (z - z0), or a'((z + z0) / 2) where |z - z0| < tol."""
    a, grad = ACTIVATIONS[name]
    dz = z - z0
    small = np.abs(dz) < tol
    secant = (a(z) - a(z0)) / np.where(small, 1.0, dz)
    return np.where(small, grad((z + z0) / 2), secant)


def _explained_chain(model: TrainedModel) -> list[Affine | Elementwise]:
    """The network as a chain ending in what `model.predict` explains: a linear binary head
    explained as P(class 1) gains a final sigmoid; a sigmoid head explained as a logit loses
    it. A softmax (not elementwise) is not a Rescale nonlinearity: one-line error."""
    if model.task == "multiclass" and (model.explains_prob or model.head.activation != "linear"):
        raise ValueError("DeepLIFT (Rescale rule) needs elementwise nonlinearities; a softmax head is not: "
                         "explain the class logits (output='logit') of a network with a linear last layer")
    if model.head.activation == "sigmoid":
        last = model.keras.layers[-1]
        if last.__class__.__name__ != "Dense":
            raise ValueError("DeepLIFT: the sigmoid must be the activation of the last Dense layer")
    ops = dense_chain(model.keras)
    if model.task == "classification" and model.head.activation == "linear" and model.explains_prob:
        ops = ops + [Elementwise("sigmoid")]
    if model.head.activation == "sigmoid" and not model.explains_prob:
        ops = ops[:-1]  # the logit: the chain without its final sigmoid
    return ops


def _multipliers(ops: list[Affine | Elementwise], pre: list[np.ndarray], pre0: list[np.ndarray], col: int,
                 n_out: int) -> np.ndarray:
    """Rescale-rule multipliers of output `col` with respect to the input: affine layers pass W^T,
    each nonlinearity the secant `_rescale` between its inputs `pre` (at x) and `pre0` (at the
    reference). pre / pre0 broadcast against each other (rows against one reference, or rows x
    references); the result has their broadcast batch shape + (d,) ((d,) for a network without
    nonlinearities, whose multipliers are its weights)."""
    m = np.zeros(n_out)
    m[col] = 1.0
    k = len(pre)
    for op in reversed(ops):
        if isinstance(op, Affine):
            m = m @ op.W.T
        else:
            k -= 1
            m = m * _rescale(op.name, pre[k], pre0[k])
    return m


def deeplift(model: TrainedModel, data: Dataset, rng: np.random.Generator,
             n_rows: int | None = 1000, baseline: Baseline = "mean") -> Attribution:
    """DeepLIFT with the Rescale rule (Shrikumar et al. 2017) for Dense MLPs.

    Each elementwise nonlinearity a passes the multiplier (a(z) - a(z0)) / (z - z0) (z0: its
    input at the baseline; a'(z) where the two meet), affine layers pass W^T; the result times
    (x - b) sums to f(x) - f(b) exactly (summation-to-delta; the float64 residual is reported
    as max_abs_delta). Explains the same output as model.predict: for P(class 1) the final
    sigmoid is one more Rescale nonlinearity. Runs on the weights in numpy for all rows at
    once and adds 2 evaluations per row (input and baseline pass) to model.n_evals."""
    ops = _explained_chain(model)
    X = _explained_rows(data, n_rows, rng).astype(np.float64)
    ref = baseline_vector(data.X_train, baseline).astype(np.float64)[None, :]
    out, pre = _forward(ops, X)
    out0, pre0 = _forward(ops, ref)
    model.n_evals += 2 * X.shape[0]
    col = model.target or 0  # the engine's explained output column
    phi = _multipliers(ops, pre, pre0, col, out.shape[1]) * (X - ref)
    extras = _deltas(phi.sum(axis=1), out[:, col] - out0[0, col])
    return Attribution(local=phi, aggregation="mean_abs_local", extras=extras, rows=X.astype(np.float32))


def deep_shap(model: TrainedModel, data: Dataset, rng: np.random.Generator,
              n_rows: int | None = 1000, background_size: int | None = 100) -> Attribution:
    """DeepSHAP (Lundberg & Lee 2017; shap's `DeepExplainer`): DeepLIFT (Rescale rule, as
    `deeplift`) from every row b of a background sample of X_train as the reference, averaged:
    phi(x) = mean_b m(x, b) * (x - b). Summation-to-delta holds per reference, so
    sum_j phi_j(x) = f(x) - mean_b f(b) exactly (the float64 residual is reported as
    max_abs_delta); on a linear model phi = w * (x - mean_b b). Dense MLPs only, as `deeplift`.

    Runs on the weights in numpy: one forward pass of the rows and one of the background, then
    the backward pass of every (row, reference) pair in the engine's blocks (`model.blocks`, at
    most `chunk_size` pairs each) and lanes (`map_blocks`). Adds rows + background rows + pairs
    to model.n_evals.

    Examples
    --------
    A user's own network, through `varbench.api.importance`:

    >>> import keras
    >>> from varbench.api import importance
    >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    >>> X = np.random.default_rng(0).normal(size=(100, 3)).astype("float32")
    >>> importance(net, X, X.sum(axis=1), method="deep_shap", n_rows=20, background_size=30).shape
    (3, 4)
    """
    ops = _explained_chain(model)
    X = _explained_rows(data, n_rows, rng).astype(np.float64)
    bg = background_sample(data.X_train, background_size, rng).astype(np.float64)
    out, pre = _forward(ops, X)
    out0, pre0 = _forward(ops, bg)
    col = model.target or 0
    n, B = X.shape[0], bg.shape[0]

    def evaluate(block: tuple[int, int]) -> np.ndarray:
        lo, hi = block
        m = _multipliers(ops, [p[lo:hi, None, :] for p in pre], [p[None] for p in pre0], col, out.shape[1])
        return (m * (X[lo:hi, None, :] - bg[None, :, :])).mean(axis=1)

    phi = np.concatenate(map_blocks(model.blocks(n, B), lambda block: block, evaluate))
    model.n_evals += n + B + n * B
    extras = _deltas(phi.sum(axis=1), out[:, col] - out0[:, col].mean())
    return Attribution(local=phi, aggregation="mean_abs_local", extras=extras, rows=X.astype(np.float32))


__all__ = ["saliency", "grad_input", "integrated_gradients", "expected_gradients", "smoothgrad", "deeplift",
           "deep_shap", "path_quadrature", "dense_chain", "ACTIVATIONS", "QUADRATURES", "SMOOTHGRAD_BASES"]
