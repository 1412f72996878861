"""What the store already holds for a cell (`Previous`, `previous`), and the repair made under
the cell's claim (`heal`) of what crashes or concurrent runs of older versions left."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from varbench.config import CellSpec
from varbench.harness.quality import is_low, quality_of
from varbench.harness.result_kinds import RUN_KINDS

log = logging.getLogger(__name__)


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


def previous(tracker: Any, spec: CellSpec) -> Previous:
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


def heal(tracker: Any, spec: CellSpec, prev: Previous) -> Previous:
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
        low = is_low(quality_of(prev.parent_run.data.metrics), spec.quality_threshold)
        tracker.log(prev.parent, tags={"status": "low_quality" if low else "ok"})
        tracker.end_run(prev.parent, "FINISHED")
        log.info("cell %s: closed the cell run left %s", spec.cell_hash, prev.parent_run.info.status)
        prev.parent_run = None  # closed: nothing left to do
    prev.extra_parents, prev.duplicates = [], []
    return prev
