"""Speed benchmarks: varbench's engine against the tools people use today.

Each comparison runs varbench and the peer (keras `model.fit`, scikit-learn's
`permutation_importance`, `shap.KernelExplainer`, shap's Gradient/Deep/Permutation explainers,
the `lime` package) in this one process on the same trained model, rows and settings,
interleaved and repeated; tables report medians and the ratio peer / varbench (for shap's
background-averaged explainers also at equal error against the exact values). Peers run two
ways (as users call them, and on varbench's engine); values are checked to agree within stated
tolerances. Also measured: stacked training, the batched methods' share of the roofline,
Integrated Gradients throughput, peak memory against rows and chunk size, a reduced study one by
one vs with stacked pre-training, and a cProfile of one cell.

Modules: harness (sizes, timing, context), training (fit, stacks), peers, shap_peers, roofline,
memory, study, profile, render (markdown and bench.json).

    varbench bench [--quick] [--out outputs/bench] [--write-results]

Peers are benchmark extras, not runtime dependencies: a comparison whose peer is not installed
is reported as "not run" with the reason. No timing is asserted anywhere (tests only smoke-test
the machinery at tiny sizes).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from varbench.bench.harness import (DISAGREE, FULL, INFO, MET, MODES, NOT_MET, NOT_RUN, QUICK, TINY,  # noqa: E402
                                    Context, Result, Section, Sizes, make_context, median, side_by_side, timed,
                                    verdict)
from varbench.bench.memory import bench_memory, peak_bytes  # noqa: E402
from varbench.bench.peers import bench_kernel_shap, bench_lime, bench_permutation  # noqa: E402
from varbench.bench.profile import bench_profile, bench_studies, library_of  # noqa: E402
from varbench.bench.render import _load, figures_json, fmt, render, table  # noqa: E402
from varbench.bench.roofline import bench_ig, bench_roofline  # noqa: E402
from varbench.bench.shap_peers import bench_shap_explainers  # noqa: E402
from varbench.bench.store import bench_store  # noqa: E402
from varbench.bench.study import bench_study  # noqa: E402
from varbench.bench.study_full import bench_study_full  # noqa: E402
from varbench.bench.study_profile import bench_study_profile  # noqa: E402
from varbench.bench.threads import bench_threads  # noqa: E402
from varbench.bench.training import bench_stacked, bench_training  # noqa: E402
from varbench.models.runtime import start_tensorflow, thread_plan  # noqa: E402
from varbench.outdir import FORCE_HELP, OutDir, OutDirError  # noqa: E402

__all__ = ["DISAGREE", "Report", "RESULTS", "FULL", "INFO", "MET", "MODES", "NOT_MET", "NOT_RUN", "QUICK", "TINY", "Context", "Result", "Section",
           "Sizes", "SECTIONS", "fmt", "library_of", "main", "median", "peak_bytes", "render", "run",
           "side_by_side", "table", "timed", "verdict"]

SECTIONS: list[Callable[[Context], Section]] = [bench_training, bench_stacked, bench_threads, bench_permutation,
                                                bench_kernel_shap, bench_shap_explainers, bench_lime, bench_ig,
                                                bench_roofline, bench_memory, bench_store, bench_study, bench_study_full,
                                                bench_study_profile, bench_profile,
                                                bench_studies]


RESULTS = Path("results")  # where --write-results puts performance.md and bench.json


@dataclass
class Report:
    """A finished benchmark run: the markdown, the flat figures and the disagreements."""

    text: str
    figures: dict[str, float]
    disagreements: list[str]


def run(sizes: Sizes, out: str | Path | OutDir | None = None,
        sections: Sequence[Callable[[Context], Section]] = SECTIONS, write_results: bool = False) -> Report:
    """Run every benchmark section at `sizes`; write `performance.md` and `bench.json` into the
    folder `out` (if given; through varbench.outdir, so a folder holding files varbench did not
    write is refused before anything runs) and, with `write_results`, into `results/` too. The
    training section runs first: it provides the model and the measured peak the others use."""
    folders = ([out if isinstance(out, OutDir) else OutDir(out, "bench")] if out is not None else []) + (
        [OutDir(RESULTS, "bench", force=True)] if write_results else [])  # --write-results: the explicit flag
    logger = logging.getLogger("varbench")
    level = logger.level
    logger.setLevel(logging.WARNING)  # the profiled cell's per-method log lines

    start_tensorflow(thread_plan("auto"))  # as a job runs (no effect if TensorFlow already started)
    start, load_start = time.perf_counter(), _load()
    done = []
    try:
        ctx = make_context(sizes)
        for fn in sections:
            t0 = time.perf_counter()
            print(f"[bench] {fn.__name__} ...", file=sys.stderr, flush=True)
            done.append(fn(ctx))
            print(f"[bench] {fn.__name__} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        logger.setLevel(level)
    text = render(done, sizes, time.perf_counter() - start, load_start, _load())
    figures_text = figures_json(done)
    for od in folders:
        od.write_text("performance.md", text)
        od.write_text("bench.json", figures_text + "\n")
        od.finish()
    disagreements = [f"{r.name}: {r.agreement}" for sec in done for r in sec.results if r.status == DISAGREE]
    return Report(text, json.loads(figures_text), disagreements)


def main(argv: Sequence[str] | None = None) -> int:
    """`varbench bench [--quick] [--out DIR] [--write-results]`: run the benchmarks, write
    DIR/performance.md and DIR/bench.json; exit 1 if any comparison disagreed."""
    parser = argparse.ArgumentParser(prog="varbench bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a few minutes")
    parser.add_argument("--out", default="outputs/bench", help="folder for performance.md and bench.json")
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)
    parser.add_argument("--write-results", action="store_true",
                        help="also overwrite the committed results/performance.md and results/bench.json")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.write_results and args.quick:
        parser.error("--write-results refreshes the committed results in full mode: drop --quick")
    try:
        out = OutDir(args.out, "bench", args.force)  # refused before the benchmarks run
        report = run(QUICK if args.quick else FULL, out, write_results=args.write_results)
    except OutDirError as exc:  # a refused --out, or a write that failed (full disk, read-only folder)
        print(f"varbench bench: {exc}", file=sys.stderr)
        return 2
    print(report.text.split("## Summary", 1)[1].split("## Misses", 1)[0].strip())
    print(f"\nwrote {Path(args.out) / 'performance.md'} and {Path(args.out) / 'bench.json'}"
          + (f" (and {RESULTS}/)" if args.write_results else ""))
    for line in report.disagreements:
        print(f"DISAGREES: {line}", file=sys.stderr)
    return 1 if report.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
