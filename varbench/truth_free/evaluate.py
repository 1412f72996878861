"""The truth-free scores of one method run, as the runner logs them, with their costs.

`truth_free_scores` computes the metric families that `evaluation` (varbench.schema.
EvaluationConfig) selects and records, per family, its wall time (`cost_<family>_seconds`) and
model evaluations (`cost_<family>_evals`), so each metric's cost can be stated beside the
method's own `seconds` / `n_model_evals` (which it leaves unchanged). The rows explained and the
background are drawn from the cell's seed alone: every method of a cell is judged on the same
rows and draws (paired comparisons); only its order of the variables differs. A family that
cannot apply (multi-output heads, no local attributions, no refit, ...) is left out and said so in
the tag `truth_free_status`; a family that fails is reported there too, never imputed.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from varbench.methods.base import Attribution, sample_rows
from varbench.methods.conditional import gaussian_fit
from varbench.methods.shapley import background_sample
from varbench.methods.variables import variable_of_column
from varbench.models.trained import TrainedModel
from varbench.schema import EvaluationConfig
from varbench.scoring import spearman
from varbench.truth_free.curves import curve_scores, variable_order
from varbench.truth_free.local import faithfulness_infidelity, max_sensitivity
from varbench.truth_free.roar import roar_scores
from varbench.truth_free.sanity import randomized_model

# family -> the metrics it logs (the cost of a family is the cost of each of its metrics)
FAMILIES: dict[str, tuple[str, ...]] = {
    "curves": ("deletion_auc", "insertion_auc", "pgi", "pgu"),
    "curves_conditional": ("deletion_auc_conditional",),
    "local": ("faithfulness_corr", "infidelity"),
    "max_sensitivity": ("max_sensitivity",),
    "randomization": ("randomization_spearman_last", "randomization_spearman"),
    "roar": ("roar", "roar_keep"),
}
TRUTH_FREE_METRICS = tuple(m for names in FAMILIES.values() for m in names)

Rerun = Callable[[TrainedModel, Any], Attribution]


def truth_free_k(data: Any, k: int | None, fraction: float) -> tuple[int, str]:
    """(k, where it came from) for PGI, PGU and ROAR: `scoring.k` when set, else the number of
    strongly relevant variables where the truth is known (the rank scores' k), else
    ceil(fraction x variables); at least 1, at most the number of variables.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> import numpy as np
    >>> truth = NS(known=False, relevant=np.zeros(8, bool), weak=None)
    >>> truth_free_k(NS(truth=truth, n_variables=8), None, 0.25)
    (2, 'ceil(0.25 x 8 variables)')
    """
    V = int(data.n_variables)
    if k is not None:
        return max(1, min(int(k), V)), "scoring.k"
    if data.truth.known and data.truth.relevant.any():
        strong = data.truth.relevant & ~(data.truth.weak if data.truth.weak is not None else False)
        return max(1, min(int(strong.sum()), V)), "relevant variables"
    return max(1, min(math.ceil(fraction * V), V)), f"ceil({fraction:g} x {V} variables)"


def _stream(seed: int, family: str) -> np.random.Generator:
    """The cell's stream for one family (the same for every method of the cell)."""
    return np.random.default_rng([int(seed), 0x7F, sum(map(ord, family))])


def truth_free_scores(model: TrainedModel, data: Any, att: Attribution, seed: int, k: int | None,
                      options: dict[str, Any] | EvaluationConfig,
                      rerun: Rerun | None = None) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, tags) of one method run's truth-free scores (see the module note).

    `att`: the method's per-variable result; `rerun(model, data)`: the method again (same
    stream) on another model or data, for max_sensitivity and randomization; `k`: scoring.k.

    Examples
    --------
    See ``tests/test_truth_free.py`` (oracles) and ``tests/test_truth_free_runner.py``.
    """
    opts = options if isinstance(options, EvaluationConfig) else EvaluationConfig(**dict(options))
    metrics: dict[str, float] = {}
    notes: list[str] = []
    V = int(data.n_variables)
    if getattr(model, "n_outputs", 1) > 1:
        return {}, {"truth_free_status": "not computed: defined here for single-output heads"}
    if V < 2:
        return {}, {"truth_free_status": f"not computed: {V} variable (needs at least 2)"}
    k_used, k_source = truth_free_k(data, k, opts.k_fraction)
    col_var = variable_of_column(data)
    order = variable_order(att.importance, np.random.default_rng([int(seed), 0x7E]))
    evals_before = model.n_evals

    def run(family: str, compute: Callable[[], dict[str, float]]) -> None:
        start, n0 = time.perf_counter(), model.n_evals
        try:
            metrics.update(compute())
        except Exception as exc:  # noqa: BLE001 - a metric's fault never fails the method's run
            notes.append(f"{family} failed: {type(exc).__name__}: {exc}"[:500])
            return
        metrics[f"cost_{family}_seconds"] = time.perf_counter() - start
        metrics[f"cost_{family}_evals"] = float(model.n_evals - n0)

    def rows_and_background(family: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
        rng = _stream(seed, family)
        idx = sample_rows(data.X_test.shape[0], opts.rows, rng)
        bg = background_sample(data.X_train, opts.background_size, rng)
        return np.asarray(data.X_test[idx], np.float32), np.asarray(data.y_test[idx]), bg, rng

    if opts.curves:
        def curves(conditional: bool) -> dict[str, float]:
            X, y, bg, rng = rows_and_background("curves_conditional" if conditional else "curves")
            cond = gaussian_fit(data.X_train) if conditional else None
            c = curve_scores(model, X, y, bg, order, col_var, k_used, cond, rng, insertion=not conditional)
            if conditional:
                return {"deletion_auc_conditional": c.deletion_auc}
            return {"deletion_auc": c.deletion_auc, "insertion_auc": c.insertion_auc, "pgi": c.pgi, "pgu": c.pgu}

        run("curves", lambda: curves(False))
        if opts.conditional == "gaussian" and not data.groups:
            run("curves_conditional", lambda: curves(True))
        elif opts.conditional == "gaussian":
            notes.append("deletion_auc_conditional not computed: the Gaussian sampler is for datasets "
                          "without variable groups")
    if opts.local:
        if att.local is not None and att.rows is not None:
            def local() -> dict[str, float]:
                rng = _stream(seed, "local")
                idx = sample_rows(att.rows.shape[0], opts.rows, rng)
                bg = background_sample(data.X_train, opts.background_size, rng)
                size = max(1, round(opts.subset_fraction * V))
                return faithfulness_infidelity(model, att.rows[idx], att.local[idx], bg, col_var,
                                               opts.n_subsets, size, rng)

            run("local", local)
        else:
            notes.append("faithfulness_corr, infidelity not computed: the method gives no additive local "
                         "attributions with their rows (Attribution.rows; not set on grouped variables)")
    if opts.max_sensitivity:
        if att.local is not None and rerun is not None:
            def sens() -> dict[str, float]:
                rng = _stream(seed, "max_sensitivity")
                idx = sample_rows(data.X_test.shape[0], opts.sensitivity_rows, rng)
                return {"max_sensitivity": max_sensitivity(rerun, model, data, data.X_test[idx], data.y_test[idx],
                                                           opts.radius, opts.sensitivity_draws, rng)}

            run("max_sensitivity", sens)
        else:
            notes.append("max_sensitivity not computed: no local attributions")
    if opts.randomization:
        if rerun is None:
            notes.append("randomization_spearman not computed: the method cannot be re-run here")
        else:
            def randomization() -> dict[str, float]:
                rng = _stream(seed, "randomization")
                out = {}
                for scope, name in (("last", "randomization_spearman_last"), ("all", "randomization_spearman")):
                    other = randomized_model(model, scope, rng)
                    out[name] = spearman(att.importance, rerun(other, data).importance)
                    model.n_evals += other.n_evals
                return out

            run("randomization", randomization)
    if opts.roar:
        run("roar", lambda: roar_scores(model, data, order, col_var, k_used))
    model.n_evals = evals_before  # the method's own count stays its own
    tags = {"truth_free_k": f"{k_used} ({k_source})",
            "truth_free_status": "ok" if not notes else "; ".join(notes)}
    return metrics, tags
