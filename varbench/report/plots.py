"""PNG plots of a report: score heatmap, critical-difference diagram, score vs cost with the
Pareto front, score vs model quality, truth-vs-method importance bars and interaction matrices;
`report_figures` / `interaction_figures` choose and draw the figures of a prepared track.

Figures are built with `matplotlib.figure.Figure` (Agg canvas, no pyplot global state) and
sized from the number of methods / datasets / features so labels do not collide.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from varbench.outdir import write_atomic

MARKERS = "osD^vP*Xh<>p"
DPI = 120


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.set_layout_engine("constrained")
    return fig


def _save(fig, path: str | Path) -> Path:
    """The figure as PNG at `path`, rendered in memory and written with `write_atomic` (a link at
    `path` is replaced, never followed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    write_atomic(path, buf.getvalue())
    return path


def _wrap(title: str, width_in: float, fontsize: float = 11) -> str:
    """Wrap a title to the figure width (about 0.55 em per character) so it is never cut."""
    import textwrap

    chars = max(20, int(width_in * 72 / (0.58 * fontsize)))
    return "\n".join(textwrap.fill(part, chars) for part in title.split("\n"))


def method_styles(methods: Sequence[str]) -> dict[str, tuple[tuple[float, ...], str]]:
    """A stable (colour, marker) per method, the same in every plot of a report."""
    from matplotlib import colormaps

    if len(methods) <= 10:
        colours = [colormaps["tab10"](i) for i in range(10)]
    else:  # tab20 lists dark/light pairs: the ten dark ones first, then the light ones
        tab20 = colormaps["tab20"]
        colours = [tab20(2 * i) for i in range(10)] + [tab20(2 * i + 1) for i in range(10)]
    return {m: (tuple(colours[i % len(colours)]), MARKERS[i % len(MARKERS)])
            for i, m in enumerate(sorted(methods))}


def metric_limits(metric: str) -> tuple[float, float]:
    """Colour/axis range of a metric: correlations live in [-1, 1], the rest in [0, 1]."""
    return (-1.0, 1.0) if any(w in metric for w in ("spearman", "kendall", "cosine")) else (0.0, 1.0)


def heatmap(matrix: pd.DataFrame, path: str | Path, title: str, metric: str,
            vmin: float | None = None, vmax: float | None = None) -> Path:
    """Annotated heatmap of a (methods x datasets) table of mean scores; NaN cells are grey."""
    from matplotlib import colormaps

    if matrix.empty:
        raise ValueError("heatmap: the matrix is empty")
    lo, hi = metric_limits(metric)
    vmin = lo if vmin is None else vmin
    vmax = hi if vmax is None else vmax
    n_rows, n_cols = matrix.shape
    label_w = max(len(str(m)) for m in matrix.index) * 0.085
    col_len = max(len(str(c)) for c in matrix.columns)
    # columns rotated 30 degrees: 0.9 in apart they cannot touch; their height adds to the figure
    col_w = 0.9 if n_cols > 1 else max(0.9, 0.075 * col_len)
    first_overhang = 0.075 * col_len * 0.87 if n_cols > 1 else 0.0   # the first label reaches left
    fig = _figure(max(5.0, 2.2 + max(label_w, first_overhang) + col_w * n_cols),
                  max(2.8, 1.6 + 0.42 * n_rows + (0.5 * 0.075 * col_len if n_cols > 1 else 0.0)))
    ax = fig.add_subplot()
    cmap = colormaps["RdYlGn"].with_extremes(bad="#d9d9d9")
    values = matrix.to_numpy(dtype=float)
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n_cols), [str(c) for c in matrix.columns], rotation=30 if n_cols > 1 else 0,
                  ha="right" if n_cols > 1 else "center", rotation_mode="anchor")
    ax.set_yticks(range(n_rows), [str(m) for m in matrix.index])
    fontsize = 9 if n_cols <= 8 else 7
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if np.isfinite(v):
                r, g, b, _ = cmap((v - vmin) / (vmax - vmin) if vmax > vmin else 0.5)
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=fontsize,
                        color="white" if dark else "black")
            else:
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=fontsize, color="#555555")
    ax.set_xlabel("dataset")
    ax.set_ylabel("method")
    ax.set_title(_wrap(title, fig.get_figwidth() - 1.5))
    fig.colorbar(im, ax=ax, label=f"mean {metric}", shrink=0.9)
    return _save(fig, path)


def cd_diagram(mean_ranks: pd.Series, cd: float, groups: Sequence[Sequence[str]], path: str | Path,
               title: str) -> Path:
    """Critical-difference diagram (Demsar 2006): methods on a mean-rank axis (1 = best, left),
    a bar of length CD, and thick lines joining methods whose ranks differ by at most CD."""
    ranks = mean_ranks.sort_values(kind="stable")
    k = len(ranks)
    if k < 2:
        raise ValueError(f"cd_diagram needs at least 2 methods, got {k}")
    names = [str(m) for m in ranks.index]
    half = math.ceil(k / 2)
    longest = max(len(f"{n} ({r:.2f})") for n, r in zip(names, ranks))
    width = max(7.0, 4.5 + 2 * 0.075 * longest + 0.25 * k)
    n_lines = half
    title = _wrap(title, width, 10)
    title_h = 0.2 + 0.2 * (title.count("\n") + 1)
    height = 1.3 + title_h + 0.3 * n_lines + 0.14 * len(groups)
    fig = _figure(width, height)
    fig.set_layout_engine(None)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - title_h / height))
    ax.set_axis_off()
    fig.suptitle(title, fontsize=10, y=1.0 - 0.08 / height, va="top")
    side = 0.075 * longest / width + 0.04    # axes fraction reserved for labels on each side
    left, right = side, 1.0 - side
    lo_r, hi_r = 1, k

    def x(r: float) -> float:
        return left + (r - lo_r) / (hi_r - lo_r) * (right - left)

    y_axis = 0.0
    step = 0.3
    groups_h = 0.14 * (len(groups) + 1)
    y_bottom = -(groups_h + step * (n_lines + 0.5))
    ax.set_xlim(0, 1)
    ax.set_ylim(y_bottom, 0.75)
    ax.plot([x(lo_r), x(hi_r)], [y_axis, y_axis], color="black", lw=1)
    for r in range(lo_r, hi_r + 1):
        ax.plot([x(r), x(r)], [y_axis, y_axis + 0.06], color="black", lw=1)
        ax.text(x(r), y_axis + 0.1, str(r), ha="center", va="bottom", fontsize=9)
    ax.text(x(lo_r) - 0.02, y_axis, "mean rank", ha="right", va="center", fontsize=9, color="0.3")
    if np.isfinite(cd):
        end = min(lo_r + cd, hi_r)
        ax.plot([x(lo_r), x(end)], [0.5, 0.5], color="black", lw=2)
        ax.plot([x(lo_r)] * 2, [0.46, 0.54], color="black", lw=1)
        ax.plot([x(end)] * 2, [0.46, 0.54], color="black", lw=1)
        ax.text((x(lo_r) + x(end)) / 2, 0.56, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    for gi, g in enumerate(groups):
        rs = [float(ranks[m]) for m in g]
        y = y_axis - 0.14 * (gi + 1)
        ax.plot([x(min(rs)) - 0.005, x(max(rs)) + 0.005], [y, y], color="black", lw=4, solid_capstyle="round")
    for i, (name, r) in enumerate(zip(names, ranks)):
        on_left = i < half
        row = i if on_left else k - 1 - i
        y = y_axis - groups_h - step * (row + 0.5)
        xe = left - 0.01 if on_left else right + 0.01
        ax.plot([x(r), x(r), xe], [y_axis, y, y], color="black", lw=0.9)
        ax.text(xe - 0.005 if on_left else xe + 0.005, y, f"{name} ({r:.2f})", ha="right" if on_left else "left",
                va="center", fontsize=9)
    return _save(fig, path)


def pareto_front(cost: Sequence[float], score: Sequence[float]) -> np.ndarray:
    """Indices of the points no other point dominates (cost <= and score >= with one strict),
    sorted by cost. NaN points are never on the front."""
    c = np.asarray(cost, dtype=float)
    s = np.asarray(score, dtype=float)
    ok = np.isfinite(c) & np.isfinite(s)
    le_c = c[None, :] <= c[:, None]          # [i, j]: j costs no more than i
    ge_s = s[None, :] >= s[:, None]
    strict = (c[None, :] < c[:, None]) | (s[None, :] > s[:, None])
    dominated = np.any(le_c & ge_s & strict & ok[None, :], axis=1)
    idx = np.flatnonzero(ok & ~dominated)
    return idx[np.lexsort((-s[idx], c[idx]))]


def cost_scatter(table: pd.DataFrame, path: str | Path, metric: str, title: str,
                 styles: Mapping[str, tuple] | None = None) -> Path:
    """Mean score (with its CI) against mean seconds per method on a log axis, with the Pareto
    front (cheaper and better) drawn as a staircase. table: method, seconds, mean, lo, hi."""
    t = table.dropna(subset=["seconds", "mean"]).reset_index(drop=True)
    if t.empty:
        raise ValueError("cost_scatter: no method has both a cost and a score")
    styles = styles or method_styles(list(t["method"]))
    secs = np.maximum(t["seconds"].to_numpy(dtype=float), 1e-5)
    front = pareto_front(secs, t["mean"].to_numpy())
    fig = _figure(7.5 + 0.1 * max(len(str(m)) for m in t["method"]), max(4.8, 1.2 + 0.22 * (len(t) + 1)))
    ax = fig.add_subplot()
    fx, fy = secs[front], t["mean"].to_numpy()[front]
    ax.step(np.r_[fx, fx[-1] * 3], np.r_[fy, fy[-1]], where="post", color="0.4", ls="--", lw=1.2,
            label="Pareto front", zorder=1)
    for i, row in t.iterrows():
        color, marker = styles[row["method"]]
        lo, hi = row.get("lo", np.nan), row.get("hi", np.nan)
        yerr = [[row["mean"] - lo], [hi - row["mean"]]] if np.isfinite(lo) and np.isfinite(hi) else None
        ax.errorbar(secs[i], row["mean"], yerr=yerr, fmt=marker, color=color, ms=8, capsize=3,
                    mec="black" if i in front else color, mew=1.2,
                    label=f"{row['method']}" + ("  (Pareto)" if i in front else ""), zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel("mean seconds per run (log scale)")
    ax.set_ylabel(f"mean {metric} (95% t-CI over cells)")
    ax.set_title(_wrap(title, fig.get_figwidth() - 2.5))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return _save(fig, path)


def quality_scatter(runs: pd.DataFrame, path: str | Path, metric: str, title: str,
                    threshold: float | None = None, quality_label: str = "model quality",
                    styles: Mapping[str, tuple] | None = None) -> Path:
    """Score of every method run against its cell's model quality; hollow markers are
    low-quality cells. runs: method, quality, score, low (bool)."""
    r = runs.dropna(subset=["quality", "score"])
    if r.empty:
        raise ValueError("quality_scatter: no run has both a model quality and a score")
    methods = sorted(r["method"].unique())
    styles = styles or method_styles(methods)
    fig = _figure(7.5 + 0.1 * max(len(m) for m in methods), max(4.8, 1.2 + 0.22 * (len(methods) + 2)))
    ax = fig.add_subplot()
    from matplotlib.transforms import ScaledTranslation

    step = min(4.0, 30.0 / max(1, len(methods) - 1))     # points; equal (quality, score) pairs side by side
    for i, m in enumerate(methods):
        color, marker = styles[m]
        dodge = ax.transData + ScaledTranslation((i - (len(methods) - 1) / 2) * step / 72, 0, fig.dpi_scale_trans)
        sub = r[r["method"] == m]
        good, low = sub[~sub["low"]], sub[sub["low"]]
        ax.scatter(good["quality"], good["score"], color=color, marker=marker, s=36, alpha=0.85, label=m,
                   transform=dodge)
        if len(low):
            ax.scatter(low["quality"], low["score"], facecolors="none", edgecolors=[color], marker=marker,
                       s=36, alpha=0.9, transform=dodge)
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="0.3", ls=":", lw=1.2, label=f"quality threshold {threshold:g}")
    if r["low"].any():
        ax.scatter([], [], facecolors="none", edgecolors="0.3", marker="o", label="low-quality cell (hollow)")
    ax.set_ylim(*(v + d for v, d in zip(metric_limits(metric), (-0.05, 0.05))))
    # a dodged transform is not autoscaled: set x limits from the data (6% margin covers the dodge)
    xs = r["quality"].to_numpy(dtype=float)
    if threshold is not None and np.isfinite(threshold):
        xs = np.r_[xs, threshold]
    lo, hi = float(xs.min()), float(xs.max())
    pad = 0.06 * (hi - lo) if hi > lo else max(0.01, 0.01 * abs(lo))
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(quality_label + f"  (methods dodged by {step:.0f} pt)")
    ax.set_ylabel(metric)
    ax.set_title(_wrap(title, fig.get_figwidth() - 2.5))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return _save(fig, path)


def _normalise(v: np.ndarray) -> np.ndarray:
    a = np.abs(np.asarray(v, dtype=float))
    top = a.max() if a.size else 0.0
    return a / top if top > 0 else a


def importance_bars(truth: Sequence[float], feature_names: Sequence[str],
                    importances: Mapping[str, Sequence[float]], path: str | Path, title: str,
                    subtitles: Mapping[str, str] | None = None,
                    styles: Mapping[str, tuple] | None = None) -> Path:
    """One panel per method: its |importance| normalised to max 1 (bars) against the truth
    normalised the same way (black outline), plus a first panel with the truth alone."""
    truth_n = _normalise(truth)
    d = truth_n.size
    names = list(feature_names) if feature_names and len(feature_names) == d else [f"x{j}" for j in range(d)]
    methods = list(importances)
    styles = styles or method_styles(methods)
    panels = ["truth"] + methods
    ncols = min(3 if d <= 15 else 2 if d <= 40 else 1, len(panels))   # wide panels for many features
    nrows = math.ceil(len(panels) / ncols)
    label_len = max(len(n) for n in names)
    panel_w = min(8.0, max(3.2, 0.28 * d + 0.8))
    panel_h = 2.2 + (0.06 * label_len if d <= 40 else 0.0)
    fig = _figure(panel_w * ncols, panel_h * nrows + 0.6)
    fig.suptitle(_wrap(title, fig.get_figwidth()), fontsize=11)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    xs = np.arange(d)
    every = max(1, math.ceil(d / 40))
    for p, ax in enumerate(axes.flat):
        if p >= len(panels):
            ax.set_axis_off()
            continue
        name = panels[p]
        if name == "truth":
            ax.bar(xs, truth_n, color="0.35", width=0.8)
        else:
            ax.bar(xs, _normalise(importances[name]), color=styles[name][0], width=0.8, alpha=0.85)
            ax.bar(xs, truth_n, fill=False, edgecolor="black", width=0.8, lw=1.0)
        sub = (subtitles or {}).get(name, "")
        ax.set_title(name + (f"  ({sub})" if sub else ""), fontsize=9)
        ax.set_ylim(0, 1.08)
        ax.set_xticks(xs[::every], names[::every], rotation=90 if label_len > 3 or d > 12 else 0, fontsize=7)
        if p % ncols == 0:
            ax.set_ylabel("|importance| / max")
        if p // ncols == nrows - 1 or p + ncols >= len(panels):
            ax.set_xlabel("feature")
    if methods:
        from matplotlib.patches import Patch

        fig.legend(handles=[Patch(facecolor="0.6", label="method (filled)"),
                            Patch(fill=False, edgecolor="black", label="truth (outline)")],
                   loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return _save(fig, path)


def interaction_panels(truth: np.ndarray, matrices: Mapping[str, np.ndarray], path: str | Path, title: str,
                       subtitles: Mapping[str, str] | None = None) -> Path:
    """One small heatmap per method of its |pairwise interaction matrix| normalised to max 1,
    after a first panel with the true interaction matrix (diagonals blank)."""
    panels = {"truth": np.asarray(truth, float), **{m: np.asarray(v, float) for m, v in matrices.items()}}
    d = panels["truth"].shape[0]
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    size = min(3.4, max(2.4, 0.22 * d + 1.0))
    fig = _figure(size * ncols + 0.8, size * nrows + 0.7)
    fig.suptitle(_wrap(title, fig.get_figwidth()), fontsize=11)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    im = None
    for p, ax in enumerate(axes.flat):
        if p >= len(panels):
            ax.set_axis_off()
            continue
        name = list(panels)[p]
        m = np.abs(panels[name]).copy()
        np.fill_diagonal(m, np.nan)
        top = np.nanmax(m) if np.any(np.isfinite(m)) else 0.0
        m = m / top if top > 0 else m
        im = ax.imshow(np.ma.masked_invalid(m), cmap="viridis", vmin=0, vmax=1)
        sub = (subtitles or {}).get(name, "")
        ax.set_title(name + (f"\n{sub}" if sub else ""), fontsize=9)
        ticks = np.arange(d)[:: max(1, math.ceil(d / 12))]
        ax.set_xticks(ticks, [f"x{j}" for j in ticks], fontsize=7, rotation=90)
        ax.set_yticks(ticks, [f"x{j}" for j in ticks], fontsize=7)
    if im is not None:
        fig.colorbar(im, ax=axes, label="|strength| / max (diagonal blank)", shrink=0.8)
    return _save(fig, path)


# ------------------------------------------------------------------ the figures of a report
def safe_name(name: str) -> str:
    """A file-name-safe version of a label."""
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def parse_cell(text: str) -> tuple[str, str, int]:
    """'DATASET/MODEL/SEED' (SEED may be 'seed3') -> (dataset, model, seed)."""
    import re

    parts = text.split("/")
    m = re.fullmatch(r"(?:seed)?(\d+)", parts[-1]) if len(parts) == 3 else None
    if not m:
        raise ValueError(f"--cell={text!r} is invalid: expected DATASET/MODEL/SEED, e.g. linear/mlp/0")
    return parts[0], parts[1], int(m.group(1))


def importance_cells(data, cell: str | None) -> list[str]:
    """Cell labels to draw importance bars for: the chosen one, or the first (lowest seed,
    preferring good cells) of each setting."""
    r = data.runs
    if cell:
        ds, model, seed = parse_cell(cell)
        hit = r[(r["dataset"] == ds) & (r["model"] == model) & (r["seed"] == seed)]
        if hit.empty:
            raise ValueError(f"--cell={cell!r} is invalid: no method runs in that cell")
        return list(dict.fromkeys(hit["cell"]))
    first = r.sort_values(["low", "seed"], kind="stable").drop_duplicates("setting")
    order = {s: i for i, s in enumerate(data.settings)}
    return list(first.assign(_o=first["setting"].map(order)).sort_values("_o")["cell"])


def report_figures(data, out: Path, comp, scores: pd.DataFrame, cell: str | None = None,
                   ranks: pd.DataFrame | None = None) -> tuple[list[tuple[Path, str]], list[str]]:
    """Every plot of the main track that the data allow: ([(path, caption)], notes on plots skipped)."""
    import json

    from varbench.report.tables import ALPHA, ci_table, cost_table, rank_table

    m = data.metric
    figs: list[tuple[Path, str]] = []
    notes: list[str] = []
    styles = method_styles(sorted(data.runs["method"].unique()))
    ranks = rank_table(data) if ranks is None else ranks
    if not scores.empty and scores[m].notna().any():
        mat = scores.pivot_table(index="method", columns="setting", values=m, aggfunc="first", dropna=False)
        mat = mat.reindex(index=[x for x in ranks["method"] if x in mat.index] +
                          [x for x in mat.index if x not in set(ranks["method"])],
                          columns=[s for s in data.settings if s in mat.columns])
        figs.append((heatmap(mat, out / "heatmap.png",
                             f"Mean {m} per method and dataset\n(good cells; rows ordered by mean rank)", m),
                     f"Mean {m} per method and dataset ({data.spec.direction})."))
    else:
        notes.append("heatmap: no scored runs in good cells")
    if comp.ok:
        verdict = f"Friedman p = {comp.pvalue:.3g}" if np.isfinite(comp.pvalue) else "Friedman undefined"
        figs.append((cd_diagram(comp.mean_ranks, comp.cd, comp.groups, out / "critical_difference.png",
                                f"Critical difference diagram: Nemenyi CD (alpha={ALPHA}); {verdict}\n"
                                f"mean rank by {m} over {comp.n_blocks} complete cells "
                                f"({comp.n_dropped} dropped); bars join methods within CD"),
                     "Critical-difference diagram of the compared methods (cells as blocks; the bars overlap and "
                     "are not tiers: tiers.csv has the disjoint tiers with datasets as units)."))
    else:
        notes.append(f"critical-difference diagram: {comp.note}")
    s = data.scored
    ci = ci_table(s, ["method"], [m]).rename(columns={m: "mean", f"{m}_lo": "lo", f"{m}_hi": "hi"})
    ci = ci.merge(cost_table(data)[["method", "seconds"]], on="method", how="left")
    if not ci.dropna(subset=["mean", "seconds"]).empty:
        figs.append((cost_scatter(ci, out / "score_vs_cost.png", m,
                                  f"Mean {m} vs cost ({s['cell'].nunique()} good cells)", styles),
                     "Score against cost, with the Pareto front."))
    else:
        notes.append("score vs cost: no method has both a score and a cost in good cells")
    allr = data.runs[(data.runs["status"] == "ok") & (data.runs["role"] != "ceiling")]
    q = allr.assign(score=allr[m])[["method", "quality", "score", "low"]]
    if q.dropna(subset=["quality", "score"]).empty:
        notes.append("score vs quality: no run has both a model quality and a score")
    else:
        names = set(allr["quality_name"]) - {""}
        label = {"R2": "model quality: test R²", "AUC": "model quality: test ROC AUC"}.get(
            next(iter(names)) if len(names) == 1 else "", "model quality (test R² or ROC AUC)")
        figs.append((quality_scatter(q, out / "score_vs_quality.png", m, f"{m} vs model quality (every method run)",
                                     data.quality_threshold, label, styles),
                     "Score of every method run against its model's quality (hollow: low-quality cells)."))
    for c in importance_cells(data, cell):
        rows = data.runs[data.runs["cell"] == c]
        key = rows.iloc[0]
        if not isinstance(key.get("truth"), str) or not key.get("truth"):
            notes.append(f"importance bars for {c}: the cell run (with its truth) is not in the store/filter")
            continue
        truth = json.loads(key["truth"])
        names = str(key.get("feature_names") or "").split(",")
        ok = rows[(rows["status"] == "ok") & (rows["importance"] != "") & (rows["role"] != "ceiling")]
        ok = ok.set_index("method").reindex([x for x in ranks["method"] if x in set(ok["method"])] +
                                            sorted(set(ok["method"]) - set(ranks["method"])))
        imps = {meth: json.loads(v) for meth, v in ok["importance"].items()}
        subs = {meth: f"{m} {v:.2f}" if np.isfinite(v) else f"{m} n/a" for meth, v in ok[m].items()}
        qv = key["quality"]
        qname = {"R2": "test R²", "AUC": "test ROC AUC"}.get(key["quality_name"], "quality")
        title = (f"Importance vs truth, {c}" + (f" ({qname} {qv:.2f})" if np.isfinite(qv) else "")
                 + ("  [LOW QUALITY]" if key["low"] else ""))
        figs.append((importance_bars(truth, names, imps, out / f"importance_{safe_name(c)}.png", title, subs, styles),
                     f"Each method's importance against the truth in cell {c}."))
    return figs, notes


def interaction_figures(data, out: Path, scores: pd.DataFrame) -> tuple[list[tuple[Path, str]], list[str]]:
    """The interaction track's plots: a heatmap of mean pairwise AUROC and, for the first cell of
    each setting, the true interaction matrix beside every method's."""
    import json

    figs: list[tuple[Path, str]] = []
    notes: list[str] = []
    m = data.metric
    if scores.empty or not scores[m].notna().any():
        return figs, ["interaction heatmap: no scored interaction runs in good cells"]
    matrix = scores.pivot_table(index="method", columns="setting", values=m, aggfunc="first", dropna=False)
    matrix = matrix.loc[matrix.mean(axis=1).sort_values(ascending=False).index]
    figs.append((heatmap(matrix, out / "interactions_heatmap.png",
                         "Interaction track: mean pairwise ROC AUC (true pairs vs the rest)", m),
                 "Mean pairwise ROC AUC of true interacting pairs vs the rest."))
    ok = data.scored
    for setting, g in ok.groupby("setting", sort=True):
        first = g.sort_values(["seed", "model"]).iloc[0]
        truth = first.get("truth_interactions")
        if not isinstance(truth, str) or not truth:
            notes.append(f"interaction panels for {first['cell']}: the cell's truth is not in the store/filter")
            continue
        same = g[g["cell"] == first["cell"]]
        mats = {r["method"]: np.array(json.loads(r["interactions"])) for _, r in same.iterrows()
                if isinstance(r.get("interactions"), str) and r["interactions"]}
        if not mats:
            continue
        sub = {r["method"]: f"AUC {float(r[m]):.2f}" for _, r in same.iterrows()
               if r["method"] in mats and math.isfinite(float(r[m]))}
        name = f"interactions_{safe_name(first['dataset'])}_{safe_name(str(first['model']))}_seed{int(first['seed'])}.png"
        figs.append((interaction_panels(np.array(json.loads(truth)), mats, out / name,
                                        f"Interactions vs truth, {first['cell']}", sub),
                     f"True interaction matrix beside every method's, cell {first['cell']}."))
    return figs, notes
