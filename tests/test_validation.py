"""Robustness: configs validated before any training, user datasets rejected clearly, method and
model faults contained, and no config string or cached file ever executed as code."""
import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException

from conftest import CONF_DIR, TINY
from varbench import Dataset, GroundTruth
from varbench.config import BUILD_ARGS, METHOD_ARGS, ConfigError, load_target, resolve_cell
from varbench.schema import VarbenchConfig, check_params, register_configs

TESTS = Path(__file__).resolve().parent
NO_MODEL_TRUTH = ["model_truth.enabled=false"]


def _compose(overrides, tmp_path=None):
    uri = f"sqlite:///{tmp_path}/mlflow.db" if tmp_path else "sqlite:///unused.db"
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=[*TINY, f"tracking.uri={uri}", *overrides])


def _rejects(overrides, check_model=False):
    """The one-line ConfigError message resolve_cell raises for these overrides."""
    with pytest.raises(ConfigError) as info:
        resolve_cell(_compose(overrides), check_model=check_model)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


# --- targets used through the config path ----------------------------------------------------------

def bad_dataset(fault: str = "none", seed: int = 0, **ignored) -> Dataset:
    """A user's dataset generator with one chosen fault (ignores linear's other settings)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=80)
    imp = np.array([1.0, 0.0, 0.0])
    kw = dict(X_train=X[:60], y_train=y[:60], X_test=X[60:], y_test=y[60:], task="regression")
    if fault == "nan_x":
        kw["X_train"] = X[:60].copy()
        kw["X_train"][3, 1] = np.nan
    elif fault == "inf_y":
        kw["y_test"] = y[60:].copy()
        kw["y_test"][0] = np.inf
    elif fault == "constant":
        kw["y_train"] = np.full(60, 2.5)
    elif fault == "truth_length":
        imp = np.array([1.0, 0.0])
    elif fault == "wrong_d":
        kw["X_test"] = X[60:, :2]
    elif fault == "list":
        return [X, y]  # not a Dataset
    return Dataset(**kw, truth=GroundTruth(importance=imp, relevant=imp > 0, definition="test"))


def two_output_builder(n_features: int, task: str, units: int = 2):
    """A user's builder whose network has `units` outputs (varbench needs exactly one)."""
    import keras

    inp = keras.Input(shape=(n_features,))
    return keras.Model(inp, keras.layers.Dense(units)(inp))


def no_rng_method(model, data):
    return np.ones(data.n_features)


def needs_alpha(model, data, rng, alpha: float):
    return np.full(data.n_features, alpha)


def echo(model, data, rng, payload: str = ""):
    return np.ones(data.n_features)


def returns_inf(model, data, rng):
    out = np.ones(data.n_features)
    out[0] = np.inf
    return out


def returns_none(model, data, rng):
    return None


def returns_text(model, data, rng):
    return "important"


def returns_matrix(model, data, rng):
    return np.ones((data.n_features, 2))


def wrong_local(model, data, rng):
    from varbench.methods.base import Attribution

    return Attribution(local=np.ones((5, data.n_features + 1)))


def raises_value_error(model, data, rng):
    raise ValueError("n_rows=3 is invalid: a method's own late check")


# --- unknown names: Hydra lists the valid choices ----------------------------------------------------

@pytest.mark.parametrize("override, group, some_valid", [
    ("dataset=nope", "dataset", "friedman1"),
    ("model=nope", "model", "mlp_wide"),
    ("methods=nope", "methods", "permutation"),
    ("trainer=nope", "trainer", "default"),
    ("tracking=nope", "tracking", "local"),
])
def test_unknown_names_list_the_valid_choices(override, group, some_valid):
    with pytest.raises(MissingConfigException) as info:
        _compose([override])
    msg = str(info.value)
    assert f"Available options in '{group}'" in msg and some_valid in msg and "nope" in msg


def test_unknown_method_in_a_list_is_named():
    """Hydra names the missing file but does not list the choices for a list override."""
    with pytest.raises(MissingConfigException, match="Could not load 'methods/nope'"):
        _compose(["methods=[permutation,nope]"])


# --- invalid values: one line naming the key and the value -----------------------------------------

INVALID = [
    # the list
    ("dataset.n_relevant=9", "dataset.n_relevant=9 is invalid"),
    ("dataset.noise=-0.5", "dataset.noise=-0.5 is invalid"),
    ("dataset=correlated dataset.rho=1.0", "dataset.rho=1.0 is invalid"),
    ("dataset=correlated dataset.rho=-1", "dataset.rho=-1 is invalid"),
    ("scoring.k=9", "scoring.k=9 is invalid"),
    ("trainer.epochs=0", "trainer.epochs=0 is invalid"),
    ("trainer.epochs=-3", "trainer.epochs=-3 is invalid"),
    ("methods=[]", "methods={} is invalid: expected at least one method"),
    # wrong types (true is not an integer; NaN/inf are not numbers here)
    ("seed=abc", "seed='abc' is invalid"),
    ("seed=true", "seed=True is invalid"),
    ("trainer.epochs=true", "trainer.epochs=True is invalid"),
    ("trainer.lr=abc", "trainer.lr='abc' is invalid"),
    ("trainer.lr=nan", "trainer.lr=nan is invalid"),
    ("trainer.optimizer=adamx", "trainer.optimizer='adamx' is invalid"),
    ("dataset.n_samples=1.5", "dataset.n_samples=1.5 is invalid"),
    ("dataset.n_relevant=true", "dataset.n_relevant=True is invalid"),
    ("dataset.noise=inf", "dataset.noise=inf is invalid"),
    ("dataset.test_fraction=half", "dataset.test_fraction='half' is invalid"),
    ("scoring.k=0", "scoring.k=0 is invalid"),
    ("scoring.k=[1]", "scoring.k=[1] is invalid"),
    ("quality_threshold=high", "quality_threshold='high' is invalid"),
    ("quality_threshold=nan", "quality_threshold=nan is invalid"),
    ("on_low_quality=maybe", "on_low_quality='maybe' is invalid"),
    ("resume=1", "resume=1 is invalid"),
    ("threads=0", "threads=0 is invalid"),
    ("study=''", "study='' is invalid"),
    ("tracking.experiment=''", "tracking.experiment='' is invalid"),
    ("model_truth.rows=0", "model_truth.rows=0 is invalid"),
    ("model.hidden=abc", "model.hidden='abc' is invalid: expected a list of integers"),
    ("model.hidden=[64,wide]", "model.hidden=[64, 'wide'] is invalid"),
    ("model.dropout=[0.1]", "model.dropout=[0.1] is invalid"),
    # method parameters, checked against the method's signature before training
    ("methods.permutation.n_rows=0", "methods.permutation.n_rows=0 is invalid: expected an integer >= 1 or null"),
    ("methods.permutation.n_repeats=many", "methods.permutation.n_repeats='many' is invalid"),
    ("methods.lime.n_samples=-5", "methods.lime.n_samples=-5 is invalid"),
    ("methods.lime.kernel_width=wide", "methods.lime.kernel_width='wide' is invalid"),
    ("methods.lime.sample_around_instance=1", "methods.lime.sample_around_instance=1 is invalid"),
    # unknown keys name the valid ones
    ("+quality_treshold=0.9", "quality_treshold=0.9 is not a known setting"),
    ("+trainer.epoch=5", "trainer.epoch=5 is not a known setting"),
    ("+scoring.top=3", "scoring.top=3 is not a known setting; valid: ['k']"),
    ("+cache.path=x", "cache.path='x' is not a known setting"),
    ("+dataset.n_feature=3", "dataset.n_feature=3 is not a parameter of linear"),
    ("+model.width=3", "model.width=3 is not a parameter of build_mlp"),
    ("+methods.permutation.repeats=3", "methods.permutation.repeats=3 is not a parameter of permutation; "
                                       "valid: ['n_repeats', 'n_rows']"),
    # targets
    ("+methods.x._target_=nowhere.fn", "methods.x._target_='nowhere.fn' could not be instantiated"),
    ("+methods.x._target_=test_validation.no_rng_method", "cannot be called as no_rng_method(model, data, rng"),
    ("+methods.x._target_=test_validation.needs_alpha", "methods.x.alpha is missing"),
    ("+methods.x._target_=test_validation.echo +methods.x.rng=1", "methods.x.rng=1 is invalid: 'rng' is supplied"),
    ("+methods.x=5", "methods.x=5 is invalid: expected a method config with a _target_"),
    ("+methods.x._target_=builtins.eval", "methods.x._target_='builtins.eval' could not be instantiated"),
]


@pytest.mark.parametrize("overrides, needle", INVALID, ids=[o for o, _ in INVALID])
def test_invalid_values_are_rejected_in_one_line_naming_key_and_value(overrides, needle):
    assert needle in _rejects(overrides.split())


# Dataset generator arguments are checked by the generators themselves, reached through the config.
GENERATOR_ARGS = [
    ("dataset=linear dataset.coefficients=[1,2]", "dataset.coefficients=[1, 2] is invalid"),
    ("dataset=linear dataset.n_samples=10", "dataset.n_samples=10 is invalid"),
    ("dataset=linear dataset.task=ranking", "dataset.task='ranking' is invalid"),
    ("dataset=linear dataset.test_fraction=1.0", "dataset.test_fraction=1.0 is invalid"),
    ("dataset=friedman1 dataset.n_features=4", "dataset.n_features=4 is invalid"),
    ("dataset=friedman2 dataset.unit_inputs=maybe", "dataset.unit_inputs='maybe' is invalid"),
    ("dataset=correlated dataset.structure=ring", "dataset.structure='ring' is invalid"),
    ("dataset=correlated_block dataset.block_size=1", "dataset.block_size=1 is invalid"),
    ("dataset=redundant dataset.copy_noise=0", "dataset.copy_noise=0 is invalid"),
    ("dataset=redundant dataset.n_copies=0", "dataset.n_copies=0 is invalid"),
    ("dataset=additive dataset.kinds=[sin,cube]", "dataset.kinds=['sin', 'cube'] is invalid"),
    ("dataset=interaction dataset.kind=sum", "dataset.kind='sum' is invalid"),
    ("dataset=interaction dataset.strengths=[1,-1]", "dataset.strengths=[1, -1] is invalid"),
    ("dataset=xor dataset.n_features=1", "dataset.n_features=1 is invalid"),
    ("dataset=ishigami dataset.n_features=2", "dataset.n_features=2 is invalid"),
    ("dataset=sobol_g dataset.a=[1,-2]", "dataset.a=[1, -2] is invalid"),
    ("dataset=mixed_scales dataset.df=2", "dataset.df=2 is invalid"),
    ("dataset=heavy_tailed dataset.distribution=cauchy", "dataset.distribution='cauchy' is invalid"),
    ("dataset=mixed_scales dataset.scales=[1,0,1,1,1,1,1,1]", "dataset.scales=[1, 0, 1, 1, 1, 1, 1, 1] is invalid"),
    ("dataset=semisynthetic dataset.source=titanic", "dataset.source='titanic' is invalid"),
    ("dataset=semisynthetic dataset.n_samples=null dataset.n_relevant=99", "dataset.n_relevant=99 is invalid"),
]


@pytest.mark.parametrize("overrides, needle", GENERATOR_ARGS, ids=[o for o, _ in GENERATOR_ARGS])
def test_generator_arguments_are_validated_through_the_config(overrides, needle):
    assert needle in _rejects(overrides.split())


def test_every_shipped_target_config_passes_the_signature_checks():
    """The corpus the schema must never refuse: every dataset, model and method config, composed
    by Hydra (targets imported, parameters checked against their signatures; generating the data
    is left to the generators' own tests)."""
    from omegaconf import OmegaConf

    supplied = {"dataset": (), "model": BUILD_ARGS, "method": METHOD_ARGS}
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        for group, args in supplied.items():
            names = sorted(p.stem for p in Path(CONF_DIR, group).glob("*.yaml"))
            assert names
            for name in names:
                node = OmegaConf.to_container(compose(f"{group}/{name}"), resolve=True)[group]
                assert callable(load_target(node, f"{group}:{name}", args, counts=group == "method"))
    methods = sorted(p.stem for p in Path(CONF_DIR, "method").glob("*.yaml"))
    spec = resolve_cell(_compose([f"methods=[{','.join(methods)}]"]), check_model=False)
    assert set(spec.methods) == set(methods)


def test_validation_happens_before_training_and_tracking(tmp_path, monkeypatch):
    import varbench.models.trainer as trainer
    from varbench.runner import run_cell

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the config was validated")

    monkeypatch.setattr(trainer, "train", no_training)
    for bad in (["dataset.n_relevant=99"], ["methods.permutation.n_rows=0"], ["+trainer.epoch=5"],
                ["model.activation=nope"]):
        with pytest.raises(ConfigError):
            run_cell(_compose(bad, tmp_path))
    assert not (tmp_path / "mlflow.db").exists()  # not even the tracking store was touched


def test_model_is_built_once_before_training():
    for overrides, needle in [
        (["model.hidden=[0]"], "model could not be built for 8 features"),
        (["model.dropout=2.0"], "rate"),
        (["model.activation=nope"], "nope"),
        (["model._target_=test_validation.two_output_builder", "~model.hidden", "~model.activation",
          "~model.dropout", "~model.l2"], "model must output one unit per row, shape (n, 1); got (2, 2)"),
    ]:
        assert needle in _rejects(overrides, check_model=True)
    ok = resolve_cell(_compose(["model._target_=test_validation.two_output_builder", "+model.units=1",
                                "~model.hidden", "~model.activation", "~model.dropout", "~model.l2"]))
    assert ok.build.keywords == {"units": 1}


def test_schema_is_a_hydra_structured_config():
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf
    from omegaconf.errors import ValidationError

    register_configs()
    assert "varbench_schema.yaml" in ConfigStore.instance().list("/")
    schema = OmegaConf.structured(VarbenchConfig)
    merged = OmegaConf.merge(schema, _compose([]))  # the shipped config fits the schema
    assert merged.seed == 0 and merged.tracking.experiment == "varbench"
    with pytest.raises(ValidationError):
        OmegaConf.merge(schema, _compose(["seed=abc"]))


def test_signature_checker_on_plain_functions():
    def f(model, data, rng, n_rows: int | None = 5, names: list[str] | None = None, **extra):
        return None

    check_params(f, {"n_rows": None, "names": ["a"], "anything": 1}, "methods.f", ("model", "data", "rng"), True)
    with pytest.raises(ConfigError, match=r"methods\.f\.names=\['a', 1\] is invalid"):
        check_params(f, {"names": ["a", 1]}, "methods.f", ("model", "data", "rng"))
    with pytest.raises(ConfigError, match=r"methods\.f\.n_rows=-1 is invalid"):
        check_params(f, {"n_rows": -1}, "methods.f", ("model", "data", "rng"), counts=True)


# --- a user's dataset ---------------------------------------------------------------------------------

def _arrays(seed=0, n=40, d=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return dict(X_train=X[:30], y_train=X[:30, 0], X_test=X[30:], y_test=X[30:, 0], task="regression",
                truth=GroundTruth(importance=[1.0, 0, 0], relevant=[1, 0, 0], definition="t"))


def _with_nan(a, i=0):
    a = np.array(a, dtype=float)
    a.flat[i] = np.nan
    return a


USER_DATA_FAULTS = [
    ("X_train", lambda a: _with_nan(a["X_train"], 4), "X_train contains NaN or inf (1 entries)"),
    ("X_test", lambda a: np.where(a["X_test"] > 1, np.inf, a["X_test"]), "X_test contains NaN or inf"),
    ("y_train", lambda a: _with_nan(a["y_train"]), "y_train contains NaN or inf"),
    ("y_test", lambda a: a["y_test"] * np.inf, "y_test contains NaN or inf"),
    ("X_train", lambda a: a["X_train"][:, 0], "X_train must be 2-D (n, d), got shape (30,)"),
    ("X_train", lambda a: a["X_train"][:0], "X_train has shape (0, 3)"),
    ("X_train", lambda a: a["X_train"].astype(str), "X_train must be real numbers"),
    ("X_train", lambda a: a["X_train"] * 1e300, "beyond float32 range"),
    ("X_test", lambda a: a["X_test"][:, :2], "X_test has 2 features, X_train has 3"),
    ("y_train", lambda a: a["y_train"][:-1], "y_train must have shape (30,), got (29,)"),
    ("y_test", lambda a: np.c_[a["y_test"], a["y_test"]], "y_test must have shape (10,), got (10, 2)"),
    ("y_train", lambda a: np.full(30, 3.0), "y_train is constant (value 3.0)"),
    ("task", lambda a: "ranking", "task='ranking' is not one of"),
    ("truth", lambda a: GroundTruth(importance=[1.0, 0], relevant=[1, 0], definition="t"),
     "truth.importance has shape (2,), expected (3,)"),
    ("truth", lambda a: GroundTruth(importance=[1.0, 0, 0], relevant=[1, 0, 0, 0], definition="t"),
     "truth.relevant has shape (4,), expected (3,)"),
    ("truth", lambda a: GroundTruth(importance=[1.0, -1, 0], relevant=[1, 1, 0], definition="t"),
     "truth.importance must be finite and non-negative"),
    ("truth", lambda a: GroundTruth(importance=[0.0, 0, 0], relevant=[0, 0, 0], definition="t"),
     "truth.relevant marks no feature"),
    ("truth", lambda a: GroundTruth(importance=[1.0, 0, 0], relevant=[1, 0, 0], definition="t",
                                    interactions=np.zeros((2, 2))), "truth.interactions must be a finite (3, 3)"),
    ("truth", lambda a: {"importance": [1, 0, 0]}, "truth must be a GroundTruth"),
    ("feature_names", lambda a: ["a", "b"], "feature_names has 2 names for 3 features"),
    ("feature_names", lambda a: ["a", "b", "a"], "feature_names repeats ['a']"),
]


@pytest.mark.parametrize("field, corrupt, needle", USER_DATA_FAULTS,
                         ids=[f"{f}:{n[:30]}" for f, _, n in USER_DATA_FAULTS])
def test_user_dataset_faults_are_rejected_clearly(field, corrupt, needle):
    a = _arrays()
    a[field] = corrupt(a)
    with pytest.raises(ValueError) as info:
        Dataset(**a)
    assert needle in str(info.value) and str(info.value).startswith("dataset ")


def test_classification_labels_and_clean_inputs():
    a = _arrays()
    a.update(task="classification", y_train=(a["y_train"] > 0).astype(int), y_test=a["y_test"] * 0 + 2)
    with pytest.raises(ValueError, match="y_test for task=classification must be 0/1 labels"):
        Dataset(**a)
    b = _arrays()
    b.update(X_train=b["X_train"].tolist(), y_train=b["y_train"][:, None])  # lists and a column vector are fine
    ds = Dataset(**b)
    assert ds.X_train.dtype == np.float32 and ds.y_train.shape == (30,) and ds.feature_names == ["x0", "x1", "x2"]


@pytest.mark.parametrize("fault, needle", [
    ("nan_x", "dataset X_train contains NaN or inf"),
    ("inf_y", "dataset y_test contains NaN or inf"),
    ("constant", "dataset y_train is constant"),
    ("truth_length", "dataset truth.importance has shape (2,), expected (3,)"),
    ("wrong_d", "dataset X_test has 2 features, X_train has 3"),
    ("list", "returned list, expected varbench.Dataset"),
])
def test_user_dataset_faults_through_the_config(fault, needle):
    msg = _rejects(["dataset._target_=test_validation.bad_dataset", f"+dataset.fault={fault}"])
    assert needle in msg


# --- method faults ---------------------------------------------------------------------------------

FAULTY = {"inf": ("returns_inf", "non-finite importance"),
          "none": ("returns_none", "method returned None"),
          "text": ("returns_text", "ValueError"),
          "matrix": ("returns_matrix", "importance of shape (3, 2), expected (3,)"),
          "local": ("wrong_local", "local attributions of shape (5, 4), expected (n, 3)"),
          "late": ("raises_value_error", "a method's own late check")}


def test_method_faults_are_logged_failed_and_others_proceed(tmp_path):
    from varbench.runner import run_cell
    from varbench.tracking import fetch_cells, fetch_table

    adds = [f"+methods.{name}._target_=test_validation.{fn}" for name, (fn, _) in FAULTY.items()]
    cfg = _compose(["dataset=linear", "dataset.n_features=3", "dataset.n_relevant=2", "trainer.epochs=2",
                    "methods=[random,probing]", *adds, *NO_MODEL_TRUTH], tmp_path)
    result = run_cell(cfg)
    status = {r["method"]: r["status"] for r in result.rows}
    assert status == {"random": "ok", "probing": "ok", **{name: "failed" for name in FAULTY}}
    assert result.n_failed == len(FAULTY)
    runs = fetch_table(cfg.tracking.uri, "varbench").set_index("method")
    for name, (_, needle) in FAULTY.items():
        assert needle in runs.loc[name, "error"], (name, runs.loc[name, "error"])
        assert runs.loc[name, "run_status"] == "FAILED"
    assert runs.loc["probing", "importance"] and np.isfinite(runs.loc["probing", "spearman"])
    assert fetch_cells(cfg.tracking.uri, "varbench")["run_status"].iloc[0] == "FINISHED"


# --- model faults ---------------------------------------------------------------------------------

def test_diverging_training_fails_the_cell_and_the_sweep_goes_on(tmp_path):
    from varbench.runner import run_cell
    from varbench.tracking import fetch_cells, fetch_table

    base = ["dataset=linear", "dataset.n_features=3", "dataset.n_relevant=2", "methods=[random]", *NO_MODEL_TRUTH]
    bad = run_cell(_compose([*base, "seed=0", "trainer.lr=1e6", "trainer.optimizer=sgd",
                             "dataset.coefficients=[1000,-1000,0]"], tmp_path))
    assert bad.status == "failed" and bad.rows == []
    good = run_cell(_compose([*base, "seed=1", "trainer.epochs=2"], tmp_path))  # the next cell of the sweep
    assert good.status in ("ok", "low_quality") and good.n_failed == 0
    cells = fetch_cells(cfg_uri(tmp_path), "varbench").set_index("seed")
    assert cells.loc[0, "status"] == "failed" and cells.loc[0, "run_status"] == "FAILED"
    assert "training diverged" in cells.loc[0, "error"]
    assert list(fetch_table(cfg_uri(tmp_path), "varbench")["seed"]) == [1]


def cfg_uri(tmp_path):
    return f"sqlite:///{tmp_path}/mlflow.db"


@pytest.mark.parametrize("policy", ["run", "skip"])
def test_low_quality_model_is_flagged_and_policy_applies(tmp_path, policy):
    from varbench.runner import run_cell
    from varbench.tracking import fetch_cells, fetch_table

    cfg = _compose(["dataset=linear", "dataset.n_features=3", "dataset.n_relevant=2", "dataset.noise=20",
                    "trainer.epochs=2", "quality_threshold=0.9", f"on_low_quality={policy}",
                    "methods=[random,probing]", *NO_MODEL_TRUTH], tmp_path)
    result = run_cell(cfg)
    assert result.status == "low_quality"
    cell = fetch_cells(cfg.tracking.uri, "varbench").iloc[0]
    assert cell["status"] == "low_quality" and cell["r2"] < 0.9
    runs = fetch_table(cfg.tracking.uri, "varbench")
    if policy == "skip":
        assert result.rows == [] and runs.empty
    else:
        assert sorted(runs["method"]) == ["probing", "random"] and (runs["cell_status"] == "low_quality").all()
        assert (runs["status"] == "ok").all()


# --- safety ---------------------------------------------------------------------------------------

def test_cached_model_with_code_is_refused_and_retrained(tmp_path, monkeypatch):
    """A .keras file in the cache whose Lambda layer runs code when called is refused by safe
    mode (never deserialised, never called) and the model is retrained."""
    import keras

    from varbench.runner import run_cell
    from varbench.tracking import fetch_cells

    marker = tmp_path / "pwned"
    cache = tmp_path / "cache"
    cache.mkdir()
    cfg = _compose(["dataset=linear", "dataset.n_features=3", "dataset.n_relevant=2", "trainer.epochs=2",
                    "methods=[random]", f"cache.dir={cache}", *NO_MODEL_TRUTH], tmp_path)
    spec = resolve_cell(cfg, check_model=False)
    path = str(marker)

    monkeypatch.setenv("VARBENCH_TEST_MARKER", path)
    inp = keras.Input(shape=(3,))  # a Python lambda is stored as bytecode: code inside the file
    evil = keras.Model(inp, keras.layers.Lambda(
        lambda x: (open(__import__("os").environ["VARBENCH_TEST_MARKER"], "w").write("ran"), x[:, :1])[1],
        output_shape=(1,))(inp))
    evil.save(cache / f"{spec.model_hash}.keras")
    from varbench.models.cache import CACHE_TYPE, CACHE_VERSION

    (cache / f"{spec.model_hash}.json").write_text(json.dumps({"type": CACHE_TYPE, "version": CACHE_VERSION,
                                                               "quality": {"r2": 1.0}, "train_seconds": 0.0}))
    # positive control: loaded without safe mode, the file does run its code
    keras.models.load_model(cache / f"{spec.model_hash}.keras", safe_mode=False)(np.zeros((1, 3), np.float32))
    assert marker.exists()
    marker.unlink()

    result = run_cell(cfg)
    assert result.status in ("ok", "low_quality") and result.n_failed == 0 and not marker.exists()
    assert fetch_cells(cfg.tracking.uri, "varbench")["model_cached"].iloc[0] == "False"  # retrained
    reloaded = keras.models.load_model(cache / f"{spec.model_hash}.keras", safe_mode=True)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in reloaded.layers)


def test_config_strings_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    # as a target, as a value, as a method parameter, and inside an interpolation
    assert "could not be instantiated" in _rejects([f"+methods.x._target_=\"{code}\""])
    assert "dataset.task=" in _rejects([f"dataset.task=\"{code}\""])
    assert "could not be resolved" in _rejects(["dataset.task='${eval:1+1}'"])
    spec = resolve_cell(_compose(["methods=[random]", "+methods.x._target_=test_validation.echo",
                                  f"+methods.x.payload=\"{code}\""]), check_model=False)
    assert spec.methods["x"].keywords["payload"] == code  # handed over as data
    assert not marker.exists()


def test_tracking_defaults_stay_on_this_machine():
    """varbench never starts a tracking server; the shipped server config points at loopback."""
    import yaml

    local = yaml.safe_load(Path(CONF_DIR, "tracking", "local.yaml").read_text())
    server = yaml.safe_load(Path(CONF_DIR, "tracking", "server.yaml").read_text())
    assert local["uri"].startswith("sqlite:///")
    assert server["uri"].startswith("http://127.0.0.1:")
