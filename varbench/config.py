"""Turn a composed Hydra config into a validated cell specification, before any training.

Order (cheap first): the declared schema (varbench.schema: every section, the trainer's
included; unknown keys, types, ranges), methods (each `_meta_` through the same schema, each
`_target_` imported and its parameters checked against its signature), model builder, dataset
(generated: the generators validate their own arguments, then `validate_dataset`), scoring.k
against the data, and finally one dry build of the network on the data's shape. Every error is
a `ConfigError` naming the key and the value in one line. Nothing in a config is ever evaluated
as code: `_target_`s are imported by dotted path (Hydra's target policy applies) and values are
passed as data.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from varbench.datasets.base import Dataset
from varbench.models.layout import bind_groups
from varbench.registry import split_meta
from varbench.schema import (ON_LOW_QUALITY, ConfigError, EvaluationConfig, TrainerConfig, check_params, one_line,
                             validate_config)

__all__ = ["CellSpec", "ConfigError", "ON_LOW_QUALITY", "resolve_cell", "stable_hash", "check_model_builds",
           "remember_cells", "forget_cells",
           "load_target", "METHOD_ARGS", "BUILD_ARGS"]

DEFAULT_EVALUATION = asdict(EvaluationConfig())  # runs with these truth-free metrics keep their former hashes
METHOD_ARGS = ("model", "data", "rng")  # what the runner passes every method, before its params
BUILD_ARGS = ("n_features", "task")  # what the trainer passes the model builder


@dataclass
class CellSpec:
    """Everything one cell needs, validated."""

    dataset: Dataset
    dataset_name: str
    model_name: str
    seed: int
    build: Callable[[int, str], Any]
    trainer: TrainerConfig
    methods: dict[str, Callable[..., Any]]
    k: int | None
    quality_threshold: float | None
    on_low_quality: str
    tracking_uri: str
    experiment: str
    cache_dir: str | None
    cell_hash: str
    model_hash: str
    study: str = "default"
    method_hashes: dict[str, str] | None = None
    model_truth: dict[str, Any] = field(default_factory=dict)
    resume: bool = True
    method_meta: dict[str, Any] = field(default_factory=dict)  # name -> varbench.registry.MethodMeta
    output: str = "auto"  # what a classifier's methods explain: probability (auto/prob) or logit
    evaluation: dict[str, Any] | None = None  # truth-free metrics (varbench.schema.EvaluationConfig); None = none


def stable_hash(obj: Any) -> str:
    """Short SHA-256 of a JSON-serialisable object (key order does not matter)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _target_name(node: Any) -> str:
    return str(node.get("_target_", "?")).rsplit(".", 1)[-1] if isinstance(node, dict) else "?"


def _params(node: dict[str, Any]) -> dict[str, Any]:
    """A target node's parameters (Hydra's own `_keys_` removed)."""
    return {k: v for k, v in node.items() if not (k.startswith("_") and k.endswith("_"))}


CODE_KEYS = ("_target_", "_partial_", "_args_")  # Hydra keys that would make a value run code


def reject_code(value: Any, path: str) -> None:
    """A value is data: a `_target_`/`_partial_`/`_args_` key anywhere inside it is refused (one
    line naming `path`), before anything is imported or called. Config parameters and the Python
    API's parameters (varbench.api_checks) both go through here."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k in CODE_KEYS:
                raise ConfigError(one_line(f"{path}={value!r} is invalid: a parameter value is data, "
                                           f"it may not contain {k} (config values never run code, nor API parameters)"))
            reject_code(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            reject_code(v, f"{path}[{i}]")


def _reject_code_in_values(node: dict[str, Any], key: str) -> None:
    """Config values are data: a `_target_`/`_partial_`/`_args_` anywhere inside a parameter
    value (or `_args_` on the node itself) is refused, before anything is imported or called."""
    if "_args_" in node:
        raise ConfigError(one_line(f"{key}._args_={node['_args_']!r} is invalid: positional arguments are "
                                   "supplied by varbench; give parameters by name"))
    for name, value in _params(node).items():
        reject_code(value, f"{key}.{name}")


def load_target(node: Any, key: str, supplied: tuple[str, ...] = (), counts: bool = False) -> Any:
    """Import a `_target_` node as a partial (nothing is called) and check its parameters
    against the target's signature (`supplied`: the leading arguments varbench passes itself;
    `counts`: apply the count rule of method parameters). Raises ConfigError naming `key`."""
    from hydra.utils import instantiate

    if not isinstance(node, dict) or "_target_" not in node:
        raise ConfigError(one_line(f"{key}={node!r} is invalid: expected a config with a _target_"))
    target = node["_target_"]
    if not isinstance(target, str) or not target:
        raise ConfigError(one_line(f"{key}._target_={target!r} is invalid: expected a dotted path string"))
    _reject_code_in_values(node, key)
    try:  # non-recursive: only this node's own _target_ is ever imported
        fn = instantiate({**node, "_partial_": True, "_recursive_": False})
    except Exception as exc:  # noqa: BLE001 - import errors, target policy, bad nested nodes
        cause = exc.__cause__ or exc
        raise ConfigError(one_line(f"{key}._target_={target!r} could not be instantiated: "
                                   f"{type(cause).__name__}: {cause}")) from None
    if not callable(fn):
        raise ConfigError(f"{key}._target_={target!r} is not callable")
    check_params(getattr(fn, "func", fn), _params(node), key, supplied, counts)
    return fn


def _dataset(node: Any, seed: int) -> Dataset:
    """Generate the dataset (the generator validates its own arguments)."""
    import inspect

    fn = load_target(node, "dataset", supplied=())
    kwargs = {} if "seed" in node else {"seed": seed}
    if kwargs:
        try:
            params = inspect.signature(fn.func).parameters
        except (TypeError, ValueError):
            params = {}
        if params and "seed" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            raise ConfigError(f"dataset._target_={node['_target_']!r} has no `seed` parameter: varbench "
                              "passes the cell seed to every dataset (add `seed: int = 0`)")
    try:
        dataset = fn(**kwargs)
    except ValueError as exc:  # the generator's own validation, or validate_dataset: names the key
        raise ConfigError(one_line(exc)) from None
    except Exception as exc:  # noqa: BLE001 - any other fault of the generator
        raise ConfigError(one_line(f"dataset._target_={node['_target_']!r} failed: "
                                   f"{type(exc).__name__}: {exc}")) from None
    if not isinstance(dataset, Dataset):
        raise ConfigError(f"dataset._target_={node['_target_']!r} returned "
                          f"{type(dataset).__name__}, expected varbench.Dataset")
    return dataset


def check_model_builds(build: Callable[[int, str], Any], dataset: Dataset, key: str = "model") -> None:
    """Build the network once on the data's shape and run two rows through it: a builder
    whose arguments Keras refuses, or whose output is not one unit per row, fails here,
    before any training (imports TensorFlow)."""
    import numpy as np

    from varbench.models.trainer import head_args  # lazy: the trainer loads scipy and scikit-learn

    d = dataset.n_features
    extra = head_args(dataset.task, dataset.y_train)
    try:
        net = build(d, dataset.task, **extra)
        out = net(np.zeros((2, d), dtype=np.float32), training=False)
        shape = tuple(int(s) for s in out.shape)
    except Exception as exc:  # noqa: BLE001 - Keras raises ValueError/TypeError/... for bad arguments
        raise ConfigError(one_line(f"{key} could not be built for {d} features ({dataset.task}): "
                                   f"{type(exc).__name__}: {exc}")[:1000]) from None
    units = extra.get("n_outputs", 1)
    if shape != (2, units):
        what = "one unit per row" if units == 1 else f"{units} class logits per row (n_outputs={units})"
        raise ConfigError(f"{key} must output {what}, shape (n, {units}); got {shape} for 2 rows")


def _choice(names: dict[str, str] | None, key: str, node: Any) -> str:
    if names and names.get(key):
        return names[key]
    return _target_name(node)


def _container(cfg: Any) -> dict[str, Any]:
    """The resolved config as plain data; interpolation errors become ConfigErrors."""
    try:
        c = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    except Exception as exc:  # noqa: BLE001 - omegaconf interpolation / resolver errors
        raise ConfigError(one_line(f"config could not be resolved: {type(exc).__name__}: {exc}")) from None
    if not isinstance(c, dict):
        raise ConfigError(f"config={c!r} is invalid: expected a mapping")
    return c


# Cells resolved during a multirun run by the varbench launcher (its sweep check, pre-training and jobs
# resolve every cell; generating its data is most of it): by the resolved config and names, the spec and
# whether its network was built (`remember_cells`, `forget_cells`). None: nothing is kept.
_REMEMBERED: dict[str, list[Any]] | None = None
MAX_REMEMBERED = 1024  # cells kept at most (a spec holds its dataset)


def remember_cells() -> None:
    """Keep resolved cells until `forget_cells` (the varbench launcher's sweep: one process)."""
    global _REMEMBERED
    if _REMEMBERED is None:
        _REMEMBERED = {}


def forget_cells() -> None:
    """Stop keeping resolved cells and drop them."""
    global _REMEMBERED
    _REMEMBERED = None


def resolve_cell(cfg: DictConfig, names: dict[str, str] | None = None, *, check_model: bool = True) -> CellSpec:
    """Validate the config and instantiate dataset, model builder, trainer and methods.

    check_model: also build the network once on the data's shape (imports TensorFlow);
    False validates the configuration alone. Between `remember_cells` and `forget_cells` a
    config resolved before gives the same spec again (its data generated once)."""
    c = _container(cfg)
    key = stable_hash({"config": c, "names": names}) if _REMEMBERED is not None else ""
    if key in (_REMEMBERED or {}):
        entry = _REMEMBERED[key]  # type: ignore[index]
        if check_model and not entry[1]:
            check_model_builds(entry[0].build, entry[0].dataset)
            entry[1] = True
        return entry[0]
    spec = _resolve(c, names, check_model)
    if _REMEMBERED is not None and len(_REMEMBERED) < MAX_REMEMBERED:
        _REMEMBERED[key] = [spec, check_model]
    return spec


def _resolve(c: dict[str, Any], names: dict[str, str] | None, check_model: bool) -> CellSpec:
    """`resolve_cell` of the resolved config `c`."""
    c.setdefault("methods", {})  # `methods=[]` or `~methods` leave no key: reported below
    top = validate_config(c)
    seed = top.seed

    methods_cfg = c["methods"]  # a non-empty mapping (the schema); each node is checked here

    methods: dict[str, Callable[..., Any]] = {}
    meta: dict[str, Any] = {}
    for name, node in list(methods_cfg.items()):
        if not isinstance(node, dict) or "_target_" not in node:
            raise ConfigError(one_line(f"methods.{name}={node!r} is invalid: expected a method config with a _target_"))
        meta[name], methods_cfg[name] = split_meta(node, f"methods.{name}")  # _meta_ is never passed on
        methods[name] = load_target(methods_cfg[name], f"methods.{name}", METHOD_ARGS, counts=True)

    trainer_cfg = c["trainer"] or {}
    trainer = top.trainer or TrainerConfig()
    build = load_target(c["model"], "model", BUILD_ARGS)
    dataset = _dataset(c["dataset"], seed)

    scoring = c.get("scoring") or {}
    k = top.scoring.k if top.scoring is not None else None
    if k is not None and k > dataset.n_features:
        raise ConfigError(f"scoring.k={k!r} is invalid: expected an integer in [1, n_features={dataset.n_features}]")
    try:  # a builder that embeds categoricals takes the data's one-hot groups (varbench.models.layout)
        build = bind_groups(build, dataset.X_train, dataset.groups)
    except ValueError as exc:
        raise ConfigError(one_line(exc)) from None
    if check_model:
        check_model_builds(build, dataset)

    # progress_every is display only; `output` (top level) says what is explained, not how the network
    # is trained: the key keeps the former trainer.output entry at "auto" so existing caches stay valid
    # the engine in effect is in the key, except "single" (the engine of every model trained before the key
    # existed: their hashes stay valid)
    trainer_key = {**{k_: v for k_, v in trainer_cfg.items() if k_ not in ("progress_every", "engine")},
                   "output": "auto", **({} if trainer.engine == "single" else {"engine": trainer.engine})}
    model_key = {"dataset": c["dataset"], "model": c["model"], "trainer": trainer_key, "seed": seed}
    if dataset.fingerprint:  # a user's table: its content, not only its path, decides the model
        model_key["data_fingerprint"] = dataset.fingerprint
    cell_hash = stable_hash({**model_key, "scoring": scoring})
    cache_dir = top.cache.dir if top.cache is not None else None
    # truth-free metrics other than the defaults are part of a method run's identity (resume reruns it)
    evaluation = asdict(top.evaluation) if top.evaluation is not None else None
    return CellSpec(
        dataset=dataset,
        dataset_name=_choice(names, "dataset", c["dataset"]),
        model_name=_choice(names, "model", c["model"]),
        seed=seed,
        build=build,
        trainer=trainer,
        methods=methods,
        k=k,
        quality_threshold=None if top.quality_threshold is None else float(top.quality_threshold),
        on_low_quality=top.on_low_quality,
        tracking_uri=top.tracking.uri,
        experiment=top.tracking.experiment,
        cache_dir=cache_dir,
        cell_hash=cell_hash,
        model_hash=stable_hash(model_key),
        study=top.study,
        method_hashes={name: stable_hash({"cell": cell_hash, "method": name, "config": node,
                                          **({"output": top.output} if top.output != "auto" else {}),
                                          **({"evaluation": evaluation} if evaluation != DEFAULT_EVALUATION else {})})
                       for name, node in methods_cfg.items()},
        output=top.output,
        resume=top.resume,
        model_truth=asdict(top.model_truth) if top.model_truth is not None else {"enabled": False},
        method_meta=meta,
        evaluation=evaluation,
    )
