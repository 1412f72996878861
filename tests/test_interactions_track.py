"""The interaction track's runner hook (fault isolation, scoring, tags) and its configs: the
`interactions` suite composes, and every method runs on a small trained MLP for a Tsang cell."""
from __future__ import annotations

import numpy as np
import pytest

from exact import dataset, function_net
from varbench.datasets.base import Dataset, GroundTruth
from varbench.datasets.interactions import pair_matrix
from varbench.methods.base import Interactions
from varbench.methods.interactions import h_statistic, oracle_interactions, random_interactions
from varbench.registry import MethodMeta
from varbench.runner import run_method

PAIRS = MethodMeta(returns="interactions")


def run_interaction_method(name, fn, model, data, seed):
    """The runner's own entry, with interaction metadata (as a registered interaction method has)."""
    return run_method(name, fn, model, data, seed, meta=PAIRS)

SUITE = {"inter_h_stat", "inter_shapley", "inter_hessian", "inter_nid", "inter_sobol2", "inter_random"}


def _data(with_truth=True):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 4)).astype(np.float32)
    y = X[:, 0] * X[:, 1] + X[:, 2]
    if not with_truth:
        return dataset(X, y)
    truth = GroundTruth(importance=np.array([1.0, 1.0, 1.0, 0.0]), relevant=np.array([1, 1, 1, 0], bool),
                        definition="test", interactions=pair_matrix([{0, 1}], 4))
    return Dataset(X_train=X, y_train=y, X_test=X[:50], y_test=y[:50], task="regression", truth=truth)


def _model():
    return function_net(lambda x: x[:, 0] * x[:, 1] + x[:, 2], 4)


def test_ok_method_is_scored_and_tagged():
    fn = lambda m, d, rng: h_statistic(m, d, rng, n_rows=30)  # noqa: E731
    metrics, tags, matrix = run_interaction_method("inter_h_stat", fn, _model(), _data(), seed=0)
    assert tags == {"status": "ok", "track": "interactions", "score_status": tags["score_status"],
                    "returns": "interactions", "estimand": "unknown", "role": "method", "scope": "global", "needs": ""}
    assert tags["score_status"].startswith("ok")
    assert metrics["pair_auroc"] == 1.0 and metrics["pair_ap"] == 1.0 and metrics["r_precision"] == 1.0
    assert metrics["n_true_pairs"] == 1.0 and metrics["n_model_evals"] == (4 + 6) * 30 * 30
    assert metrics["extra_rows"] == 30.0 and metrics["seconds"] > 0
    assert matrix.shape == (4, 4)


def test_seeded_per_method_stream():
    a = run_interaction_method("inter_random", random_interactions, _model(), _data(), seed=3)[2]
    b = run_interaction_method("inter_random", random_interactions, _model(), _data(), seed=3)[2]
    c = run_interaction_method("inter_random", random_interactions, _model(), _data(), seed=4)[2]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_faults_are_isolated():
    def boom(model, data, rng):
        raise RuntimeError("always fails")

    metrics, tags, matrix = run_interaction_method("boom", boom, _model(), _data(), seed=0)
    assert tags["status"] == "failed" and "always fails" in tags["error"] and matrix is None
    assert tags["track"] == "interactions" and set(metrics) == {"seconds", "n_model_evals"}
    asym = lambda m, d, rng: Interactions(matrix=np.triu(np.ones((4, 4)), 1))  # noqa: E731
    _, tags, _ = run_interaction_method("asym", asym, _model(), _data(), seed=0)
    assert tags["status"] == "failed" and "asymmetric" in tags["error"]
    nan = lambda m, d, rng: np.full((4, 4), np.nan)  # noqa: E731
    assert run_interaction_method("nan", nan, _model(), _data(), seed=0)[1]["status"] == "failed"


def test_dataset_without_interaction_truth():
    metrics, tags, matrix = run_interaction_method("inter_random", random_interactions, _model(),
                                                   _data(with_truth=False), seed=0)
    assert tags["status"] == "ok" and "no interaction truth" in tags["score_status"]
    assert "pair_auroc" not in metrics and matrix is not None
    _, tags, _ = run_interaction_method("inter_oracle", oracle_interactions, _model(), _data(False), seed=0)
    assert tags["status"] == "failed" and "no interaction truth" in tags["error"]


def test_suite_runs_on_a_trained_tsang_cell(compose_cfg):
    from varbench.config import resolve_cell
    from varbench.models.trainer import train

    cfg = compose_cfg(["dataset=tsang_f5", "methods=interactions", "methods.inter_h_stat.n_rows=30",
                       "methods.inter_shapley.n_rows=8", "methods.inter_shapley.background_size=8",
                       "methods.inter_sobol2.n_samples=256", "methods.inter_hessian.n_rows=100"])
    spec = resolve_cell(cfg)
    assert set(spec.methods) == SUITE
    assert all(m.returns == "interactions" for m in spec.method_meta.values())
    data = spec.dataset
    model = train(spec.build, data.X_train, data.y_train, data.task, spec.seed, spec.trainer)
    for name, fn in spec.methods.items():
        metrics, tags, matrix = run_interaction_method(name, fn, model, data, spec.seed)
        assert tags["status"] == "ok", (name, tags)
        assert 0 <= metrics["pair_auroc"] <= 1 and metrics["n_true_pairs"] == 8.0, name
        assert np.all(matrix >= 0) and np.all(np.diag(matrix) == 0), name
        if name != "inter_nid" and name != "inter_random":
            assert metrics["n_model_evals"] > 0, name
    metrics, _, _ = run_interaction_method("inter_oracle", oracle_interactions, model, data, spec.seed)
    assert metrics["pair_auroc"] == 1.0 and metrics["pair_ap"] == 1.0


@pytest.mark.parametrize("name", sorted(SUITE | {"inter_oracle"}))
def test_each_method_config_composes(compose_cfg, name):
    cfg = compose_cfg(["dataset=tsang_f1", f"methods=[{name}]"])
    assert list(cfg.methods) == [name] and cfg.methods[name]["_target_"].startswith("varbench.interactions.")


def test_dispatch_follows_the_metadata():
    from varbench.registry import MethodMeta
    from varbench.runner import run_method

    def plain(m, d, rng):  # no metadata, returns Interactions: recognised by its result
        return Interactions(matrix=pair_matrix([{0, 1}], 4))

    _, tags, _ = run_method("user_pairs", plain, _model(), _data(), seed=0)
    assert tags["track"] == "interactions" and tags["returns"] == "interactions"
    _, tags, _ = run_method("user_vec", lambda m, d, rng: np.ones(4), _model(), _data(), seed=0)
    assert tags["track"] == "main" and tags["returns"] == "importance" and tags["role"] == "method"
    _, tags, _ = run_method("declared", lambda m, d, rng: np.ones(4), _model(), _data(), seed=0,
                            meta=MethodMeta(returns="interactions"))
    assert tags["track"] == "interactions" and tags["status"] == "failed"  # a vector is no pair matrix


def test_the_study_runs_on_the_runner(compose_cfg, tmp_path):
    """`+experiment=interactions` is an ordinary study: its cells go through run_cell (MLflow,
    cache), interaction runs are logged as kind=interaction with the study tag."""
    from varbench.runner import run_cell
    from varbench.tracking import fetch_table

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = compose_cfg(["+experiment=interactions", "dataset=tsang_f5", "dataset.n_samples=400", "model=mlp_nid",
                       "trainer.epochs=2", "trainer.patience=0", "trainer.progress_every=0", "cache.dir=null",
                       f"tracking.uri={uri}", "methods=[inter_nid,inter_random,inter_oracle]"])
    assert cfg.model.l1 == 1e-4 and cfg.model.hidden == [256, 128, 64] and cfg.study == "interactions"
    result = run_cell(cfg, names={"dataset": "tsang_f5", "model": "mlp_nid"})
    assert [r["method"] for r in result.rows] == ["inter_nid", "inter_random", "inter_oracle"]
    runs = fetch_table(uri, "varbench", "tags.study = 'interactions'", kind="interaction")
    assert sorted(runs["method"]) == ["inter_nid", "inter_oracle", "inter_random"]
    assert set(runs["role"]) == {"method", "floor", "ceiling"} and set(runs["track"]) == {"interactions"}
    assert runs.loc[runs.method == "inter_oracle", "pair_auroc"].item() == 1.0


def test_build_mlp_l1_penalises_every_kernel():
    from varbench.models.mlp import build_mlp

    net = build_mlp(3, "regression", hidden=(4,), l1=0.5)
    assert [type(layer.kernel_regularizer).__name__ for layer in net.layers[1:]] == ["L1L2", "L1"]
    assert build_mlp(3, "regression", hidden=(4,)).layers[-1].kernel_regularizer is None
    with pytest.raises(ValueError, match="model.l1=-1"):
        build_mlp(3, "regression", l1=-1)
