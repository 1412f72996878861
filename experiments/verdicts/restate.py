"""Restate the verdicts the write-ups quote with datasets as the units of inference (issue 25).

Every figure is recomputed from the committed runs tables (results/*/runs.csv) with the report's
dataset-level functions (varbench.report.tiers: the seeded cluster bootstrap of
varbench.report.clusters, t on datasets - 1 df; Holm over all pairs for tiers). A study with one
dataset (olden2004) takes its cells, fresh draws of one design, as the units and says so.

    python experiments/verdicts/restate.py                                  # prints, writes outputs/verdicts/
    python experiments/verdicts/restate.py --out results/verdicts --write-results
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from varbench.outdir import FORCE_HELP, OutDir
from varbench.report.prepare import read_runs
from varbench.report.protocol import load_protocol, protocol_leaderboard, protocol_markdown
from varbench.report.tables import cell_matrix, coverage
from varbench.report.tiers import DatasetComparison, dataset_comparison, pair_gap

RESULTS = Path(__file__).resolve().parents[2] / "results"


def matrix(path: Path, metric: str, drop: tuple[str, ...] = (), datasets: tuple[str, ...] | None = None,
           model: str | None = None) -> tuple[pd.DataFrame, pd.Series, bool, tuple[float, float]]:
    """(cells x methods matrix of good cells, each cell's dataset, higher_is_better, range); only the
    methods the report compares (varbench.report.tables.coverage), less `drop`."""
    data = read_runs(path, metric)
    runs = data.scored
    if datasets is not None:
        runs = runs[runs["dataset"].isin(datasets)]
    if model is not None:
        runs = runs[runs["model"] == model]
    cov = coverage(data)
    core = [m for m in cov.loc[cov["compared"], "method"] if m not in drop]
    M = cell_matrix(data, runs)[core]
    ds = runs.drop_duplicates("cell").set_index("cell")["dataset"]
    return M, ds, data.spec.higher_is_better, (data.spec.lo, data.spec.hi)


def compare(path: Path, metric: str, **kw) -> DatasetComparison:
    M, ds, hib, bounds = matrix(path, metric, **kw)
    return dataset_comparison(M, ds, metric, hib, bounds)


def gap_text(g: pd.Series) -> str:
    return (f"{g['mean']:+.3f} [{g['lo']:+.3f}, {g['hi']:+.3f}] (p = {g['p']:.3g}; {g.attrs['units']}, "
            f"{int(g['n_cells'])} cells)")


def tiers_text(c: DatasetComparison, digits: int = 2) -> str:
    if not c.ok:
        return f"not computed ({c.note})"
    rows = c.tiers
    parts = []
    for t, g in rows.groupby("tier", sort=True):
        parts.append(f"tier {t}: " + ", ".join(f"{m} {r:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
                                               for m, r, lo, hi in zip(g["method"], g["mean_rank"], g["rank_lo"],
                                                                       g["rank_hi"])))
    return (f"{c.n_tiers} disjoint tier(s); {int(c.pairs['significant'].sum())} of {len(c.pairs)} pairs differ "
            f"(Holm); {c.units}; mean rank [95% interval]: " + "; ".join(parts))


def seed_question(lines: list[str], rows: list[dict]) -> None:
    path = RESULTS / "seed_question" / "runs.csv"
    lines += ["## seed_question (5 datasets x 4 architectures x 10 seeds = 200 cells)", ""]
    M, ds, _, _ = matrix(path, "spearman")
    for a, b in (("permutation", "first_layer"), ("conditional_permutation", "first_layer"),
                 ("conditional_permutation", "permutation")):
        g = pair_gap(M, ds, a, b)
        per = (M[a] - M[b]).groupby(ds).mean()
        ties = int((M[a] == M[b]).sum())
        lines.append(f"- spearman {a} - {b}: {gap_text(g)}; per dataset: "
                     + ", ".join(f"{k} {v:+.3f}" for k, v in per.items())
                     + f"; {ties} of {len(M)} cells exact ties.")
        rows.append({"study": "seed_question", "verdict": f"spearman {a} - {b}", **g.drop(["se"]).to_dict()})
        if b == "first_layer" and a == "permutation":
            share = per / per.sum()
            lines.append(f"  Share of the gap from one dataset: " + ", ".join(f"{k} {v:.2f}" for k, v in share.items())
                         + ". Means of dataset means: " + f"{a} {M[a].groupby(ds).mean().mean():.3f}, "
                         f"{b} {M[b].groupby(ds).mean().mean():.3f}.")
    for metric in ("spearman", "irrelevant_share"):
        c = compare(path, metric, drop=("random",))
        lines.append(f"- tiers by {metric}, the 10 non-random methods: {tiers_text(c)}")
        rows.append({"study": "seed_question", "verdict": f"tiers {metric} without random", "mean": c.n_tiers})
    for metric in ("spearman", "irrelevant_share"):
        c = compare(path, metric)
        lines.append(f"- tiers by {metric}, 11 methods: {tiers_text(c)}")
        rows.append({"study": "seed_question", "verdict": f"tiers {metric}", "mean": c.n_tiers})
        if metric == "spearman":
            cp = c.pairs[(c.pairs["method_a"] == "conditional_permutation") | (c.pairs["method_b"] == "conditional_permutation")]
            beats = sorted(set(np.where(cp["method_a"] == "conditional_permutation", cp["method_b"], cp["method_a"])[
                (cp["significant"] & (cp["better"] == "conditional_permutation")).to_numpy()]))
            lines.append(f"  conditional_permutation significantly better (datasets as units, Holm) than: "
                         f"{', '.join(beats) or 'none'} ({len(beats)} of 10).")
    Mi, dsi, _, _ = matrix(path, "irrelevant_share")
    g = pair_gap(Mi, dsi, "first_layer", "permutation")
    lines.append(f"- irrelevant_share first_layer - permutation: {gap_text(g)}; means of dataset means first_layer "
                 f"{Mi['first_layer'].groupby(dsi).mean().mean():.3f}, permutation "
                 f"{Mi['permutation'].groupby(dsi).mean().mean():.3f}.")
    rows.append({"study": "seed_question", "verdict": "irrelevant_share first_layer - permutation",
                 **g.drop(["se"]).to_dict()})
    # regularisation and first_layer: the same (dataset, seed) on sq_mlp_l2 vs mlp
    runs = read_runs(path, "spearman").scored
    fl = runs[runs["method"] == "first_layer"].pivot_table(index=["dataset", "seed"], columns="model",
                                                             values="spearman")
    fl.index = [f"{d}/{s}" for d, s in fl.index]
    dsx = pd.Series([i.split("/")[0] for i in fl.index], index=fl.index)
    g = pair_gap(fl, dsx, "sq_mlp_l2", "mlp")
    lines += [f"- first_layer spearman, sq_mlp_l2 (L2 + dropout) - mlp, same dataset and seed: {gap_text(g)}.", ""]
    rows.append({"study": "seed_question", "verdict": "first_layer sq_mlp_l2 - mlp", **g.drop(["se"]).to_dict()})


def standard(lines: list[str], rows: list[dict]) -> None:
    path = RESULTS / "standard" / "runs.csv"
    old = ("linear", "friedman1", "correlated", "redundant", "interaction", "additive", "ishigami", "mixed_scales")
    lines += ["## standard (10 datasets x 5 seeds = 50 cells; 20 non-baseline methods, random left out)", ""]
    for metric, design in (("irrelevant_share", None), ("spearman", None), ("importance_tv", None), ("ndcg", None),
                           ("decoy_share", None), ("spearman", old), ("irrelevant_share", old)):
        c = compare(path, metric, drop=("random",), datasets=design)
        name = "new 10-dataset design" if design is None else "old 8-dataset design"
        lines.append(f"- {metric}, {name}: {tiers_text(c)}")
        rows.append({"study": "standard", "verdict": f"tiers {metric} {name}", "mean": c.n_tiers})
    lines.append("")


def olden(lines: list[str], rows: list[dict]) -> None:
    for sub, label in (("olden2004", "50 training rows"), ("olden2004/n200", "200 training rows")):
        path = RESULTS / sub / "runs.csv"
        c = compare(path, "spearman")
        lines += [f"## olden2004, {label} (one dataset: its replicates are the units)", "",
                  f"- tiers by spearman: {tiers_text(c)}"]
        order = list(c.tiers["method"])
        if "olden" in order:
            r = c.tiers.set_index("method").loc["olden"]
            lines.append(f"  olden (connection weights): position {order.index('olden') + 1} of {len(order)} by mean "
                         f"rank, {r['mean_rank']:.2f} [{r['rank_lo']:.2f}, {r['rank_hi']:.2f}], tier {int(r['tier'])}; "
                         f"mean spearman {r['mean']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}].")
            rows.append({"study": sub, "verdict": "olden position by mean rank", "mean": order.index("olden") + 1})
        sim = pd.read_csv(RESULTS / sub / "similarity.csv")
        means = sim.groupby("method")["similarity"].mean().sort_values(ascending=False, kind="stable")
        lines.append("- the paper's similarity (fraction of predictors at their true rank; similarity.csv), by mean "
                     "over replicates, every row of the write-up's table: "
                     + ", ".join(f"{i}. {m} {v:.3f}" for i, (m, v) in enumerate(means.items(), 1)) + ".")
        rows.append({"study": sub, "verdict": "olden position by mean similarity (all rows)",
                     "mean": list(means.index).index("olden") + 1})
        S = sim.pivot_table(index="seed", columns="method", values="similarity")
        S = S[[m for m in S.columns if S[m].notna().sum() == S.notna().sum().max() and m != "ols"]]
        c = dataset_comparison(S, pd.Series("olden2004", index=S.index), "similarity", True, (0.0, 1.0))
        lines += [f"- tiers by the paper's similarity (network methods with every replicate; OLS, a data ceiling, "
                  f"and the partial stepwise methods left out): {tiers_text(c)}", ""]


def correlation(lines: list[str], rows: list[dict]) -> None:
    path = RESULTS / "correlation" / "runs.csv"
    lines += ["## correlation (15 designs x 5 seeds = 75 cells; random left out)", ""]
    for metric in ("spearman", "irrelevant_share", "decoy_share"):
        c = compare(path, metric, drop=("random",))
        lines.append(f"- {metric}: {tiers_text(c)}")
        rows.append({"study": "correlation", "verdict": f"tiers {metric}", "mean": c.n_tiers})
    lines.append("")


def interactions(lines: list[str], rows: list[dict]) -> None:
    path = RESULTS / "interactions" / "runs.csv"
    lines += ["## interactions (13 functions x 3 seeds per model; inter_random left out; inter_additive has no "
              "true pair, so no AUROC: 12 functions are the units)", ""]
    for model in ("mlp", "mlp_nid"):
        c = compare(path, "pair_auroc", drop=("inter_random",), model=model)
        lines.append(f"- pair_auroc on {model}: {tiers_text(c, 2)}; mean AUC (mean of function means): "
                     + ", ".join(f"{m} {v:.3f}" for m, v in zip(c.tiers["method"], c.tiers["mean"])))
        rows.append({"study": "interactions", "verdict": f"tiers pair_auroc {model}", "mean": c.n_tiers})
    lines.append("")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="outputs/verdicts")
    p.add_argument("--write-results", action="store_true", help="allow replacing files under results/")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    args = p.parse_args(argv)
    out = Path(args.out)
    if RESULTS in (out.resolve(), *out.resolve().parents) and not args.write_results:
        raise SystemExit(f"--out={args.out!r} is under results/: pass --write-results to replace committed results")
    od = OutDir(out, "verdicts/restate.py", args.force)  # refused before any work
    lines = ["# Verdicts with datasets as the units", "",
             "Recomputed from the committed runs tables by `python experiments/verdicts/restate.py` "
             "(varbench.report.tiers; 2,000 cluster-bootstrap resamples, seed 0; intervals 95%, t on units - 1 df; "
             "differences are paired, per cell, then averaged per dataset and over datasets).", ""]
    rows: list[dict] = []
    for part in (seed_question, standard, olden, correlation, interactions):
        part(lines, rows)
    text = "\n".join(lines)
    print(text)
    od.write_text("verdicts.md", text)
    od.write_csv("verdicts.csv", pd.DataFrame(rows))
    # the leaderboard page of protocol v1 from the committed in-sample runs (held-out parts: not run)
    board = protocol_leaderboard(pd.read_csv(RESULTS / "standard" / "runs.csv"), None, load_protocol("v1"))
    od.write_text("leaderboard_v1.md", protocol_markdown(board, "results/standard/runs.csv"))
    od.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
