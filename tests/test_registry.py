"""One contract test over the whole method registry (every conf/method/*.yaml), as Captum's shared
test table does: shape, finiteness, determinism, cost accounting, regression and classification.
Correctness against oracles lives in each family's own test file."""
import re

import numpy as np
import pytest
from omegaconf import OmegaConf

from varbench.api import available_methods, method_callable
from varbench.datasets.synthetic import linear
from varbench.methods.base import as_attribution
from varbench.models.mlp import build_mlp
from varbench.models.trainer import TrainerConfig, train
from varbench.paths import conf_dir
from varbench.registry import MethodMeta, registry, split_meta, stale_files, suites
from varbench.schema import ConfigError

CONF = conf_dir()
ALL = sorted(registry())
METHODS = sorted(n for n, i in registry().items() if i.meta.returns == "importance")  # interactions: own tests
# small settings so the whole table runs in seconds; only keys a method's YAML has are applied
SMALL = {"n_rows": 20, "n_samples": 64, "n_repeats": 2, "n_permutations": 16, "background_size": 16,
         "n_coalitions": 64, "steps": 8, "batch_size": 64}
# methods that read weights, the truth or nothing: they make no model evaluations
WEIGHT_ONLY = {n for n, i in registry().items() if i.meta.estimand in ("model_internal", "none", "truth")}


def _small(name):
    keys = registry()[name].config.keys()
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


def test_generated_suite_files_match_the_metadata():
    assert stale_files() == [], "run `python -m varbench.registry --write`"
    for name in ALL:
        assert f"/method@{name}: {name}" in (CONF / "methods" / f"{name}.yaml").read_text()


def test_suites_follow_the_metadata():
    s = suites()
    reg = registry()
    ceilings = {n for n, i in reg.items() if i.meta.role == "ceiling"}
    assert ceilings == {"oracle", "inter_oracle"}
    assert set(s["all"]) == set(METHODS) - ceilings and "random" in s["all"]
    assert set(s["all"]) - set(s["fast"]) == {"drop_column", "loco", "stepwise_addition", "stepwise_elimination"}
    assert s["seed_answers"] == ["first_layer", "permutation", "probing", "lime", "random"]
    assert s["interactions"][-1] == "inter_random" and not set(s["interactions"]) & set(s["all"])
    for suite, members in s.items():
        assert members and set(members) <= set(reg), suite
    assert available_methods() == sorted(set(METHODS) - ceilings)


def test_meta_is_validated_and_never_passed_to_the_method():
    meta, rest = split_meta({"_target_": "x.y", "n": 1, "_meta_": {"returns": "interactions", "needs": ["trainer"]}})
    assert meta == MethodMeta(returns="interactions", needs=("trainer",)) and rest == {"_target_": "x.y", "n": 1}
    assert split_meta({"_target_": "x.y"})[0] == MethodMeta()
    for bad, word in (({"returns": "pairs"}, "returns='pairs'"), ({"needs": ["gpu"]}, "['gpu']"),
                      ({"colour": 1}, "unknown keys ['colour']"), ({"suites": ["all"]}, "derived"),
                      ({"role": "ceiling", "scope": "row"}, "scope='row'")):
        with pytest.raises(ConfigError, match=re.escape(word)):
            split_meta({"_target_": "x.y", "_meta_": bad}, "methods.m")
    fn = method_callable("permutation", n_repeats=2)
    assert "_meta_" not in fn.keywords and fn.keywords["n_repeats"] == 2


def test_runner_tags_carry_the_metadata(compose_cfg):
    from varbench.config import resolve_cell

    spec = resolve_cell(compose_cfg(["methods=[oracle,inter_nid,random]"]), check_model=False)
    assert spec.method_meta["oracle"].role == "ceiling" and spec.method_meta["inter_nid"].returns == "interactions"
    assert all("_meta_" not in getattr(fn, "keywords", {}) for fn in spec.methods.values())


def test_suites_compose(compose_cfg):
    for suite in ("seed_answers", "all", "fast", "gradients", "weights", "perturbation", "shapley",
                  "retrain", "modern"):
        cfg = compose_cfg([f"methods={suite}"])
        assert "random" in cfg.methods and len(cfg.methods) >= 3
    cfg = compose_cfg(["methods=[lime,kernel_shap]"])
    assert list(cfg.methods) == ["lime", "kernel_shap"]
