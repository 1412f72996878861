"""Semi-synthetic data: real feature matrices, synthetic planted target.

The correlation structure (and marginal shapes, and categorical columns) of the features are real;
the target is planted on a chosen subset, so the truth is known. `source` is one of the tables
shipped inside scikit-learn (no download) or any user table (.csv / .parquet path), encoded by
`varbench.datasets.table.encode_table` (standardised numeric columns, one-hot categorical groups).
With `family` (varbench.datasets.planted: linear, additive, interaction, correlated_partner) the
target is planted per variable; without it, the original linear / one-nonlinearity design below.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from varbench.datasets._common import additive_local, check, make_dataset
from varbench.datasets.additive import COMPONENTS, component
from varbench.datasets.base import TASKS, Dataset, GroundTruth
from varbench.datasets.planted import FAMILIES, plant
from varbench.datasets.table import SUFFIXES, encode_table, load_encoded

SOURCES = ("diabetes", "breast_cancer", "wine")


def is_file_source(source: object) -> bool:
    """Whether `source` names a user's table (a .csv/.tsv/.parquet path) rather than a bundled one."""
    return isinstance(source, str) and source not in SOURCES and any(
        source.lower().endswith(suffix) for suffix in SUFFIXES)


def load_source(source: str) -> tuple[np.ndarray, list[str]]:
    """The standardised (mean 0, sd 1, population sd) feature matrix of a scikit-learn bundled
    data set and its column names."""
    check(source in SOURCES, "source", source, f"one of {SOURCES} or a path to a .csv/.parquet table")
    from sklearn import datasets as skd

    bunch = {"diabetes": skd.load_diabetes, "breast_cancer": skd.load_breast_cancer,
             "wine": skd.load_wine}[source]()
    X = np.asarray(bunch.data, dtype=float)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, [str(n).replace(" ", "_") for n in bunch.feature_names]


def semisynthetic(
    n_samples: int | None = None,
    n_features: int | None = None,
    source: str = "diabetes",
    n_relevant: int = 4,
    relevant: Sequence[int | str] | None = None,
    coefficients: Sequence[float] | None = None,
    nonlinearity: str | None = None,
    noise: float = 0.1,
    task: str = "regression",
    test_fraction: float = 0.25,
    seed: int = 0,
    family: str | None = None,
    snr: float | None = None,
    target: str | None = None,
    columns: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    impute: str | None = None,
    max_levels: int | None = None,
) -> Dataset:
    """A planted target on a real, standardised feature matrix.

    A user's table (source = a .csv/.parquet path), or any source with `family` set, goes through
    `planted_on_table`: target (the table's real target column, left out of the covariates),
    columns, drop, impute, max_levels as for `dataset=table`; family one of planted.FAMILIES; snr: signal-to-
    noise variance ratio (regression noise sd = sd(f)/sqrt(snr); classification: noise = 1/sqrt(snr)
    on the threshold link), overriding `noise`.

    source: "diabetes" (442 x 10), "breast_cancer" (569 x 30) or "wine" (178 x 13), loaded
    with sklearn.datasets.load_* and standardised over all rows. n_features: keep the first
    n_features columns (None = all). n_samples: rows drawn without replacement (None = all).
    relevant: planted columns (indices or names); None = n_relevant columns drawn at random
    with `seed`. coefficients: one per planted column (default 2.0 .. 0.5 in planted order).
    nonlinearity: None (linear) or a shape from additive.COMPONENTS ("sin", "square", "abs",
    "step") applied to the first planted column: f = w_0 g(z_0) + sum_{j>0} w_j z_j.

    Truth ("what the function uses", population = all rows of the standardised source):
    importance_j = sd(w_j g_j(z_j)), i.e. |w_j| * sd(z_j) = |w_j| for linear terms; unplanted
    columns get 0 however correlated they are with planted ones. Local truth:
    phi_j(x) = w_j g_j(x_j) - mean(w_j g_j(z_j)), the exact interventional (marginal-background)
    Shapley value of an additive function. No interactions (`interactions` is the zero matrix).
    """
    if family is not None or is_file_source(source) or snr is not None:
        check(relevant is None and coefficients is None and nonlinearity is None and n_features is None,
              "family", family, "no relevant/coefficients/nonlinearity/n_features with a family or a table "
              "source (the family draws them; choose columns with dataset.columns)")
        return planted_on_table(source, family or "linear", n_relevant=n_relevant, snr=snr, noise=noise,
                                n_samples=n_samples, task=task, test_fraction=test_fraction, seed=seed,
                                target=target, columns=columns, drop=drop, impute=impute, max_levels=max_levels)
    check(target is None and columns is None and drop is None and impute is None and max_levels is None,
          "target", target,
          "null for a bundled source (target/columns/drop/impute apply to a table source)")
    Z, names = load_source(source)
    n_rows, n_cols = Z.shape
    check(n_samples is None or (isinstance(n_samples, int) and 20 <= n_samples <= n_rows), "n_samples",
          n_samples, f"None or an integer in [20, {n_rows}] (rows of {source})")
    check(n_features is None or (isinstance(n_features, int) and 1 <= n_features <= n_cols), "n_features",
          n_features, f"None or an integer in [1, {n_cols}] (columns of {source})")
    check(isinstance(noise, (int, float)) and noise >= 0, "noise", noise, "a number >= 0")
    check(task in TASKS, "task", task, f"one of {TASKS}")
    check(0 < test_fraction < 1, "test_fraction", test_fraction, "a number in (0, 1)")
    check(nonlinearity is None or nonlinearity in COMPONENTS, "nonlinearity", nonlinearity,
          f"None or one of {tuple(COMPONENTS)}")
    d = n_cols if n_features is None else n_features
    Z, names = Z[:, :d], names[:d]
    rng = np.random.default_rng(seed)
    if relevant is None:
        check(isinstance(n_relevant, int) and 1 <= n_relevant <= d, "n_relevant", n_relevant,
              f"an integer in [1, n_features={d}]")
        planted = rng.choice(d, size=n_relevant, replace=False)
    else:
        planted_list = []
        for r in list(relevant):
            ok = (isinstance(r, str) and r in names) or (isinstance(r, int) and 0 <= r < d)
            check(ok, "relevant", list(relevant), f"column indices in [0, {d}) or names from {names}")
            planted_list.append(names.index(r) if isinstance(r, str) else r)
        check(len(planted_list) >= 1 and len(set(planted_list)) == len(planted_list), "relevant",
              list(relevant), "a non-empty list of distinct columns")
        planted = np.asarray(planted_list)
    k = planted.size
    if coefficients is None:
        w = np.linspace(2.0, 0.5, k)
    else:
        w = np.asarray(list(coefficients), dtype=float)
        check(w.shape == (k,) and bool(np.all(np.isfinite(w) & (w != 0))), "coefficients",
              list(coefficients), f"{k} finite non-zero numbers (one per planted column)")
    comps: list = [None] * d
    for i, j in enumerate(planted):
        kind = nonlinearity if (i == 0 and nonlinearity is not None) else "linear"
        comps[j] = component(kind, float(w[i]))
    means = np.zeros(d)
    sd = np.zeros(d)
    for j in planted:
        g = comps[j](Z[:, j])
        means[j], sd[j] = g.mean(), g.std()
    rows = np.arange(n_rows) if n_samples is None else rng.choice(n_rows, size=n_samples, replace=False)
    X = Z[rows]
    f = sum(comps[j](X[:, j]) for j in planted)
    shape = "linear" if nonlinearity is None else f"{nonlinearity} on {names[planted[0]]}"
    truth = GroundTruth(
        importance=sd, relevant=sd > 0,
        definition=f"sd of each planted term w_j g_j(z_j) over all {n_rows} rows of standardised "
                   f"{source} (= |w_j| for linear terms; {shape}); unplanted columns 0; local: "
                   f"interventional Shapley",
        local=additive_local(comps, means),
        interactions=np.zeros((d, d)),
    )
    return make_dataset(f"semisynthetic_{source}", X, f, truth, noise=noise, task=task,
                        test_fraction=test_fraction, rng=rng, feature_names=list(names))


def _covariates(source: str, target: str | None, columns, drop, impute, max_levels=None):
    """The encoded covariates of a bundled or user table (varbench.datasets.table.Encoded)."""
    if is_file_source(source):
        return load_encoded(str(source), None, None, columns=columns, drop=[*(drop or []), *([target] if target else [])],
                            impute=impute, max_levels=max_levels)
    Z, names = load_source(source)
    import pandas as pd

    return encode_table(pd.DataFrame(Z, columns=names), None, columns=columns, drop=drop, source=source)


def planted_on_table(source: str, family: str, *, n_relevant: int = 4, snr: float | None = None,
                     noise: float = 0.1, n_samples: int | None = None, task: str = "regression",
                     test_fraction: float = 0.25, seed: int = 0, target: str | None = None,
                     columns: Sequence[str] | None = None, drop: Sequence[str] | None = None,
                     impute: str | None = None, max_levels: int | None = None) -> Dataset:
    """A target of `family` (varbench.datasets.planted) planted on the real covariates of `source`;
    truth per variable (one-hot groups are one variable) = sqrt of the interventional total effect
    over all rows of the table (planted module docstring); planted variables drawn with `seed`."""
    check(task in TASKS, "task", task, f"one of {TASKS}")
    check(0 < test_fraction < 1, "test_fraction", test_fraction, "a number in (0, 1)")
    check(snr is None or (isinstance(snr, (int, float)) and snr > 0), "snr", snr, "null or a number > 0")
    check(isinstance(noise, (int, float)) and noise >= 0, "noise", noise, "a number >= 0")
    check(family in FAMILIES, "family", family, f"one of {FAMILIES}")
    enc = _covariates(source, target, columns, drop, impute, max_levels)
    n_rows = enc.X.shape[0]
    check(n_samples is None or (isinstance(n_samples, int) and 20 <= n_samples <= n_rows), "n_samples",
          n_samples, f"None or an integer in [20, {n_rows}] (rows of {source})")
    rng = np.random.default_rng(seed)
    p = plant(enc.X, enc.variables, set(enc.numeric), family, n_relevant, rng)
    importance = np.sqrt(p.total_effects(enc.X))
    rows = np.arange(n_rows) if n_samples is None else rng.choice(n_rows, size=n_samples, replace=False)
    X = enc.X[rows]
    f = p(X)
    if snr is not None:
        noise = (1.0 if task == "classification" else float(np.std(p(enc.X)))) / float(np.sqrt(snr))
    truth = GroundTruth(
        importance=importance, relevant=p.relevant,
        definition=f"{family}: f = {p.description}; importance = sqrt(E[(f(X) - f(X with the variable from an "
                   f"independent row))^2]/2) over all {n_rows} rows of {source} (sd of the term for "
                   f"additive terms); unplanted variables 0",
    )
    label = source if not is_file_source(source) else Path(source).stem
    ds = make_dataset(f"semisynthetic_{label}", X, f, truth, noise=noise, task=task,
                      test_fraction=test_fraction, rng=rng, feature_names=list(enc.feature_names),
                      groups=enc.groups or None)
    ds.fingerprint = enc.fingerprint
    ds.encoding = {**enc.record(), "planted": {"family": family, "function": p.description,
                                               "partner": p.partner}}
    return ds


__all__ = ["semisynthetic", "planted_on_table", "load_source", "is_file_source", "SOURCES"]
