"""Throughput of the batched methods as a share of the roofline: model evaluations per second x
FLOPs per evaluation against the measured float32 matmul peak; Integrated Gradients throughput."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from varbench.bench.harness import INFO, Context, Result, Section, median, side_by_side, timed, verdict
from varbench.bench.render import fmt, table
from varbench.methods.gradients import integrated_gradients
from varbench.methods.perturbation import permutation
from varbench.methods.shapley import kernel_shap, sage
from varbench.methods.surrogate import lime

ROOFLINE_AIM = 0.25  # issue 16: batch methods at least this share of the measured matmul peak


def forward_flops(net: Any) -> float:
    """FLOPs of one row through the network's dense layers (2 per multiply-add)."""
    return float(sum(2 * int(np.prod(w.shape)) for layer in net.layers
                     if hasattr(layer, "kernel") for w in [layer.kernel]))


def bench_ig(ctx: Context) -> Section:
    s, model = ctx.sizes, ctx.model
    model.gradient(ctx.big.X_test[:8]), model.predict(ctx.big.X_test[:8])
    times, outs = side_by_side({"varbench": lambda r: integrated_gradients(
        model, ctx.big, np.random.default_rng(r), n_rows=s.ig_rows, steps=s.ig_steps)}, s.repeats)
    t = median(times["varbench"])
    delta = outs["varbench"][0].extras["max_abs_delta"]
    rate, grad_rate = s.ig_rows / t, s.ig_rows * s.ig_steps / t
    agree = f"max completeness delta {fmt(delta)}"
    body = (f"`integrated_gradients(n_rows={s.ig_rows}, steps={s.ig_steps})` (Gauss-Legendre, mean baseline): "
            f"median {fmt(t)} s over {s.repeats} runs = {rate:,.0f} explained rows/s = {grad_rate:,.0f} gradient "
            f"rows/s (all {s.ig_rows * s.ig_steps:,} path points in one batched `model.gradient` call, chunked "
            f"by {model.chunk_size}); {agree} (sum phi vs f(x) - f(baseline)).")
    result = Result(f"Integrated Gradients ({s.ig_rows} rows x {s.ig_steps} steps)", t, "", None, None,
                    f"{rate:,.0f} rows/s; {agree}", INFO)
    return Section("Integrated Gradients", [result], body, {"ig_rows_per_second": rate})


def bench_roofline(ctx: Context) -> Section:
    """Each batched method once at the benchmark's sizes: its model evaluations (the engine's
    count), seconds, and share of the roofline. A gradient evaluation is counted as 2 forward
    passes of FLOPs (forward, and the backward pass to the input)."""
    s, model, data = ctx.sizes, ctx.model, ctx.data
    flops = forward_flops(model.keras)
    methods: dict[str, tuple[Callable[[np.random.Generator], Any], float]] = {
        "permutation": (lambda g: permutation(model, data, g, n_repeats=s.perm_repeats, n_rows=s.perm_rows), 1.0),
        "kernel_shap": (lambda g: kernel_shap(model, data, g, n_rows=s.shap_rows,
                                              background_size=s.shap_background), 1.0),
        "integrated_gradients": (lambda g: integrated_gradients(model, ctx.big, g, n_rows=s.ig_rows,
                                                                steps=s.ig_steps), 2.0),
        "lime": (lambda g: lime(model, data, g, n_rows=s.lime_rows, n_samples=s.lime_samples), 1.0),
        "sage": (lambda g: sage(model, data, g, n_rows=s.sage_rows, background_size=s.shap_background,
                                n_permutations=s.sage_permutations, convergence_threshold=None), 1.0),
    }
    rows, figures, results = [], {}, []
    for name, (fn, passes) in methods.items():
        fn(np.random.default_rng(0))  # warm (tracing)
        seconds = []
        for r in range(s.repeats):
            model.n_evals = 0
            seconds.append(timed(lambda: fn(np.random.default_rng(r)))[0])
        t = median(seconds)
        evals = model.n_evals
        share = evals / t * flops * passes / ctx.peak_flops
        rows.append([name, f"{evals:,}", fmt(t), f"{evals / t:,.0f}", f"{share:.3f}"])
        figures[f"roofline_share_{name}"] = share
        results.append(Result(f"roofline share: {name}", t, "", None, ROOFLINE_AIM,
                              f"{evals:,} evaluations, {evals / t:,.0f}/s, share {share:.3f}",
                              verdict(share, ROOFLINE_AIM), figure=share, unit=""))
    body = "\n".join([
        f"Each method once per repeat ({s.repeats}), median seconds; evaluations = rows through the engine "
        f"(`TrainedModel.n_evals`); FLOPs per evaluation = {flops:,.0f} (2 x the dense weights; a gradient "
        f"row counts 2 forward passes); peak {ctx.peak_flops / 1e9:.1f} GFLOP/s (Training section). "
        "Share = evaluations/s x FLOPs per evaluation / peak.",
        "",
        table(["method", "evaluations", "seconds", "evaluations/s", "roofline share"], rows),
    ])
    return Section("Roofline share of the batched methods", results, body, figures)
