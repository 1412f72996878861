"""The job configs of a multirun, each composed once.

The sweep check (`varbench.sweep.check_sweep`), the pre-training callback (`varbench.pretrain`) and
the varbench launchers (`varbench.batch`; `varbench.ray_batches`, in the parent) each need every
job's config. With a varbench launcher the first to compose a job's config keeps it here, keyed by
the job's overrides, and the others take it from here; with another launcher (its jobs compose
their own) nothing is kept. With a varbench launcher, jobs that differ only in plain value
overrides (`seed=3`) are made from one composition of their config-group choices
(`varbench.templated`), the others composed in full."""
from __future__ import annotations

import copy
from typing import Any, Sequence

from omegaconf import DictConfig, open_dict, read_write

from varbench.launcher_settings import VARBENCH, VARBENCH_RAY
from varbench.templated import forget as forget_templates
from varbench.templated import templated

# composed job configs of the running multirun, by job overrides (filled by `composed`)
_COMPOSED: dict[tuple[str, ...], DictConfig] = {}
# in this process: Hydra compositions (jobs in full, templates), configs taken from here, jobs made from a template
STATS = {"composed": 0, "reused": 0, "templated": 0}


def uses_launcher(config: DictConfig) -> bool:
    """Whether the multirun `config` launches its cells with a varbench launcher (`varbench`, in this
    process, or `varbench_ray`, whose parent composes every cell for its Ray tasks)."""
    return str(config.hydra.launcher.get("_target_", "")) in (VARBENCH, VARBENCH_RAY)


def composed(loader: Any, config: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """The job config of `overrides` (with its `hydra` node, not to be modified): composed by
    `loader` once, then taken from here when the varbench launcher runs the sweep.

    Examples
    --------
    >>> from varbench.composed import composed  # used by varbench.sweep, varbench.pretrain, varbench.batch
    """
    key = tuple(overrides)
    if key in _COMPOSED:
        STATS["reused"] += 1
        return _COMPOSED[key]
    load = getattr(loader.load_sweep_config, "original", loader.load_sweep_config)  # see `share`
    if not uses_launcher(config):
        STATS["composed"] += 1
        return load(config, list(overrides))
    cfg = templated(loader, config, overrides, load, STATS)
    if cfg is None:
        cfg = load(config, list(overrides))
        STATS["composed"] += 1
    _COMPOSED[key] = cfg
    return cfg


def share(loader: Any) -> None:
    """Make `loader.load_sweep_config` answer from here, so that Hydra's sweeper, which composes every
    job of a batch once more to validate it before launching (`Sweeper.validate_batch_is_legal`),
    takes the configs the sweep check composed. Called by the varbench launcher's set-up."""
    if hasattr(loader.load_sweep_config, "original"):
        return
    original = loader.load_sweep_config

    def load_sweep_config(master_config: DictConfig, sweep_overrides: Sequence[str]) -> DictConfig:
        return composed(loader, master_config, sweep_overrides)

    load_sweep_config.original = original  # type: ignore[attr-defined]
    loader.load_sweep_config = load_sweep_config


def task_config(cfg: DictConfig) -> DictConfig:
    """A copy of a job config without its `hydra` node: what the job function receives."""
    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def forget() -> None:
    """Drop the composed configs and their templates (the sweep is over)."""
    _COMPOSED.clear()
    forget_templates()
