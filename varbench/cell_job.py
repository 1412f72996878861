"""One cell as a job of a sweep: run it, report its failure in one line, set the exit code.

Shared by Hydra's job function (`varbench.cli._job`, one job per cell under the basic, joblib and
Ray launchers) and the varbench launcher (`varbench.batch`, a sweep's cells in one process)."""
from __future__ import annotations

import logging
import os
import signal
from typing import Any

log = logging.getLogger("varbench")


def _debug() -> bool:
    return os.environ.get("VARBENCH_DEBUG") == "1"


def run_reported(cfg: Any, hc: Any) -> None:
    """Run the cell `cfg` (a job config without its `hydra` node; `hc` is that node): in a multirun
    a failing cell is reported in one line and the sweep goes on (the summary and the exit code
    show it); in a single run it exits 1 (2 for a config error).

    Examples
    --------
    >>> from varbench.cell_job import run_reported  # called per cell by varbench.cli._job and varbench.batch
    """
    from hydra.types import RunMode

    from varbench.callbacks import EXIT, sweep_total
    from varbench.config import ConfigError
    from varbench.harness.cell import run_cell
    from varbench.schema import one_line

    multirun = hc.mode == RunMode.MULTIRUN
    sweep = str(hc.sweep.dir if multirun else hc.run.dir)
    choices = dict(hc.runtime.choices)
    if multirun:
        total = sweep_total(sweep)
        log.info("=== cell %s of %s in this sweep (%s) ===", hc.job.num + 1, total, hc.job.override_dirname)
    try:
        result = run_cell(cfg, sweep=sweep, names={"dataset": choices.get("dataset"),
                                                   "model": choices.get("model")})
    except ConfigError as exc:
        log.error("config error: %s", exc)
        EXIT["code"] = 2
        if _debug():
            raise
        if not multirun:
            raise SystemExit(2) from None
        return
    except Exception as exc:  # noqa: BLE001 - one cell's fault: one line, the sweep goes on
        if _debug():
            raise
        log.error("cell failed: %s", one_line(f"{type(exc).__name__}: {exc}"))
        EXIT["code"] = max(EXIT["code"], 1)
        if not multirun:
            raise SystemExit(1) from None
        return
    if result.status == "failed" or result.n_failed:
        EXIT["code"] = max(EXIT["code"], 1)


def terminate_as_exit() -> None:
    """Turn SIGTERM into SystemExit so open MLflow runs get marked KILLED on the way out."""

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (some launchers): keep the default
        pass
