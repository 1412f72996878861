"""The harness learns the API's tasks: a multi-class dataset (linear, tertiles of X w), a dataset
with a categorical stored one-hot (truth per variable), the MLP with a k-unit head and an L1
option, multiclass training and quality (accuracy, macro AUC), and scoring per variable."""
import numpy as np
import pytest

from varbench.datasets.categorical import categorical
from varbench.datasets.synthetic import linear
from varbench.models.mlp import build_mlp
from varbench.models.trainer import TrainerConfig, quality, train
from varbench.runner import run_cell
from varbench.tracking import fetch_cells, fetch_table


def test_multiclass_linear_has_three_balanced_classes_and_the_linear_truth():
    data = linear(n_samples=600, n_features=5, n_relevant=2, task="multiclass", seed=0)
    y = np.concatenate([data.y_train, data.y_test])
    assert set(np.unique(y)) == {0.0, 1.0, 2.0}
    assert np.allclose(np.bincount(y.astype(int)) / len(y), 1 / 3, atol=0.01)
    np.testing.assert_array_equal(data.truth.importance, [2.0, 0.5, 0, 0, 0])


def test_categorical_truth_is_the_sd_of_each_contribution():
    data = categorical(n_samples=20000, seed=1)
    assert data.groups == {"colour": [4, 5, 6, 7]} and data.n_variables == 5
    onehot = data.X_train[:, 4:]
    assert np.all(onehot.sum(axis=1) == 1)
    effects = onehot @ np.array([-1.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(data.truth.importance[-1], effects.std(), rtol=0.02)  # Monte Carlo
    np.testing.assert_array_equal(data.truth.relevant, [True, True, False, False, True])


def test_mlp_has_a_k_unit_head_and_an_l1_penalty():
    import keras

    net = build_mlp(3, "multiclass", hidden=(4,), n_outputs=3, l1=0.01)
    assert tuple(net.outputs[0].shape) == (None, 3)
    net(np.ones((2, 3), np.float32))
    expected = 0.01 * sum(np.abs(net.get_layer(n).kernel.numpy()).sum() for n in ("dense_0", "output"))
    assert float(keras.ops.sum(net.losses)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="n_outputs=1 is invalid for task='multiclass'"):
        build_mlp(3, "multiclass")


def test_multiclass_training_and_macro_auc_against_scikit_learn():
    from sklearn.metrics import roc_auc_score

    data = linear(n_samples=600, n_features=4, n_relevant=2, task="multiclass", seed=0)
    cfg = TrainerConfig(epochs=30, patience=0, progress_every=0, lr=0.01)
    model = train(lambda n, t, **kw: build_mlp(n, t, hidden=(16,), **kw), data.X_train, data.y_train, data.task,
                  0, cfg, data.X_test, data.y_test)
    assert model.head.n_outputs == 3 and model.task == "multiclass"
    P = model.probabilities(data.X_test)
    want = roc_auc_score(data.y_test.astype(int), P, multi_class="ovr", average="macro")
    assert model.quality["auc"] == pytest.approx(want, abs=1e-6)
    assert model.quality["accuracy"] == pytest.approx(np.mean(P.argmax(axis=1) == data.y_test))
    assert model.quality["accuracy"] > 0.7
    assert quality(model, data.X_test, data.y_test) == {k: model.quality[k] for k in ("accuracy", "auc")}


def test_a_multiclass_cell_runs_every_kind_of_method(compose_cfg):
    cfg = compose_cfg(["dataset=linear_multiclass", "dataset.n_features=5", "dataset.n_relevant=2",
                       "trainer.epochs=30", "methods=[permutation,kernel_shap,integrated_gradients,lime]",
                       "methods.kernel_shap.n_rows=20", "methods.kernel_shap.background_size=16",
                       "methods.integrated_gradients.n_rows=50", "methods.lime.n_rows=10", "model_truth.enabled=false"])
    result = run_cell(cfg)
    assert result.status == "ok" and result.n_failed == 0, [r.get("error") for r in result.rows]
    cells = fetch_cells(cfg.tracking.uri, "varbench")
    assert cells["auc"].iloc[0] > 0.8 and cells["task"].iloc[0] == "multiclass"
    runs = fetch_table(cfg.tracking.uri, "varbench").set_index("method")
    assert (runs["topk_recall"] == 1.0).all(), runs["topk_recall"]
    rows = {r["method"]: r for r in result.rows}  # the logged tags (fetch_table lists its own columns)
    assert all(len(eval(rows[m]["importance_std"])) == 5 for m in rows)  # noqa: S307 - our own JSON


def test_a_cell_with_a_one_hot_group_scores_per_variable(compose_cfg):
    cfg = compose_cfg(["dataset=categorical", "methods=[permutation,kernel_shap,saliency]",
                       "methods.kernel_shap.n_rows=20", "methods.kernel_shap.background_size=16",
                       "trainer.epochs=30"])
    result = run_cell(cfg)
    rows = {r["method"]: r for r in result.rows}
    assert rows["saliency"]["status"] == "failed" and "cannot honour variable groups" in rows["saliency"]["error"]
    for m in ("permutation", "kernel_shap"):
        assert rows[m]["status"] == "ok" and len(eval(rows[m]["importance"])) == 5  # noqa: S307 - our own JSON
        assert rows[m]["topk_recall"] == 1.0


def test_defaults_are_stated_once_and_the_yaml_repeats_them():
    """TrainerConfig and ModelTruthConfig hold the defaults; the shipped YAML must agree."""
    import dataclasses

    import yaml

    from varbench.models.trainer import TrainerConfig
    from varbench.paths import conf_dir
    from varbench.schema import ModelTruthConfig

    trainer = yaml.safe_load((conf_dir() / "trainer" / "default.yaml").read_text())
    assert trainer == dataclasses.asdict(TrainerConfig())
    truth = yaml.safe_load((conf_dir() / "config.yaml").read_text())["model_truth"]
    assert truth == dataclasses.asdict(ModelTruthConfig())
