"""A multirun's cells in Ray tasks of `batch_size` cells each (`hydra/launcher=varbench_ray`).

Hydra's Ray launcher (`hydra/launcher=ray`) sends one job per Ray task, and every task composes its
job again and starts TensorFlow and Keras afresh. Here the parent composes each job's config once
(`varbench.composed`: the sweep check's configs), writes `<sweep dir>/jobs.txt` as the varbench
launcher does, cuts the jobs into consecutive batches of `batch_size` and submits each batch as one
Ray task. A task runs its cells one after the other in its worker process through the varbench
launcher's own per-cell path (`varbench.batch.run_cells`): one log file for the sweep, Keras reset
as `keras_reset` says, TensorFlow threads for the cores the task was given. The parent returns
Hydra's `JobReturn`s in job order.

A failing cell is reported in one line and its batch goes on (`varbench.cell_job.run_reported`); a
task whose worker dies (killed, out of memory) fails its own cells only, and the sweep ends with
that error once every batch is back. Ray is imported only here, when the launcher runs.
"""
from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any, Sequence, TypeVar

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, setup_globals
from omegaconf import DictConfig, OmegaConf

from varbench.batch import KerasReset, configure_logging, job_configs, run_cells, sweep_folder
from varbench.callbacks import EXIT
from varbench.cell_job import terminate_as_exit
from varbench.composed import forget
from varbench.config import forget_cells
from varbench.launcher_settings import RAY_MISSING, batch_size_error
from varbench.schema import ConfigError, one_line

log = logging.getLogger("varbench")

# Hydra's Ray launcher starts a local Ray with this object store (bytes) unless told otherwise
# (hydra_plugins/hydra_ray_launcher/_core.py); Ray refuses any setting when joining a cluster
HYDRA_OBJECT_STORE = 78643200
T = TypeVar("T")
# per worker process: the Keras reset of each mode, kept across the batches a reused worker runs
_RESETS: dict[str, KerasReset] = {}


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` cut into consecutive batches of `size` (the last one shorter), in order.

    Examples
    --------
    >>> batches([0, 1, 2, 3, 4], 2)
    [[0, 1], [2, 3], [4]]
    """
    error = batch_size_error(size)
    if error:
        raise ConfigError(error)
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def ray_init_kwargs(init: DictConfig | dict[str, Any] | None) -> dict[str, Any]:
    """`ray.init`'s arguments from `hydra.launcher.ray.init`: as given, except a local start
    (`address` null) with no `object_store_memory`, which gets Hydra's Ray launcher's default, and
    unset (null) arguments, left to Ray.

    Examples
    --------
    >>> ray_init_kwargs({"address": None, "num_cpus": 2, "object_store_memory": None})
    {'num_cpus': 2, 'object_store_memory': 78643200}
    >>> ray_init_kwargs({"address": "auto", "object_store_memory": None})
    {'address': 'auto'}
    """
    given = OmegaConf.to_container(init, resolve=True) if isinstance(init, DictConfig) else dict(init or {})
    kwargs = {k: v for k, v in given.items() if v is not None}
    if given.get("address") is None:
        kwargs.setdefault("object_store_memory", HYDRA_OBJECT_STORE)
    return kwargs


def _ray() -> Any:
    """The `ray` module, or a one-line refusal naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def launch(hydra_context: Any, task_function: Any, config: DictConfig, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int, *, batch_size: int, keras_reset: str, ray_cfg: DictConfig) -> list[JobReturn]:
    """Run the jobs in Ray tasks of `batch_size` consecutive cells; Hydra's `JobReturn` per job, in order.

    Examples
    --------
    >>> from varbench.ray_batches import launch  # called by the varbench_ray launcher plugin
    """
    ray = _ray()
    KerasReset(keras_reset)  # refuse a bad mode here, not in every worker
    setup_globals()
    sweep = sweep_folder(config)
    forget_cells()  # pre-training is done: the cells the sweep check resolved are not needed here
    try:
        cells = list(job_configs(hydra_context.config_loader, config, job_overrides, initial_job_idx, sweep))
    finally:
        forget()
    parts = batches(cells, batch_size)
    init = ray_init_kwargs(ray_cfg.get("init"))
    if not ray.is_initialized():
        log.info("varbench_ray launcher: starting Ray (%s)", ", ".join(f"{k}={v}" for k, v in init.items()))
        ray.init(**init)
    remote_opts = OmegaConf.to_container(ray_cfg.get("remote") or {}, resolve=True)
    task = ray.remote(**remote_opts)(run_task) if remote_opts else ray.remote(run_task)
    shared = [ray.put(hydra_context), ray.put(task_function), ray.put(Singleton.get_state())]
    per_task = float(remote_opts.get("num_cpus") or 1)
    refs = [task.remote(*shared, part, keras_reset, str(sweep.resolve()), per_task, f"{k + 1} of {len(parts)}")
            for k, part in enumerate(parts)]
    log.info("varbench_ray launcher: %d cell(s) in %d Ray task(s) of up to %d cell(s), each composed once here",
             len(cells), len(parts), batch_size)
    returns: list[JobReturn] = []
    try:
        for part, ref in zip(parts, refs):
            returns.extend(_collect(ray, ref, part))
    except BaseException:  # Ctrl-C / SIGTERM: the tasks still running stop (their open runs marked KILLED)
        for ref in refs:
            ray.cancel(ref)
        raise
    return returns


def _collect(ray: Any, ref: Any, part: list[tuple[DictConfig, list[str]]]) -> list[JobReturn]:
    """One task's returns; the exit code its cells set joins this process's. A task whose worker
    died fails each of its cells with that error (the other tasks' cells are unaffected)."""
    try:
        returns, code = ray.get(ref)
    except ray.exceptions.RayError as exc:
        nums = ", ".join(f"#{cfg.hydra.job.num}" for cfg, _ in part)
        error = RuntimeError(f"the Ray task of cells {nums} failed: {one_line(exc)}")
        log.error("varbench_ray launcher: %s", error)
        failed = []
        for cfg, overrides in part:
            ret = JobReturn(overrides=overrides, cfg=cfg, status=JobStatus.FAILED)
            ret.return_value = error
            failed.append(ret)
        return failed
    EXIT["code"] = max(EXIT["code"], code)
    return returns


def run_task(hydra_context: Any, task_function: Any, singleton_state: Any,
             cells: list[tuple[DictConfig, list[str]]], keras_reset: str, sweep: str, cpus_per_task: float = 1.0,
             label: str = "") -> tuple[list[JobReturn], int]:
    """One Ray task: the composed `cells` one after the other in this process, as the varbench
    launcher runs them (`varbench.batch.run_cells`). Returns their `JobReturn`s in order and the exit
    code they set (1 if a cell or method failed).

    Examples
    --------
    >>> from varbench.ray_batches import run_task  # runs in a Ray worker (or in-process, in tests)
    """
    setup_globals()
    Singleton.set_state(singleton_state)  # as Hydra's Ray launcher does: its JobRuntime, ConfigStore, ...
    terminate_as_exit()
    folder = Path(sweep)
    folder.mkdir(parents=True, exist_ok=True)  # on another node of a cluster, as Hydra's run_job does
    configure_logging(cells[0][0], folder)
    log.info("varbench_ray batch %s: cells %s in process %d on %s", label,
             " ".join(f"#{cfg.hydra.job.num}" for cfg, _ in cells), os.getpid(), socket.gethostname())
    if keras_reset not in _RESETS:
        _RESETS[keras_reset] = KerasReset(keras_reset)
    reset = _RESETS[keras_reset]
    workers = max(1, int((os.cpu_count() or 1) // max(1.0, cpus_per_task)))
    before, EXIT["code"] = EXIT["code"], 0
    try:
        returns = run_cells(hydra_context, task_function, cells, reset, folder, workers=workers, logged=True)
        return returns, EXIT["code"]
    finally:
        EXIT["code"] = max(before, EXIT["code"])
