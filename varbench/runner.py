"""One cell end to end: validate, build data, train (or load) the model once, run and score
every method with failure isolation, and log everything."""
from __future__ import annotations

import dataclasses
import json
import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from varbench.config import CellSpec, resolve_cell
from varbench.interactions import Interactions
from varbench.interactions.track import TRACK as INTERACTIONS, score_interaction_result
from varbench.methods.base import Attribution
from varbench.methods.outputs import explain_outputs
from varbench.methods.uncertainty import with_uncertainty
from varbench.methods.variables import check_categorical, check_groups, to_variables
from varbench.scoring import score_against, score_local, spearman
from varbench.scoring import abs_sum_per_variable
from varbench.registry import MethodMeta
from varbench.selection import TRACK as SELECTION, Selection, score_selection_result
from varbench.tracking import MAX_TAG, Tracker, flatten, matrix_json, vector_json

log = logging.getLogger(__name__)


@dataclass
class CellResult:
    """Rows of the tidy table produced by one cell, and its status."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"
    parent_run_id: str | None = None

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    @property
    def n_failed(self) -> int:
        return sum(r["status"] != "ok" for r in self.rows)


def method_rng(seed: int, name: str) -> np.random.Generator:
    """Each method's own stream: depends on the cell seed and the method name, not on order."""
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
    interaction matrix on the interaction track. Returns (metrics, tags, payload = importance
    vector or interaction matrix); never raises for a fault of the method: it is reported as
    status=failed with the error. Tags carry the metadata (returns, estimand, role, ...).
    `evaluation` (`CellSpec.evaluation`): the truth-free metrics of an importance result
    (`varbench.truth_free`), timed and counted apart from the method's own cost."""
    meta = meta or MethodMeta()
    track = {"interactions": INTERACTIONS, "selection": SELECTION}.get(meta.returns, "main")
    model.n_evals = 0
    start = time.perf_counter()
    try:
        check_groups(name, meta.groups, data)  # before any model evaluation
        check_categorical(name, meta.categorical, data)
        att = None
        if track == "main" and getattr(model, "n_outputs", 1) > 1:
            # one run per explained output (class), the same stream each (varbench.methods.outputs)
            att, _ = explain_outputs(name, fn, model, data, lambda: method_rng(seed, name), meta.explains,
                                     meta.groups, meta.categorical)
            raw = att
        else:
            raw = fn(model, data, method_rng(seed, name))
        seconds = time.perf_counter() - start
        if track == INTERACTIONS or isinstance(raw, Interactions):
            track, meta = INTERACTIONS, dataclasses.replace(meta, returns="interactions")
            metrics, tags, payload = score_interaction_result(raw, data)
        elif track == SELECTION or isinstance(raw, Selection):
            track, meta = SELECTION, dataclasses.replace(meta, returns="selection")
            metrics, tags, payload = score_selection_result(raw, data)
        else:
            att = att if att is not None else to_variables(raw, data, meta.groups)
            metrics, tags, payload = _score_attribution(att, data, k, model_truths, meta.estimand, seed)
            if evaluation is not None:
                from varbench.truth_free.evaluate import truth_free_scores

                def rerun(m: Any, d: Any) -> Any:  # the method again, same stream (another model or rows)
                    return to_variables(fn(m, d, method_rng(seed, name)), d, meta.groups)

                free, free_tags = truth_free_scores(model, data, att, seed, k, evaluation, rerun)
                metrics.update(free)
                tags.update(free_tags)
    except Exception as exc:  # noqa: BLE001 - isolate any fault of a method
        seconds = time.perf_counter() - start
        log.warning("method %s failed: %s: %s", name, type(exc).__name__, exc)
        metrics, payload = {}, None
        tags = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:4000]}
    tags.update(meta.as_tags(), track=track)
    metrics.update({"seconds": seconds, "n_model_evals": float(model.n_evals)})
    return metrics, tags, payload


def _score_attribution(att: Attribution, data: Any, k: int | None, model_truths: dict[str, np.ndarray] | None,
                       estimand: str = "unknown", seed: int = 0) -> tuple[dict[str, float], dict[str, str], np.ndarray]:
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


def variable_level(values: np.ndarray, data: Any) -> np.ndarray:
    """Column values of a grouped dataset summed (|.|) per variable (`scoring.abs_sum_per_variable`), e.g.
    the model's own per-column truth; values already per variable, or an ungrouped dataset's,
    unchanged. (Methods honour groups themselves: `varbench.methods.variables`.)"""
    values = np.asarray(values, dtype=float)
    if not getattr(data, "groups", None) or values.shape[0] != data.n_features:
        return values
    return abs_sum_per_variable(values, data.variables)


def run_cell(cfg: DictConfig, sweep: str = "", names: dict[str, str] | None = None) -> CellResult:
    """Run one (dataset, model, seed) cell as configured; return its tidy rows.

    With `resume` (default), (cell, method) pairs already logged with status ok are skipped (a
    cell with nothing left to do is not even trained), failed ones are rerun and their old runs
    deleted, so the store never holds duplicates. Before it trains, the cell is claimed in the
    store (`Tracker.claim`): a concurrent process running the same cell is waited for, then
    its pairs are skipped. Under the claim, what an earlier crash or an older version left is
    healed (`_heal`). On interruption (SIGINT/SIGTERM) the runs left open are marked KILLED
    and the claim released before the exception propagates."""
    spec: CellSpec = resolve_cell(cfg, names)  # validates everything before any training
    tracker = Tracker(spec.tracking_uri, spec.experiment)
    label = f"{spec.dataset_name}/{spec.model_name} seed={spec.seed}"
    prev = _previous(tracker, spec)
    if prev.complete(spec):  # nothing to do and nothing to heal: no claim needed
        log.info("cell %s: all %d methods already logged ok; skipping (resume)", label, len(spec.methods))
        return CellResult(status="skipped", parent_run_id=prev.parent)
    claim = tracker.claim(spec.cell_hash)
    try:
        claim.acquire(on_wait=lambda h: log.info("cell %s is being run by %s pid %s; waiting for it", label,
                                                 h.get("host"), h.get("pid")))
        return _run_cell(cfg, spec, tracker, sweep, _heal(tracker, spec, _previous(tracker, spec)))
    except BaseException:
        tracker.kill_open_runs()
        raise
    finally:
        claim.release()


@dataclass
class Previous:
    """What the store already holds for a cell."""

    parent: str | None = None  # the cell run kept (the newest)
    parent_run: Any = None
    extra_parents: list[str] = field(default_factory=list)  # duplicate cell runs (older)
    done: dict[str, str] = field(default_factory=dict)  # method_hash -> newest ok run id
    duplicates: list[str] = field(default_factory=list)  # older ok runs of the same pair
    stale: dict[str, list[str]] = field(default_factory=dict)  # method_hash -> failed/killed run ids
    children: dict[str, str] = field(default_factory=dict)  # run id -> its parent run id

    def complete(self, spec: CellSpec) -> bool:
        """Every method logged ok, the cell run closed, nothing duplicated."""
        hashes = spec.method_hashes or {}
        return (self.parent is not None and all(hashes.get(n) in self.done for n in spec.methods)
                and self.parent_run.info.status == "FINISHED" and not self.extra_parents and not self.duplicates)


def _previous(tracker: Any, spec: CellSpec) -> Previous:
    """The cell's runs in the store (nothing, without resume)."""
    prev = Previous()
    if not spec.resume:
        return prev
    runs = tracker.search(f"tags.cell_hash = '{spec.cell_hash}'")
    parents = sorted((r for r in runs if r.data.tags.get("kind") == "cell"), key=lambda r: r.info.start_time)
    if parents:
        prev.parent_run, prev.parent = parents[-1], parents[-1].info.run_id
        prev.extra_parents = [r.info.run_id for r in parents[:-1]]
    ok: dict[str, list[Any]] = {}
    for r in sorted(runs, key=lambda r: r.info.start_time):
        h = r.data.tags.get("method_hash")
        if r.data.tags.get("kind") not in RUN_KINDS.values() or not h:
            continue
        prev.children[r.info.run_id] = r.data.tags.get("mlflow.parentRunId", "")
        if r.data.tags.get("status") == "ok" and r.info.status == "FINISHED":
            ok.setdefault(h, []).append(r.info.run_id)
        else:
            prev.stale.setdefault(h, []).append(r.info.run_id)
    prev.done = {h: ids[-1] for h, ids in ok.items()}
    prev.duplicates = [i for ids in ok.values() for i in ids[:-1]]
    return prev


def _heal(tracker: Any, spec: CellSpec, prev: Previous) -> Previous:
    """Under the cell's claim, repair what concurrent runs of older versions or crashes left:
    duplicate ok runs of a pair are deleted (the newest is kept), duplicate cell runs are
    merged into the newest (their surviving children moved under it), stale runs of pairs
    now done are deleted, and a cell run left RUNNING/KILLED with every method done is closed."""
    for run_id in prev.duplicates:
        tracker.delete_run(run_id)
    if prev.duplicates:
        log.info("cell %s: removed %d duplicate method run(s)", spec.cell_hash, len(prev.duplicates))
    if prev.extra_parents:
        for child in [*prev.done.values(), *(i for ids in prev.stale.values() for i in ids)]:
            if prev.children.get(child) in prev.extra_parents:
                tracker.set_parent(child, prev.parent)
        for run_id in prev.extra_parents:
            tracker.delete_run(run_id)
        log.info("cell %s: merged %d duplicate cell run(s)", spec.cell_hash, len(prev.extra_parents))
    for h in [h for h in prev.stale if h in prev.done]:
        for run_id in prev.stale.pop(h):
            tracker.delete_run(run_id)
    hashes = spec.method_hashes or {}
    finished = prev.parent_run is not None and prev.parent_run.info.status == "FINISHED"
    if prev.parent and not finished and all(hashes.get(n) in prev.done for n in spec.methods):
        quality = {k: v for k, v in prev.parent_run.data.metrics.items() if k in ("r2", "accuracy", "auc")}
        low = spec.quality_threshold is not None and not _headline(quality) >= spec.quality_threshold
        tracker.log(prev.parent, tags={"status": "low_quality" if low else "ok"})
        tracker.end_run(prev.parent, "FINISHED")
        log.info("cell %s: closed the cell run left %s", spec.cell_hash, prev.parent_run.info.status)
        prev.parent_run = None  # closed: nothing left to do
    prev.extra_parents, prev.duplicates = [], []
    return prev


def _run_cell(cfg: DictConfig, spec: CellSpec, tracker: Any, sweep: str, prev: Previous) -> CellResult:
    from varbench.models.cache import load_or_train
    from varbench.models.trainer import DivergedError

    data = spec.dataset
    result = CellResult()
    hashes = spec.method_hashes or {}
    parent, done, stale = prev.parent, prev.done, prev.stale
    todo = {name: fn for name, fn in spec.methods.items() if hashes.get(name) not in done}
    label = f"{spec.dataset_name}/{spec.model_name} seed={spec.seed}"
    if parent and not todo:
        log.info("cell %s: all %d methods already logged ok; skipping (resume)", label, len(spec.methods))
        result.status, result.parent_run_id = "skipped", parent
        return result
    base_tags = {"dataset": spec.dataset_name, "model": spec.model_name, "seed": str(spec.seed),
                 "sweep": sweep, "cell_hash": spec.cell_hash, "study": spec.study, "task": data.task}
    if parent:
        tracker.reopen(parent)
        tracker.log(parent, tags={"status": "running", "sweep": sweep})
        log.info("cell %s: resuming, %d of %d methods to run", label, len(todo), len(spec.methods))
    else:
        parent = tracker.start_run(label.replace(" ", "/"), {**base_tags, "kind": "cell", "status": "running"})
        tracker.log(parent, params={k: v for k, v in flatten(OmegaConf.to_container(cfg, resolve=True)).items()
                                    if "._meta_." not in k},  # method metadata travels as run tags
                    tags={"truth": vector_json(data.truth.importance), "truth_definition": data.truth.definition,
                          "feature_names": ",".join(data.feature_names), "truth_known": str(data.truth.known),
                          **({"variables": ",".join(v for v, _ in data.variables)} if data.groups else {}),
                          **({"truth_interactions": matrix_json(data.truth.interactions)}
                             if data.truth.interactions is not None
                             and len(matrix_json(data.truth.interactions)) <= MAX_TAG else {})})
    result.parent_run_id = parent
    if data.encoding is not None:
        tracker.log_text(parent, json.dumps(data.encoding, indent=1, default=str), "encoding.json")
    log.info("cell %s: %d features, %d train rows; training", label, data.n_features, data.X_train.shape[0])
    try:
        model, cached = load_or_train(spec)
        model = dataclasses.replace(model, output=spec.output)  # what is explained: not part of the model hash
    except Exception as exc:  # noqa: BLE001 - divergence or any training fault fails this cell only
        result.status = "failed"
        msg = str(exc) if isinstance(exc, DivergedError) else f"training failed: {type(exc).__name__}: {exc}"
        tracker.log(parent, tags={"status": "failed", "error": msg[:4000]})
        tracker.end_run(parent, "FAILED")
        log.error("cell failed: %s", msg)
        return result
    quality = {k: v for k, v in model.quality.items() if k in ("r2", "accuracy", "auc")}
    low = spec.quality_threshold is not None and not _headline(quality) >= spec.quality_threshold
    cell_status = "low_quality" if low else "ok"
    output_sd = float(np.std(model.predict_all(data.X_test)))  # the scale of what the methods explain
    tracker.log(parent, metrics={**quality, "train_seconds": model.train_seconds, "output_sd": output_sd,
                                 "epochs": model.quality.get("epochs", float("nan"))},
                tags={"status": cell_status, "model_cached": str(cached)})
    log.info("model quality %s (%s, %.1fs)%s", {k: round(v, 4) for k, v in quality.items()},
             "cached" if cached else "trained", model.train_seconds,
             "  [below quality threshold]" if low else "")
    model_truths = _model_truth(spec, model, tracker, parent) if todo else {}
    if low and spec.on_low_quality == "skip":
        log.warning("skipping methods: model below quality threshold %s", spec.quality_threshold)
        tracker.end_run(parent, "FINISHED")
        result.status = cell_status
        return result

    for i, (name, fn) in enumerate(todo.items(), 1):
        metrics, tags, importance = run_method(name, fn, model, data, spec.seed, spec.k, model_truths,
                                               spec.method_meta.get(name), spec.evaluation)
        metrics.update({f"quality_{k}": v for k, v in quality.items()})
        kind = RUN_KINDS.get(tags["track"], "method")
        artifact = None
        if importance is not None and kind == "method":
            tags["importance"] = vector_json(importance)
            if len(tags["importance"]) > MAX_TAG:  # the tag is cut there: the whole vector as an artifact
                artifact = (tags["importance"], "importance.json")
        elif importance is not None and kind == "interaction":  # (selection: decisions are tags)
            text = matrix_json(importance)
            if len(text) <= MAX_TAG:  # the tag holds the whole matrix (what reports read)
                tags["interactions"] = text
            else:  # too long for a tag: an artifact only
                artifact = (text, "interactions.json")
        child = tracker.add_finished_run(name, {**base_tags, "kind": kind, "method": name, "cell_status": cell_status,
                                                "method_hash": hashes.get(name, ""), **tags}, metrics, parent,
                                         "FINISHED" if tags["status"] == "ok" else "FAILED", artifact,
                                         supersedes=stale.get(hashes.get(name, ""), []))  # failed/killed attempts
        result.rows.append({**base_tags, "method": name, **tags, **metrics, "run_id": child})
        key = "spearman" if data.truth.known else "model_spearman"
        log.info("[%d/%d] %-22s %s %s=%s %.2fs", i, len(todo), name, tags["status"], key,
                 _fmt(metrics.get(key)), metrics["seconds"])
    tracker.end_run(parent, "FINISHED")
    result.status = cell_status
    return result


# the MLflow `kind` tag of a method's run, by track
RUN_KINDS = {"main": "method", "interactions": "interaction", "selection": "selection"}

MODEL_TRUTHS = {"model_spearman": "sobol_total", "model_spearman_shapley": "shapley", "model_spearman_sage": "sage"}


def _model_truth(spec: CellSpec, model: Any, tracker: Any, parent: str) -> dict[str, np.ndarray]:
    """The trained model's own truth (exact Shapley/SAGE by coalition enumeration, total Sobol),
    logged on the cell, so explainer error can be told apart from model error. Empty if disabled,
    if d is too large, or if it fails (the failure is logged, the cell goes on)."""
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
             time.perf_counter() - start, _fmt(vs_data.get("model_spearman_vs_data"))
             if spec.dataset.truth.known else "unknown (real target)")
    return truths


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
    from varbench.config import stable_hash
    from varbench.methods.model_truth import model_truth
    from varbench.models.cache import cached_arrays

    opts = spec.model_truth
    return cached_arrays(spec, "truth-" + stable_hash(opts), lambda: model_truth(
        model, spec.dataset, background_size=opts["background_size"], rows=opts["rows"],
        sobol_samples=opts["sobol_samples"], max_features=opts["max_features"], seed=spec.seed))


def _headline(quality: dict[str, float]) -> float:
    """The number the quality threshold applies to: R^2, or ROC AUC for classification."""
    return quality.get("r2", quality.get("auc", float("nan")))


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"
