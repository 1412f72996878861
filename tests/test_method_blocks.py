"""Issue 18 item 9: one table-driven contract over every registered method (importance,
interactions and selection) at two block sizes of the engine (`TrainedModel.chunk_size`, the one knob of
`TrainedModel.blocks`): identical, non-trivial outputs. And LIME's kernel weights checked against
an independent reference (scikit-learn's weighted Ridge with the lime package's kernel)."""
import numpy as np
import pytest

from varbench.api import method_callable
from varbench.datasets.synthetic import interaction
from varbench.methods.base import Interactions, as_attribution
from varbench.models.mlp import build_mlp
from varbench.models.trainer import TrainerConfig, train
from varbench.registry import registry

METHODS = sorted(registry())
SMALL = {"n_rows": 12, "n_samples": 48, "n_repeats": 2, "n_permutations": 8, "background_size": 8,
         "n_coalitions": 32, "steps": 8, "batch_size": 64, "n_points": 5, "sobol_samples": 64}
BLOCKS = (8192, 37)  # the default, and a block far smaller than the methods' batches


@pytest.fixture(scope="module")
def cell():
    data = interaction(n_samples=160, n_features=5, seed=0)  # has an interaction truth too
    cfg = TrainerConfig(epochs=2, patience=0, progress_every=0)
    model = train(lambda n, t: build_mlp(n, t, hidden=(8,)), data.X_train, data.y_train, data.task, 0, cfg)
    return model, data


def _values(raw, d):
    from varbench.methods.base import Selection

    if isinstance(raw, Interactions):
        return np.asarray(raw.matrix, dtype=float)
    if isinstance(raw, Selection):  # the per-variable statistic (and p-values) the decisions rest on
        parts = [np.asarray(v, dtype=float) for v in (raw.statistic, raw.pvalues) if v is not None]
        return np.concatenate(parts)
    return as_attribution(raw, d).importance


@pytest.mark.parametrize("name", METHODS)
def test_every_method_gives_identical_nontrivial_output_at_two_block_sizes(name, cell):
    model, data = cell
    params = {k: v for k, v in SMALL.items() if k in registry()[name].config}
    fn = method_callable(name, **params)
    out = []
    for size in BLOCKS:
        model.chunk_size = size
        out.append(_values(fn(model, data, np.random.default_rng(11)), data.n_features))
    model.chunk_size = BLOCKS[0]
    # identical up to float rounding (summation order across blocks; TF's kernels on tiny
    # batches): a blocking fault moves values by far more than 1e-7 relative
    np.testing.assert_allclose(out[0], out[1], rtol=1e-7, atol=1e-12)
    assert np.all(np.isfinite(out[0])) and np.ptp(out[0]) > 0, f"{name}: a constant output {out[0]}"


@pytest.mark.parametrize("name", [m for m in METHODS if "trainer" not in registry()[m].meta.needs])
def test_every_method_gives_bitwise_the_same_output_in_one_lane_or_three(name, cell, monkeypatch):
    """The engine's lanes (`map_blocks`) evaluate blocks concurrently: the output and the count
    of model evaluations must be bitwise those of one block after another (methods that
    retrain run their models' evaluations through the same engine; left out for time)."""
    import varbench.models.engine as engine

    model, data = cell
    params = {k: v for k, v in SMALL.items() if k in registry()[name].config}
    fn = method_callable(name, **params)
    out, evals = [], []
    model.chunk_size = BLOCKS[1]  # many blocks, so every batched method has several in flight
    try:
        for lanes in (1, 3):
            monkeypatch.setattr(engine, "_lanes", lambda lanes=lanes: lanes)
            model.n_evals = 0
            out.append(_values(fn(model, data, np.random.default_rng(11)), data.n_features))
            evals.append(model.n_evals)
    finally:
        model.chunk_size = BLOCKS[0]
    assert np.array_equal(out[0], out[1], equal_nan=True), f"{name}: {out[0]} vs {out[1]}"
    assert evals[0] == evals[1]


def test_map_blocks_prepares_in_order_and_returns_in_order():
    """prepare runs block after block in the caller's thread (a random stream drawn there is
    the same whatever the lanes); results come back in block order even when lanes finish out of
    order; work started inside a lane runs inline (no nested pool, no deadlock)."""
    import threading
    import time

    from varbench.models.engine import map_blocks

    caller, seen = threading.get_ident(), []

    def prepare(i):
        assert threading.get_ident() == caller
        seen.append(i)
        return i

    def evaluate(i):
        time.sleep(0.002 * (7 - i))  # early blocks finish last
        inner = map_blocks(list(range(3)), lambda j: j, lambda j: j * 10, lanes=3)
        return i, inner, threading.get_ident()

    got = map_blocks(list(range(8)), prepare, evaluate, lanes=3)
    assert seen == list(range(8))
    assert [g[0] for g in got] == list(range(8)) and all(g[1] == [0, 10, 20] for g in got)
    assert len({g[2] for g in got}) > 1 and caller not in {g[2] for g in got}


def test_lime_weights_match_the_lime_kernel_and_a_reference_ridge():
    """Redo LIME's draws with the same seed and fit scikit-learn's Ridge with the lime package's
    kernel sqrt(exp(-d^2 / width^2)), width = 0.75 sqrt(d): a change of the kernel is caught."""
    from sklearn.linear_model import Ridge

    from exact import dataset, mlp_net
    from varbench.methods.base import sample_rows
    from varbench.methods.surrogate import lime

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32) * np.array([1.0, 3.0, 0.5], np.float32)
    m = mlp_net([(rng.normal(size=(3, 6)), rng.normal(size=6)), (rng.normal(size=(6, 1)), np.zeros(1))],
                activation="tanh")
    data = dataset(X, X[:, 0])
    att = lime(m, data, np.random.default_rng(5), n_rows=4, n_samples=300, alpha=1.0)
    r = np.random.default_rng(5)
    rows = X[sample_rows(200, 4, r)].astype(np.float64)
    mu, sd = X.mean(axis=0).astype(np.float64), X.std(axis=0).astype(np.float64)
    noise = r.standard_normal((4, 300, 3))
    width = 0.75 * np.sqrt(3)
    for i, x in enumerate(rows):
        Zs = (x - mu) / sd + noise[i]
        Zs[0] = (x - mu) / sd
        f = m.predict((Zs * sd + mu).astype(np.float32)).astype(np.float64)
        dist = np.linalg.norm(Zs - Zs[0], axis=1)
        kernel = np.sqrt(np.exp(-(dist**2) / width**2))  # lime_tabular's default kernel
        ref = Ridge(alpha=1.0).fit(Zs, f, sample_weight=kernel).coef_
        np.testing.assert_allclose(att.local[i], ref, rtol=1e-6, atol=1e-8)
