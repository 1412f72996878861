"""Speed benchmarks: varbench's engine against the tools people use today.

Each comparison runs varbench and the peer (keras `model.fit`, scikit-learn's
`permutation_importance`, `shap.KernelExplainer`, the `lime` package) in this one process on the
same trained model, rows and settings, interleaved and repeated; tables report medians and the
ratio peer / varbench against the target. Values are checked to agree. Also measured: the
trainer's fraction of the machine's float32 matmul peak, Integrated Gradients throughput, how a
method's peak memory scales with rows and chunk size, and a cProfile of one default cell.

    python -m varbench.bench [--quick] [--out results/performance.md]

Peers are benchmark extras, not runtime dependencies: a comparison whose peer is not installed
is reported as "not run" with the reason. No timing is asserted anywhere (tests only smoke-test
the machinery at tiny sizes).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from varbench.bench.harness import (FULL, INFO, MET, MODES, NOT_MET, NOT_RUN, QUICK, TINY, Context, Result,  # noqa: E402
                                    Section, Sizes, make_context, median, side_by_side, timed, verdict)
from varbench.bench.memory import bench_memory, peak_bytes  # noqa: E402
from varbench.bench.peers import bench_ig, bench_kernel_shap, bench_lime, bench_permutation, bench_training  # noqa: E402
from varbench.bench.profile import bench_profile, bench_studies, library_of  # noqa: E402
from varbench.bench.render import _load, fmt, render, table  # noqa: E402

__all__ = ["FULL", "INFO", "MET", "MODES", "NOT_MET", "NOT_RUN", "QUICK", "TINY", "Context", "Result", "Section",
           "Sizes", "SECTIONS", "fmt", "library_of", "main", "median", "peak_bytes", "render", "run",
           "side_by_side", "table", "timed", "verdict"]

SECTIONS: list[Callable[[Context], Section]] = [bench_training, bench_permutation, bench_kernel_shap,
                                                bench_lime, bench_ig, bench_memory, bench_profile,
                                                bench_studies]


def run(sizes: Sizes, out: str | Path | None = None,
        sections: Sequence[Callable[[Context], Section]] = SECTIONS) -> str:
    """Run every benchmark section at `sizes`, write the markdown report to `out` (if given)
    and return it. The training section runs first: it provides the model the others use."""
    import logging

    logger = logging.getLogger("varbench")
    level = logger.level
    logger.setLevel(logging.WARNING)  # the profiled cell's per-method log lines
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
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """`varbench bench [--quick] [--out PATH]`: run the benchmarks and write the report."""
    parser = argparse.ArgumentParser(prog="varbench bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 3 minutes")
    parser.add_argument("--out", default="results/performance.md", help="markdown report to write")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    text = run(QUICK if args.quick else FULL, args.out)
    summary = text.split("## Summary", 1)[1].split("## ", 1)[0]
    print(summary.strip())
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
