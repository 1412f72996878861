"""Numbers behind the advice: methods ranked on targets planted on the user's covariates, how
often a method credits a correlated irrelevant partner, and the real-target importances."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from varbench.report.stats import t_interval


@dataclass
class CellInfo:
    """What a benchmark cell planted: variable names, truth, and relevant -> partner pairs."""

    label: str
    family: str | None
    seed: int
    variables: list[str]
    relevant: np.ndarray
    partner: dict[str, str] = field(default_factory=dict)
    truth: np.ndarray | None = None


def reachable(truth: np.ndarray) -> float:
    """The highest Spearman a method with distinct scores can reach against this truth: the truth
    itself with the tied irrelevant variables given distinct values below every relevant one
    (irrelevant variables tie at 0 in the truth, so only the oracle reaches 1)."""
    from varbench.scoring import spearman

    t = np.asarray(truth, dtype=float)
    zero = t == 0
    best = t.copy()
    best[zero] = np.min(t[~zero]) * 1e-3 * (1 + np.arange(zero.sum())) / (1 + zero.sum())
    return float(spearman(best, t))


def _interval(values: pd.Series, low: float = -np.inf, high: float = np.inf) -> dict[str, float]:
    """Mean and 95% t interval, the interval kept inside the value's range [low, high]; no
    interval (NaN bounds) where nothing varied: one value, or repeats that agree exactly."""
    v = values.to_numpy(dtype=float)
    iv = t_interval(v, bounds=(low, high))
    finite = v[np.isfinite(v)]
    if finite.size and np.ptp(finite) == 0:
        return {"mean": iv.mean, "ci_low": float("nan"), "ci_high": float("nan"), "n": iv.n}
    return {"mean": iv.mean, "ci_low": iv.lo, "ci_high": iv.hi, "n": iv.n}


def good_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Method runs that finished ok on a model of acceptable quality."""
    if runs.empty:
        return runs
    ok = runs["status"].eq("ok") & runs.get("cell_status", pd.Series("ok", index=runs.index)).eq("ok")
    return runs[ok]


def rank_methods(runs: pd.DataFrame, metric: str = "spearman") -> pd.DataFrame:
    """Per method: mean `metric` with its 95% t interval over benchmark cells, top-k recall,
    the mean per planted family, and seconds; best first (floors ranked with the rest)."""
    runs = good_runs(runs)
    rows = []
    for method, g in runs.groupby("method", sort=False):
        row = {"method": method, "estimand": g["estimand"].iloc[0] if "estimand" in g else "unknown",
               "role": g["role"].iloc[0] if "role" in g else "method", **_interval(g[metric], -1.0, 1.0)}
        row["topk_recall"] = float(g["topk_recall"].mean()) if "topk_recall" in g else float("nan")
        for fam, gf in g.groupby("dataset"):
            row[str(fam).removeprefix("planted_")] = float(gf[metric].mean())
        row["seconds"] = float(g["seconds"].mean())
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values("mean", ascending=False, na_position="last").reset_index(drop=True)


def _vector(text: object) -> np.ndarray:
    return np.asarray(json.loads(text) if isinstance(text, str) else [], dtype=float)


def partner_credit(runs: pd.DataFrame, cells: list[CellInfo]) -> pd.DataFrame:
    """In cells with a relevant variable and a correlated irrelevant partner: per method, the
    share of cells where the partner is ranked among the top k (k = number of relevant variables,
    so it displaces a relevant one), and the mean importance ratio partner / relevant."""
    runs = good_runs(runs)
    index = {(c.label, c.seed): c for c in cells if c.partner}
    rows = []
    for _, r in runs.iterrows():
        c = index.get((r["dataset"], int(r["seed"])))
        if c is None:
            continue
        imp = np.abs(_vector(r.get("importance")))
        if imp.shape != (len(c.variables),):
            continue
        k = int(c.relevant.sum())
        top = set(np.argsort(-imp, kind="stable")[:k])
        for rel, partner in c.partner.items():
            i, j = c.variables.index(rel), c.variables.index(partner)
            rows.append({"method": r["method"], "estimand": r.get("estimand", "unknown"), "relevant": rel,
                         "partner": partner, "credited": float(j in top),
                         "ratio": float(imp[j] / imp[i]) if imp[i] > 0 else float("nan")})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    g = df.groupby(["method", "estimand", "relevant", "partner"], sort=False)
    return g.agg(share=("credited", "mean"), ratio=("ratio", "mean"), cells=("credited", "size")).reset_index()


def real_importance(runs: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """Real-target importances per method and variable: each run's |importance| normalised to
    sum 1, mean and 95% t interval over the repeats (trainings, or method seeds on one model; no
    interval where the repeats agree exactly or there is one). Every finished run counts, also on
    a model below the quality threshold (the report says so): it is the user's model."""
    rows = []
    if runs.empty:  # no top method, or a broken model's importances not reported
        return pd.DataFrame(columns=["method", "variable", "mean", "ci_low", "ci_high", "n"])
    for method, g in runs[runs["status"] == "ok"].groupby("method", sort=False):
        vecs = [v / v.sum() for v in (np.abs(_vector(t)) for t in g["importance"])
                if v.shape == (len(variables),) and v.sum() > 0]
        if not vecs:
            continue
        M = np.vstack(vecs)
        for j, name in enumerate(variables):
            rows.append({"method": method, "variable": name, **_interval(pd.Series(M[:, j]), 0.0, 1.0)})
    return pd.DataFrame(rows)


def broken_model(cells: pd.DataFrame, threshold: float | None) -> str | None:
    """Why the real-target model gets no recommendation, or None: no model finished, its mean test
    R² (regression) or ROC AUC (classification) is at chance (R² <= 0, AUC <= 0.5), or below the
    quality threshold (the config's `quality_threshold`, the number the runner applies).

    Examples
    --------
    >>> broken_model(pd.DataFrame({"accuracy": [0.0], "auc": [0.47]}), 0.5)
    'is at chance (test AUC 0.47; chance is 0.5)'
    """
    metric = "r2" if "r2" in cells and cells["r2"].notna().any() else "auc"
    values = cells[metric].to_numpy(dtype=float) if metric in cells else np.array([])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "has no test quality (no training finished)"
    v, name, chance = float(values.mean()), ("R²" if metric == "r2" else "AUC"), (0.0 if metric == "r2" else 0.5)
    if v <= chance:
        return f"is at chance (test {name} {v:.2f}; chance is {chance:g})"
    if threshold is not None and v < threshold:
        return f"is below the quality threshold (test {name} {v:.2f} < {threshold:g})"
    return None


def quality(cells: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Model quality per metric (r2 / accuracy / auc): mean and interval over cells."""
    return {m: _interval(cells[m], -np.inf if m == "r2" else 0.0, 1.0)
            for m in ("r2", "accuracy", "auc") if m in cells and cells[m].notna().any()}


def interval_text(mean: float, lo: float, hi: float) -> str:
    """'mean [lo, hi]' as the report layer writes it; the mean alone where nothing was repeated
    (the text around it says what was), and 'mean (±<0.005)' where the interval is narrower than
    the digits shown (never a zero-width '[x, x]').

    Examples
    --------
    >>> interval_text(0.61, 0.6101, 0.6104), interval_text(0.5, float("nan"), float("nan")), interval_text(0.5, 0.4, 0.6)
    ('0.61 (±<0.005)', '0.50', '0.50 [0.40, 0.60]')
    """
    from varbench.report import ci_text

    if np.isfinite(lo) and np.isfinite(hi) and f"{lo:.2f}" == f"{hi:.2f}":
        return f"{mean:.2f} (±<0.005)"
    return ci_text(mean, lo, hi, single="")
