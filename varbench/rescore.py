"""Score logged importance vectors again with the current scoring, without retraining anything.

A study's `runs.csv` (one row per method run, with the `importance` vector as JSON, the dataset
name, seed, method and aggregation) is scored against the truth of its dataset, regenerated from
`conf/dataset/<dataset>.yaml` with the cell seed (generators are deterministic): the rank,
magnitude and estimand scores of `varbench.scoring.score_against` are added (replacing older
values of the same names). The estimand comes from the run's `estimand` tag, else the registry.

    python -m varbench.rescore results/seed_question/runs.csv --out results/seed_question/rescored.csv
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from varbench.config import _dataset
from varbench.paths import conf_dir
from varbench.registry import registry


@functools.lru_cache(maxsize=256)
def dataset_truth(name: str, seed: int):
    """The GroundTruth of conf/dataset/<name>.yaml generated with `seed`."""
    path = conf_dir() / "dataset" / f"{name}.yaml"
    if not path.exists():
        raise ValueError(f"dataset={name!r} has no config {path}")
    return _dataset(yaml.safe_load(path.read_text()), int(seed)).truth


def _estimand(row: pd.Series) -> str:
    tag = row.get("estimand")
    if isinstance(tag, str) and tag:
        return tag

    info = registry().get(str(row["method"]))
    return info.meta.estimand if info is not None else "unknown"


def rescore(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with every score recomputed for the ok rows that carry an importance vector."""
    from varbench.scoring import score_against  # lazy: scoring loads scipy and scikit-learn

    out = runs.copy()
    for i, row in runs.iterrows():
        if row.get("status") != "ok" or not isinstance(row.get("importance"), str):
            continue
        truth = dataset_truth(str(row["dataset"]), int(row["seed"]))
        agg = row.get("aggregation") if isinstance(row.get("aggregation"), str) else "global"
        m = score_against(np.array(json.loads(row["importance"]), float), truth, None, _estimand(row), agg).metrics
        for k, v in m.items():
            out.loc[i, k] = v
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m varbench.rescore", description=__doc__.splitlines()[0])
    p.add_argument("runs", help="a runs.csv written by `varbench report`")
    p.add_argument("--out", required=True, help="where to write the re-scored table (never the input)")
    args = p.parse_args(argv)
    if Path(args.out).resolve() == Path(args.runs).resolve():
        print("varbench.rescore: --out must differ from the input runs.csv", file=sys.stderr)
        return 2
    rescore(pd.read_csv(args.runs)).to_csv(args.out, index=False)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
