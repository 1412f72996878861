"""`varbench advise` on real and benchmark tables.

    python experiments/advise/run.py                # scikit-learn's diabetes table -> results/advise/diabetes/
    python experiments/advise/run.py --bench        # 5,000 x 20 mixed-type table: wall time and its split
                                                    #   -> results/advise/bench_mixed_5000x20.md
    ... --overwrite                                 # replace committed results

The diabetes table is read from the files shipped inside scikit-learn (`load_diabetes(scaled=False)`:
raw units; `sex`, coded 1/2 there, written as text so it is a categorical; nothing is downloaded). The benchmark table is
`varbench.advise.example.mixed_table()` (15 numeric columns incl. skewed ones and the correlated
pair sqft_living / sqft_living15, 4 string categoricals, 1 boolean, an id; target `price`).
Stores and model caches live under outputs/studies/advise/ (not committed); both runs start from a
fresh store and cache, so every model is trained and the report's times are real (rerunning
`varbench advise` itself on an existing store resumes instead).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "outputs" / "studies" / "advise"
RESULTS = ROOT / "results" / "advise"


def _advise(table: Path, target: str, out: Path, budget: str, overwrite: bool, store: Path) -> float:
    """Run `varbench advise` from the repository root with the store and cache in `store`."""
    from varbench.advise.cli import main

    os.chdir(ROOT)  # relative paths: the report's command line is runnable from a checkout
    rel = lambda p: str(Path(p).resolve().relative_to(ROOT))  # noqa: E731
    store.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    code = main(["--data", rel(table), "--target", target, "--out", rel(out), "--budget", budget,
                 "--tracking-uri", f"sqlite:///{rel(store)}/mlflow.db", "--cache-dir", f"{rel(store)}/models",
                 *(["--overwrite"] if overwrite else [])])
    if code:
        sys.exit(code)
    return time.perf_counter() - start


def diabetes(budget: str, overwrite: bool) -> None:
    from varbench.advise.example import diabetes_table

    work = STORE / "diabetes"
    shutil.rmtree(work, ignore_errors=True)  # fresh store and cache: the report's times are real
    work.mkdir(parents=True)
    path = work / "diabetes.csv"
    diabetes_table().to_csv(path, index=False)
    seconds = _advise(path, "target", RESULTS / "diabetes", budget, overwrite, work)
    print(f"diabetes: {seconds:.0f} s (report: {RESULTS / 'diabetes' / 'report.md'})")


def bench(budget: str, overwrite: bool) -> None:
    import pandas as pd

    from varbench.advise.example import mixed_table

    target = RESULTS / "bench_mixed_5000x20.md"
    if target.exists() and not overwrite:
        sys.exit(f"{target} exists: pass --overwrite to replace it")
    from varbench.outdir import OutDir

    od = OutDir(RESULTS, "advise/run.py", overwrite)  # refused before any work
    work = STORE / "bench"
    shutil.rmtree(work, ignore_errors=True)  # fresh store and cache: every model is trained
    work.mkdir(parents=True)
    df = mixed_table(5000, seed=0)
    df.to_csv(work / "houses.csv", index=False)
    t0 = time.perf_counter()
    seconds = _advise(work / "houses.csv", "price", work / "report", budget, True, work)
    report = (work / "report" / "report.md").read_text()
    features = [c for c in df if c not in ("id", "price")]
    kinds = pd.Series(["boolean" if pd.api.types.is_bool_dtype(df[c]) else "numeric"
                       if pd.api.types.is_numeric_dtype(df[c]) else "text" for c in features])
    ranking = pd.read_csv(work / "report" / "ranking.csv")
    per_method = ranking[["method", "seconds"]].sort_values("seconds", ascending=False)
    n_cells = int(ranking["n"].max())
    split = report[report.index("## Time"):report.index("Runs are in")].strip()
    ncpu = os.cpu_count()
    load = os.getloadavg()[0]
    text = "\n".join([
        "# `varbench advise` on a 5,000 x 20 mixed-type table", "",
        f"Command: `python experiments/advise/run.py --bench` (budget `{budget}`), {ncpu} cores, "
        f"1-minute load average {load:.1f} at the end (other jobs were sharing the cores).", "",
        f"Table: {df.shape[0]} rows x {len(features)} feature columns (+ an id column, dropped as id-like, "
        f"and the target `price`): {sum(kinds == 'numeric')} numeric, {sum(kinds == 'text')} string "
        f"categoricals, {sum(kinds == 'boolean')} boolean.", "",
        f"**Wall time: {seconds:.0f} s** for the whole command in one process (imports included; "
        f"{time.perf_counter() - t0:.0f} s with writing the table). Its split, from the report:", "",
        split.replace("## Time", "").strip(), "",
        "The benchmark phase trains one network per planted cell (families x seeds) and runs the budget's "
        "methods on it; the real-target phase trains the network on `price` once per real seed and runs the "
        "top methods. Mean seconds per benchmark cell and method "
        f"({n_cells} cells scored):", "",
        "| method | seconds |", "|---|---|",
        *[f"| {m} | {v:.2f} |" for m, v in zip(per_method["method"], per_method["seconds"])], ""])
    od.write_text(target.name, text)
    od.finish()
    print(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", action="store_true", help="time advise on the 5,000 x 20 mixed-type table")
    p.add_argument("--budget", default="default")
    p.add_argument("--overwrite", action="store_true", help="replace committed results")
    a = p.parse_args()
    (bench if a.bench else diabetes)(a.budget, a.overwrite)


if __name__ == "__main__":
    main()
