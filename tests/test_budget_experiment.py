"""The budget experiment's machinery (experiments/budget/run.py) on hand-built runs: curves,
"evaluations to come within X of the best", and a grid that names real method parameters."""
import doctest
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbench.registry import method_info

PATH = Path(__file__).resolve().parents[1] / "experiments" / "budget" / "run.py"
spec = importlib.util.spec_from_file_location("budget_run", PATH)
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)


def test_doctest():
    assert doctest.testmod(run).failed == 0


def test_grid_names_registered_parameters_and_a_truth():
    assert set(run.GRID) == set(run.TRUTH_OF)
    assert set(run.TRUTH_OF.values()) <= {"shapley", "sage", "sobol_total"}      # varbench.methods.model_truth
    for method, (param, values, fixed) in run.GRID.items():
        config = method_info(method).config
        assert param in config and all(k in config for k in fixed), method
        assert values == sorted(values) and len(values) >= 5


def test_summary_of_hand_built_runs():
    rows = []
    for budget, evals, errors in ((10, 100, [0.30, 0.40]), (20, 200, [0.10, 0.12]), (40, 400, [0.09, 0.09])):
        rows += [{"method": "sage", "param": "n", "budget": budget, "repeat": r, "status": "ok",
                  "n_model_evals": evals, "error": e, "spearman": 0.9} for r, e in enumerate(errors)]
    rows.append({"method": "sage", "param": "n", "budget": 5, "repeat": 0, "status": "failed",
                 "n_model_evals": 0, "error": np.nan, "spearman": np.nan})
    curves, table = run.summarize(pd.DataFrame(rows), within=0.02)
    c = curves.set_index("budget")
    assert c.loc[10, "error"] == pytest.approx(0.35) and c.loc[10, "error_sd"] == pytest.approx(np.std([.3, .4], ddof=1))
    assert c.loc[5, "failed"] == 1 and c.loc[20, "repeats"] == 2
    t = table.iloc[0]
    # best mean error 0.09 (at 400 evals); 0.11 at 200 evals is within 0.02 of it
    assert t["best_error"] == pytest.approx(0.09) and t["evals_to_best"] == 200 and t["truth"] == "sage"
    assert run.summarize(pd.DataFrame(rows), within=0.01)[1].iloc[0]["evals_to_best"] == 400
