"""Each method's per-variable importance with its interval, as a run summary prints it for runs
whose truth is unknown (a user's table): the numbers, not only a ranking.

Interval per method and variable: with one run, the method's own 95% interval where it gives one
(tags importance_ci_low / importance_ci_high, `varbench.methods.uncertainty`); with several runs
(seeds), a 95% t interval of the mean over runs; otherwise none ("-").

`seed_intervals` (the report's importance_intervals.csv) puts the two kinds side by side for each
(study, dataset, model, method) and variable: `over_seeds_*`, the mean over the cells' seeds with a
95% t interval over them (n_seeds - 1 df; each seed trains the model again and, for a generated
dataset whose config does not pin its seed, draws the data again, so this interval holds training
variance and that draw's); `within_model_*`, the mean over those runs of each run's own interval
bounds (the estimator's noise for one trained model; NaN where the method gives none).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy import stats

from varbench.report.stats import t_interval

GROUP = ["study", "dataset", "model", "method"]
SEED_INTERVAL_COLUMNS = GROUP + ["variable", "n_seeds", "over_seeds_mean", "over_seeds_ci_low", "over_seeds_ci_high",
                                 "n_within", "within_model_ci_low", "within_model_ci_high"]


def _vector(value: object) -> np.ndarray | None:
    if not isinstance(value, str) or not value:
        return None
    return np.asarray(json.loads(value), dtype=float)


def _interval(runs: pd.DataFrame, imps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, d = imps.shape
    if n >= 2:
        half = stats.t.ppf(0.975, n - 1) * imps.std(axis=0, ddof=1) / np.sqrt(n)
        return imps.mean(axis=0) - half, imps.mean(axis=0) + half
    lo, hi = (_vector(runs.iloc[0].get(c)) for c in ("importance_ci_low", "importance_ci_high"))
    if lo is None or hi is None or lo.shape != (d,) or hi.shape != (d,):
        return np.full(d, np.nan), np.full(d, np.nan)
    return lo, hi


def importance_table(runs: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Rows: variables (`names`); columns: methods; cells "mean [low, high]" (see the module note).
    Methods whose vectors do not have one value per name are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"method": ["a"], "status": ["ok"], "importance": ["[0.5, 0.25]"],
    ...                      "importance_ci_low": ["[0.4, 0.2]"], "importance_ci_high": ["[0.6, 0.3]"]})
    >>> importance_table(runs, ["x", "z"])["a"].tolist()
    ['0.5 [0.4, 0.6]', '0.25 [0.2, 0.3]']
    """
    cols = {}
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    for method, g in ok.groupby("method", sort=False):
        vecs = [v for v in map(_vector, g.get("importance", pd.Series(dtype=object))) if v is not None]
        if not vecs or any(v.shape != (len(names),) for v in vecs):
            continue
        imps = np.vstack(vecs)
        lo, hi = _interval(g, imps)
        cols[method] = [f"{m:.3g} [{a:.3g}, {b:.3g}]" if np.isfinite(a) and np.isfinite(b) else f"{m:.3g} [-]"
                        for m, a, b in zip(imps.mean(axis=0), lo, hi)]
    return pd.DataFrame(cols, index=pd.Index(names, name="variable"))


def variable_names(cells: pd.DataFrame) -> list[str] | None:
    """The variables of the cells' runs (their `variables`, else `feature_names` tag); None when
    the cells disagree (different tables) or give none.

    Examples
    --------
    >>> import pandas as pd
    >>> variable_names(pd.DataFrame({"feature_names": ["a,b_x,b_y"], "variables": ["a,b"]}))
    ['a', 'b']
    """
    names = set()
    for _, c in cells.iterrows():
        value = c.get("variables") if isinstance(c.get("variables"), str) and c.get("variables") else c.get(
            "feature_names")
        if isinstance(value, str) and value:
            names.add(value)
    return names.pop().split(",") if len(names) == 1 else None


def _names(g: pd.DataFrame, d: int) -> list[str]:
    """The runs' variable names (`variables`, else `feature_names`) when they give d of them, else 0..d-1."""
    for col in ("variables", "feature_names"):
        values = {v for v in g.get(col, pd.Series(dtype=object)) if isinstance(v, str) and v}
        if len(values) == 1 and len(names := values.pop().split(",")) == d:
            return names
    return [str(j) for j in range(d)]


def seed_intervals(runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per (study, dataset, model, method) and variable: the interval over seeds beside the mean
    within-model interval (module note), from successful runs; a group whose importance vectors
    differ in length is left out.

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"dataset": "d", "model": "m", "method": "a", "seed": [0, 1], "status": "ok",
    ...                      "importance": ["[1.0]", "[3.0]"], "importance_ci_low": ["[0.5]", "[2.5]"],
    ...                      "importance_ci_high": ["[1.5]", "[3.5]"], "feature_names": "x"})
    >>> r = seed_intervals(runs).iloc[0]
    >>> r["variable"], float(r["over_seeds_mean"]), float(r["within_model_ci_low"]), float(r["within_model_ci_high"])
    ('x', 2.0, 1.5, 2.5)
    """
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    ok = ok.assign(study=ok["study"] if "study" in ok else "-")
    rows = []
    for key, g in ok.groupby(GROUP, sort=True):
        vecs = [_vector(v) for v in g.get("importance", pd.Series(dtype=object))]
        if not vecs or any(v is None for v in vecs) or len({v.shape for v in vecs}) != 1 or vecs[0].ndim != 1:
            continue
        imps, d = np.vstack(vecs), vecs[0].shape[0]
        bounds = [(lo, hi) for lo, hi in zip(*(map(_vector, g.get(c, pd.Series(None, index=g.index, dtype=object)))
                                                for c in ("importance_ci_low", "importance_ci_high")))
                  if lo is not None and hi is not None and lo.shape == hi.shape == (d,)]
        lows = np.array([b[0] for b in bounds]).reshape(-1, d)
        highs = np.array([b[1] for b in bounds]).reshape(-1, d)
        for j, name in enumerate(_names(g, d)):
            over = t_interval(imps[:, j], level)
            lo, hi = lows[:, j], highs[:, j]
            both = np.isfinite(lo) & np.isfinite(hi)
            rows.append(dict(zip(GROUP, key)) | {
                "variable": name, "n_seeds": over.n, "over_seeds_mean": over.mean, "over_seeds_ci_low": over.lo,
                "over_seeds_ci_high": over.hi, "n_within": int(both.sum()),
                "within_model_ci_low": float(lo[both].mean()) if both.any() else float("nan"),
                "within_model_ci_high": float(hi[both].mean()) if both.any() else float("nan")})
    return pd.DataFrame(rows, columns=SEED_INTERVAL_COLUMNS)
