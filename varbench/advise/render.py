"""The advise report: recommendation with its reasons, tables, plots; markdown plus CSVs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from varbench.advise.rank import interval_text
from varbench.advise.signals import Signals, follows, section
from varbench.outdir import OutDir

GOOD = 0.5  # below this mean Spearman a method is called unreliable on these covariates


def repeats_text(facts: dict[str, Any]) -> str:
    """What the real-target numbers are over: trainings, or method seeds on the one given model."""
    q = facts.get("quality", {})
    quality = "; ".join(f"test {m} {interval_text(v['mean'], v['ci_low'], v['ci_high'])}" for m, v in q.items())
    if facts.get("model"):
        k = facts["method_seeds"]
        return (f"Your model `{facts['model']}` (one model, not retrained; fed the table through "
                f"`{facts['encoding_file']}`): {quality or 'no test quality'}. Each top method ran {k} time(s) "
                "with different method seeds on it: an interval is that method's own run-to-run noise, "
                "shown only where the runs differed.")
    n = facts["trainings"]
    return (f"The network trained on the real target {n} time(s) (seeds: different split and initialisation)"
            + (f"; mean and 95% t interval over the {n} trainings" if n > 1 else "")
            + f": {quality or 'no test quality'}.")


def repeats_short(facts: dict[str, Any]) -> str:
    """What the truth-free intervals are over, in a few words."""
    if facts.get("model"):
        return f"{facts['method_seeds']} method seed(s) on your one model"
    return f"{facts['trainings']} training(s) on the real target"


def recommendation(ranking: pd.DataFrame, credit: pd.DataFrame, families: list[str],
                   reachable: float | None = None) -> list[str]:
    """The advice as sentences, each derived from the numbers in the tables."""
    if ranking.empty or not np.isfinite(ranking["mean"]).any():
        return ["No benchmark cell produced a score: no recommendation (see the failed runs)."]
    methods = ranking[ranking["role"] != "floor"]
    best = methods.iloc[0]
    floor = ranking[ranking["role"] == "floor"]
    floor_high = (float(floor.iloc[0]["ci_high"]) if np.isfinite(floor.iloc[0]["ci_high"])
                  else float(floor.iloc[0]["mean"])) if not floor.empty else -np.inf
    evidence = (f"mean Spearman {interval_text(best['mean'], best['ci_low'], best['ci_high'])} "
                f"over {int(best['n'])} cell{'s' if best['n'] != 1 else ''}"
                + (f" (at most {reachable:.2f} is reachable with distinct scores)" if reachable is not None else ""))
    if best["mean"] <= floor_high:  # the best is not told apart from random scores: no "use" advice
        lines = [f"**No method is shown better than the random floor at this budget**: the best, "
                 f"`{best['method']}` ({best['estimand']}), has {evidence}, inside the floor's interval. "
                 "Rerun with a larger `--budget` for a recommendation."]
    else:
        lines = [f"**Use `{best['method']}`** ({best['estimand']}): on targets planted on your covariates it "
                 f"recovered the true ranking best, {evidence}."]
    bar = best["ci_low"] if np.isfinite(best["ci_low"]) else best["mean"]
    tied = [m for m, v in zip(methods["method"][1:], methods["mean"][1:]) if v >= bar]
    if tied:
        lines.append("Within its interval (as good on this evidence): " + ", ".join(f"`{m}`" for m in tied) + ".")
        pool = methods[methods["method"].isin([best["method"], *tied])]
        cheap = pool.loc[pool["seconds"].idxmin()]
        if cheap["method"] != best["method"] and cheap["seconds"] < 0.5 * best["seconds"]:
            lines.append(f"The cheapest of these is `{cheap['method']}` ({cheap['seconds']:.2f} s per run against "
                         f"{best['seconds']:.2f} s).")
    if not floor.empty:
        f = floor.iloc[0]
        hi = f["ci_high"] if np.isfinite(f["ci_high"]) else f["mean"]
        weak = [m for m, v in zip(methods["method"], methods["mean"]) if v <= hi]
        if weak:
            lines.append("No better than the random floor (`" + f["method"] + "`, " + interval_text(f["mean"], f["ci_low"],
                         f["ci_high"]) + "): " + ", ".join(f"`{m}`" for m in weak) + ".")
    bad = [m for m, v in zip(methods["method"], methods["mean"]) if v < GOOD]
    if bad:
        lines.append(f"Unreliable here (mean Spearman < {GOOD}): " + ", ".join(f"`{m}`" for m in bad) + ".")
    floors = set(ranking.loc[ranking["role"] == "floor", "method"])
    credit = credit[~credit["method"].isin(floors)] if not credit.empty else credit
    if not credit.empty:
        credit = credit.assign(pair=[tuple(sorted(p)) for p in zip(credit["relevant"], credit["partner"])],
                               hits=credit["share"] * credit["cells"])
        by = credit.groupby(["pair", "estimand"], sort=False)[["hits", "cells"]].sum().reset_index()
        by["share"] = by["hits"] / by["cells"]
        for pair, g in by.groupby("pair", sort=False):
            g = g.sort_values("share", ascending=False)
            head, rest = g.iloc[0], g.iloc[1:]
            directions = credit[credit["pair"] == pair][["relevant", "partner"]].drop_duplicates()
            who = (f"`{directions.iloc[0]['partner']}` for `{directions.iloc[0]['relevant']}`" if len(directions) == 1
                   else f"the unplanted one of `{pair[0]}` / `{pair[1]}` for the planted one")
            others = ", ".join(f"{e} {100 * v:.0f}%" for e, v in zip(rest["estimand"], rest["share"]))
            lines.append(f"On your covariates, {head['estimand']} methods credit {who} "
                         f"{100 * head['share']:.0f}% of the time (ranked among the top k though irrelevant)"
                         + (f"; other estimands: {others}" if others else "") + ".")
    fams = [f for f in families if f in ranking]
    if "linear" in fams and len(fams) > 1:
        drops = []
        for f in fams:
            if f == "linear":
                continue
            d = (methods["linear"] - methods[f]).dropna()
            if not d.empty and d.max() > 0.1:
                m = methods.loc[d.idxmax(), "method"]
                drops.append(f"`{m}` loses the most under `{f}` ({methods.loc[d.idxmax(), 'linear']:.2f} -> "
                             f"{methods.loc[d.idxmax(), f]:.2f})")
        if drops:
            lines.append("By planted family: " + "; ".join(drops) + ".")
    return lines


def advice(ranking: pd.DataFrame, credit: pd.DataFrame, families: list[str], reachable: float | None,
           broken: str | None, target: str, own_model: bool, signals: Signals | None = None,
           missing: str = "no real-target run logged a validated truth-free metric") -> list[str]:
    """The recommendation, saying which signal it follows and whether the two agree
    (`signals.follows`; `missing`: why the truth-free one is absent), or, when the real-target
    model is broken (`rank.broken_model`), why neither signal gives one."""
    if not broken:
        lines = recommendation(ranking, credit, families, reachable)
        if lines and lines[0].startswith("**Use"):
            lines.insert(1, follows(signals or Signals(), missing))
        return lines
    who = "your model" if own_model else "the network trained on it"
    return [f"**No recommendation for `{target}`** from either signal: {who} {broken}. The importances of a model "
            "that has not learned its target describe noise, not your data, and truth-free metrics on it measure "
            "fidelity to that noise, so neither is reported; check the target and its task (`--task`), the "
            "columns, or the model. The benchmark on planted targets is below for reference."]


def importance_plot(real: pd.DataFrame, path: Path, title: str) -> Path | None:
    """One panel per method: normalised real-target importance per variable with its interval."""
    if real.empty:
        return None
    from varbench.report.plots import _figure, _save, _wrap

    methods = list(dict.fromkeys(real["method"]))
    order = (real.groupby("variable")["mean"].mean().sort_values(ascending=False).index.tolist())
    fig = _figure(max(5.0, 0.35 * len(order) + 1.5), 2.4 * len(methods) + 0.6)
    fig.suptitle(_wrap(title, fig.get_figwidth()), fontsize=10)
    axes = fig.subplots(len(methods), 1, squeeze=False, sharex=True)[:, 0]
    for ax, m in zip(axes, methods):
        g = real[real["method"] == m].set_index("variable").loc[order]
        err = np.vstack([g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]])
        err = np.where(np.isfinite(err), np.maximum(err, 0), 0)
        ax.bar(range(len(order)), g["mean"], yerr=err, color="tab:blue", alpha=0.8, capsize=2)
        ax.set_title(m, fontsize=9)
        ax.set_ylabel("share of importance", fontsize=8)
    axes[-1].set_xticks(range(len(order)), order, rotation=90, fontsize=7)
    return _save(fig, path)


def ranking_plot(ranking: pd.DataFrame, path: Path, title: str, reachable: float | None = None) -> Path | None:
    """Mean Spearman with its 95% interval per method (horizontal bars, best on top); a dashed line
    at the best Spearman reachable with distinct scores."""
    if ranking.empty:
        return None
    from varbench.report.plots import _figure, _save

    r = ranking.iloc[::-1]
    fig = _figure(6.0, 0.3 * len(r) + 1.2)
    ax = fig.subplots()
    lo = np.where(np.isfinite(r["ci_low"]), r["mean"] - r["ci_low"], 0)
    hi = np.where(np.isfinite(r["ci_high"]), r["ci_high"] - r["mean"], 0)
    colors = ["0.6" if role == "floor" else "tab:green" for role in r["role"]]
    ax.barh(range(len(r)), r["mean"], xerr=[lo, hi], color=colors, capsize=2)
    ax.set_yticks(range(len(r)), r["method"], fontsize=8)
    if reachable is not None and np.isfinite(reachable):
        ax.axvline(reachable, color="black", ls="--", lw=1, label=f"reachable ({reachable:.2f})")
        ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_xlim(-1, 1.05)
    ax.set_xlabel("Spearman vs planted truth (mean, 95% CI)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def write(out: Path | OutDir, facts: dict[str, Any], ranking: pd.DataFrame, credit: pd.DataFrame,
          real: pd.DataFrame, timings: dict[str, float], force: bool = False,
          truth_free: pd.DataFrame | None = None) -> Path:
    """report.md (+ ranking.csv, partner_credit.csv, real_importance.csv, truth_free_ranking.csv,
    PNGs) in `out` (a folder, opened as `OutDir(out, "advise", force)`, or an open OutDir); every
    name escaped for Markdown. `truth_free`: `signals.truth_free_ranking` of the real-target runs."""
    from varbench.advise.signals import compare
    from varbench.report.render import Markdown, markdown_table, md_document

    od = out if isinstance(out, OutDir) else OutDir(out, "advise", force)
    free = truth_free if truth_free is not None else pd.DataFrame()
    for name, df in (("ranking.csv", ranking), ("partner_credit.csv", credit), ("real_importance.csv", real),
                     ("truth_free_ranking.csv", free)):
        od.write_csv(name, df)
    with od.adopting() as folder:
        plots = [ranking_plot(ranking, folder / "ranking.png", f"Methods on targets planted on {facts['name']}",
                              facts.get("reachable")),
                 importance_plot(real, folder / "real_importance.png", f"Real target `{facts['target']}`: share "
                                                                        "of importance (95% CI where the runs differed)")]
    plots = [p for p in plots if p is not None]
    enc = facts["encoding"]
    lines = [f"# Which importance method to trust on `{facts['name']}`", "",
             f"Command: `{facts['command']}`", "", "## Recommendation", ""]
    lines += [f"- {s}" for s in facts["recommendation"]]
    lines += ["", "## Your data", "",
              f"- {facts['rows']} rows, {len(facts['variables'])} variables ({facts['columns']} encoded columns); "
              f"target `{facts['target']}`, task `{facts['task']}`.",
              f"- Standardised (mean 0, sd 1; scaling in the cell's `encoding.json`): "
              f"{', '.join(f'`{c}`' for c in enc['scaling'] if c != facts['target']) or 'none'}"
              + (" (and the target)" if facts["target"] in enc["scaling"] else "") + ".",
              f"- One-hot groups (one variable each): "
              + (", ".join(f"`{c}` ({len(v)} levels)" for c, v in enc["one_hot"].items()) or "none") + ".",
              "- Dropped: " + (", ".join(f"`{c}` ({why})" for c, why in enc["dropped"].items()) or "none") + ".",
              "- Imputed: " + (", ".join(f"`{c}` ({n})" for c, n in enc["imputed"].items()) or "none") + ".",
              "- Rare levels merged into `(other)`: " + (", ".join(
                  f"`{c}` ({m['levels']} levels: the {m['kept']} most frequent kept, {m['rows']} rows merged)"
                  for c, m in enc.get("merged", {}).items()) or "none") + ".",
              "", "## Methods on targets planted on your covariates", "",
              f"Your real X is kept; a target is planted from each family ({', '.join(facts['families'])}) "
              f"at signal-to-noise ratio {facts['snr']}, {facts['seeds']} seed(s) each (different planted "
              "variables per seed); each method's importance is scored by Spearman against the planted truth "
              "(per variable; `varbench/datasets/planted.py`). Mean and 95% t interval over cells; columns per "
              f"family are means. Irrelevant variables tie at 0 in the truth, so a method with distinct "
              f"scores reaches at most {facts['reachable']:.2f} here (mean over cells; the truth itself scores 1). "
              + (f"Left out, the network missed the quality threshold: {', '.join(facts['low_quality'])}."
                 if facts["low_quality"] else "Every cell's network passed the quality threshold."), "", markdown_table(ranking.assign(
                  spearman=[interval_text(a, b, c) for a, b, c in zip(ranking["mean"], ranking["ci_low"], ranking["ci_high"])]
              ).drop(columns=["mean", "ci_low", "ci_high"], errors="ignore"), digits=2) if not ranking.empty else "_(none)_"]
    if not credit.empty:
        lines += ["", "### Correlated partner", "",
                  "Cells of the `correlated_partner` family plant one variable of your most correlated numeric "
                  "pair and leave the other out. `share`: fraction of cells where a method ranks the irrelevant "
                  "partner among the top k (k = number of planted variables); `ratio`: mean importance of the "
                  "partner over the planted one.", "", markdown_table(credit, digits=2)]
    lines += ["", f"## The real target `{facts['target']}`", "", repeats_text(facts), ""]
    if facts.get("broken"):
        lines.append(f"No importances: the model {facts['broken']} (see the recommendation).")
    elif not real.empty:
        lines += [f"Top methods from the benchmark: {', '.join(f'`{m}`' for m in facts['top'])}; run on it with "
                  "the cheap rest (every other benchmarked method no slower per run than the slowest top one): "
                  f"{', '.join(f'`{m}`' for m in facts.get('real_methods', facts['top']))}. "
                  "Importance as a share of each run's total (|importance| normalised to sum 1), mean (and 95% "
                  "t interval where the runs differed); one-hot columns summed per variable.", ""]
        wide = real.assign(value=[interval_text(a, b, c) for a, b, c in zip(real["mean"], real["ci_low"], real["ci_high"])])
        table = wide.pivot(index="variable", columns="method", values="value")
        first = facts["top"][0] if facts["top"] and facts["top"][0] in table else table.columns[0]
        order = real[real["method"] == first].sort_values("mean", ascending=False)["variable"]
        lines.append(markdown_table(table.loc[order].reset_index()))
    else:
        lines.append("_(no real-target importance: see the failed runs)_")
    agree = facts.get("model_agreement") or {}
    if agree:
        lines += ["", "Agreement with the trained model's own truth (exact when the table has at most "
                  "`model_truth.max_features` encoded columns; Spearman, mean over trainings): "
                  + "; ".join(f"`{m}` {v['model_spearman']:.2f} vs its total Sobol indices, "
                              f"{v['model_spearman_shapley']:.2f} vs its Shapley values"
                              for m, v in agree.items()) + "."]
    lines += [""] + section(compare(ranking, free), ranking, free, repeats_short(facts), facts.get("broken"))
    lines += ["", "## Plots", ""] + [Markdown(f"![{p.stem}]({p.name})") for p in plots]
    lines += ["", "## Time", "", markdown_table(pd.DataFrame(
        [{"phase": k, "seconds": v} for k, v in timings.items()]), digits=1), "",
        f"Runs are in the MLflow store `{facts['tracking_uri']}` (study `{facts['study']}`); rerunning the "
        "command resumes (nothing already logged is recomputed; trained models are cached).", ""]
    path = od.write_text("report.md", md_document(lines))
    od.finish()
    return path
