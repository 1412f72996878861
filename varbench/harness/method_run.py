"""One method run on a cell: fault isolation, timing, model-evaluation counts, and dispatch of its
result to the scorer of its kind (`varbench.harness.result_kinds`)."""
from __future__ import annotations

import dataclasses
import logging
import time
import zlib
from typing import Any, Callable

import numpy as np

from varbench.harness.result_kinds import IMPORTANCE, MethodCall, declared_kind, kind_of
from varbench.methods.outputs import explain_outputs
from varbench.methods.variables import check_categorical, check_groups
from varbench.registry import MethodMeta

log = logging.getLogger(__name__)


def method_rng(seed: int, name: str) -> np.random.Generator:
    """Each method's own stream: depends on the cell seed and the method name, not on order.

    Examples
    --------
    >>> a, b = method_rng(0, "permutation"), method_rng(0, "permutation")
    >>> bool(a.random() == b.random()), bool(method_rng(0, "lime").random() == method_rng(0, "permutation").random())
    (True, False)
    """
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def run_method(name: str, fn: Callable[..., Any], model: Any, data: Any, seed: int, k: int | None = None,
               model_truths: dict[str, np.ndarray] | None = None, meta: Any = None,
               evaluation: dict[str, Any] | None = None
               ) -> tuple[dict[str, float], dict[str, str], np.ndarray | None]:
    """Run one method with fault isolation, time it, count its model evaluations, and score it.

    `meta` (a `varbench.registry.MethodMeta`; defaults for a method without one) says what the
    method returns: an importance vector / `Attribution` is scored against the data's truth (and,
    as `model_spearman*`, against the trained model's own truth when given); a method with
    `returns: interactions` (or any method returning `Interactions`) is scored as a pairwise
    interaction matrix on the interaction track, and likewise for selection (the table of
    `varbench.harness.result_kinds`). Returns (metrics, tags, payload = importance vector,
    interaction matrix or selection); never raises for a fault of the method: it is reported as
    status=failed with the error. Tags carry the metadata (returns, estimand, role, ...).
    `evaluation` (`CellSpec.evaluation`): the truth-free metrics of an importance result
    (`varbench.truth_free`), timed and counted apart from the method's own cost.

    Examples
    --------
    >>> from varbench.datasets.synthetic import linear
    >>> class Model:  # run_method resets and reads the model's evaluation count, n_evals
    ...     n_evals = 0
    >>> data = linear(n_samples=200, seed=0)
    >>> metrics, tags, importance = run_method("first_column", lambda m, d, rng: np.eye(d.n_features)[0],
    ...                                        Model(), data, seed=0)
    >>> tags["status"], tags["track"], importance.shape == (data.n_features,)
    ('ok', 'main', True)
    """
    meta = meta or MethodMeta()
    kind = declared_kind(meta)
    make_rng = lambda: method_rng(seed, name)  # noqa: E731 - the method's stream, fresh at each call
    model.n_evals = 0
    start = time.perf_counter()
    try:
        check_groups(name, meta.groups, data)  # before any model evaluation
        check_categorical(name, meta.categorical, data)
        per_output = kind is IMPORTANCE and getattr(model, "n_outputs", 1) > 1
        if per_output:
            # one run per explained output (class), the same stream each (varbench.methods.outputs)
            raw, _ = explain_outputs(name, fn, model, data, make_rng, meta.explains, meta.groups, meta.categorical)
        else:
            raw = fn(model, data, make_rng())
        seconds = time.perf_counter() - start
        kind = kind_of(raw, kind)
        if meta.returns != kind.returns:  # e.g. an Interactions returned by a method declared as importance
            meta = dataclasses.replace(meta, returns=kind.returns)
        call = MethodCall(name, fn, model, data, seed, make_rng, k, model_truths, meta, evaluation, per_output)
        metrics, tags, payload = kind.score(raw, call)
    except Exception as exc:  # noqa: BLE001 - isolate any fault of a method
        seconds = time.perf_counter() - start
        log.warning("method %s failed: %s: %s", name, type(exc).__name__, exc)
        metrics, payload = {}, None
        tags = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:4000]}
    tags.update(meta.as_tags(), track=kind.track)
    metrics.update({"seconds": seconds, "n_model_evals": float(model.n_evals)})
    return metrics, tags, payload
