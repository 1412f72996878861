"""Coverage of varbench.importance's intervals against the population estimand (issue 25, item 5).

A linear-Gaussian design where every method's population value is known in closed form
(varbench.datasets.estimands): x ~ N(0, SIGMA), y = x.W + N(0, NOISE^2). Each draw (seed) samples
new training and test rows and asks `varbench.importance` for each method's value and 95 %
interval; an interval covers when it contains the method's population value, on the method's own
scale, for the function f = x.W:

- permutation (MSE increase, loss scale): 2 w_j^2 Sigma_jj (twice the `marginal` estimand);
- conditional_permutation: 2 w_j^2 / (Sigma^-1)_jj (twice `conditional`);
- kernel_shap (mean |phi_j| over rows, interventional, background mean -> 0): sqrt(2/pi) |w_j| sd_j;
- sobol_total (independent marginals): w_j^2 Sigma_jj / sum_k w_k^2 Sigma_kk;
- sage (marginal imputation by the background mean, squared loss): w_j (Sigma w)_j
  (`marginal_loss_shapley`); varbench gives SAGE no interval, so it is listed with none.

Model: `--model exact` is a Keras network equal to f (one linear unit with weights W): coverage then
measures the interval's own sampling noise (rows, repeats) against the population. `--model
trained` trains a small ReLU network per draw (training variance included: the interval does not
claim to cover it). Coverage per method (relevant variables; irrelevant ones apart, their population
value is 0 and an exact model gives them exactly 0 up to rounding) has a 95 % interval
with the draws as the units (varbench.report.clusters; variables of one draw are not independent).

    nice python experiments/coverage/run.py --draws 200 --out results/coverage     # exact model
    nice python experiments/coverage/run.py --draws 200 --model trained --out outputs/coverage_trained
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from varbench.outdir import FORCE_HELP, OutDir  # noqa: E402
from varbench.datasets.estimands import linear_gaussian_estimands  # noqa: E402
from varbench.report.clusters import cluster_bootstrap  # noqa: E402

W = np.array([2.0, 1.0, 0.5, 0.0, 0.0])
SIGMA = np.array([[1.0, 0.0, 0.0, 0.6, 0.0],       # x3 (w = 0) is a decoy of x0 (rho 0.6); x1, x2 rho 0.5
                  [0.0, 1.0, 0.5, 0.0, 0.0],
                  [0.0, 0.5, 1.0, 0.0, 0.0],
                  [0.6, 0.0, 0.0, 1.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 1.0]])
NOISE = 0.5
METHODS = ("permutation", "conditional_permutation", "kernel_shap", "sobol_total", "sage")


def population(w: np.ndarray = W, sigma: np.ndarray = SIGMA) -> dict[str, np.ndarray]:
    """Each method's population value per variable, on its own scale, for f = x.w (module docstring)."""
    e = linear_gaussian_estimands(w, sigma)
    sd = np.sqrt(np.diag(sigma))
    return {"permutation": 2 * e["marginal"], "conditional_permutation": 2 * e["conditional"],
            "kernel_shap": np.sqrt(2 / np.pi) * np.abs(w) * sd,
            "sobol_total": e["marginal"] / e["marginal"].sum(), "sage": e["marginal_loss_shapley"]}


def draw(seed: int, n_train: int, n_test: int, w: np.ndarray = W, sigma: np.ndarray = SIGMA,
         noise: float = NOISE) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test) of one draw: x ~ N(0, sigma), y = x.w + N(0, noise^2)."""
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(sigma)
    X = rng.standard_normal((n_train + n_test, w.size)) @ L.T
    y = X @ w + noise * rng.standard_normal(n_train + n_test)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def exact_model(w: np.ndarray = W):
    """A Keras network equal to f = x.w (one linear unit, bias 0)."""
    import keras

    net = keras.Sequential([keras.Input((w.size,)), keras.layers.Dense(1)])
    net.layers[-1].set_weights([w.reshape(-1, 1).astype("float32"), np.zeros(1, "float32")])
    return net


def trained_model(X: np.ndarray, y: np.ndarray, seed: int):
    """A small ReLU network trained on (X, y) (2 x 32, Adam, 60 epochs)."""
    import keras

    keras.utils.set_random_seed(seed)
    net = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(32, activation="relu"),
                            keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    net.fit(X, y, epochs=60, batch_size=64, verbose=0)
    return net


def coverage_rows(seeds: range | list[int], methods: tuple[str, ...] = METHODS, model: str = "exact",
                  n_train: int = 1000, n_test: int = 1000) -> pd.DataFrame:
    """One row per (draw, method, variable): estimate, interval, population value, covered."""
    from varbench import importance

    if model not in ("exact", "trained"):
        raise ValueError(f"model={model!r} is invalid: expected 'exact' or 'trained'")
    truth = population()
    net = exact_model() if model == "exact" else None
    rows = []
    for seed in seeds:
        Xt, yt, Xs, ys = draw(seed, n_train, n_test)
        m = net if net is not None else trained_model(Xt, yt, seed)
        for method in methods:
            res = importance(m, Xs, ys, method=method, X_train=Xt, y_train=yt, seed=seed)
            lo, hi = res["ci_low"].to_numpy(), res["ci_high"].to_numpy()
            theta = truth[method]
            has = np.isfinite(lo) & np.isfinite(hi)
            for j in range(W.size):
                rows.append({"draw": seed, "method": method, "variable": j, "relevant": bool(W[j] != 0),
                             "estimate": float(res["importance"].iloc[j]), "ci_low": lo[j], "ci_high": hi[j],
                             "population": float(theta[j]),
                             "covered": float(lo[j] <= theta[j] <= hi[j]) if has[j] else np.nan})
    return pd.DataFrame(rows)


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method: coverage over the relevant variables and over the irrelevant ones (population 0),
    each with a 95 % interval taking the draws as the units; mean interval width and mean relative
    bias of the estimate over the relevant variables."""
    out = []
    for method, g in rows.groupby("method", sort=False):
        row = {"method": method, "draws": g["draw"].nunique()}
        for name, part in (("relevant", g[g["relevant"]]), ("irrelevant", g[~g["relevant"]])):
            part = part[part["covered"].notna()]
            if part.empty:
                row.update({f"coverage_{name}": np.nan, f"lo_{name}": np.nan, f"hi_{name}": np.nan})
                continue
            s = cluster_bootstrap(part["draw"].to_numpy()).summary(part["covered"].to_numpy(), bounds=(0, 1)).iloc[0]
            row.update({f"coverage_{name}": s["mean"], f"lo_{name}": s["lo"], f"hi_{name}": s["hi"]})
        rel = g[g["relevant"]]
        row["mean_width_relevant"] = float((rel["ci_high"] - rel["ci_low"]).mean())
        row["relative_bias_relevant"] = float(((rel["estimate"] - rel["population"]) / rel["population"]).mean())
        out.append(row)
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--draws", type=int, default=200)
    p.add_argument("--model", choices=("exact", "trained"), default="exact")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--out", default="outputs/coverage")
    p.add_argument("--force", "--overwrite", dest="force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    od = OutDir(args.out, "coverage/run.py", args.force)  # refused before any work
    t0 = time.perf_counter()
    rows = coverage_rows(range(args.draws), tuple(args.methods), args.model)
    table = summarize(rows)
    od.write_csv("coverage_rows.csv", rows)
    od.write_csv("coverage.csv", table)
    od.finish()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{args.draws} draws, model {args.model}: {time.perf_counter() - t0:.0f} s wall (machine shared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
