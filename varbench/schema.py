"""Typed schema of varbench's configuration, and the one value checker shared by the schema and
by the parameter checks of `_target_` nodes (datasets, models, methods).

The top-level keys, `scoring`, `tracking`, `cache`, `model_truth` and `evaluation` are dataclasses (registered
with Hydra's ConfigStore as ``varbench_schema``, so a primary config may list it in its defaults
to have Hydra enforce the types at composition too). `validate_config` checks a plain dict
against them: unknown keys, types and ranges, each failure one line naming the key and value.
The trainer's schema is `varbench.models.trainer.TrainerConfig` itself.

Parameters of `_target_` callables are checked against the callable's own signature
(`check_params`): unknown names (with the valid ones listed), missing required parameters, and
values against the type hints (``int`` refuses ``true``, ``float`` refuses NaN/inf, ``str``
refuses numbers, ``Sequence[int]`` wants a list of integers). Method parameters that are counts
(`is_count_param`: ``n_*``, ``*_size``, ``steps``) must also be >= 1: checked before training,
where the method's own checks would only fire after it.
"""
from __future__ import annotations

import collections.abc as cabc
import dataclasses
import inspect
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

GROUP_KEYS = ("dataset", "model", "trainer", "methods", "tracking")
ON_LOW_QUALITY = ("run", "skip")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the value (one line)."""


def one_line(text: object) -> str:
    """Collapse a (possibly multi-line) message into one line."""
    return " ".join(str(text).split())


def invalid(key: str, value: Any, expected: str) -> ConfigError:
    """The standard error: `key=value is invalid: expected ...`."""
    return ConfigError(one_line(f"{key}={value!r} is invalid: expected {expected}"))


def rule(check: Callable[[Any], bool], expected: str) -> dict[str, Any]:
    """Field metadata: a range check and the phrase describing a valid value."""
    return {"check": check, "expected": expected}


def _positive_int_or_none(v: Any) -> bool:
    return v is None or v >= 1


# --- the schema ---------------------------------------------------------------------------------

@dataclass
class ScoringConfig:
    """How importances are scored (the upper bound of k, n_features, is checked with the data)."""

    k: Optional[int] = field(default=None, metadata=rule(_positive_int_or_none, "an integer >= 1 or null"))


@dataclass
class TrackingConfig:
    """Where runs are logged."""

    uri: str = field(default="sqlite:///mlflow.db", metadata=rule(bool, "a non-empty tracking URI string"))
    experiment: str = field(default="varbench", metadata=rule(bool, "a non-empty experiment name"))


@dataclass
class CacheConfig:
    """The trained-model cache folder (null disables it)."""

    dir: Optional[str] = field(default=".varbench/models", metadata=rule(lambda v: v is None or bool(v),
                                                                         "a folder path or null"))


@dataclass
class ModelTruthConfig:
    """The trained model's own truth (varbench.methods.model_truth), computed per cell."""

    enabled: bool = True
    max_features: int = field(default=10, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    rows: Optional[int] = field(default=100, metadata=rule(_positive_int_or_none, "an integer >= 1 or null"))
    background_size: Optional[int] = field(default=32, metadata=rule(_positive_int_or_none,
                                                                     "an integer >= 1 or null"))
    sobol_samples: int = field(default=8192, metadata=rule(lambda v: v >= 2, "an integer >= 2"))


CONDITIONAL_SAMPLERS = ("gaussian", "none")


def _fraction(v: Any) -> bool:
    return 0 < v <= 1


@dataclass
class EvaluationConfig:
    """Which truth-free metrics (varbench.truth_free) score each method run, and their sizes.
    `curves` (deletion/insertion AUC, PGI, PGU) is cheap and on by default; `local`
    (faithfulness_corr, infidelity), `max_sensitivity` and `randomization` re-run the method or
    evaluate many perturbations (conf/evaluation/full.yaml); `roar` retrains twice per method."""

    curves: bool = True
    conditional: str = field(default="gaussian", metadata=rule(lambda v: v in CONDITIONAL_SAMPLERS,
                                                                 f"one of {CONDITIONAL_SAMPLERS}"))
    rows: int = field(default=100, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    background_size: int = field(default=16, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    k_fraction: float = field(default=0.25, metadata=rule(_fraction, "a number in (0, 1]"))
    local: bool = False
    n_subsets: int = field(default=32, metadata=rule(lambda v: v >= 2, "an integer >= 2"))
    subset_fraction: float = field(default=0.25, metadata=rule(_fraction, "a number in (0, 1]"))
    max_sensitivity: bool = False
    sensitivity_rows: int = field(default=8, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    sensitivity_draws: int = field(default=4, metadata=rule(lambda v: v >= 1, "an integer >= 1"))
    radius: float = field(default=0.1, metadata=rule(lambda v: v > 0, "a number > 0"))
    randomization: bool = False
    roar: bool = False


@dataclass
class VarbenchConfig:
    """The primary config. Group keys (dataset, model, trainer, methods, tracking) are checked
    by their own schemas or their targets' signatures; they are `Any` here. Defaults are what
    an absent key means (conf/config.yaml sets the shipped values)."""

    dataset: Any = None
    model: Any = None
    trainer: Any = None
    methods: Any = None
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = field(default=0, metadata=rule(lambda v: v >= 0, "an integer >= 0"))
    study: str = field(default="default", metadata=rule(bool, "a non-empty string"))
    scoring: Optional[ScoringConfig] = field(default_factory=ScoringConfig)  # null = defaults
    quality_threshold: Optional[float] = field(default=None, metadata={"expected": "a finite number or null"})
    on_low_quality: str = field(default="run", metadata=rule(lambda v: v in ON_LOW_QUALITY,
                                                             f"one of {ON_LOW_QUALITY}"))
    threads: Any = field(default="auto", metadata=rule(
        lambda v: v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1),
        "'auto', an integer >= 1 or null"))
    resume: bool = True
    output: str = field(default="auto", metadata=rule(lambda v: v in ("auto", "prob", "logit"),
                                                       "one of ('auto', 'prob', 'logit')"))
    cache: Optional[CacheConfig] = None  # null = no model cache
    model_truth: Optional[ModelTruthConfig] = None  # null = not computed
    evaluation: Optional[EvaluationConfig] = None  # null = no truth-free metric


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore as `varbench_schema`."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="varbench_schema", node=VarbenchConfig)


# --- the value checker --------------------------------------------------------------------------

def _args(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Union or isinstance(tp, types.UnionType)


def describe(tp: Any) -> str:
    """A phrase for a type hint: 'an integer', 'a list of numbers', 'a string or null'."""
    if _is_union(tp):
        parts = [describe(a) for a in _args(tp) if a is not type(None)]
        return " or ".join(parts + (["null"] if type(None) in _args(tp) else []))
    origin = typing.get_origin(tp) or tp
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a finite number"
    if tp is str:
        return "a string"
    if tp is type(None):
        return "null"
    if origin is typing.Literal:
        return f"one of {_args(tp)}"
    if origin in (list, tuple, cabc.Sequence, cabc.MutableSequence):
        inner = _args(tp)
        if inner and inner[0] is not Any and inner[0] is not Ellipsis:
            return "a list of " + {int: "integers", float: "numbers", str: "strings"}.get(inner[0], "values")
        return "a list"
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def matches(value: Any, tp: Any) -> bool:
    """Whether a config value fits a type hint. Hints it cannot judge (Any, classes, callables)
    accept anything: the target is then the judge."""
    if tp is Any or tp is inspect.Parameter.empty or isinstance(tp, (str, typing.TypeVar)):
        return True
    if _is_union(tp):
        return any(matches(value, a) for a in _args(tp))
    if tp is type(None) or tp is None:
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if tp is str:
        return isinstance(value, str)
    origin = typing.get_origin(tp) or tp
    if origin is typing.Literal:
        return value in _args(tp)
    if origin in (list, tuple, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection):
        if isinstance(value, (str, bytes)) or not isinstance(value, cabc.Sequence):
            return False
        inner = [a for a in _args(tp) if a is not Ellipsis]
        if origin is tuple and len(inner) > 1:  # fixed-length tuple[a, b]
            return len(value) == len(inner) and all(matches(v, t) for v, t in zip(value, inner))
        return not inner or all(matches(v, inner[0]) for v in value)
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        return isinstance(value, cabc.Mapping)
    return True


def check_value(key: str, value: Any, tp: Any, expected: str | None = None) -> None:
    """Raise ConfigError naming `key` and `value` if the value does not fit the type hint."""
    if not matches(value, tp):
        raise invalid(key, value, expected or describe(tp))


# --- schema validation --------------------------------------------------------------------------

def _hints(cls: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - unresolvable forward references: judge nothing
        return {}


def _dataclass_of(tp: Any) -> Any:
    """The dataclass inside `X` or `Optional[X]`, else None."""
    for t in (_args(tp) if _is_union(tp) else (tp,)):
        if dataclasses.is_dataclass(t):
            return t
    return None


def validate_section(cls: Any, data: Any, prefix: str = "") -> Any:
    """Check a mapping against dataclass `cls` (unknown keys, types, ranges) and return an
    instance. Numbers given for string fields are taken as strings (`study=2024`)."""
    if not isinstance(data, cabc.Mapping):
        names = sorted(f.name for f in dataclasses.fields(cls))
        raise invalid(prefix.rstrip(".") or "config", data, f"a mapping of {names}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = unknown[0]
        raise ConfigError(one_line(f"{prefix}{key}={data[key]!r} is not a known setting; valid: {sorted(fields)}"))
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        tp = hints.get(name, Any)
        if name not in data:
            continue  # the dataclass default applies
        value = data[name]
        sub = _dataclass_of(tp)
        if sub is not None and not (value is None and matches(None, tp)):
            values[name] = validate_section(sub, value, key + ".")
            continue
        if tp in (str, Optional[str]) and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        expected = f.metadata.get("expected")
        check_value(key, value, tp, expected)
        check = f.metadata.get("check")
        if check is not None and value is not None and not check(value):
            raise invalid(key, value, expected or describe(tp))
        values[name] = value
    return cls(**values)


def validate_config(c: dict[str, Any]) -> VarbenchConfig:
    """Validate the top level of a resolved config (the group keys must be present)."""
    for key in GROUP_KEYS:
        if key not in c:
            raise ConfigError(f"{key} is missing from the config")
    return validate_section(VarbenchConfig, c)


# --- parameters of _target_ callables -----------------------------------------------------------

NOT_COUNTS = ("n_jobs",)  # scikit-learn's n_jobs=-1 means "all cores"


def is_count_param(name: str) -> bool:
    """Method parameters named like counts (n_rows, n_samples, background_size, steps, ...)."""
    return (name.startswith("n_") or name.endswith("_size") or name == "steps") and name not in NOT_COUNTS


def check_params(fn: Callable[..., Any], params: dict[str, Any], key: str, supplied: tuple[str, ...] = (),
                 counts: bool = False) -> None:
    """Check config parameters against `fn`'s signature before anything runs.

    supplied: the leading arguments varbench passes itself (e.g. model, data, rng), which the
    config must not set. counts: apply the count rule (`is_count_param` -> integer >= 1).
    Raises ConfigError naming `key.param` and the value."""
    target = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: nothing to check
        return
    plist = list(sig.parameters.values())
    positional = [p for p in plist if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_varargs = any(p.kind is p.VAR_POSITIONAL for p in plist)
    if len(positional) < len(supplied) and not has_varargs:
        raise ConfigError(one_line(f"{key}._target_ {target}{sig} cannot be called as "
                                   f"{target}({', '.join(supplied)}, **params)"))
    taken = {p.name for p in positional[:len(supplied)]}
    for name in params:
        if name in taken:
            raise ConfigError(f"{key}.{name}={params[name]!r} is invalid: {name!r} is supplied by varbench")
    named = {p.name: p for p in plist if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and p.name not in taken}
    if not any(p.kind is p.VAR_KEYWORD for p in plist):
        unknown = sorted(set(params) - set(named))
        if unknown:
            name = unknown[0]
            raise ConfigError(one_line(f"{key}.{name}={params[name]!r} is not a parameter of {target}; "
                                       f"valid: {sorted(named)}"))
    missing = [n for n, p in named.items() if p.default is p.empty and n not in params
               and p.kind is not p.VAR_KEYWORD]
    if missing:
        raise ConfigError(f"{key}.{missing[0]} is missing: {target} requires it")
    hints = _hints(fn)
    for name, value in params.items():
        tp = hints.get(name, Any)
        check_value(f"{key}.{name}", value, tp)
        if (counts and is_count_param(name) and isinstance(value, int) and not isinstance(value, bool)
                and value < 1):
            raise invalid(f"{key}.{name}", value, "an integer >= 1" + (" or null" if matches(None, tp) else ""))
