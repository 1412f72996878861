"""The score of one importance result (an `Attribution` per variable) against the data's truth,
the model's own truths and its local truth, with its uncertainty as tags."""
from __future__ import annotations

from typing import Any

import numpy as np

from varbench.methods.base import Attribution
from varbench.methods.uncertainty import with_uncertainty
from varbench.scoring import score_against, score_local, spearman
from varbench.tracking import vector_json


def score_importance_result(att: Attribution, data: Any, k: int | None, model_truths: dict[str, np.ndarray] | None,
                            estimand: str = "unknown", seed: int = 0
                            ) -> tuple[dict[str, float], dict[str, str], np.ndarray]:
    """Score per variable (a group of columns is one variable, as the method's `_meta_.groups`
    rule honours it); the importance's uncertainty (`varbench.methods.uncertainty`) travels as
    tags importance_std / importance_ci_low / _high."""
    att = with_uncertainty(att, np.random.default_rng([int(seed), 1]))
    tags = {"status": "ok", "aggregation": att.aggregation}
    if data.truth.known:
        scores = score_against(att.importance, data.truth, k, estimand, att.aggregation)
        metrics, tags["score_status"] = dict(scores.metrics), scores.status
    else:
        metrics, tags["score_status"] = {}, "no data truth (real target): scored against the model's own truth"
    if att.local is not None and att.rows is not None and data.truth.local is not None and not data.groups:
        metrics.update(score_local(att.local, data.truth.local(att.rows)))
    for key, truth in (model_truths or {}).items():
        if len(truth) == len(att.importance):
            metrics[key] = spearman(att.importance, truth)
    metrics.update({f"extra_{k_}": float(v) for k_, v in att.extras.items()})
    if np.any(np.isfinite(att.std)) or np.any(np.isfinite(att.ci_low)):
        tags.update(importance_std=vector_json(att.std), importance_ci_low=vector_json(att.ci_low),
                    importance_ci_high=vector_json(att.ci_high))
    return metrics, tags, att.importance
