"""Peer comparisons, each two ways side by side (the peer as users call it, and the peer given
varbench's engine) and each checked for agreement: permutation against scikit-learn, KernelSHAP
against shap, LIME against lime; Integrated Gradients throughput."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from varbench.bench.harness import (DISAGREE, INFO, NOT_RUN, Context, Result, Section, _available,
                                    _kernel_shap_available, median, side_by_side, verdict)
from varbench.bench.render import fmt, table
from varbench.datasets.base import Dataset
from varbench.methods.perturbation import permutation
from varbench.methods.surrogate import lime


# ------------------------------------------------------------------------------------ shared

PEER_WAYS = ("as_called", "same_engine")
WAYS_TEXT = ("as users call it: the peer is given keras `model.predict` (as its documentation shows); "
             "same engine: the peer is given varbench's compiled, chunked predict function "
             "(`TrainedModel.predict`), so the ratio is the algorithm's alone")


def _predictors(model: Any) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The two prediction functions a peer is given: keras `predict` and varbench's engine."""
    net = model.keras
    return {"as_called": lambda Z: net.predict(Z, verbose=0)[:, 0], "same_engine": model.predict}


def _compare(title: str, key: str, peer_name: str, target: float | None, fns: dict[str, Callable[[int], Any]],
             repeats: int, check: Callable[[Any, Any], tuple[bool, str]], ways: tuple[str, ...] = PEER_WAYS
             ) -> tuple[list[Result], dict[str, float], dict[str, list[float]], dict[str, list[Any]]]:
    """Time varbench and the peer each way (`ways`, default both) side by side; check each peer
    output against varbench's (`check` -> (agrees, text)); one Result and one `<key>_<way>` figure
    (peer / varbench) per way. `target` (a minimum ratio) applies to the peer as called."""
    times, outs = side_by_side(fns, repeats)
    t_vb = median(times["varbench"])
    results, figures = [], {}
    for way in ways:
        t_peer = median(times[way])
        ok, text = check(outs["varbench"][0], outs[way][0])
        goal = target if way == "as_called" else None  # the targets were set for the peers as called
        status = verdict(t_peer / t_vb, goal) if ok else DISAGREE
        results.append(Result(f"{title}, {way.replace('_', ' ')}", t_vb, f"{peer_name} ({way.replace('_', ' ')})",
                              t_peer, goal, text, status))
        figures[f"{key}_{way}"] = t_peer / t_vb
        figures[f"{key}_{way}_agrees"] = float(ok)
    return results, figures, times, outs


def _sklearn_regressor(predict: Callable[[np.ndarray], np.ndarray]) -> Any:
    """A fitted scikit-learn regressor whose predict is `predict`."""
    from sklearn.base import BaseEstimator, RegressorMixin

    class Regressor(RegressorMixin, BaseEstimator):
        def __init__(self, fn: Any = None) -> None:
            self.fn = fn

        def fit(self, X: np.ndarray, y: np.ndarray) -> "Regressor":
            return self

        def __sklearn_is_fitted__(self) -> bool:
            return True

        def predict(self, X: np.ndarray) -> np.ndarray:
            return self.fn(X)

    return Regressor(predict)


def _subset(data: Any, X_test: np.ndarray, y_test: np.ndarray, X_train: np.ndarray | None = None,
            y_train: np.ndarray | None = None) -> Any:
    """The dataset restricted to given rows, so a method and its peer see exactly the same rows
    (methods use every row when asked for at least as many as there are)."""
    return Dataset(X_train=data.X_train if X_train is None else X_train,
                   y_train=data.y_train if y_train is None else y_train,
                   X_test=X_test, y_test=y_test, task=data.task, truth=data.truth, name=data.name)


# ------------------------------------------------------------------------------------ permutation

def bench_permutation(ctx: Context) -> Section:
    s, model = ctx.sizes, ctx.model
    name = "permutation importance"
    missing = _available("sklearn.inspection")
    if missing:
        return Section("Permutation importance", [Result(name, None, "sklearn permutation_importance",
                                                         status=NOT_RUN, why=missing)])
    from sklearn.inspection import permutation_importance

    X, y = ctx.data.X_test[:s.perm_rows], ctx.data.y_test[:s.perm_rows]
    sub = _subset(ctx.data, X, y)
    ests = {way: _sklearn_regressor(f) for way, f in _predictors(model).items()}
    for est in ests.values():
        est.predict(X[:8])  # warm (trace / build predict functions)
    fns: dict[str, Callable[[int], Any]] = {
        "varbench": lambda r: permutation(model, sub, np.random.default_rng(r), n_repeats=s.perm_repeats, n_rows=None)}
    for way, est in ests.items():
        fns[way] = lambda r, est=est: permutation_importance(est, X, y, scoring="neg_mean_squared_error",
                                                             n_repeats=s.perm_repeats, random_state=r)

    def check(vb: Any, sk: Any) -> tuple[bool, str]:
        se_sk = sk.importances_std * math.sqrt(s.perm_repeats / max(s.perm_repeats - 1, 1)) / math.sqrt(s.perm_repeats)
        se = np.sqrt(se_sk**2 + vb.extras["max_stderr"] ** 2)  # varbench reports its largest s.e.
        diff = np.abs(vb.importance - sk.importances_mean)
        z = float(np.max(diff / np.where(se > 0, se, np.inf)))
        scale = float(np.max(np.abs(sk.importances_mean)))
        ok = bool(np.all(diff <= s.perm_z_tolerance * se + 1e-6 * scale))
        return ok, (f"max |diff| = {fmt(diff.max())} = {100 * diff.max() / scale:.1f}% of the largest importance; "
                    f"max |diff| / s.e. = {z:.2f} (tolerance {s.perm_z_tolerance:g})")

    results, figures, times, outs = _compare(name, "permutation_vs_sklearn", "sklearn permutation_importance",
                                             30.0, fns, s.repeats, check)
    imp_vb = outs["varbench"][0].importance
    rows = [[j, fmt(imp_vb[j]), *(fmt(outs[w][0].importances_mean[j]) for w in PEER_WAYS)]
            for j in range(ctx.data.n_features)]
    body = "\n".join([
        f"{s.perm_rows} test rows, {s.perm_repeats} repeats, loss = MSE, the varbench-trained seed-0 model; "
        f"scikit-learn with `scoring='neg_mean_squared_error'` (importance = MSE increase, as varbench), "
        f"{WAYS_TEXT}. {s.repeats} interleaved repeats each; medians: varbench {fmt(median(times['varbench']))} s, "
        f"scikit-learn as called {fmt(median(times['as_called']))} s, same engine "
        f"{fmt(median(times['same_engine']))} s. Agreement: every feature within {s.perm_z_tolerance:g} standard "
        "errors of the difference (independent shuffles on both sides).",
        "",
        table(["feature", "varbench", "scikit-learn (as called)", "scikit-learn (same engine)"], rows),
    ])
    return Section("Permutation importance", results, body, figures)


# ------------------------------------------------------------------------------------ KernelSHAP

def _rel_error(phi: np.ndarray, exact: np.ndarray) -> float:
    """Relative Frobenius error of attributions against the exact ones."""
    return float(np.linalg.norm(phi - exact) / np.linalg.norm(exact))


def bench_kernel_shap(ctx: Context) -> Section:
    s, model, data = ctx.sizes, ctx.model, ctx.data
    name = f"KernelSHAP ({s.shap_coalitions} coalitions)"
    missing = _kernel_shap_available() or _available("shap")
    if missing:
        return Section("KernelSHAP", [Result(name, None, "shap.KernelExplainer", status=NOT_RUN, why=missing)])
    import shap

    from varbench.methods.shapley import kernel_shap  # lazy: only once the probe above found it importable

    d = data.n_features
    X, bg = data.X_test[:s.shap_rows], data.X_train[:s.shap_background]
    sub = _subset(data, X, data.y_test[:s.shap_rows], bg, data.y_train[:s.shap_background])
    predictors = _predictors(model)

    def peer(way: str, n_samples: int) -> np.ndarray:
        explainer = shap.KernelExplainer(predictors[way], bg)
        return np.asarray(explainer.shap_values(X, nsamples=n_samples, l1_reg=False, silent=True))

    def ours(r: int, n_coalitions: int) -> np.ndarray:
        return kernel_shap(model, sub, np.random.default_rng(r), n_rows=None, background_size=None,
                           max_exact_features=0, n_coalitions=n_coalitions).local

    for f in predictors.values():
        f(X[:8])  # warm both
    exact = kernel_shap(model, sub, np.random.default_rng(0), n_rows=None, background_size=None,
                        max_exact_features=max(d, 1)).local
    n_exact = 2**d - 2

    def check(vb: np.ndarray, sh: np.ndarray) -> tuple[bool, str]:
        e_vb, e_sh = _rel_error(vb, exact), _rel_error(sh, exact)
        ok = e_vb <= max(s.shap_error_factor * e_sh, s.shap_error_floor)
        return ok, (f"error vs exact (relative Frobenius): varbench {e_vb:.4f}, shap {e_sh:.4f} (tolerance: "
                    f"varbench <= max({s.shap_error_factor:g} x shap, {s.shap_error_floor:g}))")

    fns: dict[str, Callable[[int], Any]] = {"varbench": lambda r: ours(r, s.shap_coalitions)}
    for way in PEER_WAYS:
        fns[way] = lambda r, way=way: peer(way, s.shap_coalitions)
    results, figures, times, outs = _compare(name, "kernel_shap_vs_shap", "shap.KernelExplainer(l1_reg=False)",
                                             30.0, fns, s.repeats, check)
    half = max(2, (s.shap_coalitions // 2) // 2 * 2)
    err_half = float(np.median([_rel_error(ours(r, half), exact) for r in range(s.repeats)]))
    err_shap = float(np.median([_rel_error(o, exact) for o in outs["same_engine"]]))
    figures.update({"kernel_shap_error_half_evals": err_half, "kernel_shap_error_shap": err_shap,
                    "kernel_shap_error": float(np.median([_rel_error(o, exact) for o in outs["varbench"]]))})
    lines = [
        f"{s.shap_rows} explained test rows, background = the same {s.shap_background} training rows for both, "
        f"{s.shap_coalitions} coalitions per row, the varbench-trained seed-0 model (d = {d}). varbench: "
        "`kernel_shap(max_exact_features=0, n_coalitions=...)`; shap: `KernelExplainer(f, background)"
        f".shap_values(X, nsamples=..., l1_reg=False)`, {WAYS_TEXT}. Reference: varbench's exact mode (all "
        f"{n_exact} coalitions). {s.repeats} interleaved repeats; medians: varbench {fmt(median(times['varbench']))} s, "
        f"shap as called {fmt(median(times['as_called']))} s, same engine {fmt(median(times['same_engine']))} s.",
        "",
        f"Error against the exact values (relative Frobenius, median over repeats): shap with {s.shap_coalitions} "
        f"samples {err_shap:.4f}; varbench with {s.shap_coalitions} coalitions {figures['kernel_shap_error']:.4f}, "
        f"with {half} (half the model evaluations) {err_half:.4f}.",
    ]
    if s.shap_exact:
        ex_times, ex_outs = side_by_side({
            "varbench": lambda r: kernel_shap(model, sub, np.random.default_rng(r), n_rows=None,
                                              background_size=None, max_exact_features=max(d, 1)).local,
            "same_engine": lambda r: peer("same_engine", n_exact),
        }, 1)
        te_vb, te_sh = median(ex_times["varbench"]), median(ex_times["same_engine"])
        gap = float(np.max(np.abs(ex_outs["varbench"][0] - ex_outs["same_engine"][0])) / np.max(np.abs(exact)))
        ok = gap <= 1e-3
        results.append(Result(f"KernelSHAP exact ({n_exact} coalitions), same engine", te_vb,
                              f"shap.KernelExplainer(nsamples={n_exact}) (same engine)", te_sh, None,
                              f"both exact: max |diff| = {100 * gap:.4f}% of max |phi| (tolerance 0.1%)",
                              verdict(te_sh / te_vb, None) if ok else DISAGREE))
        figures["kernel_shap_exact_vs_shap_same_engine"] = te_sh / te_vb
        lines += ["", f"Exact mode: all {n_exact} coalitions, shap with nsamples={n_exact} (it then enumerates "
                      f"every coalition), same engine, one timed run each: varbench {fmt(te_vb)} s, shap "
                      f"{fmt(te_sh)} s; max |diff| {100 * gap:.4f}% of max |phi|."]
    return Section("KernelSHAP", results, "\n".join(lines), figures)


# ------------------------------------------------------------------------------------ LIME

def bench_lime(ctx: Context) -> Section:
    from varbench.scoring import spearman  # lazy: scoring loads scikit-learn

    s, model, data = ctx.sizes, ctx.model, ctx.data
    name = f"LIME ({s.lime_samples} samples/row)"
    missing = _available("lime.lime_tabular")
    if missing:
        return Section("LIME", [Result(name, None, "lime LimeTabularExplainer", status=NOT_RUN, why=missing)])
    from lime.lime_tabular import LimeTabularExplainer

    d = data.n_features
    X = data.X_test[:s.lime_rows]
    sub = _subset(data, X, data.y_test[:s.lime_rows])
    predictors = _predictors(model)

    def peer(way: str, r: int) -> np.ndarray:
        explainer = LimeTabularExplainer(data.X_train, mode="regression", discretize_continuous=False,
                                         sample_around_instance=True, feature_selection="none",
                                         random_state=r)
        coef = np.zeros((X.shape[0], d))
        for i, row in enumerate(X):  # the package explains one row per call
            exp = explainer.explain_instance(row, predictors[way], num_features=d, num_samples=s.lime_samples)
            for j, w in exp.as_map()[1]:
                coef[i, j] = w
        return coef

    for f in predictors.values():
        f(X[:8])

    def check(c_vb: np.ndarray, c_li: np.ndarray) -> tuple[bool, str]:
        g_vb, g_li = np.mean(np.abs(c_vb), axis=0), np.mean(np.abs(c_li), axis=0)
        gap = float(np.max(np.abs(g_vb - g_li)) / np.max(g_li))
        corr = float(np.corrcoef(c_vb.ravel(), c_li.ravel())[0, 1])
        return gap <= s.lime_tolerance, (f"Spearman of global mean |coef| = {spearman(g_vb, g_li):.3f}; local "
                                         f"coefficients r = {corr:.3f}; max |diff| of global = {100 * gap:.1f}% "
                                         f"of max (tolerance {100 * s.lime_tolerance:g}%)")

    fns: dict[str, Callable[[int], Any]] = {"varbench": lambda r: lime(
        model, sub, np.random.default_rng(r), n_rows=s.lime_rows, n_samples=s.lime_samples).local}
    for way in PEER_WAYS:
        fns[way] = lambda r, way=way: peer(way, r)
    results, figures, times, outs = _compare(name, "lime_vs_lime", "lime LimeTabularExplainer", 10.0, fns,
                                             s.repeats, check)
    g = {k: np.mean(np.abs(outs[k][0]), axis=0) for k in ("varbench", *PEER_WAYS)}
    rows = [[j, *(fmt(g[k][j]) for k in ("varbench", *PEER_WAYS))] for j in range(d)]
    body = "\n".join([
        f"{s.lime_rows} explained test rows, {s.lime_samples} samples each, kernel width 0.75 sqrt(d), ridge "
        "alpha 1 on standardised features, samples drawn around the instance. lime: "
        "`LimeTabularExplainer(X_train, mode='regression', discretize_continuous=False, "
        "sample_around_instance=True, feature_selection='none')`, one `explain_instance` per row, "
        f"{WAYS_TEXT}; varbench: `lime(...)`. {s.repeats} interleaved repeats; medians: varbench "
        f"{fmt(median(times['varbench']))} s, lime as called {fmt(median(times['as_called']))} s, same engine "
        f"{fmt(median(times['same_engine']))} s.",
        "",
        table(["feature", "varbench mean abs coef", "lime (as called)", "lime (same engine)"], rows),
    ])
    return Section("LIME", results, body, figures)
