"""Where a cell's time goes (cProfile of run_cell) and wall times of whole console runs."""
from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from varbench.bench.harness import Context, Result, Section, timed
from varbench.bench.render import fmt, table
from varbench.paths import conf_dir


LIBRARIES = (("tf.function tracing (autograph, gast)", ("autograph", "gast")),
             ("tensorflow / keras", ("tensorflow", "_pywrap_tf", "TFE_", "keras")),
             ("mlflow / sqlalchemy / sqlite", ("mlflow", "sqlalchemy", "alembic", "sqlite")),
             ("hydra / omegaconf", ("hydra", "omegaconf")),
             ("numpy / scipy / pandas", ("numpy", "scipy", "pandas")),
             ("varbench", ("varbench",)),
             ("imports", ("marshal", "importlib", "<frozen")))


def library_of(path: str, func: str) -> str:
    """The library a profiled function belongs to, from its file path or (for built-ins) its name."""
    text = f"{path} {func}"
    for lib, keys in LIBRARIES:
        if any(key in text for key in keys):
            return lib
    return "other (Python, stdlib)"


def cumulative(stats: dict, func: str, file_part: str, caller: str | None = None) -> float:
    """Cumulative seconds of `func` (in a file whose path holds `file_part`), summed over its
    entries, counting only calls from functions named `caller` when given.

    Examples
    --------
    >>> stats = {("a/x.py", 1, "f"): (1, 1, 0.1, 0.5, {("a/y.py", 3, "g"): (1, 1, 0.1, 0.5)})}
    >>> cumulative(stats, "f", "x.py"), cumulative(stats, "f", "x.py", "h")
    (0.5, 0.0)
    """
    total = 0.0
    for (path, _, name), (_, _, _, cum, callers) in stats.items():
        if name != func or file_part not in path:
            continue
        total += cum if caller is None else sum(c[3] for k, c in callers.items() if k[2] == caller)
    return total


def bench_profile(ctx: Context) -> Section:
    """cProfile of one cell as the default study runs it (run_cell with the default methods)."""
    overrides = ctx.sizes.profile
    if overrides is None:
        return Section("Where the time goes", [], "Not profiled in this mode.")
    # lazy: Hydra and the cell runner (scikit-learn, omegaconf) load only when a cell is profiled
    from hydra import compose, initialize_config_dir

    from varbench.harness.cell import run_cell

    def profiled(seed: int, uri: str) -> tuple[dict, Any]:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[*overrides, f"seed={seed}", "cache.dir=null", f"tracking.uri={uri}"])
        prof = cProfile.Profile()
        result = prof.runcall(run_cell, cfg)
        return pstats.Stats(prof).stats, result  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        first, _ = profiled(0, uri)    # creates the MLflow store
        entries, result = profiled(1, uri)  # the steady state of a study: the store exists

    first_total = cumulative(first, "run_cell", "varbench")
    first_store = cumulative(first, "__init__", "tracking.py")
    def cum(func: str, file_part: str) -> float:
        return cumulative(entries, func, file_part)

    total = cum("run_cell", "varbench")
    train_t = cum("train", os.path.join("models", "trainer.py"))
    # the engine's epochs: a stack's (trainer.engine=stack, the default) or one network's loop (single)
    loop_t = cum("train_stacked", os.path.join("models", "stacked.py")) + cum("fit_compiled", "loop.py")
    harness = f"{os.sep}harness{os.sep}"  # the runner's modules (varbench/harness/)
    methods_t = cum("run_method", harness + "method_run.py")
    truth_t = cum("log_model_truth", harness + "model_truth.py")
    # MLflow: time in tracking.py entered directly from the runner (no double counting of nesting)
    track_t = sum(ct for k, v in entries.items() if k[0].endswith("tracking.py")
                  for caller, (_, _, _, ct) in v[4].items() if harness in caller[0])
    other = total - train_t - methods_t - truth_t - track_t
    table_rows = [["run_cell (whole cell)", fmt(total), "100%"],
                  ["training (`trainer.train`)", fmt(train_t), f"{100 * train_t / total:.0f}%"],
                  ["  of which the engine (`train_stacked`, or `fit_compiled` with engine=single)", fmt(loop_t),
                   f"{100 * loop_t / total:.0f}%"],
                  ["methods (`run_method`, incl. scoring)", fmt(methods_t), f"{100 * methods_t / total:.0f}%"],
                  ["model truth (`log_model_truth`)", fmt(truth_t), f"{100 * truth_t / total:.0f}%"],
                  ["MLflow tracking (`varbench.tracking`, called by the runner)", fmt(track_t),
                   f"{100 * track_t / total:.0f}%"],
                  ["rest: config, data, ...", fmt(other), f"{100 * other / total:.0f}%"]]
    per_method = []
    if result is not None and result.rows:
        for r in result.rows:
            per_method.append([r.get("method", "?"), fmt(r.get("seconds")), fmt(r.get("n_model_evals"), 6)])
    by_lib: dict[str, float] = {}
    for k, v in entries.items():
        lib = library_of(k[0], k[2])
        by_lib[lib] = by_lib.get(lib, 0.0) + v[2]
    all_self = sum(by_lib.values())
    lib_rows = [[lib, fmt(t), f"{100 * t / all_self:.0f}%"] for lib, t in
                sorted(by_lib.items(), key=lambda kv: -kv[1])]
    top = sorted(((v[2], k) for k, v in entries.items()), reverse=True)[:10]
    ours = sorted(((v[3], k) for k, v in entries.items() if f"varbench{os.sep}" in k[0]
                   and k[2] not in ("run_cell", "_run_cell")), reverse=True)[:15]
    ours_rows = [[f"`{k[2]}` ({Path(k[0]).parent.name}/{Path(k[0]).name}:{k[1]})", fmt(t)] for t, k in ours]
    top_rows = [[f"`{k[2]}` ({Path(k[0]).name}:{k[1]})", fmt(t)] for t, k in top]
    body = "\n".join([
        f"cProfile of `run_cell` for cells of the default study (overrides `{' '.join(overrides)}`, "
        "everything else default, no model cache, modules already imported), run twice into one MLflow "
        f"sqlite store. The first cell (seed 0, fresh store) took {fmt(first_total)} s, {fmt(first_store)} s "
        "of it in `Tracker.__init__` creating the store (schema migration: once per store). The tables "
        "profile the second cell (seed 1, existing store), the steady state of a study. cProfile adds "
        "overhead to Python calls, so the shares matter more than the seconds.",
        "",
        table(["part", "seconds (cumulative)", "share"], table_rows),
        "",
        table(["method", "seconds", "model evaluations"], per_method) if per_method else "",
        "",
        "Self time by library (where the CPU actually went; TensorFlow's C++ runtime is counted in "
        "the Python call that entered it):",
        "",
        table(["library", "self seconds", "share"], lib_rows),
        "",
        "varbench functions by cumulative time:",
        "",
        table(["function", "cumulative seconds"], ours_rows),
        "",
        "Top functions by self time:",
        "",
        table(["function", "self seconds"], top_rows),
    ])
    shares = {"profile_cell_seconds": total, "profile_share_training": train_t / total,
              "profile_share_methods": methods_t / total, "profile_share_model_truth": truth_t / total,
              "profile_share_tracking": track_t / total, "profile_share_rest": other / total}
    return Section("Where the time goes", [], body, shares)


# ------------------------------------------------------------------------------------ report

STUDY_COMMANDS = {
    "default study (`varbench`: 2 datasets x 3 seeds, seed answers)": [],
    "`varbench dataset=friedman1 seed=0 methods=all` (one default cell, every method)":
        ["dataset=friedman1", "seed=0", "methods=all"],
}


def bench_studies(ctx: Context) -> Section:
    """Wall time of whole console runs as a user makes them, each in a fresh directory (fresh
    MLflow store, no model cache): includes Python start-up, TensorFlow import and store creation."""
    if not ctx.sizes.studies:
        return Section("Default study and methods=all", [], "Not measured in this mode (full mode only).")
    exe = Path(sys.executable).with_name("varbench")
    rows = []
    for label, args in STUDY_COMMANDS.items():
        with tempfile.TemporaryDirectory() as tmp:
            seconds, proc = timed(lambda: subprocess.run([str(exe), *args], cwd=tmp, capture_output=True,
                                                         text=True, timeout=1800))
        ok = "ok" if proc.returncode == 0 else f"exit code {proc.returncode}"
        rows.append([label, f"{seconds:.1f}", ok])
    body = ("Each command runs in a fresh temporary directory (new sqlite store, empty model cache), "
            "so the times include Python start-up, the TensorFlow import, the MLflow schema creation "
            "and training. Target for the default study: <= 300 s.\n\n"
            + table(["run", "wall time (s)", "result"], rows))
    default_s = float(rows[0][1])
    result = Result("default study (wall, fresh directory)", default_s, target=None,
                    agreement=f"{'within' if default_s <= 300 else 'over'} the 5-minute budget")
    return Section("Default study and methods=all", [result], body, {"default_study_seconds": default_s})
