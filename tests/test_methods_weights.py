"""Oracle tests for the weight-based methods: Garson's algorithm and Olden's connection weights."""
import numpy as np
import pytest

from exact import dataset, linear_net, mlp_net
from varbench.methods.weights import connection_weights, garson, olden

DATA = dataset(np.arange(60.0).reshape(20, 3), np.arange(20.0))  # weight methods ignore the data


def _garson_by_hand(W: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Garson (1991) for one hidden layer, written as in the paper: for each hidden unit h,
    input i's share of h's absolute incoming weights times |v_h|; summed over h, then
    normalised over inputs."""
    n_in, n_hid = W.shape
    contrib = np.zeros(n_in)
    for h in range(n_hid):
        incoming = sum(abs(W[r, h]) for r in range(n_in))
        for i in range(n_in):
            contrib[i] += abs(W[i, h]) / incoming * abs(v[h])
    return contrib / contrib.sum()


def test_garson_on_a_3_2_1_network_matches_the_hand_computation():
    W = np.array([[1.0, -2.0], [3.0, 0.5], [-1.0, 1.0]])
    v = np.array([[2.0], [-1.0]])
    m = mlp_net([(W, np.array([0.3, -0.7])), (v, np.array([5.0]))], activation="tanh")
    # hidden sums |w|: 5 and 3.5; contributions 2/5 + 2/3.5, 6/5 + 0.5/3.5, 2/5 + 1/3.5 (total 3)
    expected = np.array([0.4 + 4 / 7, 1.2 + 1 / 7, 0.4 + 2 / 7]) / 3
    np.testing.assert_allclose(_garson_by_hand(W, v[:, 0]), expected)
    ri = garson(m, DATA, None)
    np.testing.assert_allclose(ri, expected, rtol=1e-6)
    assert ri.sum() == pytest.approx(1.0)


def test_garson_keeps_output_weights_and_ignores_signs():
    rng = np.random.default_rng(0)
    W, v = rng.normal(size=(5, 7)), rng.normal(size=(7, 1))
    m = mlp_net([(W, np.zeros(7)), (v, np.zeros(1))])
    np.testing.assert_allclose(garson(m, DATA, None), _garson_by_hand(W, v[:, 0]), rtol=1e-5)
    flipped = mlp_net([(-W, np.zeros(7)), (-v, np.zeros(1))])
    np.testing.assert_allclose(garson(flipped, DATA, None), garson(m, DATA, None), rtol=1e-6)
    # scaling one hidden unit's output weight moves the importances (Garson's |v_h| factor)
    v2 = v.copy(); v2[0] *= 10
    assert not np.allclose(garson(mlp_net([(W, np.zeros(7)), (v2, np.zeros(1))]), DATA, None),
                           garson(m, DATA, None), rtol=1e-3)


def test_garson_deeper_network_follows_the_documented_generalisation():
    rng = np.random.default_rng(1)
    W1, V = rng.normal(size=(4, 6)), rng.normal(size=(6, 1))
    # a second hidden layer that is a scaled permutation has share matrix = the permutation,
    # so the deep result is one-hidden-layer Garson with output weights routed through it
    perm = np.eye(6)[rng.permutation(6)]
    deep = mlp_net([(W1, np.zeros(6)), (3.0 * perm, np.zeros(6)), (V, np.zeros(1))])
    np.testing.assert_allclose(garson(deep, DATA, None), _garson_by_hand(W1, perm @ np.abs(V[:, 0])), rtol=1e-5)
    # by hand for 2-2-2-1
    A = np.array([[1.0, 1.0], [3.0, 0.0]]); B = np.array([[1.0, 2.0], [1.0, 0.0]]); c = np.array([[4.0], [-1.0]])
    m = mlp_net([(A, np.zeros(2)), (B, np.zeros(2)), (c, np.zeros(1))])
    # layer-2 units hold |c| = 4 and 1; layer-2 unit 0 splits its 4 as 1/2, 1/2 over layer-1 units
    # (incoming |B| = 1, 1) and unit 1 gives its 1 to layer-1 unit 0 (incoming 2, 0) -> layer-1
    # units hold 3 and 2; layer-1 unit 0 splits 3 as 1/4, 3/4 (incoming 1, 3) and unit 1 gives
    # its 2 to input 0 -> inputs hold 2.75 and 2.25, i.e. 0.55 and 0.45
    np.testing.assert_allclose(garson(m, DATA, None), [0.55, 0.45], rtol=1e-6)


def test_garson_without_hidden_layer_is_normalised_abs_weights():
    w = np.array([2.0, -1.0, 0.0, 1.0])
    np.testing.assert_allclose(garson(linear_net(w), dataset(np.eye(4), np.arange(4.0)), None),
                               np.abs(w) / 4.0, rtol=1e-6)


def test_olden_on_linear_activation_network_is_the_end_to_end_map():
    rng = np.random.default_rng(2)
    Ws = [rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=(3, 1))]
    m = mlp_net([(W, rng.normal(size=W.shape[1])) for W in Ws], activation="linear")
    data = dataset(rng.normal(size=(30, 4)), np.arange(30.0))
    expected = (Ws[0] @ Ws[1] @ Ws[2])[:, 0]
    np.testing.assert_allclose(connection_weights(m), expected, rtol=1e-5)
    # independent oracle: the network is affine, so its gradient (TensorFlow) is the same map
    np.testing.assert_allclose(connection_weights(m), m.gradient(data.X_test[:1])[0], rtol=1e-4)
    np.testing.assert_allclose(olden(m, data, None), np.abs(expected), rtol=1e-5)


def test_olden_one_hidden_layer_sums_weight_products():
    W = np.array([[1.0, -2.0], [3.0, 0.5], [-1.0, 1.0]]); v = np.array([[2.0], [-1.0]])
    m = mlp_net([(W, np.zeros(2)), (v, np.zeros(1))])
    # c_i = sum_h w_ih v_h: 2 + 2, 6 - 0.5, -2 - 1
    np.testing.assert_allclose(connection_weights(m), [4.0, 5.5, -3.0], rtol=1e-6)
    np.testing.assert_allclose(olden(m, DATA, None), [4.0, 5.5, 3.0], rtol=1e-6)
