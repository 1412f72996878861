"""correlation study: `varbench report`'s runs.csv -> rankings against feature correlation.

    python experiments/correlation/plot_vs_correlation.py --runs results/correlation/runs.csv --out results/correlation

Dataset names carry the family and the correlation: `<family>_rNN` means rho = NN / 100
(conf/dataset/xai_bench_r*.yaml, decoys_r*.yaml, decoys_noisy_r*.yaml). The runs go through the
report layer's preparation (varbench.report): failed runs and cells whose model failed to learn
(`low`) are left out. Every mean comes with a 95% Student t interval over seeds, clipped to the
metric's range (varbench.report.ci_table).

"Decoy share" is the share of a method's sum |importance| that falls on features the function
never reads (truth 0): the decoy twins in decoys*, the weight-0 feature in xai_bench; the run
table's `irrelevant_share`, computed from the truth each run carries.

Writes into --out:
  by_rho.csv             family x model x rho x method: n, mean, lo, hi of spearman, topk_recall,
                         irrelevant_share, model_spearman and model quality (test R^2)
  spearman_by_rho.md, topk_by_rho.md, irrelevant_share_by_rho.md, model_truth_by_rho.md
                         method x rho, one table per family (model_truth: Spearman vs the trained
                         network's own total Sobol indices, i.e. faithfulness to the model)
  headline.md            the numbers the write-up quotes, generated
  vs_correlation_<family>[_<model>].png   one figure per dataset family (and model)
"""
from __future__ import annotations

import argparse
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from varbench.outdir import FORCE_HELP, OutDir
from varbench.report import ci_table, ci_text, markdown_table, ordered, read_runs
from varbench.report.plots import _save
from varbench.report.render import md_document, md_text

FAMILIES = ["xai_bench", "decoys", "decoys_noisy"]
FAMILY_TITLE = {
    "xai_bench": "XAI-Bench Gaussian linear: 5 equicorrelated features, weights [4,3,2,1,0], noise 0.01",
    "decoys": "decoys: weights [4,3,2,1] each with a decoy twin (corr rho within a pair), noise 0.01",
    "decoys_noisy": "decoys_noisy: as decoys with noise 1.0",
}
MARGINAL = ["permutation", "kernel_shap", "sage", "sobol_total", "integrated_gradients", "lime"]
CONDITIONAL = ["conditional_permutation", "loco", "drop_column"]
OTHER = ["first_layer", "random"]
METHOD_ORDER = MARGINAL + CONDITIONAL + OTHER
# logged by the runner since issue 15 (absent from older runs tables): tables only
EXTRA = {"decoy_share": "decoy share: |imp(decoy)| / (|imp(decoy)| + |imp(twin)|), mean over pairs",
         "importance_tv": "TV distance of the normalised |importance| from the normalised truth",
         "estimand_spearman": "Spearman vs the exact value of the method's own estimand",
         "estimand_tv": "TV distance from the exact value of the method's own estimand"}
METRICS = {"spearman": "Spearman vs truth", "topk_recall": "top-k recall (k = 4 relevant)",
           "irrelevant_share": "share of |importance| on decoys (irrelevant)"}
NAME = re.compile(r"^(?P<family>.+)_r(?P<rho>\d{2})$")


def parse_dataset(name: str) -> tuple[str, float]:
    """'decoys_noisy_r95' -> ('decoys_noisy', 0.95)."""
    m = NAME.match(name)
    if not m:
        raise ValueError(f"dataset={name!r} is invalid: expected <family>_rNN (rho = NN / 100)")
    return m.group("family"), int(m.group("rho")) / 100


def load(path: Path) -> pd.DataFrame:
    """ok runs in good cells, with family, rho and irrelevant_share columns."""
    data = read_runs(path)
    df = data.ok.copy()
    df["seed"] = df["seed"].astype(int)
    parsed = [parse_dataset(d) for d in df["dataset"]]
    df["family"] = [f for f, _ in parsed]
    df["rho"] = [r for _, r in parsed]
    df.attrs.update(n_all=len(data.runs), n_low=len(data.low))
    return df


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """family x model x rho x method: n, mean, lo, hi per metric, plus model quality."""
    cols = list(METRICS) + ["model_spearman", "quality"] + [m for m in EXTRA if m in df]
    s = ci_table(df.sort_values(["family", "model", "rho", "method"], kind="stable"),
                 ["family", "model", "rho", "method"], cols,
                 bounds={"irrelevant_share": (0.0, 1.0), "quality": (-np.inf, 1.0),
                         **{m: (0.0, 1.0) for m in ("decoy_share", "importance_tv", "estimand_tv")}})
    return s[["family", "model", "rho", "method"] + [f"{m}{x}" for m in cols for x in ("_n", "", "_lo", "_hi")]]


def methods_in(df: pd.DataFrame) -> list[str]:
    return ordered(list(df["method"]), METHOD_ORDER)


def style(method: str) -> dict:
    """Marginal methods solid, conditional/retraining dashed, weights and floor dotted."""
    colours = {"permutation": "#1f77b4", "kernel_shap": "#9467bd", "sage": "#e377c2", "sobol_total": "#393b79",
               "integrated_gradients": "#17becf", "lime": "#bcbd22", "conditional_permutation": "#2ca02c",
               "loco": "#ff7f0e", "drop_column": "#d62728", "first_layer": "#8c564b", "random": "#7f7f7f"}
    markers = dict(zip(METHOD_ORDER, "osDv^P*Xhp<"))
    ls = "-" if method in MARGINAL else "--" if method in CONDITIONAL else ":"
    return {"color": colours.get(method, "black"), "marker": markers.get(method, "o"), "ls": ls}


def fmt(mean: float, lo: float, hi: float, digits: int = 2) -> str:
    return ci_text(mean, lo, hi, digits, single="", missing="")


GROUPS = [("marginal methods (explain the model; interventional / marginal)", MARGINAL),
          ("conditional and retraining methods, first-layer weights", CONDITIONAL + ["first_layer"])]


def plot_family(s: pd.DataFrame, family: str, model: str, path: Path) -> Path:
    """2 x 3 panels: rows = method group (marginal; conditional / retraining / first-layer weights),
    columns = Spearman, top-k recall, decoy share, against rho. One line per method with its 95% CI
    band; the random floor as a grey line in every panel (no band, so it does not hide the rest).
    x positions equally spaced (methods dodged by 0.04) and labelled with rho and the model's test R^2."""
    from matplotlib.figure import Figure

    rhos = sorted(s["rho"].unique())
    xs = {r: i for i, r in enumerate(rhos)}
    q = s.groupby("rho")["quality"].mean()
    present = set(s["method"])
    fig = Figure(figsize=(17, 10.5), dpi=120, layout="constrained")
    axes = fig.subplots(2, 3, sharex=True)
    floor = s[s["method"] == "random"].sort_values("rho")
    real = s[s["method"] != "random"]
    lows = {"spearman": min(0.0, float(np.nanmin(real["spearman_lo"].to_numpy(dtype=float)))) - 0.05,
            "topk_recall": min(0.4, float(np.nanmin(real["topk_recall_lo"].to_numpy(dtype=float)))) - 0.05}
    top_share = max(0.55, float(np.nanmax(real["irrelevant_share_hi"].to_numpy(dtype=float))) + 0.03)
    for row, (group_title, group) in enumerate(GROUPS):
        methods = [m for m in group if m in present]
        for col, (metric, label) in enumerate(METRICS.items()):
            ax = axes[row, col]
            for k, m in enumerate(methods):
                g = s[s["method"] == m].sort_values("rho")
                # dodge: methods with identical values stay visible side by side
                x = np.asarray([xs[r] for r in g["rho"]]) + (k - (len(methods) - 1) / 2) * 0.04
                st = style(m)
                ax.plot(x, g[metric], color=st["color"], marker=st["marker"], ls=st["ls"], lw=1.8, ms=6, label=m)
                lo, hi = g[f"{metric}_lo"].to_numpy(dtype=float), g[f"{metric}_hi"].to_numpy(dtype=float)
                ok = np.isfinite(lo) & np.isfinite(hi)
                ax.fill_between(x[ok], lo[ok], hi[ok], color=st["color"], alpha=0.13, lw=0)
            if not floor.empty:
                ax.plot([xs[r] for r in floor["rho"]], floor[metric], color="0.55", ls=":", marker="<", ms=4,
                        lw=1.2, label="random (floor; no band)")
            ax.set_ylim(lows.get(metric, -0.01), 1.02 if metric != "irrelevant_share" else top_share)
            ax.grid(alpha=0.3)
            ax.set_title(f"{label}", fontsize=10)
            if col == 0:
                ax.set_ylabel(group_title.split(" (")[0], fontsize=10)
            if row == 1:
                ax.set_xticks(range(len(rhos)), [f"{r:g}\nR²={q[r]:.3f}" for r in rhos], fontsize=8)
                ax.set_xlabel("correlation rho (model test R² below)")
        axes[row, 2].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False,
                            title=group_title.replace(" (", "\n("), title_fontsize=8)
    n = int(s["spearman_n"].max())
    fig.suptitle(textwrap.fill(f"{FAMILY_TITLE.get(family, family)}; model {model}. Mean over {n} seeds "
                               "with 95% t-CI bands", 150), fontsize=11)
    _save(fig, path)
    return path


def rho_table(s: pd.DataFrame, metric: str) -> str:
    """Markdown: one table per family (and model), methods x rho, 'mean [lo, hi]'."""
    parts = []
    for (fam, model), g in s.groupby(["family", "model"], sort=False):
        digits = 3 if metric in ("irrelevant_share", "decoy_share", "importance_tv", "estimand_tv") else 2
        g = g.assign(v=[fmt(a, b, c, digits) for a, b, c in zip(g[metric], g[f"{metric}_lo"], g[f"{metric}_hi"])])
        t = g.pivot(index="method", columns="rho", values="v").reindex(index=methods_in(g))
        t.columns = [f"rho={c:g}" for c in t.columns]
        parts += [f"### {fam} ({model})", "", markdown_table(t.rename_axis(None, axis=1).reset_index()), ""]
    return md_document(parts)


def headline(df: pd.DataFrame, s: pd.DataFrame) -> str:
    """Generated sentences with the numbers the write-up quotes."""
    lines = ["# correlation: headline numbers (generated by plot_vs_correlation.py)", "",
             f"{len(df)} ok method runs in good cells analysed ({df.attrs.get('n_all', len(df))} runs in runs.csv; "
             f"{df.attrs.get('n_low', 0)} in low-quality cells excluded). Mean [95% t-CI] over seeds.", ""]
    for (fam, model), g in s.groupby(["family", "model"], sort=False):
        lo_rho, hi_rho = g["rho"].min(), g["rho"].max()
        lines.append(f"## {fam} ({model}): rho {lo_rho:g} -> {hi_rho:g}")
        q = g.groupby("rho")["quality"].mean()
        lines.append("- model test R²: " + ", ".join(f"rho {r:g}: {v:.4f}" for r, v in q.items()))
        for m in methods_in(g):
            a = g[(g["method"] == m) & (g["rho"] == lo_rho)].iloc[0]
            b = g[(g["method"] == m) & (g["rho"] == hi_rho)].iloc[0]
            lines.append(f"- {m}: Spearman {fmt(a['spearman'], a['spearman_lo'], a['spearman_hi'])} -> "
                         f"{fmt(b['spearman'], b['spearman_lo'], b['spearman_hi'])}; top-k recall "
                         f"{fmt(a['topk_recall'], a['topk_recall_lo'], a['topk_recall_hi'])} -> "
                         f"{fmt(b['topk_recall'], b['topk_recall_lo'], b['topk_recall_hi'])}; decoy share "
                         f"{fmt(a['irrelevant_share'], a['irrelevant_share_lo'], a['irrelevant_share_hi'], 3)} -> "
                         f"{fmt(b['irrelevant_share'], b['irrelevant_share_lo'], b['irrelevant_share_hi'], 3)}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default="results/correlation/runs.csv", type=Path)
    p.add_argument("--out", default="results/correlation", type=Path)
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    od = OutDir(args.out, "correlation/plot_vs_correlation.py", args.force)  # refused before any work
    df = load(args.runs)
    if df.empty:
        raise SystemExit(f"no ok runs in good cells in {args.runs}")
    s = summarise(df)
    fam_order = {f: i for i, f in enumerate(FAMILIES)}
    s = s.sort_values(["family", "model", "rho"], key=lambda c: c.map(fam_order).fillna(99) if c.name == "family"
                      else c).reset_index(drop=True)
    od.write_csv("by_rho.csv", s)
    titles = {**METRICS, **EXTRA, "model_spearman": "Spearman vs the trained model's own truth (its total Sobol indices)"}
    for metric, name in (("spearman", "spearman_by_rho"), ("topk_recall", "topk_by_rho"),
                         ("irrelevant_share", "irrelevant_share_by_rho"), ("model_spearman", "model_truth_by_rho"),
                         *((m, f"{m}_by_rho") for m in EXTRA if m in s and s[m].notna().any())):
        od.write_text(f"{name}.md", f"# {titles[metric]} against correlation (mean [95% t-CI] over seeds)"
                                    f"\n\n{rho_table(s, metric)}")
    od.write_text("headline.md", md_text(headline(df, s)))
    many_models = s["model"].nunique() > 1
    for (fam, model), g in s.groupby(["family", "model"], sort=False):
        name = f"vs_correlation_{fam}" + (f"_{model}" if many_models else "") + ".png"
        print(f"wrote {od.record(plot_family(g, fam, model, od.folder() / name))}")
    od.finish()
    print(f"wrote by_rho.csv, *_by_rho.md and headline.md to {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
