"""Tracking costs: creating a fresh sqlite store (a copy of the pre-migrated template,
`varbench.store_template`, against MLflow's own schema migration), and logging one method run (a
cell's runs buffered and written in one transaction, `varbench.run_batch`, as the runner does;
against one transaction per run, and creating, logging and terminating each run in turn)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from varbench.bench.harness import INFO, Context, Result, Section, median, side_by_side, verdict
from varbench.bench.render import fmt, table
from varbench.store_template import ensure_template
import varbench.tracking as tracking

STORE_AIM = 1.0  # issue 28: a fresh store in well under a second (seconds, at most)
OVERHEAD_AIM = 5.0  # issue 28: scoring and logging one method run, CPU milliseconds at most
RUNS_PER_REPEAT = 24  # method runs logged per repeat and path
CELL_PATH = "a cell's runs in one transaction"
CELL_RUNS = 12  # method runs of a cell (the default study's), written in one transaction
# what a method run logs: the contract's metrics and tags (docs/tracking.md), an 8-variable vector
METRICS = ("spearman", "kendall", "topk_recall", "precision_at_k", "auroc", "seconds", "n_model_evals", "quality_r2",
           "model_spearman", "model_spearman_shapley", "irrelevant_share", "importance_tv", "ndcg",
           "relevant_spearman", "deletion_auc", "insertion_auc", "pgi", "pgu")
TAGS = {"study": "bench", "dataset": "linear", "model": "mlp", "seed": "0", "task": "regression", "kind": "method",
        "cell_status": "ok", "status": "ok", "aggregation": "global", "score_status": "ok", "returns": "importance",
        "estimand": "shapley", "role": "method", "scope": "global", "needs": "model", "track": "method",
        "truth_free_k": "3", "truth_free_status": "ok",
        "importance": "[0.52, 0.36, 0.2, 0.048, 0.0079, 0.0031, 0.0012, 0.0004]"}


def _logging(tracker: Any, parent: str, runs: int) -> dict[str, float]:
    """CPU milliseconds per method run: a cell's runs in one transaction (buffered, written when
    the cell ends), one transaction per run, and step by step."""
    metrics = {k: 0.5 for k in METRICS}

    def cell_batch(i: int) -> None:  # as the runner writes a cell's runs (the cell run's end flushes them)
        tracker.add_finished_run(f"m{i}", {**TAGS, "method": f"m{i}"}, metrics, parent)
        if i % CELL_RUNS == CELL_RUNS - 1:
            tracker.flush()

    def one_transaction(i: int) -> None:
        tracker.log_finished_run(f"m{i}", {**TAGS, "method": f"m{i}"}, metrics, parent)

    def step_by_step(i: int) -> None:  # as every method run was written before
        child = tracker.start_run(f"m{i}", {**TAGS, "method": f"m{i}"}, parent_id=parent)
        tracker.log(child, metrics=metrics)
        tracker.end_run(child)

    out = {}
    for name, fn in ((CELL_PATH, cell_batch), ("one transaction per run", one_transaction),
                     ("step by step", step_by_step)):
        fn(-1)  # first statements compiled, untimed
        start = time.process_time()
        for i in range(runs):
            fn(i)
        tracker.flush()
        out[name] = 1000 * (time.process_time() - start) / runs
    return out


def _scoring(runs: int) -> float:
    """CPU milliseconds to score one importance run as the runner does
    (`varbench.scoring.score_importance_result`): Friedman #1 (10 variables), a random importance
    vector with a bootstrap interval, against the data truth and three model truths."""
    import numpy as np

    from varbench.datasets.synthetic import friedman1
    from varbench.methods.base import Attribution
    from varbench.scoring import score_importance_result

    data = friedman1(n_samples=400, seed=0)
    rng = np.random.default_rng(0)
    truths = {k: rng.random(10) for k in ("model_spearman", "model_spearman_shapley", "model_spearman_sage")}
    atts = [Attribution(importance=rng.random(10), std=rng.random(10) / 10) for _ in range(runs)]
    score_importance_result(atts[0], data, None, truths)  # first calls untimed
    start = time.process_time()
    for i, att in enumerate(atts):
        score_importance_result(att, data, None, truths, "marginal", i)
    return 1000 * (time.process_time() - start) / runs


def bench_store(ctx: Context) -> Section:
    ensure_template()  # built once per machine and MLflow version, untimed (as a study finds it)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        def copied(r: int) -> None:
            tracking.Tracker(f"sqlite:///{root}/copied{r}/mlflow.db", "varbench")

        def migrated(r: int) -> None:
            real = tracking.fresh_store
            tracking.fresh_store = lambda uri: False  # MLflow creates the store by migrating it
            try:
                tracking.Tracker(f"sqlite:///{root}/migrated{r}/mlflow.db", "varbench")
            finally:
                tracking.fresh_store = real

        warm = tracking.Tracker(f"sqlite:///{root}/warm/mlflow.db", "varbench")  # MLflow imported, untimed
        times, _ = side_by_side({"template copy": copied, "MLflow migration": migrated}, ctx.sizes.repeats)
        cpu_ms = _logging(warm, warm.start_run("cell", {**TAGS, "kind": "cell"}), RUNS_PER_REPEAT * ctx.sizes.repeats)
    scoring_ms = _scoring(RUNS_PER_REPEAT * ctx.sizes.repeats)
    copy_s, migrate_s = median(times["template copy"]), median(times["MLflow migration"])
    body = "\n".join([
        "A `Tracker` on a sqlite store that does not exist yet (store file, schema, default experiment and "
        "the `varbench` experiment), wall seconds, interleaved: copied from the pre-migrated template "
        "(built once per machine and MLflow version, outside the timing), and created by MLflow's own "
        "schema migration (one fsync per step: slow on a busy disk).",
        "",
        table(["path", "median seconds", "all"],
              [[k, fmt(median(v)), ", ".join(fmt(t) for t in v)] for k, v in times.items()]),
        "",
        f"Logging one method run ({len(METRICS)} metrics, {len(TAGS) + 1} tags with an 8-variable importance "
        f"vector, as the runner does), process CPU milliseconds per run over {RUNS_PER_REPEAT * ctx.sizes.repeats} "
        f"runs: written terminated, {CELL_RUNS} runs (a cell's) to a transaction as the runner does, one run to a "
        "transaction, and each run created, logged and terminated in turn (three transactions).",
        "",
        table(["path", "CPU ms per method run"], [[k, fmt(v)] for k, v in cpu_ms.items()]),
        "",
        "Scoring one importance run as the runner does (`varbench.scoring.score_importance_result`: Friedman #1, "
        "10 variables, against the data truth and three model truths, with its interval tags): "
        f"{fmt(scoring_ms)} CPU ms. The harness overhead of a method run is scoring plus logging in its cell's "
        f"transaction: {fmt(scoring_ms + cpu_ms[chr(97) + ' cell' + chr(39) + 's runs in one transaction'])} CPU ms.",
    ])
    result = Result("fresh tracking store from the template", copy_s, "MLflow migration", migrate_s,
                    figure=copy_s, unit="s", target=STORE_AIM, at_most=True,
                    status=verdict(copy_s, STORE_AIM, at_most=True))
    batch = cpu_ms[CELL_PATH]
    overhead = scoring_ms + batch
    logging_row = Result("logging a method run in one transaction with its cell's runs (CPU seconds)", batch / 1000,
                         "step by step", cpu_ms["step by step"] / 1000, status=INFO)
    overhead_row = Result("harness overhead per method run: scoring + logging (CPU seconds; figure in ms)", overhead / 1000,
                          figure=overhead, unit="ms", target=OVERHEAD_AIM, at_most=True,
                          status=verdict(overhead, OVERHEAD_AIM, at_most=True))
    return Section("Tracking store and logging", [result, logging_row, overhead_row], body,
                   {"store_create_seconds": copy_s, "store_create_migration_seconds": migrate_s,
                    "overhead_per_method_run_ms": overhead, "logging_per_method_run_ms": batch,
                    "scoring_per_method_run_ms": scoring_ms,
                    "overhead_per_method_run_stepwise_ms": cpu_ms["step by step"] + scoring_ms})
