"""Turn a composed Hydra config into a validated cell specification, before any training.

Every error names the offending key and value in one line (`ConfigError`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from varbench.datasets.base import Dataset


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the value."""


ON_LOW_QUALITY = ("run", "skip")


@dataclass
class CellSpec:
    """Everything one cell needs, validated."""

    dataset: Dataset
    dataset_name: str
    model_name: str
    seed: int
    build: Callable[[int, str], Any]
    trainer: Any  # TrainerConfig
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


def stable_hash(obj: Any) -> str:
    """Short SHA-256 of a JSON-serialisable object (key order does not matter)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _target_name(node: Any) -> str:
    return str(node.get("_target_", "?")).rsplit(".", 1)[-1] if isinstance(node, dict) else "?"


def _instantiate(node: Any, key: str, **kwargs: Any) -> Any:
    from hydra.utils import instantiate

    if not isinstance(node, (dict, DictConfig)) or "_target_" not in node:
        raise ConfigError(f"{key}={node!r} is invalid: expected a config with a _target_")
    try:
        return instantiate(node, **kwargs)
    except ValueError as exc:  # the target's own validation names its key
        raise ConfigError(str(exc).splitlines()[-1] if "Error in call" in str(exc) else str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - import errors, unknown keyword arguments
        cause = exc.__cause__ or exc
        if isinstance(cause, ValueError):
            raise ConfigError(str(cause)) from None
        raise ConfigError(f"{key}._target_={node.get('_target_')!r} could not be instantiated: "
                          f"{type(cause).__name__}: {cause}") from None


def _choice(names: dict[str, str] | None, key: str, node: Any) -> str:
    if names and names.get(key):
        return names[key]
    return _target_name(node)


def resolve_cell(cfg: DictConfig, names: dict[str, str] | None = None) -> CellSpec:
    """Validate the config and instantiate dataset, model builder, trainer and methods."""
    from varbench.models.trainer import TrainerConfig

    c = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(c, dict)
    c.setdefault("methods", {})  # `methods=[]` or `~methods` leave no key: reported below
    for key in ("dataset", "model", "trainer", "methods", "tracking"):
        if key not in c:
            raise ConfigError(f"{key} is missing from the config")
    seed = c.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed={seed!r} is invalid: expected an integer >= 0")

    methods_cfg = c["methods"]
    if not isinstance(methods_cfg, dict) or not methods_cfg:
        raise ConfigError(f"methods={methods_cfg!r} is invalid: expected at least one method "
                          "(methods=SUITE or methods=[a,b])")
    methods: dict[str, Callable[..., Any]] = {}
    for name, node in methods_cfg.items():
        if not isinstance(node, dict) or "_target_" not in node:
            raise ConfigError(f"methods.{name}={node!r} is invalid: expected a method config with a _target_")
        node = {**node, "_partial_": True}
        fn = _instantiate(node, f"methods.{name}")
        if not callable(fn):
            raise ConfigError(f"methods.{name}._target_={node['_target_']!r} is not callable")
        methods[name] = fn

    trainer_cfg = c["trainer"] or {}
    unknown = set(trainer_cfg) - set(TrainerConfig.__dataclass_fields__)
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"trainer.{key}={trainer_cfg[key]!r} is not a known setting; valid: "
                          f"{sorted(TrainerConfig.__dataclass_fields__)}")
    try:
        trainer = TrainerConfig(**trainer_cfg)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    build = _instantiate({**c["model"], "_partial_": True}, "model")
    dataset_kwargs = {} if "seed" in c["dataset"] else {"seed": seed}
    dataset = _instantiate(c["dataset"], "dataset", **dataset_kwargs)
    if not isinstance(dataset, Dataset):
        raise ConfigError(f"dataset._target_={c['dataset']['_target_']!r} returned "
                          f"{type(dataset).__name__}, expected varbench.Dataset")

    scoring = c.get("scoring") or {}
    k = scoring.get("k")
    if k is not None and (not isinstance(k, int) or not 1 <= k <= dataset.n_features):
        raise ConfigError(f"scoring.k={k!r} is invalid: expected an integer in [1, n_features={dataset.n_features}]")
    threshold = c.get("quality_threshold")
    if threshold is not None and not isinstance(threshold, (int, float)):
        raise ConfigError(f"quality_threshold={threshold!r} is invalid: expected a number or null")
    on_low = c.get("on_low_quality", "run")
    if on_low not in ON_LOW_QUALITY:
        raise ConfigError(f"on_low_quality={on_low!r} is invalid: expected one of {ON_LOW_QUALITY}")
    tracking = c["tracking"]
    if not isinstance(tracking.get("uri"), str) or not tracking["uri"]:
        raise ConfigError(f"tracking.uri={tracking.get('uri')!r} is invalid: expected a URI string")

    trainer_key = {k: v for k, v in trainer_cfg.items() if k != "progress_every"}  # display only
    model_key = {"dataset": c["dataset"], "model": c["model"], "trainer": trainer_key, "seed": seed}
    cell_hash = stable_hash({**model_key, "scoring": scoring})
    resume = c.get("resume", True)
    if not isinstance(resume, bool):
        raise ConfigError(f"resume={resume!r} is invalid: expected true or false")
    return CellSpec(
        dataset=dataset,
        dataset_name=_choice(names, "dataset", c["dataset"]),
        model_name=_choice(names, "model", c["model"]),
        seed=seed,
        build=build,
        trainer=trainer,
        methods=methods,
        k=k,
        quality_threshold=None if threshold is None else float(threshold),
        on_low_quality=on_low,
        tracking_uri=tracking["uri"],
        experiment=str(tracking.get("experiment", "varbench")),
        cache_dir=(c.get("cache") or {}).get("dir"),
        cell_hash=cell_hash,
        model_hash=stable_hash(model_key),
        study=str(c.get("study", "default")),
        method_hashes={name: stable_hash({"cell": cell_hash, "method": name, "config": node})
                       for name, node in methods_cfg.items()},
        resume=resume,
        model_truth=dict(c.get("model_truth") or {"enabled": False}),
    )
