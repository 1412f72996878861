"""Where a study cell's time goes: the reduced seed_question study run by the console command
(`varbench -m`, the default path: cells in one process, stacked pre-training) under cProfile in a
subprocess, its time split into disjoint parts (composition, sweep check, pre-training, Keras
resets, each cell's resolution, model loading, model truth, methods, scoring and logging), and
the methods' own seconds taken from the store."""
from __future__ import annotations

import pstats
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from varbench.bench.harness import Context, Result, Section
from varbench.bench.profile import cumulative
from varbench.bench.render import fmt, table
from varbench.bench.study import ENGINE, EXPERIMENT
from varbench.tracking import fetch_table

PRETRAIN_REST = "pre-training: the rest (networks built, models written, TensorFlow's first use)"
# (part, function name, a piece of its file path, the caller's name or None for every caller)
TIMERS = (("Hydra composition", "load_sweep_config", "config_loader_impl", None),
          ("sweep check (validation, data generation)", "check_composed", "varbench/sweep.py", None),
          ("store opened or created", "open_store", "varbench/callbacks.py", None),
          ("pre-training: stacks trained", "train_stacked", "varbench/models/stacked.py", "pretrain"),
          ("pre-training: model truths", "model_truths", "varbench/pretrain.py", "pretrain"),
          (PRETRAIN_REST, "on_multirun_start", "varbench/pretrain.py", None),
          ("Keras resets", "before", "varbench/batch.py", None),
          ("cell: config resolved, data generated", "resolve_cell", "varbench/config.py", "run_cell"),
          ("cell: model loaded or trained", "train_cell_model", "varbench/harness/training.py", None),
          ("cell: model truth loaded or computed", "log_model_truth", "varbench/harness/model_truth.py", None),
          ("cell: method runs (computation, scoring, truth-free metrics)", "run_method",
           "varbench/harness/method_run.py", None),
          ("cell: whole", "run_cell", "varbench/harness/cell.py", None))


def parts(stats: dict, total: float, method_seconds: dict[str, float]) -> list[tuple[str, float]]:
    """Disjoint parts of `total` from the profile's `stats` and the methods' own seconds."""
    t = {name: cumulative(stats, func, where, caller) for name, func, where, caller in TIMERS}
    stacked, truths = t["pre-training: stacks trained"], t["pre-training: model truths"]
    methods = t.pop("cell: method runs (computation, scoring, truth-free metrics)")
    whole = t.pop("cell: whole")
    t[PRETRAIN_REST] -= stacked + truths
    cell_parts = sum(v for k, v in t.items() if k.startswith("cell:"))
    own = dict(sorted(method_seconds.items(), key=lambda kv: -kv[1]))
    out = list(t.items())
    top = list(own)[:2]
    out += [(f"cell: method {m} (its own seconds)", own[m]) for m in top]
    out.append((f"cell: the other {len(own) - len(top)} methods (their own seconds)",
                sum(v for m, v in own.items() if m not in top)))
    out.append(("cell: scoring, truth-free metrics, logging of method runs", methods - sum(own.values())))
    out.append(("cell: claims, runs opened and closed, resume", whole - cell_parts - methods))
    out.append(("start-up, imports, Hydra set-up, summary (once)", total - sum(v for _, v in out)))
    return out


def bench_study_profile(ctx: Context) -> Section:
    """cProfile of the reduced seed_question study run as `varbench -m` runs it."""
    if not ctx.sizes.study_profile:
        return Section("Where a study cell's time goes", [], "Not profiled in this mode.")
    lines = ctx.sizes.study_overrides

    exe = Path(sys.executable).with_name("varbench")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prof = folder / "prof.out"
        args = [sys.executable, "-m", "cProfile", "-o", str(prof), str(exe), "-m", EXPERIMENT, ENGINE, *lines,
                f"tracking.uri=sqlite:///{folder}/mlflow.db", f"cache.dir={folder}/models", "hydra.sweep.dir=sweep"]
        proc = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            return Section("Where a study cell's time goes", [], f"The profiled run failed (exit {proc.returncode}): "
                           f"{(proc.stdout + proc.stderr)[-300:]!r}")
        st = pstats.Stats(str(prof))
        stats: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
        total = float(st.total_tt)  # type: ignore[attr-defined]
        df = fetch_table(f"sqlite:///{folder}/mlflow.db", "varbench")
    runs = df[df["method"].notna()] if "method" in df else df
    n_cells = int(runs[["dataset", "model", "seed"]].drop_duplicates().shape[0]) if len(runs) else 0
    method_seconds = runs.groupby("method")["seconds"].sum().to_dict() if len(runs) else {}
    rows = parts(stats, total, {str(k): float(v) for k, v in method_seconds.items()})
    per = max(n_cells, 1)
    body = "\n".join([
        f"`varbench -m {EXPERIMENT} {ENGINE} {' '.join(lines)}` ({n_cells} cells) in a fresh folder (new store, "
        "empty model cache), the default path (cells in this process, stacked pre-training), run under cProfile "
        "in a subprocess. Parts are cumulative times of the functions that do them, made disjoint (a part "
        "nested in another is subtracted from it); the methods' own seconds are those logged on their runs. "
        "cProfile slows Python-heavy parts more than TensorFlow's, so the shares matter more than the seconds.",
        "",
        table(["part", "seconds", "seconds per cell", "share"],
              [[name, fmt(v), fmt(v / per), f"{100 * v / total:.0f}%"] for name, v in rows]
              + [["total", fmt(total), fmt(total / per), "100%"]]),
    ])
    figures = {"study_profile_cells": float(n_cells), "study_profile_seconds": total}
    slug = {"Hydra composition": "composition", "Keras resets": "keras_resets",
            "pre-training: stacks trained": "stacked_training", "pre-training: model truths": "model_truths"}
    figures.update({f"study_profile_share_{slug[name]}": v / total for name, v in rows if name in slug})
    result = Result(f"reduced seed_question study under cProfile ({n_cells} cells)", total / per, target=None,
                    agreement="seconds per cell, all parts")
    return Section("Where a study cell's time goes", [result], body, figures)
