import numpy as np
import pytest

from varbench.datasets.synthetic import linear
from varbench.models.mlp import build_mlp
from varbench.models.trainer import DivergedError, TrainerConfig, train


def _build(hidden=(16,), **kw):
    return lambda n, task: build_mlp(n, task, hidden=hidden, **kw)


def test_learns_linear_problem_and_is_deterministic():
    d = linear(n_samples=600, seed=0)
    cfg = TrainerConfig(epochs=30, batch_size=32, lr=0.01, patience=5, progress_every=0)
    a = train(_build(dropout=0.1, l2=1e-4), d.X_train, d.y_train, d.task, 3, cfg, d.X_test, d.y_test)
    b = train(_build(dropout=0.1, l2=1e-4), d.X_train, d.y_train, d.task, 3, cfg, d.X_test, d.y_test)
    assert a.quality["r2"] > 0.9
    for wa, wb in zip(a.keras.get_weights(), b.keras.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_early_stopping_restores_best_weights():
    from varbench.models.loop import fit_compiled, output_loss
    import keras

    d = linear(n_samples=400, seed=1)
    net = build_mlp(d.n_features, "regression", hidden=(8,))
    hist = fit_compiled(net, keras.optimizers.Adam(0.05), "regression", d.X_train[:200], d.y_train[:200],
                        d.X_train[200:], d.y_train[200:], epochs=40, batch_size=16, patience=3,
                        rng=np.random.default_rng(0))
    assert len(hist.val_loss) <= 40 and hist.best_epoch == int(np.argmin(hist.val_loss))
    final = float(output_loss("regression")(d.y_train[200:], net(d.X_train[200:], training=False)))
    assert final == pytest.approx(min(hist.val_loss), rel=1e-5)


def test_classification_and_divergence():
    d = linear(n_samples=600, task="classification", seed=2)
    cfg = TrainerConfig(epochs=20, lr=0.01, progress_every=0)
    m = train(_build(), d.X_train, d.y_train, d.task, 0, cfg, d.X_test, d.y_test)
    assert m.quality["auc"] > 0.9 and 0.5 < m.quality["accuracy"] <= 1
    p = m.predict(d.X_test)
    assert np.all((p >= 0) & (p <= 1))  # explains P(class 1) by default
    huge = TrainerConfig(epochs=5, lr=1e6, optimizer="sgd", progress_every=0)
    r = linear(n_samples=600, seed=2)
    with pytest.raises(DivergedError, match="diverged"):
        train(_build(hidden=(64, 64)), r.X_train, r.y_train * 1e6, r.task, 0, huge)


def test_invalid_trainer_settings_name_the_key():
    with pytest.raises(ValueError, match=r"trainer.batch_size=0 is invalid"):
        TrainerConfig(batch_size=0)
    with pytest.raises(ValueError, match=r"trainer.optimizer='lbfgs' is invalid"):
        TrainerConfig(optimizer="lbfgs")


def test_thread_plan_of_a_job():
    """threads=auto: one intra-op thread, cores / workers inter-op threads; N sets both; None
    leaves TensorFlow's defaults."""
    import os

    from varbench.models.runtime import thread_plan

    cpus = os.cpu_count() or 1
    assert thread_plan("auto") == (1, cpus)
    assert thread_plan("auto", workers=cpus) == (1, 1)
    assert thread_plan("auto", workers=4 * cpus) == (1, 1)
    assert thread_plan(3, workers=2) == (3, 3)
    assert thread_plan(None) is None
