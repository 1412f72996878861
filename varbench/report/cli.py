"""`varbench report`: method runs in the tracking store -> tables (markdown + CSV), statistics,
PNG plots, a leaderboard, a generated recommendation and one self-contained report.html, logged
back to MLflow as one run tagged kind=report (named for its filter). Every track (the method runs
and the interaction track) goes through the same preparation (varbench.report.prepare)."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from varbench.outdir import FORCE_HELP, OutDir, OutDirError
from varbench.report.metrics import METRICS, logged_metrics, ranking_metric
from varbench.report.plots import importance_cells, parse_cell
from varbench.report.prepare import INTERACTION_HEADLINE, build_filter, filter_label, prepare
from varbench.report.protocol import DEFAULT_PROTOCOL, load_protocol, protocol_leaderboard, protocol_markdown
from varbench.report.tables import format_summary, low_quality_table, summarize
from varbench.report.write import files, selection_report, write_report
from varbench.schema import TrackingConfig  # the one source of the tracking defaults
from varbench.store_file import StoreError
from varbench.tracking import Tracker, experiment_id, fetch_cells, fetch_table, open_existing_store

MLFLOW_UI = "http://127.0.0.1:5000"    # `mlflow ui`'s default address, for links into a local store


class Progress:
    """One line per step on stderr, with the seconds since the report started."""

    def __init__(self, quiet: bool = False) -> None:
        self.t0 = time.perf_counter()
        self.quiet = quiet

    def __call__(self, step: str) -> None:
        if not self.quiet:
            print(f"report [{time.perf_counter() - self.t0:5.1f}s] {step}", file=sys.stderr, flush=True)


def run_url(uri: str, experiment_id: str | None) -> tuple[object, str]:
    """(run id -> URL in the MLflow UI, a note on how to open them); (None, '') without an id."""
    if experiment_id is None:
        return None, ""
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else MLFLOW_UI
    note = ("" if base != MLFLOW_UI else
            f"Links open in the MLflow UI: start it with `mlflow ui --backend-store-uri {uri}` (default address "
            f"{MLFLOW_UI}).")
    return (lambda run_id: f"{base}/#/experiments/{experiment_id}/runs/{run_id}"), note


def log_to_mlflow(uri: str, experiment: str, paths: Sequence[Path], tags: dict[str, str], name: str) -> str:
    """Log the report's files as one run tagged kind=report; returns the run id."""
    tracker = Tracker(uri, experiment)
    run = tracker.start_run(name, {"kind": "report", **tags})
    try:
        for p in paths:
            tracker.log_file(run, str(p), "report")
    except Exception:
        tracker.end_run(run, "FAILED")
        raise
    tracker.end_run(run, "FINISHED")
    return run


def report_name(kind: str, label: str) -> str:
    """MLflow run name of a report: 'report:full' or 'report:full[study=x,dataset=y]'."""
    return f"report:{kind}" + (f"[{label}]" if label else "")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="varbench report", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", default=TrackingConfig.uri, help="MLflow tracking URI")
    p.add_argument("--experiment", default=TrackingConfig.experiment)
    p.add_argument("--study", help="only runs with this study tag (not with --leaderboard: its protocol names them)")
    p.add_argument("--dataset")
    p.add_argument("--model")
    p.add_argument("--sweep", help="only runs of this sweep (its output dir)")
    p.add_argument("--out", default="outputs/report",
                   help="output directory; the previous report's files there are replaced, nothing else is touched")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--quality-threshold", type=float, default=None,
                   help="also treat cells whose test R2 / ROC AUC is below this as low quality "
                        "(cells tagged cell_status=low_quality always are)")
    p.add_argument("--metric", default=None, choices=list(METRICS),
                   help="metric for ranks and statistics (default: spearman, else the first logged of the "
                        "validated truth-free metrics and model_spearman; the protocol's with --leaderboard)")
    p.add_argument("--leaderboard", action="store_true",
                   help="only the leaderboard of a frozen protocol (conf/leaderboard/): in-sample tiers, held-out "
                        "ranks and Kendall tau")
    p.add_argument("--protocol", default=DEFAULT_PROTOCOL,
                   help=f"with --leaderboard: a protocol name in conf/leaderboard/ or a YAML path (default "
                        f"{DEFAULT_PROTOCOL})")
    p.add_argument("--cell", help="draw importance bars for this cell only (DATASET/MODEL/SEED)")
    p.add_argument("--include-oracle", action="store_true", help="rank the oracle like any method")
    p.add_argument("--no-plots", action="store_true", help="tables and statistics only")
    p.add_argument("--no-mlflow-log", action="store_true", help="do not log the report as an MLflow run")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _fail(exc: Exception) -> int:
    print(f"varbench report: {exc}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """CLI entry (`varbench report ...`): 0 on success, 1 if there is nothing to report or
    logging failed, 2 for invalid arguments, a refused --out or an unusable store (one line;
    --debug, or HYDRA_FULL_ERROR=1 set by the user, shows the traceback instead)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or (os.environ.get("HYDRA_FULL_ERROR") == "1"
                                  and os.environ.get("VARBENCH_FULL_ERROR") != "set")  # as varbench.cli
    try:
        return _report(parser().parse_args([a for a in argv if a != "--debug"]))
    except (OutDirError, StoreError) as exc:
        if debug:
            raise
        return _fail(exc)


def _report(args: argparse.Namespace) -> int:
    progress = Progress(args.quiet)

    protocol = None
    try:
        if args.leaderboard:
            if args.study:
                raise ValueError(f"--study={args.study!r} is invalid with --leaderboard: the protocol names its studies")
            protocol = load_protocol(args.protocol)
    except ValueError as exc:
        return _fail(exc)
    study = protocol.parts["in-sample"].study if protocol is not None else args.study
    if protocol is not None:
        args.metric = args.metric or protocol.metric
    try:
        od = OutDir(args.out, "report-leaderboard" if args.leaderboard else "report", args.force)
        open_existing_store(args.uri, write=not args.no_mlflow_log)  # a mistyped --uri: an error, not a new store
        flt = build_filter(args.dataset, args.model, args.sweep, study)
        if args.cell:
            parse_cell(args.cell)
        if args.quality_threshold is not None and not math.isfinite(args.quality_threshold):
            raise ValueError(f"--quality-threshold={args.quality_threshold!r} is invalid: expected a finite number")
    except ValueError as exc:
        return _fail(exc)
    label = filter_label(args.dataset, args.model, args.sweep, study)
    progress(f"reading runs from {args.uri}, experiment {args.experiment!r}" + (f" ({label})" if label else ""))
    runs = fetch_table(args.uri, args.experiment, flt)
    held = [build_filter(args.dataset, args.model, args.sweep, s) for s in (protocol.studies if protocol else [])
            if s != study]
    runs = pd.concat([runs] + [fetch_table(args.uri, args.experiment, f) for f in held], ignore_index=True)
    inter = pd.DataFrame() if args.leaderboard else fetch_table(args.uri, args.experiment, flt, kind="interaction")
    sel = pd.DataFrame() if args.leaderboard else fetch_table(args.uri, args.experiment, flt, kind="selection")
    source = f"{args.uri}, experiment '{args.experiment}'" + (f", filter `{flt}`" if flt else "")
    if runs.empty and inter.empty and sel.empty:
        print(f"no method runs in experiment {args.experiment!r} at {args.uri}" + (f" matching {flt}" if flt else ""))
        return 1
    cells = pd.concat([fetch_cells(args.uri, args.experiment, f) for f in [flt] + held], ignore_index=True)
    if args.metric is None and len(runs):  # the first logged of spearman, the validated truth-free metrics,
        args.metric = ranking_metric(runs)  # model_spearman; else any logged metric, said so
        if args.metric is None and logged_metrics(runs):
            args.metric = logged_metrics(runs)[0]
            print(f"note: ranking by {args.metric}, the first metric the runs logged (no data truth, no validated "
                  "truth-free metric, no model truth was logged)")
    args.metric = args.metric or "spearman"
    progress(f"preparing {len(runs)} method run(s), {len(inter)} interaction run(s), {len(cells)} cell(s)")
    try:
        data = prepare(runs, cells, args.metric, args.quality_threshold, args.include_oracle) if len(runs) else None
        idata = (prepare(inter, cells, "pair_auroc", args.quality_threshold, args.include_oracle,
                         INTERACTION_HEADLINE, "interactions") if len(inter) else None)
        if data is not None and (data.runs["status"] == "ok").any() and data.runs[args.metric].isna().all():
            logged = [m for m in METRICS if m in data.runs and data.runs[m].notna().any()]
            raise ValueError(f"--metric={args.metric!r} is invalid: no method run logged it (logged: "
                             f"{', '.join(logged) or 'none'})")
        if args.cell and (data is not None or idata is not None):  # (no importance bars for selection runs)
            importance_cells(data if data is not None else idata, args.cell)
    except ValueError as exc:
        return _fail(exc)
    out = Path(args.out)
    if args.leaderboard:
        if data is None:
            print(f"no method runs of study {study!r} for the leaderboard")
            return 1
        try:
            board = protocol_leaderboard(runs, cells, protocol, args.metric, args.quality_threshold)
        except ValueError as exc:
            print(f"varbench report --leaderboard: {exc}")
            return 1
        text = protocol_markdown(board, source)
        od.write_text("leaderboard.md", text)
        od.write_csv("leaderboard.csv", board.board)
        od.write_csv("rank_stability.csv", board.stability)
        print(text)
    elif data is None and idata is None:  # only the selection track was run
        selection_report(sel, od)
        print((out / "selection.md").read_text())
    else:
        link, note = run_url(args.uri, experiment_id(args.uri, args.experiment))
        res = write_report(data, od, source, args.cell, not args.no_plots, idata, link, note, progress)
        selection_report(sel, od)
        if len(sel):
            print(f"selection track: {len(sel)} runs, see {out / 'selection.md'}")
        if idata is not None:
            print(f"interaction track: {len(idata.runs)} runs, see {out / 'interactions.md'}")
        if data is not None:
            table = summarize(pd.concat([data.ranked, data.ceilings]).drop_duplicates("run_id"), args.metric)
            print(format_summary(table, f"{len(data.runs)} method runs in {data.runs['cell'].nunique()} cells "
                                        f"({source}); good cells only, ranked by {table.attrs.get('ranked_by')}"))
            n_low = len(low_quality_table(data))
            if n_low:
                print(f"{n_low} low-quality cell(s) reported separately (low_quality.csv), not averaged in")
            comp = res.comparison
            if comp.ok:
                print(f"Friedman over {comp.n_blocks} complete cells ({comp.n_dropped} dropped): "
                      f"p = {comp.pvalue:.3g}; Nemenyi CD = {comp.cd:.2f}; significant Wilcoxon-Holm pairs: "
                      f"{int(comp.wilcoxon['significant'].sum())} of {len(comp.wilcoxon)}")
            else:
                print(f"statistics skipped: {comp.note}")
            tiers = res.tiers
            if tiers is not None and tiers.ok:
                print(f"tiers ({tiers.units}): {tiers.n_tiers}, in tiers.csv")
            if comp.left_out:
                print("not compared (partial coverage): "
                      + ", ".join(f"{m} ({n} cells)" for m, n in comp.left_out.items()))
        for n in res.notes:
            print(f"plot skipped: {n}")
    written = od.finish()
    print(f"\nwrote {len(written)} files to {out}/ ({files(written)})")
    if not args.no_mlflow_log:
        kind = "leaderboard" if args.leaderboard else "full"
        try:
            run = log_to_mlflow(args.uri, args.experiment, written,
                                {"report": kind, "filter": flt, "metric": args.metric, "study": study or "",
                                 **({"protocol": protocol.name} if protocol is not None else {})},
                                report_name(kind, label))
        except Exception as exc:  # noqa: BLE001 - files are written; say that logging failed
            print(f"varbench report: logging the report to MLflow failed: {exc}", file=sys.stderr)
            return 1
        print(f"logged as MLflow run {run} ({report_name(kind, label)}, kind=report) in experiment "
              f"{args.experiment!r}")
    progress("done")
    return 0
