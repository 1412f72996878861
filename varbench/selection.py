"""The selection track: methods that say, per variable, "keep" or "drop".

A selection method (`_meta_.returns: selection`) returns a `Selection`: per-variable p-values
(selected = Benjamini-Hochberg at level q, default 0.1) or the selected/rejected decisions
themselves (e.g. the knockoff filter, which controls the FDR through its own threshold). It is
scored against the relevant mask by the false discovery proportion (`fdr`: false selections /
max(1, selections); averaged over seeds it estimates the FDR) and the power (`power`: relevant
variables selected / relevant variables); weakly relevant variables (`GroundTruth.weak`) count as
relevant for the FDR and are left out of the power. Logged as runs with kind=selection.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

TRACK = "selection"
Q = 0.1  # the nominal FDR level of every selection (Benjamini-Hochberg q, knockoff q)
SELECTION_METRICS = ("fdr", "power")


@dataclass
class Selection:
    """A selection method's output: `pvalues` (d,) and/or `selected` (d,) bool; if only p-values
    are given, selected = Benjamini-Hochberg at `q`. `statistic`: the per-variable score the
    test is based on (logged); extras: scalar diagnostics."""

    pvalues: np.ndarray | None = None
    selected: np.ndarray | None = None
    statistic: np.ndarray | None = None
    q: float = Q
    extras: dict[str, float] = field(default_factory=dict)


def benjamini_hochberg(pvalues: np.ndarray, q: float = Q) -> np.ndarray:
    """Benjamini-Hochberg step-up at level q: reject the k smallest p-values, k the largest
    i with p_(i) <= q i / m, i.e. BH-adjusted p-values (scipy's `false_discovery_control`)
    <= q. Returns the rejected mask (same order as given)."""
    if not (isinstance(q, (int, float)) and 0 < q < 1):
        raise ValueError(f"q={q!r} is invalid: expected a number in (0, 1)")
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return np.zeros(0, bool)
    return stats.false_discovery_control(p, method="bh") <= q


def as_selection(result: Any, d: int) -> Selection:
    """Validate a selection method's return value; fill `selected` from the p-values by BH."""
    if not isinstance(result, Selection):
        raise ValueError(f"a selection method must return a varbench.selection.Selection, got {type(result).__name__}")
    if result.pvalues is None and result.selected is None:
        raise ValueError("Selection has neither pvalues nor selected")
    if result.pvalues is not None:
        p = np.asarray(result.pvalues, dtype=float)
        if p.shape != (d,) or not np.all((p >= 0) & (p <= 1)):
            raise ValueError(f"Selection.pvalues must be {d} values in [0, 1], got {p.tolist()}")
        result.pvalues = p
        if result.selected is None:
            result.selected = benjamini_hochberg(p, result.q)
    sel = np.asarray(result.selected)
    if sel.shape != (d,) or sel.dtype != bool:
        raise ValueError(f"Selection.selected must be {d} booleans, got {sel.tolist()}")
    return result


def fdr_power(selected: np.ndarray, relevant: np.ndarray, weak: np.ndarray | None = None) -> dict[str, float]:
    """False discovery proportion and power of a selection (see the module docstring)."""
    sel = np.asarray(selected, bool)
    rel = np.asarray(relevant, bool)
    strong = rel & ~(np.zeros_like(rel) if weak is None else np.asarray(weak, bool))
    false = int(np.sum(sel & ~rel))
    return {"fdr": false / max(1, int(sel.sum())),
            "power": float(np.sum(sel & strong) / strong.sum()) if strong.any() else float("nan"),
            "n_selected": float(sel.sum()), "n_false": float(false)}


def score_selection_result(raw: Any, data: Any) -> tuple[dict[str, float], dict[str, str], np.ndarray]:
    """(metrics, tags, selected as 0/1) of one selection run (the runner's dispatch target)."""
    from varbench.tracking import vector_json

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


def selection_table(runs: pd.DataFrame, by: tuple[str, ...] = ("dataset", "method")) -> pd.DataFrame:
    """Per group: n runs and mean FDR / power with 95% t intervals over seeds (ok runs only)."""
    from varbench.report.stats import t_interval

    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    rows = []
    for key, g in ok.groupby(list(by), sort=True):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row["n"] = len(g)
        for m in SELECTION_METRICS + ("n_selected",):
            ci = t_interval(pd.to_numeric(g[m], errors="coerce").to_numpy(float)) if m in g else None
            row.update({m: ci.mean, f"{m}_lo": ci.lo, f"{m}_hi": ci.hi} if ci else {})
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["Selection", "benjamini_hochberg", "as_selection", "fdr_power", "score_selection_result",
           "selection_table", "Q", "TRACK", "SELECTION_METRICS"]
