"""Datasets as units: the cluster bootstrap (varbench.report.clusters) and the tiers
(varbench.report.tiers), on hand-built tables whose answers are known in closed form."""
import doctest

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from varbench.report import clusters, tiers
from varbench.report.clusters import cluster_bootstrap, units
from varbench.report.stats import t_interval
from varbench.report.tiers import dataset_comparison, pair_gap, walk_tiers


def test_doctests():
    for mod in (clusters, tiers):
        assert doctest.testmod(mod).failed == 0


def test_bootstrap_is_seeded_and_weights_are_means():
    lab = ["a"] * 3 + ["b"] * 5 + ["c"]
    one, two = cluster_bootstrap(lab, 300, seed=4), cluster_bootstrap(lab, 300, seed=4)
    assert np.array_equal(one.weights, two.weights)
    assert not np.array_equal(one.weights, cluster_bootstrap(lab, 300, seed=5).weights)
    assert np.allclose(one.weights.sum(axis=1), 1.0)
    x = np.arange(9, dtype=float) ** 2
    want = pd.Series(x).groupby(lab).mean().mean()        # mean of the dataset means
    assert one.estimate(x) == pytest.approx(want)


def test_one_cell_per_dataset_gives_the_t_interval_of_the_dataset_values():
    x = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.3, 0.8, 0.6])
    bs = cluster_bootstrap(list("abcdefgh"), 40000, seed=0)
    row = bs.summary(x).iloc[0]
    ref = t_interval(x)
    assert row["lo"] == pytest.approx(ref.lo) and row["hi"] == pytest.approx(ref.hi)
    assert row["p"] == pytest.approx(sps.ttest_1samp(x, 0.0).pvalue)
    # ... which is the limit of the resampled standard error, scaled by sqrt(G / (G - 1))
    assert bs.replicates(x).std(ddof=1) * np.sqrt(8 / 7) == pytest.approx(row["se"], rel=0.03)


def test_many_seeds_of_few_datasets_do_not_narrow_the_interval():
    # 3 datasets x 20 seeds, no seed-to-seed variation: the information is 3 values, not 60
    means = {"a": 0.2, "b": 0.9, "c": 0.4}
    lab = np.repeat(list(means), 20)
    x = np.array([means[k] for k in lab])
    row = cluster_bootstrap(lab, 20000, seed=1).summary(x).iloc[0]
    ref = t_interval(list(means.values()))
    assert row["hi"] - row["lo"] == pytest.approx(ref.hi - ref.lo, rel=0.05)
    pooled = t_interval(x)
    assert pooled.hi - pooled.lo < 0.3 * (row["hi"] - row["lo"])


def test_summary_refuses_missing_values_and_bad_arguments():
    bs = cluster_bootstrap(["a", "b"], 10)
    with pytest.raises(ValueError, match="finite"):
        bs.summary(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="n_boot=1"):
        cluster_bootstrap(["a", "b"], 1)
    with pytest.raises(ValueError, match="labels"):
        cluster_bootstrap([], 10)


def _table(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Series]:
    """6 datasets x 3 seeds; true tiers {A, B} > {C, D} > {E} with gaps of 0.3 and noise 0.01."""
    level = {"A": 0.90, "B": 0.895, "C": 0.60, "D": 0.605, "E": 0.30}
    ds = np.repeat([f"d{i}" for i in range(6)], 3)
    shift = np.repeat(rng.normal(0, 0.02, 6), 3)           # a dataset effect shared by all methods
    t = pd.DataFrame({m: v + shift + rng.normal(0, 0.01, ds.size) for m, v in level.items()})
    return t, pd.Series(ds)


def test_tiers_on_a_table_whose_tiers_are_known():
    t, ds = _table(np.random.default_rng(0))
    c = dataset_comparison(t, ds, n_boot=1000)
    assert c.ok and c.units.startswith("units: 6 datasets")
    assert [sorted(x) for x in c.tier_lists()] == [["A", "B"], ["C", "D"], ["E"]]
    assert c.n_tiers == 3
    row = c.tiers.set_index("method")
    assert row.loc["E", ["mean_rank", "rank_lo", "rank_hi"]].tolist() == pytest.approx([5, 5, 5])
    assert row.loc["A", "mean"] == pytest.approx(t["A"].groupby(ds).mean().mean())
    pair = c.pairs.set_index(["method_a", "method_b"]).loc[("A", "E")]
    assert pair["significant"] and pair["better"] == "A" and pair["lo"] > 0.5
    # lower is better: the same table negated gives the same tiers
    neg = dataset_comparison(-t, ds, higher_is_better=False, n_boot=1000)
    assert [sorted(x) for x in neg.tier_lists()] == [["A", "B"], ["C", "D"], ["E"]]


def test_tiers_are_disjoint_when_differences_chain():
    # b is not worse than a, c is not worse than b, but c is worse than a: c heads tier 2
    m = ["a", "b", "c"]
    p = pd.DataFrame([[1, .3, .001], [.3, 1, .3], [.001, .3, 1]], index=m, columns=m)
    tier, head = walk_tiers(m, p, pd.DataFrame(True, index=m, columns=m), 0.05)
    assert tier == [1, 1, 2] and head == ["a", "a", "c"]
    # significant but better than the head (ranks and means disagree): stays in the head's tier
    tier, _ = walk_tiers(m, p, pd.DataFrame(False, index=m, columns=m), 0.05)
    assert tier == [1, 1, 1]


def test_one_dataset_takes_its_cells_as_units_and_says_so():
    t = pd.DataFrame({"a": [0.9, 0.8, 0.85, 0.95], "b": [0.1, 0.2, 0.15, 0.1]})
    c = dataset_comparison(t, pd.Series(["only"] * 4), n_boot=200)
    assert "one design" in c.units and c.tier_lists() == [["a"], ["b"]]
    labels, note = units(["x", "x"], ["c1", "c2"])
    assert list(labels) == ["c1", "c2"] and "cells of the one dataset x" in note


def test_pair_gap_is_the_mean_of_dataset_gaps():
    t, ds = _table(np.random.default_rng(2))
    g = pair_gap(t, ds, "A", "C", n_boot=500)
    assert g["mean"] == pytest.approx((t["A"] - t["C"]).groupby(ds).mean().mean())
    assert g["n_clusters"] == 6 and g["lo"] < g["mean"] < g["hi"]


def test_too_few_cells_is_a_note_not_numbers():
    c = dataset_comparison(pd.DataFrame({"a": [1.0], "b": [0.0]}), pd.Series(["x"]))
    assert not c.ok and "2 complete cells" in c.note and c.tiers.empty
