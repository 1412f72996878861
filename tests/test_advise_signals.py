"""advise's two signals (varbench.advise.signals) on hand-built tables, no training: the
truth-free ranking over repeats, the top tiers, Kendall tau between the two rankings, the
recommendation's sentence on which signal it follows, and no recommendation on a broken model."""
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from varbench.advise.rank import broken_model
from varbench.advise.render import advice, write
from varbench.advise.signals import compare, real_methods, section, top_tier, truth_free_ranking
from varbench.truth_free.validated import VALIDATED

XSS = "<img src=x onerror=alert(1)>"


def _semi(methods, means, half=0.05, roles=None):
    means = np.asarray(means, float)
    return pd.DataFrame({"method": methods, "estimand": "marginal", "role": roles or ["method"] * len(methods),
                         "mean": means, "ci_low": means - half, "ci_high": means + half, "n": 3,
                         "seconds": [1.0] * len(methods)})


def _free_runs():
    """Two repeats (seeds) of three methods; pgu lower is better, the other three higher."""
    rows = []
    # seed 0: a best on every metric, then b, then c; seed 1: b best on pgu and pgi, a best on the curves
    values = {0: {"a": (0.1, 0.9, 0.8, 0.7), "b": (0.2, 0.8, 0.7, 0.6), "c": (0.3, 0.7, 0.6, 0.5)},
              1: {"a": (0.3, 0.7, 0.8, 0.7), "b": (0.1, 0.9, 0.7, 0.6), "c": (0.2, 0.8, 0.6, 0.5)}}
    for seed, per in values.items():
        for m, (pgu, pgi, ins, dele) in per.items():
            rows.append({"method": m, "seed": seed, "status": "ok", "cell_status": "ok", "role": "method",
                         "pgu": pgu, "pgi": pgi, "insertion_auc": ins, "deletion_auc": dele})
    rows.append({"method": "a", "seed": 2, "status": "failed", "cell_status": "ok", "role": "method",
                 "pgu": 0.0, "pgi": 99.0, "insertion_auc": 99.0, "deletion_auc": 99.0})  # never counted
    return pd.DataFrame(rows)


def test_truth_free_ranking_by_hand():
    assert set(VALIDATED) == {"pgu", "pgi", "insertion_auc", "deletion_auc"}  # the runs above log exactly these
    t = truth_free_ranking(_free_runs()).set_index("method")
    # seed 0: ranks a 1,1,1,1 b 2,2,2,2 c 3,3,3,3; seed 1: a 3,3,1,1 -> 2; b 1,1,2,2 -> 1.5; c 2,2,3,3 -> 2.5
    assert t.loc["a", "mean"] == pytest.approx(1.5) and t.loc["b", "mean"] == pytest.approx(1.75)
    assert t.loc["c", "mean"] == pytest.approx(2.75)
    half = 12.7062047 * np.std([1.0, 2.0], ddof=1) / np.sqrt(2)  # t(0.975, 1 df) over the 2 repeats
    assert t.loc["a", "ci_low"] == 1.0 and t.loc["a", "ci_high"] == 3.0  # 1.5 ± 6.35 kept inside [1, 3 methods]
    assert half > 1.5 and t.loc["a", "n"] == 2
    assert t.loc["a", "pgu"] == pytest.approx(0.2) and t.loc["a", "pgi"] == pytest.approx(0.8)  # failed run out
    assert truth_free_ranking(_free_runs()).index.size == 3
    assert list(truth_free_ranking(_free_runs())["method"]) == ["a", "b", "c"]
    # one repeat: no interval; a metric nobody logged is left out; nothing logged gives an empty table
    one = truth_free_ranking(_free_runs()[lambda d: d["seed"] == 0].drop(columns=["pgi"]))
    assert one["ci_low"].isna().all() and "pgi" not in one and one["method"].tolist() == ["a", "b", "c"]
    assert truth_free_ranking(_free_runs().drop(columns=list(VALIDATED))).empty


def test_top_tier_compare_and_kendall_against_scipy():
    semi = _semi(["a", "b", "c", "d", "random"], [0.9, 0.88, 0.5, 0.2, 0.0], roles=["method"] * 4 + ["floor"])
    free = pd.DataFrame({"method": ["random", "c", "a", "b", "d"], "role": ["floor"] + ["method"] * 4,
                         "mean": [0.5, 1.0, 2.0, 3.0, 4.0], "ci_low": [0.5, 1.0, 1.5, 2.8, 4.0],
                         "ci_high": [0.5, 1.2, 2.5, 3.2, 4.0]})
    s = compare(semi, free)
    assert s.methods == ["a", "b", "c", "d"]  # the floor is left out of the comparison
    expected = kendalltau([0.9, 0.88, 0.5, 0.2], [-2.0, -3.0, -1.0, -4.0]).statistic
    # by hand: pairs ab + , ac - , ad + , bc - , bd + , cd + -> (4 - 2) / 6
    assert s.tau == pytest.approx(expected) == pytest.approx(1 / 3)
    assert s.semi_tier == ["a", "b"] and s.free_tier == ["c"] and not s.agree
    assert s.only_semi == ["a", "b"] and s.only_free == ["c"] and s.free_position["a"] == 2
    assert top_tier(free[free["role"] != "floor"], False) == ["c"]
    same = compare(semi, free.assign(mean=[5.0, 3.0, 1.0, 2.0, 4.0], ci_low=[5.0, 2.5, 1.0, 1.0, 4.0],
                                     ci_high=[5.0, 3.5, 2.5, 2.5, 4.0]))
    assert same.agree and same.tau == pytest.approx(1.0) and same.free_tier == ["a", "b"]
    assert not compare(semi, pd.DataFrame()).available


def test_real_methods_rule():
    r = _semi(["a", "b", "c", "lime", "random"], [0.9, 0.8, 0.7, 0.6, 0.0], roles=["method"] * 4 + ["floor"])
    r["seconds"] = [2.0, 1.0, 1.5, 30.0, 0.1]
    assert real_methods(r, 2) == ["a", "b", "c", "random"]  # lime costs more than the slowest top one
    assert real_methods(r, 1) == ["a", "b", "c", "random"]
    assert real_methods(r.iloc[:0], 2) == []


def test_recommendation_states_its_signal_and_the_disagreement():
    semi = _semi(["a", "b", "c"], [0.9, 0.6, 0.3])
    free = pd.DataFrame({"method": ["c", "b", "a"], "role": "method", "mean": [1.0, 2.0, 3.0],
                         "ci_low": [1.0, 2.0, 3.0], "ci_high": [1.2, 2.2, 3.0]})
    lines = advice(semi, pd.DataFrame(), ["linear"], 0.95, None, "price", False, compare(semi, free))
    assert lines[0].startswith("**Use `a`**")
    assert "follows the semi-synthetic signal" in lines[1] and "**the two disagree**" in lines[1]
    assert "put `c` first and `a` 3rd of 3" in lines[1] and "Kendall tau -1.00" in lines[1]
    agree = advice(semi, pd.DataFrame(), ["linear"], 0.95, None, "price", False, compare(semi, free.iloc[::-1].assign(
        mean=[1.0, 2.0, 3.0])))
    assert "they agree on the top" in agree[1] and "disagree" not in agree[1]
    partly = compare(semi, free.assign(ci_high=[3.0, 2.2, 3.0]))  # c first, but a within its interval
    assert partly.supports and not partly.agree
    text = advice(semi, pd.DataFrame(), ["linear"], 0.95, None, "price", False, partly)[1]
    assert "**the two partly disagree**" in text and "`a` is within their top tier (`c`, `b`, `a`)" in text
    none = advice(semi, pd.DataFrame(), ["linear"], 0.95, None, "price", False, compare(semi, pd.DataFrame()))
    assert "it is not available here" in none[1]


def test_model_at_chance_gets_no_recommendation_from_either_signal():
    broken = broken_model(pd.DataFrame({"r2": [-0.02, 0.01]}), 0.5)
    assert broken.startswith("is at chance")
    semi = _semi(["a", "b"], [0.9, 0.2])
    free = pd.DataFrame({"method": ["a", "b"], "role": "method", "mean": [1.0, 2.0], "ci_low": np.nan,
                         "ci_high": np.nan})
    assert compare(semi, free).agree  # both signals would name `a` ...
    lines = advice(semi, pd.DataFrame(), ["linear"], 0.95, broken, "price", False, compare(semi, free))
    assert lines[0].startswith("**No recommendation for `price`** from either signal") and "at chance" in lines[0]
    assert not any("Use `" in s or "follows" in s for s in lines)  # ... and neither is given
    sec = section(compare(semi, free), semi, free, "2 trainings", broken)
    assert "_(no truth-free ranking: the real-target model is at chance" in sec[-1]
    assert not any(line.startswith("|") or "Kendall tau between" in line for line in sec)


def test_report_section_side_by_side_and_escaped(tmp_path):
    semi = _semi([f"m{XSS}", "b", "random"], [0.9, 0.5, 0.0], roles=["method", "method", "floor"])
    free = truth_free_ranking(_free_runs().replace({"method": {"a": "b", "b": f"m{XSS}", "c": "random"}})
                              .assign(role=lambda d: np.where(d["method"] == "random", "floor", "method")))
    facts = {"name": "t.csv", "target": "y", "task": "regression", "rows": 10, "columns": 2, "variables": ["x"],
             "encoding": {"scaling": {}, "one_hot": {}, "dropped": {}, "imputed": {}}, "families": ["linear"],
             "snr": 4.0, "seeds": 1, "low_quality": [], "reachable": 0.9, "top": [f"m{XSS}"], "model": None,
             "trainings": 2, "method_seeds": 1, "quality": {}, "tracking_uri": "sqlite:///x.db", "study": "s",
             "command": "varbench advise", "recommendation": ["**Use `b`**"]}
    md = write(tmp_path / "adv", facts, semi, pd.DataFrame(), pd.DataFrame(), {"total": 1.0},
               truth_free=free).read_text()
    assert "<img" not in md
    sec = md.split("## Two signals")[1].split("## Plots")[0]
    assert "reduced study" in sec and "fidelity to the model" in sec and "2 training(s) on the real target" in sec
    assert "Kendall tau between the two orders over the 2 methods in both: -1.00 (with 2 methods" in sec
    row = next(line for line in sec.splitlines() if line.startswith("| b |"))
    assert row.split("|")[2].strip() == "1" and row.split("|")[3].strip() == "2"  # truth-free 1st, semi 2nd
    assert re.search(r"They disagree on the top: the truth-free first is `b`", sec)
    assert (tmp_path / "adv" / "truth_free_ranking.csv").exists()
