"""Stacked training (varbench.models.stacked) against its oracle, one model at a time
(`trainer.train` with `engine="single"`), and the stack engine's promise: a member is bitwise the
same model in any stack, alone included."""
import dataclasses

import numpy as np
import pytest
from scipy import stats

from varbench.datasets.correlated import correlated_linear
from varbench.datasets.synthetic import friedman1, interaction, linear
from varbench.models.mlp import build_mlp
from varbench.models.stacked import Member, train_stacked, unsupported
from varbench.models.trained import TrainedModel
from varbench.models.trainer import DivergedError, TrainerConfig, train


def _single(cfg):
    """`cfg` training one network by itself (the oracle of these tests)."""
    return dataclasses.replace(cfg, engine="single")


def _build(**kw):
    return lambda n, task, **head: build_mlp(n, task, hidden=(8,), **kw, **head)


def _members(seeds, n=240, task="regression"):
    out = []
    for s in seeds:
        d = linear(n_samples=n, task=task, seed=s)
        out.append(Member(d.X_train, d.y_train, s, d.X_test, d.y_test))
    return out


@pytest.mark.parametrize("task,optimizer", [("regression", "adam"), ("classification", "sgd")])
def test_each_stacked_model_equals_its_solo_training(task, optimizer):
    """Without dropout: same initial weights, splits, shuffles, update rule and early stopping, so
    every model equals its solo training up to float32 rounding (not bitwise: the stack's batched
    matmuls and fused optimizer kernels may round differently)."""
    cfg = TrainerConfig(epochs=25, batch_size=32, lr=0.05 if optimizer == "adam" else 0.1, optimizer=optimizer,
                        patience=2, progress_every=0)
    build = _build(l2=1e-3, l1=1e-4 if task == "classification" else 0.0)
    members = _members([0, 1, 2], task=task)
    stacked = train_stacked(build, task, cfg, members)
    epochs = []
    for m, got in zip(members, stacked):
        solo = train(build, m.X, m.y, task, m.seed, _single(cfg), m.X_test, m.y_test)
        assert isinstance(got, TrainedModel) and got.quality["epochs"] == solo.quality["epochs"]
        for a, b in zip(got.keras.get_weights(), solo.keras.get_weights()):
            np.testing.assert_allclose(a, b, atol=2e-4, rtol=1e-3)
        for key in solo.quality:
            assert got.quality[key] == pytest.approx(solo.quality[key], rel=1e-3, abs=1e-4), key
        epochs.append(solo.quality["epochs"])
    if task == "regression":
        assert min(epochs) < cfg.epochs  # early stopping took place in at least one model


def test_a_diverging_model_fails_alone():
    cfg = TrainerConfig(epochs=5, batch_size=32, lr=0.01, patience=0, progress_every=0)
    ok, bad = _members([0, 1])
    bad = Member(bad.X, bad.y * 1e30, bad.seed)  # squared error overflows float32
    good, failed = train_stacked(_build(), "regression", cfg, [ok, bad])
    assert isinstance(failed, DivergedError) and "diverged" in str(failed)
    with pytest.raises(DivergedError):
        train(_build(), bad.X, bad.y, "regression", bad.seed, _single(cfg))
    with pytest.raises(DivergedError):
        train(_build(), bad.X, bad.y, "regression", bad.seed, cfg)  # the stack engine, a stack of one
    solo = train(_build(), ok.X, ok.y, "regression", ok.seed, _single(cfg))
    for a, b in zip(good.keras.get_weights(), solo.keras.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-4, rtol=1e-3)


def test_dropout_models_equal_solo_in_distribution_and_ignore_their_stack():
    """With dropout a stack cannot replay Keras's mask stream: each model draws masks from its own
    seed. Its result must not depend on the other members, and test losses over seeds must match
    solo training in distribution."""
    cfg = TrainerConfig(epochs=15, batch_size=32, lr=0.01, patience=0, val_fraction=0.0, progress_every=0)
    build = _build(dropout=0.2)
    seeds = list(range(8))
    data = [friedman1(n_samples=300, seed=s) for s in seeds]
    members = [Member(d.X_train, d.y_train, s, d.X_test, d.y_test) for s, d in zip(seeds, data)]
    stacked = train_stacked(build, "regression", cfg, members)
    alone = train_stacked(build, "regression", cfg, members[:1])[0]
    for a, b in zip(stacked[0].keras.get_weights(), alone.keras.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    solo = [train(build, d.X_train, d.y_train, d.task, s, _single(cfg), d.X_test, d.y_test)
            for s, d in zip(seeds, data)]
    r2_stack = [m.quality["r2"] for m in stacked]
    r2_solo = [m.quality["r2"] for m in solo]
    assert stats.ttest_rel(r2_stack, r2_solo).pvalue > 0.01
    assert abs(np.mean(r2_stack) - np.mean(r2_solo)) < 0.05


def test_a_member_is_bitwise_the_same_model_in_any_stack():
    """What makes stacked pre-training change no result: a model trained alone (`train`, engine
    "stack": a stack of one) is bitwise the member it is in stacks of other sizes, orders, input
    widths (zero-padded) and lanes, with dropout, L2, early stopping and stopped members dropping
    out (min_drop=1), or computed to the end (shrink=False)."""
    cfg = TrainerConfig(epochs=40, batch_size=32, lr=0.01, patience=3, progress_every=0)
    build = _build(dropout=0.1, l2=1e-3)
    data = [linear(n_samples=240, n_features=8, seed=0), correlated_linear(n_samples=240, n_features=10, seed=1),
            interaction(n_samples=240, n_features=6, seed=2), linear(n_samples=240, n_features=8, seed=3)]
    members = [Member(d.X_train, d.y_train, s, d.X_test, d.y_test) for s, d in enumerate(data)]
    alone = [train(build, m.X, m.y, "regression", m.seed, cfg, m.X_test, m.y_test) for m in members]
    assert all(isinstance(m, TrainedModel) for m in alone)
    epochs = {m.quality["epochs"] for m in alone}
    assert len(epochs) > 1 and min(epochs) < cfg.epochs  # members stop at different epochs
    stacks = [(members, {"min_drop": 1, "lanes": 2}), (members[::-1], {"min_drop": 1, "lanes": 1}),
              (members[1:3], {"shrink": False})]
    for stack, kw in stacks:
        for m, got in zip(stack, train_stacked(build, "regression", cfg, stack, **kw)):
            want = alone[m.seed]
            assert got.quality == want.quality
            for a, b in zip(got.keras.get_weights(), want.keras.get_weights()):
                np.testing.assert_array_equal(a, b)
    single = train(build, members[0].X, members[0].y, "regression", 0, _single(cfg), members[0].X_test,
                   members[0].y_test)
    assert any(not np.array_equal(a, b) for a, b in zip(single.keras.get_weights(), alone[0].keras.get_weights()))


def test_stacked_model_runs_methods_like_any_model():
    from varbench.methods.perturbation import permutation

    d = linear(n_samples=240, seed=0)
    cfg = TrainerConfig(epochs=3, batch_size=32, progress_every=0)
    (model,) = train_stacked(_build(), d.task, cfg, [Member(d.X_train, d.y_train, 0, d.X_test, d.y_test)])
    imp = permutation(model, d, np.random.default_rng(0), n_repeats=2).importance
    assert imp.shape == (d.n_features,) and np.all(np.isfinite(imp))
    lone = train(_build(), d.X_train, d.y_train, d.task, 0, cfg, d.X_test, d.y_test)  # the stack engine
    assert lone.refit is not None and lone.refit(d.X_train, d.y_train).quality["epochs"] == 3.0


def test_unsupported_networks_and_settings_are_named():
    import keras

    def batchnorm(n, task):
        x = keras.Input((n,))
        return keras.Model(x, keras.layers.Dense(1)(keras.layers.BatchNormalization()(x)))

    def skip(n, task):
        x = keras.Input((n,))
        h = keras.layers.Dense(n)(x)
        return keras.Model(x, keras.layers.Dense(1)(keras.layers.Add()([x, h])))

    cfg = TrainerConfig()
    assert "BatchNormalization" in unsupported(batchnorm, 3, "regression", cfg)
    assert "Add" in unsupported(skip, 3, "regression", cfg)
    assert "optimizer='rmsprop'" in unsupported(_build(), 3, "regression", TrainerConfig(optimizer="rmsprop"))
    assert unsupported(_build(dropout=0.1, l2=1e-3), 3, "regression", cfg) is None
    with pytest.raises(ValueError, match="different data shapes"):
        train_stacked(_build(), "regression", cfg, _members([0]) + _members([1], n=300))


@pytest.mark.parametrize("task", ["regression", "classification", "multiclass"])
def test_quality_from_the_stack_equals_the_returned_models_own(task, lanes=2):
    """The stack measures every member's test quality in one pass; each must equal what the
    returned model measures on its own (`trainer.quality`). Multiclass heads are sized from the
    labels as `trainer.train` sizes them."""
    from varbench.models.trainer import quality

    cfg = TrainerConfig(epochs=4, batch_size=32, lr=0.01, patience=2, progress_every=0)
    members = [Member(d.X_train, d.y_train, s, d.X_test, d.y_test)
               for s, d in ((s, _data(task, s)) for s in range(3))]
    models = train_stacked(_build(), task, cfg, members, lanes=lanes)
    assert unsupported(_build(), members[0].X.shape[1], task, cfg, members[0].y) is None
    for m, got in zip(members, models):
        assert got.task == task
        own = quality(got, m.X_test, m.y_test)
        for key, value in own.items():
            assert got.quality[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key


def _data(task, seed):
    if task != "multiclass":
        return linear(n_samples=240, task=task, seed=seed)
    from varbench.datasets.base import Dataset  # noqa: F401 - three classes from a linear score
    d = linear(n_samples=240, seed=seed)
    cut = np.quantile(np.concatenate([d.y_train, d.y_test]), [1 / 3, 2 / 3])
    import dataclasses

    return dataclasses.replace(d, y_train=np.digitize(d.y_train, cut).astype(float),
                               y_test=np.digitize(d.y_test, cut).astype(float), task="multiclass")


def test_lanes_do_not_change_a_models_result():
    """A stack cut into lanes (sub-stacks run concurrently) gives every model the result of one
    lane holding them all, up to float32 rounding of the batched matmuls."""
    cfg = TrainerConfig(epochs=6, batch_size=32, lr=0.01, patience=2, progress_every=0)
    members = _members([0, 1, 2, 3])
    one = train_stacked(_build(), "regression", cfg, members, lanes=1)
    three = train_stacked(_build(), "regression", cfg, members, lanes=3)
    for a, b in zip(one, three):
        assert a.quality["epochs"] == b.quality["epochs"]
        for wa, wb in zip(a.keras.get_weights(), b.keras.get_weights()):
            np.testing.assert_allclose(wa, wb, atol=1e-5, rtol=1e-4)


def _solo_init(build, m, task="regression"):
    from varbench.models.trainer import set_seed

    set_seed(m.seed)
    return build(m.X.shape[1], task).get_weights()


@pytest.mark.parametrize("kw", [{}, {"dropout": 0.2, "l2": 1e-3}])
def test_stack_members_start_from_bitwise_their_solo_initial_weights(kw):
    """Members after the first are seeded without TensorFlow's global seed (it plays no part in
    Keras's initial weights): each network must still start bitwise as `trainer.train` builds it."""
    from varbench.models.stacked import _seeded_builds

    build, members = _build(**kw), _members([3, 0, 7, 1])
    nets = _seeded_builds(build, "regression", members)
    for m, net in zip(members, nets):
        for a, b in zip(net.get_weights(), _solo_init(build, m)):
            assert np.array_equal(a, b)


def test_a_builder_drawing_from_tensorflows_global_seed_gets_the_full_seed_per_member():
    """A builder whose weights depend on TensorFlow's global seed fails the first-member check,
    so every member is seeded in full: still bitwise its solo initial weights."""
    import keras
    import tensorflow as tf

    from varbench.models.stacked import _seeded_builds

    def build(n, task, **head):
        inputs = keras.Input((n,))
        init = keras.initializers.Constant(float(tf.random.uniform([]).numpy()))  # TF's global stream
        return keras.Model(inputs, keras.layers.Dense(1, kernel_initializer=init)(inputs))

    members = _members([5, 6, 9])
    nets = _seeded_builds(build, "regression", members)
    firsts = []
    for m, net in zip(members, nets):
        solo = _solo_init(build, m)
        for a, b in zip(net.get_weights(), solo):
            assert np.array_equal(a, b)
        firsts.append(solo[0].flat[0])
    assert len(set(firsts)) == 3  # the seeds give different weights: the check is not vacuous


@pytest.mark.parametrize("kw", [{}, {"dropout": 0.1}])
def test_stopped_members_drop_out_and_keep_their_results(kw):
    """Members stopping at different epochs leave the stack (it shrinks as the live count halves):
    every member's weights and quality equal those of the stack that keeps computing stopped
    members to the end (the previous behaviour; measured bitwise, tolerance 1e-6 for float32
    rounding of batched matmuls of another batch size), and the stack computes fewer member-epochs."""
    cfg = TrainerConfig(epochs=30, batch_size=32, lr=0.02, patience=2, progress_every=0)
    build = _build(**kw)
    members = _members(range(6))
    kept, dropped = {}, {}
    full = train_stacked(build, "regression", cfg, members, lanes=2, shrink=False, stats=kept)
    shrunk = train_stacked(build, "regression", cfg, members, lanes=2, min_drop=1, stats=dropped)
    epochs = [m.quality["epochs"] for m in full]
    assert len(set(epochs)) > 2  # members stop at different epochs
    assert kept["member_epochs"] == len(members) * max(epochs) and kept["shrinks"] == 0
    assert dropped["shrinks"] >= 1 and dropped["member_epochs"] < kept["member_epochs"]
    assert dropped["member_epochs"] <= 2 * sum(epochs)  # a stack never holds more than twice its live members
    for a, b in zip(full, shrunk):
        assert a.quality["epochs"] == b.quality["epochs"]
        for wa, wb in zip(a.keras.get_weights(), b.keras.get_weights()):
            np.testing.assert_allclose(wa, wb, atol=1e-6, rtol=1e-6)
        for key in a.quality:
            assert b.quality[key] == pytest.approx(a.quality[key], rel=1e-6, abs=1e-6), key


def test_stacks_of_one_shape_trace_once():
    """The compiled functions take the stack as arguments: a second stack of the same architecture,
    settings and lane sizes (other seeds and data) reuses the first one's trace."""
    from varbench.models import stacked

    cfg = TrainerConfig(epochs=2, batch_size=32, lr=0.011, patience=0, progress_every=0)
    train_stacked(_build(), "regression", cfg, _members([0, 1]), lanes=1)
    graphs = next(g for k, g in stacked._GRAPHS.items() if k[3] == 0.011)
    traced = graphs.epoch.experimental_get_tracing_count()
    train_stacked(_build(), "regression", cfg, _members([4, 5]), lanes=1)
    assert graphs.epoch.experimental_get_tracing_count() == traced == 1


def test_members_of_other_input_widths_share_a_stack_exactly():
    """Inputs zero-padded to the widest member meet zero first-layer rows that stay zero, so each
    member trains as in a stack of its own width: same epochs, weights equal up to float32
    rounding (matmuls of another inner size), kernels returned at the member's own width."""
    cfg = TrainerConfig(epochs=8, batch_size=32, lr=0.02, patience=2, progress_every=0)
    build = _build(l1=1e-4)
    data = [linear(n_samples=240, n_features=d, n_relevant=2, seed=s) for s, d in ((0, 3), (1, 6), (2, 3), (3, 5))]
    members = [Member(d.X_train, d.y_train, s, d.X_test, d.y_test) for s, d in enumerate(data)]
    mixed = train_stacked(build, "regression", cfg, members, lanes=1)
    for m, got in zip(members, mixed):
        alone = train_stacked(build, "regression", cfg, [m], lanes=1)[0]
        assert got.keras.get_weights()[0].shape == (m.X.shape[1], 8)
        assert got.quality["epochs"] == alone.quality["epochs"]
        for a, b in zip(got.keras.get_weights(), alone.keras.get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)
        for key in alone.quality:
            assert got.quality[key] == pytest.approx(alone.quality[key], rel=1e-4, abs=1e-5), key
