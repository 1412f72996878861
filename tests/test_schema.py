"""One declared schema, one validator: every config section (the trainer's and a method's `_meta_`
included) is a `varbench.schema.Section`, checked the same way whether it comes from a config
mapping or is built in Python, and the shipped YAML restates the declared defaults exactly."""
import dataclasses
import doctest

import pytest
import yaml

import varbench.schema as schema
from varbench.bench.harness import Sizes
from varbench.paths import conf_dir
from varbench.registry import MethodMeta
from varbench.schema import (CacheConfig, ConfigError, EvaluationConfig, ModelTruthConfig, ScoringConfig, Section,
                             TrackingConfig, TrainerConfig, VarbenchConfig, validate_section)

SECTIONS = (ScoringConfig, TrackingConfig, CacheConfig, ModelTruthConfig, EvaluationConfig, TrainerConfig, MethodMeta)

# (section, field, a value its rule refuses, the phrase the refusal gives)
BAD = [
    (ScoringConfig, "k", 0, "an integer >= 1 or null"),
    (TrackingConfig, "uri", "", "a non-empty tracking URI string"),
    (CacheConfig, "dir", "", "a folder path or null"),
    (ModelTruthConfig, "sobol_samples", 1, "an integer >= 2"),
    (EvaluationConfig, "radius", 0.0, "a number > 0"),
    (EvaluationConfig, "k_fraction", 1.5, "a number in (0, 1]"),
    (TrainerConfig, "epochs", 0, "an integer > 0"),
    (TrainerConfig, "epochs", True, "an integer > 0"),
    (TrainerConfig, "optimizer", "lbfgs", "one of ('adam', 'sgd', 'rmsprop', 'adamw')"),
    (TrainerConfig, "val_fraction", 1.0, "a number in [0, 1)"),
    (MethodMeta, "returns", "pairs", "one of ('importance', 'interactions', 'selection')"),
    (MethodMeta, "needs", ("gpu",), "a list of names from ('trainer', 'gradients', 'dense_weights')"),
]


@pytest.mark.parametrize("cls, name, value, expected", BAD, ids=[f"{c.__name__}.{n}={v!r}" for c, n, v, _ in BAD])
def test_a_section_from_python_and_from_a_config_meet_the_same_check(cls, name, value, expected):
    with pytest.raises(ConfigError) as built:
        cls(**{name: value})
    with pytest.raises(ConfigError) as read:
        validate_section(cls, {name: value}, "x.")
    assert str(built.value) == f"{cls.KEY}.{name}={value!r} is invalid: expected {expected}"
    assert str(read.value) == f"x.{name}={value!r} is invalid: expected {expected}"


def test_sections_declare_no_checks_of_their_own():
    """No section regrows a hand-written checker: they inherit the one `__post_init__`."""
    for cls in SECTIONS:
        assert issubclass(cls, Section) and dataclasses.is_dataclass(cls), cls
        assert cls.__post_init__ is Section.__post_init__, cls
        assert cls.KEY, cls
        cls()  # the declared defaults pass their own rules
    assert Sizes.__post_init__ is Section.__post_init__  # the benchmark's sizes too (keyless: no prefix)


def test_the_top_level_declares_every_section():
    hints = {f.name: f.type for f in dataclasses.fields(VarbenchConfig)}
    for key, cls in (("trainer", TrainerConfig), ("tracking", TrackingConfig), ("scoring", ScoringConfig),
                     ("cache", CacheConfig), ("model_truth", ModelTruthConfig), ("evaluation", EvaluationConfig)):
        assert cls.__name__ in str(hints[key]) and cls.KEY == key
    top = validate_section(VarbenchConfig, {"trainer": {"epochs": 3}, "methods": {"m": {"_target_": "x.y"}}})
    assert top.trainer == TrainerConfig(epochs=3)
    with pytest.raises(ConfigError, match=r"^trainer\.epochs=-1 is invalid: expected an integer > 0$"):
        validate_section(VarbenchConfig, {"trainer": {"epochs": -1}, "methods": {"m": {}}})


def test_meta_lists_become_tuples_and_unknown_keys_are_named():
    meta = validate_section(MethodMeta, {"needs": ["trainer"], "suites": ["mine"]}, "methods.m._meta_.")
    assert meta == MethodMeta(needs=("trainer",), suites=("mine",))
    with pytest.raises(ConfigError, match=r"^methods\.m\._meta_\.colour=1 is not a known setting; valid: \[.*\] "
                                          r"\(unknown keys \['colour'\]\)$"):
        validate_section(MethodMeta, {"colour": 1}, "methods.m._meta_.")


# the one shipped value that differs on purpose: conf/config.yaml flags models below 0.5, while
# an absent key means no threshold (None)
SHIPPED_DIFFERS = {"quality_threshold": 0.5}


def _yaml(*parts: str) -> dict:
    return yaml.safe_load(conf_dir().joinpath(*parts).read_text())


def test_shipped_yaml_restates_the_declared_defaults():
    assert _yaml("trainer", "default.yaml") == dataclasses.asdict(TrainerConfig())
    assert _yaml("evaluation", "default.yaml") == dataclasses.asdict(EvaluationConfig())
    assert _yaml("tracking", "local.yaml") == dataclasses.asdict(TrackingConfig())
    top = {k: v for k, v in _yaml("config.yaml").items() if k not in ("defaults", "hydra")}
    for key, cls in (("scoring", ScoringConfig), ("model_truth", ModelTruthConfig), ("cache", CacheConfig)):
        assert top.pop(key) == dataclasses.asdict(cls()), key
    declared = {f.name: f.default for f in dataclasses.fields(VarbenchConfig) if f.name in top}
    assert set(declared) == set(top)  # every key the YAML sets is declared
    assert {k: v for k, v in top.items() if declared[k] != v} == SHIPPED_DIFFERS


def test_docstring_examples():
    assert doctest.testmod(schema).failed == 0
