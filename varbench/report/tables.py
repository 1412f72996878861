"""Tables of a report, computed from a prepared `ReportData`: scores with intervals, coverage,
ranks, cost, low-quality cells, ceilings, failures, the statistical comparison, the leaderboard,
the selection track's FDR / power and the short summary printed after a sweep.

Coverage: a store may hold methods scored on a few cells only (one `methods=all` cell among ten
`seed_answers` cells). Methods scored on at least COVERAGE_MIN of the best-covered method's cells
are "compared": ranks and tests are computed among them over the cells they share. The others are
ranked within their own cells, listed apart with their coverage, and left out of the tests.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from varbench.registry import role_of
from varbench.report.metrics import METRICS, logged_metrics, ranking_candidates, ranking_metric, spec
from varbench.report.prepare import CELL_KEY, ReportData, numeric
from varbench.report.stats import Comparison, block_ranks, compare, t_interval
from varbench.scoring import SELECTION_METRICS

LEVEL = 0.95            # confidence level of every interval
ALPHA = 0.05            # significance level of every test
COVERAGE_MIN = 0.5      # share of the best-covered method's cells a method needs to be compared


def _bounds(col: str, given: dict[str, tuple[float, float]] | None) -> tuple[float, float]:
    if given and col in given:
        return given[col]
    m = spec(col)
    return (m.lo, m.hi) if m else (-np.inf, np.inf)


def ci_table(df: pd.DataFrame, by: list[str], cols: Sequence[str], level: float = LEVEL,
             bounds: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Per group: per column mean / _lo / _hi / _n of the finite values (Student t interval over
    the group's rows, clipped to the metric's range: from `bounds`, else the metric spec)."""
    rows = []
    for key, g in df.groupby(by, sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        for c in cols:
            ci = t_interval(numeric(g, c).to_numpy(dtype=float), level, _bounds(c, bounds))
            row.update({c: ci.mean, f"{c}_lo": ci.lo, f"{c}_hi": ci.hi, f"{c}_n": ci.n})
        rows.append(row)
    out = pd.DataFrame(rows)
    return out if len(out) else pd.DataFrame(columns=by + [f"{c}{s}" for c in cols for s in ("", "_lo", "_hi", "_n")])


def ci_long(df: pd.DataFrame, by: list[str], col: str, bounds: tuple[float, float] | None = None) -> pd.DataFrame:
    """Per group: n, mean, lo, hi of one column (as ci_table; `bounds` for a column the report
    does not know, e.g. a study's own measure)."""
    t = ci_table(df, by, [col], bounds={col: bounds} if bounds else None)
    t = t.rename(columns={f"{col}_n": "n", col: "mean", f"{col}_lo": "lo", f"{col}_hi": "hi"})
    return t[by + ["n", "mean", "lo", "hi"]]


def ordered(values: Sequence[str], preferred: Sequence[str]) -> list[str]:
    """The distinct values: those in `preferred` first (in its order), then the rest sorted."""
    present = list(dict.fromkeys(values))
    return [v for v in preferred if v in present] + sorted(v for v in present if v not in preferred)


def ci_text(mean: float, lo: float, hi: float, digits: int = 2, single: str = " (one cell, no CI)",
            missing: str = "n/a") -> str:
    """'mean [lo, hi]'; `single` is appended when the interval is undefined (n = 1); `missing`
    when there is no mean."""
    if not np.isfinite(mean):
        return missing
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:.{digits}f}{single}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def with_ci(df: pd.DataFrame, cols: Sequence[str], digits: int = 2) -> pd.DataFrame:
    """Replace mean/_lo/_hi column triples by one 'mean [lo, hi]' text column."""
    out = df.copy()
    for c in cols:
        if c in out and f"{c}_lo" in out:
            out[f"{c} (95% CI)"] = [ci_text(a, b, d, digits, " (n=1)")
                                    for a, b, d in zip(out[c], out[f"{c}_lo"], out[f"{c}_hi"])]
            out = out.drop(columns=[c, f"{c}_lo", f"{c}_hi"])
    return out


def tidy_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Drop label columns that repeat the setting (one study, one model) for display."""
    out = df.drop(columns=["study"], errors="ignore")
    if "setting" in out and "dataset" in out and (out["setting"] == out["dataset"]).all():
        out = out.drop(columns=["setting", "model"] if out["model"].nunique() == 1 else ["setting"])
    return out


def score_table(data: ReportData) -> pd.DataFrame:
    """Per setting x method: runs, failures, n scored cells and mean + 95% t-CI over cells of the
    headline metrics, for good cells only, ceilings excluded."""
    r = data.ranked
    if r.empty:
        return pd.DataFrame(columns=["setting", "dataset", "model", "method", "runs", "failed", "n"])
    r = r.assign(_ok=r["status"] == "ok")
    cols = data.metric_columns()
    ok = r[r["_ok"]]
    t = ci_table(ok, ["setting", "method"], cols)
    counts = r.groupby(["setting", "method"], sort=False).agg(
        study=("study", "first"), dataset=("dataset", "first"), model=("model", "first"),
        runs=("method", "size"), failed=("_ok", lambda s: int((~s).sum()))).reset_index()
    out = counts.merge(t, on=["setting", "method"], how="left")
    out["n"] = out.get(f"{data.metric}_n", pd.Series(0, index=out.index)).fillna(0).astype(int)
    order = {s: i for i, s in enumerate(data.settings)}
    out = out.assign(_o=out["setting"].map(order), _v=data.spec.sign * out[data.metric])
    out = out.sort_values(["_o", "_v"], ascending=[True, False])
    keep = ["setting", "study", "dataset", "model", "method", "runs", "failed", "n"]
    keep += [f"{c}{s}" for c in cols for s in ("", "_lo", "_hi")]
    return out[[c for c in keep if c in out]].reset_index(drop=True)


def cell_matrix(data: ReportData, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """cells x methods matrix of the metric (NaN where a method has no score in a cell)."""
    s = data.scored if runs is None else runs
    if s.empty:
        return pd.DataFrame()
    return s.pivot_table(index="cell", columns="method", values=data.metric, aggfunc="first")


def coverage(data: ReportData) -> pd.DataFrame:
    """Per method: cells scored, of how many good cells with any score, and whether it is compared
    (scored on at least COVERAGE_MIN of the best-covered method's cells)."""
    M = cell_matrix(data)
    if M.empty:
        return pd.DataFrame(columns=["method", "n_cells", "of", "coverage", "compared"])
    n = M.notna().sum()
    out = pd.DataFrame({"n_cells": n, "of": len(M)})
    out["coverage"] = [f"{k}/{len(M)}" for k in n]
    out["compared"] = n >= COVERAGE_MIN * n.max()
    return out.rename_axis("method").reset_index()


def _compared(data: ReportData) -> list[str]:
    c = coverage(data)
    return list(c.loc[c["compared"], "method"])


def rank_table(data: ReportData) -> pd.DataFrame:
    """Mean rank of each method within cells (1 = best by the metric's direction), overall and per
    setting. Compared methods are ranked among themselves; a method with partial coverage is
    ranked among every method of its own cells and listed after them (`compared` = False)."""
    M = cell_matrix(data)
    if M.empty:
        return pd.DataFrame(columns=["method", "mean_rank", "n_cells", "coverage", "compared"])
    core = _compared(data)
    oriented = data.spec.sign * M
    R_core = pd.DataFrame(block_ranks(oriented[core].to_numpy()), index=M.index, columns=core)
    R_all = pd.DataFrame(block_ranks(oriented.to_numpy()), index=M.index, columns=M.columns)
    R = pd.concat([R_core, R_all.drop(columns=core)], axis=1)
    cov = coverage(data).set_index("method")
    setting = data.scored.drop_duplicates("cell").set_index("cell")["setting"]
    out = pd.DataFrame({"mean_rank": R.mean(), "n_cells": R.notna().sum(),
                        "coverage": cov["coverage"], "compared": cov["compared"]})
    for s in data.settings:
        rows = setting.index[setting == s]
        if len(rows):
            out[f"rank: {s}"] = R.loc[R.index.intersection(rows)].mean()
    out = out.assign(_c=~out["compared"]).sort_values(["_c", "mean_rank"], kind="stable").drop(columns="_c")
    return out.rename_axis("method").reset_index()


def cost_table(data: ReportData) -> pd.DataFrame:
    """Per method (good cells, successful runs): mean and median seconds, mean model evaluations."""
    r = data.ranked[data.ranked["status"] == "ok"]
    if r.empty:
        return pd.DataFrame(columns=["method", "runs", "seconds", "median_seconds", "n_model_evals"])
    g = r.groupby("method")
    out = pd.DataFrame({"runs": g.size(), "seconds": g["seconds"].mean(),
                        "median_seconds": g["seconds"].median(), "n_model_evals": g["n_model_evals"].mean(),
                        data.metric: g[data.metric].mean()})
    return out.sort_values("seconds").rename_axis("method").reset_index()


def _label(df: pd.DataFrame) -> pd.Series:
    return df["dataset"].fillna("") + "/" + df["model"].fillna("") + "/seed" + df["seed"].astype("Int64").astype(str)


def low_quality_table(data: ReportData) -> pd.DataFrame:
    """One row per low-quality cell: its quality, why it is excluded, and each method's metric.
    Low-quality cells whose methods were skipped (on_low_quality=skip) are listed too."""
    low = data.low
    cols = ["cell", "setting", "quality_name", "quality", "reason"]
    out = pd.DataFrame(columns=cols)
    if not low.empty:
        base = low.groupby("cell", sort=True).agg(setting=("setting", "first"),
                                                  quality_name=("quality_name", "first"),
                                                  quality=("quality", "first"), reason=("low_reason", "first"))
        scores = low.pivot_table(index="cell", columns="method", values=data.metric, aggfunc="first")
        out = base.join(scores).reset_index()
    c = data.cells
    if not c.empty and "status" in c:
        with_runs = data.runs.drop_duplicates(CELL_KEY)[CELL_KEY].assign(_has=True)
        skipped = c[c["status"] == "low_quality"].merge(with_runs, on=CELL_KEY, how="left")
        skipped = skipped[skipped["_has"].isna()]
        if not skipped.empty:
            r2, auc = numeric(skipped, "r2"), numeric(skipped, "auc")
            out = pd.concat([out, pd.DataFrame({
                "cell": _label(skipped).to_numpy(), "setting": skipped["dataset"].to_numpy(),
                "quality_name": np.where(np.isfinite(r2), "R2", "AUC"),
                "quality": r2.where(np.isfinite(r2), auc).to_numpy(),
                "reason": "cell_status=low_quality; methods skipped"})], ignore_index=True)
    return out


def ceiling_table(data: ReportData) -> pd.DataFrame:
    """Per setting: the ceiling's (oracle's) mean metric and its minimum over good cells."""
    c = data.ceilings
    if c.empty:
        return pd.DataFrame(columns=["setting", "method", "n", data.metric, "min"])
    g = c.groupby(["setting", "method"], sort=False)[data.metric]
    return pd.DataFrame({"n": g.count(), data.metric: g.mean(), "min": g.min()}).reset_index()


def failed_table(data: ReportData) -> pd.DataFrame:
    """Failed runs with their error, and cells that failed or never finished."""
    cols = ["cell", "method", "cell_status", "error"]
    f = data.failed[cols] if not data.failed.empty else pd.DataFrame(columns=cols)
    c = data.cells
    if not c.empty and "status" in c:
        bad = c[~c["status"].isin(["ok", "low_quality"])]
        if not bad.empty:
            f = pd.concat([f, pd.DataFrame({"cell": _label(bad), "method": "(whole cell)",
                                            "cell_status": bad["status"].fillna(""),
                                            "error": bad["error"].fillna("") if "error" in bad else ""})])
    return f.reset_index(drop=True)


def comparison(data: ReportData) -> Comparison:
    """Friedman + Nemenyi + Wilcoxon-Holm among the compared methods over the cells they all
    scored (values oriented so that higher is better). Methods with partial coverage are left out
    and named in `left_out` with the number of cells they scored."""
    M = cell_matrix(data)
    if M.empty:
        return compare(pd.DataFrame(), ALPHA)
    cov = coverage(data).set_index("method")
    core = list(cov.index[cov["compared"]])
    comp = compare(data.spec.sign * M[core], ALPHA)
    comp.left_out = {m: int(cov.loc[m, "n_cells"]) for m in cov.index if m not in core}
    return comp


def wide_comparison(data: ReportData) -> Comparison | None:
    """The same tests over every method (compared and partial) on the cells they all share; None
    when every method is compared. Its `note` says why it could not run (e.g. 1 shared cell)."""
    M = cell_matrix(data)
    if M.empty or coverage(data)["compared"].all():
        return None
    return compare(data.spec.sign * M, ALPHA)


def selection_table(runs: pd.DataFrame, by: tuple[str, ...] = ("dataset", "method")) -> pd.DataFrame:
    """Per group: n runs and mean FDR / power with 95% t intervals over seeds (ok runs only)."""
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


def leaderboard(data: ReportData) -> pd.DataFrame:
    """Methods ranked by mean rank across cells, with the mean metric and its 95% t-CI over all
    cells pooled, mean seconds and coverage; partial-coverage methods unranked after the rest."""
    ranks = rank_table(data)[["method", "mean_rank", "n_cells", "coverage", "compared"]]
    if ranks.empty:
        return pd.DataFrame(columns=["rank", "method", "mean_rank", "n_cells", data.metric])
    ci = ci_table(data.scored, ["method"], [data.metric]).drop(columns=f"{data.metric}_n")
    cost = cost_table(data)[["method", "seconds"]]
    out = ranks.merge(ci, on="method", how="left").merge(cost, on="method", how="left")
    rank = out["mean_rank"].where(out["compared"]).rank(method="min")
    out.insert(0, "rank", [str(int(r)) if np.isfinite(r) else "-" for r in rank])
    return out


def summarize(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Per method: mean Spearman, mean top-k recall, mean seconds, runs and failures, ranked by
    the first metric some run logged among `ranking_candidates` (Spearman vs the data truth; where
    no run has a data truth, e.g. `dataset=table`, a validated truth-free metric, else
    `model_spearman`), never by an all-NaN metric: with none logged the table is not ranked and
    `table.attrs["ranked_by"]` says what was logged; `metric` (one logged, e.g. the report's
    --metric) overrides the choice. Ceilings such as the oracle are listed last, outside the ranking."""
    if df.empty:
        return pd.DataFrame(columns=["method", "spearman", "topk_recall", "seconds", "runs", "failed"])
    for col in ("spearman", "topk_recall", "seconds"):
        if col not in df:
            df = df.assign(**{col: float("nan")})
    tags = df["role"] if "role" in df else pd.Series(None, index=df.index, dtype=object)
    ceilings = {m for m, t in zip(df["method"], tags) if role_of(m, t if isinstance(t, str) else None) == "ceiling"}
    g = df.groupby("method", sort=False)
    out = pd.DataFrame({
        "spearman": g["spearman"].mean(),
        "topk_recall": g["topk_recall"].mean(),
        "seconds": g["seconds"].mean(),
        "runs": g.size(),
        "failed": g["status"].apply(lambda s: int((s != "ok").sum())),
    }).reset_index()
    key = metric if metric in logged_metrics(df) else ranking_metric(df)
    no_truth = out["spearman"].isna().all()
    if no_truth:  # a real target: drop the data truth's empty columns, show the model's truth if logged
        out = out.drop(columns=["spearman", "topk_recall"])
    for col in dict.fromkeys(c for c in (key, "model_spearman" if no_truth else None) if c and c in df):
        if col not in out:
            out.insert(1, col, pd.to_numeric(df[col], errors="coerce").groupby(df["method"], sort=False).mean()
                       .reindex(out["method"]).to_numpy())
    ceiling = out["method"].isin(ceilings)
    if key is None:
        ranked = out[~ceiling].assign(rank="-")
    else:
        ranked = out[~ceiling].sort_values(key, ascending=not METRICS[key].higher_is_better, na_position="last")
        ranked.insert(0, "rank", range(1, len(ranked) + 1))
    rest = out[ceiling].assign(rank="-")
    table = pd.concat([ranked, rest], ignore_index=True)
    if key is None:
        table.attrs["ranked_by"] = ("nothing: no run logged a ranking metric (logged: "
                                    f"{', '.join(logged_metrics(df)) or 'none'})")
    elif key == "spearman":
        table.attrs["ranked_by"] = "mean Spearman vs truth"
    elif key == "model_spearman":
        table.attrs["ranked_by"] = "mean Spearman vs the model's own Sobol truth (data truth unknown)"
    elif key in ranking_candidates():
        table.attrs["ranked_by"] = (f"mean {key} ({METRICS[key].direction}; a truth-free metric validated by "
                                    "the metric validity study" + ("; data truth unknown)" if no_truth else ")"))
    else:
        table.attrs["ranked_by"] = f"mean {key} ({METRICS[key].direction})"
    return table


def format_summary(table: pd.DataFrame, title: str = "") -> str:
    """Plain-text rendering of `summarize` for the terminal."""
    if table.empty:
        return f"{title}\n(no method runs found)"
    body = table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    failed = int(table["failed"].sum())
    note = f"\n{failed} method run(s) FAILED: see the status/error tags (varbench report)." if failed else ""
    return (f"{title}\n" if title else "") + body + note
