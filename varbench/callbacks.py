"""Hydra callbacks: check the whole sweep and open the tracking store before any job starts;
print the ranked summary of the sweep's cells at the end.

Each step is its own function so that other steps (e.g. a shared pre-training pass) can be
added to `on_multirun_start` beside them."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("varbench")

# Set by the callback and the jobs: the process exit code (1 if any method or cell failed,
# 2 for an invalid configuration).
EXIT = {"code": 0}
# The store and sweep directory of the running sweep (set at its start; for messages).
CURRENT: dict[str, str] = {}


def print_summary(uri: str, experiment: str, method_hashes: set[str], sweep: str = "") -> None:
    """Print the ranked table of the given (cell, method) pairs as the store holds them now
    (whether this run logged them or an earlier one did) and set the exit code. Without
    hashes (a sweeper whose jobs are not known up front): the runs tagged with `sweep`."""
    import pandas as pd

    from varbench.report.tables import format_summary, summarize
    from varbench.tracking import fetch_table

    flt = "" if method_hashes else f"tags.sweep = '{sweep}'"

    def mine(df: pd.DataFrame) -> pd.DataFrame:
        return df[df["method_hash"].isin(method_hashes)] if method_hashes and not df.empty else df

    df = mine(fetch_table(uri, experiment, flt))
    tracks = {kind: mine(fetch_table(uri, experiment, flt, kind=kind)) for kind in ("interaction", "selection")}
    if not df.empty or all(t.empty for t in tracks.values()):  # the main table, or "no runs" if none at all
        table = summarize(df)
        n_cells = df["parent_run_id"].nunique() if not df.empty else 0
        print(format_summary(table, f"\nvarbench: {n_cells} cell(s), {len(df)} method run(s); "
                                    f"ranked by {table.attrs.get('ranked_by', 'mean Spearman vs truth')}  "
                                    f"[{uri}, experiment {experiment!r}]"))
        if not df.empty and ("spearman" not in df or df["spearman"].isna().all()):
            print_importances(uri, experiment, flt, df)
    for kind, (metrics, what) in TRACK_SUMMARIES.items():
        runs = tracks[kind]
        if runs.empty:
            continue
        g = runs.groupby("method")
        table = pd.DataFrame({**{m: g[m].mean() if m in runs else float("nan") for m in metrics},
                              "runs": g.size(), "failed": g["status"].apply(lambda s: int((s != "ok").sum()))})
        print(f"\n{kind} track: {len(runs)} run(s); {what}  [{uri}, experiment {experiment!r}]\n"
              + table.sort_values(metrics[0], ascending=kind == "selection")
              .to_string(float_format=lambda v: f"{v:.3f}"))
    if any(not t.empty and (t["status"] != "ok").any() for t in (df, *tracks.values())):
        EXIT["code"] = max(EXIT["code"], 1)


def print_importances(uri: str, experiment: str, flt: str, df: Any) -> None:
    """Each method's per-variable importance with its interval (`varbench.report.importances`),
    for runs whose data truth is unknown (a user's table): the numbers behind the ranking."""
    from varbench.report.importances import importance_table, variable_names
    from varbench.tracking import fetch_cells

    cells = fetch_cells(uri, experiment, flt)
    cells = cells[cells["run_id"].isin(set(df["parent_run_id"]))] if not cells.empty else cells
    names = variable_names(cells) if not cells.empty else None
    if names is None:
        print("\n(importances not printed: the runs are of different tables; see `varbench report`)")
        return
    table = importance_table(df, names)
    print("\nimportance per variable, mean [95% interval] (the method's own interval for one run, a t interval "
          "over runs for several; [-]: none)\n" + table.to_string())


# per track: the mean metrics shown (the first sorts the table) and what they are
TRACK_SUMMARIES = {"interaction": (("pair_auroc",), "mean pairwise ROC AUC of true pairs"),
                   "selection": (("fdr", "power"), "mean false discovery proportion and power of the selections")}


def refuse_invalid(jobs: list[Any]) -> None:
    """Print one line per distinct configuration error and exit 2 before anything trains or is
    written (SystemExit: Hydra turns a callback's exceptions into warnings)."""
    from varbench.sweep import report_invalid

    lines = report_invalid(jobs)
    if lines:
        for line in lines:
            print(f"varbench: {line}", file=sys.stderr)
        raise SystemExit(2)


def validate_sweep(config: DictConfig) -> list[Any]:
    """The launcher's settings and every job of the multirun composed and validated; exits 2 if any
    is invalid."""
    from varbench.launcher_settings import refusal
    from varbench.sweep import check_sweep, is_basic_sweeper

    line = refusal(config.hydra.launcher)
    if line:
        print(f"varbench: config error: {line}", file=sys.stderr)
        raise SystemExit(2)

    if not is_basic_sweeper(config):
        log.info("sweeper %s: jobs are validated one at a time", config.hydra.sweeper.get("_target_"))
        return []
    jobs = check_sweep(config)
    refuse_invalid(jobs)
    return jobs


def validate_run(config: DictConfig) -> list[Any]:
    """The single job of a RUN-mode invocation, validated; exits 2 if invalid."""
    from varbench.sweep import Job, check_composed

    jobs = [check_composed(config, Job(0, list(config.hydra.overrides.task)))]
    refuse_invalid(jobs)
    return jobs


def open_store(config: DictConfig, sweep: str) -> None:
    """Create or open the tracking store and experiment once, in the parent, before workers
    start (one schema migration); an unreachable or unusable store is fatal here (exit 2)."""
    from varbench.schema import one_line
    from varbench.tracking import Tracker

    try:
        Tracker(config.tracking.uri, config.tracking.experiment)
        CURRENT.update(uri=config.tracking.uri, experiment=config.tracking.experiment, sweep=sweep)
    except Exception as exc:  # noqa: BLE001 - TrackingError, sqlite/SQLAlchemy errors, bad URIs
        print(f"varbench: tracking error: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(2) from None


TOTAL_FILE = ".varbench_total"  # in the sweep folder: the sweep's cell count, for workers started
# without the parent's environment (Ray's)


def sweep_total(sweep_dir: str) -> str:
    """How many cells the sweep has, for a worker's "cell N of M" line: from the environment the
    parent set (joblib and basic workers inherit it), else from the file it wrote in the sweep
    folder (Ray workers on this machine or a shared disk), else "?"."""
    total = os.environ.get("VARBENCH_SWEEP_TOTAL")
    if total:
        return total
    try:
        return (Path(sweep_dir) / TOTAL_FILE).read_text().strip() or "?"
    except OSError:
        return "?"


class Summary(Callback):
    """Validate every job and open the store before the first job; summarise at the end."""

    def __init__(self) -> None:
        self.method_hashes: set[str] = set()

    def _remember(self, jobs: list[Any]) -> None:
        self.method_hashes = {h for j in jobs for h in j.method_hashes}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from varbench.composed import uses_launcher
        from varbench.config import remember_cells

        if uses_launcher(config):  # each cell resolved once: by the sweep check, for pre-training and the
            remember_cells()       # in-process jobs; the launcher (or `main`, on any exit) forgets them
        jobs = validate_sweep(config)
        open_store(config, str(config.hydra.sweep.dir))
        self._remember(jobs)
        os.environ["VARBENCH_SWEEP_TOTAL"] = str(len(jobs) or "?")  # inherited by workers
        folder = Path(str(config.hydra.sweep.dir))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / TOTAL_FILE).write_text(os.environ["VARBENCH_SWEEP_TOTAL"] + "\n")  # for Ray workers
        os.environ["VARBENCH_SWEEP_PARENT"] = str(os.getpid())  # workers exit when it dies

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        jobs = validate_run(config)
        open_store(config, str(config.hydra.run.dir))
        self._remember(jobs)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print_summary(config.tracking.uri, config.tracking.experiment, self.method_hashes,
                      str(config.hydra.sweep.dir))

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        print_summary(config.tracking.uri, config.tracking.experiment, self.method_hashes,
                      str(config.hydra.run.dir))
