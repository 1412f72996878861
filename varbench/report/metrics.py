"""What the report knows about each metric of the run table: its direction (higher or lower is
better) and its range (intervals are clipped to it, plots use it for axes and colours).

Every score metric is declared once, in the metric table `varbench.scoring.METRIC_INFO` (those the
report derives itself where runs did not log them, e.g. irrelevant_share in
`prepare.add_truth_metrics`, too); a `Metric` is a name and its entry there, and this module adds
the run's costs (seconds, model evaluations), which are not scores. A metric in the run table is
shown and ranked by the report once it is declared there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from varbench.scoring import METRIC_INFO, MetricInfo
from varbench.truth_free.validated import VALIDATED


@dataclass(frozen=True)
class Metric:
    """A column of the run table the report knows: its name and how to read it, its entry in the
    metric table (`info`), whose facts it shows under the report's names: higher_is_better, lo/hi
    (the range every value lies in, inf where unbounded), sign (+1 if higher is better, -1 if
    lower is: sign * value is always "higher is better") and direction (in words)."""

    name: str
    info: MetricInfo

    higher_is_better = property(lambda self: self.info.higher_is_better)
    lo = property(lambda self: self.info.low)
    hi = property(lambda self: self.info.high)
    sign = property(lambda self: self.info.sign)
    direction = property(lambda self: self.info.direction)


METRICS: dict[str, Metric] = {n: Metric(n, i) for n, i in METRIC_INFO.items()}
_COST = MetricInfo(higher_is_better=False, low=0.0, high=np.inf, kind="cost")  # what a run spent, not a score
COSTS: dict[str, Metric] = {name: Metric(name, _COST) for name in ("seconds", "n_model_evals")}


def metric(name: str, key: str = "--metric") -> Metric:
    """The spec of a score metric; unknown names are refused in one line naming the argument."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"{key}={name!r} is invalid: expected one of {', '.join(METRICS)}") from None


def ranking_candidates() -> tuple[str, ...]:
    """The metrics a run summary and `varbench report` rank by when none is asked for, in order of
    preference: the data truth's Spearman, the truth-free metrics the validity study validated
    (`varbench.truth_free.validated`, best first), the model's own truth."""
    return ("spearman", *VALIDATED, "model_spearman")


def ranking_metric(runs: pd.DataFrame) -> str | None:
    """The first of `ranking_candidates` that some ok run logged (never an all-NaN metric); None
    when no run logged any of them.

    Examples
    --------
    >>> import pandas as pd
    >>> ranking_metric(pd.DataFrame({"status": ["ok"], "spearman": [float("nan")], "model_spearman": [0.5]}))
    'model_spearman'
    """
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    for name in ranking_candidates():
        if name in ok and pd.to_numeric(ok[name], errors="coerce").notna().any():
            return name
    return None


def logged_metrics(runs: pd.DataFrame) -> list[str]:
    """The declared score metrics some run logged (a finite value), in table order.

    Examples
    --------
    >>> import pandas as pd
    >>> logged_metrics(pd.DataFrame({"pgu": [0.2], "spearman": [float("nan")], "other": [1.0]}))
    ['pgu']
    """
    return [m for m in METRICS if m in runs and pd.to_numeric(runs[m], errors="coerce").notna().any()]


def spec(name: str) -> Metric | None:
    """The spec of any known column (score or cost), None if the report knows nothing about it."""
    return METRICS.get(name) or COSTS.get(name)
