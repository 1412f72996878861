"""Oracle tests of the truth-free metrics (varbench.truth_free): each against a value computed in
closed form, by hand, for a linear network f(x) = w.x whose value function is known exactly."""
import re

import numpy as np
import pytest
from exact import dataset, linear_net
from scipy import stats

from varbench.methods.base import Attribution
from varbench.methods.gradients import grad_input
from varbench.scoring import METRIC_INFO, metrics_of_kind
from varbench.truth_free.evaluate import FAMILIES, truth_free_k, truth_free_scores
from varbench.truth_free.curves import auc, curve_scores, step_masks, variable_order
from varbench.truth_free.local import faithfulness_infidelity, max_sensitivity
from varbench.truth_free.roar import roar_scores
from varbench.truth_free.sanity import randomized_model

W = np.array([3.0, -1.0, 0.5, 0.0])


def _rows(n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(8, d)).astype(np.float32)


def _by_hand_loss(X, y, bg, hidden):
    """Squared error of v_x(S) = sum_{kept} w x + sum_{hidden} w mean(b), in closed form."""
    Xv = X.astype(np.float64).copy()
    Xv[:, hidden] = bg.astype(np.float64).mean(axis=0)[hidden]
    return float(np.mean((Xv @ W - y) ** 2))


def test_curves_match_the_closed_form_of_a_linear_network():
    X, bg = _rows()
    y = X.astype(np.float64) @ W + 0.3  # an offset: the full model is not perfect
    model = linear_net(W)
    order = np.array([0, 1, 2, 3])
    got = curve_scores(model, X, y, bg, order, np.arange(4), k=2)
    L_del = [_by_hand_loss(X, y, bg, list(order[:t])) for t in range(5)]
    L_ins = [_by_hand_loss(X, y, bg, list(order[t:])) for t in range(5)]
    span = L_del[4] - L_del[0]
    dele = (np.array(L_del) - L_del[0]) / span
    ins = (L_del[4] - np.array(L_ins)) / span
    trap = lambda c: sum((c[i] + c[i + 1]) / 2 for i in range(4)) / 4  # noqa: E731
    assert got.deletion_auc == pytest.approx(trap(dele), rel=1e-5)
    assert got.insertion_auc == pytest.approx(trap(ins), rel=1e-5)
    # PGI/PGU: mean over rows and background rows of |f(x) - f(x with the hidden columns from b)|
    diff = (X[:, None, :] - bg[None, :, :]).astype(np.float64) * W
    assert got.pgi == pytest.approx(np.mean(np.abs(diff[..., :2].sum(-1))), rel=1e-5)
    assert got.pgu == pytest.approx(np.mean(np.abs(diff[..., 2:].sum(-1))), rel=1e-5)
    # the true order beats its reverse on every score
    rev = curve_scores(model, X, y, bg, order[::-1].copy(), np.arange(4), k=2)
    assert got.deletion_auc > rev.deletion_auc and got.insertion_auc > rev.insertion_auc
    assert got.pgi > rev.pgi and got.pgu < rev.pgu


def test_conditional_deletion_matches_the_gaussian_closed_form():
    """E[loss | x_R hidden] = w_R' Sigma_{R|K} w_R (1 + 1/B) for y = w.x: the normalised curve is
    w_R' Sigma_{R|K} w_R / w' Sigma w."""
    rng = np.random.default_rng(1)
    sigma = np.array([[1, .8, 0, 0], [.8, 1, 0, 0], [0, 0, 1, .5], [0, 0, .5, 1.]])
    X = rng.multivariate_normal(np.zeros(4), sigma, 4000).astype(np.float32)
    y = X.astype(np.float64) @ W
    order = np.array([0, 1, 2, 3])
    got = curve_scores(linear_net(W), X, y, np.zeros((16, 4), np.float32), order, np.arange(4), 2,
                       conditional=(np.zeros(4), sigma), rng=rng)
    expect = []
    for t in range(5):
        R, K = order[:t], order[t:]
        cond = sigma[np.ix_(R, R)] - sigma[np.ix_(R, K)] @ np.linalg.solve(sigma[np.ix_(K, K)], sigma[np.ix_(K, R)]) \
            if len(K) else sigma[np.ix_(R, R)]
        expect.append(W[R] @ cond @ W[R] / (W @ sigma @ W) if t else 0.0)
    np.testing.assert_allclose(got.deletion, expect, atol=0.03)
    assert got.deletion_auc == pytest.approx(auc(np.array(expect)), abs=0.02)
    # the deletion steps alone (as the runner computes deletion_auc_conditional): the same draws, half the pass
    rng = np.random.default_rng(1)
    rng.multivariate_normal(np.zeros(4), sigma, 4000)
    half = curve_scores(linear_net(W), X, y, np.zeros((16, 4), np.float32), order, np.arange(4), 2,
                        conditional=(np.zeros(4), sigma), rng=rng, insertion=False)
    np.testing.assert_array_equal(half.deletion, got.deletion)
    assert np.isnan(half.insertion_auc) and np.isnan(half.pgu)


def test_groups_move_together_and_ties_are_seeded():
    dele, ins = step_masks(np.array([1, 0]), np.array([0, 0, 1]))  # columns 0, 1 are variable 0
    assert dele.tolist() == [[True, True, True], [True, True, False], [False, False, False]]
    assert (ins == ~dele).all()
    a = variable_order(np.ones(5), np.random.default_rng(3))
    assert a.tolist() == variable_order(np.ones(5), np.random.default_rng(3)).tolist()
    assert sorted(a.tolist()) == list(range(5))


def test_faithfulness_and_infidelity_of_exact_shapley_values():
    X, bg = _rows()
    model = linear_net(W)
    phi = (X - bg.mean(axis=0)).astype(np.float64) * W  # exact interventional Shapley values
    col = np.arange(4)
    exact = faithfulness_infidelity(model, X, phi, bg, col, 16, 2, np.random.default_rng(0))
    assert exact["faithfulness_corr"] == pytest.approx(1.0, abs=1e-5)
    assert exact["infidelity"] == pytest.approx(0.0, abs=1e-9)
    assert faithfulness_infidelity(model, X, -phi, bg, col, 16, 2, np.random.default_rng(0))[
        "faithfulness_corr"] == pytest.approx(-1.0, abs=1e-5)
    # twice the attribution, all variables hidden: infidelity = mean (sum phi)^2 / Var f
    doubled = faithfulness_infidelity(model, X, 2 * phi, bg, col, 4, 4, np.random.default_rng(0))
    f = X.astype(np.float64) @ W
    assert doubled["infidelity"] == pytest.approx(np.mean(phi.sum(1) ** 2) / np.var(f), rel=1e-4)


def test_max_sensitivity_of_gradient_times_input_is_the_closed_form():
    X, _ = _rows(n=200)
    data = dataset(X, X.astype(np.float64) @ W)
    model = linear_net(W)
    rows = X[:5]
    rerun = lambda m, d: grad_input(m, d, np.random.default_rng(0), n_rows=None)  # noqa: E731
    got = max_sensitivity(rerun, model, data, rows, np.zeros(5), 0.1, 3, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    scale = 0.1 * X.astype(np.float64).std(axis=0)
    moves = [rng.uniform(-1, 1, rows.shape) * scale for _ in range(3)]
    # phi(x) = w * x, so phi(x + u) - phi(x) = w * u
    worst = np.max([np.linalg.norm(W * u, axis=1) for u in moves], axis=0)
    assert got == pytest.approx(np.mean(worst / np.linalg.norm(W * rows, axis=1)), rel=1e-4)


def test_randomization_of_a_weight_reading_and_a_blind_method():
    model = linear_net(W)
    rng = np.random.default_rng(5)
    other = randomized_model(model, "all", rng)
    limit = np.sqrt(6.0 / (4 + 1))
    expect = np.random.default_rng(5).uniform(-limit, limit, (4, 1))
    np.testing.assert_allclose(other.keras.get_weights()[0], expect, rtol=1e-6)
    assert other.keras.get_weights()[1].tolist() == [0.0]
    assert model.keras.get_weights()[0].ravel().tolist() == W.tolist()  # the original is untouched
    X, _ = _rows()
    data = dataset(X, X.astype(np.float64) @ W)
    weights = lambda m, d, *a: Attribution(importance=np.abs(m.keras.get_weights()[0].ravel()))  # noqa: E731
    blind = lambda m, d, *a: Attribution(importance=np.array([4.0, 3.0, 2.0, 1.0]))  # noqa: E731
    att = weights(model, data)
    opts = {"curves": False, "randomization": True}
    got, _ = truth_free_scores(model, data, att, 0, None, opts, rerun=weights)
    rng = np.random.default_rng([0, 0x7F, sum(map(ord, "randomization"))])  # the cell's stream
    last = np.abs(randomized_model(model, "last", rng).keras.get_weights()[0].ravel())
    full = np.abs(randomized_model(model, "all", rng).keras.get_weights()[0].ravel())
    assert got["randomization_spearman_last"] == pytest.approx(stats.spearmanr(np.abs(W), last).statistic)
    assert got["randomization_spearman"] == pytest.approx(stats.spearmanr(np.abs(W), full).statistic)
    blind_got, _ = truth_free_scores(model, data, blind(model, data), 0, None, opts, rerun=blind)
    assert blind_got["randomization_spearman"] == 1.0  # a method blind to the weights fails the check


def test_roar_with_least_squares_refits_is_the_closed_form():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 4)).astype(np.float32)
    y = X.astype(np.float64) @ W + rng.normal(scale=0.1, size=400)
    data = dataset(X[:300], y[:300], X[300:], y[300:])

    def ols(Xs, ys):
        coef = np.linalg.lstsq(np.c_[Xs, np.ones(len(Xs))], ys, rcond=None)[0]
        return linear_net(coef[:-1], float(coef[-1]))

    def test_loss(cols):
        coef = np.linalg.lstsq(np.c_[X[:300][:, cols], np.ones(300)], y[:300], rcond=None)[0]
        return np.mean((np.c_[X[300:][:, cols], np.ones(100)] @ coef - y[300:]) ** 2)

    model = ols(X[:300], y[:300])
    model.refit = ols
    got = roar_scores(model, data, np.array([0, 1, 2, 3]), np.arange(4), k=1)
    base = test_loss([0, 1, 2, 3])
    assert got["roar"] == pytest.approx(test_loss([1, 2, 3]) - base, rel=1e-3)
    assert got["roar_keep"] == pytest.approx(test_loss([0]) - base, rel=1e-3)
    with pytest.raises(ValueError, match="k=4 is invalid"):
        roar_scores(model, data, np.arange(4), np.arange(4), k=4)


def test_k_has_one_source():
    X, _ = _rows()
    data = dataset(X, X[:, 0], importance=[1.0, 1.0, 0.0, 0.0])
    assert truth_free_k(data, None, 0.25) == (2, "relevant variables")
    assert truth_free_k(data, 3, 0.25) == (3, "scoring.k")


def test_every_truth_free_metric_is_in_the_one_table():
    assert set(metrics_of_kind("truth_free")) == {m for names in FAMILIES.values() for m in names}
    assert all(METRIC_INFO[m].cost for m in metrics_of_kind("truth_free"))


def test_scores_are_reproducible_and_leave_the_method_cost_alone():
    X, _ = _rows(n=120)
    data = dataset(X, X.astype(np.float64) @ W, importance=[3.0, 1.0, 0.5, 0.0])
    model = linear_net(W)
    att = Attribution(local=(X - X.mean(0)) * W, aggregation="mean_abs_local", rows=X.astype(np.float64),
                      importance=np.abs(W))
    model.n_evals = 17
    a, tags = truth_free_scores(model, data, att, 3, None, {"local": True})
    b, _ = truth_free_scores(model, data, att, 3, None, {"local": True})
    assert model.n_evals == 17 and a == {**b, **{k: a[k] for k in a if k.endswith("_seconds")}}
    assert tags["truth_free_k"] == "3 (relevant variables)" and tags["truth_free_status"] == "ok"
    assert {"deletion_auc", "insertion_auc", "pgi", "pgu", "deletion_auc_conditional", "faithfulness_corr",
            "infidelity"} <= set(a)
    assert a["cost_curves_evals"] == 100 * 2 * 5 * 16  # rows x 2(V + 1) x background
    assert a["cost_curves_conditional_evals"] == 100 * 5 * 16  # the deletion steps only


@pytest.mark.parametrize("override, message", [
    ("evaluation.rows=0", "evaluation.rows=0 is invalid: expected an integer >= 1"),
    ("evaluation.conditional=knn", "evaluation.conditional='knn' is invalid: expected one of ('gaussian', 'none')"),
    ("+evaluation.rocket=1", "evaluation"),
])
def test_a_bad_evaluation_value_is_one_line(compose_cfg, override, message):
    from varbench.config import ConfigError, resolve_cell

    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        resolve_cell(compose_cfg([override]), check_model=False)
    assert "\n" not in str(err.value)


def test_evaluation_groups_compose_and_key_resume(compose_cfg):
    from varbench.config import DEFAULT_EVALUATION, resolve_cell

    default = resolve_cell(compose_cfg([]), check_model=False)
    assert default.evaluation == DEFAULT_EVALUATION  # conf/evaluation/default.yaml = the schema's defaults
    full = resolve_cell(compose_cfg(["evaluation=full"]), check_model=False)
    assert full.evaluation["local"] and full.evaluation["max_sensitivity"] and full.evaluation["randomization"]
    assert not full.evaluation["roar"]
    # other metrics are another run of the method (resume does not skip it); the defaults keep old hashes
    assert full.method_hashes != default.method_hashes and full.cell_hash == default.cell_hash


def test_the_runner_logs_the_metrics_and_keeps_the_method_cost_its_own():
    from varbench.methods.perturbation import occlusion
    from varbench.registry import MethodMeta
    from varbench.runner import run_method

    X, _ = _rows(n=120)
    base = np.random.default_rng(9).normal(size=(40, 4)).astype(np.float32)  # all 40 are the background:
    data = dataset(base, base.astype(np.float64) @ W, X, X.astype(np.float64) @ W, importance=[3.0, 1.0, 0.5, 0.0])
    plain, _, _ = run_method("occlusion", occlusion, linear_net(W), data, 0, meta=MethodMeta())
    scored, tags, _ = run_method("occlusion", occlusion, linear_net(W), data, 0, meta=MethodMeta(),
                                 evaluation={"local": True, "max_sensitivity": True, "background_size": 64})
    assert scored["n_model_evals"] == plain["n_model_evals"] == 120 * 5  # rows x (V + 1): occlusion's own
    assert {"deletion_auc", "pgu", "faithfulness_corr", "max_sensitivity", "cost_curves_evals"} <= set(scored)
    # occlusion's mean baseline is the background's mean: its values are the exact Shapley values of
    # a linear f for this background
    assert scored["faithfulness_corr"] == pytest.approx(1.0, abs=1e-5) and scored["infidelity"] < 1e-9
    assert "deletion_auc" not in plain and tags["truth_free_status"] == "ok"


def test_curves_of_a_binary_classifier_use_the_log_loss_of_averaged_probabilities():
    X, bg = _rows()
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    y = (np.random.default_rng(4).random(X.shape[0]) < sig(X.astype(np.float64) @ W)).astype(float)
    model = linear_net(W, task="classification", output="logit")  # explains the logit; losses use P(class 1)
    order = np.array([1, 0, 3, 2])
    got = curve_scores(model, X, y, bg, order, np.arange(4), k=1)

    def loss(hidden):
        Xb = np.repeat(X[:, None, :].astype(np.float64), len(bg), axis=1)
        Xb[:, :, hidden] = bg.astype(np.float64)[None][:, :, hidden]
        p = np.clip(sig(Xb @ W).mean(axis=1), 1e-7, 1 - 1e-7)
        return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))

    L = np.array([loss(list(order[:t])) for t in range(5)])
    assert got.deletion_auc == pytest.approx(auc((L - L[0]) / (L[4] - L[0])), rel=1e-4)
    logit_gap = np.abs((X[:, None, 1] - bg[None, :, 1]).astype(np.float64) * W[1])
    assert got.pgi == pytest.approx(logit_gap.mean(), rel=1e-5)  # PGI in the explained units (logit)


@pytest.mark.parametrize("module", ["varbench.truth_free.curves", "varbench.truth_free.local",
                                    "varbench.truth_free.evaluate", "varbench.report.metrics",
                                    "varbench.report.importances"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
