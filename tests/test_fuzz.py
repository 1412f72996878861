"""Property-based fuzzing of validation (no training): random valid and invalid command-line
overrides through Hydra + resolve_cell, and random dataset arrays through Dataset. Every invalid
input must be rejected with a one-line ConfigError/ValueError naming the faulty key or field;
no valid input may raise at all. The figures (tried / rejected cleanly) are printed at the end."""
import math

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CONF_DIR
from varbench import Dataset, GroundTruth
from varbench.config import ConfigError, resolve_cell

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BASE = ["dataset=linear", "methods=[permutation,lime,random]", "dataset.n_samples=120", "trainer.progress_every=0",
        "cache.dir=null", "tracking.uri=sqlite:///unused.db"]
FIGURES = {"invalid configs": [0, 0], "valid configs": [0, 0], "invalid datasets": [0, 0], "valid datasets": [0, 0]}


def fmt(v) -> str:
    """A Python value as a Hydra override value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return f"'{v}'"
    return "[" + ",".join(fmt(x) for x in v) + "]"


def _compose(overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=[*BASE, *overrides])


# --- strategies ------------------------------------------------------------------------------------

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
floats = st.floats(allow_nan=False, allow_infinity=False, width=32)


def between(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


# key -> strategy of valid values (linear dataset with its default 8 features, 4 relevant)
VALID = {
    "seed": st.integers(0, 10**6),
    "study": words,
    "trainer.epochs": st.integers(1, 500),
    "trainer.batch_size": st.integers(1, 512),
    "trainer.lr": between(1e-6, 10),
    "trainer.optimizer": st.sampled_from(["adam", "sgd", "rmsprop", "adamw"]),
    "trainer.patience": st.integers(0, 50),
    "trainer.val_fraction": between(0, 0.9),
    "output": st.sampled_from(["auto", "prob", "logit"]),
    "dataset.n_samples": st.integers(40, 200),
    "dataset.n_relevant": st.integers(1, 8),
    "dataset.noise": between(0, 5),
    "dataset.test_fraction": between(0.1, 0.5),
    "dataset.task": st.sampled_from(["regression", "classification"]),
    "scoring.k": st.none() | st.integers(1, 8),
    "quality_threshold": st.none() | between(-1, 1),
    "on_low_quality": st.sampled_from(["run", "skip"]),
    "resume": st.booleans(),
    "threads": st.sampled_from(["auto", None]) | st.integers(1, 8),
    "cache.dir": st.none() | words,
    "model_truth.enabled": st.booleans(),
    "model_truth.rows": st.none() | st.integers(1, 500),
    "methods.permutation.n_repeats": st.integers(1, 20),
    "methods.permutation.n_rows": st.none() | st.integers(1, 5000),
    "methods.lime.n_samples": st.integers(1, 5000),
    "methods.lime.kernel_width": st.none() | between(0.01, 10),
    "methods.lime.sample_around_instance": st.booleans(),
}

not_int = words | st.booleans() | between(-100, 100).filter(lambda x: x != int(x)) | st.lists(st.integers(), max_size=2)
not_number = words | st.booleans() | st.sampled_from([math.nan, math.inf, -math.inf]) | st.lists(floats, max_size=2)
not_bool = words.filter(lambda w: w not in ("true", "false")) | st.integers() | st.lists(st.booleans(), max_size=2)

# key -> strategy of invalid values (wrong type or out of range)
INVALID = {
    "seed": not_int | st.integers(max_value=-1),
    "study": st.just("") | st.lists(st.integers(), max_size=2) | st.booleans(),
    "trainer.epochs": not_int | st.integers(max_value=0),
    "trainer.batch_size": not_int | st.integers(max_value=0),
    "trainer.lr": not_number | between(-10, 0),
    "trainer.optimizer": words.filter(lambda w: w not in ("adam", "sgd", "rmsprop", "adamw")),
    "trainer.patience": not_int | st.integers(max_value=-1),
    "trainer.val_fraction": not_number | between(1, 100) | between(-100, -1e-6),
    "dataset.n_samples": not_int | st.integers(max_value=19),
    "dataset.n_features": not_int | st.integers(max_value=0),
    "dataset.n_relevant": not_int | st.integers(max_value=0) | st.integers(9, 1000),
    "dataset.noise": not_number | between(-100, -1e-6),
    "dataset.test_fraction": not_number | between(1, 10) | between(-10, 0),
    "dataset.task": words.filter(lambda w: w not in ("regression", "classification")),
    "scoring.k": not_int | st.integers(max_value=0) | st.integers(9, 1000),
    "quality_threshold": not_number,
    "on_low_quality": words.filter(lambda w: w not in ("run", "skip")),
    "resume": not_bool,
    "threads": words.filter(lambda w: w != "auto") | st.integers(max_value=0) | st.booleans(),
    "model_truth.enabled": not_bool,
    "model_truth.max_features": not_int | st.integers(max_value=0),
    "methods.permutation.n_repeats": not_int | st.integers(max_value=0),
    "methods.permutation.n_rows": not_int.filter(lambda v: v is not None) | st.integers(max_value=0),
    "methods.lime.n_samples": not_int | st.integers(max_value=0),
    "methods.lime.kernel_width": not_number,
    "methods.lime.sample_around_instance": not_bool,
}
# sections where an unknown key must be refused, and what the refusal says
UNKNOWN_IN = {"": "is not a known setting", "trainer.": "is not a known setting", "scoring.": "is not a known setting",
              "cache.": "is not a known setting", "model_truth.": "is not a known setting",
              "dataset.": "is not a parameter of", "model.": "is not a parameter of",
              "methods.permutation.": "is not a parameter of"}


@st.composite
def valid_overrides(draw, exclude=()):
    keys = draw(st.lists(st.sampled_from(sorted(set(VALID) - set(exclude))), unique=True, max_size=6))
    return [f"{k}={fmt(draw(VALID[k]))}" for k in keys]


@st.composite
def invalid_case(draw):
    """(overrides, key the error must name): one invalid setting among valid ones."""
    if draw(st.integers(0, 5)) == 0:  # an unknown key in some section
        section = draw(st.sampled_from(sorted(UNKNOWN_IN)))
        name = draw(words.map(lambda w: "zz" + w))
        bad, key = f"+{section}{name}={fmt(draw(st.integers()))}", f"{section}{name}="
    else:
        key_ = draw(st.sampled_from(sorted(INVALID)))
        bad, key = f"{key_}={fmt(draw(INVALID[key_]))}", f"{key_}="
    # valid companions that cannot make the bad value valid (n_relevant and k depend on n_features)
    others = draw(valid_overrides(exclude=(key.rstrip("="), "dataset.n_relevant", "scoring.k")))
    return [*others, bad], key


# --- configs --------------------------------------------------------------------------------------

@settings(max_examples=100, **SETTINGS)
@given(invalid_case())
def test_invalid_configs_are_rejected_naming_the_key(case):
    overrides, key = case
    FIGURES["invalid configs"][0] += 1
    with pytest.raises(ConfigError) as info:
        resolve_cell(_compose(overrides), check_model=False)
    msg = str(info.value)
    assert key in msg and "\n" not in msg, (overrides, msg)
    FIGURES["invalid configs"][1] += 1


@settings(max_examples=30, **SETTINGS)
@given(valid_overrides())
def test_valid_configs_never_crash(overrides):
    FIGURES["valid configs"][0] += 1
    spec = resolve_cell(_compose(overrides), check_model=False)
    assert set(spec.methods) == {"permutation", "lime", "random"} and spec.dataset.n_features == 8
    FIGURES["valid configs"][1] += 1


@settings(max_examples=15, **SETTINGS)
@given(hidden=st.lists(st.integers(1, 32), max_size=3), dropout=between(0, 0.9),
       activation=st.sampled_from(["relu", "tanh", "sigmoid", "gelu", "linear"]), l2=between(0, 1),
       bad=st.sampled_from([None, "hidden", "dropout", "activation", "l2"]))
def test_model_settings_valid_build_invalid_refused(hidden, dropout, activation, l2, bad):
    """Model settings go through the dry build (TensorFlow): valid ones build, invalid ones
    are refused before training, naming the model."""
    values = {"hidden": hidden, "dropout": dropout, "activation": activation, "l2": l2}
    if bad:
        values[bad] = {"hidden": [0], "dropout": 1.5, "activation": "nope", "l2": "big"}[bad]
    overrides = [f"model.{k}={fmt(v)}" for k, v in values.items()]
    kind = "invalid configs" if bad else "valid configs"
    FIGURES[kind][0] += 1
    if bad is None:
        resolve_cell(_compose(overrides), check_model=True)
    else:
        with pytest.raises(ConfigError) as info:
            resolve_cell(_compose(overrides), check_model=True)
        assert str(info.value).startswith("model") and "\n" not in str(info.value)
    FIGURES[kind][1] += 1


# --- dataset arrays ---------------------------------------------------------------------------------

FAULTS = ["nan_X_train", "inf_X_test", "nan_y_train", "inf_y_test", "X_train_1d", "X_test_width", "y_train_length",
          "y_test_2d", "constant_y", "empty_X_train", "importance_length", "relevant_length", "negative_importance",
          "no_relevant", "names_length", "names_repeat", "labels", "text_X"]
FIELD = {"nan_X_train": "X_train", "inf_X_test": "X_test", "nan_y_train": "y_train", "inf_y_test": "y_test",
         "X_train_1d": "X_train", "X_test_width": "X_test", "y_train_length": "y_train", "y_test_2d": "y_test",
         "constant_y": "y_train", "empty_X_train": "X_train", "importance_length": "truth.importance",
         "relevant_length": "truth.relevant", "negative_importance": "truth.importance",
         "no_relevant": "truth.relevant", "names_length": "feature_names", "names_repeat": "feature_names",
         "labels": "y_", "text_X": "X_train"}


def build(seed: int, n: int, d: int, faults: set[str]) -> dict:
    """Arrays for Dataset(**kw) with the chosen faults injected."""
    rng = np.random.default_rng(seed)
    n_test = max(2, n // 3)
    X, Xt = rng.normal(size=(n, d)), rng.normal(size=(n_test, d))
    y, yt = X[:, 0] + rng.normal(size=n), Xt[:, 0].copy()
    imp = np.r_[1.0, np.zeros(d - 1)]
    rel = imp > 0
    names = [f"f{j}" for j in range(d)]
    task = "regression"
    if "nan_X_train" in faults:
        X[rng.integers(n), rng.integers(d)] = np.nan
    if "inf_X_test" in faults:
        Xt[rng.integers(n_test), rng.integers(d)] = -np.inf
    if "nan_y_train" in faults:
        y[rng.integers(n)] = np.nan
    if "inf_y_test" in faults:
        yt[rng.integers(n_test)] = np.inf
    if "constant_y" in faults:
        y = np.full(n, float(rng.integers(-3, 3)))
    if "labels" in faults:
        task = "classification"
        y, yt = (y > np.median(y)).astype(float), (yt > 0).astype(float) * 2  # y_test labels are 0/2
    if "y_train_length" in faults:
        y = y[: n - 1]
    if "y_test_2d" in faults:
        yt = np.c_[yt, yt]
    if "X_test_width" in faults:
        Xt = np.c_[Xt, Xt[:, :1]]
    if "importance_length" in faults:
        imp = np.r_[imp, 0.0]
    if "relevant_length" in faults:
        rel = rel[:-1] if d > 1 else np.r_[rel, False]
    if "negative_importance" in faults:
        imp = imp.copy()
        imp[-1] = -0.5
    if "no_relevant" in faults:
        rel = np.zeros_like(rel)
    if "names_length" in faults:
        names = names + ["extra"]
    if "names_repeat" in faults and d > 1:
        names = ["same"] * d
    if "text_X" in faults:
        X = X.astype(str)
    if "X_train_1d" in faults:
        X = X[:, 0]
    if "empty_X_train" in faults:
        X, y = X[:0], y[:0]
    return dict(X_train=X, y_train=y, X_test=Xt, y_test=yt, task=task, feature_names=names,
                truth=GroundTruth(importance=imp, relevant=rel, definition="fuzz"))


@settings(max_examples=250, **SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(3, 40), d=st.integers(1, 5),
       faults=st.sets(st.sampled_from(FAULTS), max_size=3))
def test_dataset_arrays_are_accepted_or_rejected_naming_the_field(seed, n, d, faults):
    if d == 1:
        faults = faults - {"names_repeat"}  # one name cannot repeat
    kind = "invalid datasets" if faults else "valid datasets"
    FIGURES[kind][0] += 1
    kw = build(seed, n, d, faults)
    if not faults:
        ds = Dataset(**kw)
        assert ds.X_train.shape == (n, d) and ds.feature_names == [f"f{j}" for j in range(d)]
    else:
        with pytest.raises(ValueError) as info:
            Dataset(**kw)
        msg = str(info.value)
        named = [FIELD[f] for f in faults if FIELD[f] in msg]
        assert msg.startswith("dataset ") and named and "\n" not in msg, (faults, msg)
    FIGURES[kind][1] += 1


@pytest.fixture(scope="module", autouse=True)
def print_figures():
    """The fuzzing figures, for the record, once the module's tests have run (with -s). Each
    property test asserts its own cases; this only reports them, so no test depends on order."""
    yield
    lines = [f"{kind}: {tried} tried, {ok} " + ("rejected cleanly" if kind.startswith("invalid") else "accepted")
             for kind, (tried, ok) in FIGURES.items() if tried]
    if lines:
        print("\nfuzz figures: " + "; ".join(lines))
