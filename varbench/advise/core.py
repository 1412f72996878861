"""`varbench advise`: which importance method to trust on data like yours, and what it says.

1. The table is read and encoded (varbench.datasets.table); bad input stops here, nothing logged.
2. Benchmark: targets of each planted family are planted on the table's own covariates (the real
   target left out) for a few seeds; the budget's methods run on a network trained per cell, all
   through the ordinary runner (MLflow store, model cache, resume, progress).
3. Methods are ranked for this data (mean Spearman vs the planted truth, 95% t intervals).
4. The network is trained on the real target (`dataset=table`, a few seeds) or `--model` is
   taken; the top methods run on it; their importances get intervals over the trainings.
5. One report (report.md, CSVs, PNGs) in `out`, also logged to MLflow as a `kind=report` run.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import varbench.advise.plan as plan
from varbench.advise.rank import CellInfo, partner_credit, quality, rank_methods, reachable, real_importance
from varbench.advise.run import compose, run_all, validate

log = logging.getLogger("varbench.advise")
DEFAULT_OUT = "outputs/advise"


def _families(cov: Any, families: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """The families that can be planted on these covariates, and why the others cannot."""
    from varbench.datasets.planted import plant

    ok, skipped = [], {}
    for fam in families:
        try:
            plant(cov.X, cov.variables, set(cov.numeric), fam, min(4, len(cov.variables) - 1) or 1,
                  np.random.default_rng(0))
            ok.append(fam)
        except ValueError as exc:
            skipped[fam] = str(exc)
    return ok, skipped


def _cell_info(cell: plan.Cell, spec: Any) -> CellInfo:
    ds = spec.dataset
    partner = ((ds.encoding or {}).get("planted") or {}).get("partner") or {}
    return CellInfo(cell.label, cell.family, cell.seed, [v for v, _ in ds.variables], ds.truth.relevant, partner,
                    ds.truth.importance)


def _fetch(uri: str, experiment: str, study: str, specs: dict[Any, Any], methods: list[str]
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This plan's method runs and cells from the store (resumed cells included), matched by the
    cells' config hashes, so runs of the same table with other options never mix in."""
    from varbench.tracking import fetch_cells, fetch_table

    hashes = {spec.cell_hash for _, spec in specs.values()}
    runs = fetch_table(uri, experiment, f"tags.study = '{study}'")
    cells = fetch_cells(uri, experiment, f"tags.study = '{study}'")
    if not runs.empty:
        runs = runs[runs["cell_hash"].isin(hashes) & runs["method"].isin(methods)]
        runs = runs.sort_values("start_time").drop_duplicates(["cell_hash", "method"], keep="last")
    if not cells.empty:
        cells = cells[cells["cell_hash"].isin(hashes)]
        cells = cells.sort_values("start_time").drop_duplicates(["cell_hash"], keep="last")
    return runs, cells


def load_model(model_path: str, enc: Any) -> Any:
    """The user's Keras model (safe mode), checked to take the encoded table's columns; a one-line
    ValueError otherwise (called before anything trains)."""
    import keras

    try:
        net = keras.models.load_model(model_path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable model file
        raise ValueError(f"--model {model_path}: cannot be loaded: {type(exc).__name__}: {exc}") from None
    d = int(net.inputs[0].shape[-1])
    if d != enc.X.shape[1]:
        raise ValueError(f"--model {model_path}: takes {d} inputs; the encoded table has {enc.X.shape[1]} "
                         f"columns ({', '.join(enc.feature_names[:8])}, ...)")
    return net


def _with_model(net: Any, path: str, target: str, methods: list[str], seeds: int
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The top methods on the user's own Keras model `net` (input: the encoded table, in
    `Encoded.feature_names` order), `seeds` method seeds on one split; not logged to MLflow."""
    import json

    from varbench.api import method_callable
    from varbench.datasets.table import table
    from varbench.methods.outputs import explain_outputs
    from varbench.models.trained import TrainedModel
    from varbench.models.trainer import quality as model_quality
    from varbench.registry import method_info
    from varbench.runner import method_rng

    data = table(path=path, target=target, seed=0)
    model = TrainedModel(keras=net, task=data.task)
    q = model_quality(model, data.X_test, data.y_test)
    rows = []
    for m in methods:
        fn, meta = method_callable(m), method_info(m).meta
        for s in range(seeds):  # per variable, as the method honours groups (varbench.methods.variables)
            att, _ = explain_outputs(m, fn, model, data, lambda s=s: method_rng(s, m), meta.explains, meta.groups,
                                     meta.categorical)
            rows.append({"method": m, "seed": s, "status": "ok", "cell_status": "ok",
                         "importance": json.dumps(att.importance.tolist())})
    return pd.DataFrame(rows), pd.DataFrame([{k: v for k, v in q.items() if k in ("r2", "accuracy", "auc")}])


def advise(data: str | Path | pd.DataFrame, target: str, out: str | Path | None = None, budget: str = "default",
           model: str | None = None, snr: float = 4.0, tracking_uri: str | None = None,
           drop: list[str] | None = None, impute: str | None = None, task: str | None = None,
           cache_dir: str | None = None, command: str = "") -> Path:
    """Run the whole advice (module docstring) and return the path of report.md.

    data: a .csv/.parquet path or a DataFrame (written as Parquet into `out`); target: the column
    to predict; budget: a key of plan.BUDGETS; model: a saved Keras model taking the encoded table;
    snr: signal-to-noise variance ratio of the planted targets; tracking_uri, cache_dir: the MLflow
    store and model cache (default: the config's). Raises ValueError (one line) for
    bad input before anything is trained or logged."""
    from varbench.datasets.table import load_encoded

    start = time.perf_counter()
    b = plan.budget(budget)
    if not (isinstance(snr, (int, float)) and snr > 0):
        raise ValueError(f"--snr={snr!r} is invalid: expected a number > 0")
    out = Path(out or DEFAULT_OUT)
    if isinstance(data, pd.DataFrame):
        frame = data
        enc = load_encoded(None, frame, target, drop=drop, impute=impute, task=task)
        out.mkdir(parents=True, exist_ok=True)
        path = str((out / "data.parquet").resolve())
        frame.to_parquet(path)
    else:
        path = str(Path(data).expanduser().resolve()) if Path(data).expanduser().exists() else str(data)
        enc = load_encoded(path, None, target, drop=drop, impute=impute, task=task)
    cov = load_encoded(path, None, None, drop=[*(drop or []), target], impute=impute)
    families, skipped = _families(cov, b.families)
    if not families:
        raise ValueError(f"{path}: no planted family fits these covariates: {skipped}")
    methods = plan.methods_for(b)
    study = f"advise-{enc.fingerprint[:8]}-{budget}"
    shared = ((f"dataset.impute={impute}",) if impute else ()) + (
        (f"dataset.drop=[{','.join(plan.quote(c) for c in drop)}]",) if drop else ())
    bench = [replace(c, overrides=c.overrides + shared)
             for c in plan.benchmark_cells(path, target, enc.task, b, snr, enc.X.shape[0], tuple(families))]
    common = plan.common(b, study, tracking_uri, methods, cache_dir)
    specs = validate(bench, common)  # every cell composed and validated before anything runs
    net = load_model(model, enc) if model else None
    t_validate = time.perf_counter() - start
    first = next(iter(specs.values()))[1]
    uri, experiment = first.tracking_uri, first.experiment
    sweep = f"advise:{out}"
    log.info("advise: %d benchmark cells (%s x %d seeds) x %d methods on %s (%d rows, %d variables)",
             len(bench), ",".join(families), b.seeds, len(methods), path, enc.X.shape[0], len(enc.variables))
    t_bench = run_all(bench, specs, sweep, "benchmark")
    t0 = time.perf_counter()
    infos = [_cell_info(c, specs[c][1]) for c in bench]
    runs, cells = _fetch(uri, experiment, study, specs, methods)
    ranking = rank_methods(runs)
    credit = partner_credit(runs, infos)
    low = ([f"{d} seed {int(sd)}" for d, sd, st in zip(cells["dataset"], cells["seed"], cells["status"])
            if st == "low_quality"] if not cells.empty and "status" in cells else [])
    ranked = ranking[ranking["role"] != "floor"] if not ranking.empty else ranking
    top = ranked["method"].head(b.top).tolist() if not ranked.empty else []
    t_rank = time.perf_counter() - t0

    t0 = time.perf_counter()
    variables = [v for v, _ in enc.variables]
    if not top:
        real_runs, real_cells = pd.DataFrame(), pd.DataFrame()
    elif model:
        real_runs, real_cells = _with_model(net, path, target, top, b.real_seeds)
    else:
        reals = [replace(c, overrides=c.overrides + shared + ((f"dataset.task={task}",) if task else ()))
                 for c in plan.real_cells(path, target, b)]
        real_common = plan.common(b, study, tracking_uri, top, cache_dir)
        real_specs = validate(reals, real_common)
        run_all(reals, real_specs, sweep, "real target")
        real_runs, real_cells = _fetch(uri, experiment, study, real_specs, top)
    t_real = time.perf_counter() - t0

    import varbench.advise.render as render

    facts = {"name": Path(path).name if not isinstance(data, pd.DataFrame) else "your DataFrame",
             "target": target, "task": enc.task, "rows": enc.X.shape[0], "columns": enc.X.shape[1],
             "variables": variables, "encoding": enc.record(), "families": families, "snr": snr,
             "seeds": b.seeds, "low_quality": low, "reachable": float(np.mean([reachable(i.truth) for i in infos])), "real_seeds": b.real_seeds, "top": top, "model": model,
             "quality": quality(real_cells) if not real_cells.empty else {}, "tracking_uri": uri, "study": study,
             "command": command or f"varbench advise --data {path} --target {target} --budget {budget}"}
    cols = ["model_spearman", "model_spearman_shapley"]
    if not real_runs.empty and all(c in real_runs and real_runs[c].notna().any() for c in cols):
        facts["model_agreement"] = real_runs.groupby("method")[cols].mean().reindex(top).dropna().to_dict("index")
    facts["recommendation"] = render.recommendation(ranking, credit, families, facts["reachable"]) + [
        f"Family `{f}` was not planted: {why}" for f, why in skipped.items()]
    q = facts["quality"]
    head = q.get("r2", q.get("auc"))
    if head and head["mean"] < 0.5:
        facts["recommendation"].append(f"Caution: the network fits the real target poorly (mean "
                                       f"{'R²' if 'r2' in q else 'AUC'} {head['mean']:.2f}): its importances "
                                       "describe a weak model.")
    timings = {"validate and encode": t_validate, "benchmark: training and overhead": t_bench["train_and_overhead"],
               "benchmark: methods": t_bench["methods"], "store queries and ranking": t_rank,
               "real target (train, methods)": t_real}
    timings["total before the report (incl. imports)"] = time.perf_counter() - start
    report = render.write(out, facts, ranking, credit, real_importance(real_runs, variables), timings)
    _log_report(uri, experiment, study, out)
    log.info("advise: report written to %s (%.0f s)", report, time.perf_counter() - start)
    return report


def _log_report(uri: str, experiment: str, study: str, out: Path) -> None:
    """The report's files as one MLflow run tagged kind=report."""
    from varbench.tracking import Tracker

    tracker = Tracker(uri, experiment)
    run = tracker.start_run("advise-report", {"kind": "report", "study": study})
    for p in sorted(out.glob("*")):
        if p.suffix in (".md", ".csv", ".png"):
            tracker.log_file(run, str(p))
    tracker.end_run(run, "FINISHED")
