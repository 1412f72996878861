"""robustness analysis (REDUCED design): which verdicts "A beats B" hold across conditions, which flip.

    python experiments/robustness/analyse.py --runs results/robustness/runs.csv --out results/robustness

Reads `varbench report`'s runs.csv of the study-local store. Each condition is a study tag
robustness_<condition> (conf/robustness/); ok runs in good cells only (low-quality cells and
failed runs are left out, and counted in conditions.md). The statistics are
varbench.report.verdict_robustness's (datasets as units within a condition, conditions as units for
the share); with VARBENCH_TRACKING_URI set (run_study.sh sets it) the cells' model-truth fidelity
(Spearman of the trained model's own total Sobol ranking vs the data's truth) is read from the store.

Writes into --out:
  verdicts.csv       pair x condition: mean difference [95% CI], verdict, change against the reference,
                     the same difference against the model's own truth, and why the sign turned
  shares.{csv,md}    per pair "A > B": share of the conditions in which A beats B [95% CI], changes counted
  flips.md           every (pair, condition) whose verdict flips or whose sign turns, with the model-truth split
  model_truth.md     pair x condition (pairs with the floor `random` left out): the difference against the
                     data's truth / against the model's own truth
  conditions.md      per condition: datasets, cells, low-quality cells, failed runs, mean quality, model fidelity
  verdict_map.png    pair x condition heatmap of who wins
  headline.md        the numbers the write-up quotes, generated
"""
from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from varbench.outdir import FORCE_HELP, OutDir
from varbench.report import ci_text, markdown_table, read_runs
from varbench.report.verdict_robustness import verdicts, shares

PREFIX = "robustness_"
REFERENCE = "base"
# the conditions in the order the write-up and the plot show them (others follow, sorted)
ORDER = ["base", "tanh", "gelu", "wide", "deep", "l2", "dropout", "rows", "noisy", "resmlp", "ft_transformer", "embed"]
METHODS = ["conditional_permutation", "permutation", "kernel_shap", "integrated_gradients", "lime", "first_layer",
           "random"]


def load(path: Path, prefix: str = PREFIX) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ok runs in good cells with a `condition` column, every run with it): condition = the study
    tag without `prefix`; runs of other studies are dropped."""
    data = read_runs(path)
    keep = data.runs["study"].astype(str).str.startswith(prefix)
    every = data.runs[keep].assign(condition=lambda d: d["study"].str[len(prefix):])
    if every.empty:
        raise SystemExit(f"no runs of studies {prefix}* in {path}")
    every["seed"] = every["seed"].astype(int)
    ok = every[~every["low"] & (every["status"] == "ok")]
    return ok, every


def order_conditions(names) -> list[str]:
    """The conditions in ORDER first (the write-up's order), any others after, sorted."""
    names = list(dict.fromkeys(names))
    return [c for c in ORDER if c in names] + sorted(c for c in names if c not in ORDER)


def column_label(cond: str, datasets: str, main: str) -> str:
    """A plot column's label: the condition, with its datasets when they are not the main design's."""
    return cond if datasets == main else f"{cond} [{datasets}]"


def plot_map(table: pd.DataFrame, share: pd.DataFrame, conds: list[str], path: Path, reference: str,
             design: str = "") -> Path:
    """Pair x condition: colour = mean Spearman difference A - B (A wins on the reference), text =
    the difference, bold when its interval excludes 0; black frame = the verdict flips."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from varbench.report.plots import _save

    pairs = list(share["pair"])
    # columns: the reference on each block of datasets (as the conditions of that block are compared
    # with it), then the block's conditions; the main block is the one most conditions run on
    t = table.assign(pair=table["a"] + " > " + table["b"])
    others = t[(t["change"] != "n/a") & (t["condition"] != reference)]
    blocks = others.groupby("condition")["datasets"].agg(lambda s: s.mode().iloc[0])
    main = blocks.mode().iloc[0] if len(blocks) else ""
    cols: list[tuple[str, str]] = [(reference, main)]
    for c in conds:
        if c == reference or c not in blocks:
            continue
        if (reference, blocks[c]) not in cols:
            cols.append((reference, blocks[c]))
        cols.append((c, blocks[c]))
    M = np.full((len(pairs), len(cols)), np.nan)
    txt = [["n/a"] * len(cols) for _ in pairs]
    bold = np.zeros(M.shape, bool)
    flip = np.zeros(M.shape, bool)
    for j, (c, ds) in enumerate(cols):
        for i, p in enumerate(pairs):
            if c == reference:   # the reference on this block's datasets, as its conditions saw it
                r = others[(others["a"] + " > " + others["b"] == p) & (others["datasets"] == ds)]
                if r.empty:
                    continue
                m, lo, hi = r.iloc[0][["ref_mean", "ref_lo", "ref_hi"]]
                fl = False
            else:
                r = t[(t["pair"] == p) & (t["condition"] == c)]
                if r.empty or r.iloc[0]["change"] == "n/a":
                    continue
                m, lo, hi = r.iloc[0][["mean", "lo", "hi"]]
                fl = r.iloc[0]["change"] == "flips"
            M[i, j] = m
            txt[i][j] = f"{m:+.2f}"
            bold[i, j] = bool(lo > 0 or hi < 0)
            flip[i, j] = fl
    fig = Figure(figsize=(1.0 + 0.72 * len(cols) + 2.6, 1.6 + 0.36 * len(pairs)), dpi=130, layout="constrained")
    ax = fig.subplots()
    lim = max(0.05, float(np.nanmax(np.abs(M))) if np.isfinite(M).any() else 1.0)
    im = ax.imshow(np.ma.masked_invalid(M), cmap="RdBu", norm=TwoSlopeNorm(0.0, -lim, lim), aspect="auto")
    ax.set_facecolor("0.88")
    for i in range(len(pairs)):
        for j in range(len(cols)):
            ax.text(j, i, txt[i][j], ha="center", va="center", fontsize=7.5,
                    fontweight="bold" if bold[i, j] else "normal",
                    color="0.35" if not np.isfinite(M[i, j]) else ("white" if abs(M[i, j]) > 0.6 * lim else "black"))
            if flip[i, j]:
                ax.add_patch(Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False, lw=2.2, ec="black"))
    ax.set_xticks(range(len(cols)), [column_label(c, ds, main) for c, ds in cols], rotation=35, ha="right",
                  rotation_mode="anchor", fontsize=8.5)
    ylabels = [f"{p}   {s:.2f}" if np.isfinite(s) else p for p, s in zip(pairs, share["share"])]
    ax.set_yticks(range(len(pairs)), ylabels, fontsize=8.5)
    for j, (c, _) in enumerate(cols):
        if c == reference:
            ax.axvline(j + 0.5, color="black", lw=1.2)
            if j:
                ax.axvline(j - 0.5, color="black", lw=1.2)
    ax.set_ylabel('pair "A > B" (A wins on the reference), share of conditions A wins', fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.6).set_label("mean Spearman(A) - Spearman(B)", fontsize=9)
    title = (f"Who wins where ({design}; unbracketed columns: {main.replace(',', ', ')}). "
             "Blue: A still beats B; red: B beats A; bold: 95% interval excludes 0; "
             "black frame: the verdict flips (both decisive, opposite winners); grey n/a: a method does not "
             "apply (first_layer on networks that are not Dense chains).")
    fig.suptitle(textwrap.fill(title, int(fig.get_figwidth() * 12)), fontsize=9.5)
    _save(fig, path)
    return path


def cond_table(ok: pd.DataFrame, every: pd.DataFrame, conds: list[str], fidelity: pd.Series | None) -> pd.DataFrame:
    """One row per condition: datasets, models, cells, low-quality cells, failed runs, mean test R²
    and (from the store) the model's own truth against the data's."""
    rows = []
    for c in conds:
        e, o = every[every["condition"] == c], ok[ok["condition"] == c]
        row = {"condition": c, "datasets": ", ".join(sorted(set(e["dataset"]))), "models": ", ".join(sorted(set(e["model"]))),
               "cells": e["cell"].nunique(), "low-quality cells": e.loc[e["low"], "cell"].nunique(),
               "failed runs": int((e["status"] != "ok").sum()),
               "mean test R²": float(e.drop_duplicates("cell")["quality"].mean())}
        if fidelity is not None:
            row["model truth vs data truth (Spearman)"] = float(fidelity.get(c, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def model_fidelity(every: pd.DataFrame) -> pd.Series | None:
    """Mean over cells, per condition, of the cell metric model_spearman_vs_data (from the store)."""
    uri = os.environ.get("VARBENCH_TRACKING_URI")
    if not uri:
        return None
    from varbench.tracking import fetch_cells

    cells = fetch_cells(uri, os.environ.get("VARBENCH_EXPERIMENT", "varbench"))
    if cells.empty or "model_spearman_vs_data" not in cells:
        return None
    cells = cells[cells["cell_hash"].isin(set(every["cell_hash"]))]
    cond = every.drop_duplicates("cell_hash").set_index("cell_hash")["condition"]
    cells = cells.assign(condition=cells["cell_hash"].map(cond))
    return cells.groupby("condition")["model_spearman_vs_data"].mean()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default="results/robustness/runs.csv", type=Path)
    p.add_argument("--out", default="results/robustness", type=Path)
    p.add_argument("--reference", default=REFERENCE, help="the reference condition (default: base)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    od = OutDir(args.out, "robustness/analyse.py", args.force)  # refused before any work
    ok, every = load(args.runs)
    conds = order_conditions(every["condition"])
    methods = [m for m in METHODS if m in set(every["method"])] + sorted(set(every["method"]) - set(METHODS))
    table = verdicts(ok, args.reference, "spearman", "model_spearman", methods)
    table["condition"] = pd.Categorical(table["condition"], conds, ordered=True)
    table = table.sort_values(["a", "b", "condition"], kind="stable")
    table["condition"] = table["condition"].astype(str)
    share = shares(table)
    od.write_csv("verdicts.csv", table)
    od.write_csv("shares.csv", share)

    ci = lambda m, lo, hi: ci_text(m, lo, hi, 2, single="", missing="n/a")  # noqa: E731
    st = share.assign(**{"share of conditions where A beats B [95% CI]": [ci(*v) for v in
                                                                           zip(share["share"], share["lo"], share["hi"])]})
    st = st[["pair", "share of conditions where A beats B [95% CI]", "n_conditions", "holds", "flips", "weakens",
             "appears", "unclear", "flipped_in", "b_ahead_in"]]
    od.write_text("shares.md", md_intro("Per pair: the share of the non-reference conditions in which A still beats B "
                                        "(mean Spearman difference > 0; = 0 counts 1/2), 95% interval with the "
                                        "conditions as units (t, clipped to [0, 1]); the change of the verdict in "
                                        "each condition against the reference on the same datasets "
                                        "(varbench/report/verdict_robustness.py).") + markdown_table(st) + "\n")
    fl = table[(table["change"] == "flips") | (table.get("sign_turned", False) == True)]  # noqa: E712
    ft = pd.DataFrame({
        "pair": fl["a"] + " > " + fl["b"], "condition": fl["condition"], "datasets": fl["datasets"],
        "Spearman diff, reference [95% CI]": [ci(*v) for v in zip(fl["ref_mean"], fl["ref_lo"], fl["ref_hi"])],
        "Spearman diff, condition [95% CI]": [ci(*v) for v in zip(fl["mean"], fl["lo"], fl["hi"])],
        "change": fl["change"],
        "model-truth diff, reference": fl["ref_model_mean"].round(2),
        "model-truth diff, condition": fl["model_mean"].round(2), "why": fl["why"]})
    od.write_text("flips.md", md_intro(
        "Every (pair, condition) whose verdict flips (both decisive, opposite winners) or whose point estimate "
        "changes sign, against the reference on the same datasets. Differences are mean Spearman(A) - "
        "Spearman(B), datasets as units. The model-truth columns repeat the difference against the trained "
        "model's own total Sobol ranking: if A still wins there, the explainers order the model as before and "
        "the model learned something else; if not, the explainer is wrong.") + markdown_table(ft) + "\n")
    od.write_text("model_truth.md", md_intro(
        "Pair x condition: mean Spearman(A) - Spearman(B) against the data's truth / against the trained "
        "model's own truth (total Sobol indices), datasets as units; the reference on all its datasets. Where "
        "the two agree the explainers' difference is about the model; where only the data-truth difference "
        "moves, the model learned something else.") + markdown_table(model_truth_table(table, conds)) + "\n")
    fid = model_fidelity(every)
    od.write_text("conditions.md", md_intro("Per condition (ok runs in good cells enter the verdicts; low-quality "
                                            "cells and failed runs do not).") + markdown_table(cond_table(ok, every, conds, fid)) + "\n")
    per = ok.groupby("condition").agg(d=("dataset", "nunique"), s=("seed", "nunique"))
    design = (f"REDUCED design: {len(conds)} conditions, {per['d'].min()}-{per['d'].max()} datasets x "
              f"{per['s'].max()} seeds each; datasets as units")
    plot_map(table, share, conds, od.target("verdict_map.png"), args.reference, design)
    od.record(od.target("verdict_map.png"))
    od.write_text("headline.md", headline(table, share, ok))
    od.finish()
    return 0


def model_truth_table(table: pd.DataFrame, conds: list[str], floor: str = "random") -> pd.DataFrame:
    """Rows: pairs without `floor`; columns: conditions; cells 'data / model' mean differences."""
    t = table[(table["change"] != "n/a") & (table["a"] != floor) & (table["b"] != floor)]
    t = t.assign(pair=t["a"] + " > " + t["b"],
                 v=[f"{m:+.2f} / {mm:+.2f}" for m, mm in zip(t["mean"], t["model_mean"])])
    w = t.pivot_table(index="pair", columns="condition", values="v", aggfunc="first")
    w = w.reindex(columns=[c for c in conds if c in w.columns]).fillna("n/a")
    return w.rename_axis(None, axis=1).reset_index()


def md_intro(text: str) -> str:
    """A paragraph wrapped at 100 characters, then a blank line."""
    return textwrap.fill(text, 100) + "\n\n"


def headline(table: pd.DataFrame, share: pd.DataFrame, ok: pd.DataFrame) -> str:
    """The numbers README.md quotes (generated)."""
    t = table[(table["change"] != "reference") & (table["change"] != "n/a")]
    n_flip = int((t["change"] == "flips").sum())
    n_sign = int(t["sign_turned"].fillna(False).astype(bool).sum())
    why = t.loc[t["sign_turned"].fillna(False).astype(bool), "why"].value_counts()
    lines = [
        "# robustness: headline (REDUCED design; generated by analyse.py)",
        "",
        f"- {ok['condition'].nunique()} conditions, {ok['dataset'].nunique()} datasets, {ok['cell'].nunique()} good cells, "
        f"{ok['method'].nunique()} methods, {len(share)} pairs, {len(t)} (pair, non-reference condition) verdicts.",
        f"- decisive flips (both 95% intervals exclude 0, opposite winners): {n_flip}; point estimates that change "
        f"sign: {n_sign}.",
        f"- where the sign turned, on the model's own truth: " + ("; ".join(f"{k}: {v}" for k, v in why.items()) or "none") + ".",
        f"- changes: " + ", ".join(f"{c}: {int((t['change'] == c).sum())}" for c in ("holds", "flips", "weakens", "appears", "unclear")) + ".",
        "- pairs whose A wins in every condition (share 1): " + (", ".join(share.loc[np.isclose(share["share"], 1.0), "pair"]) or "none") + ".",
        "- pairs with the lowest share: " + "; ".join(f"{p} {s:.2f} [{lo:.2f}, {hi:.2f}]" for p, s, lo, hi in
                                                   share.nsmallest(3, "share")[["pair", "share", "lo", "hi"]].itertuples(index=False)) + ".",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
