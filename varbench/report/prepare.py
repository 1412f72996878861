"""Runs -> one tidy long table that every table, plot, study view and track of the report reads.

Rules (also written into report.md):
- A cell is (study, dataset, model, seed). If a (cell, method) was run more than once, the newest
  run is kept (a re-run replaces the earlier one, whatever its status).
- Cells whose model failed to learn (tag cell_status=low_quality, or test R^2 / ROC AUC below the
  quality threshold) are flagged `low`: reported separately and never averaged in.
- A "setting" is a dataset, with its model (and study) when the runs hold several, so a
  comparison never mixes models.
- Roles come from each run's `role` tag (the method's metadata, varbench.registry): ceilings (the
  oracle) are shown apart from ranks and statistics; floors (random) are ranked and mark "no
  better than chance".
- The truth travels in the table: each run carries its cell's `truth`, `feature_names` and
  `truth_interactions` (JSON, as the cell logged them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from varbench.registry import role_of  # the one role lookup; importable from varbench.report too
from varbench.report.metrics import Metric, metric as metric_spec
from varbench.scoring import irrelevant_share as share

CELL_KEY = ["study", "dataset", "model", "seed"]
TRUTH_COLUMNS = ("truth", "feature_names", "truth_interactions", "truth_definition")
HEADLINE = ("spearman", "topk_recall")          # the main track's table metrics (plus --metric)
INTERACTION_HEADLINE = ("pair_auroc", "pair_ap", "r_precision")
TEXT_COLUMNS = ("study", "dataset", "model", "method", "status", "cell_status", "error", "task", "importance")
DERIVED = ("quality", "quality_name", "low", "low_reason", "cell", "setting")


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


def filter_label(dataset: str | None = None, model: str | None = None, sweep: str | None = None,
                 study: str | None = None) -> str:
    """A short name of a filter ('study=standard,dataset=linear'; '' when unfiltered)."""
    return ",".join(f"{k}={v}" for k, v in (("study", study), ("dataset", dataset), ("model", model),
                                             ("sweep", sweep)) if v)


@dataclass
class ReportData:
    """The runs of one track, deduplicated and labelled (see the module docstring).

    runs: one row per (cell, method) with the extra columns cell, setting, role, quality,
    quality_name, low (bool), low_reason and the cell's truth columns. cells: the cell runs.
    """

    runs: pd.DataFrame
    cells: pd.DataFrame
    metric: str
    quality_threshold: float | None = None
    include_oracle: bool = False
    n_duplicates: int = 0
    headline: tuple[str, ...] = HEADLINE
    track: str = "main"
    extra: dict = field(default_factory=dict)

    @property
    def spec(self) -> Metric:
        return metric_spec(self.metric)

    def _ceiling(self) -> pd.Series:
        return (self.runs["role"] == "ceiling") & (not self.include_oracle)

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
    def ok(self) -> pd.DataFrame:
        """`ranked` runs that succeeded (what study views average)."""
        r = self.ranked
        return r[r["status"] == "ok"]

    @property
    def low(self) -> pd.DataFrame:
        """Runs in cells whose model failed to learn (reported separately)."""
        return self.runs[self.runs["low"]]

    @property
    def ceilings(self) -> pd.DataFrame:
        """Ceiling (oracle) runs in good cells."""
        return self.runs[~self.runs["low"] & (self.runs["role"] == "ceiling")]

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "ok"]

    @property
    def settings(self) -> list[str]:
        return list(dict.fromkeys(self.runs.sort_values(["dataset", "model", "study"])["setting"]))

    def metric_columns(self) -> list[str]:
        """The headline metrics, --metric first, that the runs have."""
        return [c for c in dict.fromkeys((self.metric,) + tuple(self.headline)) if c in self.runs]


def numeric(df: pd.DataFrame, col: str) -> pd.Series:
    """A column as floats (NaN where absent or not a number)."""
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, index=df.index)


def _cell_labels(df: pd.DataFrame, many_studies: bool) -> pd.Series:
    pre = df["study"] + ":" if many_studies else ""
    return pre + df["dataset"] + "/" + df["model"] + "/seed" + df["seed"].astype("Int64").astype(str)


def _attach_truth(df: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Copy each run's cell truth columns onto it (by parent run id, else by the cell key)."""
    cols = [c for c in TRUTH_COLUMNS if c in cells]
    if cells.empty or not cols:
        return df
    df = df.drop(columns=[c for c in cols if c in df])
    if "parent_run_id" in df and "run_id" in cells and df["parent_run_id"].isin(cells["run_id"]).any():
        t = cells[["run_id"] + cols].rename(columns={"run_id": "parent_run_id"}).drop_duplicates("parent_run_id")
        return df.merge(t, on="parent_run_id", how="left")
    t = cells[CELL_KEY + cols].drop_duplicates(CELL_KEY, keep="last")
    return df.merge(t, on=CELL_KEY, how="left")


def prepare(runs: pd.DataFrame, cells: pd.DataFrame | None, metric: str = "spearman",
            quality_threshold: float | None = None, include_oracle: bool = False,
            headline: tuple[str, ...] = HEADLINE, track: str = "main") -> ReportData:
    """Deduplicate, label cells/settings/roles, attach model quality and the cell's truth, and flag
    low-quality cells. Works for every track (method runs, interaction runs)."""
    metric_spec(metric)
    if quality_threshold is not None and not np.isfinite(quality_threshold):
        raise ValueError(f"--quality-threshold={quality_threshold!r} is invalid: expected a finite number")
    if runs.empty:
        raise ValueError("no method runs to report")
    df = runs.drop(columns=[c for c in DERIVED if c in runs]).copy()
    for col in TEXT_COLUMNS:
        fill = "-" if col == "study" else ""
        df[col] = df[col].fillna(fill) if col in df else fill
    for col in set(headline + (metric, "seconds", "n_model_evals", "quality_r2", "quality_auc")):
        df[col] = numeric(df, col)
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
    df["low"] = (flagged | below).astype(bool)
    df["low_reason"] = np.where(
        flagged, "cell_status=low_quality",
        np.where(df["low"], [f"{n}={q:.3f} < {quality_threshold}" if np.isfinite(q) else "quality unknown"
                             for n, q in zip(df["quality_name"], df["quality"])], ""))
    many_studies = df["study"].nunique() > 1
    df["cell"] = _cell_labels(df, many_studies)
    pre = df["study"] + ":" if many_studies else ""
    df["setting"] = pre + df["dataset"] + ((" / " + df["model"]) if df["model"].nunique() > 1 else "")
    tags = df["role"] if "role" in df else pd.Series(None, index=df.index, dtype=object)
    df["role"] = [role_of(m, t if isinstance(t, str) else None) for m, t in zip(df["method"], tags)]  # NaN: no tag
    cells = pd.DataFrame() if cells is None else cells.copy()
    if not cells.empty:
        cells["study"] = cells["study"].fillna("-") if "study" in cells else "-"
        cells = cells.sort_values("start_time", kind="stable").drop_duplicates(CELL_KEY, keep="last")
        df = _attach_truth(df, cells)
    df = add_truth_metrics(df)
    return ReportData(df.reset_index(drop=True), cells.reset_index(drop=True), metric, quality_threshold,
                      include_oracle, n_dup, tuple(headline), track)


def irrelevant_share(importance: np.ndarray, truth: np.ndarray) -> float:
    """Share of sum |importance| that falls on features whose true importance is 0 (NaN if the
    method gave every feature 0): `varbench.scoring.irrelevant_share`, the metric the runner logs."""
    return share(importance, np.asarray(truth) > 0)


def add_truth_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """Metrics computed from the truth the table carries, for runs that did not log them:
    irrelevant_share (share of |importance| on features with truth 0)."""
    if "truth" not in df or "importance" not in df:
        return df
    import json

    logged = numeric(df, "irrelevant_share")
    values = []
    for imp, truth, have in zip(df["importance"], df["truth"], logged):
        ok = isinstance(imp, str) and imp and isinstance(truth, str) and truth
        t = np.asarray(json.loads(truth), dtype=float) if ok else None
        i = np.asarray(json.loads(imp), dtype=float) if ok else None
        values.append(have if np.isfinite(have) else
                      irrelevant_share(i, t) if ok and i.shape == t.shape else float("nan"))
    return df.assign(irrelevant_share=values)


def read_runs(path: str | Path, metric: str = "spearman", study: str | None = None) -> ReportData:
    """A `varbench report` runs.csv read back through the same preparation (for study views)."""
    df = pd.read_csv(path)
    if study is not None:
        df = df[df["study"] == study]
    data = prepare(df, None, metric)
    if "low" in df and "run_id" in df:      # a cell the report flagged (e.g. by --quality-threshold) stays flagged
        was_low = dict(zip(df["run_id"], df["low"].astype(str).str.lower() == "true"))
        data.runs["low"] = data.runs["low"] | data.runs["run_id"].map(was_low).fillna(False).astype(bool)
    return data


def truth_of(row: pd.Series) -> np.ndarray:
    """The truth vector a run carries (from its cell); a clear error if the table has none."""
    import json

    value = row.get("truth")
    if not isinstance(value, str) or not value:
        raise ValueError(f"run {row.get('cell', '?')}/{row.get('method', '?')} has no truth: the table was "
                         "written without its cells (re-run `varbench report` on the store)")
    return np.asarray(json.loads(value), dtype=float)
