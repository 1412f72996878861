"""Budget vs error: how many model evaluations each stochastic method needs (issue 25, item 4).

One trained network (the harness's default `mlp` on `friedman1`, d = 10, seed 0, trained once and
cached), its own exact truth (`varbench.methods.model_truth`: exact Shapley mean |phi| and SAGE by
coalition enumeration, total Sobol indices from a large sample), and every stochastic method at a
grid of budgets, each budget repeated with several seeds. Per run: model evaluations
(`n_model_evals`, counted by the engine), the error against the model truth nearest the method's
estimand (total variation between sum-normalised |importance| vectors; TRUTH_OF), and Spearman
against the data's truth. Per method: "evaluations to come within X of the best", the smallest mean
evaluation count whose mean error is within X of the method's lowest mean error. A method whose
estimand is not that truth (LIME, gradients, permutation) keeps a floor: the budget then measures
convergence to its own limit, not to the truth.

    nice python experiments/budget/run.py --out results/budget
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from varbench.outdir import FORCE_HELP, OutDir  # noqa: E402
from varbench.scoring import importance_tv  # noqa: E402

# method -> (budget parameter, values, fixed parameters)
GRID: dict[str, tuple[str, list[int], dict]] = {
    "kernel_shap": ("n_coalitions", [40, 80, 160, 320, 640, 1280], {"max_exact_features": 0}),
    "sampling_shapley": ("n_permutations", [4, 10, 20, 50, 100, 200], {}),
    "sage": ("n_permutations", [64, 128, 256, 512, 1024, 2048], {"convergence_threshold": None}),
    "sobol_total": ("n_samples", [128, 256, 512, 1024, 2048, 4096], {}),
    "lime": ("n_samples", [100, 200, 500, 1000, 2000], {}),
    "permutation": ("n_repeats", [1, 2, 5, 10, 20], {}),
    "integrated_gradients": ("steps", [4, 8, 16, 32, 64, 128], {}),
    "smoothgrad": ("n_samples", [4, 8, 16, 32, 64], {}),
}
TRUTH_OF = {"kernel_shap": "shapley", "sampling_shapley": "shapley", "lime": "shapley",
            "integrated_gradients": "shapley", "smoothgrad": "shapley", "sage": "sage",
            "sobol_total": "sobol_total", "permutation": "sobol_total"}
WITHIN = 0.02           # X of "evaluations to come within X of the best" (total variation)


def evaluations_to_best(curve: pd.DataFrame, within: float = WITHIN) -> pd.Series:
    """From one method's curve (columns evals, error: mean per budget): the best mean error and the
    fewest mean evaluations whose mean error is within `within` of it.

    Examples
    --------
    >>> c = pd.DataFrame({"evals": [10, 100, 1000], "error": [0.30, 0.05, 0.04]})
    >>> evaluations_to_best(c, 0.02).to_dict()
    {'best_error': 0.04, 'evals_to_best': 100.0}
    """
    best = float(curve["error"].min())
    ok = curve[curve["error"] <= best + within]
    return pd.Series({"best_error": best, "evals_to_best": float(ok["evals"].min())})


def summarize(runs: pd.DataFrame, within: float = WITHIN) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves: per method and budget the mean evals, error and spearman over the successful
    repeats with their sd, and the failed repeats; table: per method the best error, evaluations to
    come within `within` of it, and its truth). A budget with a failed repeat is left out of the table."""
    g = runs.assign(_failed=runs["status"] == "failed").groupby(["method", "param", "budget"], sort=False)
    curves = g.agg(evals=("n_model_evals", "mean"), error=("error", "mean"), error_sd=("error", "std"),
                   spearman=("spearman", "mean"), repeats=("error", "count"), failed=("_failed", "sum")).reset_index()
    rows = []
    for method, c in curves[curves["failed"] == 0].groupby("method", sort=False):
        rows.append({"method": method, "truth": TRUTH_OF[method], **evaluations_to_best(c, within).to_dict(),
                     "max_evals": float(c["evals"].max())})
    return curves, pd.DataFrame(rows)


def cell(dataset: str, seed: int, cache: str):
    """(TrainedModel, Dataset) of the harness's default cell for `dataset` (trained once, cached)."""
    from hydra import compose, initialize_config_dir

    from varbench.config import resolve_cell
    from varbench.models.cache import load_or_train
    from varbench.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[f"dataset={dataset}", f"seed={seed}", f"cache.dir={cache}",
                                           "trainer.progress_every=0",
                                           "trainer.engine=single"])  # the engine of results/budget/
    spec = resolve_cell(cfg)
    model, _ = load_or_train(spec)
    return model, spec.dataset


def budget_runs(model, data, repeats: int = 3, grid: dict | None = None) -> pd.DataFrame:
    """One row per (method, budget, repeat): evaluations, error vs model truth, data-truth spearman."""
    from varbench.api import method_callable
    from varbench.methods.model_truth import model_truth
    from varbench.registry import method_info
    from varbench.harness.method_run import run_method

    truth = model_truth(model, data)
    rows = []
    for method, (param, values, fixed) in (grid or GRID).items():
        meta = method_info(method).meta
        for budget in values:
            fn = method_callable(method, **{param: budget}, **fixed)
            for r in range(repeats):
                metrics, tags, imp = run_method(method, fn, model, data, seed=r, meta=meta)
                failed = tags.get("status") == "failed"       # e.g. too few coalitions for a row
                rows.append({"method": method, "param": param, "budget": budget, "repeat": r,
                             "status": "failed" if failed else "ok", "error_message": tags.get("error", ""),
                             "n_model_evals": metrics["n_model_evals"], "seconds": metrics["seconds"],
                             "error": np.nan if failed else importance_tv(imp, truth[TRUTH_OF[method]]),
                             "spearman": metrics.get("spearman", np.nan)})
    return pd.DataFrame(rows)


def plot(curves: pd.DataFrame, od: OutDir) -> Path:
    """Error vs model evaluations (log x), one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for method, c in curves.groupby("method", sort=False):
        ax.errorbar(c["evals"], c["error"], yerr=c["error_sd"], marker="o", capsize=2,
                    label=f"{method} ({TRUTH_OF[method]})")
    ax.set_xscale("log")
    ax.set_xlabel("model evaluations per run (log scale)")
    ax.set_ylabel("error vs the model's own truth (total variation)")
    ax.set_title("Budget vs error (friedman1, default mlp; mean ± sd over repeats)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = od.write_figure("budget.png", fig, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="friedman1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cache", default="outputs/budget/models")
    p.add_argument("--out", default="outputs/budget")
    p.add_argument("--force", "--overwrite", dest="force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    od = OutDir(args.out, "budget/run.py", args.force)  # refused before any work
    t0 = time.perf_counter()
    model, data = cell(args.dataset, args.seed, args.cache)
    runs = budget_runs(model, data, args.repeats)
    curves, table = summarize(runs)
    for name, df in (("budget_runs.csv", runs), ("budget_curves.csv", curves), ("budget.csv", table)):
        od.write_csv(name, df)
    plot(curves, od)
    od.finish()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"{len(runs)} runs in {time.perf_counter() - t0:.0f} s wall (machine shared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
