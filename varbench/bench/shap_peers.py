"""shap's background-averaged explainers against varbench's methods that compute the same thing:
`GradientExplainer` vs `expected_gradients`, `DeepExplainer` vs `deep_shap`, `PermutationExplainer`
vs `sampling_shapley(average_background=True)`. Each is timed as users call it (and, where the peer
takes a prediction function, on varbench's engine) at the same budget, and **at equal error**
against the exact values: both sides' budgets are swept, and the time each needs to reach the
error the peer reaches at its default budget is read off its sweep (`time_at_error`); the
`*_equal_error` figure is the peer's time over varbench's."""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from varbench.bench.harness import (NOT_RUN, Context, Result, Section, _available, median,
                                    side_by_side, verdict)
from varbench.bench.peers import WAYS_TEXT, _compare, _predictors, _rel_error, _subset
from varbench.bench.render import fmt, table

EG_DEFAULT, PERM_DEFAULT_EVALS = 200, 500  # shap's defaults: GradientExplainer nsamples, PermutationExplainer max_evals


def time_at_error(budgets: Sequence[int], errors: Sequence[float], times: Sequence[float],
                  target: float) -> tuple[float | None, str]:
    """Seconds a sweep needs to reach error `target`: with the points in budget order, the first
    whose error is at most `target` and the one before it, interpolated linearly in (log error,
    log time). Returns (seconds, how): "interpolated"; "at most" when the smallest budget already
    reaches the target (its time is an upper bound); (None, "not reached") when no budget does.

    Examples
    --------
    >>> seconds, how = time_at_error([1, 4], [0.2, 0.1], [1.0, 4.0], 0.1 * 2 ** 0.5)
    >>> round(seconds, 6), how
    (2.0, 'interpolated')
    """
    order = np.argsort(budgets)
    err, t = np.asarray(errors, float)[order], np.asarray(times, float)[order]
    hit = np.flatnonzero(err <= target)
    if hit.size == 0:
        return None, "not reached"
    i = int(hit[0])
    if i == 0:
        return float(t[0]), "at most"
    frac = math.log(err[i - 1] / target) / math.log(err[i - 1] / err[i])
    return float(math.exp(math.log(t[i - 1]) + frac * math.log(t[i] / t[i - 1]))), "interpolated"


def _sweep(run: Callable[[int, int], np.ndarray], budgets: Sequence[int], reference: np.ndarray,
           repeats: int) -> tuple[list[float], list[float]]:
    """(median error against `reference`, median seconds) of run(budget, repeat) at each budget."""
    errors, seconds = [], []
    for b in budgets:
        times, outs = side_by_side({"run": lambda r, b=b: run(b, r)}, repeats)
        errors.append(median([_rel_error(o, reference) for o in outs["run"]]))
        seconds.append(median(times["run"]))
    return errors, seconds


def _equal_error(title: str, key: str, peer_name: str, budgets: dict[str, Sequence[int]],
                 runs: dict[str, Callable[[int, int], np.ndarray]], default: int, reference: np.ndarray,
                 repeats: int, unit: str) -> tuple[Result, dict[str, float], list[list[Any]]]:
    """Sweep both sides ("varbench", "peer"; `default` must be one of the peer's budgets); the
    target is the peer's error at its `default` budget; the Result's times are each side's time
    to reach it (`time_at_error`). Also the sweep as table rows [side, budget, error, seconds]."""
    if default not in budgets["peer"]:
        raise ValueError(f"the {peer_name} sweep {tuple(budgets['peer'])} must include its default {unit}={default}")
    curves = {side: _sweep(runs[side], budgets[side], reference, repeats) for side in ("varbench", "peer")}
    target = curves["peer"][0][list(budgets["peer"]).index(default)]
    reach = {side: time_at_error(budgets[side], *curves[side], target) for side in curves}
    rows = [[side, b, f"{e:.4f}", fmt(t)] for side in curves for b, e, t in zip(budgets[side], *curves[side])]
    (t_vb, how_vb), (t_peer, how_peer) = reach["varbench"], reach["peer"]
    text = (f"time to reach the peer's error at its default {unit}={default}, {target:.4f} (varbench: {how_vb}, "
            f"peer: {how_peer})")
    figures: dict[str, float] = {f"{key}_target_error": target}
    if t_vb is None or t_peer is None:
        return Result(title, t_vb, peer_name, t_peer, None, text, NOT_RUN,
                      why="a sweep did not reach the target error"), figures, rows
    figures[f"{key}_equal_error"] = t_peer / t_vb
    return Result(title, t_vb, peer_name, t_peer, None, text, verdict(t_peer / t_vb, None)), figures, rows


def _quiet(fn: Callable[[], Any]) -> Any:
    """fn() with shap's and TensorFlow's Python warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def bench_shap_explainers(ctx: Context) -> Section:
    """The three background-averaged shap explainers against varbench: as called, on the same
    engine (PermutationExplainer only: the gradient explainers differentiate the Keras graph
    themselves), and at equal error."""
    s, model, data = ctx.sizes, ctx.model, ctx.data
    names = {"eg": f"Expected Gradients ({EG_DEFAULT} samples/row)", "deep": "DeepSHAP",
             "perm": f"Permutation Shapley (shap's default max_evals={PERM_DEFAULT_EVALS})"}
    missing = _available("shap")
    if missing:
        return Section("shap's background-averaged explainers",
                       [Result(n, None, "shap", status=NOT_RUN, why=missing) for n in names.values()])
    import shap

    from varbench.methods.gradients import _integrated, deep_shap, expected_gradients
    from varbench.methods.shapley import kernel_shap, sampling_shapley

    d = data.n_features
    X, bg = data.X_test[:s.shap_rows], data.X_train[:s.shap_background]
    sub = _subset(data, X, data.y_test[:s.shap_rows], bg, data.y_train[:s.shap_background])
    every = dict(n_rows=None, background_size=None)
    exact = kernel_shap(model, sub, np.random.default_rng(0), max_exact_features=max(d, 1), **every).local
    # the expected-gradients estimand, deterministically: IG from each background row, averaged
    eg_exact = np.mean([_integrated(model, X, b, s.eg_reference_steps, "gausslegendre", None)[0] for b in bg], axis=0)
    results, figures, perm_lines = [], {}, []

    # ---- Expected Gradients
    explainer_eg = _quiet(lambda: shap.GradientExplainer(model.keras, bg))

    def shap_eg(n: int, r: int) -> np.ndarray:
        np.random.seed(r)  # shap draws from numpy's global generator
        return np.asarray(_quiet(lambda: explainer_eg.shap_values(X, nsamples=n))).reshape(X.shape)

    def ours_eg(n: int, r: int) -> np.ndarray:
        return expected_gradients(model, sub, np.random.default_rng(r), n_samples=n, **every).local

    shap_eg(2, 0), ours_eg(2, 0)  # warm both (graphs traced)

    def check_eg(vb: np.ndarray, sh: np.ndarray) -> tuple[bool, str]:
        e_vb, e_sh = _rel_error(vb, eg_exact), _rel_error(sh, eg_exact)
        return e_vb <= max(s.shap_error_factor * e_sh, s.shap_error_floor), (
            f"error vs the estimand: varbench {e_vb:.4f}, shap {e_sh:.4f}")

    res, fig, _, _ = _compare(names["eg"], "expected_gradients_vs_shap", "shap.GradientExplainer", None,
                              {"varbench": lambda r: ours_eg(EG_DEFAULT, r), "as_called": lambda r: shap_eg(EG_DEFAULT, r)},
                              s.repeats, check_eg, ways=("as_called",))
    eq, fig_eq, rows_eg = _equal_error(f"{names['eg']}, equal error", "expected_gradients_vs_shap",
                                       "shap.GradientExplainer", {"varbench": s.eg_samples, "peer": s.eg_samples},
                                       {"varbench": ours_eg, "peer": shap_eg}, EG_DEFAULT, eg_exact, s.repeats,
                                       "nsamples")
    results += [*res, eq]
    figures.update(fig | fig_eq)
    figures["expected_gradients_error_vs_shapley"] = _rel_error(ours_eg(EG_DEFAULT, 0), exact)

    # ---- DeepSHAP: both sides compute the estimand without sampling, so they are at equal error
    # (float rounding) at every background size: the equal-error ratio is the time ratio
    explainer_deep = _quiet(lambda: shap.DeepExplainer(model.keras, bg))

    def shap_deep(r: int) -> np.ndarray:
        return np.asarray(_quiet(lambda: explainer_deep.shap_values(X))).reshape(X.shape)

    shap_deep(0)

    def check_deep(vb: np.ndarray, sh: np.ndarray) -> tuple[bool, str]:
        gap = float(np.max(np.abs(vb - sh)) / np.max(np.abs(sh)))
        return gap <= 1e-4, f"max |diff| = {gap:.1e} of max |phi| (tolerance 1e-4); both exact for this background"

    res, fig, _, _ = _compare(names["deep"], "deep_shap_vs_shap", "shap.DeepExplainer", None,
                              {"varbench": lambda r: deep_shap(model, sub, np.random.default_rng(r), **every).local,
                               "as_called": shap_deep}, s.repeats, check_deep, ways=("as_called",))
    results += res
    figures.update(fig)
    figures["deep_shap_vs_shap_equal_error"] = fig["deep_shap_vs_shap_as_called"]
    figures["deep_shap_error_vs_shapley"] = _rel_error(deep_shap(model, sub, np.random.default_rng(0), **every).local,
                                                       exact)

    # ---- Permutation sampling against exact Shapley values
    predictors = _predictors(model)
    masker = shap.maskers.Independent(bg, max_samples=len(bg))
    walk = 2 * d + 1  # shap's evaluations per antithetic pair of orders
    explainers = {way: shap.PermutationExplainer(f, masker) for way, f in predictors.items()}

    called = min(s.perm_called_rows, len(X))  # keras predict per walk is slow: the as-called timing uses fewer rows
    subs = {len(X): sub, called: _subset(data, X[:called], data.y_test[:called], bg, data.y_train[:s.shap_background])}

    def shap_perm(way: str, evals: int, r: int, k: int = len(X)) -> np.ndarray:
        np.random.seed(r)
        return np.asarray(explainers[way](X[:k], max_evals=evals, silent=True).values)

    def ours_perm(pairs: int, r: int, average: bool = True, k: int = len(X)) -> np.ndarray:
        return sampling_shapley(model, subs[k], np.random.default_rng(r), n_permutations=2 * pairs,
                                average_background=average, **every).local

    pairs_default = PERM_DEFAULT_EVALS // walk
    if s.shap_permutation:
        for way in explainers:
            shap_perm(way, walk, 0, 1)  # warm (numba kernels compile on first use)

        def check_perm(vb: np.ndarray, sh: np.ndarray) -> tuple[bool, str]:
            e_vb, e_sh = _rel_error(vb, exact[:len(vb)]), _rel_error(sh, exact[:len(sh)])
            return e_vb <= max(s.shap_error_factor * e_sh, s.shap_error_floor), (
                f"{len(vb)} rows; error vs exact Shapley: varbench {e_vb:.4f}, shap {e_sh:.4f}, both "
                f"{2 * pairs_default} orders")

        for way, k in (("as_called", called), ("same_engine", len(X))):
            fns = {"varbench": lambda r, k=k: ours_perm(pairs_default, r, k=k),
                   way: lambda r, way=way, k=k: shap_perm(way, pairs_default * walk, r, k)}
            res, fig, _, _ = _compare(names["perm"], "sampling_shapley_vs_shap", "shap.PermutationExplainer", None,
                                      fns, s.repeats, check_perm, ways=(way,))
            results += res
            figures.update(fig)
        eq, fig_eq, rows_perm = _equal_error(
            f"{names['perm']}, equal error", "sampling_shapley_vs_shap", "shap.PermutationExplainer (same engine)",
            {"varbench": s.perm_pairs, "peer": [p * walk for p in s.perm_pairs]},
            {"varbench": ours_perm, "peer": lambda e, r: shap_perm("same_engine", e, r)},
            pairs_default * walk, exact, s.repeats, "max_evals")
        results.append(eq)
        figures.update(fig_eq)
        curves = {avg: _sweep(lambda p, r, avg=avg: ours_perm(p, r, average=avg), s.perm_pairs, exact, s.repeats)[0]
                  for avg in (False, True)}
        figures["sampling_shapley_one_row_error"] = curves[False][list(s.perm_pairs).index(pairs_default)]
        figures["sampling_shapley_averaged_error"] = curves[True][list(s.perm_pairs).index(pairs_default)]
        perm_lines = _perm_text(s, pairs_default, curves, rows_perm, d, len(bg))
    else:
        results.append(Result(names["perm"], None, "shap.PermutationExplainer", status=NOT_RUN,
                              why=f"{s.name} mode skips it (shap compiles numba kernels on first use: 5-60 s)"))

    lines = [
        f"{len(X)} explained test rows, the same {len(bg)} background training rows for both sides, the "
        f"varbench-trained seed-0 model (d = {d}); {s.repeats} interleaved repeats, medians. shap's gradient "
        "explainers take the Keras model (as users call them; they differentiate its graph themselves, so there "
        f"is no same-engine way); PermutationExplainer: {WAYS_TEXT}.",
        "",
        f"**Expected Gradients.** varbench `expected_gradients(n_samples=...)`, shap `GradientExplainer(model, "
        "background).shap_values(X, nsamples=...)`: the same estimator (a random background row and a random point "
        "on the path per sample). Reference: the estimand, mean over the background of Integrated Gradients "
        f"({s.eg_reference_steps} Gauss-Legendre nodes). Error vs exact Shapley values (not its estimand): "
        f"{figures['expected_gradients_error_vs_shapley']:.4f} at {EG_DEFAULT} samples.",
        "",
        table(["side", "nsamples", "error vs estimand", "seconds"], rows_eg),
        "",
        "**DeepSHAP.** varbench `deep_shap(...)`, shap `DeepExplainer(model, background).shap_values(X)`: both "
        "DeepLIFT (Rescale) averaged over every background row, computed without sampling, so their error is equal "
        "at any background size and `deep_shap_vs_shap_equal_error` is the time ratio. Error vs exact Shapley "
        f"values: {figures['deep_shap_error_vs_shapley']:.4f}.",
        *perm_lines,
    ]
    return Section("shap's background-averaged explainers", results, "\n".join(lines), figures)


def _perm_text(s: Any, pairs_default: int, curves: dict[bool, list[float]], rows: list[list[Any]], d: int,
               n_bg: int) -> list[str]:
    """The permutation part of the section's text: the equal-error sweep, and varbench's two modes
    at the same orders with their model evaluations per row."""
    modes = table(["antithetic pairs", "one-row error", "averaged error", "evaluations per row: one-row / averaged"],
                  [[p, f"{e1:.4f}", f"{e2:.4f}", f"{2 * p * (d + 1):,} / {2 * p * (d - 1) * n_bg + n_bg + 1:,}"]
                   for p, e1, e2 in zip(s.perm_pairs, curves[False], curves[True])])
    return ["", f"**Permutation sampling.** varbench `sampling_shapley(average_background=True, n_permutations=2k)`, "
                f"shap `PermutationExplainer(f, Independent(background))(X, max_evals=k (2d + 1))` (k antithetic "
                f"pairs of orders, every coalition valued on the whole background); shap's default max_evals="
                f"{PERM_DEFAULT_EVALS} is k = {pairs_default}. Reference: exact Shapley values (KernelSHAP exact "
                "mode, same background).",
            "", table(["side", "budget", "error vs exact", "seconds"], rows),
            "", "varbench's two modes at the same orders (the default one-row mode pairs each order with one "
                "background row, so its error includes that row's noise):", "", modes]
