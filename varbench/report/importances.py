"""Each method's per-variable importance with its interval, as a run summary prints it for runs
whose truth is unknown (a user's table): the numbers, not only a ranking.

Interval per method and variable: with one run, the method's own 95% interval where it gives one
(tags importance_ci_low / importance_ci_high, `varbench.methods.uncertainty`); with several runs
(seeds), a 95% t interval of the mean over runs; otherwise none ("-").
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy import stats


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
