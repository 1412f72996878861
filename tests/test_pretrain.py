"""Stacked pre-training of a multirun (varbench.pretrain): grouping, and a real joblib sweep whose
jobs find their models in the cache."""
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from varbench.pretrain import Cell, group_key, plan


def _cell(hash_, seed, rows=100, hidden=(8,), d=3):
    data = SimpleNamespace(X_train=np.zeros((rows, d)), y_train=np.zeros(rows), task="regression")
    spec = SimpleNamespace(model_hash=hash_, seed=seed, dataset=data)
    return Cell(spec, {"_target_": "varbench.models.mlp.build_mlp", "hidden": list(hidden)},
                {"epochs": 5, "progress_every": 25})


def test_plan_groups_by_architecture_trainer_and_shape_and_cuts_stacks():
    cells = [_cell(f"h{i}", i) for i in range(5)] + [_cell("w", 0, hidden=(16,)), _cell("r", 0, rows=50),
                                                     _cell("h0", 0)]  # a repeated model hash trains once
    stacks = plan(cells, max_models=2)
    assert [[c.spec.model_hash for c in s] for s in stacks] == [["h0", "h1"], ["h2", "h3"]]  # h4 alone: its job
    assert group_key(_cell("a", 0)) == group_key(_cell("b", 7))
    assert group_key(_cell("a", 0, d=3)) == group_key(_cell("b", 0, d=5))  # widths share a stack, zero-padded
    other = _cell("c", 0)
    other.trainer_cfg["progress_every"] = 1  # display only: same stack
    assert group_key(other) == group_key(_cell("a", 0))
    with pytest.raises(ValueError, match="max_models=1 is invalid"):
        plan(cells, max_models=1)


@pytest.mark.slow
def test_joblib_sweep_loads_stacked_models_and_resumes(tmp_path):
    import subprocess

    from varbench.tracking import fetch_cells

    exe = Path(sys.executable).with_name("varbench")
    args = ["-m", "dataset=linear", "methods=[random,probing]", "dataset.n_samples=200", "trainer.epochs=3",
            "trainer.progress_every=0", "seed=0,1,2", f"cache.dir={tmp_path}/cache", "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2", "hydra.callbacks.pretrain.enabled=true"]
    out = subprocess.run([str(exe), *args], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "3 of 3 models trained in 1 stacks" in out.stdout + out.stderr
    metas = [json.loads(p.read_text()) for p in (tmp_path / "cache").glob("*.json")]
    assert len(metas) == 3 and all(m["stacked"] == 3 for m in metas)
    cells = fetch_cells(f"sqlite:///{tmp_path}/mlflow.db", "varbench")
    assert len(cells) == 3 and (cells["model_cached"] == "True").all()
    again = subprocess.run([str(exe), *args], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "skipping (resume)" in again.stderr + again.stdout
    assert "models trained in" not in again.stdout + again.stderr  # everything cached: nothing to pre-train


def test_multiclass_cells_are_stacked_with_heads_sized_from_their_labels(tmp_path):
    """A multiclass group is stacked (its head sized from the labels, as the trainer sizes it)
    and every job then finds its model, with the head its solo training would have."""
    from hydra import compose, initialize_config_dir

    from varbench.models.cache import load_or_train
    from varbench.paths import conf_dir
    from varbench.pretrain import cell_of, pretrain

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfgs = [compose("config", overrides=["dataset=linear_multiclass", "dataset.n_samples=200",
                                             "trainer.epochs=2", "trainer.progress_every=0", f"seed={s}",
                                             f"cache.dir={tmp_path}", f"tracking.uri=sqlite:///{tmp_path}/m.db"])
                for s in (0, 1)]
    cells = [cell_of(c) for c in cfgs]
    stats = pretrain(cells)
    assert stats["stacked_models"] == 2 and stats["stacks"] == 1 and stats["member_epochs"] == 2 * 2  # 2 epochs each
    for cell in cells:
        model, cached = load_or_train(cell.spec)
        k = int(np.max(np.concatenate([cell.spec.dataset.y_train, cell.spec.dataset.y_test]))) + 1
        assert cached and model.task == "multiclass" and model.n_outputs == k
        assert 0 <= model.quality["accuracy"] <= 1


def test_pretrained_model_truth_is_the_jobs_own(tmp_path):
    """The model truths pre-training caches (computed concurrently) equal, bit for bit, what each
    job computes itself from the model it loads from the cache."""
    import dataclasses

    from hydra import compose, initialize_config_dir

    from varbench.methods.model_truth import model_truth
    from varbench.models.cache import load_or_train
    from varbench.paths import conf_dir
    from varbench.pretrain import cell_of, pretrain
    from varbench.runner import cached_model_truth

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfgs = [compose("config", overrides=["dataset=linear", "dataset.n_samples=200", "trainer.epochs=2",
                                             "trainer.progress_every=0", "model_truth.rows=20",
                                             "model_truth.sobol_samples=256", f"seed={s}", f"cache.dir={tmp_path}",
                                             f"tracking.uri=sqlite:///{tmp_path}/m.db"]) for s in (0, 1, 2)]
    cells = [cell_of(c) for c in cfgs]
    stats = pretrain(cells)
    assert stats["stacked_models"] == 3 and stats["model_truths"] == 3
    for cell in cells:
        spec = cell.spec
        model, cached = load_or_train(spec)
        arrays, from_cache = cached_model_truth(spec, dataclasses.replace(model, output=spec.output))
        assert cached and from_cache
        opts = spec.model_truth
        own = model_truth(dataclasses.replace(model, output=spec.output), spec.dataset,
                          background_size=opts["background_size"], rows=opts["rows"],
                          sobol_samples=opts["sobol_samples"], max_features=opts["max_features"], seed=spec.seed)
        assert set(own) == set(arrays)
        for key in own:
            np.testing.assert_array_equal(arrays[key], own[key], err_msg=key)


def test_a_group_a_stack_refuses_is_left_to_its_jobs(tmp_path):
    """Members whose labels size different heads (3 classes here, 2 there) cannot share a stack:
    pre-training says so and leaves them to their jobs instead of stopping the sweep."""
    from hydra import compose, initialize_config_dir

    from varbench.models.cache import is_cached
    from varbench.paths import conf_dir
    from varbench.pretrain import cell_of, pretrain

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfgs = [compose("config", overrides=["dataset=linear_multiclass", "dataset.n_samples=200",
                                             "trainer.epochs=2", f"seed={s}", f"cache.dir={tmp_path}",
                                             f"tracking.uri=sqlite:///{tmp_path}/m.db"]) for s in (0, 1)]
    cells = [cell_of(c) for c in cfgs]
    data = cells[1].spec.dataset
    data.y_train, data.y_test = np.minimum(data.y_train, 1), np.minimum(data.y_test, 1)  # two classes
    stats = pretrain(cells)
    assert stats["stacks"] == 0 and stats["stacked_models"] == 0
    assert not any(is_cached(c.spec) for c in cells)


def test_cells_on_the_single_engine_are_left_to_their_jobs(tmp_path):
    """A stack cannot give a `trainer.engine=single` model (other arithmetic): such cells are not
    pre-trained, whatever they share (the committed studies pin that engine)."""
    from varbench.models.trainer import TrainerConfig
    from varbench.pretrain import pretrain

    cells = [_cell(f"h{i}", i) for i in range(3)]
    for c in cells:
        c.spec.cache_dir, c.spec.trainer = str(tmp_path), TrainerConfig(engine="single")
    stats = pretrain(cells)
    assert stats["stacks"] == 0 and stats["stacked_models"] == 0 and not list(tmp_path.iterdir())
