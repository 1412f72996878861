"""seed_question analysis: `varbench report`'s runs.csv -> the study's tables and plots.

    python experiments/seed_question/analyse.py --runs results/seed_question/runs.csv --out results/seed_question

Reads only the tidy runs table, through the report layer's preparation (varbench.report): each
run carries its cell's truth. Every cell is (dataset, model, seed); cells whose model failed to
learn (`low`) and failed runs are left out of the means, as in `varbench report`. Intervals: 95%
Student t over cells, clipped to the metric's range (varbench.report.ci_long).

Writes into --out:
  by_dataset.{csv,md}   method x dataset: mean Spearman [95% CI] over models and seeds
  by_model.{csv,md}     method x model: mean Spearman [95% CI] over datasets and seeds
  classic_by_arch.md    per classic answer (and the best modern method): dataset x model table
  grid_spearman.md      dataset x model rows, method columns: mean Spearman [95% CI] over seeds
  grid.csv              method x dataset x model: mean, CI and n of Spearman, top-k recall, the
                        share of |importance| given to irrelevant features and model_spearman
  model_truth.{csv,md}  method x dataset: mean Spearman vs the trained model's own Sobol ranking
  irrelevant_share.{csv,md}  method x dataset: mean share of |importance| on irrelevant features
  quality.md            model test R² per dataset x architecture (mean and min over seeds)
  headline.md           the numbers the write-up quotes, generated (never typed by hand)
  spearman_by_dataset.png, classic_grid.png, irrelevant_share.png
  importance_<dataset>_<model>_seed<k>.png  truth vs every method for the cells in --cells
"""
from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from varbench.outdir import FORCE_HELP, OutDir
from varbench.report import ci_long, ci_text, markdown_table, ordered, read_runs, truth_of
from varbench.report.plots import _save
from varbench.report.render import md_document, md_text
from varbench.scoring import spearman

CLASSIC = ["first_layer", "probing", "lime", "permutation"]
MODERN = ["conditional_permutation", "integrated_gradients", "deeplift", "kernel_shap", "sage", "sobol_total"]
FLOOR = ["random"]
DATASETS = ["linear", "correlated_block", "interaction", "redundant", "mixed_scales"]
MODELS = ["sq_mlp_narrow", "mlp_wide", "mlp", "sq_mlp_l2", "mlp_deep"]
MODEL_LABEL = {"sq_mlp_narrow": "[8]", "mlp_wide": "[256]", "mlp": "[64,64]",
               "sq_mlp_l2": "[64,64]+L2+drop", "mlp_deep": "[32x4]+L2+drop"}
order = ordered


def untied_ceiling(truth: np.ndarray) -> float:
    """Best Spearman a method can reach without ties: any strict ordering consistent with the
    truth (ties in the truth, e.g. irrelevant features at 0 or interaction partners, broken
    arbitrarily) scores the same against the truth's average ranks."""
    from scipy.stats import rankdata

    t = np.asarray(truth, dtype=float)
    return spearman(rankdata(t, method="ordinal"), t)


def load(path: Path) -> pd.DataFrame:
    """ok runs in good cells (the report's preparation), with the truth-derived `ceiling`; the
    share of |importance| on irrelevant features (`irrelevant_share`) comes with the table."""
    data = read_runs(path)
    df = data.ok.copy()
    df["seed"] = df["seed"].astype(int)
    df["ceiling"] = [untied_ceiling(truth_of(r)) for _, r in df.iterrows()]
    df.attrs["n_all"] = len(data.runs)
    return df


def ci_frame(df: pd.DataFrame, by: list[str], metric: str) -> pd.DataFrame:
    """Per group: n, mean, lo, hi of `metric` (95% t interval over cells, within its range)."""
    return ci_long(df, by, metric)


def fmt(mean: float, lo: float, hi: float) -> str:
    return ci_text(mean, lo, hi, 2, single="", missing="")


def wide(df: pd.DataFrame, row: str, col: str, metric: str, rows: list[str], cols: list[str],
         total: str | None = "all") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(numeric long table, text table rows x cols of 'mean [lo, hi]'), with an overall column."""
    long = ci_frame(df, [row, col], metric)
    if total:
        long = pd.concat([long, ci_frame(df, [row], metric).assign(**{col: total})], ignore_index=True)
        cols = cols + [total]
    text = long.assign(v=[fmt(m, a, b) for m, a, b in zip(long["mean"], long["lo"], long["hi"])])
    text = text.pivot(index=row, columns=col, values="v").reindex(index=rows, columns=cols)
    return long, text.rename_axis(None, axis=1).reset_index()


def methods_of(df: pd.DataFrame) -> list[str]:
    return order(list(df["method"]), CLASSIC + MODERN + FLOOR)


def style(method: str) -> tuple[str, str]:
    """(colour, marker): classic answers warm, modern methods cool, the floor grey."""
    warm = {"first_layer": "#d62728", "probing": "#ff7f0e", "lime": "#bcbd22", "permutation": "#8c564b"}
    cool = {"conditional_permutation": "#1f77b4", "integrated_gradients": "#17becf", "deeplift": "#2ca02c",
            "kernel_shap": "#9467bd", "sage": "#e377c2", "sobol_total": "#393b79"}
    markers = dict(zip(CLASSIC + MODERN + FLOOR, "osD^vP*Xh<>"))
    colour = warm.get(method) or cool.get(method) or "0.5"
    return colour, markers.get(method, "o")


def plot_by_dataset(df: pd.DataFrame, path: Path) -> Path:
    """One panel per dataset: mean Spearman with 95% CI per method (pooled over models, seeds),
    and the best Spearman reachable without ties (dashed)."""
    from matplotlib.figure import Figure

    datasets = order(list(df["dataset"]), DATASETS)
    methods = methods_of(df)
    fig = Figure(figsize=(3.1 * len(datasets) + 1.0, 5.2), dpi=120, layout="constrained")
    axes = fig.subplots(1, len(datasets), sharey=True, squeeze=False)[0]
    for ax, ds in zip(axes, datasets):
        sub = df[df["dataset"] == ds]
        ci = ci_frame(sub, ["method"], "spearman").set_index("method")
        for i, m in enumerate(methods):
            if m not in ci.index:
                continue
            c, mk = style(m)
            r = ci.loc[m]
            ax.errorbar(i, r["mean"], yerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]], fmt=mk, color=c,
                        ms=6, capsize=3, lw=1.5)
        ax.axhline(sub["ceiling"].mean(), ls="--", color="0.3", lw=1)
        ax.axvspan(-0.5, len(CLASSIC) - 0.5, color="#fbe9e7", zorder=0)
        ax.set_xticks(range(len(methods)), methods, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.set_title(f"{ds}\n({sub['cell'].nunique()} cells)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("Spearman vs truth (mean, 95% CI over cells)")
    axes[0].set_ylim(-0.3, 1.02)
    n_models = df["model"].nunique()
    fig.suptitle(textwrap.fill(f"seed_question: Spearman vs truth per dataset, pooled over {n_models} "
                               "architectures x seeds (shaded: the four classic answers; dashed: the best "
                               "score reachable without ties)",
                               int(fig.get_figwidth() * 11)), fontsize=11)
    _save(fig, path)
    return path


def plot_grid(df: pd.DataFrame, path: Path, best_modern: str) -> Path:
    """Heatmaps dataset x architecture of mean Spearman for the classic answers, the best modern
    method and the random floor."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    panels = [m for m in CLASSIC + [best_modern] + FLOOR if m in set(df["method"])]
    datasets = order(list(df["dataset"]), DATASETS)
    models = order(list(df["model"]), MODELS)
    ncols = 3
    nrows = int(np.ceil(len(panels) / ncols))
    fig = Figure(figsize=(4.3 * ncols + 0.8, 3.5 * nrows + 0.6), dpi=120, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    cmap = colormaps["RdYlGn"].with_extremes(bad="#d9d9d9")
    im = None
    for p, ax in enumerate(axes.flat):
        if p >= len(panels):
            ax.set_axis_off()
            continue
        m = panels[p]
        mat = (df[df["method"] == m].groupby(["dataset", "model"])["spearman"].mean().unstack()
               .reindex(index=datasets, columns=models))
        v = mat.to_numpy(dtype=float)
        im = ax.imshow(np.ma.masked_invalid(v), cmap=cmap, vmin=-1, vmax=1, aspect="auto")
        for i in range(v.shape[0]):
            for j in range(v.shape[1]):
                ax.text(j, i, "n/a" if not np.isfinite(v[i, j]) else f"{v[i, j]:.2f}", ha="center",
                        va="center", fontsize=8)
        ax.set_xticks(range(len(models)), [MODEL_LABEL.get(x, x) for x in models], rotation=30, ha="right",
                      rotation_mode="anchor", fontsize=8)
        ax.set_yticks(range(len(datasets)), datasets, fontsize=8)
        ax.set_title(m + ("  (best modern)" if m == best_modern else "  (classic)" if m in CLASSIC else ""),
                     fontsize=10)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.7, label="mean Spearman vs truth over seeds")
    fig.suptitle("seed_question: mean Spearman per dataset (rows) and architecture (columns)", fontsize=11)
    _save(fig, path)
    return path


def plot_irrelevant(df: pd.DataFrame, path: Path) -> Path:
    """Grouped bars: mean share of |importance| on irrelevant features, per dataset and method."""
    from matplotlib.figure import Figure

    datasets = order(list(df["dataset"]), DATASETS)
    methods = methods_of(df)
    ci = ci_frame(df, ["dataset", "method"], "irrelevant_share").set_index(["dataset", "method"])
    fig = Figure(figsize=(12.5, 4.8), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(methods)
    for k, m in enumerate(methods):
        xs, ys, lo, hi = [], [], [], []
        for i, ds in enumerate(datasets):
            if (ds, m) in ci.index:
                r = ci.loc[(ds, m)]
                xs.append(i - 0.4 + (k + 0.5) * width)
                ys.append(r["mean"])
                lo.append(r["mean"] - r["lo"] if np.isfinite(r["lo"]) else 0)
                hi.append(r["hi"] - r["mean"] if np.isfinite(r["hi"]) else 0)
        c, _ = style(m)
        ax.bar(xs, ys, width=width, color=c, label=m, yerr=[lo, hi], capsize=1.5, error_kw={"lw": 0.8})
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_ylabel("share of sum |importance| on irrelevant features")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(ncols=1, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("seed_question: share of |importance| each method puts on features the function never reads "
                 "(truth: 0)\nmean with 95% CI over cells (all architectures and seeds)", fontsize=10)
    _save(fig, path)
    return path


def plot_cells(df: pd.DataFrame, out: Path, cells: list[tuple[str, str, int]]) -> list[Path]:
    """Importance bars (varbench.report.plots.importance_bars) for chosen (dataset, model, seed) cells."""
    from varbench.report.plots import importance_bars

    paths = []
    for ds, model, seed in cells:
        rows = df[(df["dataset"] == ds) & (df["model"] == model) & (df["seed"] == seed)]
        if rows.empty:
            print(f"skipped importance bars for {ds}/{model}/{seed}: no runs")
            continue
        rows = rows.set_index("method").reindex([m for m in methods_of(rows)])
        first = rows.iloc[0]
        q = first["quality"]
        paths.append(importance_bars(
            truth_of(first), str(first["feature_names"]).split(","),
            {m: json.loads(v) for m, v in rows["importance"].items()},
            out / f"importance_{ds}_{model}_seed{seed}.png",
            f"Importance vs truth, {ds}/{model}/seed{seed} (test R² {q:.3f})",
            {m: f"spearman {v:.2f}" for m, v in rows["spearman"].items()}))
    return paths


def headline(df: pd.DataFrame, best_modern: str, grid: pd.DataFrame) -> str:
    """Generated sentences with the numbers the write-up quotes."""
    def ci_of(sub: pd.DataFrame, metric: str = "spearman") -> str:
        c = ci_long(sub.assign(_all=0), ["_all"], metric)
        n = int(c["n"].iloc[0]) if len(c) else 0
        return f"{fmt(*c[['mean', 'lo', 'hi']].iloc[0])} (n={n})" if n else "n/a"

    lines = ["# seed_question: headline numbers (generated by analyse.py)", "",
             f"Good-cell method runs analysed: {len(df)} of {df.attrs.get('n_all', len(df))} runs in runs.csv "
             f"({df['cell'].nunique()} good cells). Spearman vs truth, mean [95% t-CI] (n = cells).", ""]
    ceil = df.groupby("dataset")["ceiling"].mean()
    lines.append("Best Spearman reachable without ties (the truth ties its irrelevant features, and interaction "
                 "partners): " + ", ".join(f"{d} {ceil[d]:.3f}" for d in order(list(ceil.index), DATASETS)) + ".")
    lines += ["", "## Overall (all datasets, architectures, seeds)"]
    for m in methods_of(df):
        lines.append(f"- {m}: Spearman {ci_of(df[df['method'] == m])}; top-k recall "
                     f"{ci_of(df[df['method'] == m], 'topk_recall')}; irrelevant share "
                     f"{ci_of(df[df['method'] == m], 'irrelevant_share')}")
    lines += ["", f"Best modern method by overall mean Spearman: **{best_modern}**.", ""]
    lines.append("## first_layer per dataset x architecture (mean Spearman over seeds; best and worst)")
    fl = grid[(grid["method"] == "first_layer") & (grid["metric"] == "spearman")].sort_values("mean")
    for _, r in pd.concat([fl.tail(3).iloc[::-1], fl.head(3)]).iterrows():
        lines.append(f"- {r['dataset']} / {r['model']}: {fmt(r['mean'], r['lo'], r['hi'])} (n={int(r['n'])})")
    lines += ["", "## Per dataset: classic answers vs the best modern method"]
    for ds in order(list(df["dataset"]), DATASETS):
        sub = df[df["dataset"] == ds]
        parts = [f"{m} {ci_of(sub[sub['method'] == m])}" for m in CLASSIC + [best_modern, "random"]
                 if m in set(sub["method"])]
        lines.append(f"- {ds}: " + "; ".join(parts))
    lines += ["", "## Per architecture: first_layer vs permutation vs the best modern method"]
    for mo in order(list(df["model"]), MODELS):
        sub = df[df["model"] == mo]
        parts = [f"{m} {ci_of(sub[sub['method'] == m])}" for m in ["first_layer", "permutation", best_modern]]
        lines.append(f"- {mo} ({MODEL_LABEL.get(mo, mo)}): " + "; ".join(parts))
    lines += ["", "## redundant / mlp_deep: data truth vs the model's own truth (model_spearman)"]
    sub = df[(df["dataset"] == "redundant") & (df["model"] == "mlp_deep")]
    for m in methods_of(sub):
        lines.append(f"- {m}: Spearman vs data truth {ci_of(sub[sub['method'] == m])}; vs the model's own "
                     f"Sobol ranking {ci_of(sub[sub['method'] == m], 'model_spearman')}")
    lines += ["", "## Irrelevant share on the redundant and correlated datasets (copies / decoy twins)"]
    for ds in ["redundant", "correlated_block"]:
        sub = df[df["dataset"] == ds]
        if len(sub):
            lines.append(f"- {ds}: " + "; ".join(f"{m} {ci_of(sub[sub['method'] == m], 'irrelevant_share')}"
                                                 for m in methods_of(sub)))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default="results/seed_question/runs.csv", type=Path)
    p.add_argument("--out", default="results/seed_question", type=Path)
    p.add_argument("--cells", nargs="*", default=["redundant/mlp_deep/0", "interaction/mlp/0"],
                   help="DATASET/MODEL/SEED cells to draw importance bars for")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    od = OutDir(args.out, "seed_question/analyse.py", args.force)  # refused before any work
    cells = []
    for c in args.cells:
        parts = c.split("/")
        if len(parts) != 3 or not parts[2].isdigit():
            raise SystemExit(f"--cells {c!r} is invalid: expected DATASET/MODEL/SEED, e.g. redundant/mlp_deep/0")
        cells.append((parts[0], parts[1], int(parts[2])))
    df = load(args.runs)
    if df.empty:
        raise SystemExit(f"no ok runs in good cells in {args.runs}")
    out = od.folder()
    methods = methods_of(df)
    datasets = order(list(df["dataset"]), DATASETS)
    models = order(list(df["model"]), MODELS)
    overall = df[df["method"].isin(MODERN)].groupby("method")["spearman"].mean()
    best_modern = str(overall.idxmax())

    long_d, text_d = wide(df, "method", "dataset", "spearman", methods, datasets)
    od.write_csv("by_dataset.csv", long_d)
    od.write_text("by_dataset.md", markdown_table(text_d) + "\n")
    long_m, text_m = wide(df, "method", "model", "spearman", methods, models)
    od.write_csv("by_model.csv", long_m)
    od.write_text("by_model.md", markdown_table(text_m) + "\n")
    long_i, text_i = wide(df, "method", "dataset", "irrelevant_share", methods, datasets)
    od.write_csv("irrelevant_share.csv", long_i)
    od.write_text("irrelevant_share.md", markdown_table(text_i) + "\n")
    long_t, text_t = wide(df, "method", "dataset", "model_spearman", methods, datasets)
    od.write_csv("model_truth.csv", long_t)
    od.write_text("model_truth.md",
        "Spearman vs the trained model's own truth (its total Sobol indices), mean [95% t-CI] over cells\n\n"
        + markdown_table(text_t) + "\n")
    grid = pd.concat([ci_frame(df, ["method", "dataset", "model"], m).assign(metric=m)
                      for m in ("spearman", "topk_recall", "irrelevant_share", "model_spearman")],
                     ignore_index=True)
    od.write_csv("grid.csv", grid)
    g = grid[grid["metric"] == "spearman"]
    g = g.assign(v=[fmt(m, a, b) for m, a, b in zip(g["mean"], g["lo"], g["hi"])])
    gt = g.pivot_table(index=["dataset", "model"], columns="method", values="v", aggfunc="first")
    gt = gt.reindex(index=pd.MultiIndex.from_tuples([(d, m) for d in datasets for m in models]), columns=methods)
    parts = ["Mean Spearman [95% t-CI] over seeds of the classic answers (and the best modern method) "
             "per dataset (rows) and architecture (columns)", ""]
    for m in [x for x in CLASSIC + [best_modern] if x in methods]:
        gm = g[g["method"] == m].pivot(index="dataset", columns="model", values="v").reindex(index=datasets,
                                                                                          columns=models)
        parts += [f"### {m}", "", markdown_table(gm.rename_axis(None, axis=1).reset_index()), ""]
    od.write_text("classic_by_arch.md", md_document(parts))
    od.write_text("grid_spearman.md",
        "Mean Spearman [95% t-CI] over seeds per dataset and architecture\n\n"
        + markdown_table(gt.rename_axis(["dataset", "model"]).rename_axis(None, axis=1).reset_index()) + "\n")
    cells_q = df.drop_duplicates("cell")
    qt = cells_q.groupby(["dataset", "model"])["quality"].agg(["mean", "min"]).unstack()
    qt = pd.DataFrame({mo: [f"{qt[('mean', mo)][d]:.3f} (min {qt[('min', mo)][d]:.3f})" for d in datasets]
                       for mo in models}, index=datasets)
    od.write_text("quality.md", "Model test R², mean (min) over seeds, per dataset and architecture\n\n"
                  + markdown_table(qt.rename_axis("dataset").reset_index()) + "\n")
    od.write_text("headline.md", md_text(headline(df, best_modern, grid)))
    for f in (plot_by_dataset(df, out / "spearman_by_dataset.png"),
              plot_grid(df, out / "classic_grid.png", best_modern),
              plot_irrelevant(df, out / "irrelevant_share.png"), *plot_cells(df, out, cells)):
        print(f"wrote {od.record(f)}")
    od.finish()
    print(f"wrote tables and headline.md to {out}/ (best modern method: {best_modern})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
