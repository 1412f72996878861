"""One cell end to end: validate, claim it in the store, train (or load) the model once, log the
cell run, run every method still to do (`varbench.harness.method_run`) and log each method run."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from varbench.config import CellSpec, resolve_cell
from varbench.harness.method_run import run_method
from varbench.harness.model_truth import fmt_score, log_model_truth
from varbench.harness.result_kinds import IMPORTANCE, KIND_BY_TRACK
from varbench.harness.resume import Previous, heal, previous
from varbench.harness.training import train_cell_model
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


def _label(spec: CellSpec) -> str:
    return f"{spec.dataset_name}/{spec.model_name} seed={spec.seed}"


def run_cell(cfg: DictConfig, sweep: str = "", names: dict[str, str] | None = None) -> CellResult:
    """Run one (dataset, model, seed) cell as configured; return its tidy rows.

    With `resume` (default), (cell, method) pairs already logged with status ok are skipped (a
    cell with nothing left to do is not even trained), failed ones are rerun and their old runs
    deleted, so the store never holds duplicates. Before it trains, the cell is claimed in the
    store (`Tracker.claim`): a concurrent process running the same cell is waited for, then
    its pairs are skipped. Under the claim, what an earlier crash or an older version left is
    healed (`varbench.harness.resume.heal`). On interruption (SIGINT/SIGTERM) the runs left open
    are marked KILLED and the claim released before the exception propagates.

    Examples
    --------
    >>> from hydra import compose, initialize_config_dir
    >>> from varbench.paths import conf_dir
    >>> with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):  # doctest: +SKIP
    ...     cfg = compose("config", overrides=["dataset=linear", "methods=[permutation]"])
    >>> run_cell(cfg).table[["method", "status", "spearman"]]  # doctest: +SKIP
    """
    spec: CellSpec = resolve_cell(cfg, names)  # validates everything before any training
    tracker = Tracker(spec.tracking_uri, spec.experiment)
    label = _label(spec)
    prev = previous(tracker, spec)
    if prev.complete(spec):  # nothing to do and nothing to heal: no claim needed
        log.info("cell %s: all %d methods already logged ok; skipping (resume)", label, len(spec.methods))
        return CellResult(status="skipped", parent_run_id=prev.parent)
    claim = tracker.claim(spec.cell_hash)
    try:
        claim.acquire(on_wait=lambda h: log.info("cell %s is being run by %s pid %s; waiting for it", label,
                                                 h.get("host"), h.get("pid")))
        return _run_cell(cfg, spec, tracker, sweep, heal(tracker, spec, previous(tracker, spec)))
    except BaseException:
        tracker.kill_open_runs()
        raise
    finally:
        claim.release()


def _run_cell(cfg: DictConfig, spec: CellSpec, tracker: Any, sweep: str, prev: Previous) -> CellResult:
    data = spec.dataset
    result = CellResult()
    hashes = spec.method_hashes or {}
    parent, done, stale = prev.parent, prev.done, prev.stale
    todo = {name: fn for name, fn in spec.methods.items() if hashes.get(name) not in done}
    label = _label(spec)
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
    fitted = train_cell_model(spec, tracker, parent, label)
    if fitted is None:
        result.status = "failed"
        return result
    model, quality, cell_status = fitted.model, fitted.quality, fitted.status
    model_truths = log_model_truth(spec, model, tracker, parent) if todo else {}
    if fitted.low and spec.on_low_quality == "skip":
        log.warning("skipping methods: model below quality threshold %s", spec.quality_threshold)
        tracker.end_run(parent, "FINISHED")
        result.status = cell_status
        return result

    for i, (name, fn) in enumerate(todo.items(), 1):
        metrics, tags, payload = run_method(name, fn, model, data, spec.seed, spec.k, model_truths,
                                            spec.method_meta.get(name), spec.evaluation)
        metrics.update({f"quality_{k}": v for k, v in quality.items()})
        kind = KIND_BY_TRACK.get(tags["track"], IMPORTANCE)
        artifact = None
        if payload is not None:  # the payload as its kind stores it: tags, and an artifact when too long
            stored, artifact = kind.store(payload)
            tags.update(stored)
        child = tracker.add_finished_run(name, {**base_tags, "kind": kind.run_kind, "method": name,
                                                "cell_status": cell_status, "method_hash": hashes.get(name, ""),
                                                **tags}, metrics, parent,
                                         "FINISHED" if tags["status"] == "ok" else "FAILED", artifact,
                                         supersedes=stale.get(hashes.get(name, ""), []))  # failed/killed attempts
        result.rows.append({**base_tags, "method": name, **tags, **metrics, "run_id": child})
        key = "spearman" if data.truth.known else "model_spearman"
        log.info("[%d/%d] %-22s %s %s=%s %.2fs", i, len(todo), name, tags["status"], key,
                 fmt_score(metrics.get(key)), metrics["seconds"])
    tracker.end_run(parent, "FINISHED")
    result.status = cell_status
    return result
