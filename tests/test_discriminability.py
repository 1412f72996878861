"""Discriminability: significant pairs and CD-diagram groups, on hand-built score matrices."""
from __future__ import annotations

import numpy as np
import pandas as pd

from varbench.discriminability import discriminability, discriminability_table, run_groups


def _matrix(means: dict[str, float], n: int = 20, sd: float = 0.01, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({m: mu + sd * rng.standard_normal(n) for m, mu in means.items()})


def test_well_separated_methods_form_one_group_each():
    d = discriminability(_matrix({"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.3}), "spearman")
    assert (d.n_pairs, d.n_significant, d.groups_wilcoxon) == (6, 6, 4)
    assert 1 <= d.groups_nemenyi <= 4


def test_tied_methods_form_one_group():
    M = _matrix({"a": 0.5, "b": 0.5, "c": 0.5}, sd=0.1)
    d = discriminability(M, "spearman")
    assert d.n_significant == 0 and d.groups_wilcoxon == 1 and d.groups_nemenyi == 1


def test_lower_is_better_metrics_are_negated():
    M = _matrix({"good": 0.1, "bad": 0.6})
    t = discriminability_table(M.stack().rename("irrelevant_share").reset_index()
                               .rename(columns={"level_0": "cell", "level_1": "method"}), ["irrelevant_share"])
    assert t.loc[0, "n_significant"] == 1 and t.loc[0, "groups_wilcoxon"] == 2


def test_run_groups_overlapping_bars_and_singletons():
    same = {frozenset(p): True for p in (("a", "b"), ("b", "c"))}
    same.update({frozenset(p): False for p in (("a", "c"), ("a", "d"), ("b", "d"), ("c", "d"))})
    assert run_groups(["a", "b", "c", "d"], same) == [["a", "b"], ["b", "c"], ["d"]]


def test_tiers_take_datasets_as_units():
    # a beats b by 0.2 on two datasets and loses by 0.1 on two: over the 40 cells the pair differs
    # (Wilcoxon over cells), over the 4 datasets it does not (one tier)
    rng = np.random.default_rng(1)
    rows = []
    for i, gap in enumerate([0.2, 0.2, -0.1, -0.1]):
        for s in range(10):
            base = 0.5 + 0.01 * rng.standard_normal()
            rows += [{"cell": f"d{i}/{s}", "dataset": f"d{i}", "method": "a", "spearman": base + gap},
                     {"cell": f"d{i}/{s}", "dataset": f"d{i}", "method": "b", "spearman": base}]
    t = discriminability_table(pd.DataFrame(rows), ["spearman"])
    assert t.loc[0, "n_significant"] == 1 and t.loc[0, "groups_wilcoxon"] == 2 and t.loc[0, "tiers"] == 1
    no_dataset = discriminability_table(pd.DataFrame(rows).drop(columns="dataset"), ["spearman"])
    assert np.isnan(no_dataset.loc[0, "tiers"])
