"""One contract test over the whole method registry (every conf/method/*.yaml), as Captum's shared
test table does: shape, finiteness, determinism, cost accounting, regression and classification.
Correctness against oracles lives in each family's own test file."""
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from varbench.paths import conf_dir
from varbench.api import METHOD_DIR, available_methods, method_callable
from varbench.datasets.synthetic import linear
from varbench.methods.base import as_attribution
from varbench.models.mlp import build_mlp
from varbench.models.trainer import TrainerConfig, train

CONF = conf_dir()
ALL = sorted(p.stem for p in METHOD_DIR.glob("*.yaml"))
METHODS = [m for m in ALL if not m.startswith("inter_")]  # the interaction track has its own tests
# small settings so the whole table runs in seconds; only keys a method's YAML has are applied
SMALL = {"n_rows": 20, "n_samples": 64, "n_repeats": 2, "n_permutations": 16, "background_size": 16,
         "n_coalitions": 64, "steps": 8, "batch_size": 64}
WEIGHT_ONLY = {"first_layer", "garson", "olden", "random", "oracle"}


def _small(name):
    keys = OmegaConf.load(METHOD_DIR / f"{name}.yaml").keys()
    return {k: v for k, v in SMALL.items() if k in keys}


@pytest.fixture(scope="module", params=["regression", "classification"])
def cell(request):
    data = linear(n_samples=240, n_features=5, n_relevant=3, task=request.param, seed=0)
    cfg = TrainerConfig(epochs=3, patience=0, progress_every=0)
    model = train(lambda n, t: build_mlp(n, t, hidden=(8,)), data.X_train, data.y_train, data.task, 0, cfg)
    return model, data


@pytest.mark.parametrize("name", METHODS)
def test_method_contract(name, cell):
    model, data = cell
    fn = method_callable(name, **_small(name))
    model.n_evals = 0
    a = as_attribution(fn(model, data, np.random.default_rng(5)), data.n_features)
    evals = model.n_evals
    b = as_attribution(fn(model, data, np.random.default_rng(5)), data.n_features)
    assert a.importance.shape == (data.n_features,) and np.all(np.isfinite(a.importance))
    np.testing.assert_array_equal(a.importance, b.importance)  # same seed, same numbers
    if name not in WEIGHT_ONLY:
        assert evals > 0, "model evaluations must be counted"
    if a.local is not None:
        assert a.local.shape[1] == data.n_features and a.aggregation == "mean_abs_local"


def test_every_method_has_a_wrapper_and_suites_are_consistent():
    for name in ALL:
        wrapper = CONF / "methods" / f"{name}.yaml"
        assert wrapper.exists(), f"conf/methods/{name}.yaml missing (needed for methods=[{name}])"
        assert f"/method@{name}: {name}" in wrapper.read_text()
    all_suite = OmegaConf.load(CONF / "methods" / "all.yaml")["defaults"]
    assert sorted(all_suite) == sorted(m for m in METHODS if m != "oracle")
    for suite in (CONF / "methods").glob("*.yaml"):
        entries = OmegaConf.load(suite).get("defaults", [])
        for e in entries:
            if isinstance(e, str):
                assert e in ALL, f"{suite.name} names unknown method {e}"
    assert available_methods() == sorted(m for m in METHODS if m != "oracle")


def test_suites_compose(compose_cfg):
    for suite in ("seed_answers", "all", "fast", "gradients", "weights", "perturbation", "shapley",
                  "retrain", "modern"):
        cfg = compose_cfg([f"methods={suite}"])
        assert "random" in cfg.methods and len(cfg.methods) >= 3
    cfg = compose_cfg(["methods=[lime,kernel_shap]"])
    assert list(cfg.methods) == ["lime", "kernel_shap"]
