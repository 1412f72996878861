"""Speed benchmarks: varbench's engine against the tools people use today.

Each comparison runs varbench and the peer (keras `model.fit`, scikit-learn's
`permutation_importance`, `shap.KernelExplainer`, the `lime` package) in this one process on the
same trained model, rows and settings, interleaved and repeated; tables report medians and the
ratio peer / varbench against the target. Values are checked to agree. Also measured: the
trainer's fraction of the machine's float32 matmul peak, Integrated Gradients throughput, how a
method's peak memory scales with rows and chunk size, and a cProfile of one default cell.

    python -m varbench.bench [--quick] [--out results/performance.md]

Peers are benchmark extras, not runtime dependencies: a comparison whose peer is not installed
is reported as "not run" with the reason. No timing is asserted anywhere (tests only smoke-test
the machinery at tiny sizes).
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as _dt
import importlib
import importlib.metadata
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MET, NOT_MET, NOT_RUN, INFO = "met", "not met", "not run", "info"


# ------------------------------------------------------------------------------------ sizes

@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one benchmark mode. Defaults are the full mode (the reference
    settings: MLP 10-64-64-1 on Friedman #1, 3,000 training rows, 50 epochs, batch 64)."""

    name: str = "full"
    n_train: int = 3000
    n_test: int = 1000
    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.003
    seeds: int = 5                      # training: seeds (each one timed, both tools)
    repeats: int = 3                    # methods: interleaved timing repeats per tool
    perm_rows: int = 1000
    perm_repeats: int = 10
    shap_rows: int = 50
    shap_background: int = 50
    shap_coalitions: int = 200
    shap_exact: bool = True             # also time exact KernelSHAP (all 2^d - 2 coalitions)
    lime_rows: int = 50
    lime_samples: int = 1000
    ig_rows: int = 2000
    ig_steps: int = 64
    mem_rows: tuple[int, int] = (500, 2000)     # IG / permutation rows, small and large
    mem_chunks: tuple[int, int] = (1024, 8192)  # TrainedModel.chunk_size, small and large
    mem_shap_rows: tuple[int, int] = (64, 160)  # exact KernelSHAP rows (both >= 2 row blocks)
    matmul_n: int = 2048
    profile: tuple[str, ...] | None = ("dataset=friedman1",)  # cell overrides (not seed); None = skip
    studies: bool = True                # time the default study and methods=all on one cell (CLI)

    def __post_init__(self) -> None:
        for key in ("n_train", "n_test", "epochs", "batch_size", "seeds", "repeats", "perm_rows",
                    "perm_repeats", "shap_rows", "shap_background", "lime_rows", "ig_rows",
                    "ig_steps", "matmul_n"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key}={value!r} is invalid: expected an integer >= 1")
        if self.shap_coalitions < 2 or self.shap_coalitions % 2:
            raise ValueError(f"shap_coalitions={self.shap_coalitions!r} is invalid: expected an even "
                             "integer >= 2")
        if self.lime_samples < 2:
            raise ValueError(f"lime_samples={self.lime_samples!r} is invalid: expected an integer >= 2")


FULL = Sizes()
QUICK = Sizes(name="quick", seeds=2, repeats=2, perm_rows=500, perm_repeats=5,
              shap_rows=10, shap_exact=False, lime_rows=20, ig_rows=500, mem_rows=(250, 1000),
              mem_shap_rows=(64, 96), studies=False)
# Smoke-test sizes (seconds, not meaningful numbers).
TINY = Sizes(name="tiny", n_train=200, n_test=60, epochs=2, seeds=2, repeats=1, perm_rows=40,
             perm_repeats=2, shap_rows=2, shap_background=5, shap_coalitions=40, shap_exact=True,
             lime_rows=2, lime_samples=60, ig_rows=20, ig_steps=4, mem_rows=(20, 40),
             mem_chunks=(256, 1024), mem_shap_rows=(2, 4), matmul_n=128,
             profile=("dataset=friedman1", "dataset.n_samples=200", "trainer.epochs=2",
                      "trainer.patience=0", "methods=[probing,permutation]",
                      "model_truth.enabled=false"), studies=False)
MODES = {"full": FULL, "quick": QUICK, "tiny": TINY}


# ------------------------------------------------------------------------------------ results

@dataclass
class Result:
    """One comparison: medians in seconds, ratio = peer / varbench, target = minimum ratio."""

    name: str
    varbench: float | None
    peer_name: str = ""
    peer: float | None = None
    target: float | None = None
    agreement: str = ""
    status: str = INFO
    why: str = ""

    @property
    def ratio(self) -> float | None:
        if self.varbench is None or self.peer is None or self.varbench <= 0:
            return None
        return self.peer / self.varbench


def verdict(ratio: float | None, target: float | None) -> str:
    """"met" / "not met" for a speed ratio against a minimum, "info" without a target,
    "not run" without a ratio."""
    if ratio is None or not math.isfinite(ratio):
        return NOT_RUN
    if target is None:
        return INFO
    return MET if ratio >= target else NOT_MET


@dataclass
class Section:
    """A benchmark's summary rows and its markdown detail."""

    title: str
    results: list[Result] = field(default_factory=list)
    body: str = ""


def median(values: Sequence[float]) -> float:
    """The median as a float."""
    return float(statistics.median(values))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of one call."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def side_by_side(fns: dict[str, Callable[[int], Any]], repeats: int
                 ) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Call every fn(repeat) `repeats` times, interleaved (the order alternates between repeats
    so neither side always runs first on a shared machine); return times and outputs per name."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    outs: dict[str, list[Any]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            t, out = timed(lambda: fns[name](r))
            times[name].append(t)
            outs[name].append(out)
    return times, outs


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table of already formatted cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(x: float | None, digits: int = 3) -> str:
    """Significant-digit formatting; '-' for missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _available(module: str) -> str | None:
    """None if `module` imports, else the reason it does not."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure means "not run"
        return f"{module} is not importable ({type(exc).__name__}: {exc})"
    return None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ------------------------------------------------------------------------------------ context

@dataclass
class Context:
    """What the sections share: the data, the varbench-trained model, the measured peak."""

    sizes: Sizes
    data: Any
    big: Any                 # a dataset with >= max(ig_rows, mem_rows) test rows
    model: Any = None        # TrainedModel (seed 0), set by the training section
    peak_flops: float | None = None


def make_context(sizes: Sizes) -> Context:
    """Friedman #1 at the benchmark's sizes (seed 0), plus a larger test set for IG and memory."""
    from varbench.datasets.synthetic import friedman1

    n = sizes.n_train + sizes.n_test
    data = friedman1(n_samples=n, test_fraction=sizes.n_test / n, seed=0)
    big_rows = max(sizes.ig_rows, *sizes.mem_rows)
    big = friedman1(n_samples=2 * big_rows, test_fraction=0.5, seed=1)
    return Context(sizes=sizes, data=data, big=big)


def _trainer_config(s: Sizes) -> Any:
    """The shared trainer's config for sizes `s` (a TrainerConfig)."""
    from varbench.models.trainer import TrainerConfig

    # no validation split and no early stopping: the same work as model.fit below
    return TrainerConfig(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, patience=0,
                         val_fraction=0.0, progress_every=0)


# ------------------------------------------------------------------------------------ peak

def measure_peak_flops(n: int, repeats: int = 5) -> float:
    """float32 FLOP/s of an n x n matmul in TensorFlow on this machine (best of `repeats`)."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32, seed=1)
    b = tf.random.normal((n, n), dtype=tf.float32, seed=2)
    tf.reduce_sum(tf.linalg.matmul(a, b)).numpy()  # warm-up
    best = math.inf
    for _ in range(repeats):
        t, _ = timed(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)).numpy())
        best = min(best, t)
    return 2.0 * n**3 / best


# ------------------------------------------------------------------------------------ training

def _keras_fit(data: Any, s: Sizes, seed: int, steps_per_execution: int = 1) -> tuple[Any, float]:
    """Train the same MLP with keras compile + fit as a user would (no validation, no callbacks);
    return the network and its test MSE."""
    import keras

    from varbench.models.mlp import build_mlp
    from varbench.models.trainer import set_seed

    set_seed(seed)
    net = build_mlp(data.n_features, data.task)
    net.compile(optimizer=keras.optimizers.Adam(learning_rate=s.lr), loss="mse",
                steps_per_execution=steps_per_execution)
    net.fit(data.X_train, data.y_train, epochs=s.epochs, batch_size=s.batch_size, shuffle=True, verbose=0)
    pred = net.predict(data.X_test, batch_size=8192, verbose=0)[:, 0]
    return net, float(np.mean((pred.astype(np.float64) - data.y_test) ** 2))


def bench_training(ctx: Context) -> Section:
    from scipy import stats

    from varbench.models.mlp import build_mlp
    from varbench.models.trainer import train

    s, data = ctx.sizes, ctx.data
    n_batches = math.ceil(s.n_train / s.batch_size)
    fns: dict[str, Callable[[int], Any]] = {
        "keras": lambda r: _keras_fit(data, s, r),
        "varbench": lambda r: train(build_mlp, data.X_train, data.y_train, data.task, r, _trainer_config(s)),
        "keras_spe": lambda r: _keras_fit(data, s, r, steps_per_execution=n_batches),
    }
    times, outs = side_by_side(fns, s.seeds)  # repeat r = seed r
    vb_models = outs["varbench"]
    ctx.model = vb_models[0]
    mse_vb = [float(np.mean(m.loss(data.X_test, data.y_test))) for m in vb_models]
    mse_k = [o[1] for o in outs["keras"]]
    mse_spe = [o[1] for o in outs["keras_spe"]]
    t_vb, t_k, t_spe = median(times["varbench"]), median(times["keras"]), median(times["keras_spe"])
    params = int(ctx.model.keras.count_params())
    flops = 6.0 * params * s.n_train * s.epochs
    ctx.peak_flops = measure_peak_flops(s.matmul_n)

    def msd(v: list[float]) -> str:
        return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}"

    if len(mse_vb) > 1 and np.std(mse_vb) + np.std(mse_k) > 0:
        p = float(stats.ttest_ind(mse_vb, mse_k, equal_var=False).pvalue)
        agree = f"test MSE {msd(mse_vb)} vs {msd(mse_k)} (mean ± sd over {len(mse_vb)} seeds; Welch p = {p:.2f})"
    else:
        agree = f"test MSE {msd(mse_vb)} vs {msd(mse_k)}"
    ratio = t_k / t_vb
    status = verdict(ratio, 5.0)
    frac_vb, frac_k = flops / t_vb / ctx.peak_flops, flops / t_k / ctx.peak_flops
    steps = s.epochs * n_batches
    ms = {k: 1e3 * v / steps for k, v in (("fit", t_k), ("spe", t_spe), ("vb", t_vb))}
    ms_compute = 1e3 * 6.0 * params * s.batch_size / ctx.peak_flops
    per_step = (f"Per optimizer step ({steps:,} steps): keras fit {ms['fit']:.2f} ms, fit with "
                f"steps_per_execution {ms['spe']:.2f} ms, varbench {ms['vb']:.2f} ms; the step's arithmetic "
                f"(6 x params x {s.batch_size} rows) would take {1e3 * ms_compute:.1f} us at the measured peak. "
                f"Running {n_batches} steps per graph call (steps_per_execution) removes "
                f"{100 * (1 - t_spe / t_k):.0f}% of fit's time (its per-step Python loop); the rest of the gap "
                "is per-step work inside fit's graph (the tf.data iterator, loss/metric trackers, Keras's "
                "generic train step) that varbench's loop (a tf.range over index slices of one constant "
                "tensor) does not do. What is left in varbench is per-step kernel-launch latency: the "
                "matrices (batch 64 x 64 units) are too small to use the cores.")
    why = ""
    if status == NOT_MET:
        why = (f"a step costs fixed latency, not FLOPs ({ms['vb']:.2f} ms per step against "
               f"{1e3 * ms_compute:.1f} us of arithmetic; see the Training section); fewer, larger steps "
               "(bigger batches) or several seeds trained in one vectorised pass would cut it further")
    results = [
        Result("training (fit, same MLP/epochs/batch)", t_vb, "keras model.fit", t_k, 5.0, agree, status, why),
        Result("training: keras fit with steps_per_execution = batches/epoch (info)", t_vb,
               "keras fit(steps_per_execution)", t_spe, None, f"test MSE {msd(mse_spe)}", INFO),
    ]
    rows = [[seed, fmt(times["keras"][seed]), fmt(times["keras_spe"][seed]), fmt(times["varbench"][seed]),
             f"{mse_k[seed]:.3f}", f"{mse_spe[seed]:.3f}", f"{mse_vb[seed]:.3f}"] for seed in range(s.seeds)]
    body = "\n".join([
        f"MLP {data.n_features}-64-64-1 ({params:,} parameters), Friedman #1, {s.n_train:,} training rows, "
        f"{s.epochs} epochs, batch {s.batch_size}, Adam lr {s.lr}; no validation split, no early stopping, "
        "same initial weights per seed (each tool's own shuffling), TensorFlow op determinism on for both (the "
        "trainer's `set_seed` enables it), keras `compile` defaults otherwise (its jit_compile='auto' "
        "means no XLA on a CPU-only machine, and varbench does not use XLA either). Times include building the network and "
        "tracing/compiling (what a cell pays).",
        "",
        table(["seed", "keras fit (s)", "keras fit, steps_per_execution (s)", "varbench (s)",
               "keras test MSE", "keras spe test MSE", "varbench test MSE"], rows),
        "",
        f"Medians: keras fit {t_k:.2f} s, keras fit with steps_per_execution={n_batches} {t_spe:.2f} s, "
        f"varbench {t_vb:.2f} s; speed-up {ratio:.1f}x over fit, {t_spe / t_vb:.1f}x over fit with "
        "steps_per_execution.",
        "",
        per_step,
        "",
        f"FLOP fraction: training costs ~6 x params x rows x epochs = {flops / 1e9:.2f} GFLOP. Measured peak: "
        f"{ctx.peak_flops / 1e9:.1f} GFLOP/s (float32 {s.matmul_n}x{s.matmul_n} matmul in TensorFlow, "
        f"best of 5). varbench achieves {flops / t_vb / 1e9:.2f} GFLOP/s = {100 * frac_vb:.2f}% of peak; "
        f"keras fit {flops / t_k / 1e9:.2f} GFLOP/s = {100 * frac_k:.2f}%. At batch {s.batch_size} the matrices "
        "are far too small to approach the matmul peak: the loop is latency-bound.",
        "",
        "Not done (stretch goal): several seeds trained in one vectorised pass.",
    ])
    return Section("Training", results, body)


# ------------------------------------------------------------------------------------ permutation

def _sklearn_regressor(net: Any) -> Any:
    """The Keras network wrapped as a scikit-learn regressor the way a user would: predict calls
    keras `predict`."""
    from sklearn.base import BaseEstimator, RegressorMixin

    class KerasRegressor(RegressorMixin, BaseEstimator):
        def __init__(self, net: Any = None) -> None:
            self.net = net

        def fit(self, X: np.ndarray, y: np.ndarray) -> "KerasRegressor":
            return self

        def __sklearn_is_fitted__(self) -> bool:
            return True

        def predict(self, X: np.ndarray) -> np.ndarray:
            return self.net.predict(X, verbose=0)[:, 0]

    return KerasRegressor(net)


def _subset(data: Any, X_test: np.ndarray, y_test: np.ndarray, X_train: np.ndarray | None = None,
            y_train: np.ndarray | None = None) -> Any:
    """The dataset restricted to given rows, so a method and its peer see exactly the same rows
    (methods use every row when asked for at least as many as there are)."""
    from varbench.datasets.base import Dataset

    return Dataset(X_train=data.X_train if X_train is None else X_train,
                   y_train=data.y_train if y_train is None else y_train,
                   X_test=X_test, y_test=y_test, task=data.task, truth=data.truth, name=data.name)


def bench_permutation(ctx: Context) -> Section:
    from varbench.methods.perturbation import permutation

    s, model = ctx.sizes, ctx.model
    name = "permutation importance"
    missing = _available("sklearn.inspection")
    if missing:
        return Section("Permutation importance", [Result(name, None, "sklearn permutation_importance",
                                                         status=NOT_RUN, why=missing)])
    from sklearn.inspection import permutation_importance

    X, y = ctx.data.X_test[:s.perm_rows], ctx.data.y_test[:s.perm_rows]
    sub = _subset(ctx.data, X, y)
    est = _sklearn_regressor(model.keras)
    model.predict(X[:8]), est.predict(X[:8])  # warm both (trace / build predict functions)
    fns = {
        "varbench": lambda r: permutation(model, sub, np.random.default_rng(r), n_repeats=s.perm_repeats,
                                          n_rows=None),
        "sklearn": lambda r: permutation_importance(est, X, y, scoring="neg_mean_squared_error",
                                                    n_repeats=s.perm_repeats, random_state=r),
    }
    times, outs = side_by_side(fns, s.repeats)
    vb, sk = outs["varbench"][0], outs["sklearn"][0]
    imp_vb, imp_sk = vb.importance, sk.importances_mean
    se_sk = sk.importances_std * math.sqrt(s.perm_repeats / max(s.perm_repeats - 1, 1)) / math.sqrt(s.perm_repeats)
    se = np.sqrt(se_sk**2 + vb.extras["max_stderr"] ** 2)  # varbench reports its largest s.e.
    diff = np.abs(imp_vb - imp_sk)
    scale = float(np.max(np.abs(imp_sk)))
    z = float(np.max(diff / np.where(se > 0, se, np.inf)))
    t_vb, t_sk = median(times["varbench"]), median(times["sklearn"])
    status = verdict(t_sk / t_vb, 30.0)
    agree = (f"max |diff| = {fmt(diff.max())} = {100 * diff.max() / scale:.1f}% of the largest importance; "
             f"max |diff| / s.e. = {z:.2f}")
    why = ""
    if status == NOT_MET:
        why = (f"varbench's {fmt(t_vb)} s is {s.perm_repeats * s.perm_rows * ctx.data.n_features:,} predictions "
               f"in {ctx.data.n_features} batched calls plus building the shuffled copies in numpy")
    rows = [[j, fmt(imp_vb[j]), fmt(imp_sk[j]), fmt(se[j])] for j in range(ctx.data.n_features)]
    body = "\n".join([
        f"{s.perm_rows} test rows, {s.perm_repeats} repeats, loss = MSE, the varbench-trained seed-0 model. "
        "scikit-learn gets the same Keras network wrapped as a regressor whose predict calls keras "
        "`predict`, `scoring='neg_mean_squared_error'` (importance = MSE increase, as varbench). "
        f"{s.repeats} interleaved repeats each; medians: varbench {fmt(t_vb)} s, scikit-learn {fmt(t_sk)} s.",
        "",
        table(["feature", "varbench", "scikit-learn", "s.e. of the difference"], rows),
        "",
        "s.e. of the difference: scikit-learn's per-feature standard error over repeats combined with "
        "varbench's largest one (`extras.max_stderr`); both are Monte Carlo estimates of the same "
        "quantity with independent shuffles.",
    ])
    return Section("Permutation importance",
                   [Result(name, t_vb, "sklearn permutation_importance", t_sk, 30.0, agree, status, why)], body)


# ------------------------------------------------------------------------------------ KernelSHAP

def _kernel_shap_available() -> str | None:
    try:
        from varbench.methods.shapley import kernel_shap  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return f"varbench.methods.shapley.kernel_shap is not importable ({type(exc).__name__}: {exc})"
    return None


def _compare_local(a: np.ndarray, b: np.ndarray, scale: float) -> str:
    corr = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    return f"r = {corr:.4f}, max |diff| = {fmt(100 * float(np.max(np.abs(a - b))) / scale, 2)}% of max |phi|"


def bench_kernel_shap(ctx: Context) -> Section:
    s, model, data = ctx.sizes, ctx.model, ctx.data
    name = f"KernelSHAP ({s.shap_coalitions} coalitions)"
    missing = _kernel_shap_available() or _available("shap")
    if missing:
        return Section("KernelSHAP", [Result(name, None, "shap.KernelExplainer", status=NOT_RUN, why=missing)])
    import shap

    from varbench.methods.shapley import kernel_shap

    d = data.n_features
    X, bg = data.X_test[:s.shap_rows], data.X_train[:s.shap_background]
    sub = _subset(data, X, data.y_test[:s.shap_rows], bg, data.y_train[:s.shap_background])
    net = model.keras

    def f(Z: np.ndarray) -> np.ndarray:  # what a user hands to shap
        return net.predict(Z, verbose=0)[:, 0]

    def peer(n_samples: int) -> np.ndarray:
        explainer = shap.KernelExplainer(f, bg)
        return np.asarray(explainer.shap_values(X, nsamples=n_samples, l1_reg=False, silent=True))

    model.predict(X[:8]), f(X[:8])  # warm both
    n_exact = 2**d - 2
    fns = {
        "varbench": lambda r: kernel_shap(model, sub, np.random.default_rng(r), n_rows=None, background_size=None,
                                          max_exact_features=0, n_coalitions=s.shap_coalitions).local,
        "shap": lambda r: peer(s.shap_coalitions),
    }
    times, outs = side_by_side(fns, s.repeats)
    exact_vb = kernel_shap(model, sub, np.random.default_rng(0), n_rows=None, background_size=None,
                           max_exact_features=max(d, 1)).local
    scale = float(np.max(np.abs(exact_vb)))
    phi_vb, phi_sh = outs["varbench"][0], outs["shap"][0]
    t_vb, t_sh = median(times["varbench"]), median(times["shap"])
    status = verdict(t_sh / t_vb, 30.0)
    agree = (f"varbench vs shap: {_compare_local(phi_vb, phi_sh, scale)}; vs exact: varbench "
             f"{_compare_local(phi_vb, exact_vb, scale)}, shap {_compare_local(phi_sh, exact_vb, scale)}")
    results = [Result(name, t_vb, "shap.KernelExplainer(l1_reg=False)", t_sh, 30.0, agree, status,
                      "" if status != NOT_MET else "see the KernelSHAP section")]
    lines = [
        f"{s.shap_rows} explained test rows, background = the same {s.shap_background} training rows for both, "
        f"{s.shap_coalitions} coalitions per row, the varbench-trained seed-0 model (d = {d}). varbench: "
        "`kernel_shap(max_exact_features=0, n_coalitions=...)` (paired kernel-sampled coalitions, one batched "
        "pass); shap: `KernelExplainer(f, background).shap_values(X, nsamples=..., l1_reg=False)` with f "
        "calling keras `predict`. shap fills whole coalition sizes first and samples the rest, varbench "
        "samples all, so both are estimates of the exact values (varbench's exact mode, all "
        f"{n_exact} coalitions, the reference below). {s.repeats} interleaved repeats; medians: varbench "
        f"{fmt(t_vb)} s, shap {fmt(t_sh)} s.",
        "",
        f"Agreement: {agree}.",
    ]
    if s.shap_exact:
        ex_times, ex_outs = side_by_side({
            "varbench": lambda r: kernel_shap(model, sub, np.random.default_rng(r), n_rows=None,
                                              background_size=None, max_exact_features=max(d, 1)).local,
            "shap": lambda r: peer(n_exact),
        }, 1)
        te_vb, te_sh = median(ex_times["varbench"]), median(ex_times["shap"])
        ex_status = verdict(te_sh / te_vb, 30.0)
        ex_agree = f"both exact: {_compare_local(ex_outs['varbench'][0], ex_outs['shap'][0], scale)}"
        results.append(Result(f"KernelSHAP exact ({n_exact} coalitions, varbench's default)", te_vb,
                              f"shap.KernelExplainer(nsamples={n_exact})", te_sh, 30.0, ex_agree, ex_status,
                              "" if ex_status != NOT_MET else "see the KernelSHAP section"))
        lines += ["", f"Exact mode (varbench's default for d <= 12): all {n_exact} coalitions, shap with "
                      f"nsamples={n_exact} (it then enumerates every coalition). One timed run each: varbench "
                      f"{fmt(te_vb)} s, shap {fmt(te_sh)} s; {ex_agree}."]
    return Section("KernelSHAP", results, "\n".join(lines))


# ------------------------------------------------------------------------------------ LIME

def bench_lime(ctx: Context) -> Section:
    from varbench.methods.surrogate import lime
    from varbench.scoring import spearman

    s, model, data = ctx.sizes, ctx.model, ctx.data
    name = f"LIME ({s.lime_samples} samples/row)"
    missing = _available("lime.lime_tabular")
    if missing:
        return Section("LIME", [Result(name, None, "lime LimeTabularExplainer", status=NOT_RUN, why=missing)])
    from lime.lime_tabular import LimeTabularExplainer

    d = data.n_features
    X = data.X_test[:s.lime_rows]
    sub = _subset(data, X, data.y_test[:s.lime_rows])
    net = model.keras

    def f(Z: np.ndarray) -> np.ndarray:
        return net.predict(Z, verbose=0)[:, 0]

    def peer(r: int) -> np.ndarray:
        explainer = LimeTabularExplainer(data.X_train, mode="regression", discretize_continuous=False,
                                         sample_around_instance=True, feature_selection="none",
                                         random_state=r)
        coef = np.zeros((X.shape[0], d))
        for i, row in enumerate(X):  # the package explains one row per call
            exp = explainer.explain_instance(row, f, num_features=d, num_samples=s.lime_samples)
            for j, w in exp.as_map()[1]:
                coef[i, j] = w
        return coef

    model.predict(X[:8]), f(X[:8])
    fns = {
        "varbench": lambda r: lime(model, sub, np.random.default_rng(r), n_rows=s.lime_rows,
                                   n_samples=s.lime_samples).local,
        "lime": peer,
    }
    times, outs = side_by_side(fns, s.repeats)
    c_vb, c_li = outs["varbench"][0], outs["lime"][0]
    g_vb, g_li = np.mean(np.abs(c_vb), axis=0), np.mean(np.abs(c_li), axis=0)
    rho = spearman(g_vb, g_li)
    corr = float(np.corrcoef(c_vb.ravel(), c_li.ravel())[0, 1])
    t_vb, t_li = median(times["varbench"]), median(times["lime"])
    status = verdict(t_li / t_vb, 10.0)
    agree = (f"Spearman of global mean |coef| = {rho:.3f}; local coefficients r = {corr:.3f}; max |diff| of "
             f"global = {100 * float(np.max(np.abs(g_vb - g_li)) / np.max(g_li)):.1f}% of max")
    rows = [[j, fmt(g_vb[j]), fmt(g_li[j])] for j in range(d)]
    body = "\n".join([
        f"{s.lime_rows} explained test rows, {s.lime_samples} samples each, kernel width 0.75 sqrt(d), ridge "
        "alpha 1 on standardised features, samples drawn around the instance. lime: "
        "`LimeTabularExplainer(X_train, mode='regression', discretize_continuous=False, "
        "sample_around_instance=True, feature_selection='none')`, one `explain_instance` per row with f "
        "calling keras `predict`; varbench: `lime(...)` (all rows x samples in one batched pass, batched "
        f"ridge). Different random draws, so coefficients differ by sampling noise. {s.repeats} interleaved "
        f"repeats; medians: varbench {fmt(t_vb)} s, lime {fmt(t_li)} s.",
        "",
        table(["feature", "varbench mean abs coef", "lime mean abs coef"], rows),
    ])
    return Section("LIME", [Result(name, t_vb, "lime LimeTabularExplainer", t_li, 10.0, agree, status)], body)


# ------------------------------------------------------------------------------------ IG

def bench_ig(ctx: Context) -> Section:
    from varbench.methods.gradients import integrated_gradients

    s, model = ctx.sizes, ctx.model
    model.gradient(ctx.big.X_test[:8]), model.predict(ctx.big.X_test[:8])
    times, outs = side_by_side({"varbench": lambda r: integrated_gradients(
        model, ctx.big, np.random.default_rng(r), n_rows=s.ig_rows, steps=s.ig_steps)}, s.repeats)
    t = median(times["varbench"])
    delta = outs["varbench"][0].extras["max_abs_delta"]
    rate, grad_rate = s.ig_rows / t, s.ig_rows * s.ig_steps / t
    agree = f"max completeness delta {fmt(delta)}"
    body = (f"`integrated_gradients(n_rows={s.ig_rows}, steps={s.ig_steps})` (Gauss-Legendre, mean baseline): "
            f"median {fmt(t)} s over {s.repeats} runs = {rate:,.0f} explained rows/s = {grad_rate:,.0f} gradient "
            f"rows/s (all {s.ig_rows * s.ig_steps:,} path points in one batched `model.gradient` call, chunked "
            f"by {model.chunk_size}); {agree} (sum phi vs f(x) - f(baseline)).")
    return Section("Integrated Gradients", [Result(f"Integrated Gradients ({s.ig_rows} rows x {s.ig_steps} steps)",
                                                   t, "", None, None, f"{rate:,.0f} rows/s; {agree}", INFO)], body)


# ------------------------------------------------------------------------------------ memory

def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated through Python's allocators (numpy arrays included) during fn();
    TensorFlow's own buffers are not traced."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return int(peak)


def bench_memory(ctx: Context) -> Section:
    from varbench.methods.gradients import integrated_gradients
    from varbench.methods.perturbation import permutation

    s, model, big = ctx.sizes, ctx.model, ctx.big
    d = big.n_features
    cases: list[tuple[str, int, Callable[[int], Any], int]] = [
        (f"integrated_gradients (steps={s.ig_steps})", s.ig_steps,
         lambda n: integrated_gradients(model, big, np.random.default_rng(0), n_rows=n, steps=s.ig_steps), 0),
        (f"permutation (n_repeats={s.perm_repeats})", s.perm_repeats,
         lambda n: permutation(model, big, np.random.default_rng(0), n_repeats=s.perm_repeats, n_rows=n), 0),
    ]
    shap_missing = _kernel_shap_available()
    if shap_missing is None:
        from varbench.methods.shapley import kernel_shap

        bg_rows = min(s.shap_background, big.X_train.shape[0])
        cases.append((f"kernel_shap exact (background {bg_rows})", (2**d - 2) * bg_rows,
                      lambda n: kernel_shap(model, big, np.random.default_rng(0), n_rows=n,
                                            background_size=bg_rows, max_exact_features=max(d, 1)), 1))
    old = model.chunk_size
    rows, verdicts = [], []
    try:
        for label, per_row, fn, which in cases:
            row_sizes = s.mem_shap_rows if which else s.mem_rows
            peaks = {}
            for n in row_sizes:
                for c in s.mem_chunks:
                    model.chunk_size = c
                    peaks[n, c] = peak_bytes(lambda: fn(n))
                    # model inputs built at once: rows x (evaluations per row) x d float32
                    rows.append([label, n, c, f"{peaks[n, c] / 2**20:.1f}",
                                 f"{n * per_row * d * 4 / 2**20:.1f}"])
            (n1, n2), (c1, c2) = row_sizes, s.mem_chunks
            slope = (peaks[n2, c2] - peaks[n1, c2]) / (n2 - n1)  # bytes per extra row
            share = slope / (per_row * d * 4)
            chunk_effect = peaks[n2, c2] / peaks[n2, c1]
            head = (f"- {label}: each extra row adds {slope / 2**10:,.1f} KiB to the peak, {share:.2f}x its "
                    f"share of the batch; chunk {c1} -> {c2} changes the peak by a factor {chunk_effect:.2f}. ")
            big_case = share * 4 * 10_000 * per_row * 100 / 2**30  # 10,000 rows, d = 100
            verdicts.append(head + ("Not bounded by the chunk size: the peak follows rows x evaluations x "
                                    f"features (at 10,000 rows and d = 100: ~{big_case:.2g} GiB)."
                                    if share >= 0.5 else
                                    "The input batch is bounded (built in blocks); what still grows with rows "
                                    "is smaller than the inputs."))
    finally:
        model.chunk_size = old
    body = "\n".join([
        "Peak of Python-traced allocations (tracemalloc: numpy arrays, where the perturbed batches are "
        "built) during one call, for two row counts and two `TrainedModel.chunk_size` values. The last "
        "column is the size of the method's largest perturbed batch if built whole as float32 (IG: rows x "
        "steps x d; permutation: repeats x rows x d, one feature at a time; KernelSHAP: rows x coalitions "
        "x background x d).",
        "",
        table(["method", "rows", "chunk_size", "peak MiB", "largest batch if whole, MiB"], rows),
        "",
        *verdicts,
        "",
        "Reading (causes checked in the code): `model.predict` / `model.gradient` chunk the evaluation, "
        "so TensorFlow's working buffers are per chunk (its per-chunk outputs, held until they are "
        "concatenated, are not traced here: for IG that is one more gradient batch), but a method that "
        "builds its whole perturbed batch first is not bounded by the chunk size. Integrated Gradients "
        "keeps the path (rows x steps x d, "
        "float32), the gradients of every path point (float32) and their float64 copy alive together, "
        "about 4x the input batch. Permutation builds repeats x rows x d per feature. KernelSHAP (and "
        "`model_truth`, which shares it) goes through `shapley.predict_rows`, which builds the batch in "
        "blocks of at most `MAX_VALUES` = 2^24 floats (64 MiB), but two blocks are alive at once (the "
        "previous one is still bound while the next is built) and the output table rows x coalitions x "
        "background (float64) is kept whole before the background mean, so it grows with rows at 2/d of "
        "the input size. Fixes (library code, not changed here): IG and permutation should build, "
        "evaluate and reduce block by block through `predict_rows` (IG: accumulate sum_k w_k grad per "
        "block); `predict_rows` should drop the previous block before building the next and "
        "`coalition_values` should average over the background inside each block, so every peak is set "
        "by the block size alone.",
    ])
    return Section("Memory", [], body)


# ------------------------------------------------------------------------------------ profile

LIBRARIES = (("tf.function tracing (autograph, gast)", ("autograph", "gast")),
             ("tensorflow / keras", ("tensorflow", "_pywrap_tf", "TFE_", "keras")),
             ("mlflow / sqlalchemy / sqlite", ("mlflow", "sqlalchemy", "alembic", "sqlite")),
             ("hydra / omegaconf", ("hydra", "omegaconf")),
             ("numpy / scipy / pandas", ("numpy", "scipy", "pandas")),
             ("varbench", ("varbench",)),
             ("imports", ("marshal", "importlib", "<frozen")))


def library_of(path: str, func: str) -> str:
    """The library a profiled function belongs to, from its file path or (for built-ins) its name."""
    text = f"{path} {func}"
    for lib, keys in LIBRARIES:
        if any(key in text for key in keys):
            return lib
    return "other (Python, stdlib)"


def bench_profile(ctx: Context) -> Section:
    """cProfile of one cell as the default study runs it (run_cell with the default methods)."""
    overrides = ctx.sizes.profile
    if overrides is None:
        return Section("Where the time goes", [], "Not profiled in this mode.")
    from hydra import compose, initialize_config_dir

    from varbench.paths import conf_dir
    from varbench.runner import run_cell

    def profiled(seed: int, uri: str) -> tuple[dict, Any]:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[*overrides, f"seed={seed}", "cache.dir=null", f"tracking.uri={uri}"])
        prof = cProfile.Profile()
        result = prof.runcall(run_cell, cfg)
        return pstats.Stats(prof).stats, result  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        first, _ = profiled(0, uri)    # creates the MLflow store
        entries, result = profiled(1, uri)  # the steady state of a study: the store exists

    def cum_in(stats: dict, func: str, file_part: str) -> float:
        return sum(v[3] for k, v in stats.items() if k[2] == func and file_part in k[0])

    first_total = cum_in(first, "run_cell", "varbench")
    first_store = cum_in(first, "__init__", "tracking.py")
    def cum(func: str, file_part: str) -> float:
        return cum_in(entries, func, file_part)

    total = cum("run_cell", "varbench")
    train_t = cum("train", os.path.join("models", "trainer.py"))
    loop_t = cum("fit_compiled", "loop.py")
    methods_t = cum("run_method", "runner.py")
    truth_t = cum("_model_truth", "runner.py")
    # MLflow: time in tracking.py entered directly from the runner (no double counting of nesting)
    track_t = sum(ct for k, v in entries.items() if k[0].endswith("tracking.py")
                  for caller, (_, _, _, ct) in v[4].items() if caller[0].endswith("runner.py"))
    other = total - train_t - methods_t - truth_t - track_t
    table_rows = [["run_cell (whole cell)", fmt(total), "100%"],
                  ["training (`trainer.train`)", fmt(train_t), f"{100 * train_t / total:.0f}%"],
                  ["  of which the compiled epoch loop (`fit_compiled`)", fmt(loop_t), f"{100 * loop_t / total:.0f}%"],
                  ["methods (`run_method`, incl. scoring)", fmt(methods_t), f"{100 * methods_t / total:.0f}%"],
                  ["model truth (`_model_truth`)", fmt(truth_t), f"{100 * truth_t / total:.0f}%"],
                  ["MLflow tracking (`varbench.tracking`, called by the runner)", fmt(track_t),
                   f"{100 * track_t / total:.0f}%"],
                  ["rest: config, data, ...", fmt(other), f"{100 * other / total:.0f}%"]]
    per_method = []
    if result is not None and result.rows:
        for r in result.rows:
            per_method.append([r.get("method", "?"), fmt(r.get("seconds")), fmt(r.get("n_model_evals"), 6)])
    by_lib: dict[str, float] = {}
    for k, v in entries.items():
        lib = library_of(k[0], k[2])
        by_lib[lib] = by_lib.get(lib, 0.0) + v[2]
    all_self = sum(by_lib.values())
    lib_rows = [[lib, fmt(t), f"{100 * t / all_self:.0f}%"] for lib, t in
                sorted(by_lib.items(), key=lambda kv: -kv[1])]
    top = sorted(((v[2], k) for k, v in entries.items()), reverse=True)[:10]
    ours = sorted(((v[3], k) for k, v in entries.items() if f"varbench{os.sep}" in k[0]
                   and k[2] not in ("run_cell", "_run_cell")), reverse=True)[:15]
    ours_rows = [[f"`{k[2]}` ({Path(k[0]).parent.name}/{Path(k[0]).name}:{k[1]})", fmt(t)] for t, k in ours]
    top_rows = [[f"`{k[2]}` ({Path(k[0]).name}:{k[1]})", fmt(t)] for t, k in top]
    body = "\n".join([
        f"cProfile of `run_cell` for cells of the default study (overrides `{' '.join(overrides)}`, "
        "everything else default, no model cache, modules already imported), run twice into one MLflow "
        f"sqlite store. The first cell (seed 0, fresh store) took {fmt(first_total)} s, {fmt(first_store)} s "
        "of it in `Tracker.__init__` creating the store (schema migration: once per store). The tables "
        "profile the second cell (seed 1, existing store), the steady state of a study. cProfile adds "
        "overhead to Python calls, so the shares matter more than the seconds.",
        "",
        table(["part", "seconds (cumulative)", "share"], table_rows),
        "",
        table(["method", "seconds", "model evaluations"], per_method) if per_method else "",
        "",
        "Self time by library (where the CPU actually went; TensorFlow's C++ runtime is counted in "
        "the Python call that entered it):",
        "",
        table(["library", "self seconds", "share"], lib_rows),
        "",
        "varbench functions by cumulative time:",
        "",
        table(["function", "cumulative seconds"], ours_rows),
        "",
        "Top functions by self time:",
        "",
        table(["function", "self seconds"], top_rows),
    ])
    return Section("Where the time goes", [], body)


# ------------------------------------------------------------------------------------ report

STUDY_COMMANDS = {
    "default study (`varbench`: 2 datasets x 3 seeds, seed answers)": [],
    "`varbench dataset=friedman1 seed=0 methods=all` (one default cell, every method)":
        ["dataset=friedman1", "seed=0", "methods=all"],
}


def bench_studies(ctx: Context) -> Section:
    """Wall time of whole console runs as a user makes them, each in a fresh directory (fresh
    MLflow store, no model cache): includes Python start-up, TensorFlow import and store creation."""
    if not ctx.sizes.studies:
        return Section("Default study and methods=all", [], "Not measured in this mode (full mode only).")
    exe = Path(sys.executable).with_name("varbench")
    rows = []
    for label, args in STUDY_COMMANDS.items():
        with tempfile.TemporaryDirectory() as tmp:
            seconds, proc = timed(lambda: subprocess.run([str(exe), *args], cwd=tmp, capture_output=True,
                                                         text=True, timeout=1800))
        ok = "ok" if proc.returncode == 0 else f"exit code {proc.returncode}"
        rows.append([label, f"{seconds:.1f}", ok])
    body = ("Each command runs in a fresh temporary directory (new sqlite store, empty model cache), "
            "so the times include Python start-up, the TensorFlow import, the MLflow schema creation "
            "and training. Target for the default study: <= 300 s.\n\n"
            + table(["run", "wall time (s)", "result"], rows))
    default_s = float(rows[0][1])
    return Section("Default study and methods=all",
                   [Result("default study (wall, fresh directory)", default_s, target=None,
                           agreement=f"{'within' if default_s <= 300 else 'over'} the 5-minute budget")],
                   body)


SECTIONS: list[Callable[[Context], Section]] = [bench_training, bench_permutation, bench_kernel_shap,
                                                bench_lime, bench_ig, bench_memory, bench_profile,
                                                bench_studies]


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(f"{d} {_version(d)}" for d in ("tensorflow", "keras", "numpy", "scikit-learn", "shap", "lime"))
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; {versions}"


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def render(sections: Sequence[Section], sizes: Sizes, seconds: float, load_start: str, load_end: str) -> str:
    results = [r for sec in sections for r in sec.results]
    summary = [[r.name, fmt(r.varbench), r.peer_name or "-", fmt(r.peer),
                f"{r.ratio:.1f}x" if r.ratio is not None else "-",
                f">= {r.target:g}x" if r.target is not None else "-", r.status,
                r.agreement if r.status != NOT_RUN else r.why] for r in results]
    misses = [r for r in results if r.status == NOT_MET]
    miss_lines = [f"- **{r.name}**: {r.ratio:.1f}x against >= {r.target:g}x, short by a factor of "
                  f"{r.target / r.ratio:.2f}. Why: {r.why or 'see its section'}." for r in misses]
    out = [
        "# Performance",
        "",
        f"Generated by `python -m varbench.bench{' --quick' if sizes.name == 'quick' else ''}` "
        f"(mode: {sizes.name}) on {_dt.date.today().isoformat()}; the run took {seconds / 60:.1f} min. "
        "Regenerate with the same command (full mode: no flag).",
        "",
        f"Machine: {machine()}. Load average (1/5/15 min) at start {load_start}, at end {load_end}: the "
        "machine is shared, so absolute seconds move with other work; ratios are measured side by side.",
        "",
        "Method: each comparison runs varbench and the peer in this one process on the same trained model, "
        "rows and settings, interleaved (alternating which goes first) and repeated; the tables give "
        "medians, ratio = peer median / varbench median. Both sides are warmed first (varbench traces its "
        "compiled functions, keras builds its predict function); training times include building and "
        "tracing, as a cell pays them. Tests never assert timings.",
        "",
        "## Summary",
        "",
        table(["benchmark", "varbench (s)", "peer", "peer (s)", "ratio", "target", "status", "agreement"], summary),
        "",
        "## Misses",
        "",
        *(miss_lines or ["None: every target with a ratio was met."]),
    ]
    for sec in sections:
        if sec.body:
            out += ["", f"## {sec.title}", "", sec.body]
    return "\n".join(out)


def run(sizes: Sizes, out: str | Path | None = None,
        sections: Sequence[Callable[[Context], Section]] = SECTIONS) -> str:
    """Run every benchmark section at `sizes`, write the markdown report to `out` (if given)
    and return it. The training section runs first: it provides the model the others use."""
    import logging

    logger = logging.getLogger("varbench")
    level = logger.level
    logger.setLevel(logging.WARNING)  # the profiled cell's per-method log lines
    start, load_start = time.perf_counter(), _load()
    done = []
    try:
        ctx = make_context(sizes)
        for fn in sections:
            t0 = time.perf_counter()
            print(f"[bench] {fn.__name__} ...", file=sys.stderr, flush=True)
            done.append(fn(ctx))
            print(f"[bench] {fn.__name__} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        logger.setLevel(level)
    text = render(done, sizes, time.perf_counter() - start, load_start, _load())
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """`varbench bench [--quick] [--out PATH]`: run the benchmarks and write the report."""
    parser = argparse.ArgumentParser(prog="varbench bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 3 minutes")
    parser.add_argument("--out", default="results/performance.md", help="markdown report to write")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    text = run(QUICK if args.quick else FULL, args.out)
    summary = text.split("## Summary", 1)[1].split("## ", 1)[0]
    print(summary.strip())
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
