"""Training benchmarks: varbench's compiled loop against keras `fit`, and stacked training
(S models in one graph) against training one model."""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

from varbench.bench.harness import (DISAGREE, INFO, Context, Result, Section, Sizes, _trainer_config,
                                    measure_peak_flops, median, side_by_side, verdict)
from varbench.bench.render import fmt, table


def _keras_fit(data: Any, s: Sizes, seed: int, steps_per_execution: int = 1) -> tuple[Any, float]:
    """Train the same MLP with keras compile + fit as a user would (no validation, no callbacks);
    return the network and its test MSE."""
    import keras

    from varbench.models.mlp import build_mlp
    from varbench.models.trainer import set_seed

    set_seed(seed)
    net = build_mlp(data.n_features, data.task)
    net.compile(optimizer=keras.optimizers.Adam(learning_rate=s.lr), loss="mse",
                steps_per_execution=steps_per_execution)
    net.fit(data.X_train, data.y_train, epochs=s.epochs, batch_size=s.batch_size, shuffle=True, verbose=0)
    pred = net.predict(data.X_test, batch_size=8192, verbose=0)[:, 0]
    return net, float(np.mean((pred.astype(np.float64) - data.y_test) ** 2))


def _msd(v: list[float]) -> str:
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


def bench_training(ctx: Context) -> Section:
    from scipy import stats

    from varbench.models.mlp import build_mlp
    from varbench.models.trainer import train

    s, data = ctx.sizes, ctx.data
    n_batches = math.ceil(s.n_train / s.batch_size)
    fns: dict[str, Callable[[int], Any]] = {
        "keras": lambda r: _keras_fit(data, s, r),
        "varbench": lambda r: train(build_mlp, data.X_train, data.y_train, data.task, r, _trainer_config(s)),
        "keras_spe": lambda r: _keras_fit(data, s, r, steps_per_execution=n_batches),
        "single": lambda r: train(build_mlp, data.X_train, data.y_train, data.task, r,
                                  dataclasses.replace(_trainer_config(s), engine="single")),
    }
    times, outs = side_by_side(fns, s.seeds)  # repeat r = seed r
    vb_models = outs["varbench"]
    ctx.model = vb_models[0]
    mse_vb = [float(np.mean(m.loss(data.X_test, data.y_test))) for m in vb_models]
    mse_k = [o[1] for o in outs["keras"]]
    mse_spe = [o[1] for o in outs["keras_spe"]]
    t_vb, t_k, t_spe = median(times["varbench"]), median(times["keras"]), median(times["keras_spe"])
    t_single = median(times["single"])
    mse_single = [float(np.mean(m.loss(data.X_test, data.y_test))) for m in outs["single"]]
    params = int(ctx.model.keras.count_params())
    flops = 6.0 * params * s.n_train * s.epochs
    ctx.peak_flops = measure_peak_flops(s.matmul_n)

    if len(mse_vb) > 1 and np.std(mse_vb) + np.std(mse_k) > 0:
        p = float(stats.ttest_ind(mse_vb, mse_k, equal_var=False).pvalue)
        agree = f"test MSE {_msd(mse_vb)} vs {_msd(mse_k)} (mean ± sd over {len(mse_vb)} seeds; Welch p = {p:.2f})"
    else:
        agree = f"test MSE {_msd(mse_vb)} vs {_msd(mse_k)}"
    ratio = t_k / t_vb
    frac_vb, frac_k = flops / t_vb / ctx.peak_flops, flops / t_k / ctx.peak_flops
    steps = s.epochs * n_batches
    ms = {k: 1e3 * v / steps for k, v in (("fit", t_k), ("spe", t_spe), ("vb", t_vb))}
    ms_compute = 1e3 * 6.0 * params * s.batch_size / ctx.peak_flops
    results = [
        Result("training (fit, same MLP/epochs/batch)", t_vb, "keras model.fit", t_k, 5.0, agree, verdict(ratio, 5.0)),
        Result("training: keras fit with steps_per_execution = batches/epoch", t_vb,
               "keras fit(steps_per_execution)", t_spe, None, f"test MSE {_msd(mse_spe)}", INFO),
        Result("training: trainer.engine=single (one network by itself), same MLP/epochs/batch", t_single,
               "keras model.fit", t_k, None, f"test MSE {_msd(mse_single)}", INFO),
    ]
    rows = [[seed, fmt(times["keras"][seed]), fmt(times["keras_spe"][seed]), fmt(times["varbench"][seed]),
             f"{mse_k[seed]:.3f}", f"{mse_spe[seed]:.3f}", f"{mse_vb[seed]:.3f}"] for seed in range(s.seeds)]
    body = "\n".join([
        f"MLP {data.n_features}-64-64-1 ({params:,} parameters), Friedman #1, {s.n_train:,} training rows, "
        f"{s.epochs} epochs, batch {s.batch_size}, Adam lr {s.lr}; no validation split, no early stopping, "
        "same initial weights per seed (each tool's own shuffling), TensorFlow op determinism on for both, "
        "keras `compile` defaults otherwise. varbench is `trainer.train` with its default engine "
        f"(`trainer.engine={_trainer_config(s).engine}`: a lone model is a stack of one). Times include building the network and tracing.",
        "",
        table(["seed", "keras fit (s)", "keras fit, steps_per_execution (s)", "varbench (s)",
               "keras test MSE", "keras spe test MSE", "varbench test MSE"], rows),
        "",
        f"Medians: keras fit {t_k:.2f} s, keras fit with steps_per_execution={n_batches} {t_spe:.2f} s, "
        f"varbench {t_vb:.2f} s; ratio {ratio:.1f}x over fit, {t_spe / t_vb:.1f}x over fit with "
        f"steps_per_execution. `trainer.engine=single` (one network in the compiled epoch loop, the engine "
        f"before stacks): {t_single:.2f} s, {t_k / t_single:.1f}x over fit, test MSE {_msd(mse_single)}.",
        "",
        f"Per optimizer step ({steps:,} steps): keras fit {ms['fit']:.2f} ms, fit with steps_per_execution "
        f"{ms['spe']:.2f} ms, varbench {ms['vb']:.2f} ms; the step's arithmetic (6 x params x {s.batch_size} "
        f"rows) takes {1e3 * ms_compute:.1f} us at the measured peak.",
        "",
        f"FLOP share: ~6 x params x rows x epochs = {flops / 1e9:.2f} GFLOP. Measured peak "
        f"{ctx.peak_flops / 1e9:.1f} GFLOP/s (float32 {s.matmul_n}x{s.matmul_n} matmuls, one per inter-op thread at "
        "once, best of 5). varbench "
        f"{flops / t_vb / 1e9:.2f} GFLOP/s = {100 * frac_vb:.2f}% of peak; keras fit {flops / t_k / 1e9:.2f} "
        f"GFLOP/s = {100 * frac_k:.2f}%.",
    ])
    figures = {"training_vs_fit": ratio, "training_vs_fit_steps_per_execution": t_spe / t_vb,
               "training_single_vs_fit": t_k / t_single, "training_single_seconds": t_single,
               "training_roofline_share": frac_vb, "peak_gflops": ctx.peak_flops / 1e9}
    return Section("Training", results, body, figures)


def stack_members(data: Any, seed: int, n: int) -> list[Any]:
    """n stack members on the benchmark's data, seeds seed, seed + 1000, ... (the first is the
    seed a solo model of that repeat is trained with)."""
    from varbench.models.stacked import Member

    return [Member(data.X_train, data.y_train, seed + 1000 * i, data.X_test, data.y_test) for i in range(n)]


STACK_AIMS = {8: 1.5, 32: 3.0}  # issue 16: a stack's time at most this many times one model's


def bench_stacked(ctx: Context) -> Section:
    """S models (seeds r, r+1, ...) trained in one stack against one model trained alone by the
    shared trainer; the stack's first member has the solo model's seed, so its test loss must
    match the solo model's (within `Sizes.stack_mse_tolerance`, relative)."""
    from varbench.models.mlp import build_mlp
    from varbench.models.stacked import clear_compiled, train_stacked
    from varbench.models.trainer import train

    s, data = ctx.sizes, ctx.data
    cfg = _trainer_config(s)

    def stacked(r: int, n: int) -> Any:  # traces its graph, as one model's `train` does
        clear_compiled()
        return train_stacked(build_mlp, data.task, cfg, stack_members(data, r, n))

    def one(r: int, config: Any) -> Any:  # traces its graph, as a stack does here
        clear_compiled()
        return [train(build_mlp, data.X_train, data.y_train, data.task, r, config, data.X_test, data.y_test)]

    fns: dict[str, Callable[[int], Any]] = {"one": lambda r: one(r, cfg),
                                            "single": lambda r: one(r, dataclasses.replace(cfg, engine="single"))}
    for n in s.stack_sizes:
        fns[f"stack_{n}"] = lambda r, n=n: stacked(r, n)
    train_stacked(build_mlp, data.task, cfg, stack_members(data, 0, 1))  # warm: first tracing of the stacked graph
    times, outs = side_by_side(fns, s.repeats)
    t_one, t_single = median(times["one"]), median(times["single"])

    def mse(m: Any) -> float:
        return float(np.mean(m.loss(data.X_test, data.y_test)))

    one_mse = [mse(ms[0]) for ms in outs["one"]]
    results, rows, figures = [], [], {}
    for n in s.stack_sizes:
        t = median(times[f"stack_{n}"])
        all_mse = [mse(m) for ms in outs[f"stack_{n}"] for m in ms]
        first = [mse(ms[0]) for ms in outs[f"stack_{n}"]]  # same seed as the solo model of that repeat
        gap = max(abs(a - b) / b for a, b in zip(first, one_mse))
        ok = gap <= s.stack_mse_tolerance
        agree = (f"member with the solo seed: test MSE within {100 * gap:.2f}% of the solo model (tolerance "
                 f"{100 * s.stack_mse_tolerance:g}%); all members {_msd(all_mse)} vs solo {_msd(one_mse)}")
        aim = STACK_AIMS.get(n)
        results.append(Result(f"stacked training: {n} models in one graph, time / one model's", t,
                              "one model (trainer.train)", t_one, aim, agree,
                              verdict(t / t_one, aim, at_most=True) if ok else DISAGREE, figure=t / t_one,
                              at_most=True))
        rows.append([n, fmt(t), fmt(t / t_one), fmt(t / t_single), fmt(n * t_one / t), _msd(all_mse)])
        figures[f"stacked_{n}_vs_1"] = t / t_one
        figures[f"stacked_{n}_vs_single"] = t / t_single
        figures[f"stacked_{n}_mse_gap"] = gap
    body = "\n".join([
        f"Same MLP, data and trainer settings as the Training section; S models with seeds r, r+1000, ... "
        f"in one compiled graph (`varbench.models.stacked.train_stacked`) against one model trained by "
        f"`trainer.train` (its default engine: a stack of one); all trace their graphs in every repeat (the "
        f"stacks' compiled functions are cleared first). {s.repeats} interleaved repeats; medians. One model: "
        f"{fmt(t_one)} s, test MSE {_msd(one_mse)}; one model with `trainer.engine=single` (one network in the "
        f"compiled epoch loop): {fmt(t_single)} s. In the summary the peer is one model's "
        "time; the summary's figure, and `stacked_<n>_vs_1` in bench.json, is stack time / one model's time "
        f"(aims: {', '.join(f'{n} models <= {a:g}x' for n, a in STACK_AIMS.items())}).",
        "",
        table(["models in the stack", "stack (s)", "stack / one model", "stack / one model (engine=single)",
               "models per one-model time",
               "test MSE of the members"], rows),
    ])
    return Section("Stacked training", results, body, figures)
