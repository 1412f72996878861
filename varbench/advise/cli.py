"""`varbench advise --data my.csv --target price [--out DIR] [--budget NAME] [--model my.keras --encoding enc.json]`."""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from varbench.outdir import FORCE_HELP
from varbench.schema import ConfigError


def parser() -> argparse.ArgumentParser:
    from varbench.advise.plan import BUDGETS  # lazy: the package varbench.advise loads the whole pipeline

    p = argparse.ArgumentParser(prog="varbench advise", description=(
        "Plant known targets on your table's covariates, rank the importance methods for data like "
        "yours, train the network on your real target and explain it with the best methods."))
    p.add_argument("--data", required=True, help="a .csv / .tsv / .parquet table")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--out", default=None, help="report directory (default outputs/advise/<file stem>)")
    p.add_argument("--budget", default="default", choices=sorted(BUDGETS),
                   help="time vs seeds: " + "; ".join(f"{k}: {len(b.families)} families x {b.seeds} seed(s), "
                                                      f"suites {'+'.join(b.suites)}" for k, b in BUDGETS.items()))
    p.add_argument("--model", default=None, help="your trained Keras model (.keras); needs --encoding")
    p.add_argument("--encoding", default=None,
                   help="with --model: the encoding.json of the table your model was trained on "
                        "(varbench.datasets.table.load_encoded(...).save(path)): columns, order, scaling, levels")
    p.add_argument("--max-levels", type=int, default=None,
                   help="one-hot levels per categorical column; rarer levels merge into '(other)' "
                        "(default: varbench.datasets.table.MAX_LEVELS)")
    p.add_argument("--snr", type=float, default=4.0, help="signal-to-noise variance ratio of planted targets")
    p.add_argument("--drop", nargs="*", default=None, help="columns to leave out")
    p.add_argument("--impute", default=None, choices=["median", "most_frequent"], help="fill missing values")
    p.add_argument("--task", default=None, choices=["regression", "classification", "multiclass"],
                   help="the real target's task (default: inferred)")
    p.add_argument("--overwrite", action="store_true",
                   help="allow replacing a report already in a results/ directory")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: the config's, sqlite:///mlflow.db)")
    p.add_argument("--cache-dir", default=None, help="trained-model cache (default: the config's, .varbench/models)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run advise; bad input is one line on stderr and exit status 2."""
    from varbench.advise.core import DEFAULT_OUT, advise  # lazy: the whole pipeline (pandas, scikit-learn)

    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out = args.out or str(Path(DEFAULT_OUT) / Path(args.data).stem)
    if "results" in Path(out).resolve().parts and (Path(out) / "report.md").exists() and not args.overwrite:
        print(f"varbench advise: --out {out} already holds a committed report (results/): pass --overwrite "
              "to replace it", file=sys.stderr)
        return 2
    command = "varbench advise " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[2:]))
    try:
        report = advise(args.data, args.target, out=out, budget=args.budget, model=args.model, snr=args.snr,
                        tracking_uri=args.tracking_uri, drop=args.drop, impute=args.impute, task=args.task,
                        cache_dir=args.cache_dir, command=command, encoding=args.encoding,
                        max_levels=args.max_levels, force=args.force or args.overwrite)
    except (ValueError, ConfigError) as exc:
        print(f"varbench advise: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(f"varbench advise: report written to {report}")
    return 0
