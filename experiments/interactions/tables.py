"""The interaction study's own tables (`results/interactions/tables.md`), read from the study's
MLflow store: pairwise ROC AUC, average precision and R-precision per Tsang function x method
(mean ± sd over seeds) for each model, the controls, a scale-free strength of the largest pair,
and the cost. The generic interaction report (CI tables, heatmap, matrices) is `varbench report`'s.

    python experiments/interactions/tables.py --uri sqlite:///outputs/studies/interactions/mlflow.db \
        --out results/interactions
(`experiments/interactions/run.sh` runs the sweep, the report and this script.)
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd

from varbench.outdir import FORCE_HELP, OutDir

FUNCTIONS = [f"tsang_f{i}" for i in range(1, 11)]
CONTROLS = ("inter_product", "inter_ishigami", "inter_additive")
MODELS = {"mlp": "Default MLP (conf/model/mlp.yaml: 64-64 ReLU, no regularisation)",
          "mlp_nid": "NID reference MLP (conf/model/mlp_nid.yaml: 256-128-64 ReLU, L1 1e-4 on every kernel)"}
METHODS = ["inter_nid", "inter_h_stat", "inter_shapley", "inter_hessian", "inter_sobol2", "inter_random",
           "inter_oracle"]
METRICS = [("pair_auroc", "Pairwise ROC AUC"), ("pair_ap", "Pairwise average precision"),
           ("r_precision", "R-precision (precision at the number of true pairs)")]


def load_runs(uri: str, experiment: str = "varbench", study: str = "interactions") -> pd.DataFrame:
    """One row per interaction-method run of the study (newest per cell and method: the report
    layer's preparation, varbench.report.prepare), with its cell's R² and output sd."""
    from varbench.report.prepare import INTERACTION_HEADLINE, prepare
    from varbench.tracking import fetch_cells, fetch_table

    flt = f"tags.study = '{study}'"
    runs = fetch_table(uri, experiment, flt, kind="interaction")
    cells = fetch_cells(uri, experiment, flt)
    if runs.empty:
        raise SystemExit(f"no interaction runs of study {study!r} in {uri}")
    runs = prepare(runs, cells, "pair_auroc", headline=INTERACTION_HEADLINE, track="interactions").runs
    keep = [c for c in ("r2", "output_sd") if c in cells]
    cells = cells[["run_id", *keep]].rename(columns={"run_id": "parent_run_id"})
    return runs.merge(cells, on="parent_run_id", how="left")


def _mean_sd(s: pd.Series) -> str:
    s = pd.to_numeric(s, errors="coerce").dropna()
    if s.empty:
        return "n/a"
    return f"{s.mean():.3f}" if len(s) == 1 else f"{s.mean():.3f} ± {s.std(ddof=1):.3f}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _metric_table(ok: pd.DataFrame, metric: str, order: list[str]) -> list[str]:
    lines = [_row(["function", "R² (test)", *order]), "|" + "---|" * (len(order) + 2)]
    for f in FUNCTIONS:
        g = ok[ok["dataset"] == f]
        if not g.empty:
            lines.append(_row([f, _mean_sd(g.groupby("seed")["r2"].first()),
                               *[_mean_sd(g.loc[g.method == m, metric]) for m in order]]))
    # mean over functions per seed, then mean ± sd over seeds
    lines.append(_row(["**mean**", "", *[f"**{_mean_sd(ok[ok.method == m].groupby('seed')[metric].mean())}**"
                                         for m in order]]))
    return lines


def _scale_free_strength(row: pd.Series) -> float:
    """The method's largest pair strength on a scale-free footing: H² for inter_h_stat, max
    strength / sd(f) for inter_shapley and inter_hessian, the sum of second-order indices
    (a fraction of variance) for inter_sobol2; NaN for methods without an absolute scale."""
    m = row["method"]
    if m == "inter_h_stat":
        return float(row["extra_max_statistic"])
    if m in ("inter_shapley", "inter_hessian"):
        return float(row["extra_max_strength"]) / float(row["output_sd"])
    if m == "inter_sobol2":
        return float(row["extra_sum_second_raw"])
    return float("nan")


def tables(runs: pd.DataFrame) -> str:
    """The study's markdown tables."""
    ok = runs[runs["status"] == "ok"]
    order = [m for m in METHODS if m in set(ok["method"])]
    out = []
    for model, title in MODELS.items():
        g = ok[(ok["model"] == model) & ok["dataset"].isin(FUNCTIONS)]
        if g.empty:
            continue
        out.append(f"## {title}\n")
        for metric, name in METRICS:
            out += [f"### {name} (mean ± sd over seeds)\n", *_metric_table(g, metric, order), ""]
    controls = ok[ok["dataset"].isin(CONTROLS)]
    for model in MODELS:
        c = controls[controls["model"] == model]
        if c.empty:
            continue
        out += [f"## Controls ({model})\n", "Pairwise AUC where a control has interacting pairs:\n",
                _row(["dataset", "R² (test)", *order]), "|" + "---|" * (len(order) + 2)]
        for ds in ("inter_product", "inter_ishigami"):
            g = c[c["dataset"] == ds]
            if not g.empty:
                out.append(_row([ds, _mean_sd(g.groupby("seed")["r2"].first()),
                                 *[_mean_sd(g.loc[g.method == m, "pair_auroc"]) for m in order]]))
        scaled = [m for m in ("inter_h_stat", "inter_shapley", "inter_hessian", "inter_sobol2") if m in order]
        out += ["", "Largest pair strength on a scale-free footing (the additive control should be ~0; "
                "the product control shows a real interaction on the same footing); see "
                "`_scale_free_strength`:\n", _row(["dataset", *scaled]), "|" + "---|" * (len(scaled) + 1)]
        for ds in CONTROLS:
            g = c[c["dataset"] == ds]
            if not g.empty:
                g = g.assign(strength=g.apply(_scale_free_strength, axis=1))
                out.append(_row([ds, *[_mean_sd(g.loc[g.method == m, "strength"]) for m in scaled]]))
        out.append("")
    out += ["## Cost per cell (mean seconds / model evaluations, F1-F10)\n",
            "| model | method | seconds | model evaluations |", "|---|---|---|---|"]
    for model in MODELS:
        for m in order:
            g = ok[(ok.method == m) & (ok.model == model) & ok["dataset"].isin(FUNCTIONS)]
            if not g.empty:
                out.append(f"| {model} | {m} | {g['seconds'].mean():.2f} | {g['n_model_evals'].mean():.3g} |")
    failed = runs[runs["status"] != "ok"]
    if not failed.empty:
        out.append("\nFailed runs:\n")
        out += [f"- {r['dataset']} {r['model']} seed {r['seed']} {r['method']}: {r.get('error', '')}"
                for _, r in failed.iterrows()]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--uri", default=os.environ.get("VARBENCH_TRACKING_URI", "sqlite:///mlflow.db"))
    p.add_argument("--experiment", default="varbench")
    p.add_argument("--out", required=True)
    p.add_argument("--runs", help="ignored (the study's rows are read from the store)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    od = OutDir(args.out, "interactions/tables.py", args.force)  # refused before any work
    runs = load_runs(args.uri, args.experiment)
    keep = ["dataset", "model", "seed", "method", "status", "r2", "output_sd", "seconds", "n_model_evals",
            *[m for m, _ in METRICS], *sorted(c for c in runs if str(c).startswith("extra_"))]
    od.write_csv("runs.csv", runs[[c for c in keep if c in runs]].sort_values(["model", "dataset", "seed", "method"]))
    text = tables(runs)
    od.write_text("tables.md", text)
    od.finish()
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
