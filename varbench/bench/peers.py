"""Peer comparisons: training against keras fit, permutation against scikit-learn, KernelSHAP
against shap, LIME against lime, and Integrated Gradients throughput."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from varbench.bench.harness import (INFO, NOT_MET, NOT_RUN, Context, Result, Section, Sizes, _available, _kernel_shap_available,
                                    _trainer_config, measure_peak_flops, median, side_by_side, verdict)
from varbench.bench.render import fmt, table


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
