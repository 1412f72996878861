"""A multirun's cells run in this process, each composed once (the `varbench` launcher).

Hydra's basic launcher runs every job through `hydra.core.utils.run_job`: it composes the job's
config again (the sweep check composed it already), writes a `.hydra/` folder of three YAML files
and a log file per job, and varbench's job function resets Keras before every cell. The varbench
launcher (`hydra/launcher=varbench`, the default of a multirun; the Hydra plugin is
`hydra_plugins.varbench_launcher`) runs the same cells through the same function
(`varbench.cell_job.run_reported`, which calls `varbench.harness.cell.run_cell`) with:

- each job's config composed once: the sweep check (`varbench.sweep.check_sweep`) and the
  pre-training callback take it from `composed`, which keeps it for the launcher, keyed by
  the job's overrides; each cell resolved (validated, its data generated) once: the sweep check
  keeps the specs (`varbench.config.remember_cells`, switched on by the `Summary` callback) until
  the launcher is done;
- one log file for the sweep (`<sweep dir>/<job name>.log`) and one line per cell in
  `<sweep dir>/jobs.txt` (its number and the overrides that rerun it), instead of a folder per job;
- Keras reset (`keras.backend.clear_session(free_memory=False)`: no forced garbage collection,
  which cost ~0.35 s a cell) only when a cell's model config differs from the previous cell's
  (`keras_reset: auto`; `always` resets before every cell, `never` never).

`varbench.ray_batches` (`hydra/launcher=varbench_ray`) runs batches of cells in Ray tasks through the
same per-cell path (`job_configs` in the parent, `run_cells` in each task).

Failure isolation, one-line errors, exit codes, claims and resume, and SIGTERM/Ctrl-C (open runs
marked KILLED) are those of `run_reported` and `run_cell`, unchanged.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import (JobReturn, JobRuntime, JobStatus, configure_log, env_override, filter_overrides,
                              setup_globals)
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from varbench.composed import STATS, composed, forget, task_config
from varbench.config import forget_cells
from varbench.launcher_settings import reset_error
from varbench.schema import ConfigError

log = logging.getLogger("varbench")

JOBS_FILE = "jobs.txt"  # in the sweep folder: `#N overrides` per cell, to rerun one


def register_launcher() -> None:
    """Register the varbench launchers with Hydra's plugins (Hydra's scan of `hydra_plugins` finds it
    in an installed wheel, not in an editable install)."""
    from hydra.core.plugins import Plugins
    from hydra_plugins.varbench_launcher.launcher import VarbenchLauncher, VarbenchRayLauncher

    Plugins.instance().register(VarbenchLauncher)
    Plugins.instance().register(VarbenchRayLauncher)


class KerasReset:
    """Decides, cell by cell, whether to reset Keras's global state first (see the module doc)."""

    def __init__(self, mode: str = "auto") -> None:
        error = reset_error(mode)
        if error:
            raise ConfigError(error)
        self.mode, self.previous, self.count = mode, None, 0

    def before(self, task: DictConfig) -> bool:
        """Reset if needed before the cell `task`; returns whether it did."""
        model = OmegaConf.to_yaml(task.get("model") or {})
        need = self.mode == "always" or (self.mode == "auto" and self.previous is not None and model != self.previous)
        self.previous = model
        if need:
            import keras

            keras.backend.clear_session(free_memory=False)  # Python's own collector frees the old graphs;
            self.count += 1                                  # a forced full collection cost ~0.35 s a cell
        return need


def launch(hydra_context: Any, task_function: Any, config: DictConfig, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int, keras_reset: str = "auto") -> list[Any]:
    """Run the jobs one after the other in this process; returns Hydra's `JobReturn` per job.

    Examples
    --------
    >>> from varbench.batch import launch  # called by the varbench launcher plugin
    """
    from varbench.cell_job import terminate_as_exit

    setup_globals()
    reset = KerasReset(keras_reset)
    sweep = sweep_folder(config)
    log.info("varbench launcher: %d cell(s) in this process", len(job_overrides))
    terminate_as_exit()
    before = dict(STATS)
    try:
        cells = job_configs(hydra_context.config_loader, config, job_overrides, initial_job_idx, sweep)
        returns = run_cells(hydra_context, task_function, cells, reset, sweep)
        log.info("varbench launcher: %d cell(s) run in this process, each composed once (%d reused from the sweep "
                 "check, %d composed here); %d Keras reset(s)", len(returns), STATS["reused"] - before["reused"],
                 STATS["composed"] - before["composed"], reset.count)
    finally:
        forget()
        forget_cells()
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    return returns


def sweep_folder(config: DictConfig) -> Path:
    """The multirun's sweep folder (`hydra.sweep.dir`), created if missing."""
    sweep = Path(str(config.hydra.sweep.dir))
    sweep.mkdir(parents=True, exist_ok=True)
    return sweep


def job_configs(loader: Any, config: DictConfig, job_overrides: Sequence[Sequence[str]], initial_job_idx: int,
                sweep: Path) -> Iterator[tuple[DictConfig, list[str]]]:
    """Each job's config (composed once by `composed`; its number and output folder set) with its
    overrides, in job order, made as it is asked for; each job's line goes to `<sweep>/jobs.txt` then.

    Examples
    --------
    >>> from varbench.batch import job_configs  # used by varbench.batch.launch and varbench.ray_batches
    """
    for i, overrides in enumerate(job_overrides):
        num = initial_job_idx + i
        cfg = composed(loader, config, overrides)
        with read_write(cfg.hydra), open_dict(cfg.hydra):
            cfg.hydra.job.id = num
            cfg.hydra.job.num = num
            subdir = str(OmegaConf.select(cfg, "hydra.sweep.subdir"))
            cfg.hydra.runtime.output_dir = os.path.abspath(os.path.join(str(sweep), subdir))
        with open(sweep / JOBS_FILE, "a") as f:
            f.write(f"#{num} {' '.join(filter_overrides(overrides))}\n")
        yield cfg, list(overrides)


def run_cells(hydra_context: Any, task_function: Any, cells: Iterable[tuple[DictConfig, list[str]]],
              reset: KerasReset, sweep: Path, workers: int = 1, logged: bool = False) -> list[Any]:
    """Run `cells` ((job config, overrides) pairs from `job_configs`) one after the other in this
    process; Hydra's `JobReturn` per cell, in order. A failing cell is reported in its return (and by
    `run_reported`) and the next one runs. The sweep's log file is set at the first cell unless
    `logged`; `workers`: how many such processes share this machine's cores (TensorFlow's threads).
    The one per-cell path of the varbench launcher and of a Ray task of `varbench_ray`.

    Examples
    --------
    >>> from varbench.batch import run_cells  # used by varbench.batch.launch and varbench.ray_batches.run_batch
    """
    returns: list[Any] = []
    for cfg, overrides in cells:
        if not returns and not logged:  # one log for the sweep: <sweep dir>/<job name>.log
            configure_logging(cfg, sweep)
        returns.append(_run(hydra_context, task_function, cfg, overrides, reset, workers))
    return returns


def _is_varbench_job(task_function: Any) -> bool:
    """Whether Hydra's job function is varbench's (`varbench.cli._job`), named, not imported (no cycle)."""
    return (getattr(task_function, "__module__", None), getattr(task_function, "__qualname__", None)) == (
        "varbench.cli", "_job")


def configure_logging(cfg: DictConfig, sweep: Path) -> None:
    """The job logging of `cfg` (varbench's: console and a file), its file in the sweep folder."""
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        own, cfg.hydra.runtime.output_dir = cfg.hydra.runtime.output_dir, str(sweep.resolve())
        try:
            configure_log(cfg.hydra.job_logging, cfg.hydra.verbose)
        finally:
            cfg.hydra.runtime.output_dir = own


def _run(hydra_context: Any, task_function: Any, cfg: DictConfig, overrides: list[str], reset: KerasReset,
         workers: int = 1) -> Any:
    """One cell, as `run_job` would run it minus its per-job files and logging set-up."""
    from varbench.cell_job import run_reported
    from varbench.models.runtime import start_tensorflow, thread_plan

    saved, cwd = HydraConfig.instance().cfg, os.getcwd()
    HydraConfig.instance().set_config(cfg)
    ret = JobReturn(overrides=overrides, working_dir=cwd)
    try:
        if cfg.hydra.job.get("chdir"):  # hydra.job.chdir=true: the job runs in its own folder, as under run_job
            Path(cfg.hydra.runtime.output_dir).mkdir(parents=True, exist_ok=True)
            ret.working_dir = cfg.hydra.runtime.output_dir
            os.chdir(ret.working_dir)
        task = task_config(cfg)
        ret.cfg, ret.hydra_cfg = task, HydraConfig.instance().cfg
        with env_override(cfg.hydra.job.env_set):
            hydra_context.callbacks.on_job_start(config=cfg, task_function=task_function)
            try:
                if _is_varbench_job(task_function):  # varbench's own job: no per-job reset unless needed
                    start_tensorflow(thread_plan(task.get("threads", "auto"), workers))
                    reset.before(task)
                    ret.return_value = run_reported(task, HydraConfig.get())
                else:  # another job function: called as Hydra calls it
                    ret.return_value = task_function(task)
                ret.status = JobStatus.COMPLETED
            except Exception as exc:  # noqa: BLE001 - as run_job: the sweeper raises it after the batch
                ret.return_value = exc
                ret.status = JobStatus.FAILED
        ret.task_name = JobRuntime.instance().get("name")
        hydra_context.callbacks.on_job_end(config=cfg, job_return=ret, task_function=task_function)
    finally:
        HydraConfig.instance().cfg = saved
        os.chdir(cwd)
    return ret
