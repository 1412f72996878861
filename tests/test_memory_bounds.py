"""Methods that build large perturbed batches cut them to the engine's chunk size: the same
numbers come out, and no single model call is larger than the chunk."""
import numpy as np

from exact import dataset, mlp_net
from varbench.methods.base import as_attribution
from varbench.methods.gradients import integrated_gradients
from varbench.methods.perturbation import permutation


def _spy(model):
    """Record the rows of every engine call (predict, gradient, loss all go through `_run`)."""
    sizes = []
    real = model._run

    def wrapped(kind, X):
        sizes.append(len(X))
        return real(kind, X)

    model._run = wrapped
    return sizes


def _net():
    rng = np.random.default_rng(0)
    return mlp_net([(rng.normal(size=(4, 8)), rng.normal(size=8)), (rng.normal(size=(8, 1)), np.zeros(1))],
                   activation="tanh")


def test_integrated_gradients_and_permutation_respect_the_chunk_size():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    data = dataset(X, X.sum(axis=1))
    big, small = _net(), _net()
    small.chunk_size = 256
    sizes = _spy(small)
    for method, kw in ((integrated_gradients, {"n_rows": 100, "steps": 16}),
                       (permutation, {"n_rows": None, "n_repeats": 4})):
        a = as_attribution(method(big, data, np.random.default_rng(3), **kw), 4)
        sizes.clear()
        b = as_attribution(method(small, data, np.random.default_rng(3), **kw), 4)
        np.testing.assert_allclose(a.importance, b.importance, rtol=1e-6, atol=1e-9)
        assert max(sizes) <= 300 + 1  # never a whole repeats x rows (1200) or rows x steps (1600) batch
        assert len(sizes) > 2
