"""The report's files: CSV tables, PNG figures, recommendation.md, and one document rendered as
report.md and report.html, written through `varbench.outdir.OutDir`: a report replaces the files
of the previous report in its folder (those the folder's hashed manifest records, with their
recorded content) and touches nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from varbench.methods.base import Q
from varbench.outdir import OutDir
from varbench.report.discriminability import discriminability_table
from varbench.report.importances import seed_intervals
from varbench.report.metrics import METRICS
from varbench.report.prepare import ReportData, numeric
from varbench.report.recommend import coverage_note, recommendation
from varbench.report.render import (Document, Figure, Link, Section, Table, Text, markdown_table, md_document, md_text,
                                    to_html, to_markdown)
from varbench.report.stats import Comparison
from varbench.report.tiers import DatasetComparison, dataset_level
from varbench.report.tables import (ALPHA, ceiling_table, ci_table, comparison, cost_table, coverage, failed_table,
                                    leaderboard, low_quality_table, rank_table, score_table, tidy_labels,
                                    selection_table, wide_comparison, with_ci)
from varbench.scoring import ESTIMAND_METRICS, MAGNITUDE_METRICS, SELECTION_METRICS

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class Written:
    """What `write_report` produced."""

    paths: list[Path] = field(default_factory=list)
    comparison: Comparison | None = None
    tiers: DatasetComparison | None = None
    notes: list[str] = field(default_factory=list)


def _shown_p(w: pd.DataFrame) -> pd.DataFrame:
    """p-values with 3 significant digits (tiny ones stay readable)."""
    return w.assign(p=w["p"].map(lambda v: f"{v:.3g}"), p_holm=w["p_holm"].map(lambda v: f"{v:.3g}"))


def stats_blocks(comp: Comparison) -> list:
    """The statistics section: Friedman, Nemenyi groups and pairs, Wilcoxon-Holm."""
    if not comp.ok:
        return [Text(f"Not computed: {comp.note}.")]
    sig = "**significant**" if comp.pvalue < ALPHA else "not significant"
    text = (f"Blocks: {comp.n_blocks} cells where every compared method has a score "
            f"({comp.n_dropped} cell(s) dropped for a missing or failed method). Methods: "
            f"{', '.join(comp.methods)}.\n\n"
            f"- Friedman chi-square (tie-corrected, df = {len(comp.methods) - 1}): {comp.statistic:.3f}, "
            f"p = {comp.pvalue:.3g} -> {sig} at alpha = {ALPHA}.\n"
            f"- Nemenyi critical difference (alpha = {comp.alpha}): CD = {comp.cd:.3f} "
            f"(q_alpha * sqrt(k(k+1)/(6N)), k = {len(comp.methods)}, N = {comp.n_blocks}). Bars of the "
            "critical-difference diagram (cells as blocks; the bars overlap, so they are not tiers: tiers.csv "
            "has the disjoint tiers with datasets as units): "
            + ("; ".join("{" + ", ".join(g) + "}" for g in comp.groups) if comp.groups else "none") + ".")
    if comp.left_out:
        text += "\n- " + coverage_note(comp)
    w = _shown_p(comp.wilcoxon)
    return [Text(text), Table(comp.nemenyi, caption="Nemenyi pairs (mean-rank difference > CD is significant):"),
            Table(w, caption="Wilcoxon signed-rank (two-sided, zero differences dropped), Holm-corrected over all "
                             "pairs:")]


def tier_blocks(dl: DatasetComparison) -> list:
    """The section on datasets as units: the tier rule, tiers.csv's table and the pairs' count."""
    if not dl.ok:
        return [Text(f"Not computed: {dl.note}.")]
    shown = dl.tiers.assign(p_holm_vs_head=dl.tiers["p_holm_vs_head"].map(lambda v: "" if v != v else f"{v:.3g}"))
    n_sig = int(dl.pairs["significant"].sum())
    text = (f"{dl.n_tiers} tier(s) of {len(dl.tiers)} methods on {dl.metric}; {dl.units}; "
            f"{int(dl.tiers['n_cells'].iloc[0])} complete cells ({dl.n_dropped} dropped). Means are means of dataset "
            "means; intervals are 95% cluster-bootstrap intervals (datasets, then cells within them; t on "
            "datasets - 1 df). Rule: methods in mean-rank order; a method starts a new tier when it is "
            "significantly worse than the current tier's head (dataset-level paired difference, Holm over all "
            f"pairs, alpha {dl.alpha}). {n_sig} of {len(dl.pairs)} pairs differ significantly (dataset_pairs.csv).")
    return [Text(text), Table(shown, 3)]


def _wide_blocks(wide: Comparison | None) -> list:
    """The comparison of every method on the cells they all share (when some are partial)."""
    if wide is None:
        return []
    head = Text("### Every method, on the cells they all share\n\n"
                + (f"Not computed: {wide.note}." if not wide.ok else
                   f"{len(wide.methods)} methods on {wide.n_blocks} shared cells: Friedman p = {wide.pvalue:.3g}, "
                   f"Nemenyi CD = {wide.cd:.3f}; mean ranks "
                   + ", ".join(f"{k} {v:.2f}" for k, v in wide.mean_ranks.items()) + "."))
    return [head] if not wide.ok else [head, Table(_shown_p(wide.wilcoxon),
                                                   caption="Wilcoxon signed-rank on the shared cells, Holm-corrected:")]


def run_links(r: pd.DataFrame, link: Callable[[str], str] | None) -> pd.DataFrame:
    """One row per cell of the prepared runs `r`: its status and links to its MLflow cell run and
    method runs."""
    if link is None or "run_id" not in r or "parent_run_id" not in r:
        return pd.DataFrame()
    rows = []
    for cell, g in r.groupby("cell", sort=True):
        parent = g["parent_run_id"].dropna()
        rows.append({"cell": cell, "cell status": g["cell_status"].iloc[0] or "",
                     "cell run": Link(str(parent.iloc[0])[:8], link(str(parent.iloc[0]))) if len(parent) else "",
                     "method runs": [Link(f"{m}" + ("" if s == "ok" else f" ({s})"), link(str(i)))
                                     for m, s, i in zip(g["method"], g["status"], g["run_id"])]})
    return pd.DataFrame(rows)


def _main_sections(data: ReportData, od: OutDir, cell: str | None, plots: bool, progress: Progress
                   ) -> tuple[list[Section], Comparison, DatasetComparison, list[str], list]:
    m = data.metric
    progress("tables and statistics")
    scores, ranks, cost = score_table(data), rank_table(data), cost_table(data)
    low, ceil, failed = low_quality_table(data), ceiling_table(data), failed_table(data)
    comp = comparison(data)
    dl = dataset_level(data)
    wide = wide_comparison(data)
    board = leaderboard(data)
    cov = coverage(data)
    for name, df in (("runs", data.runs), ("scores", scores), ("ranks", ranks), ("cost", cost),
                     ("low_quality", low), ("oracle", ceil), ("failed", failed), ("leaderboard", board),
                     ("coverage", cov), ("nemenyi", comp.nemenyi), ("wilcoxon", comp.wilcoxon),
                     ("tiers", dl.tiers), ("dataset_pairs", dl.pairs),
                     ("importance_intervals", seed_intervals(data.ok))):
        od.write_csv(f"{name}.csv", df)
    friedman = pd.DataFrame([{"n_blocks": comp.n_blocks, "n_dropped": comp.n_dropped, "k": len(comp.methods),
                              "statistic": comp.statistic, "p": comp.pvalue, "cd": comp.cd, "alpha": comp.alpha,
                              "note": comp.note}])
    od.write_csv("friedman.csv", friedman)
    rec = recommendation(data, comp, dl)
    od.write_text("recommendation.md", md_text(rec))
    magnitude, discrim = magnitude_table(data), discrimination(data)
    od.write_csv("magnitude.csv", magnitude)
    od.write_csv("discriminability.csv", discrim)
    figs, notes = [], []
    if plots:
        from varbench.report.plots import report_figures

        progress("figures")
        with od.adopting() as folder:
            figs, notes = report_figures(data, folder, comp, scores, cell, ranks)
    n_good = data.ranked["cell"].nunique()
    n_low = data.low["cell"].nunique()
    intro = Text(
        f"Metric for ranks and statistics: **{m}** ({data.spec.direction}). "
        f"{len(data.runs)} method runs in {data.runs['cell'].nunique()} cells: {n_good} good, {n_low} low-quality "
        "(reported separately, not averaged in"
        + (f"; plus {len(low) - n_low} low-quality cell(s) whose methods were skipped" if len(low) > n_low else "")
        + ")" + (f"; {data.n_duplicates} older duplicate run(s) ignored" if data.n_duplicates else "") + ".\n"
        "Intervals within one setting are two-sided 95% Student t intervals over its cells (seeds): "
        "mean ± t(0.975, n-1)·s/√n, clipped to the metric's range; across datasets (tiers, recommendation) "
        "datasets are the units (cluster bootstrap, varbench.report.clusters). Ceilings ("
        + (", ".join(sorted(set(data.runs.loc[data.runs["role"] == "ceiling", "method"]))) or "none") + ") are "
        + ("included" if data.include_oracle else "excluded") + " from ranks and statistics.")
    rank_note = ("Compared methods are ranked among themselves over the cells they scored; `coverage` is the "
                 "share of good cells each method was scored on.")
    if comp.left_out:
        rank_note += " " + coverage_note(comp) + " They are listed after the rest with `compared` = no."
    heads = data.metric_columns()
    sections = [
        Section("Recommendation", [Text(rec.split("\n", 2)[2])]),
        Section("Tiers (datasets as units)", tier_blocks(dl), nav="Tiers"),
        Section("Mean rank within cells (1 = best; ties averaged)", [Text(rank_note), Table(ranks, 2)], nav="Ranks"),
        Section("Scores per dataset (good cells)", [Table(with_ci(tidy_labels(scores), heads))], nav="Scores"),
        Section("Plots", [Figure(p, c) for p, c in figs] + ([Text("\n".join(f"- skipped {n}" for n in notes))]
                                                          if notes else [])
                if plots else [Text("Not drawn (--no-plots).")]),
        Section("Magnitude and estimand scores (good cells)", [
            Text("irrelevant_share, importance_tv, decoy_share, estimand_tv: 0 is perfect; ndcg, relevant_spearman, "
                 "estimand_spearman: 1 is perfect. estimand_*: against the exact value of the method's own estimand, "
                 "where the dataset states one."),
            Table(with_ci(tidy_labels(magnitude), MAGNITUDE_COLUMNS)) if len(magnitude) else Text("(none logged)")],
            nav="Magnitudes"),
        Section("Discriminability (good cells)", [
            Text(f"Per metric: method pairs that differ significantly (Wilcoxon signed-rank, Holm, alpha = {ALPHA}) "
                 "and the number of bars of the critical-difference diagram (Nemenyi CD; Wilcoxon-Holm; bars "
                 "overlap: they are not tiers), beside the number of disjoint tiers with datasets as units "
                 "(varbench.report.tiers); varbench.discriminability."), Table(discrim)], nav="Discriminability"),
        Section("Statistics", stats_blocks(comp) + _wide_blocks(wide)),
        Section("Cost (good cells, successful runs)", [Table(cost)], nav="Cost"),
        Section("Ceiling (oracle; not ranked)", [Table(ceil)], nav="Ceiling"),
        Section("Low-quality cells (not averaged in)", [Table(low)], nav="Low quality"),
        Section("Failed runs", [Table(failed)], nav="Failed"),
    ]
    return sections, comp, dl, notes, [intro]


MAGNITUDE_COLUMNS = MAGNITUDE_METRICS + ESTIMAND_METRICS


def magnitude_table(data: ReportData) -> pd.DataFrame:
    """Per setting x method: mean + 95% t-CI over good cells of the magnitude-aware and estimand
    scores that were logged (columns absent from every run are left out)."""
    r = data.ranked[data.ranked["status"] == "ok"]
    cols = [c for c in MAGNITUDE_COLUMNS if c in r and numeric(r, c).notna().any()]
    if r.empty or not cols:
        return pd.DataFrame(columns=["setting", "method"])
    bounds = {c: (METRICS[c].lo, METRICS[c].hi) for c in cols}
    return ci_table(r.assign(**{c: numeric(r, c) for c in cols}), ["setting", "method"], cols,
                    bounds=bounds).drop(columns=[f"{c}_n" for c in cols], errors="ignore")


def discrimination(data: ReportData) -> pd.DataFrame:
    """Per metric: significant Wilcoxon-Holm pairs and CD-diagram groups over the good cells."""
    r = data.ranked[data.ranked["status"] == "ok"]
    return discriminability_table(r, [m for m in METRICS if m in r], ALPHA)


def selection_report(runs: pd.DataFrame, od: OutDir) -> list[Path]:
    """The selection track's files: per dataset x method FDR and power (mean with a 95% t interval
    over seeds) in selection_fdr_power.csv / selection.md, and the runs (selection.csv); [] if none."""
    if runs.empty:
        return []
    table = selection_table(runs)
    written = [od.write_csv("selection.csv", runs), od.write_csv("selection_fdr_power.csv", table)]
    failed = runs[runs["status"] != "ok"][["dataset", "seed", "method", "error"]] if "error" in runs else runs.iloc[:0]
    md = ["# Selection track", "",
          f"Per-variable tests selecting at nominal FDR q = {Q} (Benjamini-Hochberg on p-values, or the "
          "method's own threshold), against the relevant mask: FDR = false selections / selections, "
          "power = relevant selected / relevant; mean with a 95% t interval over seeds.", "",
          markdown_table(with_ci(table, [m for m in SELECTION_METRICS + ("n_selected",) if m in table]))
          if not table.empty else "(no successful runs)", "", "## Failed selection runs", "", markdown_table(failed), ""]
    return written + [od.write_text("selection.md", md_document(md))]


def _interaction_sections(data: ReportData, od: OutDir, plots: bool,
                          progress: Progress) -> tuple[list[Section], list[str], str]:
    progress("interaction track")
    scores = score_table(data)
    od.write_csv("interactions.csv", scores)
    failed = failed_table(data)
    figs, notes = [], []
    if plots:
        from varbench.report.plots import interaction_figures

        with od.adopting() as folder:
            figs, notes = interaction_figures(data, folder, scores)
    text = ("Pairwise interaction detection against the known interacting pairs: ROC AUC and average precision of "
            "true pairs vs the rest, R-precision (precision at the number of true pairs); mean with a 95% t interval "
            "over seeds, clipped to [0, 1]; same preparation as the main track (newest run per cell and method, "
            "low-quality cells apart, one model per setting).")
    ranks = rank_table(data)
    od.write_csv("interaction_ranks.csv", ranks)
    dl = dataset_level(data)
    od.write_csv("interaction_tiers.csv", dl.tiers)
    body = [Section("Interaction track", [Text(text), Table(with_ci(tidy_labels(scores), data.metric_columns()))],
                    nav="Interactions"),
            Section(f"Mean rank within cells by {data.metric} (interaction track)", [Table(ranks, 2)], level=3),
            Section("Tiers (interaction track, datasets as units)", tier_blocks(dl), level=3),
            Section("Statistics (interaction track)", stats_blocks(comparison(data)), level=3),
            Section("Failed interaction runs", [Table(failed)], level=3)]
    if figs or notes:
        body.append(Section("Interaction plots", [Figure(p, c) for p, c in figs]
                            + [Text("\n".join(f"- skipped {n}" for n in notes))], level=3))
    md = to_markdown(Document("Interaction track", [Section(s.title, s.blocks, 2) for s in body[1:]],
                              body[0].blocks))
    return body, notes, md


def write_report(data: ReportData | None, out: Path | OutDir, source: str, cell: str | None = None,
                 plots: bool = True, interactions: ReportData | None = None, link: Callable[[str], str] | None = None,
                 link_note: str = "", progress: Progress = _quiet, force: bool = False) -> Written:
    """Write every table (CSV), figure (PNG), recommendation.md, report.md and report.html into
    `out` (a folder, opened as `OutDir(out, "report", force)`, or an open OutDir whose caller
    calls `finish`), replacing the previous report's files there and touching nothing else."""
    if data is None and interactions is None:
        raise ValueError("no method or interaction runs to report")
    od = out if isinstance(out, OutDir) else OutDir(out, "report", force)
    res = Written()
    sections: list[Section] = []
    intro: list = [Text(f"Source: {source}.")]
    if data is not None:
        main, res.comparison, res.tiers, res.notes, more = _main_sections(data, od, cell, plots, progress)
        sections += main
        intro += more
    if interactions is not None:
        inter, notes, md = _interaction_sections(interactions, od, plots, progress)
        sections += inter
        res.notes += notes
        od.write_text("interactions.md", md)
    links = run_links(pd.concat([d.runs for d in (data, interactions) if d is not None]), link)
    if not links.empty:
        sections.append(Section("MLflow runs", ([Text(link_note)] if link_note else []) + [Table(links)], nav="Runs"))
    progress("rendering report.md and report.html")
    doc = Document("varbench report", sections, intro)
    od.write_text("report.md", to_markdown(doc))
    od.write_text("report.html", to_html(doc))
    res.paths = list(od.written)
    if not isinstance(out, OutDir):
        od.finish()
    return res


def files(paths: Sequence[Path]) -> str:
    return ", ".join(p.name for p in paths[:6]) + (", ..." if len(paths) > 6 else "")
