"""The robustness analysis (varbench.report.verdict_robustness, experiments/robustness/analyse.py)
on hand-built runs tables: no training. Oracles: the verdicts are built in by construction (a pair
whose winner swaps in one condition), the share's interval is the Student t interval of the
per-condition wins (scipy), n/a where a method has no score."""
from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from varbench.report.verdict_robustness import pair_differences, shares, verdicts

DATASETS = ("d1", "d2", "d3", "d4")
# per condition: method -> (score vs data truth, score vs the model's own truth)
LEVELS = {
    "base": {"x": (0.9, 0.9), "y": (0.5, 0.5), "z": (0.2, 0.2)},
    "c_same": {"x": (0.8, 0.8), "y": (0.4, 0.4), "z": (0.1, 0.1)},
    # the model learned something else: vs data x loses to y, vs the model x still wins
    "c_model": {"x": (0.3, 0.9), "y": (0.6, 0.5), "z": (0.1, 0.2)},
    # the explainer is wrong: x loses to y on both truths
    "c_explainer": {"x": (0.3, 0.3), "y": (0.6, 0.6), "z": (0.1, 0.1)},
    # z cannot run here (n/a)
    "c_na": {"x": (0.9, 0.9), "y": (0.5, 0.5)},
}


def runs_table(noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for cond, levels in LEVELS.items():
        for d, s in itertools.product(DATASETS, range(3)):
            for m, (v, mv) in levels.items():
                e = noise * rng.standard_normal()
                rows.append({"condition": cond, "dataset": d, "seed": s, "method": m, "spearman": v + e,
                             "model_spearman": mv + e})
    return pd.DataFrame(rows)


def test_pair_differences_are_paired_within_cells():
    runs = runs_table(noise=0.0)
    d = pair_differences(runs, "spearman", ["x", "y", "z"])
    assert set(map(tuple, d[["a", "b"]].drop_duplicates().values)) == {("x", "y"), ("x", "z"), ("y", "z")}
    xy = d[(d["a"] == "x") & (d["b"] == "y") & (d["condition"] == "c_model")]
    assert len(xy) == 12 and np.allclose(xy["diff"], -0.3)
    assert d[(d["condition"] == "c_na") & (d["b"] == "z")].empty       # z has no score there
    with pytest.raises(ValueError, match="runs has no column 'model_spearman'"):
        pair_differences(runs.drop(columns="model_spearman"), "model_spearman")


def test_verdicts_flip_where_built_and_say_why():
    t = verdicts(runs_table(), "base", "spearman", "model_spearman", ["y", "x", "z"], n_boot=400).set_index(["a", "b", "condition"])
    assert ("x", "y", "base") in t.index          # oriented: x wins on the reference although listed second
    assert t.loc[("x", "y", "c_same"), "change"] == "holds"
    for cond, why in (("c_model", "the model learned something else"), ("c_explainer", "the explainer is wrong")):
        row = t.loc[("x", "y", cond)]
        assert row["change"] == "flips" and row["verdict"] == "y" and row["sign_turned"] and row["why"] == why
        assert row["lo"] < -0.3 < row["hi"] < 0 and row["n_datasets"] == 4 and row["n_cells"] == 12
    assert t.loc[("x", "z", "c_na"), "change"] == "n/a" and t.loc[("y", "z", "c_na"), "change"] == "n/a"
    assert t.loc[("x", "y", "base"), "change"] == "reference"
    with pytest.raises(ValueError, match="reference='nope' is invalid"):
        verdicts(runs_table(), "nope")


def test_a_condition_on_other_datasets_is_compared_with_the_reference_on_those():
    runs = runs_table(noise=0.0)
    extra = runs[(runs["condition"] == "base") & (runs["dataset"] == "d1")].assign(dataset="g", condition="c_g")
    ref_g = extra.assign(condition="base")
    ref_g.loc[ref_g["method"] == "x", "spearman"] = 0.1    # on g the reference already has y ahead of x
    t = verdicts(pd.concat([runs, extra, ref_g]), "base", n_boot=200).set_index(["a", "b", "condition"])
    row = t.loc[("x", "y", "c_g")]
    assert row["datasets"] == "g" and np.isclose(row["ref_mean"], -0.4) and np.isclose(row["mean"], 0.4)
    assert "cells" in row["units"]     # one dataset: its seeds are the units


def test_share_is_the_t_interval_of_the_per_condition_wins():
    t = verdicts(runs_table(), "base", n_boot=400)
    s = shares(t).set_index("pair")
    wins = np.array([1.0, 0.0, 0.0, 1.0])        # x > y: c_explainer, c_model lost; c_na, c_same won
    half = stats.t.ppf(0.975, 3) * wins.std(ddof=1) / 2
    row = s.loc["x > y"]
    assert row["n_conditions"] == 4 and np.isclose(row["share"], 0.5)
    assert np.isclose(row["lo"], max(0.0, 0.5 - half)) and np.isclose(row["hi"], min(1.0, 0.5 + half))
    assert row["flips"] == 2 and row["flipped_in"] == "c_explainer, c_model" and row["holds"] == 2
    assert s.loc["x > z", "share"] == 1 and s.loc["x > z", "n_conditions"] == 3   # n/a is not a condition


def _analyse():
    path = Path(__file__).resolve().parents[1] / "experiments" / "robustness" / "analyse.py"
    spec = importlib.util.spec_from_file_location("robustness_analyse", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_analysis_writes_its_tables_and_plot_from_a_runs_csv(tmp_path, monkeypatch):
    monkeypatch.delenv("VARBENCH_TRACKING_URI", raising=False)
    runs = runs_table(noise=0.0)
    names = {"x": "permutation", "y": "lime", "z": "first_layer"}
    runs = runs.assign(study="robustness_" + runs["condition"], method=runs["method"].map(names),
                       model="mlp", status="ok", quality_r2=0.9, task="regression",
                       cell_hash=runs["condition"] + runs["dataset"] + runs["seed"].astype(str),
                       start_time=np.arange(len(runs))).drop(columns="condition")
    first = runs.index[(runs["study"] == "robustness_base") & (runs["method"] == "lime")][0]
    runs.loc[first, ["status", "spearman"]] = ["failed", np.nan]      # counted, never averaged in
    other = runs.head(3).assign(study="standard")       # another study's runs are ignored
    path = tmp_path / "runs.csv"
    pd.concat([runs, other]).to_csv(path, index=False)
    out = tmp_path / "out"
    assert _analyse().main(["--runs", str(path), "--out", str(out)]) == 0
    for name in ("verdicts.csv", "shares.csv", "shares.md", "flips.md", "conditions.md", "verdict_map.png", "headline.md",
                 "model_truth.md"):
        assert (out / name).is_file(), name
    v = pd.read_csv(out / "verdicts.csv")
    assert set(v["condition"]) == set(LEVELS) and "standard" not in set(v["condition"])
    flips = (out / "flips.md").read_text()
    assert "the model learned something else" in flips and "the explainer is wrong" in flips
    head = (out / "headline.md").read_text()
    assert "decisive flips (both 95% intervals exclude 0, opposite winners): 2;" in head
    assert (out / "verdict_map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| permutation &gt; lime | +0.40 / +0.40 | -0.30 / -0.30 | -0.30 / +0.40 |" in (out / "model_truth.md").read_text()
    conditions = (out / "conditions.md").read_text()
    assert "| base | d1, d2, d3, d4 | mlp | 12 | 0 | 1 |" in conditions
