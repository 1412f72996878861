"""dataset=table: a user's CSV/Parquet/DataFrame encoded with groups, scaling and task inference;
bad input rejected in one line; planted targets on real covariates with Monte Carlo-checked truth."""
import numpy as np
import pandas as pd
import pytest

from varbench.datasets.planted import FAMILIES, plant
from varbench.datasets.semisynthetic import semisynthetic
from varbench.datasets.table import encode_table, read_table, table


def frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame({
        "row_id": np.arange(n), "a": a, "a_twin": 0.95 * a + 0.3 * rng.normal(size=n),
        "skewed": np.exp(2 * rng.normal(size=n)), "const": 3.0,
        "colour": rng.choice(["red", "green", "blue"], n), "flag": rng.choice([True, False], n),
        "price": 2 * a + rng.normal(size=n), "label": rng.choice(["yes", "no"], n),
        "grade": rng.choice([1, 2, 3], n)})


def test_table_round_trip_groups_scaling_and_task(tmp_path):
    df = frame()
    path = tmp_path / "my.csv"
    df.to_csv(path, index=False)
    ds = table(path=str(path), target="price", seed=1, drop=["label", "grade"])
    assert ds.task == "regression" and ds.truth.known is False
    assert ds.feature_names == ["a", "a_twin", "skewed", "colour=blue", "colour=green", "colour=red", "flag"]
    assert ds.groups == {"colour": [3, 4, 5]}
    assert [v for v, _ in ds.variables] == ["a", "a_twin", "skewed", "colour", "flag"]
    assert ds.encoding["dropped"] == {"row_id": "id-like (every value distinct)", "const": "constant",
                                      "label": "dataset.drop", "grade": "dataset.drop"}
    X = np.vstack([ds.X_train, ds.X_test])
    sc = ds.encoding["scaling"]["skewed"]
    assert sc["mean"] == pytest.approx(df.skewed.mean()) and sc["sd"] == pytest.approx(df.skewed.std(ddof=0))
    assert np.allclose(np.sort(X[:, 2]), np.sort((df.skewed - sc["mean"]) / sc["sd"]), atol=1e-5)
    assert np.allclose(X[:, 3:6].sum(axis=1), 1) and set(np.unique(X[:, 3:6])) == {0.0, 1.0}
    # the correlated pair survives standardisation
    assert np.corrcoef(X[:, 0], X[:, 1])[0, 1] == pytest.approx(np.corrcoef(df.a, df.a_twin)[0, 1], abs=1e-4)
    # parquet and DataFrame give the same data
    df.to_parquet(tmp_path / "my.parquet")
    for other in (table(path=str(tmp_path / "my.parquet"), target="price", seed=1, drop=["label", "grade"]),
                  table(frame=df, target="price", seed=1, drop=["label", "grade"])):
        assert np.array_equal(other.X_train, ds.X_train) and other.fingerprint == ds.fingerprint


@pytest.mark.parametrize("target, task", [("price", "regression"), ("label", "classification"),
                                          ("flag", "classification"), ("grade", "multiclass")])
def test_task_inferred_from_target(target, task):
    df = frame()
    enc = encode_table(df, target, task=None) if task != "multiclass" else None
    if task == "multiclass":
        from varbench.datasets.base import TASKS

        if "multiclass" in TASKS:
            assert encode_table(df, target).task == "multiclass"
        else:
            with pytest.raises(ValueError, match="'grade' has 3 classes"):
                encode_table(df, target)
        return
    assert enc.task == task
    if task == "classification":
        assert set(np.unique(enc.y)) == {0.0, 1.0} and len(enc.classes) == 2


def test_columns_drop_and_impute(caplog):
    df = frame()
    df.loc[[3, 7], "a"] = np.nan
    df.loc[5, "colour"] = None
    with pytest.raises(ValueError, match=r"missing values in 2 column\(s\): 'a' \(2\), 'colour' \(1\)"):
        encode_table(df, "price")
    enc = encode_table(df, "price", impute="median", drop=["a_twin"])
    assert enc.imputed == {"a": 2, "colour": 1} and "a_twin" not in enc.feature_names
    assert enc.X[3, 0] == pytest.approx((np.nanmedian(df.a) - enc.scaling["a"][0]) / enc.scaling["a"][1])
    assert encode_table(df, "price", columns=["skewed", "flag"]).feature_names == ["skewed", "flag"]


@pytest.mark.parametrize("mutate, message", [
    (lambda df: df.head(30), "has 30 rows; at least 50"),
    (lambda df: df.assign(price=1.0), "target column 'price' has a single value"),
    (lambda df: df.assign(a=df.a.astype(object).where(df.index != 4, "oops")), "column 'a' mixes numbers"),
    (lambda df: pd.concat([df.head(60)] + [pd.DataFrame({f"c{i}": np.arange(60.0) % 7 for i in range(70)})],
                          axis=1), "77 feature columns and only 60 rows"),
])
def test_bad_tables_one_line(mutate, message):
    with pytest.raises(ValueError, match=message) as err:
        encode_table(mutate(frame()).drop(columns=[]), "price", drop=["label", "grade"])
    assert "\n" not in str(err.value)


def test_bad_files_and_target(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_table(tmp_path / "none.csv")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(ValueError, match="bad.parquet: cannot be read as parquet"):
        read_table(bad)
    with pytest.raises(ValueError, match="target column 'cost' is not in the table"):
        table(frame=frame(), target="cost")


@pytest.mark.parametrize("family", FAMILIES)
def test_planted_truth_matches_monte_carlo(family):
    """T_j = E[(f(X) - f(X with j from an independent row))^2]/2, re-estimated by sampling row
    pairs on the planted function itself (independent of the closed form)."""
    enc = encode_table(frame(n=400), None, drop=["price", "label", "grade"])
    rng = np.random.default_rng(3)
    p = plant(enc.X, enc.variables, set(enc.numeric), family, 3, np.random.default_rng(7))
    T = p.total_effects(enc.X)
    m = 400_000
    i, k = rng.integers(0, 400, m), rng.integers(0, 400, m)
    base = p(enc.X[i])
    for j, (name, cols) in enumerate(enc.variables):
        Xs = enc.X[i].copy()
        Xs[:, cols] = enc.X[k][:, cols]
        mc = np.mean((base - p(Xs)) ** 2) / 2
        assert mc == pytest.approx(T[j], rel=0.03, abs=1e-9), (family, name)
    assert np.array_equal(T > 0, p.relevant) and p.relevant.sum() >= 2
    if family == "correlated_partner":
        (rel, partner), = p.partner.items()
        names = [v for v, _ in enc.variables]
        assert {rel, partner} == {"a", "a_twin"} and T[names.index(partner)] == 0


def test_semisynthetic_on_a_user_table_follows_seed(tmp_path):
    path = tmp_path / "cov.csv"
    frame().to_csv(path, index=False)
    a = semisynthetic(source=str(path), target="price", family="linear", n_relevant=2, seed=1, snr=4.0,
                      drop=["label"])
    b = semisynthetic(source=str(path), target="price", family="linear", n_relevant=2, seed=2, snr=4.0,
                      drop=["label"])
    assert a.groups == {"colour": [3, 4, 5]} and a.truth.importance.shape == (6,)  # a small-integer column stays numeric
    assert "price" not in a.feature_names and a.truth.known
    sets = {tuple(np.flatnonzero(semisynthetic(source=str(path), target="price", family="linear", n_relevant=2,
                                               seed=s, drop=["label"]).truth.relevant)) for s in range(6)}
    assert len(sets) > 1 and not np.array_equal(a.y_train, b.y_train)
    # snr = var(f) / noise variance: same seed, same f and noise draw, noise sd sd(f)/sqrt(snr)
    s = semisynthetic(source=str(path), target="price", family="linear", n_relevant=2, seed=1, snr=1.0,
                      drop=["label"])
    r = s.y_train - a.y_train  # = (1 - 1/2) sd(f) eps
    assert np.var(r) / np.var(a.y_train - r) == pytest.approx(0.25, rel=0.3)


def test_summary_ranks_by_the_model_truth_when_the_data_truth_is_unknown():
    from varbench.report.tables import summarize

    df = pd.DataFrame({"method": ["lime", "permutation", "lime", "permutation"], "status": "ok",
                       "spearman": np.nan, "topk_recall": np.nan, "seconds": 0.1,
                       "model_spearman": [0.4, 0.9, 0.6, 1.0]})
    table = summarize(df)
    assert table["method"].tolist() == ["permutation", "lime"]
    assert table["model_spearman"].tolist() == pytest.approx([0.95, 0.5])
    assert "model's own" in table.attrs["ranked_by"]


def test_table_config_resolves_and_its_content_keys_the_model_cache(tmp_path):
    """`dataset=table` through the Hydra config; the model hash follows the file's content, not
    only its path, so an edited table never loads a model trained on the old one."""
    from varbench.advise.run import compose
    from varbench.config import resolve_cell

    path = tmp_path / "my.csv"
    frame().to_csv(path, index=False)
    over = ["dataset=table", f"dataset.path={path}", "dataset.target=price", "dataset.drop=[label,grade]",
            "methods=[permutation]"]
    spec = resolve_cell(compose(over), check_model=False)
    assert spec.dataset.groups == {"colour": [3, 4, 5]} and spec.dataset.truth.known is False
    frame(seed=1).to_csv(path, index=False)
    assert resolve_cell(compose(over), check_model=False).model_hash != spec.model_hash
