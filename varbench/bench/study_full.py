"""The seed_question study end to end as a user runs it: `varbench -m +experiment=seed_question`
subprocesses, each in a fresh folder (fresh store, empty model cache), timed wall and CPU.

- one job per cell: Hydra's basic launcher, no pre-training (the path before issue 28);
- the new path: the varbench launcher (cells in one process, each composed once) with stacked
  pre-training.

Both train with the stacked trainer (`trainer.engine=stack`; the study's config pins the engine of
its committed results). The two stores' method results are compared run by run (every metric but
timings): the count of identical runs and the largest difference are reported. Full mode runs the whole study (200 cells); quick and tiny
modes a reduced one (`Sizes.full_study_overrides`)."""
from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from varbench.bench.harness import DISAGREE, Context, Result, Section, verdict
from varbench.bench.render import fmt, table
from varbench.bench.study import ENGINE, EXPERIMENT, STUDY_AIM

# the two paths: name -> the overrides that select them
PATHS = {"one job per cell": ("hydra/launcher=basic", "hydra.callbacks.pretrain.enabled=false", ENGINE),
         "cells in one process + pre-training": ("hydra/launcher=varbench", "hydra.callbacks.pretrain.enabled=true",
                                                 ENGINE)}
KEY = ("dataset", "model", "seed", "method")  # one method run of the study


def run_study(lines: Sequence[str], path_overrides: Sequence[str], folder: Path) -> dict[str, Any]:
    """`varbench -m +experiment=seed_question LINES PATH` in `folder` (store and model cache there):
    wall and CPU seconds (this process's children), exit code, the end of its output.

    Examples
    --------
    >>> from varbench.bench.study_full import run_study  # used by bench_study_full
    """
    exe = Path(sys.executable).with_name("varbench")
    folder.mkdir(parents=True, exist_ok=True)
    args = [str(exe), "-m", EXPERIMENT, *lines, *path_overrides, f"tracking.uri=sqlite:///{folder}/mlflow.db",
            f"cache.dir={folder}/models", "hydra.sweep.dir=sweep"]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=6 * 3600)
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"wall": wall, "cpu": cpu, "code": proc.returncode, "tail": (proc.stdout + proc.stderr)[-1500:],
            "uri": f"sqlite:///{folder}/mlflow.db"}


def method_runs(uri: str, experiment: str = "varbench") -> dict[tuple, dict[str, float]]:
    """(dataset, model, seed, method) -> the run's metrics (timings left out) and status."""
    from varbench.tracking import fetch_table

    df = fetch_table(uri, experiment)
    if df.empty:
        return {}
    metrics = [c for c in df.columns if df[c].dtype.kind == "f" and "seconds" not in c]
    return {tuple(r[k] for k in KEY): {"status": r["status"], **{m: r[m] for m in metrics}}
            for r in df.to_dict("records")}


def compare_runs(a: dict[tuple, dict[str, Any]], b: dict[tuple, dict[str, Any]]) -> dict[str, float]:
    """Runs in both, runs whose every metric and status is equal (NaN equal to NaN), the largest
    |difference| of any metric, and whether both hold the same runs.

    Examples
    --------
    >>> from varbench.bench.study_full import compare_runs
    >>> compare_runs({("d", "m", 0, "x"): {"status": "ok", "spearman": 0.5}},
    ...              {("d", "m", 0, "x"): {"status": "ok", "spearman": 0.25}})["max_diff"]
    0.25
    """
    common = sorted(set(a) & set(b), key=str)
    identical, max_diff = 0, 0.0
    for k in common:
        ra, rb = a[k], b[k]
        same = ra.get("status") == rb.get("status") and set(ra) == set(rb)
        for m in set(ra) & set(rb) - {"status"}:
            x, y = float(ra[m]), float(rb[m])
            if np.isnan(x) and np.isnan(y):
                continue
            diff = abs(x - y)
            same = same and diff == 0
            max_diff = max(max_diff, diff) if np.isfinite(diff) else float("inf")
        identical += same
    return {"runs": float(len(common)), "identical": float(identical), "max_diff": max_diff,
            "same_runs": float(set(a) == set(b))}


def bench_study_full(ctx: Context) -> Section:
    """The study end to end, one job per cell vs cells in one process with pre-training."""
    lines = ctx.sizes.full_study_overrides
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, overrides) in enumerate(PATHS.items()):
            out[name] = run_study(lines, overrides, Path(tmp) / f"path{i}")
            out[name]["runs"] = method_runs(out[name]["uri"])
    old, new = out[list(PATHS)[0]], out[list(PATHS)[1]]
    cmp = compare_runs(old["runs"], new["runs"])
    ok = old["code"] == new["code"] == 0 and cmp["same_runs"] == 1.0 and cmp["runs"] > 0
    speedup = old["wall"] / new["wall"]
    what = f"`varbench -m {EXPERIMENT} {' '.join(lines)}`" if lines else f"`varbench -m {EXPERIMENT}` (the whole study)"
    agree = (f"{int(cmp['runs'])} method runs: {int(cmp['identical'])} identical (every metric), "
             f"max |diff| {fmt(cmp['max_diff'])}" if ok else
             f"runs differ or a path failed (exit {old['code']}, {new['code']}): {new['tail'][-300:]!r}")
    body = "\n".join([
        f"{what} run end to end twice as subprocesses, each in a fresh folder (new store, empty model cache): "
        "one job per cell (Hydra's basic launcher, no pre-training) and cells in one process (the varbench "
        "launcher) with stacked pre-training. Times include Python start-up, imports and store creation.",
        "",
        table(["path", "wall (s)", "CPU (s)", "exit"],
              [[name, fmt(o["wall"]), fmt(o["cpu"]), str(o["code"])] for name, o in out.items()]),
        "",
        f"Speed-up {speedup:.2f}x wall, {old['cpu'] / max(new['cpu'], 1e-9):.2f}x CPU. Results: {agree}. Both paths "
        f"train with `{ENGINE}` (the study's config pins the engine its committed results were made with): a job "
        "alone trains its model as a stack of one, and a stack's member is bitwise the model it is in any stack.",
    ])
    n_cells = len({k[:3] for k in old["runs"]})
    result = Result(f"study end to end: seed_question ({n_cells} cells), new path vs one job per cell", new["wall"],
                    "one job per cell", old["wall"], STUDY_AIM, agree, verdict(speedup, STUDY_AIM) if ok else DISAGREE)
    return Section("Study end to end (CLI)", [result], body,
                   {"study_full_speedup": speedup, "study_full_cells": float(n_cells),
                    "study_full_one_by_one_seconds": old["wall"], "study_full_new_seconds": new["wall"],
                    "study_full_one_by_one_cpu_seconds": old["cpu"], "study_full_new_cpu_seconds": new["cpu"],
                    "study_full_identical_runs": cmp["identical"], "study_full_runs": cmp["runs"],
                    "study_full_max_diff": cmp["max_diff"]})
