"""The validated truth-free metric names (varbench/truth_free/validated.py) are generated from the
committed validity study, by its stated rule: never picked by hand."""
import importlib.util
from pathlib import Path

import pandas as pd

from varbench.scoring import METRIC_INFO
from varbench.truth_free.validated import STUDY, VALIDATED

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "metric_validity"


def _analyse():
    spec = importlib.util.spec_from_file_location("analyse", ROOT / "experiments" / "metric_validity" / "analyse.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_constant_is_the_committed_verdict():
    verdict = pd.read_csv(RESULTS / "validated.csv")
    assert list(VALIDATED) == verdict.loc[verdict["validated"], "metric"].tolist()
    assert all(METRIC_INFO[m].kind == "truth_free" for m in VALIDATED)


def test_the_verdict_follows_the_rule_from_the_committed_validity_table():
    mod = _analyse()
    again = mod.validated(pd.read_csv(RESULTS / "validity.csv"))
    committed = pd.read_csv(RESULTS / "validated.csv")
    assert again["metric"].tolist() == committed["metric"].tolist()
    assert again["validated"].tolist() == committed["validated"].tolist()
    rule = (committed["ci_low"] >= mod.THRESHOLD) & (committed["min_family_tau"] >= mod.THRESHOLD)
    assert committed["validated"].tolist() == rule.tolist()


def test_family_tau_is_the_mean_over_datasets_with_a_t_interval():
    """validity.csv recomputed by hand from the per-cell taus for one metric and family."""
    taus = pd.read_csv(RESULTS / "tau_cells.csv")
    table = pd.read_csv(RESULTS / "validity.csv").set_index(["family", "metric", "reference"])
    part = taus[(taus["metric"] == "deletion_auc") & (taus["reference"] == "spearman") & (taus["family"] == "decoys")]
    per_dataset = part.groupby("dataset")["tau"].mean()
    from scipy import stats

    half = stats.t.ppf(0.975, len(per_dataset) - 1) * per_dataset.std(ddof=1) / len(per_dataset) ** 0.5
    row = table.loc[("decoys", "deletion_auc", "spearman")]
    assert abs(row["tau"] - per_dataset.mean()) < 1e-9 and abs(row["ci_low"] - (per_dataset.mean() - half)) < 1e-9


def test_the_stated_study_size_is_the_committed_study():
    taus = pd.read_csv(RESULTS / "tau_cells.csv")
    assert STUDY == _analyse().study_size(taus)
    assert f"{taus['dataset'].nunique()} datasets of {taus['family'].nunique()} families" in STUDY
    assert "roar" in STUDY and "pgu" not in STUDY  # ROAR was not run; PGU was
