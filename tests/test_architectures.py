"""The harness's non-MLP architectures (mlp_embed, resmlp, ft_transformer): they build on small
shapes for every head, train through the shared trainer and find the planted variables,
round-trip through the model cache in safe mode, keep their own engine trace with gradients
that match finite differences, are never stacked, and the weight-reading methods refuse them."""
from types import SimpleNamespace

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from conftest import CONF_DIR
from varbench.config import ConfigError, resolve_cell
from varbench.datasets.categorical import categorical
from varbench.methods.gradients import deeplift, integrated_gradients
from varbench.methods.interactions import nid
from varbench.methods.perturbation import permutation
from varbench.methods.shapley import kernel_shap
from varbench.methods.surrogate import lime
from varbench.methods.variables import explain
from varbench.methods.weights import first_layer, garson, olden
from varbench.models.cache import load_or_train
from varbench.models.embedding import build_mlp_embed
from varbench.models.engine import architecture_key
from varbench.models.ft_transformer import build_ft_transformer
from varbench.models.layout import GroupedBuild, bind_groups, column_layout
from varbench.models.resmlp import build_resmlp
from varbench.models.trainer import TrainerConfig, train
from varbench.pretrain import Cell, pretrain

SMALL = {"mlp_embed": (build_mlp_embed, {"embed_dim": 3, "hidden": [16]}),
         "resmlp": (build_resmlp, {"d_main": 16, "d_hidden": 32, "n_blocks": 1}),
         "ft_transformer": (build_ft_transformer, {"d_token": 8, "n_blocks": 1, "n_heads": 2})}
KINDS = sorted(SMALL)


def small(kind):
    build, kw = SMALL[kind]
    return lambda n_features, task, **rest: build(n_features, task, **kw, **rest)


@pytest.fixture(scope="module")
def planted():
    """y = 2 x0 + x1 + e[colour]: x0, x1 and colour relevant, x2 and x3 not."""
    return categorical(n_samples=600, seed=1)


@pytest.fixture(scope="module")
def trained(planted):
    """Each kind trained on the planted data through the shared trainer (few epochs)."""
    cfg = TrainerConfig(epochs=40, patience=8, progress_every=0)
    return {kind: train(bind_groups(small(kind), planted.X_train, planted.groups), planted.X_train,
                        planted.y_train, planted.task, 0, cfg, planted.X_test, planted.y_test) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("task,k", [("regression", 1), ("classification", 1), ("multiclass", 3)])
def test_builds_on_small_shapes_for_every_head(kind, task, k):
    build, kw = SMALL[kind]
    head = {"n_outputs": k} if task == "multiclass" else {}
    for groups in (None, {"c": [2, 3, 4]}, {"a": [0, 1], "b": [2, 3, 4]}):  # none, some, every column grouped
        net = build(5, task, **kw, **head, **({"groups": groups} if kind != "resmlp" else {}))
        assert tuple(net(np.zeros((2, 5), np.float32), training=False).shape) == (2, k)


@pytest.mark.parametrize("kind", KINDS)
def test_planted_variables_come_out_on_top(kind, planted, trained):
    model = trained[kind]
    assert model.quality["r2"] > 0.9, model.quality
    names = [name for name, _ in planted.variables]
    relevant = {"x0", "x1", "colour"}
    for name, fn, rule in (("permutation", permutation, "joint"), ("kernel_shap", kernel_shap, "joint"),
                           ("integrated_gradients", integrated_gradients, "sum"), ("lime", lime, "joint")):
        imp = explain(name, fn, model, planted, np.random.default_rng(0), rule).importance
        top = {names[i] for i in np.argsort(-imp)[:len(relevant)]}
        assert top == relevant, (name, dict(zip(names, np.round(imp, 3))))


@pytest.mark.parametrize("kind", KINDS)
def test_weight_methods_nid_and_deeplift_refuse_in_one_line(kind, planted, trained):
    model = trained[kind]
    for fn in (first_layer, garson, olden, deeplift, nid):
        with pytest.raises(ValueError, match=r": the network must be one chain of Dense, Activation, Dropout "
                                             r"layers \(an MLP\); layer ") as info:
            fn(model, planted, np.random.default_rng(0))
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", KINDS)
def test_own_trace_and_gradients_match_finite_differences(kind, planted, trained):
    model = trained[kind]
    assert architecture_key(model.keras) is None  # never shares a trace with a Dense stack
    X = planted.X_test[:4].astype(np.float64)
    G = model.gradient(X)
    h, f0 = 1e-3, model.predict(X).astype(np.float64)
    for j in range(X.shape[1]):
        E = np.zeros_like(X)
        E[:, j] = h
        right, left = (model.predict(X + E) - f0) / h, (f0 - model.predict(X - E)) / h
        # a ReLU kink may lie on one side of x: the gradient is then that of the other side
        err = np.minimum(np.abs(G[:, j] - right), np.abs(G[:, j] - left))
        assert np.all(err < 1e-2 * (1 + np.abs(right).max())), (j, G[:, j], left, right)
    assert np.abs(G).max() > 0.1  # the gradients are not all zero


@pytest.mark.parametrize("kind", KINDS)
def test_cache_round_trip_in_safe_mode_and_same_seed_same_model(kind, planted, tmp_path):
    spec = SimpleNamespace(dataset=planted, build=bind_groups(small(kind), planted.X_train, planted.groups),
                           seed=0, trainer=TrainerConfig(epochs=2, patience=0, progress_every=0),
                           cache_dir=str(tmp_path), model_hash=f"arch_{kind}")
    fresh, cached = load_or_train(spec)
    assert not cached
    loaded, cached = load_or_train(spec)
    assert cached and type(loaded.keras.layers[1]).__name__ == type(fresh.keras.layers[1]).__name__
    np.testing.assert_array_equal(loaded.predict(planted.X_test), fresh.predict(planted.X_test))
    # same seed, same network: dropout (resmlp, the attention) draws from Keras's seeded stream
    again = train(spec.build, planted.X_train, planted.y_train, planted.task, 0, spec.trainer)
    np.testing.assert_array_equal(again.predict(planted.X_test), fresh.predict(planted.X_test))


@pytest.mark.parametrize("kind", KINDS)
def test_never_stacked_and_left_to_their_jobs(kind, planted, tmp_path):
    build = bind_groups(small(kind), planted.X_train, planted.groups)
    cells = [Cell(SimpleNamespace(dataset=planted, build=build, seed=s, trainer=TrainerConfig(epochs=2),
                                  cache_dir=str(tmp_path), model_hash=f"{kind}{s}", dataset_name="categorical",
                                  model_name=kind), {"kind": kind}, {}) for s in (0, 1)]
    stats = pretrain(cells)
    assert stats["stacks"] == 0 and stats["stacked_models"] == 0
    assert not list(tmp_path.iterdir())  # nothing stored: each job trains its own model


def test_groups_are_bound_from_the_data_and_checked():
    X = np.array([[0.3, 1, 0, 0], [-1.0, 0, 0, 1], [2.0, 0, 1, 0]])
    bound = bind_groups(build_mlp_embed, X, {"c": [1, 2, 3]})
    assert isinstance(bound, GroupedBuild) and bound.groups == {"c": [1, 2, 3]}
    assert bind_groups(build_resmlp, X, {"c": [1, 2, 3]}) is build_resmlp  # takes no groups
    assert bind_groups(build_mlp_embed, X, None) is build_mlp_embed  # no groups: refits on subsets work
    with pytest.raises(ValueError, match=r"group 'c' \(columns \[1, 2, 3\]\) is not one-hot"):
        bind_groups(build_mlp_embed, X * 2, {"c": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"n_features=3 is invalid for this model.*column subset"):
        bound(3, "regression")  # a refit without one column: the blocks have moved
    with pytest.raises(ValueError, match=r"groups\['c'\]=\[1, 4\] is invalid for 4 input columns"):
        column_layout(4, {"c": [1, 4]})


def test_the_harness_config_binds_groups_and_refuses_them_set(compose_cfg):
    spec = resolve_cell(compose_cfg(["model=mlp_embed", "dataset=categorical"]), check_model=False)
    assert isinstance(spec.build, GroupedBuild) and spec.build.groups == {"colour": [4, 5, 6, 7]}
    with pytest.raises(ConfigError, match=r"model.groups=.* is invalid: the groups are the dataset's one-hot"):
        resolve_cell(compose_cfg(["model=ft_transformer", "dataset=categorical", "+model.groups={a: [0, 1]}"]),
                     check_model=False)


def test_a_table_with_a_string_column_gets_one_embedding_per_categorical(tmp_path):

    rng = np.random.default_rng(0)
    city = rng.choice(["lyon", "oslo", "rome"], size=120)
    x = rng.normal(size=120)
    rows = [f"{a:.4f},{c},{a + (c == 'oslo'):.4f}" for a, c in zip(x, city)]
    (tmp_path / "t.csv").write_text("x,city,y\n" + "\n".join(rows) + "\n")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["model=mlp_embed", "dataset=table", f"dataset.path={tmp_path / 't.csv'}",
                                           "dataset.target=y", "cache.dir=null",
                                           f"tracking.uri=sqlite:///{tmp_path}/m.db"])
    spec = resolve_cell(cfg)  # builds the network once on the data's shape
    assert spec.build.groups == {"city": [1, 2, 3]}
    net = spec.build(spec.dataset.n_features, spec.dataset.task)
    assert net.get_layer("embedding").get_config()["groups"] == [[1, 2, 3]]

