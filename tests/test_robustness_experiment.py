"""The robustness experiment (REDUCED design, conf/experiment/robustness*.yaml): every condition of
its sweeps composes and validates as the job will (varbench.sweep.check_sweep, no training), each
condition changes what it says it changes, and the condition is the run's study tag."""
from __future__ import annotations

import pytest
import yaml

from varbench.paths import conf_dir

CONDITIONS = {"base", "tanh", "gelu", "wide", "deep", "l2", "dropout", "rows", "noisy", "resmlp", "ft_transformer",
              "embed"}


def _params(name):
    return yaml.safe_load((conf_dir() / "experiment" / f"{name}.yaml").read_text())["hydra"]["sweeper"]["params"]


def _compose(overrides, tmp_path, hydra=False):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=[f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", "cache.dir=null",
                                            *overrides], return_hydra_config=hydra)


def test_the_sweeps_cover_every_condition_file_once():
    swept = _params("robustness")["robustness"].split(",") + _params("robustness_embed")["robustness"].split(",")
    files = {p.stem for p in (conf_dir() / "robustness").glob("*.yaml")}
    assert files == CONDITIONS and set(swept) == CONDITIONS
    assert len(swept) == len(CONDITIONS) + 1    # `base` in both sweeps (the embed sweep's reference)
    assert _params("robustness_embed")["dataset"] == "categorical"


@pytest.mark.parametrize("experiment", ["robustness", "robustness_embed"])
def test_every_job_of_the_sweep_composes_into_a_valid_cell(experiment, tmp_path):
    from hydra.core.global_hydra import GlobalHydra
    from hydra import initialize_config_dir, compose

    from varbench.sweep import check_sweep

    # every condition, on one dataset (the datasets are the project's own, validated elsewhere)
    one_dataset = ["hydra.sweeper.params.dataset=mixed_scales"] if experiment == "robustness" else []

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[f"+experiment={experiment}", f"tracking.uri=sqlite:///{tmp_path}/m.db",
                                           "cache.dir=null", "hydra.sweeper.params.seed=0", *one_dataset],
                      return_hydra_config=True)
        assert GlobalHydra.instance().is_initialized()
        jobs = check_sweep(cfg)
    n = {"robustness": 11, "robustness_embed": 2}[experiment]
    assert len(jobs) == n and [j.error for j in jobs if j.error] == []
    assert len({j.cell_hash for j in jobs}) == n     # no two conditions build the same cell


EXPECT = {   # condition -> (model choice, what differs from the reference)
    "base": ("mlp", {}), "tanh": ("mlp", {"model.activation": "tanh"}), "gelu": ("mlp", {"model.activation": "gelu"}),
    "wide": ("mlp_wide", {"model.hidden": [256]}), "deep": ("mlp_deep", {"model.hidden": [32, 32, 32, 32]}),
    "l2": ("mlp", {"model.l2": 1e-3}), "dropout": ("mlp", {"model.dropout": 0.2}),
    "rows": ("mlp", {"dataset.n_samples": 500}), "noisy": ("mlp", {"dataset.noise": 1.0}),
    "resmlp": ("resmlp", {}), "ft_transformer": ("ft_transformer", {}), "embed": ("mlp_embed", {})}


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_each_condition_changes_what_it_says_and_tags_the_study(condition, tmp_path):
    from omegaconf import OmegaConf

    from varbench.config import resolve_cell

    dataset = "categorical" if condition == "embed" else "linear"
    cfg = _compose(["+experiment=robustness", f"dataset={dataset}", f"robustness={condition}"], tmp_path, hydra=True)
    ref = _compose(["+experiment=robustness", f"dataset={dataset}", "robustness=base"], tmp_path)
    model, changed = EXPECT[condition]
    assert cfg.hydra.runtime.choices.model == model and cfg.study == f"robustness_{condition}"
    for key, value in changed.items():
        assert OmegaConf.select(cfg, key) == value != OmegaConf.select(ref, key)
    if model == "mlp":   # the reference's other settings are untouched
        same = {k for k in ("activation", "hidden", "l2", "dropout") if f"model.{k}" not in changed}
        assert all(cfg.model[k] == ref.model[k] for k in same)
    task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    spec = resolve_cell(task, check_model=False)
    assert list(spec.methods) == ["first_layer", "permutation", "conditional_permutation", "integrated_gradients",
                                  "kernel_shap", "lime", "random"]
    if condition == "rows":
        assert len(spec.dataset.X_train) + len(spec.dataset.X_test) == 500
