"""How well the `standard` leaderboard study separates methods (issue 15): significant
Wilcoxon-Holm pairs and critical-difference groups among the non-baseline methods (role
`method`: floors and ceilings left out), for a choice of datasets and metrics.

    varbench report --study standard --out outputs/standard_report --uri sqlite:///...
    python experiments/standard/groups.py --runs outputs/standard_report/runs.csv \
        --datasets linear friedman1 ... --metrics spearman irrelevant_share
"""
from __future__ import annotations

import argparse

import pandas as pd

from varbench.report.discriminability import discriminability_table
from varbench.registry import role_of


def groups(runs: pd.DataFrame, datasets: list[str] | None, metrics: list[str]) -> pd.DataFrame:
    """discriminability_table over the ok runs of `datasets` (all if None), role=method only."""
    r = runs[runs["status"] == "ok"].copy()
    if datasets:
        r = r[r["dataset"].isin(datasets)]
    r = r[[role_of(m, t) == "method" for m, t in zip(r["method"], r.get("role", [None] * len(r)))]]
    r["cell"] = r["dataset"].astype(str) + "/" + r["model"].astype(str) + "/" + r["seed"].astype(str)
    return discriminability_table(r, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True)
    p.add_argument("--datasets", nargs="*", default=None)
    p.add_argument("--metrics", nargs="+", default=["spearman"])
    args = p.parse_args(argv)
    print(groups(pd.read_csv(args.runs), args.datasets, args.metrics).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
