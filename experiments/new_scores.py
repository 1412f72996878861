"""What the magnitude-aware and estimand scores separate that Spearman does not (issue 15).

From a study's runs table (live runs, or runs re-scored by `python -m varbench.rescore`): per
dataset x method, mean with a 95% t interval over cells of Spearman and the new scores, and per
metric the discriminability over all cells (significant Wilcoxon-Holm pairs, CD-diagram groups).

    python experiments/new_scores.py --runs results/seed_question/rescored.csv --out results/seed_question
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from varbench.report.discriminability import discriminability_table
from varbench.outdir import FORCE_HELP, OutDir
from varbench.report import markdown_table
from varbench.report.render import md_document
from varbench.report.stats import t_interval

METRICS = ("spearman", "irrelevant_share", "importance_tv", "ndcg", "relevant_spearman", "decoy_share",
           "estimand_spearman", "estimand_tv")


def _cell(df: pd.DataFrame) -> pd.Series:
    return df["dataset"].astype(str) + "/" + df["model"].astype(str) + "/" + df["seed"].astype(str)


def by_dataset(runs: pd.DataFrame, metrics: list[str]) -> str:
    """Markdown: one table per dataset, methods x metrics, 'mean [lo, hi]'."""
    out = []
    for ds, g in runs.groupby("dataset", sort=True):
        cols = [m for m in metrics if np.isfinite(pd.to_numeric(g[m], errors="coerce")).any()]
        out += [f"### {ds}", "", "| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        rows = []
        for method, h in g.groupby("method"):
            cis = [t_interval(pd.to_numeric(h[m], errors="coerce").to_numpy(float)) for m in cols]
            rows.append((cis[0].mean, method, cis))
        for _, method, cis in sorted(rows, key=lambda r: -r[0] if np.isfinite(r[0]) else np.inf):
            cells = [f"{c.mean:.3f} [{c.lo:.3f}, {c.hi:.3f}]" if c.n > 1 else ("n/a" if c.n == 0 else f"{c.mean:.3f}")
                     for c in cis]
            out.append(f"| {method} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--exclude", nargs="*", default=["random", "oracle"], help="methods left out of the groups")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    od = OutDir(args.out, "new_scores.py", args.force)  # refused before any work
    runs = pd.read_csv(args.runs)
    runs = runs[(runs["status"] == "ok") & runs["importance"].notna()].copy()
    runs["cell"] = _cell(runs)
    metrics = [m for m in METRICS if m in runs]
    ranked = runs[~runs["method"].isin(args.exclude)]
    disc = discriminability_table(ranked, metrics)
    od.write_csv("discriminability.csv", disc)
    text = ["# New scores vs Spearman", "",
            f"Source: {args.runs}. Mean [95% t interval] over cells; lower is better for irrelevant_share, "
            "importance_tv, decoy_share, estimand_tv.", "",
            f"## Discriminability over all cells (methods except {', '.join(args.exclude)})", "",
            markdown_table(disc), "", "## Per dataset", "", by_dataset(runs, metrics)]
    od.write_text("new_scores.md", md_document(text) + "\n")
    od.finish()
    print(disc.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
