"""The whole sweep, checked before its first job trains.

Every job of a multirun is composed as Hydra's basic sweeper would compose it and validated
as the job itself will be (`validate_config`, then `resolve_cell(..., check_model=False)`:
schema, method parameters against their signatures, datasets generated). Nothing is trained,
nothing is written to the tracking store. Used by the `Summary` callback's
`on_multirun_start`; the jobs' cell hashes also name the cells a sweep's summary shows.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from varbench.schema import one_line

log = logging.getLogger("varbench")

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


@dataclass
class Job:
    """One job of a sweep: its number, its overrides, its cell hash (None if invalid), its error."""

    num: int
    overrides: list[str]
    cell_hash: str | None = None
    method_hashes: tuple[str, ...] = ()
    error: str | None = None


def job_overrides(config: DictConfig) -> list[list[str]]:
    """Each job's overrides, in launch order, as Hydra's basic sweeper expands them (one
    implementation: `varbench.pretrain.sweep_overrides`)."""
    from varbench.pretrain import sweep_overrides

    return [list(job) for job in sweep_overrides(config)]


def is_basic_sweeper(config: DictConfig) -> bool:
    return str(config.hydra.sweeper.get("_target_", "")) == BASIC_SWEEPER


def _check_job(loader: Any, config: DictConfig, num: int, overrides: list[str]) -> Job:
    from varbench.composed import composed

    job = Job(num, overrides)
    try:
        cfg = composed(loader, config, overrides)  # kept for the varbench launcher
    except Exception as exc:  # noqa: BLE001 - Hydra composition errors (unknown choices, YAML)
        job.error = compose_error(exc)
        return job
    return check_composed(cfg, job)


def check_composed(cfg: DictConfig, job: Job) -> Job:
    """Validate one composed job config (with its `hydra` node) as the job will; sets the
    job's hashes or its error."""
    from hydra.core.hydra_config import HydraConfig

    from varbench.composed import task_config
    from varbench.config import resolve_cell

    saved = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)  # `${hydra:...}` interpolations resolve as in the job
    try:
        choices = dict(cfg.hydra.runtime.choices)
        task = task_config(cfg)  # what the job receives
        spec = resolve_cell(task, {"dataset": choices.get("dataset"), "model": choices.get("model")},
                            check_model=False)
    except ValueError as exc:  # ConfigError and the generators' own ValueErrors
        job.error = one_line(exc)
        return job
    finally:
        HydraConfig.instance().cfg = saved
    job.cell_hash, job.method_hashes = spec.cell_hash, tuple((spec.method_hashes or {}).values())
    return job


def check_sweep(config: DictConfig) -> list[Job]:
    """Compose and validate every job of the multirun `config` (the sweep's own config, with
    its `hydra` node). Returns the jobs; those with `error` set are invalid."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    return [_check_job(loader, config, num, ov) for num, ov in enumerate(job_overrides(config))]


def compose_error(exc: BaseException) -> str:
    """A Hydra composition error (unknown option, YAML syntax, bad override) as one line, with
    the available options listed where Hydra gives them."""
    text = str(exc)
    if "Config search path" in text:  # Hydra appends the search path: noise for a user
        text = text.split("Config search path")[0]
    if "Available options in" in text:
        head, _, rest = text.partition("Available options in")
        group, _, options = rest.partition(":")
        text = f"{head.strip()}; available options in{group}: {', '.join(options.split())}"
    cause = exc.__cause__
    if cause is not None and str(cause) not in text:
        text = f"{text}: {cause}"
    text = one_line(text).rstrip(".")
    missing = _missing_method(text)
    return f"{text}; {missing}" if missing else text


def _missing_method(text: str) -> str:
    """For "Could not load 'methods/NAME'" (Hydra lists nothing there): the registered methods
    and suites (varbench.registry)."""
    if "'methods/" not in text or "available" in text:
        return ""
    from varbench.registry import registry, suites

    return (f"available methods: {', '.join(sorted(registry()))}; "
            f"suites: {', '.join(sorted(suites()))}")


def report_invalid(jobs: list[Job]) -> list[str]:
    """The lines `varbench` prints before refusing a sweep: one per distinct error, naming the
    job(s) it applies to (none if it applies to every job)."""
    by_error: dict[str, list[Job]] = {}
    for j in jobs:
        if j.error:
            by_error.setdefault(j.error, []).append(j)
    lines = []
    for error, bad in by_error.items():
        if len(bad) == len(jobs):
            where = "" if len(jobs) == 1 else f"every job of {len(jobs)}: "
        elif len(bad) == 1:
            where = f"job #{bad[0].num} ({' '.join(bad[0].overrides)}): "
        else:
            where = f"jobs {', '.join(f'#{j.num}' for j in bad)} of {len(jobs)}: "
        lines.append(f"config error: {where}{error}")
    return lines
