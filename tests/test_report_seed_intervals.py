"""importance_intervals.csv: per (dataset, model, method) and variable, the mean over seeds with a
t interval over them beside the mean within-model interval, checked on a hand-built runs table
against a t interval computed here from scipy.stats.t."""
import doctest
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from varbench.report import importances, prepare, write_report
from varbench.report.importances import SEED_INTERVAL_COLUMNS, seed_intervals

IMP = {0: [1.0, 0.2], 1: [1.4, 0.1], 2: [0.9, 0.3]}  # seed -> importance of (x0, x1) for method a
LOW = {0: [0.8, 0.1], 1: [1.2, 0.0], 2: [0.7, 0.2]}
HIGH = {0: [1.2, 0.3], 1: [1.6, 0.2], 2: [1.1, 0.4]}


def _run(seed, method, imp, low=None, high=None, status="ok", dataset="linear", **extra):
    row = {"study": "s", "dataset": dataset, "model": "mlp", "seed": seed, "method": method, "status": status,
           "importance": json.dumps(imp), "feature_names": "x0,x1", "spearman": 0.5, "topk_recall": 0.5,
           "quality_r2": 0.9, "task": "regression", "cell_status": "ok"}
    if low is not None:
        row |= {"importance_ci_low": json.dumps(low), "importance_ci_high": json.dumps(high)}
    return row | extra


@pytest.fixture
def runs():
    rows = [_run(s, "a", IMP[s], LOW[s], HIGH[s]) for s in IMP]
    rows += [_run(s, "b", [0.5 + s, 0.0]) for s in IMP]                      # no within-model interval
    rows.append(_run(3, "a", [9.0, 9.0], [0.0, 0.0], [1.0, 1.0], status="failed"))  # failed: not counted
    rows.append(_run(0, "a", [2.0, 1.0], [1.0, 0.5], [3.0, 1.5], dataset="other"))  # one seed: no t interval
    rows += [_run(s, "c", [1.0] * (2 + s)) for s in (0, 1)]                   # vectors of two lengths: left out
    return pd.DataFrame(rows)


def test_over_seeds_t_interval_and_mean_within_interval_by_hand(runs):
    t = seed_intervals(runs)
    assert list(t.columns) == SEED_INTERVAL_COLUMNS
    a = t[(t["dataset"] == "linear") & (t["method"] == "a")].set_index("variable")
    imps = np.array([IMP[s] for s in IMP])
    half = stats.t.ppf(0.975, 2) * imps.std(axis=0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(a["over_seeds_mean"], imps.mean(axis=0))
    np.testing.assert_allclose(a["over_seeds_ci_low"], imps.mean(axis=0) - half)
    np.testing.assert_allclose(a["over_seeds_ci_high"], imps.mean(axis=0) + half)
    np.testing.assert_allclose(a["within_model_ci_low"], np.mean([LOW[s] for s in IMP], axis=0))
    np.testing.assert_allclose(a["within_model_ci_high"], np.mean([HIGH[s] for s in IMP], axis=0))
    assert (a["n_seeds"] == 3).all() and (a["n_within"] == 3).all() and list(a.index) == ["x0", "x1"]
    b = t[t["method"] == "b"]
    assert (b["n_within"] == 0).all() and b["within_model_ci_low"].isna().all() and (b["n_seeds"] == 3).all()
    one = t[t["dataset"] == "other"].set_index("variable")
    assert (one["n_seeds"] == 1).all() and one["over_seeds_ci_low"].isna().all()
    np.testing.assert_allclose(one["within_model_ci_high"], [3.0, 1.5])
    assert "c" not in set(t["method"])


def test_the_report_writes_importance_intervals_csv(runs, tmp_path):
    data = prepare(runs[runs["method"] != "c"], None)
    write_report(data, tmp_path / "rep", "hand-built table", plots=False)
    written = pd.read_csv(tmp_path / "rep" / "importance_intervals.csv")
    pd.testing.assert_frame_equal(written, seed_intervals(data.ok).reset_index(drop=True), check_dtype=False)
    assert len(written) == 6 and {"over_seeds_ci_low", "within_model_ci_low"} <= set(written.columns)


def test_module_examples_run():
    result = doctest.testmod(importances)
    assert result.failed == 0 and result.attempted >= 5
