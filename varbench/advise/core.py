"""`varbench advise`: which importance method to trust on data like yours, and what it says.

1. The table is read and encoded (varbench.datasets.table); bad input stops here, nothing logged.
2. Benchmark: targets of each planted family are planted on the table's own covariates (the real
   target left out) for a few seeds; the budget's methods run on a network trained per cell, all
   through the ordinary runner (MLflow store, model cache, resume, progress).
3. Methods are ranked for this data (mean Spearman vs the planted truth, 95% t intervals).
4. The network is trained on the real target (`dataset=table`, a few seeds) or `--model` is
   taken; the top methods and the cheap rest run on it (varbench.advise.signals.real_methods);
   their importances get intervals over the trainings, and they are ranked by the validated
   truth-free metrics they logged; the report sets that ranking beside the semi-synthetic one.
5. One report (report.md, CSVs, PNGs) in `out`, also logged to MLflow as a `kind=report` run.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import varbench.advise.plan as plan
from varbench.advise.own_model import encoded_for_model, load_model, with_model
from varbench.advise.rank import (CellInfo, broken_model, partner_credit, quality, rank_methods, reachable,
                                  real_importance)
import varbench.advise.render as render
from varbench.advise.run import run_all, validate
from varbench.advise.signals import compare, real_methods, truth_free_ranking
from varbench.datasets.planted import n_relevant_for, unfit
from varbench.datasets.table import Encoded, encode_table, read_table
from varbench.outdir import OutDir
from varbench.tracking import Tracker, fetch_cells, fetch_table

log = logging.getLogger("varbench.advise")
DEFAULT_OUT = "outputs/advise"


ADVISE_KEYS = {"columns": "--drop", "drop": "--drop", "impute": "--impute", "task": "--task",
               "max_levels": "--max-levels"}  # the flag each table message names (varbench.datasets.table)


def _families(cov: Any, families: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """The families that can be planted on these covariates, and why the others cannot (in the
    table's terms: no option the user never set)."""
    ok, skipped = [], {}
    for fam in families:
        why = unfit(fam, len(cov.variables), len(cov.numeric))
        if why:
            skipped[fam] = why
        else:
            ok.append(fam)
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


@dataclass
class Prepared:
    """What advise checked and composed before anything trains or is logged: the budget, the
    table (its path, varbench encoding `enc`, covariates' families), the methods planned and those
    left out (with the reason), the benchmark cells and their validated specs, and the user's own
    network with the table encoded as it expects (`own`), when `--model` was given; the output
    folder `od`."""

    b: plan.Budget
    path: str
    name: str
    enc: Encoded
    families: list[str]
    skipped: dict[str, str]
    methods: list[str]
    left_out: dict[str, str]
    study: str
    shared: tuple[str, ...]
    bench: list[plan.Cell]
    specs: dict[Any, Any]
    model: str | None = None
    net: Any = None
    own: Encoded | None = None
    od: OutDir | None = None  # the output folder, opened (checked) before anything runs


def prepare(data: str | Path | pd.DataFrame, target: str, out: str | Path | None = None, budget: str = "default",
            model: str | None = None, encoding: str | None = None, snr: float = 4.0,
            tracking_uri: str | None = None, drop: list[str] | None = None, impute: str | None = None,
            task: str | None = None, max_levels: int | None = None, cache_dir: str | None = None,
            force: bool = False) -> Prepared:
    """Check everything advise needs and compose its cells (`advise`'s arguments); a one-line
    ValueError (or ConfigError) naming advise's own flags for bad input, or a refused `out`
    (varbench.outdir; `force` writes into a folder holding files varbench did not write). Nothing
    is trained or logged; a DataFrame is written as Parquet into `out` (the cells read it from there).

    Examples
    --------
    >>> p = prepare("my.csv", "price", budget="tiny")  # doctest: +SKIP
    >>> p.methods, p.left_out                          # doctest: +SKIP
    """
    b = plan.budget(budget)
    if not (isinstance(snr, (int, float)) and snr > 0):
        raise ValueError(f"--snr={snr!r} is invalid: expected a number > 0")
    if encoding is not None and model is None:
        raise ValueError(f"--encoding {encoding} goes with --model: it says what your model was trained on")
    od = OutDir(Path(out or DEFAULT_OUT), "advise", force)  # a refused folder stops before anything runs
    opts = {"impute": impute, "max_levels": max_levels, "keys": ADVISE_KEYS}
    if isinstance(data, pd.DataFrame):
        frame, source = data, "DataFrame"
        enc = encode_table(frame, target, drop=drop, task=task, source=source, **opts)
        path = str(od.target("data.parquet").resolve())
    else:
        path = str(Path(data).expanduser().resolve()) if Path(data).expanduser().exists() else str(data)
        frame = read_table(path)
        enc = encode_table(frame, target, drop=drop, task=task, source=path, **opts)
        source = path
    if len(enc.variables) < 2:
        raise ValueError(f"{source}: advise compares methods by how they rank variables and needs at least two; "
                         f"the table has {len(enc.variables)} ({', '.join(v for v, _ in enc.variables)}; "
                         f"dropped: {enc.dropped or 'none'})")
    cov = encode_table(frame, None, drop=[*(drop or []), target], source=source, **opts)
    families, skipped = _families(cov, b.families)
    if not families:
        raise ValueError(f"{source}: no planted family fits these covariates: {skipped}")
    planned = plan.methods_for(b)
    left = plan.left_out(planned, enc.groups)
    methods = [m for m in planned if m not in left]
    # the input contract of --model, before any cell is composed or any model is loaded
    own = encoded_for_model(model, encoding, frame, target, source) if model else None
    if isinstance(data, pd.DataFrame):  # written once every check on it has passed; the cells read it
        od.write_bytes("data.parquet", frame.to_parquet())
    study = f"advise-{enc.fingerprint[:8]}-{budget}"
    shared = ((f"dataset.impute={impute}",) if impute else ()) + (
        (f"dataset.drop=[{','.join(plan.quote(c) for c in drop)}]",) if drop else ()) + (
        (f"+dataset.max_levels={max_levels}",) if max_levels is not None else ())
    bench = [replace(c, overrides=c.overrides + shared)
             for c in plan.benchmark_cells(path, target, enc.task, b, snr, enc.X.shape[0], tuple(families),
                                           n_relevant=n_relevant_for(len(cov.variables)))]
    specs = validate(bench, plan.common(b, study, tracking_uri, methods, cache_dir))
    net = load_model(model, own, encoding) if model else None
    return Prepared(b, path, Path(path).name if not isinstance(data, pd.DataFrame) else "your DataFrame", enc,
                    families, skipped, methods, left, study, shared, bench, specs, model, net, own, od)


def plan_notes(p: Prepared) -> list[str]:
    """One line per planted family and per method left out of the plan, saying why."""
    return ([f"Family `{f}` was not planted: it {why}." for f, why in p.skipped.items()]
            + [f"`{m}` was left out: it {why}." for m, why in p.left_out.items()])


def advise(data: str | Path | pd.DataFrame, target: str, out: str | Path | None = None, budget: str = "default",
           model: str | None = None, snr: float = 4.0, tracking_uri: str | None = None,
           drop: list[str] | None = None, impute: str | None = None, task: str | None = None,
           cache_dir: str | None = None, command: str = "", encoding: str | None = None,
           max_levels: int | None = None, force: bool = False) -> Path:
    """Run the whole advice (module docstring) and return the path of report.md.

    data: a .csv/.parquet path or a DataFrame (written as Parquet into `out`); target: the column
    to predict; budget: a key of plan.BUDGETS; model: a saved Keras model, with `encoding` the
    encoding.json of the table it was trained on (`Encoded.save`; varbench.advise.own_model);
    snr: signal-to-noise variance ratio of the planted targets; max_levels: one-hot levels per
    categorical; tracking_uri, cache_dir: the MLflow store and model cache (default: the
    config's); force: write into an `out` folder holding files varbench did not write
    (varbench.outdir). Raises ValueError (one line) for bad input or a refused `out` before
    anything is trained or logged.

    Examples
    --------
    >>> advise("my.csv", "price", out="rep", budget="tiny")  # doctest: +SKIP
    PosixPath('rep/report.md')
    """
    start = time.perf_counter()
    p = prepare(data, target, out, budget, model, encoding, snr, tracking_uri, drop, impute, task, max_levels,
                cache_dir, force)
    b, enc, methods, specs, study = p.b, p.enc, p.methods, p.specs, p.study
    out = Path(out or DEFAULT_OUT)
    t_validate = time.perf_counter() - start
    first = next(iter(specs.values()))[1]
    uri, experiment = first.tracking_uri, first.experiment
    sweep = f"advise:{out}"
    log.info("advise: %d benchmark cells (%s x %d seeds) x %d methods on %s (%d rows, %d variables)",
             len(p.bench), ",".join(p.families), b.seeds, len(methods), p.path, enc.X.shape[0], len(enc.variables))
    t_bench = run_all(p.bench, specs, sweep, "benchmark")
    t0 = time.perf_counter()
    infos = [_cell_info(c, specs[c][1]) for c in p.bench]
    runs, cells = _fetch(uri, experiment, study, specs, methods)
    ranking = rank_methods(runs)
    credit = partner_credit(runs, infos)
    low = ([f"{d} seed {int(sd)}" for d, sd, st in zip(cells["dataset"], cells["seed"], cells["status"])
            if st == "low_quality"] if not cells.empty and "status" in cells else [])
    ranked = ranking[ranking["role"] != "floor"] if not ranking.empty else ranking
    top = ranked["method"].head(b.top).tolist() if not ranked.empty else []
    on_real = real_methods(ranking, b.top)  # the top ones and the cheap rest (varbench.advise.signals)
    t_rank = time.perf_counter() - t0

    t0 = time.perf_counter()
    variables = [v for v, _ in (p.own or enc).variables]
    if not top:
        real_runs, real_cells = pd.DataFrame(), pd.DataFrame()
    elif model:
        real_runs, real_cells = with_model(p.net, p.own, on_real, b.real_seeds)
    else:
        reals = [replace(c, overrides=c.overrides + p.shared + ((f"dataset.task={task}",) if task else ()))
                 for c in plan.real_cells(p.path, target, b)]
        real_specs = validate(reals, plan.common(b, study, tracking_uri, on_real, cache_dir))
        run_all(reals, real_specs, sweep, "real target")
        real_runs, real_cells = _fetch(uri, experiment, study, real_specs, on_real)
    t_real = time.perf_counter() - t0

    broken = broken_model(real_cells, first.quality_threshold) if top else None
    facts = {"name": p.name, "target": target, "task": enc.task, "rows": enc.X.shape[0], "columns": enc.X.shape[1],
             "variables": variables, "encoding": enc.record(), "families": p.families, "snr": snr,
             "seeds": b.seeds, "low_quality": low, "reachable": float(np.mean([reachable(i.truth) for i in infos])),
             "trainings": 1 if model else len(real_cells), "method_seeds": b.real_seeds if model else 1,
             "top": top, "real_methods": on_real, "model": model, "encoding_file": encoding, "left_out": p.left_out,
             "broken": broken,
             "quality": quality(real_cells) if not real_cells.empty else {}, "tracking_uri": uri, "study": study,
             "command": command or f"varbench advise --data {p.path} --target {target} --budget {budget}"}
    cols = ["model_spearman", "model_spearman_shapley"]
    if not broken and not real_runs.empty and all(c in real_runs and real_runs[c].notna().any() for c in cols):
        agree = real_runs.groupby("method")[cols].mean().reindex(on_real).dropna()
        facts["model_agreement"] = agree.to_dict("index")
    if broken:
        real_runs = pd.DataFrame()  # a broken model's importances (and their truth-free scores) are not reported
    free = truth_free_ranking(real_runs)
    facts["recommendation"] = render.advice(ranking, credit, p.families, facts["reachable"], broken, target,
                                            bool(model), compare(ranking, free)) + plan_notes(p)
    timings = {"validate and encode": t_validate, "benchmark: training and overhead": t_bench["train_and_overhead"],
               "benchmark: methods": t_bench["methods"], "store queries and ranking": t_rank,
               "real target (train, methods)": t_real}
    timings["total before the report (incl. imports)"] = time.perf_counter() - start
    report = render.write(p.od, facts, ranking, credit, real_importance(real_runs, variables), timings,
                          truth_free=free)
    _log_report(uri, experiment, study, p.od.written)
    log.info("advise: report written to %s (%.0f s)", report, time.perf_counter() - start)
    return report


def _log_report(uri: str, experiment: str, study: str, paths: list[Path]) -> None:
    """The report's files (those this run wrote) as one MLflow run tagged kind=report."""
    tracker = Tracker(uri, experiment)
    run = tracker.start_run("advise-report", {"kind": "report", "study": study})
    for p in sorted(paths):
        if p.suffix in (".md", ".csv", ".png"):
            tracker.log_file(run, str(p))
    tracker.end_run(run, "FINISHED")
