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
from varbench.methods.gradients import _integrated, deep_shap, expected_gradients
from varbench.methods.shapley import kernel_shap, sampling_shapley

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


_TITLE = "shap's background-averaged explainers"
_NAMES = {"eg": f"Expected Gradients ({EG_DEFAULT} samples/row)", "deep": "DeepSHAP",
          "perm": f"Permutation Shapley (shap's default max_evals={PERM_DEFAULT_EVALS})"}


def bench_shap_explainers(ctx: Context) -> Section:
    """The three background-averaged shap explainers against varbench: as called, on the same
    engine (PermutationExplainer only: the gradient explainers differentiate the Keras graph
    themselves), and at equal error."""
    missing = _available("shap")
    if missing:
        return Section(_TITLE, [Result(n, None, "shap", status=NOT_RUN, why=missing) for n in _NAMES.values()])

    s, model, data = ctx.sizes, ctx.model, ctx.data
    X, bg = data.X_test[:s.shap_rows], data.X_train[:s.shap_background]
    sub = _subset(data, X, data.y_test[:s.shap_rows], bg, data.y_train[:s.shap_background])
    exact = kernel_shap(model, sub, np.random.default_rng(0), n_rows=None, background_size=None,
                        max_exact_features=max(data.n_features, 1)).local
    results, figures, lines = [], {}, [
        f"{len(X)} explained test rows, the same {len(bg)} background training rows for both sides, the "
        f"varbench-trained seed-0 model (d = {data.n_features}); {s.repeats} interleaved repeats, medians. shap's "
        "gradient explainers take the Keras model (as users call them; they differentiate its graph themselves, so "
        f"there is no same-engine way); PermutationExplainer: {WAYS_TEXT}."]
    for part in (_expected_gradients_part, _deep_shap_part, _permutation_part):
        res, fig, text = part(ctx, sub, exact)
        results += res
        figures.update(fig)
        lines += ["", *text]
    return Section(_TITLE, results, "\n".join(lines), figures)


Part = tuple[list[Result], dict[str, float], list[str]]  # a part's results, figures and text


def _expected_gradients_part(ctx: Context, sub: Any, exact: np.ndarray) -> Part:
    """GradientExplainer vs expected_gradients, against the estimand: Integrated Gradients from
    each background row (Gauss-Legendre), averaged."""
    import shap


    s, model, X, bg = ctx.sizes, ctx.model, sub.X_test, sub.X_train
    estimand = np.mean([_integrated(model, X, b, s.eg_reference_steps, "gausslegendre", None)[0] for b in bg], axis=0)
    explainer = _quiet(lambda: shap.GradientExplainer(model.keras, bg))

    def peer(n: int, r: int) -> np.ndarray:
        np.random.seed(r)  # shap draws from numpy's global generator
        return np.asarray(_quiet(lambda: explainer.shap_values(X, nsamples=n))).reshape(X.shape)

    def ours(n: int, r: int) -> np.ndarray:
        return expected_gradients(model, sub, np.random.default_rng(r), n_rows=None, background_size=None,
                                  n_samples=n).local

    peer(2, 0), ours(2, 0)  # warm both (graphs traced)

    def check(vb: np.ndarray, sh: np.ndarray) -> tuple[bool, str]:
        e_vb, e_sh = _rel_error(vb, estimand), _rel_error(sh, estimand)
        return e_vb <= max(s.shap_error_factor * e_sh, s.shap_error_floor), (
            f"error vs the estimand: varbench {e_vb:.4f}, shap {e_sh:.4f}")

    results, figures, _, _ = _compare(_NAMES["eg"], "expected_gradients_vs_shap", "shap.GradientExplainer", None,
                                      {"varbench": lambda r: ours(EG_DEFAULT, r),
                                       "as_called": lambda r: peer(EG_DEFAULT, r)},
                                      s.repeats, check, ways=("as_called",))
    eq, fig_eq, rows = _equal_error(f"{_NAMES['eg']}, equal error", "expected_gradients_vs_shap",
                                    "shap.GradientExplainer", {"varbench": s.eg_samples, "peer": s.eg_samples},
                                    {"varbench": ours, "peer": peer}, EG_DEFAULT, estimand, s.repeats, "nsamples")
    figures |= fig_eq | {"expected_gradients_error_vs_shapley": _rel_error(ours(EG_DEFAULT, 0), exact)}
    text = [f"**Expected Gradients.** varbench `expected_gradients(n_samples=...)`, shap `GradientExplainer(model, "
            "background).shap_values(X, nsamples=...)`: the same estimator (a random background row and a random "
            "point on the path per sample). Reference: the estimand, mean over the background of Integrated "
            f"Gradients ({s.eg_reference_steps} Gauss-Legendre nodes). Error vs exact Shapley values (not its "
            f"estimand): {figures['expected_gradients_error_vs_shapley']:.4f} at {EG_DEFAULT} samples.",
            "", table(["side", "nsamples", "error vs estimand", "seconds"], rows)]
    return [*results, eq], figures, text


def _deep_shap_part(ctx: Context, sub: Any, exact: np.ndarray) -> Part:
    """DeepExplainer vs deep_shap. Both compute their estimand without sampling, so they are at
    equal error (float rounding) at every background size: the equal-error ratio is the time ratio."""
    import shap


    s, model, X, bg = ctx.sizes, ctx.model, sub.X_test, sub.X_train
    explainer = _quiet(lambda: shap.DeepExplainer(model.keras, bg))

    def peer(r: int) -> np.ndarray:
        return np.asarray(_quiet(lambda: explainer.shap_values(X))).reshape(X.shape)

    def ours(r: int) -> np.ndarray:
        return deep_shap(model, sub, np.random.default_rng(r), n_rows=None, background_size=None).local

    peer(0)

    def check(vb: np.ndarray, sh: np.ndarray) -> tuple[bool, str]:
        gap = float(np.max(np.abs(vb - sh)) / np.max(np.abs(sh)))
        return gap <= 1e-4, f"max |diff| = {gap:.1e} of max |phi| (tolerance 1e-4); both exact for this background"

    results, figures, _, _ = _compare(_NAMES["deep"], "deep_shap_vs_shap", "shap.DeepExplainer", None,
                                      {"varbench": ours, "as_called": peer}, s.repeats, check, ways=("as_called",))
    figures |= {"deep_shap_vs_shap_equal_error": figures["deep_shap_vs_shap_as_called"],
                "deep_shap_error_vs_shapley": _rel_error(ours(0), exact)}
    text = ["**DeepSHAP.** varbench `deep_shap(...)`, shap `DeepExplainer(model, background).shap_values(X)`: both "
            "DeepLIFT (Rescale) averaged over every background row, computed without sampling, so their error is "
            "equal at any background size and `deep_shap_vs_shap_equal_error` is the time ratio. Error vs exact "
            f"Shapley values: {figures['deep_shap_error_vs_shapley']:.4f}."]
    return results, figures, text


def _permutation_part(ctx: Context, sub: Any, exact: np.ndarray) -> Part:
    """PermutationExplainer vs sampling_shapley(average_background=True), against exact Shapley
    values; and sampling_shapley's two modes at the same orders."""
    s, model, data = ctx.sizes, ctx.model, ctx.data
    if not s.shap_permutation:
        return [Result(_NAMES["perm"], None, "shap.PermutationExplainer", status=NOT_RUN,
                       why=f"{s.name} mode skips it (shap compiles numba kernels on first use: 5-60 s)")], {}, []
    import shap


    X, bg, d = sub.X_test, sub.X_train, data.n_features
    walk = 2 * d + 1  # shap's evaluations per antithetic pair of orders
    pairs_default = PERM_DEFAULT_EVALS // walk
    masker = shap.maskers.Independent(bg, max_samples=len(bg))
    explainers = {way: shap.PermutationExplainer(f, masker) for way, f in _predictors(model).items()}
    called = min(s.perm_called_rows, len(X))  # keras predict per walk is slow: the as-called timing uses fewer rows
    subs = {len(X): sub, called: _subset(data, X[:called], sub.y_test[:called], bg, sub.y_train)}

    def peer(way: str, evals: int, r: int, k: int = len(X)) -> np.ndarray:
        np.random.seed(r)
        return np.asarray(explainers[way](X[:k], max_evals=evals, silent=True).values)

    def ours(pairs: int, r: int, average: bool = True, k: int = len(X)) -> np.ndarray:
        return sampling_shapley(model, subs[k], np.random.default_rng(r), n_rows=None, background_size=None,
                                n_permutations=2 * pairs, average_background=average).local

    for way in explainers:
        peer(way, walk, 0, 1)  # warm (numba kernels compile on first use)

    def check(vb: np.ndarray, sh: np.ndarray) -> tuple[bool, str]:
        e_vb, e_sh = _rel_error(vb, exact[:len(vb)]), _rel_error(sh, exact[:len(sh)])
        return e_vb <= max(s.shap_error_factor * e_sh, s.shap_error_floor), (
            f"{len(vb)} rows; error vs exact Shapley: varbench {e_vb:.4f}, shap {e_sh:.4f}, both "
            f"{2 * pairs_default} orders")

    results, figures = [], {}
    for way, k in (("as_called", called), ("same_engine", len(X))):
        fns = {"varbench": lambda r, k=k: ours(pairs_default, r, k=k),
               way: lambda r, way=way, k=k: peer(way, pairs_default * walk, r, k)}
        res, fig, _, _ = _compare(_NAMES["perm"], "sampling_shapley_vs_shap", "shap.PermutationExplainer", None,
                                  fns, s.repeats, check, ways=(way,))
        results += res
        figures |= fig
    eq, fig_eq, rows = _equal_error(
        f"{_NAMES['perm']}, equal error", "sampling_shapley_vs_shap", "shap.PermutationExplainer (same engine)",
        {"varbench": s.perm_pairs, "peer": [p * walk for p in s.perm_pairs]},
        {"varbench": ours, "peer": lambda e, r: peer("same_engine", e, r)}, pairs_default * walk, exact, s.repeats,
        "max_evals")
    curves = {avg: _sweep(lambda p, r, avg=avg: ours(p, r, average=avg), s.perm_pairs, exact, s.repeats)[0]
              for avg in (False, True)}
    at_default = list(s.perm_pairs).index(pairs_default)
    figures |= fig_eq | {"sampling_shapley_one_row_error": curves[False][at_default],
                         "sampling_shapley_averaged_error": curves[True][at_default]}
    return [*results, eq], figures, _perm_text(s, pairs_default, curves, rows, d, len(bg))


def _perm_text(s: Any, pairs_default: int, curves: dict[bool, list[float]], rows: list[list[Any]], d: int,
               n_bg: int) -> list[str]:
    """The permutation part of the section's text: the equal-error sweep, and varbench's two modes
    at the same orders with their model evaluations per row."""
    modes = table(["antithetic pairs", "one-row error", "averaged error", "evaluations per row: one-row / averaged"],
                  [[p, f"{e1:.4f}", f"{e2:.4f}", f"{2 * p * (d + 1):,} / {2 * p * (d - 1) * n_bg + n_bg + 1:,}"]
                   for p, e1, e2 in zip(s.perm_pairs, curves[False], curves[True])])
    return [f"**Permutation sampling.** varbench `sampling_shapley(average_background=True, n_permutations=2k)`, "
                f"shap `PermutationExplainer(f, Independent(background))(X, max_evals=k (2d + 1))` (k antithetic "
                f"pairs of orders, every coalition valued on the whole background); shap's default max_evals="
                f"{PERM_DEFAULT_EVALS} is k = {pairs_default}. Reference: exact Shapley values (KernelSHAP exact "
                "mode, same background).",
            "", table(["side", "budget", "error vs exact", "seconds"], rows),
            "", "varbench's two modes at the same orders (the default one-row mode pairs each order with one "
                "background row, so its error includes that row's noise):", "", modes]
