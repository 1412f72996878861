"""Verdict robustness: does "A beats B" still hold when the network, its training or the data change?

Input: one row per (condition, dataset, seed, method) with a score (e.g. Spearman against the data's
truth, and against the trained model's own truth). A *condition* is one way of building the cells
(an activation, an architecture, fewer rows, more noise, ...); one of them is the reference.

- **Per pair and condition**: the mean paired difference A - B over the condition's cells with
  datasets as the units (varbench.report.clusters: datasets resampled, seeds within them; t on
  G - 1 df). With one dataset the seeds are the units (`clusters.units`; the verdict then covers
  that dataset only). The verdict is A (interval above 0), B (below 0) or "unclear".
- **Orientation**: each pair is written "A > B" with A the winner on the reference condition.
- **Change against the reference**, on the same datasets as the condition (the reference restricted
  to them): `holds` (both decisive, same winner), `flips` (both decisive, opposite winners),
  `weakens` (reference decisive, condition unclear), `appears` (reference unclear, condition
  decisive), `unclear` (neither), `n/a` (a method has no score in the condition, e.g. a
  weight-reading method on a network that is not a chain of Dense layers). `sign_turned` says the
  point estimate changed sign, decisive or not.
- **Why** (where the sign turned): the same difference against the model's own truth. If A still
  beats B there (same sign as on the reference), the explainers still order the *model* as before:
  "the model learned something else". If that turns too: "the explainer is wrong".
- **Share per pair**: over the non-reference conditions, the share in which A beats B (mean
  difference > 0 counts 1, = 0 counts 1/2, < 0 counts 0), with a 95% interval that takes the
  conditions as the units (t on C - 1 df, clipped to [0, 1]; one value per condition).
"""
from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd

from varbench.report.clusters import N_BOOT, SEED, cluster_bootstrap, units

LEVEL = 0.95
CELL = ["condition", "dataset", "seed"]
CHANGES = ("holds", "flips", "weakens", "appears", "unclear", "n/a")


def pair_differences(runs: pd.DataFrame, metric: str, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Paired differences per cell: columns condition, dataset, seed, a, b, diff (= a - b).

    Parameters
    ----------
    runs : one row per (condition, dataset, seed, method) with a finite `metric` (others dropped).
    metric : the score column.
    methods : the methods and their order (default: sorted names); pairs are (methods[i], methods[j]), i < j.

    Examples
    --------
    >>> runs = pd.DataFrame({"condition": "c", "dataset": "d", "seed": 0, "method": ["x", "y"],
    ...                      "spearman": [0.9, 0.4]})
    >>> pair_differences(runs, "spearman")[["a", "b", "diff"]].round(2).values.tolist()
    [['x', 'y', 0.5]]
    """
    missing = [c for c in CELL + ["method", metric] if c not in runs]
    if missing:
        raise ValueError(f"runs has no column {missing[0]!r}: expected {CELL + ['method', metric]}")
    r = runs[np.isfinite(pd.to_numeric(runs[metric], errors="coerce"))]
    wide = r.pivot_table(index=CELL, columns="method", values=metric, aggfunc="mean")
    methods = list(methods) if methods is not None else sorted(wide.columns)
    rows = []
    for a, b in combinations(methods, 2):
        if a not in wide or b not in wide:
            continue
        d = (wide[a] - wide[b]).dropna()
        rows.append(d.rename("diff").reset_index().assign(a=a, b=b))
    cols = CELL + ["a", "b", "diff"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def _summary(g: pd.DataFrame, n_boot: int, seed: int) -> dict[str, float | str | int]:
    labels, unit = units(g["dataset"].to_numpy(), (g["dataset"] + "/" + g["seed"].astype(str)).to_numpy())
    s = cluster_bootstrap(labels, n_boot, seed).summary(g["diff"].to_numpy(), LEVEL).iloc[0]
    return {"mean": float(s["mean"]), "lo": float(s["lo"]), "hi": float(s["hi"]),
            "n_datasets": int(g["dataset"].nunique()), "n_cells": len(g), "units": unit}


def _verdict(lo: float, hi: float, a: str, b: str) -> str:
    return a if lo > 0 else b if hi < 0 else "unclear"


def _change(ref: str, cond: str) -> str:
    if ref == "unclear":
        return "unclear" if cond == "unclear" else "appears"
    if cond == "unclear":
        return "weakens"
    return "holds" if ref == cond else "flips"


def verdicts(runs: pd.DataFrame, reference: str, metric: str = "spearman", model_metric: str | None = None,
             methods: Sequence[str] | None = None, n_boot: int = N_BOOT, seed: int = SEED) -> pd.DataFrame:
    """Every pair's verdict in every condition, against the reference (see the module docstring).

    Returns one row per (pair, condition), the reference's own rows included (change "reference"):
    a, b (A wins on the reference), condition, datasets, mean, lo, hi, n_datasets, n_cells, units,
    verdict, ref_mean, ref_lo, ref_hi, ref_verdict (the reference on the same datasets), change,
    sign_turned, and with `model_metric`: model_mean, ref_model_mean, why.

    Examples
    --------
    >>> rows = [(c, d, s, m, v) for c in ("ref", "c1") for d in ("d1", "d2", "d3") for s in (0, 1)
    ...         for m, v in (("x", 0.9 if c == "ref" else 0.2), ("y", 0.5 + 0.01 * s))]
    >>> runs = pd.DataFrame(rows, columns=["condition", "dataset", "seed", "method", "spearman"])
    >>> v = verdicts(runs, "ref", n_boot=200)
    >>> v.set_index("condition").loc["c1", ["a", "b", "verdict", "change"]].tolist()
    ['x', 'y', 'y', 'flips']
    """
    if reference not in set(runs.get("condition", pd.Series(dtype=object))):
        raise ValueError(f"reference={reference!r} is invalid: no runs of that condition")
    diffs = pair_differences(runs, metric, methods)
    mdiffs = pair_differences(runs, model_metric, methods) if model_metric and model_metric in runs else None
    conditions = [reference] + sorted(set(runs["condition"]) - {reference})
    out = []
    for (a, b), pair in diffs.groupby(["a", "b"], sort=False):
        ref_all = pair[pair["condition"] == reference]
        if ref_all.empty:
            continue
        flip = _summary(ref_all, n_boot, seed)["mean"] < 0   # orient: A wins on the reference
        pair = pair.assign(diff=-pair["diff"]) if flip else pair
        a_, b_ = (b, a) if flip else (a, b)
        mpair = None
        if mdiffs is not None:
            mpair = mdiffs[(mdiffs["a"] == a) & (mdiffs["b"] == b)]
            mpair = mpair.assign(diff=-mpair["diff"]) if flip else mpair
        for cond in conditions:
            g = pair[pair["condition"] == cond]
            row: dict = {"a": a_, "b": b_, "condition": cond}
            if g.empty:
                out.append({**row, "change": "n/a"})
                continue
            ds = sorted(set(g["dataset"]))
            ref = pair[(pair["condition"] == reference) & pair["dataset"].isin(ds)]
            s = _summary(g, n_boot, seed)
            row.update(datasets=",".join(ds), **s, verdict=_verdict(s["lo"], s["hi"], a_, b_))
            if ref.empty:
                out.append({**row, "change": "n/a"})
                continue
            r = _summary(ref, n_boot, seed)
            row.update(ref_mean=r["mean"], ref_lo=r["lo"], ref_hi=r["hi"],
                       ref_verdict=_verdict(r["lo"], r["hi"], a_, b_))
            row["change"] = "reference" if cond == reference else _change(row["ref_verdict"], row["verdict"])
            row["sign_turned"] = bool(np.sign(s["mean"]) * np.sign(r["mean"]) < 0)
            if mpair is not None:
                mg = mpair[mpair["condition"] == cond]
                mr = mpair[(mpair["condition"] == reference) & mpair["dataset"].isin(ds)]
                row["model_mean"] = _summary(mg, n_boot, seed)["mean"] if len(mg) else np.nan
                row["ref_model_mean"] = _summary(mr, n_boot, seed)["mean"] if len(mr) else np.nan
                row["why"] = _why(row) if row["sign_turned"] or row["change"] == "flips" else ""
            out.append(row)
    return pd.DataFrame(out)


def _why(row: dict) -> str:
    m, r = row.get("model_mean", np.nan), row.get("ref_model_mean", np.nan)
    if not (np.isfinite(m) and np.isfinite(r)):
        return "no model truth"
    if np.sign(m) * np.sign(r) < 0:
        return "the explainer is wrong"
    return "the model learned something else"


def shares(table: pd.DataFrame, n_boot: int = N_BOOT, seed: int = SEED) -> pd.DataFrame:
    """Per pair "A > B": the share of non-reference conditions in which A beats B (point estimate),
    its 95% interval with conditions as the units, and the count of each change.

    Examples
    --------
    >>> t = pd.DataFrame({"a": "x", "b": "y", "condition": ["r", "c1", "c2", "c3"],
    ...                   "mean": [0.4, 0.3, -0.2, 0.1], "change": ["reference", "holds", "flips", "weakens"]})
    >>> s = shares(t).iloc[0]
    >>> round(float(s["share"]), 3), int(s["flips"]), s["flipped_in"]
    (0.667, 1, 'c2')
    """
    rows = []
    for (a, b), g in table.groupby(["a", "b"], sort=False):
        g = g[(g["change"] != "reference") & (g["change"] != "n/a")]
        wins = np.where(g["mean"] > 0, 1.0, np.where(g["mean"] < 0, 0.0, 0.5))
        row = {"pair": f"{a} > {b}", "a": a, "b": b, "n_conditions": len(g)}
        if len(g):
            s = cluster_bootstrap(g["condition"].to_numpy(), n_boot, seed).summary(wins, LEVEL, bounds=(0.0, 1.0)).iloc[0]
            row.update(share=float(s["mean"]), lo=float(s["lo"]), hi=float(s["hi"]))
        else:
            row.update(share=np.nan, lo=np.nan, hi=np.nan)
        for c in CHANGES[:-1]:
            row[c] = int((g["change"] == c).sum())
        row["flipped_in"] = ", ".join(g.loc[g["change"] == "flips", "condition"])
        row["b_ahead_in"] = ", ".join(g.loc[g["mean"] < 0, "condition"])
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["share", "pair"], ascending=[False, True], kind="stable").reset_index(drop=True)
