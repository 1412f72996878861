"""The declared schema of varbench's configuration and its one validator.

Every config section is declared once, here or in the schema language defined here: a dataclass
(`Section`) whose fields carry their type, their default (the one source of each default) and
their rule (`rule`, `at_least`, `one_of`, `names_from` metadata). The sections: the top level
(`VarbenchConfig`), `tracking`, `cache`, `scoring`, `model_truth`, `evaluation`, `trainer`
(`TrainerConfig`, which `varbench.models.trainer` uses) and a method's `_meta_` block
(`varbench.registry.MethodMeta`). One validator checks them all: `validate_section` (a config
mapping: unknown keys, then each field) and a section's own construction from Python
(`TrainerConfig(epochs=0)`) both go through `check_field`; each failure is one ConfigError line
naming the key and the value. `validate_config` checks a resolved config's top level.

`register_configs` registers `VarbenchConfig` with Hydra's ConfigStore as ``varbench_schema``
(for a user's own primary config). conf/config.yaml does not list it: Hydra's structured merge
would coerce values the validator refuses (``resume=1`` becomes true, ``trainer.lr=1`` becomes
1.0 and changes the model's hash) and report type errors as multi-line OmegaConf errors.

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
from typing import Any, Callable, ClassVar, Dict, Optional

GROUP_KEYS = ("dataset", "model", "trainer", "methods", "tracking")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the value (one line)."""


def one_line(text: object) -> str:
    """Collapse a (possibly multi-line) message into one line."""
    return " ".join(str(text).split())


def invalid(key: str, value: Any, expected: str) -> ConfigError:
    """The standard error: `key=value is invalid: expected ...`."""
    return ConfigError(one_line(f"{key}={value!r} is invalid: expected {expected}"))


def rule(check: Callable[[Any], bool], expected: str) -> dict[str, Any]:
    """Field metadata: a range check and the phrase describing a valid (non-null) value."""
    return {"check": check, "expected": expected}


def at_least(low: float, what: str = "an integer", strict: bool = False) -> dict[str, Any]:
    """Field metadata: a value >= `low` (> `low` with strict), described as `what >= low`."""
    if strict:
        return rule(lambda v: v > low, f"{what} > {low}")
    return rule(lambda v: v >= low, f"{what} >= {low}")


def one_of(choices: tuple[Any, ...]) -> dict[str, Any]:
    """Field metadata: a value among `choices`."""
    return rule(lambda v: v in choices, f"one of {choices}")


def names_from(choices: tuple[str, ...]) -> dict[str, Any]:
    """Field metadata: a list of names, each among `choices`."""
    return rule(lambda v: all(n in choices for n in v), f"a list of names from {choices}")


class Section:
    """A config section: a dataclass whose fields carry their type, default and rule (`rule`
    metadata). Constructing one from Python (`TrainerConfig(epochs=0)`) runs the same checks as
    validating a config mapping (`validate_section`); errors are prefixed with `KEY`. A section
    declares no checks of its own (a test holds every subclass to this `__post_init__`).

    Examples
    --------
    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class Sample(Section):
    ...     KEY = "sample"
    ...     rows: int = field(default=10, metadata=at_least(1))
    >>> Sample(rows=0)
    Traceback (most recent call last):
    ...
    varbench.schema.ConfigError: sample.rows=0 is invalid: expected an integer >= 1
    """

    KEY: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_fields(self, f"{self.KEY}." if self.KEY else "")


# --- the schema: every section of the config, declared once -------------------------------------

@dataclass
class ScoringConfig(Section):
    """How importances are scored (the upper bound of k, n_features, is checked with the data)."""

    KEY: ClassVar[str] = "scoring"
    k: Optional[int] = field(default=None, metadata=at_least(1))


@dataclass
class TrackingConfig(Section):
    """Where runs are logged."""

    KEY: ClassVar[str] = "tracking"
    uri: str = field(default="sqlite:///mlflow.db", metadata=rule(bool, "a non-empty tracking URI string"))
    experiment: str = field(default="varbench", metadata=rule(bool, "a non-empty experiment name"))


@dataclass
class CacheConfig(Section):
    """The trained-model cache folder (null disables it)."""

    KEY: ClassVar[str] = "cache"
    dir: Optional[str] = field(default=".varbench/models", metadata=rule(bool, "a folder path or null"))


@dataclass
class ModelTruthConfig(Section):
    """The trained model's own truth (varbench.methods.model_truth), computed per cell."""

    KEY: ClassVar[str] = "model_truth"
    enabled: bool = True
    max_features: int = field(default=10, metadata=at_least(1))
    rows: Optional[int] = field(default=100, metadata=at_least(1))
    background_size: Optional[int] = field(default=32, metadata=at_least(1))
    sobol_samples: int = field(default=8192, metadata=at_least(2))


CONDITIONAL_SAMPLERS = ("gaussian", "none")
FRACTION = rule(lambda v: 0 < v <= 1, "a number in (0, 1]")


@dataclass
class EvaluationConfig(Section):
    """Which truth-free metrics (varbench.truth_free) score each method run, and their sizes.
    `curves` (deletion/insertion AUC, PGI, PGU) is cheap and on by default; `local`
    (faithfulness_corr, infidelity), `max_sensitivity` and `randomization` re-run the method or
    evaluate many perturbations (conf/evaluation/full.yaml); `roar` retrains twice per method."""

    KEY: ClassVar[str] = "evaluation"
    curves: bool = True
    conditional: str = field(default="gaussian", metadata=one_of(CONDITIONAL_SAMPLERS))
    rows: int = field(default=100, metadata=at_least(1))
    background_size: int = field(default=16, metadata=at_least(1))
    k_fraction: float = field(default=0.25, metadata=FRACTION)
    local: bool = False
    n_subsets: int = field(default=32, metadata=at_least(2))
    subset_fraction: float = field(default=0.25, metadata=FRACTION)
    max_sensitivity: bool = False
    sensitivity_rows: int = field(default=8, metadata=at_least(1))
    sensitivity_draws: int = field(default=4, metadata=at_least(1))
    radius: float = field(default=0.1, metadata=at_least(0, "a number", strict=True))
    randomization: bool = False
    roar: bool = False


OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
# "stack": varbench.models.stacked (a lone model is a stack of one; a member's result is bitwise the same in any
# stack, so pre-trained and lone cells agree); "single": the one-network loop (varbench.models.loop), the
# engine of every model trained before `engine` existed (its value keeps their model hashes).
ENGINES = ("stack", "single")


@dataclass
class TrainerConfig(Section):
    """How a model is fitted (`varbench.models.trainer.train`). Validated on construction, before
    any training. Not frozen: OmegaConf makes a frozen dataclass a read-only node, which Hydra could
not compose conf/trainer/ into. These defaults are the shipped ones; conf/trainer/default.yaml repeats them for
    the command line (a test checks they agree)."""

    KEY: ClassVar[str] = "trainer"
    epochs: int = field(default=200, metadata=at_least(0, strict=True))
    batch_size: int = field(default=64, metadata=at_least(0, strict=True))
    lr: float = field(default=3e-3, metadata=at_least(0, "a number", strict=True))
    optimizer: str = field(default="adam", metadata=one_of(OPTIMIZERS))
    patience: int = field(default=20, metadata=at_least(0))
    val_fraction: float = field(default=0.2, metadata=rule(lambda v: 0 <= v < 1, "a number in [0, 1)"))
    engine: str = field(default="stack", metadata=one_of(ENGINES))  # networks a stack cannot train: "single"
    progress_every: int = 25  # log every N epochs; 0 = silent (display only: not part of the model's hash)


ON_LOW_QUALITY = ("run", "skip")
OUTPUTS = ("auto", "prob", "logit")


@dataclass
class VarbenchConfig:
    """The primary config. Group keys dataset, model and methods are `_target_` nodes checked
    against their targets' signatures (`check_params`); they are `Any` here. Defaults are what
    an absent key means (conf/config.yaml sets the shipped values; a test checks which differ)."""

    dataset: Any = None
    model: Any = None
    trainer: Optional[TrainerConfig] = field(default_factory=TrainerConfig)  # null = defaults
    methods: Dict[str, Any] = field(default_factory=dict, metadata=rule(
        bool, "at least one method (methods=SUITE or methods=[a,b])"))
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = field(default=0, metadata=at_least(0))
    study: str = field(default="default", metadata=rule(bool, "a non-empty string"))
    scoring: Optional[ScoringConfig] = field(default_factory=ScoringConfig)  # null = defaults
    quality_threshold: Optional[float] = None
    on_low_quality: str = field(default="run", metadata=one_of(ON_LOW_QUALITY))
    threads: Any = field(default="auto", metadata=rule(
        lambda v: v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1),
        "'auto', an integer >= 1"))
    resume: bool = True
    output: str = field(default="auto", metadata=one_of(OUTPUTS))
    cache: Optional[CacheConfig] = None  # null = no model cache
    model_truth: Optional[ModelTruthConfig] = None  # null = not computed
    evaluation: Optional[EvaluationConfig] = None  # null = no truth-free metric


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore as `varbench_schema` (opt-in: see the module
    docstring for why conf/config.yaml does not list it)."""
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


def check_field(key: str, value: Any, tp: Any, f: dataclasses.Field) -> None:
    """The one check of a section's field: `value` fits the type hint `tp`, then the field's rule
    (`rule` metadata; not applied to null). Raises ConfigError naming `key` and `value`.

    Examples
    --------
    >>> f = dataclasses.fields(ScoringConfig)[0]
    >>> check_field("scoring.k", 0, Optional[int], f)
    Traceback (most recent call last):
    ...
    varbench.schema.ConfigError: scoring.k=0 is invalid: expected an integer >= 1 or null
    """
    expected = f.metadata.get("expected")
    if expected is not None and matches(None, tp) and "null" not in expected:
        expected += " or null"
    check_value(key, value, tp, expected)
    check = f.metadata.get("check")
    if check is not None and value is not None and not check(value):
        raise invalid(key, value, expected or describe(tp))


def check_fields(obj: Any, prefix: str = "") -> None:
    """Check every field of a section instance (nested section instances check themselves)."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not dataclasses.is_dataclass(value):
            check_field(f"{prefix}{f.name}", value, hints.get(f.name, Any), f)


def validate_section(cls: Any, data: Any, prefix: str = "") -> Any:
    """Check a mapping against section `cls` (unknown keys, then each field with `check_field`,
    nested sections recursively) and return an instance. Numbers given for string fields are
    taken as strings (`study=2024`); lists given for tuple fields become tuples.

    Examples
    --------
    >>> validate_section(TrainerConfig, {"epochs": 5}, "trainer.").epochs
    5
    >>> validate_section(TrainerConfig, {"epochs": 0}, "trainer.")
    Traceback (most recent call last):
    ...
    varbench.schema.ConfigError: trainer.epochs=0 is invalid: expected an integer > 0
    """
    if not isinstance(data, cabc.Mapping):
        names = sorted(f.name for f in dataclasses.fields(cls))
        raise invalid(prefix.rstrip(".") or "config", data, f"a mapping of {names}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = unknown[0]
        raise ConfigError(one_line(f"{prefix}{key}={data[key]!r} is not a known setting; valid: {sorted(fields)} "
                                   f"(unknown keys {unknown})"))
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
        check_field(key, value, tp, f)
        if typing.get_origin(tp) is tuple and isinstance(value, list):
            value = tuple(value)
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
