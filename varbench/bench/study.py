"""A reduced seed_question study run twice in this process: one cell after another (each trains
its own model, as before stacking), and with stacked pre-training (`varbench.pretrain`) filling the
model cache first. Same configs, same methods, fresh stores and caches for both."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from varbench.bench.harness import DISAGREE, Context, Result, Section, timed, verdict
from varbench.bench.render import fmt, table

EXPERIMENT = "+experiment=seed_question"
ENGINE = "trainer.engine=stack"  # the study's config pins the engine of its committed results; the bench times stacks
STUDY_AIM = 5.0  # issue 16: the study at least this many times faster end to end


def _configs(lines: tuple[str, ...], uri: str, experiment: str, cache: str) -> list[Any]:
    from hydra import compose, initialize_config_dir

    from varbench.paths import conf_dir
    from varbench.pretrain import expand

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return [compose("config", overrides=[EXPERIMENT, ENGINE, *job, f"tracking.uri={uri}",
                                             f"tracking.experiment={experiment}", f"cache.dir={cache}"])
                for job in expand(lines)]


def _weights(cache: Path) -> dict[str, list[np.ndarray]]:
    import keras

    return {p.stem: keras.models.load_model(p, compile=False).get_weights() for p in sorted(cache.glob("*.keras"))}


def bench_study(ctx: Context) -> Section:
    from varbench.pretrain import cell_of, pretrain
    from varbench.harness.cell import run_cell
    from varbench.tracking import Tracker

    lines = ctx.sizes.study_overrides
    rows: dict[str, dict[tuple[str, str], float]] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        uri = f"sqlite:///{root}/mlflow.db"
        for path in ("warm", "one_by_one", "stacked"):
            Tracker(uri, path)  # store and experiments created once, untimed
        run_cell(_configs(lines, uri, "warm", str(root / "warm"))[0])  # imports and first tracing, untimed
        for path in ("one_by_one", "stacked"):
            cfgs = _configs(lines, uri, path, str(root / path))

            def study(cfgs: list[Any] = cfgs, stacked: bool = path == "stacked") -> list[Any]:
                if stacked:
                    pretrain([cell_of(c) for c in cfgs])
                return [run_cell(c) for c in cfgs]

            seconds[path], results = timed(study)
            rows[path] = {(r["cell_hash"], r["method"]): r.get("spearman", float("nan"))
                          for res in results for r in res.rows}
        w_one, w_stack = _weights(root / "one_by_one"), _weights(root / "stacked")
    n_cells = len(w_one)
    gaps = [max(float(np.max(np.abs(a - b))) for a, b in zip(w_one[k], w_stack[k])) for k in w_one if k in w_stack]
    keys = sorted(set(rows["one_by_one"]) & set(rows["stacked"]))
    diffs = np.array([abs(rows["one_by_one"][k] - rows["stacked"][k]) for k in keys])
    identical = int(np.sum(diffs == 0))
    same_set = set(rows["one_by_one"]) == set(rows["stacked"])
    speedup = seconds["one_by_one"] / seconds["stacked"]
    agree = (f"{len(keys)} method runs: {identical} identical Spearman, max |diff| {fmt(float(np.nanmax(diffs)))}; "
             f"model weights max |diff| {fmt(max(gaps) if gaps else float('nan'))}")
    body = "\n".join([
        f"`varbench {EXPERIMENT} {ENGINE} {' '.join(lines)}` ({n_cells} cells, the experiment's methods and "
        "model-truth settings) run in this process twice, each into its own MLflow experiment and a fresh model cache: "
        "one by one (each cell trains its model), and with stacked pre-training first (the cells grouped "
        "by architecture and data shape, trained in stacks, written to the cache with their model truths, "
        "computed concurrently; each cell then loads both). Store creation and one warm-up cell are outside "
        "both timings.",
        "",
        table(["path", "seconds", "seconds per cell"],
              [[p, fmt(t), fmt(t / max(n_cells, 1))] for p, t in seconds.items()]),
        "",
        f"Speed-up {speedup:.2f}x. Results: {agree}. Both paths train with `{ENGINE}`: one by one, each model is "
        "a stack of one; a stack's member is bitwise the model it is in any stack.",
    ])
    result = Result(f"reduced seed_question study ({n_cells} cells), stacked vs one by one", seconds["stacked"],
                    "one by one", seconds["one_by_one"], STUDY_AIM, agree,
                    verdict(speedup, STUDY_AIM) if same_set else DISAGREE)
    return Section("Study throughput", [result], body,
                   {"study_speedup": speedup, "study_cells": float(n_cells),
                    "study_one_by_one_seconds": seconds["one_by_one"], "study_stacked_seconds": seconds["stacked"],
                    "study_max_spearman_diff": float(np.nanmax(diffs)) if len(diffs) else float("nan")})
