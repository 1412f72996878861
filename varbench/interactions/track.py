"""The interaction track's side of the runner: recognise an interaction method, score its
matrix. `varbench.runner.run_method` does the running (fault isolation, timing, counts) for both
tracks and dispatches here when a method returns `Interactions`."""
from __future__ import annotations

import functools
import logging
import typing
from typing import Any, Callable

import numpy as np

from varbench.interactions import Interactions, as_interactions
from varbench.interactions.scoring import score_interactions

log = logging.getLogger(__name__)

TRACK = "interactions"


def is_interaction_method(fn: Callable[..., Any]) -> bool:
    """True if `fn` (a function or a functools.partial of one, as Hydra's `_partial_` builds)
    is annotated to return `Interactions`: how the runner can dispatch a configured method to
    this track before calling it. A method without that return annotation is not recognised."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # noqa: BLE001 - unresolvable annotations: not ours
        return False
    return isinstance(hint, type) and issubclass(hint, Interactions)


def score_interaction_result(result: object, data: Any) -> tuple[dict[str, float], dict[str, str], np.ndarray]:
    """Validate an interaction method's result and score its matrix against
    `data.truth.interactions`: (metrics, tags, matrix). A dataset without interaction truth gives
    status=ok with score_status "undefined: ..." and no rank metrics. Metrics: pair_auroc,
    pair_ap, r_precision, spearman, n_true_pairs (see `varbench.interactions.scoring`) and
    extra_<name> for the method's extras. Raises ValueError for a malformed result."""
    res = as_interactions(result, data.n_features)
    truth = data.truth.interactions
    if truth is None:
        metrics: dict[str, float] = {}
        score_status = "undefined: the dataset has no interaction truth (truth.interactions is None)"
    else:
        scores = score_interactions(res.matrix, truth)
        metrics, score_status = dict(scores.metrics), scores.status
    metrics.update({f"extra_{k}": float(v) for k, v in res.extras.items()})
    return metrics, {"status": "ok", "score_status": score_status}, res.matrix


def run_interaction_method(name: str, fn: Callable[..., Any], model: Any, data: Any,
                           seed: int) -> tuple[dict[str, float], dict[str, str], np.ndarray | None]:
    """Run one interaction method through the runner's shared machinery (same per-method random
    stream, fault isolation, timing and model-evaluation count) on the interaction track.
    Returns (metrics, tags, matrix); tags carry track=interactions; never raises for a fault of
    the method (status=failed with the error, matrix None)."""
    from varbench.runner import run_method

    return run_method(name, fn, model, data, seed, track=TRACK)


__all__ = ["run_interaction_method", "score_interaction_result", "is_interaction_method", "TRACK"]
