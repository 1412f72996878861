"""The cell's model truth: the trained model's own importance (exact Shapley/SAGE by coalition
enumeration, total Sobol), computed once per model and options (cached beside the model), logged
on the cell run, and handed to the scorer so that explainer error can be told apart from model
error."""
from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from varbench.config import CellSpec, stable_hash
from varbench.methods.model_truth import model_truth
from varbench.models.cache import cached_arrays
from varbench.methods.variables import variable_level
from varbench.scoring import spearman
from varbench.tracking import vector_json

log = logging.getLogger(__name__)

# the metric a method's importance is scored as (its Spearman with) -> the model truth it is scored against
MODEL_TRUTHS = {"model_spearman": "sobol_total", "model_spearman_shapley": "shapley", "model_spearman_sage": "sage"}


def model_truth_skipped(spec: CellSpec, model: Any) -> str | None:
    """Why the cell's model truth is not computed ("disabled" when off or d is above
    `max_features`), or None when it is."""
    opts = spec.model_truth
    if not opts.get("enabled", True) or spec.dataset.n_features > opts["max_features"]:
        return "disabled"
    if model.n_outputs > 1:
        return "it is defined here for a single-output model"
    return None


def cached_model_truth(spec: CellSpec, model: Any) -> tuple[dict[str, np.ndarray], bool]:
    """(arrays, from the cache) of the model's own truth with the cell's options and seed.
    Deterministic given the model and options, so cached beside the model (`model` explains
    what the cell explains: `spec.output`)."""
    opts = spec.model_truth
    return cached_arrays(spec, "truth-" + stable_hash(opts), lambda: model_truth(
        model, spec.dataset, background_size=opts["background_size"], rows=opts["rows"],
        sobol_samples=opts["sobol_samples"], max_features=opts["max_features"], seed=spec.seed))


def log_model_truth(spec: CellSpec, model: Any, tracker: Any, parent: str) -> dict[str, np.ndarray]:
    """The trained model's own truth per variable, by the metric it is scored as (`MODEL_TRUTHS`),
    logged on the cell run `parent`. Empty if disabled, if d is too large, or if it fails (the
    failure is logged, the cell goes on)."""
    skip = model_truth_skipped(spec, model)
    if skip:
        if skip != "disabled":
            log.info("model truth skipped: %s", skip)
        return {}
    start = time.perf_counter()
    model.n_evals = 0
    try:
        mt, cached = cached_model_truth(spec, model)
    except Exception as exc:  # noqa: BLE001 - the model truth is a diagnostic: never fatal
        log.warning("model truth failed: %s", exc)
        tracker.log(parent, tags={"model_truth_error": f"{type(exc).__name__}: {exc}"[:4000]})
        return {}
    truths = {metric: variable_level(mt[key], spec.dataset) for metric, key in MODEL_TRUTHS.items()}
    data_truth = spec.dataset.truth.importance
    vs_data = ({f"{m}_vs_data": spearman(v, data_truth) for m, v in truths.items()}
               if spec.dataset.truth.known else {})
    tracker.log(parent, metrics={"model_truth_seconds": time.perf_counter() - start,
                                 "model_truth_evals": float(model.n_evals), **vs_data},
                tags={"model_truth_cached": str(cached),
                      **{f"model_truth_{key}": vector_json(mt[key]) for key in MODEL_TRUTHS.values()}})
    log.info("model truth (%.1fs): Spearman of the model's own Sobol ranking vs data truth %s",
             time.perf_counter() - start, fmt_score(vs_data.get("model_spearman_vs_data"))
             if spec.dataset.truth.known else "unknown (real target)")
    return truths


def fmt_score(v: float | None) -> str:
    """A score for a progress line: three decimals, or "n/a".

    Examples
    --------
    >>> fmt_score(0.93851), fmt_score(None), fmt_score(float("nan"))
    ('0.939', 'n/a', 'n/a')
    """
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"
