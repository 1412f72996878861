"""Selection study tables: FDR and power per test and design, mean with a 95% t interval over
seeds, from the selection runs (`selection.csv`, written by `varbench report`).

    python experiments/selection/analyse.py --runs results/selection/runs.csv --out results/selection
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from varbench.outdir import FORCE_HELP, OutDir
from varbench.report.tables import selection_table
from varbench.selection import Q

DESIGNS = {"sel_independent": "independent", "sel_correlated": "correlated (Toeplitz 0.8)",
           "sel_decoys": "decoy twins (pairs at 0.9)", "sel_skewed": "skewed correlated (lognormal, Toeplitz 0.8)"}


def _ci(row: pd.Series, m: str) -> str:
    lo, hi = row.get(f"{m}_lo"), row.get(f"{m}_hi")
    ci = f" [{lo:.2f}, {hi:.2f}]" if pd.notna(lo) and pd.notna(hi) else ""
    return f"{row[m]:.2f}{ci}"


def table_md(runs: pd.DataFrame) -> str:
    t = selection_table(runs)
    lines = [f"FDR (false selections / selections; nominal q = {Q}) and power (relevant selected / "
             "relevant), mean over seeds with a 95% t interval; n = seeds.", "",
             "| design | test | n | FDR | power | selected (of 20) |", "|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        lines.append(f"| {DESIGNS.get(r['dataset'], r['dataset'])} | {r['method']} | {int(r['n'])} | "
                     f"{_ci(r, 'fdr')} | {_ci(r, 'power')} | {r['n_selected']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, help="runs.csv of the report (the selection runs are in selection.csv beside it)")
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    od = OutDir(args.out, "selection/analyse.py", args.force)  # refused before any work
    src = Path(args.runs).with_name("selection.csv")
    runs = pd.read_csv(src)
    text = table_md(runs)
    od.write_text("fdr_power.md", text)
    od.write_csv("fdr_power.csv", selection_table(runs))
    od.finish()
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
