"""The table of result kinds a method can return: importance (the main track), interactions and
selection. Each kind says how it is recognised (the method's `_meta_.returns`, or the type of
what it returned), how it is scored, and how its payload is stored on the method's run.

The runner (`varbench.harness.method_run`) dispatches through this table; adding a track is one
row here, not a new branch there."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from varbench.methods.base import Interactions, Selection
from varbench.methods.variables import to_variables
from varbench.registry import MethodMeta
from varbench.scoring import score_importance_result
from varbench.scoring.interactions import TRACK as INTERACTIONS_TRACK, score_interaction_result
from varbench.scoring.selection import TRACK as SELECTION_TRACK, score_selection_result
from varbench.tag_json import matrix_json, vector_json
from varbench.tracking import MAX_TAG
from varbench.truth_free.evaluate import truth_free_scores

Scores = tuple[dict[str, float], dict[str, str], np.ndarray]


@dataclass(frozen=True)
class MethodCall:
    """One method's run on a cell, as a kind's scorer may need it."""

    name: str
    fn: Callable[..., Any]
    model: Any
    data: Any
    seed: int
    make_rng: Callable[[], np.random.Generator]  # the method's own stream, fresh at each call
    k: int | None = None
    model_truths: dict[str, np.ndarray] | None = None
    meta: MethodMeta = field(default_factory=MethodMeta)
    evaluation: dict[str, Any] | None = None  # `CellSpec.evaluation`: truth-free metrics of an importance result
    per_variable: bool = False  # the result is already an `Attribution` per variable (outputs combined)


@dataclass(frozen=True)
class ResultKind:
    """One kind of method result: its names, how it is recognised, scored and stored."""

    returns: str  # the `_meta_.returns` that declares it
    track: str  # the `track` tag of its runs
    run_kind: str  # the MLflow `kind` tag of its runs
    result_type: type | None  # a result of this type is of this kind, whatever `returns` says (None: the fallback)
    score: Callable[[Any, MethodCall], Scores]  # (raw result, call) -> (metrics, tags, payload)
    store: Callable[[Any], tuple[dict[str, str], tuple[str, str] | None]]  # payload -> (tags, (text, artifact name))


def _score_importance(raw: Any, call: MethodCall) -> Scores:
    """An importance result per variable, scored; with `call.evaluation`, its truth-free metrics
    too (timed and counted apart from the method's own cost)."""
    att = raw if call.per_variable else to_variables(raw, call.data, call.meta.groups)
    metrics, tags, payload = score_importance_result(att, call.data, call.k, call.model_truths, call.meta.estimand,
                                                     call.seed)
    if call.evaluation is not None:
        def rerun(m: Any, d: Any) -> Any:  # the method again, same stream (another model or rows)
            return to_variables(call.fn(m, d, call.make_rng()), d, call.meta.groups)

        free, free_tags = truth_free_scores(call.model, call.data, att, call.seed, call.k, call.evaluation, rerun)
        metrics.update(free)
        tags.update(free_tags)
    return metrics, tags, payload


def _store_vector(importance: np.ndarray) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The vector as the `importance` tag; a tag longer than MAX_TAG is cut by the store, so the
    whole vector is written as an artifact too."""
    text = vector_json(importance)
    return {"importance": text}, ((text, "importance.json") if len(text) > MAX_TAG else None)


def _store_matrix(matrix: np.ndarray) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The matrix as the `interactions` tag (what reports read) when it fits, else an artifact only."""
    text = matrix_json(matrix)
    return ({"interactions": text}, None) if len(text) <= MAX_TAG else ({}, (text, "interactions.json"))


def _store_nothing(selected: np.ndarray) -> tuple[dict[str, str], None]:
    """A selection's decisions are already tags of its scores."""
    return {}, None


IMPORTANCE = ResultKind("importance", "main", "method", None, _score_importance, _store_vector)
INTERACTIONS = ResultKind("interactions", INTERACTIONS_TRACK, "interaction", Interactions,
                          lambda raw, call: score_interaction_result(raw, call.data), _store_matrix)
SELECTION = ResultKind("selection", SELECTION_TRACK, "selection", Selection,
                       lambda raw, call: score_selection_result(raw, call.data), _store_nothing)
KINDS = (INTERACTIONS, SELECTION, IMPORTANCE)  # recognition order: importance is the fallback, last

KIND_BY_TRACK = {kind.track: kind for kind in (IMPORTANCE, INTERACTIONS, SELECTION)}
RUN_KINDS = {track: kind.run_kind for track, kind in KIND_BY_TRACK.items()}  # the MLflow `kind` tag of a run, by track


def declared_kind(meta: MethodMeta) -> ResultKind:
    """The kind a method's metadata declares (`returns`).

    Examples
    --------
    >>> declared_kind(MethodMeta(returns="selection")).track
    'selection'
    """
    return next((kind for kind in KINDS if kind.returns == meta.returns), IMPORTANCE)


def kind_of(raw: Any, declared: ResultKind) -> ResultKind:
    """The kind a result is scored as: the first kind in `KINDS` that is declared or whose type
    the result has, else importance (a vector or `Attribution`).

    Examples
    --------
    >>> kind_of([0.5, 0.1], IMPORTANCE).track, kind_of([0.5, 0.1], SELECTION).track
    ('main', 'selection')
    """
    return next((kind for kind in KINDS if kind is declared
                 or (kind.result_type is not None and isinstance(raw, kind.result_type))), IMPORTANCE)
