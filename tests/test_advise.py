"""`varbench advise` end to end on a small table from a temporary directory (tiny budget), its
bad-input refusals (one line, nothing in the store), and the numbers behind its advice."""
import json

import numpy as np
import pandas as pd
import pytest

from varbench.advise.cli import main
from varbench.advise.rank import CellInfo, partner_credit, rank_methods, real_importance
from varbench.advise.signals import real_methods, truth_free_ranking
from varbench.truth_free.validated import VALIDATED


def small_table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame({"a": a, "a_twin": a + 0.3 * rng.normal(size=n), "skewed": np.exp(rng.normal(size=n)),
                         "z": rng.normal(size=n), "colour": colour,
                         "price": 3 * a + 2 * (colour == "red") + 0.3 * rng.normal(size=n)})


@pytest.mark.slow
def test_advise_end_to_end_and_resume(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    small_table().to_csv("my.csv", index=False)
    args = ["--data", "my.csv", "--target", "price", "--budget", "tiny", "--out", "rep"]
    assert main(args) == 0
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "## Recommendation" in report and "## The real target `price`" in report
    ranking = pd.read_csv(tmp_path / "rep" / "ranking.csv")
    floor, best = ranking[ranking["role"] == "floor"].iloc[0], ranking[ranking["role"] != "floor"].iloc[0]
    shown = best["mean"] > (floor["ci_high"] if np.isfinite(floor["ci_high"]) else floor["mean"])
    assert (f"**Use `{best['method']}`**" in report) == shown  # "use" advice only when it beats the floor
    assert ("No method is shown better than the random floor" in report) == (not shown)
    assert set(ranking["method"]) == {"first_layer", "permutation", "probing", "lime", "random"}
    assert ranking["mean"].between(-1, 1).all() and ranking["n"].ge(1).all()
    real = pd.read_csv(tmp_path / "rep" / "real_importance.csv")
    assert set(real["variable"]) == {"a", "a_twin", "skewed", "z", "colour"}  # one-hot colour is one variable
    assert real.groupby("method")["mean"].sum().round(6).eq(1).all()  # shares
    top = ranking[ranking["role"] != "floor"]["method"].head(2).tolist()
    on_real = real_methods(ranking, 2)  # the top ones and the cheap rest
    assert set(top) <= set(on_real) and set(real["method"]) == set(on_real)
    free = pd.read_csv(tmp_path / "rep" / "truth_free_ranking.csv")
    assert set(free["method"]) == set(on_real) and free["mean"].between(1, len(on_real)).all()
    assert free["mean"].is_monotonic_increasing and free["n"].eq(2).all()  # 2 trainings (tiny budget)
    signals = report.split("## Two signals")[1].split("## Plots")[0]
    assert "Kendall tau between the two orders" in signals and "reduced study" in signals
    advice_part = report.split("## Your data")[0]
    verdicts = ("they agree on the top", "**the two partly disagree**", "**the two disagree**")
    if shown:  # a "use" advice says which signal it follows and whether the two agree
        assert "follows the semi-synthetic signal" in advice_part
        assert sum(v in advice_part for v in verdicts) == 1
    else:  # no advice at this budget: nothing to follow
        assert "follows the semi-synthetic signal" not in advice_part
    assert (tmp_path / "rep" / "ranking.png").stat().st_size > 0 and (tmp_path / "mlflow.db").exists()
    from varbench.tracking import fetch_table

    runs = fetch_table("sqlite:///mlflow.db", "varbench")
    real_runs = runs[runs["dataset"] == "real_target"]
    assert real_runs["spearman"].isna().all() and real_runs["model_spearman"].notna().all()  # truth unknown
    assert real_runs[list(VALIDATED)].notna().all().all()  # every real-target run logged the validated metrics
    again = truth_free_ranking(real_runs)
    assert again["method"].tolist() == free["method"].tolist()
    assert np.allclose(again["mean"], free["mean"])
    assert runs.loc[runs["dataset"] != "real_target", "spearman"].notna().all()
    # resume: a second run trains nothing and reproduces the numbers
    assert main(args) == 0
    assert pd.read_csv(tmp_path / "rep" / "ranking.csv").equals(ranking)
    assert pd.read_csv(tmp_path / "rep" / "real_importance.csv").equals(real)
    assert pd.read_csv(tmp_path / "rep" / "truth_free_ranking.csv").equals(free)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("a,cost\n1,2\n3,4\n"), "has 2 rows; at least 50"),
    (lambda p: small_table().to_csv(p, index=False), "target column 'cost' is not in the table"),
    (lambda p: small_table().assign(cost=5.0).to_csv(p, index=False), "target column 'cost' has a single value"),
    (lambda p: small_table().assign(cost=1.0, a=["x" if i == 3 else str(v) for i, v in
                                                 enumerate(small_table().a)]).assign(
        cost=np.arange(240.0)).to_csv(p, index=False), "column 'a' mixes numbers"),
    (lambda p: pd.DataFrame(np.random.default_rng(0).normal(size=(60, 80)), columns=[f"c{i}" for i in range(80)]
                            ).assign(cost=np.arange(60.0)).to_csv(p, index=False), "80 feature columns and only 60 rows"),
    (lambda p: p.write_bytes(b"\x00\x01binary"), "has no data (0 rows"),
])
def test_bad_input_one_line_nothing_stored(tmp_path, monkeypatch, capsys, make, message):
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "bad.csv")
    assert main(["--data", "bad.csv", "--target", "cost", "--budget", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "bad.csv" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "outputs").exists()


def test_missing_file_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--data", "nope.parquet", "--target", "y"]) == 2
    assert "nope.parquet: no such file" in capsys.readouterr().err


def _runs():
    rows = []
    # two cells of the partner family; variables [a, a_twin, z]; a planted, a_twin its partner
    for seed, (m1, m2) in enumerate([([1.0, 0.9, 0.1], [1.0, 0.1, 0.2]), ([0.5, 1.0, 0.0], [1.0, 0.0, 0.3])]):
        for method, imp, est, rho in (("marg", m1, "marginal", 0.5), ("cond", m2, "conditional", 1.0)):
            rows.append({"method": method, "dataset": "planted_correlated_partner", "seed": seed, "status": "ok",
                         "cell_status": "ok", "estimand": est, "role": "method", "spearman": rho + 0.1 * seed,
                         "topk_recall": 1.0, "seconds": 0.1, "importance": json.dumps(imp)})
    return pd.DataFrame(rows)


def test_partner_credit_and_ranking_by_hand():
    cells = [CellInfo("planted_correlated_partner", "correlated_partner", s, ["a", "a_twin", "z"],
                      np.array([True, False, True]), {"a": "a_twin"}) for s in (0, 1)]
    credit = partner_credit(_runs(), cells).set_index("method")
    # k = 2: marg ranks a_twin in its top 2 in both cells; cond in neither
    assert credit.loc["marg", "share"] == 1.0 and credit.loc["cond", "share"] == 0.0
    assert credit.loc["marg", "ratio"] == pytest.approx((0.9 / 1.0 + 1.0 / 0.5) / 2)
    ranking = rank_methods(_runs())
    assert ranking["method"].tolist() == ["cond", "marg"]
    r = ranking.set_index("method").loc["cond"]
    half = 12.7062047 * np.std([1.0, 1.1], ddof=1) / np.sqrt(2)  # t(0.975, 1 df)
    assert r["mean"] == pytest.approx(1.05) and r["ci_high"] == 1.0  # clipped to the metric's range
    assert r["ci_low"] == pytest.approx(1.05 - half)
    real = real_importance(_runs(), ["a", "a_twin", "z"]).set_index(["method", "variable"])
    assert real.loc[("cond", "a"), "mean"] == pytest.approx((1 / 1.3 + 1 / 1.3) / 2)


def test_users_own_keras_model(tmp_path):
    """--model with --encoding: the top methods run on the user's network fed the table through the
    encoding it was trained on; a network with another number of inputs is refused in one line."""
    import keras

    from varbench.advise.own_model import encoded_for_model, load_model, with_model
    from varbench.datasets.table import load_encoded

    path = tmp_path / "my.csv"
    small_table().to_csv(path, index=False)
    load_encoded(str(path), None, "price").save(tmp_path / "encoding.json")
    enc = encoded_for_model("m", str(tmp_path / "encoding.json"), pd.read_csv(path), "price", str(path))
    keras.utils.set_random_seed(0)
    for d, name in ((enc.X.shape[1], "ok.keras"), (3, "bad.keras")):
        net = keras.Sequential([keras.Input((d,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        if name == "ok.keras":  # a model that learned something: hiding its inputs hurts it (curves defined)
            net.compile(keras.optimizers.Adam(0.05), "mse")
            net.fit(enc.X, enc.y, epochs=30, verbose=0)
        net.save(tmp_path / name)
    runs, q = with_model(load_model(str(tmp_path / "ok.keras"), enc, "encoding.json"), enc, ["permutation"], 2)
    assert len(runs) == 2 and all(len(json.loads(v)) == 5 for v in runs["importance"]) and "r2" in q
    assert runs[list(VALIDATED)].notna().all().all()  # the truth-free signal on the user's model
    assert truth_free_ranking(runs)["n"].tolist() == [2]  # over the 2 method seeds on the one model
    with pytest.raises(ValueError, match=r"bad.keras: takes 3 inputs; --encoding encoding.json has 7 columns"):
        load_model(str(tmp_path / "bad.keras"), enc, "encoding.json")


def test_bad_model_refused_before_training(tmp_path, monkeypatch, capsys):
    from varbench.datasets.table import load_encoded

    monkeypatch.chdir(tmp_path)
    small_table().to_csv("my.csv", index=False)
    load_encoded("my.csv", None, "price").save("encoding.json")
    (tmp_path / "bad.keras").write_text("not a model")
    assert main(["--data", "my.csv", "--target", "price", "--budget", "tiny", "--model", "bad.keras",
                 "--encoding", "encoding.json"]) == 2
    assert "--model bad.keras: cannot be loaded" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()
