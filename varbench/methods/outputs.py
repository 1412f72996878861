"""Which output a method explains: one concept for the API and the runner.

A model with one explained output (regression with one output, a binary classifier: P(class 1))
runs a method once. A model with k outputs runs an output-based method (`_meta_.explains:
output`) once per output column on `model.for_output(j)` (the class probabilities or logits, or
each regression output), each with the same random stream, and a loss-based method once per
output for k-output regression (the squared error of that output); a loss-based method on a
k-class model runs once on the categorical cross-entropy. The overall importance is the mean over
outputs of the per-output importance; its uncertainty comes from the mean of the per-output local
magnitudes |phi_j| or replicates (`varbench.methods.uncertainty`).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from varbench.datasets.base import Dataset
from varbench.methods.base import Attribution
from varbench.methods.variables import explain


def output_views(model: Any, explains: str) -> list[Any]:
    """The model views a method runs on: [model], or one `for_output(j)` per output column."""
    k = getattr(model, "n_outputs", 1)
    per_output = k > 1 and (explains == "output" or (explains == "loss" and model.task == "regression"))
    return [model.for_output(j) for j in range(k)] if per_output else [model]


def combine(atts: list[Attribution]) -> Attribution:
    """The overall result of one run per output: mean importance; local magnitudes mean_j |phi_j|
    and replicates averaged over outputs, so that the uncertainty rules apply to the mean."""
    if len(atts) == 1:
        return atts[0]
    imp = np.mean([a.importance for a in atts], axis=0)
    out = Attribution(importance=imp, aggregation=atts[0].aggregation, ci_level=atts[0].ci_level)
    if all(a.local is not None for a in atts) and len({a.local.shape for a in atts}) == 1 \
            and atts[0].aggregation == "mean_abs_local":
        out.local = np.mean([np.abs(a.local) for a in atts], axis=0)
    elif all(a.replicates is not None for a in atts) and len({a.replicates.shape for a in atts}) == 1:
        out.replicates = np.mean([a.replicates for a in atts], axis=0)
    return out


def explain_outputs(name: str, fn: Callable[..., Any], model: Any, data: Dataset,
                    make_rng: Callable[[], np.random.Generator], explains: str = "output",
                    groups: str = "none", categorical: str = "refuse") -> tuple[Attribution, list[Attribution]]:
    """(overall result per variable, per-output results) of method `fn` on every view of `model`
    (see the module note). Each view gets a fresh `make_rng()`; model.n_evals grows by all views'."""
    views = output_views(model, explains)
    atts = []
    for view in views:
        if view is not model:
            view.n_evals = 0
        atts.append(explain(name, fn, view, data, make_rng(), groups, categorical))
        if view is not model:
            model.n_evals += view.n_evals
    return combine(atts), (atts if len(views) > 1 else [])
