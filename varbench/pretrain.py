"""Stacked pre-training of a multirun: before any job starts, the sweep's cells are grouped by
what their models share (architecture, trainer settings, row count, task; input widths may
differ), each group is trained as stacks of up to `max_models` networks
(varbench.models.stacked) and every model is written to the model cache under its own cell's
model hash, with its model truth (the stack's models computed concurrently, one per inter-op
thread, exactly as the job would compute it). Each job then runs unchanged: it finds its model
and model truth in the cache (`model_cached=True`, `model_truth_cached=True`), so resume, claims
and the cache keep working per cell.

Why a Hydra callback in the parent process: it is the one place that sees every job of a
multirun before the launcher starts them, for the basic, joblib and Ray launchers alike (the
jobs only need the shared cache folder, as they already do), and it changes nothing in how a
job runs. Cells already in the cache, cells without a cache folder, and groups a stack cannot
train (`stacked.unsupported` names why) are left to their jobs, which train them one by one.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("varbench")


@dataclass
class Cell:
    """One job of the sweep: its validated spec and the config parts its model depends on."""

    spec: Any  # CellSpec
    model_cfg: Any
    trainer_cfg: Any


def group_key(cell: Cell) -> str:
    """Cells whose models can share a stack have the same key: the architecture, trainer
    settings (display-only keys aside), row counts, label shape and task; seeds, data values and
    input widths may differ (a stack zero-pads narrower inputs exactly: `stacked._padded`)."""
    from varbench.config import stable_hash

    data = cell.spec.dataset
    trainer = {k: v for k, v in (cell.trainer_cfg or {}).items() if k != "progress_every"}
    return stable_hash({"model": cell.model_cfg, "trainer": trainer, "task": data.task,
                        "rows": int(data.X_train.shape[0]), "y": list(data.y_train.shape)})


def plan(cells: Sequence[Cell], max_models: int) -> list[list[Cell]]:
    """Stacks to train: cells grouped by `group_key` (in sweep order), one cell per model hash,
    cut into stacks of at most `max_models`; groups of one cell are left to their job."""
    if isinstance(max_models, bool) or not isinstance(max_models, int) or max_models < 2:
        raise ValueError(f"max_models={max_models!r} is invalid: expected an integer >= 2")
    groups: dict[str, list[Cell]] = {}
    seen: set[str] = set()
    for cell in cells:
        if cell.spec.model_hash in seen:
            continue
        seen.add(cell.spec.model_hash)
        groups.setdefault(group_key(cell), []).append(cell)
    stacks = []
    for members in groups.values():
        stacks += [members[i:i + max_models] for i in range(0, len(members), max_models)]
    return [s for s in stacks if len(s) > 1]


def pretrain(cells: Sequence[Cell], max_models: int = 32) -> dict[str, float]:
    """Train the cells' models in stacks and store each in the model cache (cells without a
    cache folder, or already cached, are skipped). Returns counts (`member_epochs`: model
    slices the stacks computed, summed over epochs) and seconds."""
    from varbench.models.cache import is_cached, store
    from varbench.models.stacked import Member, train_stacked, unsupported

    # trainer.engine=single cells train by themselves: a stack would not give their models
    todo = [c for c in cells if c.spec.cache_dir and c.spec.trainer.engine == "stack" and not is_cached(c.spec)]
    stats = {"cells": float(len(cells)), "stacked_models": 0.0, "stacks": 0.0, "diverged": 0.0, "model_truths": 0.0,
             "member_epochs": 0.0, "seconds": 0.0}
    start = time.perf_counter()
    for stack in plan(todo, max_models):
        first = stack[0].spec
        labels = np.concatenate([np.asarray(c.spec.dataset.y_train) for c in stack]
                                + [np.asarray(c.spec.dataset.y_test) for c in stack])
        reason = unsupported(first.build, first.dataset.n_features, first.dataset.task, first.trainer, labels)
        if reason:
            log.info("pre-training: %s/%s not stacked (%s); its jobs train one by one",
                     first.dataset_name, first.model_name, reason)
            continue
        members = [Member(c.spec.dataset.X_train, c.spec.dataset.y_train, c.spec.seed, c.spec.dataset.X_test,
                          c.spec.dataset.y_test) for c in stack]
        t0 = time.perf_counter()
        counts: dict[str, float] = {}
        try:
            results = train_stacked(first.build, first.dataset.task, first.trainer, members, stats=counts)
        except ValueError as exc:  # e.g. members whose labels size different heads: not one stack
            log.info("pre-training: %s/%s not stacked (%s); its jobs train one by one",
                     first.dataset_name, first.model_name, exc)
            continue
        trained = []
        for cell, model in zip(stack, results):
            if isinstance(model, Exception):  # the job retrains it alone and fails as usual
                stats["diverged"] += 1
                continue
            store(cell.spec, model, stacked=len(stack))
            trained.append((cell, model))
            stats["stacked_models"] += 1
        stats["model_truths"] += model_truths(trained)
        stats["member_epochs"] += counts["member_epochs"]  # stopped members drop out of their stack
        stats["stacks"] += 1
        log.info("pre-training: %d %s/%s models in one stack, %.1f s", len(stack), first.dataset_name,
                 first.model_name, time.perf_counter() - t0)
    stats["seconds"] = time.perf_counter() - start
    return stats


def model_truths(trained: Sequence[tuple[Cell, Any]], workers: int | None = None) -> float:
    """Compute and cache the model truth of each (cell, freshly trained model), the models
    concurrently on `workers` threads (default: TensorFlow's inter-op thread count; its ops run
    outside the GIL). Each is the computation its job would make (`runner.cached_model_truth`,
    same model, options and seed), so the job finds it in the cache. A failure is left to the
    job, which logs it. Returns how many were stored."""
    import dataclasses
    from concurrent.futures import ThreadPoolExecutor

    from varbench.models.runtime import thread_counts
    from varbench.harness.model_truth import cached_model_truth, model_truth_skipped

    todo = [(c.spec, dataclasses.replace(m, output=c.spec.output)) for c, m in trained]
    todo = [(spec, m) for spec, m in todo if not model_truth_skipped(spec, m)]
    workers = workers or thread_counts()[1]

    def one(job: tuple[Any, Any]) -> bool:
        try:
            cached_model_truth(*job)
            return True
        except Exception as exc:  # noqa: BLE001 - the job recomputes it and logs the failure
            log.debug("pre-training: model truth of %s left to its job (%s)", job[0].cell_hash, exc)
            return False

    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        return float(sum(pool.map(one, todo)))


def expand(lines: Sequence[str]) -> list[list[str]]:
    """Sweep override lines (`seed=0,1`, `seed=range(3)`) -> every job's overrides, as Hydra's basic
    sweeper generates them (the later value of a key wins)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    loader = GlobalHydra.instance().config_loader() if GlobalHydra.instance().is_initialized() else None
    parsed = OverridesParser.create(config_loader=loader).parse_overrides(list(lines))
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def sweep_overrides(config: DictConfig) -> list[list[str]]:
    """Every job's overrides of a multirun: the sweeper's params, then the command line's."""
    lines = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    return expand(lines + list(config.hydra.overrides.task))


def cell_of(cfg: DictConfig, names: dict[str, str] | None = None) -> Cell:
    """A job's config (without its `hydra` node) as a validated Cell (raises ConfigError)."""
    from varbench.config import resolve_cell

    c = OmegaConf.to_container(cfg, resolve=True)
    return Cell(resolve_cell(cfg, names, check_model=False), c["model"], c.get("trainer"))


def sweep_cells(config: DictConfig) -> list[Cell]:
    """The validated cells of a multirun (configs that fail validation are left to their job,
    which reports the error)."""
    from hydra.core.global_hydra import GlobalHydra

    from varbench.composed import composed, task_config
    from varbench.config import ConfigError

    loader = GlobalHydra.instance().config_loader()
    cells = []
    for overrides in sweep_overrides(config):
        try:
            cfg = composed(loader, config, overrides)  # the sweep check's, with the varbench launcher
            choices = dict(cfg.hydra.runtime.choices)
            cells.append(cell_of(task_config(cfg), {"dataset": choices.get("dataset"), "model": choices.get("model")}))
        except (ConfigError, ValueError) as exc:
            log.debug("pre-training skips %s: %s", overrides, exc)
    return cells


class Pretrain(Callback):
    """Hydra callback: stacked pre-training of a multirun's models (see the module docstring).
    On by default (conf/config.yaml: `hydra.callbacks.pretrain.enabled=false` turns it off); it changes
    no result, since a lone cell trains as a stack of one (`trainer.engine=stack`)."""

    def __init__(self, enabled: bool = True, max_models: int = 32) -> None:
        self.enabled, self.max_models = enabled, max_models

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.enabled or not (config.get("cache") or {}).get("dir"):
            return
        try:
            cells = sweep_cells(config)
        except Exception as exc:  # noqa: BLE001 - an optimisation: never stops the sweep
            log.warning("pre-training skipped: could not enumerate the sweep (%s: %s)", type(exc).__name__, exc)
            return
        stats = pretrain(cells, self.max_models)
        if stats["stacks"]:
            log.info("pre-training: %d of %d models trained in %d stacks in %.1f s; jobs load them from the cache",
                     stats["stacked_models"], stats["cells"], stats["stacks"], stats["seconds"])
        import keras

        keras.backend.clear_session()
