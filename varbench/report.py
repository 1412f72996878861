"""`varbench report`: runs in the tracking store -> tidy table (CSV) + ranked summary."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from varbench.summary import format_summary, summarize


def build_filter(dataset: str | None = None, model: str | None = None, sweep: str | None = None) -> str:
    """An MLflow filter string over the tracking contract's tags."""
    parts = []
    for key, value in (("dataset", dataset), ("model", model), ("sweep", sweep)):
        if value:
            if "'" in value:
                raise ValueError(f"--{key}={value!r} is invalid: quotes are not allowed")
            parts.append(f"tags.{key} = '{value}'")
    return " and ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="varbench report", description=__doc__)
    p.add_argument("--uri", default="sqlite:///mlflow.db", help="MLflow tracking URI")
    p.add_argument("--experiment", default="varbench")
    p.add_argument("--dataset")
    p.add_argument("--model")
    p.add_argument("--sweep", help="only runs of this sweep (its output dir)")
    p.add_argument("--out", default="outputs/report", help="output directory for tables")
    args = p.parse_args(argv)
    from varbench.tracking import fetch_table

    df = fetch_table(args.uri, args.experiment, build_filter(args.dataset, args.model, args.sweep))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if df.empty:
        print(f"no method runs in experiment {args.experiment!r} at {args.uri}")
        return 1
    df = df.sort_values(["dataset", "model", "seed", "method", "start_time"])
    df.to_csv(out / "runs.csv", index=False)
    table = summarize(df)
    table.to_csv(out / "summary.csv", index=False)
    print(format_summary(table, f"{len(df)} method runs in {df['parent_run_id'].nunique()} cells "
                                f"({args.uri}, experiment {args.experiment!r})"))
    print(f"\ntidy table: {out / 'runs.csv'}   summary: {out / 'summary.csv'}")
    return 0
