"""The interaction track's side of the runner: score an interaction method's matrix.
`varbench.runner.run_method` does the running (fault isolation, timing, counts) for both tracks and
dispatches here for a method whose metadata says `returns: interactions` (or that returns
`Interactions`)."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from varbench.interactions import Interactions, as_interactions
from varbench.interactions.scoring import score_interactions

log = logging.getLogger(__name__)

TRACK = "interactions"


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


__all__ = ["score_interaction_result", "TRACK"]
