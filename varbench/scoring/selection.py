"""The selection track's scores: methods that say, per variable, "keep" or "drop", scored by
the false discovery proportion and the power; `score_selection_result` scores one selection run.

A selection method (`_meta_.returns: selection`) returns a `Selection`: per-variable p-values
(selected = Benjamini-Hochberg at level q, default 0.1) or the selected/rejected decisions
themselves (e.g. the knockoff filter, which controls the FDR through its own threshold). It is
scored against the relevant mask by the false discovery proportion (`fdr`: false selections /
max(1, selections); averaged over seeds it estimates the FDR) and the power (`power`: relevant
variables selected / relevant variables); weakly relevant variables (`GroundTruth.weak`) count as
relevant for the FDR and are left out of the power. Logged as runs with kind=selection.

The result type (`Selection`, with `as_selection` and `benjamini_hochberg`) is defined with the
other method results in `varbench.methods.base`; the methods, in `varbench.methods.selection`;
the report's table of FDR / power over seeds is `varbench.report.tables.selection_table`. These
names stay importable from `varbench.selection`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from varbench.methods.base import as_selection
from varbench.tag_json import vector_json

TRACK = "selection"


def fdr_power(selected: np.ndarray, relevant: np.ndarray, weak: np.ndarray | None = None) -> dict[str, float]:
    """False discovery proportion and power of a selection (see the module docstring).

    Examples
    --------
    >>> fdr_power(np.array([True, True, False]), np.array([True, False, False]))
    {'fdr': 0.5, 'power': 1.0, 'n_selected': 2.0, 'n_false': 1.0}
    """
    sel = np.asarray(selected, bool)
    rel = np.asarray(relevant, bool)
    strong = rel & ~(np.zeros_like(rel) if weak is None else np.asarray(weak, bool))
    false = int(np.sum(sel & ~rel))
    return {"fdr": false / max(1, int(sel.sum())),
            "power": float(np.sum(sel & strong) / strong.sum()) if strong.any() else float("nan"),
            "n_selected": float(sel.sum()), "n_false": float(false)}


def score_selection_result(raw: Any, data: Any) -> tuple[dict[str, float], dict[str, str], np.ndarray]:
    """(metrics, tags, selected as 0/1) of one selection run (the runner's dispatch target)."""
    sel = as_selection(raw, data.n_features)
    metrics = fdr_power(sel.selected, data.truth.relevant, data.truth.weak)
    metrics["q"] = float(sel.q)
    metrics.update({f"extra_{k}": float(v) for k, v in sel.extras.items()})
    tags = {"status": "ok", "selected": vector_json(sel.selected.astype(float))}
    if sel.pvalues is not None:
        tags["pvalues"] = vector_json(sel.pvalues)
    if sel.statistic is not None:
        tags["statistic"] = vector_json(np.asarray(sel.statistic, float))
    return metrics, tags, sel.selected.astype(float)


__all__ = ["TRACK", "fdr_power", "score_selection_result"]
