import numpy as np

from exact import function_net, linear_net, mlp_net


def test_linear_net_is_exact():
    m = linear_net([1.0, -2.0, 0.5], b=0.25)
    X = np.array([[1, 1, 1], [0, 2, -4]], np.float32)
    np.testing.assert_allclose(m.predict(X), [-0.25, -5.75], rtol=1e-6)
    np.testing.assert_allclose(m.gradient(X), [[1, -2, 0.5]] * 2, rtol=1e-6)
    assert m.n_evals == 4


def test_mlp_and_function_nets():
    W1 = np.array([[1.0, -1.0], [2.0, 0.0]]); b1 = np.array([0.0, 1.0])
    W2 = np.array([[1.0], [3.0]]); b2 = np.array([0.5])
    m = mlp_net([(W1, b1), (W2, b2)])
    x = np.array([[1.0, 1.0]], np.float32)
    h = np.maximum(x @ W1 + b1, 0)
    np.testing.assert_allclose(m.predict(x), (h @ W2 + b2)[:, 0], rtol=1e-6)
    f = function_net(lambda z: z[:, 0] * z[:, 1], 2)
    np.testing.assert_allclose(f.predict(np.array([[2, 3]], np.float32)), [6.0])
