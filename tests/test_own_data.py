"""The own-data contract (issue 26): each bad table, target, model or parameter a user can bring is
refused in one line naming what they passed (their flag, their argument), or handled and stated,
before anything trains or is stored. Contract checks are tested directly (no training)."""
import json
import re
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from varbench.advise.cli import main
from varbench.advise.core import plan_notes, prepare
from varbench.advise.plan import left_out
from varbench.advise.rank import broken_model, real_importance
from varbench.advise.render import advice, repeats_text
from varbench.api_checks import check_call, check_data, check_params
from varbench.datasets.encoding import apply_encoding, read_encoding
from varbench.datasets.planted import FAMILIES, n_relevant_for, plant
from varbench.datasets.table import MAX_LEVELS, OTHER, encode_table, load_encoded, read_table, table


def _refused(capsys, tmp_path, *needles, absent=()):
    """advise exited 2 with one line on stderr holding every needle; nothing stored or written."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert all(n in err for n in needles), err
    assert not any(a in err for a in absent), err
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "outputs").exists()
    return err


def _numeric(n=200, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(d)]).assign(y=X @ np.arange(1.0, d + 1))


def _coloured(n=240, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame({"a": a, "b": rng.normal(size=n), "colour": colour,
                         "price": 3 * a + 2 * (colour == "red") + 0.1 * rng.normal(size=n)})


# --- small tables ------------------------------------------------------------------------------

@pytest.mark.parametrize("d", [2, 4])
def test_small_table_is_planned_with_counts_from_the_table(tmp_path, d):
    """Tables of 2 and 4 variables (once refused with `dataset.n_relevant=4 is invalid`) are planned:
    the planted count is derived from the table and every cell composes."""
    path = tmp_path / "small.csv"
    _numeric(d=d).to_csv(path, index=False)
    p = prepare(str(path), "y", out=tmp_path / "rep", budget="tiny", tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert p.families == ["linear", "correlated_partner"] and not p.skipped
    assert all(f"dataset.n_relevant={n_relevant_for(d)}" in c.overrides for c in p.bench)
    for _, spec in p.specs.values():
        assert int(spec.dataset.truth.relevant.sum()) == n_relevant_for(d) < d  # an irrelevant variable is left
    assert not (tmp_path / "m.db").exists()


def test_every_family_plants_on_two_variables():
    X = np.random.default_rng(0).normal(size=(100, 2))
    variables = [("x0", [0]), ("x1", [1])]
    for fam in FAMILIES:
        p = plant(X, variables, {"x0", "x1"}, fam, n_relevant_for(2), np.random.default_rng(1))
        assert p.relevant.any() and np.all(np.isfinite(p(X)))


def test_one_variable_refused_in_the_tables_terms(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _numeric(d=1).to_csv("one.csv", index=False)
    assert main(["--data", "one.csv", "--target", "y", "--budget", "tiny"]) == 2
    _refused(capsys, tmp_path, "one.csv", "needs at least two", absent=("n_relevant", "dataset."))


# --- bad targets -------------------------------------------------------------------------------

def _with_target(kind, n=400):
    rng = np.random.default_rng(0)
    target = {"dates": pd.date_range("2021-01-01", periods=n).astype(str),
              "ids": [f"cust-{i:05d}" for i in range(n)],
              "counter": np.arange(n) + 1000,
              "text": [f"note {i % 60}: call back" for i in range(n)]}[kind]
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "t": target})


@pytest.mark.parametrize("kind, says", [("dates", "looks like dates"), ("ids", "looks like ids"),
                                        ("counter", "looks like ids (an integer counter"),
                                        ("text", "looks like free text")])
def test_target_that_is_no_target_refused_naming_the_task_option(kind, says):
    with pytest.raises(ValueError, match="dataset.task") as e:  # dataset=table names its own key
        table(frame=_with_target(kind), target="t")
    assert says in str(e.value) and "\n" not in str(e.value)
    assert encode_table(_with_target(kind), "t", task="regression" if kind == "counter" else "multiclass").task


def test_date_target_refused_by_advise_naming_task(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _with_target("dates").to_csv("d.csv", index=False)
    assert main(["--data", "d.csv", "--target", "t", "--budget", "tiny"]) == 2
    _refused(capsys, tmp_path, "looks like dates", "--task", absent=("dataset.task",))


# --- broken models, intervals ------------------------------------------------------------------

def test_model_at_chance_or_below_threshold_gets_no_recommendation():
    assert broken_model(pd.DataFrame({"accuracy": [0.0], "auc": [0.47]}), 0.5).startswith("is at chance")
    assert broken_model(pd.DataFrame({"r2": [-0.1, 0.05]}), None).startswith("is at chance")
    assert "below the quality threshold (test R² 0.30 < 0.5)" in broken_model(pd.DataFrame({"r2": [0.3]}), 0.5)
    assert broken_model(pd.DataFrame({"r2": [0.8, 0.7]}), 0.5) is None
    assert broken_model(pd.DataFrame(), 0.5).startswith("has no test quality")
    ranking = pd.DataFrame({"method": ["permutation"], "estimand": ["marginal"], "role": ["method"], "mean": [0.9],
                            "ci_low": [0.8], "ci_high": [1.0], "n": [3], "seconds": [0.1]})
    lines = advice(ranking, pd.DataFrame(), ["linear"], 0.95, "is at chance (test AUC 0.47; chance is 0.5)", "date",
                   False)
    assert lines[0].startswith("**No recommendation for `date`**") and "at chance" in lines[0]
    assert not any("Use `" in s for s in lines)
    assert advice(ranking, pd.DataFrame(), ["linear"], 0.95, None, "date", False)[0].startswith("**Use `permutation`")


def test_no_use_advice_when_the_best_is_inside_the_random_floor():
    ranking = pd.DataFrame({"method": ["permutation", "lime", "random"], "estimand": ["marginal", "local", "none"],
                            "role": ["method", "method", "floor"], "mean": [0.4, 0.2, 0.0],
                            "ci_low": [-0.5, -0.6, -1.0], "ci_high": [1.0, 0.9, 1.0], "n": [2, 2, 2],
                            "seconds": [0.1, 0.1, 0.0]})
    lines = advice(ranking, pd.DataFrame(), ["linear"], None, None, "price", False)
    assert lines[0].startswith("**No method is shown better than the random floor at this budget**")
    assert "`permutation`" in lines[0] and "--budget" in lines[0]
    assert not any("Use `" in s for s in lines)
    separated = ranking.assign(ci_high=[1.0, 0.9, 0.3])  # the floor's interval now ends below the best's mean
    assert advice(separated, pd.DataFrame(), ["linear"], None, None, "price", False)[0].startswith(
        "**Use `permutation`")


def test_intervals_only_over_what_was_repeated():
    runs = pd.DataFrame({"method": ["grad"] * 3 + ["perm"] * 3, "status": ["ok"] * 6,
                         "importance": [json.dumps([2.0, 1.0])] * 3 + [json.dumps(v) for v in
                                                                      ([2.0, 1.0], [1.0, 1.0], [3.0, 1.0])]})
    real = real_importance(runs, ["a", "b"]).set_index(["method", "variable"])
    assert real.loc[("grad", "a"), "mean"] == pytest.approx(2 / 3) and np.isnan(real.loc[("grad", "a"), "ci_low"])
    assert real.loc[("perm", "a"), "ci_low"] < real.loc[("perm", "a"), "ci_high"]  # it varied: an interval
    one = repeats_text({"model": "my.keras", "encoding_file": "enc.json", "method_seeds": 3,
                        "quality": {"r2": {"mean": 0.8, "ci_low": np.nan, "ci_high": np.nan}}})
    assert "one model, not retrained" in one and "trained on the real target" not in one and "[" not in one
    from varbench.advise.rank import interval_text as _ci

    assert _ci(0.61, 0.6101, 0.6104) == "0.61 (±<0.005)" and _ci(0.5, np.nan, np.nan) == "0.50"  # never [x, x]
    assert real_importance(pd.DataFrame(), ["a", "b"]).empty  # nothing to report (no top method, broken model)
    assert "interval" not in repeats_text({"trainings": 1, "quality": {"r2": {"mean": 0.8, "ci_low": np.nan,
                                                                               "ci_high": np.nan}}})


# --- advise --model: the input contract --------------------------------------------------------

def _raw_encoding(enc):
    """What a user who trained on raw one-hot, unstandardised columns states: mean 0, sd 1."""
    rec = enc.record()
    rec["scaling"] = {c: {"mean": 0.0, "sd": 1.0} for c in rec["scaling"]}
    return rec


def test_model_without_encoding_refused_before_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _coloured().to_csv("my.csv", index=False)
    assert main(["--data", "my.csv", "--target", "price", "--budget", "tiny", "--model", "raw.keras"]) == 2
    _refused(capsys, tmp_path, "--model raw.keras needs --encoding")


def test_model_is_fed_the_encoding_it_was_trained_on(tmp_path):
    """A linear network trained on raw one-hot, unstandardised columns: fed through its stated
    encoding it is exact (R² 1, the closed form); fed varbench's standardised encoding it would be
    wrong (R² far below), which is the silent wrong answer the contract prevents."""
    import keras

    from varbench.advise.own_model import load_model, with_model

    df = _coloured()
    df["a"] = 50 + 10 * df["a"]  # a column in its own units (not standardised)
    df["price"] = 3 * df["a"] + 2 * (df["colour"] == "red")
    enc = load_encoded(frame=df, target="price")
    rec = _raw_encoding(enc)
    rec["scaling"].pop("price")  # the user's network predicts raw price
    (tmp_path / "raw.json").write_text(json.dumps(rec))
    own = apply_encoding(df, read_encoding(tmp_path / "raw.json"), "my.csv")
    names = own.feature_names  # a, b, colour=blue, colour=green, colour=red
    assert np.allclose(own.X[:, 0], df["a"]) and set(np.unique(own.X[:, 2:])) == {0.0, 1.0}
    w = np.array([3.0, 0.0, 0.0, 0.0, 2.0])[:, None]
    net = keras.Sequential([keras.Input((len(names),)), keras.layers.Dense(1)])
    net.layers[0].set_weights([w, np.zeros(1)])
    net.save(tmp_path / "raw.keras")
    runs, q = with_model(load_model(str(tmp_path / "raw.keras"), own, "raw.json"), own, ["permutation"], 1)
    assert q["r2"].iloc[0] > 0.99
    y_raw = df["price"].to_numpy()
    wrong = enc.X @ w[:, 0]  # the same network fed the standardised table
    assert 1 - np.sum((y_raw - wrong) ** 2) / np.sum((y_raw - y_raw.mean()) ** 2) < 0.9


def test_encoding_that_does_not_fit_refused_in_one_line(tmp_path):
    import keras

    from varbench.advise.own_model import encoded_for_model, load_model

    df = _coloured()
    enc = load_encoded(frame=df, target="price")
    enc.save(tmp_path / "enc.json")
    own = encoded_for_model("m.keras", str(tmp_path / "enc.json"), df, "price", "my.csv")
    net = keras.Sequential([keras.Input((7,)), keras.layers.Dense(1)])  # raw one-hot with two extra columns
    net.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"m.keras: takes 7 inputs; --encoding enc.json has 5 columns"):
        load_model(str(tmp_path / "m.keras"), own, "enc.json")
    with pytest.raises(ValueError, match=r"encodes target 'price', not --target 'a'"):
        encoded_for_model("m.keras", str(tmp_path / "enc.json"), df, "a", "my.csv")
    with pytest.raises(ValueError, match=r"column 'colour' has levels \['purple'\] that the --encoding"):
        apply_encoding(df.assign(colour="purple"), read_encoding(tmp_path / "enc.json"), "my.csv")
    with pytest.raises(ValueError, match=r"column 'b' is text; the --encoding encoding has it as a numeric"):
        apply_encoding(df.assign(b="x"), read_encoding(tmp_path / "enc.json"), "my.csv")
    (tmp_path / "other.json").write_text(json.dumps({"columns": ["a"]}))
    with pytest.raises(ValueError, match="not a varbench encoding"):
        read_encoding(tmp_path / "other.json")


# --- methods that cannot apply -----------------------------------------------------------------

def test_group_blind_methods_left_out_with_the_reason(tmp_path):
    """conditional_permutation judges each encoded column alone (groups: none), so the runner
    refused it in every cell of a table with a string column; it is now left out of the plan up
    front, with the reason in the report's notes."""
    path = tmp_path / "c.csv"
    _coloured().to_csv(path, index=False)
    p = prepare(str(path), "price", out=tmp_path / "rep", budget="quick", tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert "conditional_permutation" in p.left_out and "conditional_permutation" not in p.methods
    assert "permutation" in p.methods and "`colour`" in p.left_out["conditional_permutation"]
    assert any(s.startswith("`conditional_permutation` was left out: it judges each encoded column alone")
               for s in plan_notes(p))
    assert left_out(["conditional_permutation", "permutation"], {}) == {}  # numeric table: nothing left out


# --- high-cardinality categoricals -------------------------------------------------------------

def test_ten_thousand_levels_capped_merged_and_stated():
    rng = np.random.default_rng(0)
    n = 20000
    df = pd.DataFrame({"a": rng.normal(size=n), "shop": [f"s{i}" for i in rng.permutation(
        np.concatenate([np.arange(10000), rng.integers(0, 10000, n - 10000)]))],
                       "y": rng.normal(size=n)})
    tracemalloc.start()
    enc = encode_table(df, "y")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert enc.X.shape == (n, 1 + MAX_LEVELS) and enc.feature_names[-1] == f"shop={OTHER}"
    m = enc.record()["merged"]["shop"]
    assert m["kept"] == MAX_LEVELS - 1 and m["levels"] == 10000 and m["rows"] == int(enc.X[:, -1].sum())
    assert peak < 100e6  # 10k one-hot columns would be 1.6 GB
    unseen = apply_encoding(df.assign(shop="brand-new"), enc.record())  # a merged column: unseen levels -> (other)
    assert np.all(unseen.X[:, -1] == 1) and np.all(unseen.X[:, 1:-1] == 0)
    assert encode_table(df, "y", max_levels=5).X.shape == (n, 1 + 5)
    with pytest.raises(ValueError, match=r"\+dataset.max_levels=1 is invalid"):
        encode_table(df, "y", max_levels=1)


# --- duplicate names, flags named ---------------------------------------------------------------

def test_repeated_csv_header_names_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dup.csv").write_text("a,a,b,y\n" + "".join(f"{i},{i % 7},{i % 3},{i % 5}\n" for i in range(60)))
    with pytest.raises(ValueError, match=r"repeated column names in the header: \['a'\]"):
        read_table(tmp_path / "dup.csv")
    assert main(["--data", "dup.csv", "--target", "y", "--budget", "tiny"]) == 2
    _refused(capsys, tmp_path, "dup.csv", "repeated column names in the header: ['a']")


def test_advise_names_its_own_impute_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _coloured().assign(b=lambda f: f["b"].mask(f.index % 9 == 0)).to_csv("gaps.csv", index=False)
    assert main(["--data", "gaps.csv", "--target", "price", "--budget", "tiny"]) == 2
    _refused(capsys, tmp_path, "missing values", "--impute", absent=("dataset.impute",))


# --- the Python API: parameters are values, sizes are checked, arguments named ------------------

def test_api_parameters_are_values_and_sizes_are_bounded(tmp_path):
    X, y = np.random.default_rng(0).normal(size=(100, 5)), np.arange(100.0)
    target = {"_target_": "builtins.open", "file": str(tmp_path / "opened"), "mode": "w"}
    for params, says in (({"n_repeats": target}, "n_repeats={'_target_'"),
                         ({"n_samples": [1, {"_partial_": True}]}, "n_samples[1]="),
                         ({"_target_": "os.getcwd"}, "_target_='os.getcwd' is invalid"),
                         ({"n_repeats": 10**9}, "n_repeats=1000000000 is too large: 100 rows x 1000000000 x 5"),
                         ({"n_repeats": 0}, "n_repeats=0 is invalid")):
        with pytest.raises(ValueError, match="^" + re.escape(says)):
            check_call(params, X, y)
    assert not (tmp_path / "opened").exists()
    check_params({"n_rows": 10**9, "n_repeats": 50}, 100, 5, memory=10**9)  # n_rows only picks rows: bounded
    with pytest.raises(ValueError, match="more than this machine's 0.0 GB"):
        check_params({"steps": 64}, 100, 5, memory=10**4)


@pytest.mark.parametrize("args, says", [
    ((np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]), np.arange(3.0)), "X has 1 missing or infinite value(s) in column(s) [1]"),
    ((np.ones((1, 2)), np.ones(1)), "X has 1 row: too few rows"),
    ((np.eye(3), np.ones(3)), "y is constant"),
    ((pd.DataFrame({"p": [1.0, 2.0, 3.0], "q": [1.0, np.inf, 0.0]}), np.arange(3.0)), "X has 1 missing or infinite value(s) in column(s) ['q']"),
])
def test_api_messages_name_the_argument_passed(args, says):
    with pytest.raises(ValueError) as e:
        check_data(*args)
    assert str(e.value).startswith(says) and "_train" not in str(e.value)


def test_api_wiring_refuses_before_computing(tmp_path):
    import keras

    import varbench

    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="n_repeats=.*parameter value is data"):
        varbench.importance(net, X, X[:, 0], method="permutation",
                            n_repeats={"_target_": "builtins.open", "file": str(tmp_path / "f"), "mode": "w"})
    assert not (tmp_path / "f").exists()
    with pytest.raises(ValueError, match="^X has 1 row: too few rows"):
        varbench.importance(net, X[:1], X[:1, 0], method="permutation")
