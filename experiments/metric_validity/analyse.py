"""Metric validity: do truth-free metrics rank methods as the truth does? (issue 23, item 2)

Reads the runs of `varbench report` (runs.csv) and writes to --out:
- tau_cells.csv: per good cell, truth-free metric and reference, Kendall tau-b between the method
  ranking by the metric (sign-adjusted: higher = better) and by the reference, over the methods
  that logged both (at least MIN_METHODS);
- validity.csv / validity.md: per family x metric x reference, the mean tau over datasets (the
  units: a dataset's tau is the mean over its seeds) with a 95% t interval over datasets;
- validated.csv: per metric, tau vs the data truth over all datasets, its interval, the smallest
  family mean (NaN when a family has no tau), and `validated` = every family has a tau, and both the
  smallest family mean and the lower end of the all-dataset interval are >= THRESHOLD (0.5);
- decoys.csv: on the datasets with decoy pairs (decoy and correlation families), Kendall tau
  between each metric and -decoy_share (negative: the metric rewards methods that credit decoys,
  i.e. correlated inputs fool it);
- cost.csv (and cost_by_method.csv, per judged method): per metric family, the median of its
  seconds and model evaluations, and of their ratio to the judged method's own (measured on a
  loaded, shared machine: relative figures).

`--constant FILE` also writes varbench/truth_free/validated.py from validated.csv (the one place
the validated metric names live; tests check it matches the committed results).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from varbench.outdir import FORCE_HELP, OutDir
from varbench.scoring import METRIC_INFO, metrics_of_kind
from varbench.truth_free.evaluate import FAMILIES

FAMILY_OF = {"linear": "standard", "friedman1": "standard", "additive": "standard", "ishigami": "standard",
             "interaction": "standard", "correlated": "correlation", "xai_bench_r50": "correlation",
             "xai_bench_r99": "correlation", "decoys_r90": "decoys", "decoys_r99": "decoys",
             "decoys_noisy_r90": "decoys"}
REFERENCES = {"spearman": "data truth", "model_spearman": "model truth (Sobol total of the trained network)",
              "estimand_spearman": "estimand truth (each method's own estimand, where the dataset states it)"}
FAMILIES_STUDIED = ("standard", "correlation", "decoys")
MIN_METHODS = 4
THRESHOLD = 0.5  # validated: tau vs the data truth at least this (interval over datasets, every family mean)
ROOT = Path(__file__).resolve().parents[2]
CONSTANT = ROOT / "varbench" / "truth_free" / "validated.py"


def kendall(a: pd.Series, b: pd.Series) -> float:
    """Kendall tau-b of two aligned series over the rows where both are finite (NaN if too few)."""
    ok = np.isfinite(a.to_numpy(float)) & np.isfinite(b.to_numpy(float))
    if ok.sum() < MIN_METHODS or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(stats.kendalltau(a[ok], b[ok], variant="b").statistic)


def cell_taus(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per good cell x metric x reference (see the module note)."""
    rows = []
    good = runs[(runs["status"] == "ok") & (runs["cell_status"] == "ok")]
    for (dataset, seed), cell in good.groupby(["dataset", "seed"]):
        cell = cell.groupby("method").mean(numeric_only=True)
        for m in metrics_of_kind("truth_free"):
            if m not in cell or cell[m].notna().sum() < MIN_METHODS:
                continue
            score = cell[m] * (1 if METRIC_INFO[m].higher_is_better else -1)
            for ref in REFERENCES:
                if ref in cell:
                    rows.append({"family": FAMILY_OF.get(dataset, "other"), "dataset": dataset, "seed": seed,
                                 "metric": m, "reference": ref, "tau": kendall(score, cell[ref]),
                                 "methods": int((score.notna() & cell[ref].notna()).sum())})
            if "decoy_share" in cell and cell["decoy_share"].notna().any():
                rows.append({"family": FAMILY_OF.get(dataset, "other"), "dataset": dataset, "seed": seed,
                             "metric": m, "reference": "-decoy_share", "tau": kendall(score, -cell["decoy_share"]),
                             "methods": int((score.notna() & cell["decoy_share"].notna()).sum())})
    return pd.DataFrame(rows)


def t_interval(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of a 95% t interval (low = high = NaN with fewer than 2 values)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    if v.size < 2:
        return float(v.mean()), float("nan"), float("nan")
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def by_family(taus: pd.DataFrame) -> pd.DataFrame:
    """Mean tau per family (and 'all') x metric x reference, datasets as units."""
    per_dataset = taus.groupby(["family", "dataset", "metric", "reference"], as_index=False).agg(
        tau=("tau", "mean"), cells=("tau", lambda s: int(s.notna().sum())))
    out = []
    for fam in [*sorted(per_dataset["family"].unique()), "all"]:
        part = per_dataset if fam == "all" else per_dataset[per_dataset["family"] == fam]
        for (m, ref), g in part.groupby(["metric", "reference"]):
            mean, lo, hi = t_interval(g["tau"].to_numpy(float))
            out.append({"family": fam, "metric": m, "reference": ref, "tau": mean, "ci_low": lo, "ci_high": hi,
                        "datasets": int(g["tau"].notna().sum()), "cells": int(g["cells"].sum())})
    return pd.DataFrame(out)


def validated(table: pd.DataFrame) -> pd.DataFrame:
    """Per metric vs the data truth: all-dataset tau and interval, smallest family mean, verdict
    (`validated`: every family has a tau, the smallest family mean is at least THRESHOLD and so is
    the lower end of the all-dataset interval)."""
    t = table[table["reference"] == "spearman"]
    rows = []
    for m, g in t.groupby("metric"):
        overall = g[g["family"] == "all"].iloc[0]
        fams = g[g["family"] != "all"].set_index("family")["tau"].reindex(FAMILIES_STUDIED)
        fam_min = float(fams.min()) if fams.notna().all() else float("nan")
        ok = bool(overall["ci_low"] >= THRESHOLD and fam_min >= THRESHOLD)
        rows.append({"metric": m, "tau_all": overall["tau"], "ci_low": overall["ci_low"],
                     "ci_high": overall["ci_high"], "datasets": overall["datasets"],
                     "min_family_tau": fam_min, "validated": ok})
    return pd.DataFrame(rows).sort_values("tau_all", ascending=False, ignore_index=True)


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per metric family: medians of its cost and of its ratio to the judged method's own cost."""
    ok = runs[runs["status"] == "ok"]
    rows = []
    for fam, names in FAMILIES.items():
        sec, ev = f"cost_{fam}_seconds", f"cost_{fam}_evals"
        if sec not in ok or ok[sec].notna().sum() == 0:
            continue
        r = ok[ok[sec].notna()]
        evals_ratio = r[ev] / r["n_model_evals"].where(r["n_model_evals"] > 0)
        rows.append({"family": fam, "metrics": " ".join(names), "runs": len(r),
                     "median_seconds": r[sec].median(), "median_method_seconds": r["seconds"].median(),
                     "median_seconds_ratio": (r[sec] / r["seconds"].where(r["seconds"] > 0)).median(),
                     "median_evals": r[ev].median(), "median_method_evals": r["n_model_evals"].median(),
                     "median_evals_ratio": evals_ratio.median()})
    return pd.DataFrame(rows)


def cost_by_method(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method x metric family: median seconds of the family and of the method, and their ratio."""
    ok = runs[runs["status"] == "ok"]
    rows = []
    for fam in FAMILIES:
        sec = f"cost_{fam}_seconds"
        if sec not in ok:
            continue
        for method, g in ok[ok[sec].notna()].groupby("method"):
            rows.append({"method": method, "family": fam, "median_seconds": g[sec].median(),
                         "median_method_seconds": g["seconds"].median(),
                         "median_ratio": (g[sec] / g["seconds"].where(g["seconds"] > 0)).median()})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, verdict: pd.DataFrame) -> str:
    """The README table: metric -> agreement with the truth (tau [95% interval]) per family."""
    def cell(r: pd.Series) -> str:
        if not np.isfinite(r["tau"]):
            return "n/a"
        ci = "" if not np.isfinite(r["ci_low"]) else f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
        return f"{r['tau']:.2f}{ci}"

    lines = []
    fams = ["standard", "correlation", "decoys", "all"]
    for ref, what in REFERENCES.items():
        t = table[table["reference"] == ref]
        lines += [f"### Kendall tau with the ranking by the {what} (`{ref}`)", "",
                  "| metric | " + " | ".join(fams) + " |", "|---|" + "---|" * len(fams)]
        for m in metrics_of_kind("truth_free"):
            g = t[t["metric"] == m].set_index("family")
            if g.empty:
                continue
            lines.append(f"| {m} | " + " | ".join(cell(g.loc[f]) if f in g.index else "n/a" for f in fams) + " |")
        lines.append("")
    lines += [f"### Verdict (vs the data truth: lower end of the interval over all datasets and every family mean "
              f">= {THRESHOLD}, every family measured)", "",
              "| metric | tau (all) | 95% interval | smallest family mean | validated |", "|---|---|---|---|---|"]
    for _, r in verdict.iterrows():
        lines.append(f"| {r['metric']} | {r['tau_all']:.2f} | [{r['ci_low']:.2f}, {r['ci_high']:.2f}] | "
                     f"{r['min_family_tau']:.2f} | {'yes' if r['validated'] else 'no'} |")
    return "\n".join(lines) + "\n"


def study_size(taus: pd.DataFrame) -> str:
    """The size of the study behind the verdict, as the advise report states it, from tau_cells.csv."""
    unmeasured = sorted(set(metrics_of_kind("truth_free")) - set(taus["metric"]))
    but = f"every truth-free metric but {', '.join(unmeasured)}" if unmeasured else "every truth-free metric"
    return (f"validated in a reduced study ({taus['dataset'].nunique()} datasets of {taus['family'].nunique()} "
            f"families x {taus['seed'].nunique()} seeds, {int(taus['methods'].max())} methods, {but}; "
            "`experiments/metric_validity/README.md`)")


def write_constant(verdict_csv: Path, path: Path = CONSTANT) -> list[str]:
    """varbench/truth_free/validated.py from validated.csv (and tau_cells.csv beside it): the
    validated names, best first, and the size of the study behind them."""
    v = pd.read_csv(verdict_csv)
    names = [str(m) for m in v.loc[v["validated"].astype(bool), "metric"]]
    study = study_size(pd.read_csv(Path(verdict_csv).with_name("tau_cells.csv")))
    path.write_text(
        '"""The truth-free metrics the validity study found to agree with the truth (best first).\n\n'
        "GENERATED from the committed study results by\n"
        "`python experiments/metric_validity/analyse.py --constant results/metric_validity/validated.csv`;\n"
        "do not edit. Rule: every family measured, and both the lower end of the 95% interval of Kendall\n"
        f"tau vs the data truth over all datasets and the smallest family mean >= {THRESHOLD}.\n"
        'tests/test_truth_free_validated.py checks it against that file.\n"""\n\n'
        f"VALIDATED: tuple[str, ...] = {tuple(names)!r}\n"
        f"STUDY: str = {study!r}\n")
    return names


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, help="runs.csv of `varbench report`")
    p.add_argument("--out", type=Path, help="folder for the tables")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--constant", type=Path, help="write varbench/truth_free/validated.py from this validated.csv")
    a = p.parse_args()
    if a.runs is not None:
        runs = pd.read_csv(a.runs, low_memory=False)
        taus = cell_taus(runs)
        table = by_family(taus[taus["reference"] != "-decoy_share"])
        verdict = validated(table)
        od = OutDir(a.out, "metric_validity/analyse.py", a.force)
        for name, df in (("tau_cells.csv", taus), ("validity.csv", table), ("validated.csv", verdict),
                         ("decoys.csv", by_family(taus[taus["reference"] == "-decoy_share"])),
                         ("cost.csv", cost_table(runs)), ("cost_by_method.csv", cost_by_method(runs))):
            od.write_csv(name, df)
        text = markdown(table, verdict)
        od.write_text("validity.md", text)
        od.finish()
        print(text)
    if a.constant is not None:
        print("validated:", write_constant(a.constant))


if __name__ == "__main__":
    main()
