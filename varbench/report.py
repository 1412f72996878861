"""`varbench report`: method runs in the tracking store -> tables (markdown + CSV), statistics,
PNG plots, a leaderboard and a generated recommendation, logged back to MLflow as one run
tagged kind=report.

Conventions (also written into report.md):
- A cell is (study, dataset, model, seed); if a (cell, method) was run more than once the
  latest run is kept. A "setting" is a dataset (with its model / study when several exist);
  per-setting means and 95% Student t intervals are over the cells (seeds) of that setting.
- Cells whose model failed to learn (tag cell_status=low_quality, or test R^2 / ROC AUC below
  --quality-threshold) are reported separately and never averaged in.
- Ceilings (the "oracle") are excluded from ranks and statistics and shown separately.
- Ranks: within each cell, methods with a finite metric are ranked (1 = best, ties averaged);
  a failed run has no rank in that cell. Friedman/Nemenyi/Wilcoxon use only cells where every
  compared method has a score.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from varbench.stats import Comparison, block_ranks, compare, t_interval
from varbench.summary import ceiling_mask, format_summary, summarize

# Dataset-name patterns -> the condition they test (first match wins; case-insensitive).
CONDITIONS: dict[str, str] = {
    "correlated*": "correlated features",
    "redundant*": "correlated features",
    "decoys*": "correlated features",
    "xai_bench*": "correlated features",
    "semisynthetic*": "correlated features",
    "interaction*": "interactions",
    "xor*": "interactions",
    "ishigami*": "interactions",
    "sobol_g*": "interactions",
    "tsang*": "interactions",
    "*scales*": "mixed scales",
    "heavy*": "mixed scales",
    "linear*": "independent features",
    "friedman*": "independent features",
    "*additive*": "independent features",
    "olden*": "independent features",
}
OTHER = "other datasets"
HIGH_QUALITY = 0.9      # model quality (R^2 or AUC) from which a model counts as well trained
FAIL_BELOW = 0.5        # a mean metric below this is called a failure in the recommendation
RANDOM = "random"       # the floor method, if present
LEVEL = 0.95            # confidence level of every interval
ALPHA = 0.05            # significance level of every test
CELL_KEY = ["study", "dataset", "model", "seed"]
METRICS = ("spearman", "kendall", "topk_recall", "precision_at_k", "auroc", "local_spearman", "local_cosine",
           "model_spearman", "model_spearman_shapley", "model_spearman_sage")
HEADLINE = ("spearman", "topk_recall")   # the metrics of the scores table (plus --metric)


def build_filter(dataset: str | None = None, model: str | None = None, sweep: str | None = None,
                 study: str | None = None) -> str:
    """An MLflow filter string over the tracking contract's tags."""
    parts = []
    for key, value in (("study", study), ("dataset", dataset), ("model", model), ("sweep", sweep)):
        if value:
            if "'" in value:
                raise ValueError(f"--{key}={value!r} is invalid: quotes are not allowed")
            parts.append(f"tags.{key} = '{value}'")
    return " and ".join(parts)


# --------------------------------------------------------------------------------------- data
@dataclass
class ReportData:
    """The method runs of a report, deduplicated and labelled.

    runs: one row per (cell, method) with extra columns cell, setting, quality, quality_name,
    low (bool) and low_reason. cells: the cell (parent) runs, one per cell key.
    """

    runs: pd.DataFrame
    cells: pd.DataFrame
    metric: str
    quality_threshold: float | None = None
    include_oracle: bool = False
    n_duplicates: int = 0

    def _ceiling(self) -> pd.Series:
        return ceiling_mask(self.runs) & (not self.include_oracle)

    @property
    def ranked(self) -> pd.DataFrame:
        """Runs that enter tables, ranks and statistics: good cells, no ceilings, any status."""
        return self.runs[~self.runs["low"] & ~self._ceiling()]

    @property
    def scored(self) -> pd.DataFrame:
        """`ranked` runs that produced a finite value of the metric."""
        r = self.ranked
        return r[(r["status"] == "ok") & np.isfinite(r[self.metric])]

    @property
    def low(self) -> pd.DataFrame:
        """Runs in cells whose model failed to learn (reported separately)."""
        return self.runs[self.runs["low"]]

    @property
    def ceilings(self) -> pd.DataFrame:
        """Ceiling (oracle) runs in good cells."""
        return self.runs[~self.runs["low"] & ceiling_mask(self.runs)]

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "ok"]

    @property
    def settings(self) -> list[str]:
        return list(dict.fromkeys(self.runs.sort_values(["dataset", "model", "study"])["setting"]))


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, index=df.index)


def prepare(runs: pd.DataFrame, cells: pd.DataFrame | None, metric: str = "spearman",
            quality_threshold: float | None = None, include_oracle: bool = False) -> ReportData:
    """Deduplicate, label cells/settings, attach model quality and flag low-quality cells."""
    if metric not in METRICS:
        raise ValueError(f"--metric={metric!r} is invalid: expected one of {', '.join(METRICS)}")
    if quality_threshold is not None and not np.isfinite(quality_threshold):
        raise ValueError(f"--quality-threshold={quality_threshold!r} is invalid: expected a finite number")
    if runs.empty:
        raise ValueError("no method runs to report")
    df = runs.copy()
    for col in ("study", "dataset", "model", "method", "status", "cell_status", "error", "task", "importance"):
        df[col] = df[col].fillna("-" if col == "study" else "") if col in df else ("-" if col == "study" else "")
    for col in set(HEADLINE + (metric, "seconds", "n_model_evals", "quality_r2", "quality_auc")):
        df[col] = _num(df, col)
    df = df.sort_values("start_time", kind="stable") if "start_time" in df else df
    before = len(df)
    df = df.drop_duplicates(CELL_KEY + ["method"], keep="last")
    n_dup = before - len(df)
    r2, auc = df["quality_r2"], df["quality_auc"]
    df["quality"] = r2.where(np.isfinite(r2), auc)
    df["quality_name"] = np.where(np.isfinite(r2), "R2", np.where(np.isfinite(auc), "AUC", ""))
    flagged = df["cell_status"] == "low_quality"
    # as the runner: a cell is below the threshold unless its quality is known and >= it
    below = ~(df["quality"] >= quality_threshold) if quality_threshold is not None else pd.Series(False, df.index)
    df["low"] = flagged | below
    df["low_reason"] = np.where(
        flagged, "cell_status=low_quality",
        np.where(df["low"], [f"{n}={q:.3f} < {quality_threshold}" if np.isfinite(q) else "quality unknown"
                             for n, q in zip(df["quality_name"], df["quality"])], ""))
    many_studies = df["study"].nunique() > 1
    many_models = df["model"].nunique() > 1
    pre = df["study"] + ":" if many_studies else ""
    df["cell"] = pre + df["dataset"] + "/" + df["model"] + "/seed" + df["seed"].astype("Int64").astype(str)
    df["setting"] = pre + df["dataset"] + ((" / " + df["model"]) if many_models else "")
    cells = pd.DataFrame() if cells is None else cells.copy()
    if not cells.empty:
        cells["study"] = cells["study"].fillna("-") if "study" in cells else "-"
        cells = cells.sort_values("start_time", kind="stable").drop_duplicates(CELL_KEY, keep="last")
    return ReportData(df.reset_index(drop=True), cells.reset_index(drop=True), metric, quality_threshold,
                      include_oracle, n_dup)


# ------------------------------------------------------------------------------------- tables
def _intervals(df: pd.DataFrame, by: list[str], cols: Sequence[str]) -> pd.DataFrame:
    """Per group: n and, per column, mean / lo / hi of the finite values (t interval)."""
    rows = []
    for key, g in df.groupby(by, sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        for c in cols:
            ci = t_interval(g[c].to_numpy(dtype=float), LEVEL)
            row.update({c: ci.mean, f"{c}_lo": ci.lo, f"{c}_hi": ci.hi, f"{c}_n": ci.n})
        rows.append(row)
    return pd.DataFrame(rows)


def _headline(metric: str) -> list[str]:
    return list(dict.fromkeys((metric,) + HEADLINE))


def score_table(data: ReportData) -> pd.DataFrame:
    """Per setting x method: runs, failures, n scored cells and mean + 95% t-CI over cells of
    Spearman, top-k recall (and --metric), for good cells only, ceilings excluded."""
    r = data.ranked
    if r.empty:
        return pd.DataFrame(columns=["setting", "dataset", "model", "method", "runs", "failed", "n"])
    r = r.assign(_ok=r["status"] == "ok")
    cols = _headline(data.metric)
    ok = r[r["_ok"]]
    t = _intervals(ok, ["setting", "method"], cols) if not ok.empty else pd.DataFrame(columns=["setting", "method"])
    counts = r.groupby(["setting", "method"], sort=False).agg(
        study=("study", "first"), dataset=("dataset", "first"), model=("model", "first"),
        runs=("run_id", "size") if "run_id" in r else ("method", "size"),
        failed=("_ok", lambda s: int((~s).sum()))).reset_index()
    out = counts.merge(t, on=["setting", "method"], how="left")
    out["n"] = out.get(f"{data.metric}_n", pd.Series(0, index=out.index)).fillna(0).astype(int)
    order = {s: i for i, s in enumerate(data.settings)}
    out = out.assign(_o=out["setting"].map(order)).sort_values(["_o", data.metric], ascending=[True, False])
    keep = ["setting", "study", "dataset", "model", "method", "runs", "failed", "n"]
    keep += [f"{c}{s}" for c in cols for s in ("", "_lo", "_hi")]
    return out[[c for c in keep if c in out]].reset_index(drop=True)


def cell_matrix(data: ReportData, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """cells x methods matrix of the metric (NaN where a method has no score in a cell)."""
    s = data.scored if runs is None else runs
    if s.empty:
        return pd.DataFrame()
    return s.pivot_table(index="cell", columns="method", values=data.metric, aggfunc="first")


def rank_table(data: ReportData) -> pd.DataFrame:
    """Mean rank of each method within cells (1 = best), overall and per setting."""
    M = cell_matrix(data)
    if M.empty:
        return pd.DataFrame(columns=["method", "mean_rank", "n_cells"])
    R = pd.DataFrame(block_ranks(M.to_numpy()), index=M.index, columns=M.columns)
    setting = data.scored.drop_duplicates("cell").set_index("cell")["setting"]
    out = pd.DataFrame({"mean_rank": R.mean(), "n_cells": R.notna().sum()})
    for s in data.settings:
        rows = setting.index[setting == s]
        if len(rows):
            out[f"rank: {s}"] = R.loc[R.index.intersection(rows)].mean()
    return out.sort_values("mean_rank", kind="stable").rename_axis("method").reset_index()


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
            r2, auc = _num(skipped, "r2"), _num(skipped, "auc")
            out = pd.concat([out, pd.DataFrame({
                "cell": (skipped["dataset"] + "/" + skipped["model"] + "/seed"
                         + skipped["seed"].astype("Int64").astype(str)).to_numpy(),
                "setting": skipped["dataset"].to_numpy(),
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
    """Failed method runs with their error, and cells that failed or never finished."""
    cols = ["cell", "method", "cell_status", "error"]
    f = data.failed[cols] if not data.failed.empty else pd.DataFrame(columns=cols)
    c = data.cells
    if not c.empty and "status" in c:
        bad = c[~c["status"].isin(["ok", "low_quality"])]
        if not bad.empty:
            label = bad["dataset"].fillna("") + "/" + bad["model"].fillna("") + "/seed" + \
                bad["seed"].astype("Int64").astype(str)
            f = pd.concat([f, pd.DataFrame({"cell": label, "method": "(whole cell)",
                                            "cell_status": bad["status"].fillna(""),
                                            "error": bad["error"].fillna("") if "error" in bad else ""})])
    return f.reset_index(drop=True)


def comparison(data: ReportData) -> Comparison:
    """Friedman + Nemenyi + Wilcoxon-Holm over the cells where every compared method scored.
    Methods without any score are left out of the comparison (named in the note)."""
    M = cell_matrix(data)
    if M.empty:
        return compare(pd.DataFrame(), ALPHA)
    return compare(M.dropna(axis=1, how="all"), ALPHA)


def leaderboard(data: ReportData) -> pd.DataFrame:
    """Methods ranked by mean rank across cells, with the mean metric and its 95% t-CI over all
    cells pooled, and mean seconds."""
    ranks = rank_table(data)[["method", "mean_rank", "n_cells"]]
    if ranks.empty:
        return pd.DataFrame(columns=["rank", "method", "mean_rank", "n_cells", data.metric])
    ci = _intervals(data.scored, ["method"], [data.metric]).drop(columns=f"{data.metric}_n")
    cost = cost_table(data)[["method", "seconds"]]
    out = ranks.merge(ci, on="method", how="left").merge(cost, on="method", how="left")
    out.insert(0, "rank", out["mean_rank"].rank(method="min").astype(int))
    return out


# ------------------------------------------------------------------------- recommendation
def condition_of(dataset: str) -> str:
    """The condition a dataset tests, from CONDITIONS (first matching pattern)."""
    for pattern, condition in CONDITIONS.items():
        if fnmatch.fnmatchcase(dataset.lower(), pattern):
            return condition
    return OTHER


def _ci_text(mean: float, lo: float, hi: float) -> str:
    if not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:.2f} (one cell, no CI)"
    return f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"


def _below(value: float, bar: float, inclusive: bool = False) -> str:
    """value with 2 decimals, or more if 2 would print it on the wrong side of bar."""
    for digits in (2, 3, 4):
        shown = round(value, digits)
        if (shown <= bar) if inclusive else (shown < bar):
            break
    return f"{value:.{digits}f}"


def _condition_line(title: str, runs: pd.DataFrame, metric: str) -> str:
    """One bullet: best methods (mean within the top method's CI), failures, random floor."""
    if runs.empty:
        return f"- **{title}**: no scored runs."
    ci = _intervals(runs, ["method"], [metric]).sort_values(metric, ascending=False, kind="stable")
    ci = ci.set_index("method")
    top = ci.iloc[0]
    cutoff = top[f"{metric}_lo"] if np.isfinite(top[f"{metric}_lo"]) else top[metric]
    best = ci[ci[metric] >= cutoff]
    n_cells = runs["cell"].nunique()
    datasets = ", ".join(sorted(runs["dataset"].unique()))
    q = runs.drop_duplicates("cell")["quality"].mean()
    qtxt = f", mean model quality {q:.2f}" if np.isfinite(q) else ""
    rule = "within the 95% CI of the top method" if np.isfinite(top[f"{metric}_lo"]) else "top mean; CI undefined"
    parts = [f"- **{title}** ({datasets}; {n_cells} cell{'s' if n_cells != 1 else ''}{qtxt}): "
             f"best by mean {metric} ({rule}): "
             + ", ".join(f"{m} {_ci_text(r[metric], r[f'{metric}_lo'], r[f'{metric}_hi'])}"
                         for m, r in best.iterrows()) + "."]
    others = ci.drop(index=[RANDOM], errors="ignore")
    fails = others[others[metric] < FAIL_BELOW]
    if len(fails):
        parts.append(f"Fail (mean {metric} < {FAIL_BELOW}): "
                     + ", ".join(f"{m} {_below(r[metric], FAIL_BELOW)}" for m, r in fails.iterrows()) + ".")
    else:
        parts.append(f"No method has mean {metric} below {FAIL_BELOW}.")
    if RANDOM in ci.index:
        rnd = ci.loc[RANDOM]
        bar = rnd[f"{metric}_hi"] if np.isfinite(rnd[f"{metric}_hi"]) else rnd[metric]
        floor = others[others[metric] <= bar]
        parts.append(f"Random floor {_ci_text(rnd[metric], rnd[f'{metric}_lo'], rnd[f'{metric}_hi'])}"
                     + (": not better than random (mean <= its upper bound): "
                        + ", ".join(f"{m} {_below(r[metric], bar, True)}" for m, r in floor.iterrows()) + "."
                        if len(floor) else "; every other method is above its upper bound."))
    return " ".join(parts)


def recommendation(data: ReportData, comp: Comparison | None = None) -> str:
    """A generated markdown summary of which methods to trust under which conditions; every
    statement is computed from the runs (rules: CONDITIONS, HIGH_QUALITY, FAIL_BELOW)."""
    m = data.metric
    s = data.scored
    lines = ["## Recommendation", "",
             f"Generated from {s['cell'].nunique()} good cells ({m}; means with 95% t-CI over cells). "
             f"'Best' = mean inside the 95% CI of the top method; 'fail' = mean {m} < {FAIL_BELOW}; "
             f"conditions group datasets by name (report.CONDITIONS).", ""]
    comp = comparison(data) if comp is None else comp
    if comp.ok:
        ranks = ", ".join(f"{k} {v:.2f}" for k, v in comp.mean_ranks.items())
        verdict = (f"the methods differ significantly (Friedman p = {comp.pvalue:.3g} < {ALPHA})"
                   if comp.pvalue < ALPHA else f"no significant difference (Friedman p = {comp.pvalue:.3g})")
        lines.append(f"- **Overall** ({comp.n_blocks} complete cells): mean ranks {ranks}; {verdict}.")
        w = comp.wilcoxon
        best = comp.mean_ranks.index[0]
        mine = w[(w["method_a"] == best) | (w["method_b"] == best)]
        other = np.where(mine["method_a"] == best, mine["method_b"], mine["method_a"])
        beats = [o for o, r in zip(other, mine.itertuples()) if r.significant and r.better == best]
        loses = [o for o, r in zip(other, mine.itertuples()) if r.significant and r.better != best]
        tied = [o for o, r in zip(other, mine.itertuples()) if not r.significant]
        lines.append(f"  {int(w['significant'].sum())} of {len(w)} pairs differ significantly (Wilcoxon "
                     f"signed-rank, Holm, alpha {ALPHA}). Best-ranked {best} is significantly better than: "
                     f"{', '.join(beats) or 'none'}; not distinguishable from: {', '.join(tied) or 'none'}"
                     + (f"; significantly worse than {', '.join(loses)}" if loses else "") + ".")
    else:
        lines.append(f"- **Overall**: no test ({comp.note}).")
    if s.empty:
        lines.append("- No good cell has a scored method run.")
    else:
        cond = s["dataset"].map(condition_of)
        names = sorted(cond.unique(), key=lambda c: (c == OTHER, c))
        for c in names:
            lines.append(_condition_line(c, s[cond == c], m))
        high = s[s["quality"] >= HIGH_QUALITY]
        weak = s[s["quality"] < HIGH_QUALITY]
        if len(high) and len(weak):
            lines.append(_condition_line(f"well-trained models (quality >= {HIGH_QUALITY})", high, m))
            lines.append(_condition_line(f"weaker models (quality < {HIGH_QUALITY})", weak, m))
    low = data.low[(data.low["status"] == "ok") & ~ceiling_mask(data.low)]
    low = low[np.isfinite(low[m])]
    if len(low):
        lines.append(_condition_line("models that failed to learn (low-quality cells, excluded above)", low, m))
    else:
        lines.append("- No scored run is in a low-quality cell.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- markdown
def markdown_table(df: pd.DataFrame, digits: int = 3, max_chars: int = 200) -> str:
    """A GitHub markdown table (floats rounded, pipes escaped, long text cut)."""
    if df.empty:
        return "_(none)_"

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else f"{v:.{digits}f}"
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        text = str(v).replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_chars else text[:max_chars - 3] + "..."

    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def _tidy_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Drop label columns that repeat the setting (one study, one model) for display."""
    out = df.drop(columns=["study"], errors="ignore")
    if "setting" in out and "dataset" in out and (out["setting"] == out["dataset"]).all():
        out = out.drop(columns=["setting", "model"] if out["model"].nunique() == 1 else ["setting"])
    return out


def _with_ci(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Replace mean/_lo/_hi column triples by one 'mean [lo, hi]' text column."""
    out = df.copy()
    for c in cols:
        if c in out:
            out[f"{c} (95% CI)"] = [_ci_text(a, b, d).replace("(one cell, no CI)", "(n=1)")
                                    for a, b, d in zip(out[c], out[f"{c}_lo"], out[f"{c}_hi"])]
            out = out.drop(columns=[c, f"{c}_lo", f"{c}_hi"])
    return out


# ------------------------------------------------------------------------------------ plots
def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def _parse_cell(text: str) -> tuple[str, str, int]:
    parts = text.split("/")
    m = re.fullmatch(r"(?:seed)?(\d+)", parts[-1]) if len(parts) == 3 else None
    if not m:
        raise ValueError(f"--cell={text!r} is invalid: expected DATASET/MODEL/SEED, e.g. linear/mlp/0")
    return parts[0], parts[1], int(m.group(1))


def _importance_cells(data: ReportData, cell: str | None) -> list[str]:
    """Cell labels to draw importance bars for: the chosen one, or the first (lowest seed,
    preferring good cells) of each setting."""
    r = data.runs
    if cell:
        ds, model, seed = _parse_cell(cell)
        hit = r[(r["dataset"] == ds) & (r["model"] == model) & (r["seed"] == seed)]
        if hit.empty:
            raise ValueError(f"--cell={cell!r} is invalid: no method runs in that cell")
        return list(dict.fromkeys(hit["cell"]))
    first = r.sort_values(["low", "seed"], kind="stable").drop_duplicates("setting")
    order = {s: i for i, s in enumerate(data.settings)}
    return list(first.assign(_o=first["setting"].map(order)).sort_values("_o")["cell"])


def make_plots(data: ReportData, out: Path, comp: Comparison, scores: pd.DataFrame,
               cell: str | None = None) -> tuple[list[Path], list[str]]:
    """Write every plot that the data allow; returns (paths, notes on plots that were skipped)."""
    from varbench import plots

    m = data.metric
    paths: list[Path] = []
    notes: list[str] = []
    styles = plots.method_styles(sorted(data.runs["method"].unique()))
    ranks = rank_table(data)
    if not scores.empty and scores[m].notna().any():
        mat = scores.pivot_table(index="method", columns="setting", values=m, aggfunc="first", dropna=False)
        mat = mat.reindex(index=[x for x in ranks["method"] if x in mat.index] +
                          [x for x in mat.index if x not in set(ranks["method"])],
                          columns=[s for s in data.settings if s in mat.columns])
        paths.append(plots.heatmap(mat, out / "heatmap.png",
                                   f"Mean {m} per method and dataset\n(good cells; rows ordered by mean rank)", m))
    else:
        notes.append("heatmap: no scored runs in good cells")
    if comp.ok:
        verdict = f"Friedman p = {comp.pvalue:.3g}" if np.isfinite(comp.pvalue) else "Friedman undefined"
        paths.append(plots.cd_diagram(comp.mean_ranks, comp.cd, comp.groups, out / "critical_difference.png",
                                      f"Critical difference diagram: Nemenyi CD (alpha={ALPHA}); {verdict}\n"
                                      f"mean rank by {m} over {comp.n_blocks} complete cells "
                                      f"({comp.n_dropped} dropped); bars join methods within CD"))
    else:
        notes.append(f"critical-difference diagram: {comp.note}")
    s = data.scored
    if not s.empty:
        ci = _intervals(s, ["method"], [m]).rename(columns={m: "mean", f"{m}_lo": "lo", f"{m}_hi": "hi"})
        ci = ci.merge(cost_table(data)[["method", "seconds"]], on="method", how="left")
        paths.append(plots.cost_scatter(ci, out / "score_vs_cost.png", m,
                                        f"Mean {m} vs cost ({s['cell'].nunique()} good cells)", styles))
    else:
        notes.append("score vs cost: no scored runs in good cells")
    allr = data.runs[(data.runs["status"] == "ok") & ~ceiling_mask(data.runs)]
    q = allr.assign(score=allr[m])[["method", "quality", "score", "low"]]
    if q.dropna(subset=["quality", "score"]).empty:
        notes.append("score vs quality: no run has both a model quality and a score")
    else:
        names = set(allr["quality_name"]) - {""}
        label = {"R2": "model quality: test R²", "AUC": "model quality: test ROC AUC"}.get(
            next(iter(names)) if len(names) == 1 else "", "model quality (test R² or ROC AUC)")
        paths.append(plots.quality_scatter(q, out / "score_vs_quality.png", m,
                                           f"{m} vs model quality (every method run)", data.quality_threshold,
                                           label, styles))
    cells = data.cells
    for c in _importance_cells(data, cell):
        rows = data.runs[(data.runs["cell"] == c)]
        key = rows.iloc[0]
        meta = cells[(cells["dataset"] == key["dataset"]) & (cells["model"] == key["model"])
                     & (cells["seed"] == key["seed"]) & (cells["study"] == key["study"])] if not cells.empty else cells
        if meta.empty or not meta.iloc[0].get("truth"):
            notes.append(f"importance bars for {c}: the cell run (with its truth) is not in the store/filter")
            continue
        truth = json.loads(meta.iloc[0]["truth"])
        names = str(meta.iloc[0].get("feature_names") or "").split(",")
        ok = rows[(rows["status"] == "ok") & (rows["importance"] != "") & ~ceiling_mask(rows)]
        ok = ok.set_index("method").reindex([x for x in ranks["method"] if x in set(ok["method"])] +
                                            sorted(set(ok["method"]) - set(ranks["method"])))
        imps = {meth: json.loads(v) for meth, v in ok["importance"].items()}
        subs = {meth: f"{m} {v:.2f}" if np.isfinite(v) else f"{m} n/a" for meth, v in ok[m].items()}
        qv = key["quality"]
        qname = {"R2": "test R²", "AUC": "test ROC AUC"}.get(key["quality_name"], "quality")
        title = (f"Importance vs truth, {c}" + (f" ({qname} {qv:.2f})" if np.isfinite(qv) else "")
                 + ("  [LOW QUALITY]" if key["low"] else ""))
        paths.append(plots.importance_bars(truth, names, imps, out / f"importance_{_safe(c)}.png", title, subs,
                                           styles))
    return paths, notes


# ---------------------------------------------------------------------------------- writing
def _csv(df: pd.DataFrame, path: Path, written: list[Path]) -> None:
    df.to_csv(path, index=False)
    written.append(path)


def _stats_md(comp: Comparison) -> str:
    if not comp.ok:
        return f"Not computed: {comp.note}."
    lines = [f"Blocks: {comp.n_blocks} cells where every compared method has a score "
             f"({comp.n_dropped} cell(s) dropped for a missing or failed method). Methods: "
             f"{', '.join(comp.methods)}.", "",
             f"- Friedman chi-square (tie-corrected, df = {len(comp.methods) - 1}): "
             f"{comp.statistic:.3f}, p = {comp.pvalue:.3g} -> "
             + ("**significant**" if comp.pvalue < ALPHA else "not significant") + f" at alpha = {ALPHA}.",
             f"- Nemenyi critical difference (alpha = {comp.alpha}): CD = {comp.cd:.3f} "
             f"(q_alpha * sqrt(k(k+1)/(6N)), k = {len(comp.methods)}, N = {comp.n_blocks}). Groups not "
             "significantly different: "
             + ("; ".join("{" + ", ".join(g) + "}" for g in comp.groups) if comp.groups else "none") + ".",
             "", "Nemenyi pairs (mean-rank difference > CD is significant):", "",
             markdown_table(comp.nemenyi), "",
             "Wilcoxon signed-rank (two-sided, zero differences dropped), Holm-corrected over all pairs:", "",
             markdown_table(comp.wilcoxon.assign(p=comp.wilcoxon["p"].map(lambda v: f"{v:.3g}"),
                                                 p_holm=comp.wilcoxon["p_holm"].map(lambda v: f"{v:.3g}")))]
    return "\n".join(lines)


def write_report(data: ReportData, out: Path, source: str, cell: str | None = None,
                 plots: bool = True) -> tuple[list[Path], Comparison, list[str]]:
    """Write all tables (CSV + report.md), recommendation.md and the plots into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    m = data.metric
    written: list[Path] = []
    scores, ranks, cost = score_table(data), rank_table(data), cost_table(data)
    low, ceil, failed = low_quality_table(data), ceiling_table(data), failed_table(data)
    comp = comparison(data)
    board = leaderboard(data)
    for name, df in (("runs", data.runs.drop(columns=["_o"], errors="ignore")), ("scores", scores),
                     ("ranks", ranks), ("cost", cost), ("low_quality", low), ("oracle", ceil),
                     ("failed", failed), ("leaderboard", board), ("nemenyi", comp.nemenyi),
                     ("wilcoxon", comp.wilcoxon)):
        _csv(df, out / f"{name}.csv", written)
    friedman = pd.DataFrame([{"n_blocks": comp.n_blocks, "n_dropped": comp.n_dropped, "k": len(comp.methods),
                              "statistic": comp.statistic, "p": comp.pvalue, "cd": comp.cd, "alpha": comp.alpha,
                              "note": comp.note}])
    _csv(friedman, out / "friedman.csv", written)
    rec = recommendation(data, comp)
    (out / "recommendation.md").write_text(rec)
    written.append(out / "recommendation.md")
    figs, notes = make_plots(data, out, comp, scores, cell) if plots else ([], [])
    heads = _headline(m)
    n_good = data.ranked["cell"].nunique()
    md = [
        "# varbench report", "",
        f"Source: {source}. Metric for ranks and statistics: **{m}** (higher is better).",
        f"{len(data.runs)} method runs in {data.runs['cell'].nunique()} cells: {n_good} good, "
        f"{data.low['cell'].nunique()} low-quality (reported separately, not averaged in"
        + (f"; plus {len(low) - data.low['cell'].nunique()} low-quality cell(s) whose methods were skipped"
           if len(low) > data.low["cell"].nunique() else "") + ")"
        + (f"; {data.n_duplicates} older duplicate run(s) ignored" if data.n_duplicates else "") + ".",
        "Intervals are two-sided 95% Student t intervals over cells (seeds): mean ± t(0.975, n-1)·s/√n "
        "(not clipped to the metric's range). "
        "Ceilings (" + (", ".join(sorted(set(data.runs.loc[ceiling_mask(data.runs), "method"]))) or "none") + ") are " + ("included" if data.include_oracle else "excluded")
        + " from ranks and statistics.", "",
        rec, "## Mean rank within cells (1 = best; ties averaged)", "", markdown_table(ranks, 2), "",
        "## Scores per dataset (good cells)", "",
        markdown_table(_with_ci(_tidy_labels(scores), heads)), "",
        "## Statistics", "", _stats_md(comp), "",
        "## Cost (good cells, successful runs)", "", markdown_table(cost), "",
        "## Ceiling (oracle; not ranked)", "", markdown_table(ceil), "",
        "## Low-quality cells (not averaged in)", "", markdown_table(low), "",
        "## Failed runs", "", markdown_table(failed), "",
        "## Plots", "",
    ]
    md += [f"![{p.stem}]({p.name})" for p in figs] + [f"- skipped {n}" for n in notes]
    (out / "report.md").write_text("\n".join(md) + "\n")
    written.append(out / "report.md")
    return written + figs, comp, notes


def leaderboard_markdown(data: ReportData, source: str) -> str:
    board = leaderboard(data)
    m = data.metric
    shown = _with_ci(board, [m]) if not board.empty else board
    shown = shown[[c for c in shown.columns if c != "seconds"] + (["seconds"] if "seconds" in shown else [])]
    return "\n".join([
        "# varbench leaderboard", "",
        f"Source: {source}. Methods ranked by mean rank of {m} within cells (1 = best) over "
        f"{data.scored['cell'].nunique()} good cells; {m} is the mean with a 95% t-CI over all those cells "
        f"(pooled across datasets); low-quality cells ({data.low['cell'].nunique()}) and ceilings excluded.", "",
        markdown_table(shown, 3), ""])


def _log_to_mlflow(uri: str, experiment: str, paths: Sequence[Path], tags: dict[str, str]) -> str:
    from varbench.tracking import Tracker

    tracker = Tracker(uri, experiment)
    run = tracker.start_run(f"report:{tags.get('report', '')}", {"kind": "report", **tags})
    try:
        for p in paths:
            tracker.log_file(run, str(p), "report")
    except Exception:
        tracker.end_run(run, "FAILED")
        raise
    tracker.end_run(run, "FINISHED")
    return run


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="varbench report", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", default="sqlite:///mlflow.db", help="MLflow tracking URI")
    p.add_argument("--experiment", default="varbench")
    p.add_argument("--study", help="only runs with this study tag (--leaderboard: default 'standard')")
    p.add_argument("--dataset")
    p.add_argument("--model")
    p.add_argument("--sweep", help="only runs of this sweep (its output dir)")
    p.add_argument("--out", default="outputs/report", help="output directory for tables and plots")
    p.add_argument("--quality-threshold", type=float, default=None,
                   help="also treat cells whose test R2 / ROC AUC is below this as low quality "
                        "(cells tagged cell_status=low_quality always are)")
    p.add_argument("--metric", default="spearman", choices=METRICS, help="metric for ranks and statistics")
    p.add_argument("--leaderboard", action="store_true",
                   help="only the leaderboard of the standard study (mean rank across cells)")
    p.add_argument("--cell", help="draw importance bars for this cell only (DATASET/MODEL/SEED)")
    p.add_argument("--include-oracle", action="store_true", help="rank the oracle like any method")
    p.add_argument("--no-plots", action="store_true", help="tables and statistics only")
    p.add_argument("--no-mlflow-log", action="store_true", help="do not log the report as an MLflow run")
    return p


INTERACTION_METRICS = ("pair_auroc", "pair_ap", "r_precision")


def interaction_report(runs: pd.DataFrame, cells: pd.DataFrame, out: Path, plots: bool = True) -> list[Path]:
    """The interaction track's part of the report: per dataset x method mean pairwise AUROC,
    average precision and R-precision with 95% t intervals over seeds (interactions.csv/.md), a
    heatmap of mean pairwise AUROC, and, for the first cell of each dataset, the true interaction
    matrix beside every method's. Returns the files written ([] if there are no such runs)."""
    if runs.empty:
        return []
    from varbench import plots as P

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    ok = runs[runs["status"] == "ok"].copy()
    for c in INTERACTION_METRICS:
        ok[c] = _num(ok, c) if c in ok else float("nan")
    table = _intervals(ok, ["dataset", "method"], INTERACTION_METRICS) if not ok.empty else pd.DataFrame()
    if not table.empty:
        table = table.rename(columns={"pair_auroc_n": "n"}).drop(
            columns=[f"{c}_n" for c in INTERACTION_METRICS[1:]])
    _csv(table, out / "interactions.csv", written)
    failed = runs[runs["status"] != "ok"][["dataset", "seed", "method", "error"]]
    md = ["# Interaction track", "",
          "Pairwise interaction detection against the known interacting pairs: ROC AUC and average "
          "precision of true pairs vs the rest, R-precision (precision at the number of true pairs); "
          "mean with a 95% t interval over seeds.", "",
          markdown_table(_with_ci(table, list(INTERACTION_METRICS))) if not table.empty else "(no successful runs)",
          "", "## Failed interaction runs", "", markdown_table(failed), ""]
    if plots and not table.empty:
        matrix = table.pivot(index="method", columns="dataset", values="pair_auroc")
        matrix = matrix.loc[matrix.mean(axis=1).sort_values(ascending=False).index]
        written.append(P.heatmap(matrix, out / "interactions_heatmap.png",
                                 "Interaction track: mean pairwise ROC AUC (true pairs vs the rest)", "pair_auroc"))
        for dataset, g in ok.groupby("dataset", sort=True):
            first = g.sort_values(["seed", "model"]).iloc[0]
            cell = cells[cells["run_id"] == first["parent_run_id"]] if not cells.empty else cells
            if cell.empty or not isinstance(cell["truth_interactions"].iloc[0], str):
                continue
            same = g[g["parent_run_id"] == first["parent_run_id"]]
            mats = {r["method"]: np.array(json.loads(r["interactions"])) for _, r in same.iterrows()
                    if isinstance(r.get("interactions"), str)}
            if mats:
                sub = {r["method"]: f"AUC {float(r['pair_auroc']):.2f}" for _, r in same.iterrows()
                       if r["method"] in mats and math.isfinite(float(r["pair_auroc"]))}
                name = f"interactions_{_safe(dataset)}_{_safe(str(first['model']))}_seed{int(first['seed'])}.png"
                written.append(P.interaction_panels(np.array(json.loads(cell["truth_interactions"].iloc[0])), mats,
                                                    out / name, f"Interactions vs truth, {dataset}/{first['model']}"
                                                    f"/seed{int(first['seed'])}", sub))
        md += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in written if p.suffix == ".png"]
    (out / "interactions.md").write_text("\n".join(md) + "\n")
    written.append(out / "interactions.md")
    return written


def main(argv: list[str] | None = None) -> int:
    """CLI entry (`varbench report ...`): 0 on success, 1 if there is nothing to report or
    logging failed, 2 for invalid arguments."""
    args = _parser().parse_args(argv)
    from varbench.tracking import fetch_cells, fetch_table

    study = args.study or ("standard" if args.leaderboard else None)
    try:
        flt = build_filter(args.dataset, args.model, args.sweep, study)
        if args.cell:
            _parse_cell(args.cell)
        if args.quality_threshold is not None and not math.isfinite(args.quality_threshold):
            raise ValueError(f"--quality-threshold={args.quality_threshold!r} is invalid: expected a finite number")
    except ValueError as exc:
        print(f"varbench report: {exc}", file=sys.stderr)
        return 2
    runs = fetch_table(args.uri, args.experiment, flt)
    inter = fetch_table(args.uri, args.experiment, flt, kind="interaction")
    source = f"{args.uri}, experiment '{args.experiment}'" + (f", filter `{flt}`" if flt else "")
    if runs.empty and inter.empty:
        print(f"no method runs in experiment {args.experiment!r} at {args.uri}" + (f" matching {flt}" if flt else ""))
        return 1
    cells = fetch_cells(args.uri, args.experiment, flt)
    out = Path(args.out)
    if runs.empty:  # only the interaction track was run
        written = interaction_report(inter, cells, out, plots=not args.no_plots)
        print((out / "interactions.md").read_text())
        print(f"\nwrote {len(written)} files to {out}/")
        return 0
    try:
        data = prepare(runs, cells, args.metric, args.quality_threshold, args.include_oracle)
    except ValueError as exc:
        print(f"varbench report: {exc}", file=sys.stderr)
        return 2
    try:
        if args.cell:
            _importance_cells(data, args.cell)
    except ValueError as exc:
        print(f"varbench report: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.leaderboard:
        text = leaderboard_markdown(data, source)
        written = [out / "leaderboard.md", out / "leaderboard.csv"]
        written[0].write_text(text)
        leaderboard(data).to_csv(written[1], index=False)
        print(text)
        comp = None
    else:
        written, comp, notes = write_report(data, out, source, args.cell, plots=not args.no_plots)
        written += interaction_report(inter, cells, out, plots=not args.no_plots)
        if not inter.empty:
            print(f"interaction track: {len(inter)} runs, see {out / 'interactions.md'}")
        table = summarize(pd.concat([data.ranked, data.ceilings]).drop_duplicates("run_id"))
        print(format_summary(table, f"{len(data.runs)} method runs in {data.runs['cell'].nunique()} cells "
                                    f"({source}); good cells only, ranked by mean spearman"))
        n_low = len(low_quality_table(data))
        if n_low:
            print(f"{n_low} low-quality cell(s) reported separately (low_quality.csv), not averaged in")
        if comp.ok:
            print(f"Friedman over {comp.n_blocks} complete cells ({comp.n_dropped} dropped): p = {comp.pvalue:.3g}; "
                  f"Nemenyi CD = {comp.cd:.2f}; significant Wilcoxon-Holm pairs: "
                  f"{int(comp.wilcoxon['significant'].sum())} of {len(comp.wilcoxon)}")
        else:
            print(f"statistics skipped: {comp.note}")
        for n in notes:
            print(f"plot skipped: {n}")
    print(f"\nwrote {len(written)} files to {out}/ (" + ", ".join(p.name for p in written[:6])
          + (", ..." if len(written) > 6 else "") + ")")
    if not args.no_mlflow_log:
        try:
            run = _log_to_mlflow(args.uri, args.experiment, written,
                                 {"report": "leaderboard" if args.leaderboard else "full", "filter": flt,
                                  "metric": args.metric, "study": study or ""})
        except Exception as exc:  # noqa: BLE001 - files are written; say that logging failed
            print(f"varbench report: logging the report to MLflow failed: {exc}", file=sys.stderr)
            return 1
        print(f"logged as MLflow run {run} (kind=report) in experiment {args.experiment!r}")
    return 0
