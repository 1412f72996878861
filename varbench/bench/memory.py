"""Peak memory of batched methods against rows and chunk size (tracemalloc)."""
from __future__ import annotations

import tracemalloc
from typing import Any, Callable

import numpy as np

from varbench.bench.harness import Context, Section, _kernel_shap_available
from varbench.bench.render import table
from varbench.methods.gradients import integrated_gradients
from varbench.methods.perturbation import permutation


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated through Python's allocators (numpy arrays included) during fn();
    TensorFlow's own buffers are not traced."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return int(peak)


def bench_memory(ctx: Context) -> Section:
    s, model, big = ctx.sizes, ctx.model, ctx.big
    d = big.n_features
    cases: list[tuple[str, int, Callable[[int], Any], int]] = [
        (f"integrated_gradients (steps={s.ig_steps})", s.ig_steps,
         lambda n: integrated_gradients(model, big, np.random.default_rng(0), n_rows=n, steps=s.ig_steps), 0),
        (f"permutation (n_repeats={s.perm_repeats})", s.perm_repeats,
         lambda n: permutation(model, big, np.random.default_rng(0), n_repeats=s.perm_repeats, n_rows=n), 0),
    ]
    shap_missing = _kernel_shap_available()
    if shap_missing is None:
        from varbench.methods.shapley import kernel_shap  # lazy: only once the probe above found it importable

        bg_rows = min(s.shap_background, big.X_train.shape[0])
        cases.append((f"kernel_shap exact (background {bg_rows})", (2**d - 2) * bg_rows,
                      lambda n: kernel_shap(model, big, np.random.default_rng(0), n_rows=n,
                                            background_size=bg_rows, max_exact_features=max(d, 1)), 1))
    old = model.chunk_size
    rows, verdicts = [], []
    try:
        for label, per_row, fn, which in cases:
            row_sizes = s.mem_shap_rows if which else s.mem_rows
            peaks = {}
            for n in row_sizes:
                for c in s.mem_chunks:
                    model.chunk_size = c
                    peaks[n, c] = peak_bytes(lambda: fn(n))
                    # model inputs built at once: rows x (evaluations per row) x d float32
                    rows.append([label, n, c, f"{peaks[n, c] / 2**20:.1f}",
                                 f"{n * per_row * d * 4 / 2**20:.1f}"])
            (n1, n2), (c1, c2) = row_sizes, s.mem_chunks
            slope = (peaks[n2, c2] - peaks[n1, c2]) / (n2 - n1)  # bytes per extra row
            share = slope / (per_row * d * 4)
            chunk_effect = peaks[n2, c2] / peaks[n2, c1]
            head = (f"- {label}: each extra row adds {slope / 2**10:,.1f} KiB to the peak, {share:.2f}x its "
                    f"share of the batch; chunk {c1} -> {c2} changes the peak by a factor {chunk_effect:.2f}. ")
            big_case = share * 4 * 10_000 * per_row * 100 / 2**30  # 10,000 rows, d = 100
            verdicts.append(head + ("Not bounded by the chunk size: the peak follows rows x evaluations x "
                                    f"features (at 10,000 rows and d = 100: ~{big_case:.2g} GiB)."
                                    if share >= 0.5 else
                                    "The input batch is bounded (built in blocks); what still grows with rows "
                                    "is smaller than the inputs."))
    finally:
        model.chunk_size = old
    body = "\n".join([
        "Peak of Python-traced allocations (tracemalloc: numpy arrays, where the perturbed batches are "
        "built) during one call, for two row counts and two `TrainedModel.chunk_size` values. The last "
        "column is the size of the method's largest perturbed batch if built whole as float32 (IG: rows x "
        "steps x d; permutation: repeats x rows x d, one feature at a time; KernelSHAP: rows x coalitions "
        "x background x d).",
        "",
        table(["method", "rows", "chunk_size", "peak MiB", "largest batch if whole, MiB"], rows),
        "",
        *verdicts,
        ""
    ])
    return Section("Memory", [], body)
