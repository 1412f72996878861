"""Hydra callbacks: prepare the tracking store once, print the ranked summary at the end."""
from __future__ import annotations

import logging
import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("varbench")

# Set by the callback: the process exit code (1 if any method or cell failed).
EXIT = {"code": 0}


def print_summary(uri: str, experiment: str, sweep: str) -> None:
    """Print the ranked table of one sweep's method runs and set the exit code."""
    import pandas as pd

    from varbench.report.tables import format_summary, summarize
    from varbench.tracking import fetch_table

    df = fetch_table(uri, experiment, f"tags.sweep = '{sweep}'")
    table = summarize(df)
    n_cells = df["parent_run_id"].nunique() if not df.empty else 0
    print(format_summary(table, f"\nvarbench: {n_cells} cell(s), {len(df)} method run(s); "
                                f"ranked by {table.attrs.get('ranked_by', 'mean Spearman vs truth')}  [{uri}, experiment {experiment!r}]"))
    inter = fetch_table(uri, experiment, f"tags.sweep = '{sweep}'", kind="interaction")
    if not inter.empty:
        g = inter.groupby("method")
        table = pd.DataFrame({"pair_auroc": g["pair_auroc"].mean() if "pair_auroc" in inter else float("nan"),
                              "runs": g.size(), "failed": g["status"].apply(lambda s: int((s != "ok").sum()))})
        print(f"\ninteraction track: {len(inter)} run(s); mean pairwise ROC AUC of true pairs\n"
              + table.sort_values("pair_auroc", ascending=False).to_string(float_format=lambda v: f"{v:.3f}"))
    if any(not t.empty and (t["status"] != "ok").any() for t in (df, inter)):
        EXIT["code"] = 1


def sweep_size(config: DictConfig) -> int:
    """Number of jobs the basic sweep will launch: the product of the sweep lists, with
    command-line values replacing the config's `hydra.sweeper.params` for the same key."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = {str(k): f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()}
    for line in config.hydra.overrides.task:
        params[line.split("=", 1)[0].lstrip("+~")] = line
    total = 1
    for override in OverridesParser.create().parse_overrides(list(params.values())):
        if override.is_sweep_override() and not override.is_interval_sweep():
            total *= len(list(override.sweep_string_iterator()))
    return total


class Summary(Callback):
    """Create the MLflow store/experiment before workers start; count and summarise the sweep."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from varbench.tracking import Tracker

        Tracker(config.tracking.uri, config.tracking.experiment)  # one schema migration, in the parent
        try:
            os.environ["VARBENCH_SWEEP_TOTAL"] = str(sweep_size(config))  # inherited by workers
        except Exception as exc:  # noqa: BLE001 - progress display only
            log.debug("could not count the sweep: %s", exc)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print_summary(config.tracking.uri, config.tracking.experiment, str(config.hydra.sweep.dir))

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        print_summary(config.tracking.uri, config.tracking.experiment, str(config.hydra.run.dir))
