"""A sweep's job configs made from one Hydra composition per set of config-group choices.

Hydra composes a job's config in three steps (`ConfigLoaderImpl._load_configuration_impl`): the
defaults list, from the config-group overrides (`dataset=linear`, `+experiment=seed_question`,
`methods=[...]`) and the `hydra...` overrides; then the value overrides (`seed=3`,
`trainer.epochs=5`) applied to the result (`ConfigLoaderImpl._apply_overrides_to_config`); then the
`hydra` node fields derived from the overrides (`hydra.overrides`, `hydra.job.override_dirname`,
the runtime fields), and the master config's resolver cache (`load_sweep_config`). Jobs that differ
in their value overrides only share the first step: `templated` composes it once (Hydra's own
`load_sweep_config`, the value overrides left out: the template) and makes every job from a copy
of the template, its value overrides applied by Hydra's function and the derived fields recomputed
as Hydra computes them. Which override selects a config group is decided by Hydra's parser and the
config repository Hydra builds for the job, as its defaults list decides it.

A job with any other override (`+key=`, `++key=`, `~key`, a list or dict value, an interpolation,
a sweep, a package) gets None: the caller composes it in full (`varbench.composed`).
"""
from __future__ import annotations

import copy
import os
from typing import Any, Callable, Sequence

from hydra import __version__, version
from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.core.utils import JobRuntime
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

_FAILED = object()  # a template Hydra could not compose: its jobs are composed in full (Hydra's own error)
# templates of the running multirun: (config name, overrides composed) -> (config, job name then) or _FAILED
_TEMPLATES: dict[tuple[Any, ...], Any] = {}
# config repositories Hydra builds (the search path depends on the config name and `hydra.searchpath`)
_REPOS: dict[tuple[Any, ...], Any] = {}
_PLAIN = (str, int, float, bool, type(None))


def templated(loader: Any, config: DictConfig, overrides: Sequence[str], load: Callable[..., DictConfig],
              stats: dict[str, int]) -> DictConfig | None:
    """The job config of `overrides` made from its template (composed by `load`, Hydra's
    `load_sweep_config`, on first use), or None if Hydra must compose the job in full.
    Counts templates composed in `stats["composed"]` and jobs made in `stats["templated"]`.

    Examples
    --------
    >>> from varbench.templated import templated  # called by varbench.composed.composed
    """
    split = _split(loader, config, overrides)
    if split is None:
        return None
    base, values, parsed = split
    key = (config.hydra.job.config_name, *config.hydra.overrides.hydra, *base)
    if key not in _TEMPLATES:
        try:
            template = load(config, base)
        except Exception:  # noqa: BLE001 - the job's full composition raises Hydra's own error
            _TEMPLATES[key] = _FAILED
            return None
        stats["composed"] += 1
        _TEMPLATES[key] = (template, _job_name())  # never handed out: each job gets a copy
    if _TEMPLATES[key] is _FAILED or _TEMPLATES[key][1] != _job_name():
        return None
    cfg = copy.deepcopy(_TEMPLATES[key][0])
    try:
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        _derive(cfg, parsed, config)
    except Exception:  # noqa: BLE001 - an override Hydra refuses: the full composition says why
        return None
    stats["templated"] += 1
    return cfg


def _split(loader: Any, config: DictConfig, overrides: Sequence[str]) -> tuple[list[str], list[Override],
                                                                             list[Override]] | None:
    """The job's template overrides, its value overrides, and all its overrides parsed (the
    master's `hydra` ones first, as `load_sweep_config` passes them); None if one is neither."""
    if not isinstance(loader, ConfigLoaderImpl):
        return None
    lines = [*config.hydra.overrides.hydra, *overrides]
    try:
        parsed, repo = _parsed(loader, config.hydra.job.config_name, lines)
    except Exception:  # noqa: BLE001 - a bad override: the full composition says why
        return None
    base, values = [], []
    for line, override in zip(overrides, parsed[len(lines) - len(overrides):]):
        if override.is_sweep_override():
            return None
        value = override.value()
        if override.is_hydra_override() or (repo.group_exists(override.key_or_group) and not isinstance(value, dict)):
            base.append(line)  # Hydra's defaults list takes it (defaults_list.Overrides)
        elif _plain(override, value):
            values.append(override)
        else:
            return None
    return base, values, parsed


def _plain(override: Override, value: Any) -> bool:
    """Whether `override` is a plain `key=value` assignment of a scalar to a task key."""
    return (override.type == OverrideType.CHANGE and override.package is None and isinstance(value, _PLAIN)
            and not (isinstance(value, str) and "${" in value)
            and override.key_or_group.split(".")[0] != "hydra")


def _parsed(loader: ConfigLoaderImpl, config_name: Any, lines: list[str]) -> tuple[list[Override], Any]:
    """The parsed overrides and the config repository Hydra composes the job with (one per search path)."""
    parsed = OverridesParser.create().parse_overrides(overrides=lines)
    key = (config_name, *(o.input_line for o in parsed if o.get_key_element() == "hydra.searchpath"))
    if key not in _REPOS:
        _REPOS[key] = loader._parse_overrides_and_create_caching_repo(config_name, lines)[1]
    return parsed, _REPOS[key]


def _derive(cfg: DictConfig, parsed: list[Override], master: DictConfig) -> None:
    """Recompute, in place, the fields of `cfg.hydra` that Hydra derives from the job's overrides and
    the environment (`_load_configuration_impl`), and the cache `load_sweep_config` copies."""
    hydra = cfg.hydra
    task = [o for o in parsed if not o.is_hydra_override()]
    _refill(hydra.overrides.hydra, [o.input_line for o in parsed if o.is_hydra_override()])
    _refill(hydra.overrides.task, [o.input_line for o in task])
    with open_dict(hydra):
        for key in hydra.job.env_copy:
            hydra.job.env_set[key] = os.environ[key]
    hydra.runtime.version = __version__
    hydra.runtime.version_base = version.getbase()
    hydra.runtime.cwd = os.getcwd()
    dirname = hydra.job.config.override_dirname
    hydra.job.override_dirname = get_overrides_dirname(overrides=task, kv_sep=dirname.kv_sep,
                                                       item_sep=dirname.item_sep, exclude_keys=dirname.exclude_keys)
    OmegaConf.copy_cache(from_config=master, to_config=cfg)


def _refill(node: ListConfig, lines: list[str]) -> None:
    """Empty the list `node` and append `lines`, as Hydra appends to the schema's empty list."""
    while len(node):
        node.pop()
    for line in lines:
        node.append(line)


def _job_name() -> Any:
    """The job name Hydra gives a config that names none (`JobRuntime`), now."""
    return OmegaConf.select(JobRuntime.instance().conf, "name")


def forget() -> None:
    """Drop the templates (the sweep is over)."""
    _TEMPLATES.clear()
    _REPOS.clear()
