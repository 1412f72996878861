"""Hydra callbacks: prepare the tracking store once, print the ranked summary at the end."""
from __future__ import annotations

import logging
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("varbench")

# Set by the callback: the process exit code (1 if any method or cell failed).
EXIT = {"code": 0}


def print_summary(uri: str, experiment: str, sweep: str) -> None:
    """Print the ranked table of one sweep's method runs and set the exit code."""
    from varbench.summary import format_summary, summarize
    from varbench.tracking import fetch_table

    df = fetch_table(uri, experiment, f"tags.sweep = '{sweep}'")
    table = summarize(df)
    n_cells = df["parent_run_id"].nunique() if not df.empty else 0
    print(format_summary(table, f"\nvarbench: {n_cells} cell(s), {len(df)} method run(s); "
                                f"ranked by mean Spearman vs truth  [{uri}, experiment {experiment!r}]"))
    if not df.empty and (df["status"] != "ok").any():
        EXIT["code"] = 1


class Summary(Callback):
    """Create the MLflow store/experiment before workers start; summarise after the sweep."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from varbench.tracking import Tracker

        Tracker(config.tracking.uri, config.tracking.experiment)  # one schema migration, in the parent

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print_summary(config.tracking.uri, config.tracking.experiment, str(config.hydra.sweep.dir))

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        print_summary(config.tracking.uri, config.tracking.experiment, str(config.hydra.run.dir))
