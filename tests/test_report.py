"""`varbench report` on a temporary MLflow store filled with fake cells logged exactly as the
runner logs them (no training), with known numbers so every aggregate is hand-computed."""
import os
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from varbench import report
from varbench.report.plots import pareto_front
from varbench.report import build_filter, main, prepare
from varbench.tracking import Tracker, fetch_cells, fetch_table, vector_json

EXP = "report-test"
T975_DF2 = 4.302652729749464    # Student t quantile 0.975, df 2 (t-table)
T975_DF1 = 12.706204736174707   # df 1
TRUTH = [1.0, 0.5, 0.25, 0.0]
NAMES = ["x0", "x1", "x2", "x3"]
# (dataset, seed) -> r2, cell_status, {method: (spearman, topk_recall) or an error message}
CELLS = {
    ("linear", 0): (0.95, "ok", {"a": (0.9, 1.0), "b": (0.5, 0.5), "random": (0.1, 0.0), "c": (0.3, 0.5)}),
    ("linear", 1): (0.90, "ok", {"a": (0.8, 1.0), "b": (0.7, 1.0), "random": (-0.2, 0.5), "c": (0.2, 0.0)}),
    ("linear", 2): (0.92, "ok", {"a": (1.0, 0.5), "b": (0.6, 0.5), "random": (0.0, 0.0), "c": "ValueError: boom"}),
    ("correlated_x", 0): (0.80, "ok", {"a": (0.4, 0.5), "b": (0.8, 1.0), "random": (0.2, 0.0), "c": (0.1, 0.0)}),
    ("correlated_x", 1): (0.85, "ok", {"a": (0.6, 0.5), "b": (0.9, 1.0), "random": (0.6, 0.5), "c": (0.0, 0.0)}),
    ("correlated_x", 2): (0.30, "low_quality", {"a": (0.9, 1.0), "b": (0.1, 0.0), "random": (0.5, 0.5),
                                                "c": (0.7, 0.5)}),
}
SECONDS = {"a": 0.4, "b": 2.0, "random": 0.001, "c": 10.0, "oracle": 0.002}   # + 0.1 * seed
EVALS = {"a": 100, "b": 1000, "random": 0, "c": 5000, "oracle": 0}


def importance_for(rho: float) -> list[float]:
    """An importance vector that agrees with TRUTH more or less, for the plots."""
    return list(np.array(TRUTH) * max(rho, 0) + (1 - max(rho, 0)) * np.array([0.1, 0.6, 0.3, 0.8]))


def log_cell(tr: Tracker, dataset: str, seed: int, r2: float, cell_status: str, methods: dict,
             study: str = "standard", model: str = "mlp") -> None:
    """Log one cell and its method runs the way varbench.runner.run_cell does."""
    base = {"dataset": dataset, "model": model, "seed": str(seed), "sweep": "sweep-1", "cell_hash": f"h{seed}",
            "study": study, "task": "regression"}
    parent = tr.start_run(f"{dataset}/{model}/seed{seed}", {**base, "kind": "cell", "status": "running"})
    tr.log(parent, params={"seed": str(seed)}, tags={"truth": vector_json(TRUTH), "truth_definition": "test",
                                                     "feature_names": ",".join(NAMES)})
    if cell_status == "failed":
        tr.log(parent, tags={"status": "failed", "error": "DivergedError: loss is nan"})
        tr.end_run(parent, "FAILED")
        return
    tr.log(parent, metrics={"r2": r2, "train_seconds": 1.0}, tags={"status": cell_status, "model_cached": "False"})
    for name, val in ({**methods, "oracle": (1.0, 1.0)} if methods else {}).items():
        child = tr.start_run(name, {**base, "kind": "method", "method": name, "cell_status": cell_status},
                             parent_id=parent)
        metrics = {"seconds": SECONDS[name] + 0.1 * seed, "n_model_evals": float(EVALS[name]), "quality_r2": r2}
        if isinstance(val, str):
            tags = {"status": "failed", "error": val}
        else:
            tags = {"status": "ok", "aggregation": "global", "score_status": "ok",
                    "importance": vector_json(TRUTH if name == "oracle" else importance_for(val[0]))}
            metrics.update({"spearman": val[0], "topk_recall": val[1], "kendall": val[0] * 0.8,
                            "precision_at_k": val[1], "auroc": 0.5 + val[0] / 2})
            tr.log_text(child, tags["importance"], "importance.json")
        tr.log(child, metrics=metrics, tags=tags)
        tr.end_run(child, "FINISHED" if tags["status"] == "ok" else "FAILED")
    tr.end_run(parent, "FINISHED")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root}/mlflow.db"
    cwd = os.getcwd()
    os.chdir(root)          # the experiment's artifact root is resolved against the cwd
    try:
        tr = Tracker(uri, EXP)
        # a stale earlier run of cell linear/seed0 (a re-run replaces it) and another study
        log_cell(tr, "linear", 0, 0.95, "ok", {"a": (0.0, 0.0), "b": (0.0, 0.0), "random": (0.0, 0.0),
                                                "c": (0.0, 0.0)})
        log_cell(tr, "linear", 0, 0.95, "ok", {"a": (-1.0, 0.0)}, study="pilot")
        time.sleep(0.05)
        for (ds, seed), (r2, status, methods) in CELLS.items():
            log_cell(tr, ds, seed, r2, status, methods)
        log_cell(tr, "xor", 0, float("nan"), "failed", {})
        log_cell(tr, "linear", 7, 0.2, "low_quality", {}, model="mlp")     # on_low_quality=skip: no methods
    finally:
        os.chdir(cwd)
    return uri


@pytest.fixture(scope="module")
def data(store):
    flt = build_filter(study="standard")
    return prepare(fetch_table(store, EXP, flt), fetch_cells(store, EXP, flt))


def row(df: pd.DataFrame, **kw) -> pd.Series:
    sel = df
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, (kw, sel)
    return sel.iloc[0]


def test_build_filter():
    assert build_filter("linear", None, None, "standard") == "tags.study = 'standard' and tags.dataset = 'linear'"
    assert build_filter() == ""
    with pytest.raises(ValueError, match="--model=\"m'x\" is invalid"):
        build_filter(model="m'x")


def test_score_table_means_and_t_intervals(data):
    s = report.score_table(data)
    assert set(s["method"]) == {"a", "b", "random", "c"}                 # oracle excluded
    a = row(s, setting="linear", method="a")
    half = T975_DF2 * 0.1 / np.sqrt(3)                                   # sd(0.9, 0.8, 1.0) = 0.1
    assert a["n"] == 3 and a["spearman"] == pytest.approx(0.9)           # latest run kept, not the stale 0.0
    # 0.9 + half = 1.148 lies above Spearman's range: the interval is clipped to [-1, 1]
    assert (a["spearman_lo"], a["spearman_hi"]) == pytest.approx((0.9 - half, 1.0))
    sd = np.std([1.0, 1.0, 0.5], ddof=1)
    assert a["topk_recall"] == pytest.approx(2.5 / 3)
    assert a["topk_recall_lo"] == pytest.approx(2.5 / 3 - T975_DF2 * sd / np.sqrt(3))     # 0.116, inside [0, 1]
    assert a["topk_recall_hi"] == 1.0                                    # 0.833 + 0.717 clipped to 1
    c = row(s, setting="linear", method="c")
    assert (c["runs"], c["failed"], c["n"]) == (3, 1, 2) and c["spearman"] == pytest.approx(0.25)
    ac = row(s, setting="correlated_x", method="a")                      # the low-quality seed 2 is not averaged
    assert ac["n"] == 2 and ac["spearman"] == pytest.approx(0.5)
    assert ac["spearman_lo"] == pytest.approx(0.5 - T975_DF1 * np.std([0.4, 0.6], ddof=1) / np.sqrt(2))  # -0.77
    assert ac["spearman_hi"] == 1.0                                      # 0.5 + 1.27 clipped
    assert data.n_duplicates == 5                                        # the stale cell's 5 runs


def test_mean_ranks_by_hand(data):
    r = report.rank_table(data).set_index("method")
    # linear0: a b c r | linear1: a b c r | linear2: a b r (c failed) | corr0: b a r c | corr1: b a=r c
    assert r["mean_rank"].to_dict() == pytest.approx({"a": 7.5 / 5, "b": 8 / 5, "random": 16.5 / 5, "c": 14 / 4})
    assert r["n_cells"].to_dict() == {"a": 5, "b": 5, "random": 5, "c": 4}
    assert r.loc["a", "rank: linear"] == 1.0 and r.loc["a", "rank: correlated_x"] == pytest.approx(2.25)
    assert list(r.index) == ["a", "b", "random", "c"]


def test_low_quality_cells_are_separate(data):
    low = report.low_quality_table(data)
    assert list(low["cell"]) == ["correlated_x/mlp/seed2", "linear/mlp/seed7"]
    assert low.iloc[1]["reason"] == "cell_status=low_quality; methods skipped" and low.iloc[1]["quality"] == 0.2
    assert low.iloc[0]["reason"] == "cell_status=low_quality" and low.iloc[0]["quality"] == pytest.approx(0.3)
    assert low.iloc[0]["a"] == pytest.approx(0.9) and "oracle" in low.columns
    cost = report.cost_table(data).set_index("method")
    assert cost.loc["a", "seconds"] == pytest.approx(np.mean([0.4, 0.5, 0.6, 0.4, 0.5]))
    assert cost.loc["c", "runs"] == 4 and cost.loc["b", "n_model_evals"] == 1000
    # a threshold also flags good cells below it, with the reason
    strict = prepare(data.runs.drop(columns=["quality", "low"]), data.cells, quality_threshold=0.88)
    low2 = report.low_quality_table(strict).set_index("cell")
    assert set(low2.index) == {"correlated_x/mlp/seed0", "correlated_x/mlp/seed1", "correlated_x/mlp/seed2",
                               "linear/mlp/seed7"}
    assert low2.loc["correlated_x/mlp/seed0", "reason"] == "R2=0.800 < 0.88"
    assert set(report.score_table(strict)["setting"]) == {"linear"}


def test_oracle_shown_separately_or_included(data):
    ceil = report.ceiling_table(data).set_index("setting")
    assert ceil.loc["linear", "n"] == 3 and ceil.loc["correlated_x", "n"] == 2
    assert ceil.loc["linear", "spearman"] == 1.0
    assert "oracle" not in set(report.rank_table(data)["method"])
    assert "oracle" not in report.comparison(data).methods
    with_oracle = prepare(data.runs.drop(columns=["quality", "low"]), data.cells, include_oracle=True)
    assert report.rank_table(with_oracle).iloc[0]["method"] == "oracle"


def test_failed_runs_and_cells_listed(data):
    f = report.failed_table(data)
    assert list(f["method"]) == ["c", "(whole cell)"]
    assert f.iloc[0]["cell"] == "linear/mlp/seed2" and f.iloc[0]["error"] == "ValueError: boom"
    assert f.iloc[1]["cell"] == "xor/mlp/seed0" and "DivergedError" in f.iloc[1]["error"]


def test_statistics_against_scipy_and_cd_formula(data):
    comp = report.comparison(data)
    assert comp.n_blocks == 4 and comp.n_dropped == 1                   # linear/seed2 lacks c
    complete = [k for k in CELLS if k != ("linear", 2) and CELLS[k][1] == "ok"]
    cols = [[CELLS[k][2][m][0] for k in complete] for m in comp.methods]
    ref = sps.friedmanchisquare(*cols)
    assert comp.statistic == pytest.approx(ref.statistic) and comp.pvalue == pytest.approx(ref.pvalue)
    assert comp.cd == pytest.approx(2.569 * np.sqrt(4 * 5 / (6 * 4)), abs=1e-3)
    # mean ranks over the 4 complete cells: a (1+1+2+2.5)/4, c (3+3+4+4)/4
    assert comp.mean_ranks["b"] == pytest.approx(1.5)
    assert comp.mean_ranks["a"] == pytest.approx(1.625) and comp.mean_ranks["c"] == pytest.approx(3.5)
    assert len(comp.wilcoxon) == 6 and comp.wilcoxon["p_holm"].ge(comp.wilcoxon["p"]).all()


def test_recommendation_comes_from_the_numbers(data):
    text = report.recommendation(data)
    lines = {l.split("**")[1]: l for l in text.splitlines() if l.startswith("- **")}
    ind = lines["independent features"]
    # linear: a 0.9 [0.65, 1.15 clipped to 1] is the top; b's 0.6 is below a's lower bound; c 0.25 < 0.5;
    # random -0.033 [-0.41, 0.35]: c's 0.25 is below its upper bound
    assert "best by mean spearman (within the 95% CI of the top method): a 0.90 [0.65, 1.00]." in ind
    assert "Fail (mean spearman < 0.5): c 0.25." in ind
    assert "not better than random (mean <= its upper bound): c 0.25." in ind
    corr = lines["correlated features"]
    assert "b 0.85 [0.21, 1.00]" in corr and "a 0.50" in corr            # a's 0.5 lies in b's CI
    assert "well-trained models (quality >= 0.9)" in lines and "weaker models (quality < 0.9)" in lines
    low = lines["models that failed to learn (low-quality cells, excluded above)"]
    assert "a 0.90 (one cell, no CI)" in low
    # over the 4 complete cells b leads (2+2+1+1)/4 = 1.5 < a's 1.625 (a leads over all 5 cells)
    assert "mean ranks b 1.50, a 1.62, random 3.38, c 3.50" in lines["Overall"]
    assert "differ significantly (Friedman p = 0.0337 < 0.05)" in lines["Overall"]
    assert report.condition_of("XOR_3") == "interactions" and report.condition_of("mystery") == report.OTHER
    assert "'fail' = mean spearman < 0.5" in text and "means of dataset means" in text
    tiers = lines["Tiers"]      # 2 datasets (t on 1 df): no pair separates, one tier
    assert "units: 2 datasets" in tiers and "1 tier(s): 1 {" in tiers


def test_pareto_front_by_hand():
    cost = [0.001, 0.5, 2.0, 10.0, 0.5, np.nan]
    score = [0.0, 0.8, 0.75, 0.9, 0.7, 1.0]
    # 2.0/0.75 is dominated by 0.5/0.8; 0.5/0.7 by 0.5/0.8; NaN never on the front
    assert list(pareto_front(cost, score)) == [0, 1, 3]


def check_png(path):
    import matplotlib.image as mpimg

    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", path
    img = mpimg.imread(path)
    assert img.shape[0] > 100 and img.shape[1] > 100, (path, img.shape)
    assert np.ptp(img[..., :3]) > 0.1, f"{path} is blank"


def test_cli_end_to_end(store, tmp_path, capsys):
    out = tmp_path / "rep"
    code = main(["--uri", store, "--experiment", EXP, "--study", "standard", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    for name in ("report.md", "recommendation.md", "scores.csv", "ranks.csv", "cost.csv", "low_quality.csv",
                 "oracle.csv", "failed.csv", "friedman.csv", "nemenyi.csv", "wilcoxon.csv", "runs.csv"):
        assert (out / name).exists(), name
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["critical_difference.png", "heatmap.png", "importance_correlated_x_mlp_seed0.png",
                    "importance_linear_mlp_seed0.png", "score_vs_cost.png", "score_vs_quality.png"]
    for p in out.glob("*.png"):
        check_png(p)
    md = (out / "report.md").read_text()
    for section in ("## Recommendation", "## Mean rank", "## Statistics", "## Low-quality cells",
                    "## Failed runs", "ValueError: boom", "![heatmap](heatmap.png)"):
        assert section in md, section
    assert pd.read_csv(out / "scores.csv").query("method == 'a' and setting == 'linear'")["n"].item() == 3
    # datasets as units: the complete cells are linear/0, 1 and correlated_x/0, 1 (c failed on linear/2); a's
    # mean is the mean of its dataset means (0.85 + 0.5) / 2; with 2 datasets (t on 1 df) nothing separates
    tiers = pd.read_csv(out / "tiers.csv").set_index("method")
    assert sorted(tiers.index) == ["a", "b", "c", "random"] and (tiers["n_datasets"] == 2).all()
    assert tiers.loc["a", "mean"] == pytest.approx(0.675) and (tiers["tier"] == 1).all()
    assert len(pd.read_csv(out / "dataset_pairs.csv")) == 6 and "## Tiers (datasets as units)" in md
    assert "2 low-quality cell(s)" in printed and "logged as MLflow run" in printed
    assert "tiers (units: 2 datasets (cells resampled within them)): 1, in tiers.csv" in printed
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name(EXP)
    runs = client.search_runs([exp.experiment_id], "tags.kind = 'report'")
    assert len(runs) == 1 and runs[0].data.tags["report"] == "full"
    logged = {os.path.basename(a.path) for a in client.list_artifacts(runs[0].info.run_id, "report")}
    assert {"report.md", "heatmap.png", "critical_difference.png", "scores.csv"} <= logged
    assert len(fetch_table(store, EXP)) == 30 + 5 + 2      # the report run is not a method run


def test_cli_leaderboard_follows_the_protocol(store, tmp_path, capsys):
    out = tmp_path / "lb"
    assert main(["--uri", store, "--experiment", EXP, "--leaderboard", "--metric", "spearman", "--out", str(out),
                 "--no-mlflow-log"]) == 0
    printed = capsys.readouterr().out
    board = pd.read_csv(out / "leaderboard.csv")
    # protocol v1's in-sample design holds `linear` (not correlated_x) and seeds 0-4: cells linear/0, 1 and 2,
    # complete for every method on 0 and 1 (c failed on 2); the pilot study's a = -1 is not in
    assert list(board["method"]) == ["a", "b", "c", "random"]
    assert board.iloc[0]["n_cells"] == 2 and board.iloc[0]["mean"] == pytest.approx(np.mean([.9, .8]))
    assert printed.startswith("# varbench leaderboard: protocol standard-v1 (version 1)")
    assert "(the protocol's metric is irrelevant_share: this page is not the protocol's leaderboard)" in printed
    assert "**held-out seeds** (study `standard_heldout`" in printed and "not run" in printed
    assert set(pd.read_csv(out / "rank_stability.csv")["part"]) == {"in-sample", "held-out seeds",
                                                                     "held-out generators"}
    assert not list(out.glob("*.png"))
    assert main(["--uri", store, "--experiment", EXP, "--leaderboard", "--study", "x", "--out", str(out)]) == 2


def test_cli_errors(store, tmp_path, capsys):
    assert main(["--uri", store, "--experiment", "nope", "--out", str(tmp_path), "--no-mlflow-log"]) == 1
    assert main(["--uri", store, "--experiment", EXP, "--dataset", "it's", "--out", str(tmp_path)]) == 2
    assert main(["--uri", store, "--experiment", EXP, "--cell", "linear/0", "--out", str(tmp_path)]) == 2
    assert main(["--uri", store, "--experiment", EXP, "--study", "standard", "--cell", "linear/mlp/9",
                 "--out", str(tmp_path), "--no-mlflow-log"]) == 2
    assert main(["--uri", store, "--experiment", EXP, "--metric", "local_spearman", "--out", str(tmp_path),
                 "--no-mlflow-log"]) == 2
    err = capsys.readouterr().err
    assert "--metric='local_spearman' is invalid: no method run logged it (logged: spearman, kendall, topk_recall" in err
    assert "--dataset=\"it's\" is invalid" in err and "--cell='linear/0' is invalid" in err
    assert "no method runs in that cell" in err
    with pytest.raises(SystemExit):
        main(["--metric", "accuracy"])


def test_report_when_every_cell_is_low_quality(data, tmp_path):
    allbad = prepare(data.runs.drop(columns=["quality", "low"]), data.cells, quality_threshold=0.99)
    res = report.write_report(allbad, tmp_path, "test")
    assert not res.comparison.ok and report.score_table(allbad).empty
    names = {p.name for p in res.paths}
    assert "score_vs_quality.png" in names and "heatmap.png" not in names
    assert any("heatmap" in n for n in res.notes)
    assert "No good cell has a scored method run." in (tmp_path / "recommendation.md").read_text()


def test_plot_functions_on_edge_cases(tmp_path):
    from varbench.report import plots

    mat = pd.DataFrame([[0.9, np.nan], [-0.2, 0.4]], index=["m1", "a_long_method_name"], columns=["d1", "d2"])
    check_png(plots.heatmap(mat, tmp_path / "h.png", "heat", "spearman"))
    check_png(plots.cd_diagram(pd.Series({"m1": 1.2, "m2": 1.8}), 0.8, [["m1", "m2"]], tmp_path / "cd.png", "cd"))
    rng = np.random.default_rng(0)
    imps = {f"method_{i}": rng.random(50) for i in range(4)}
    check_png(plots.importance_bars(np.r_[np.ones(5), np.zeros(45)], [f"f{j}" for j in range(50)], imps,
                                    tmp_path / "bars.png", "bars, 50 features"))
    with pytest.raises(ValueError, match="at least 2 methods"):
        plots.cd_diagram(pd.Series({"m1": 1.0}), 0.5, [], tmp_path / "x.png", "x")


def test_filtered_report_is_named_for_its_filter_and_replaces_the_last(store, tmp_path, capsys):
    from mlflow import MlflowClient

    out = tmp_path / "f"
    assert main(["--uri", store, "--experiment", EXP, "--study", "standard", "--dataset", "linear", "--out", str(out),
                 "--cell", "linear/mlp/1"]) == 0
    assert (out / "importance_linear_mlp_seed1.png").exists()
    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name(EXP)
    named = {r.data.tags["filter"]: r.info.run_name
             for r in client.search_runs([exp.experiment_id], "tags.kind = 'report'")}
    assert named["tags.study = 'standard' and tags.dataset = 'linear'"] == "report:full[study=standard,dataset=linear]"
    err = capsys.readouterr().err
    assert "report [" in err and "tables and statistics" in err and "rendering report.md and report.html" in err
    assert main(["--uri", store, "--experiment", EXP, "--study", "standard", "--dataset", "linear", "--out", str(out),
                 "--cell", "linear/mlp/2", "--no-mlflow-log"]) == 0
    assert not (out / "importance_linear_mlp_seed1.png").exists() and (out / "importance_linear_mlp_seed2.png").exists()


CHECK_JS = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.dataset.images = imgs.length;
  document.body.dataset.broken = imgs.filter(i => !(i.complete && i.naturalWidth > 100)).map(i => i.alt).join(',');
  document.body.dataset.tables = document.querySelectorAll('table').length;
});
</script></body>"""


def test_html_report_renders_in_headless_chromium(store, tmp_path):
    import re
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it as root)")
    out = tmp_path / "html"
    assert main(["--uri", store, "--experiment", EXP, "--study", "standard", "--out", str(out), "--no-mlflow-log",
                 "--quiet"]) == 0
    page = (out / "report.html").read_text()
    assert "src=\"http" not in page and "<link" not in page             # self-contained: nothing to fetch
    assert page.count("data:image/png;base64,") == len(list(out.glob("*.png"))) == 6
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", CHECK_JS))
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
                          "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    assert attrs == {"images": "6", "broken": "", "tables": attrs.get("tables")} and int(attrs["tables"]) >= 9
    for text in ("Recommendation", "Mean rank within cells", "ValueError: boom", "a 0.90 [0.65, 1.00]",
                 "#/experiments/", "MLflow runs"):
        assert text in dom, text
