"""The report layer on hand-made run tables (no MLflow, no training): coverage-aware ranks and
tests, metric directions and ranges, the interaction track through the shared preparation, and
report files that replace the previous report's."""
import json
import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from varbench import report
from varbench.outdir import OutDirError, read_manifest
from varbench.report.metrics import METRICS, metric
from varbench.report.prepare import INTERACTION_HEADLINE, prepare
from varbench.report.render import Document, Figure, Link, Section, Table, Text, to_html, to_markdown
from varbench.report.stats import t_interval


def frame(rows: list[dict], **common) -> pd.DataFrame:
    """A run table as fetch_table returns it: one dict per run (dataset, seed, method, metrics)."""
    out = []
    for i, r in enumerate(rows):
        base = {"run_id": f"r{i}", "parent_run_id": f"p-{r.get('dataset', 'linear')}-{r['seed']}", "start_time": i,
                "study": "s", "dataset": "linear", "model": "mlp", "status": "ok", "cell_status": "ok",
                "quality_r2": 0.95, "importance": "[1, 0]", "truth": "[1, 0]", "feature_names": "x0,x1"}
        out.append({**base, **common, **r})
    return pd.DataFrame(out)


# cells 0-3 ran the seed answers (a, b, random); cell 4 ran every method (a, b, random, x, y)
SCORES = {0: {"a": .9, "b": .5, "random": .1}, 1: {"a": .8, "b": .7, "random": -.2},
          2: {"a": .7, "b": .8, "random": 0.0}, 3: {"a": 1.0, "b": .6, "random": .2},
          4: {"a": .6, "b": .4, "random": 0.0, "x": .95, "y": .3}}


@pytest.fixture
def partial():
    rows = [{"seed": s, "method": m, "spearman": v, "topk_recall": 1.0} for s, ms in SCORES.items()
            for m, v in ms.items()]
    return prepare(frame(rows), None)


def test_one_wider_cell_does_not_switch_off_the_statistics(partial):
    comp = report.comparison(partial)
    # before: the 5 methods shared 1 complete cell, so no test ran; now a, b, random over 5 cells
    assert comp.ok and comp.n_blocks == 5 and comp.methods == ["a", "b", "random"]
    assert comp.left_out == {"x": 1, "y": 1}
    ref = sps.friedmanchisquare(*[[SCORES[s][m] for s in range(5)] for m in ("a", "b", "random")])
    assert comp.statistic == pytest.approx(ref.statistic) and comp.pvalue == pytest.approx(ref.pvalue)
    cov = report.coverage(partial).set_index("method")
    assert cov.loc["a", "coverage"] == "5/5" and cov.loc["x", "coverage"] == "1/5"
    assert cov["compared"].to_dict() == {"a": True, "b": True, "random": True, "x": False, "y": False}


def test_partial_methods_ranked_apart_and_said_so(partial):
    r = report.rank_table(partial).set_index("method")
    # among a, b, random: a is first in cells 0, 1, 3, 4 and second in 2
    assert r.loc["a", "mean_rank"] == pytest.approx(6 / 5) and r.loc["b", "mean_rank"] == pytest.approx(9 / 5)
    assert r.loc["random", "mean_rank"] == 3.0
    # x and y only in cell 4, ranked among its 5 methods: x .95 first, y .3 fourth
    assert r.loc["x", "mean_rank"] == 1.0 and r.loc["y", "mean_rank"] == 4.0
    assert list(r.index) == ["a", "b", "random", "x", "y"] and not r.loc["x", "compared"]
    board = report.leaderboard(partial).set_index("method")
    assert board["rank"].to_dict() == {"a": "1", "b": "2", "random": "3", "x": "-", "y": "-"}
    text = report.recommendation(partial)
    assert "(ranked only within their own cells, not tested): x (1 cell), y (1 cell)." in text
    line = next(l for l in text.splitlines() if l.startswith("- **independent features**"))
    # the top method is chosen among the methods scored on enough cells, not x with its one cell
    assert "best by mean spearman (within the 95% CI of the top method): a 0.80" in line
    assert "Scored on too few of these cells to compare: x 0.95 (1 of 5 cells), y 0.30 (1 of 5 cells)." in line


def test_lower_is_better_metric_ranks_the_smallest_first():
    rows = [{"seed": s, "method": m, "spearman": 0.0, "irrelevant_share": v}
            for s, ms in {0: {"a": .1, "b": .4}, 1: {"a": .2, "b": .3}, 2: {"a": .5, "b": .2}}.items()
            for m, v in ms.items()]
    data = prepare(frame(rows), None, metric="irrelevant_share")
    assert not METRICS["irrelevant_share"].higher_is_better
    r = report.rank_table(data).set_index("method")
    assert r.loc["a", "mean_rank"] == pytest.approx(4 / 3) and r.loc["b", "mean_rank"] == pytest.approx(5 / 3)
    s = report.score_table(data)
    assert list(s["method"]) == ["a", "b"]                           # a's mean 0.267 is better than b's 0.3
    a = s.set_index("method").loc["a"]
    half = 4.302652729749464 * np.std([.1, .2, .5], ddof=1) / np.sqrt(3)   # 0.517 around the mean 0.267
    assert a["irrelevant_share_lo"] == 0.0 and a["irrelevant_share_hi"] == pytest.approx(0.8 / 3 + half)
    with pytest.raises(ValueError, match="--metric='accuracy' is invalid: expected one of spearman"):
        metric("accuracy")


def test_intervals_respect_the_metric_range():
    # mean 0.9, s = 0.1, n = 3: t interval [0.652, 1.148]; Spearman lives in [-1, 1]
    half = 4.302652729749464 * 0.1 / np.sqrt(3)
    ci = t_interval([0.8, 0.9, 1.0], bounds=(-1.0, 1.0))
    assert (ci.lo, ci.hi) == pytest.approx((0.9 - half, 1.0))
    table = report.ci_table(pd.DataFrame({"g": 1, "spearman": [0.8, 0.9, 1.0], "seconds": [1.0, 2.0, 30.0]}),
                            ["g"], ["spearman", "seconds"])
    assert table["spearman_hi"].item() == 1.0
    # seconds: [0, inf): mean 11, s = 16.46, half = 40.9 -> the lower bound 11 - 40.9 is clipped to 0
    assert table["seconds_lo"].item() == 0.0
    assert table["seconds_hi"].item() == pytest.approx(11 + 4.302652729749464 * np.std([1, 2, 30], ddof=1) / np.sqrt(3))


def interaction_frame() -> pd.DataFrame:
    truth = json.dumps([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    rows = []
    for model in ("mlp", "wide"):
        for seed in (0, 1):
            for m, v in (("inter_nid", 0.9 if model == "mlp" else 0.7), ("inter_random", 0.5 + 0.1 * seed)):
                rows.append({"seed": seed, "model": model, "method": m, "pair_auroc": v + 0.02 * seed,
                             "pair_ap": v, "r_precision": 1.0, "kind": "interaction",
                             "interactions": json.dumps([[0, v, 0], [v, 0, 0.1], [0, 0.1, 0]])})
    rows.insert(0, {"seed": 0, "model": "mlp", "method": "inter_nid", "pair_auroc": 0.0, "pair_ap": 0.0,
                    "r_precision": 0.0})                                           # stale: replaced by the re-run
    rows.append({"seed": 2, "model": "mlp", "method": "inter_nid", "pair_auroc": 0.1, "pair_ap": 0.1,
                 "r_precision": 0.0, "cell_status": "low_quality"})               # low quality: not averaged
    df = frame(rows, dataset="tsang_f1")
    cells = df.drop_duplicates("parent_run_id")[["parent_run_id", "study", "dataset", "model", "seed"]]
    cells = cells.rename(columns={"parent_run_id": "run_id"}).assign(truth_interactions=truth, start_time=0,
                                                                     status="ok")
    return df, cells


def test_interaction_track_goes_through_the_same_preparation(tmp_path):
    runs, cells = interaction_frame()
    data = prepare(runs, cells, "pair_auroc", headline=INTERACTION_HEADLINE,
                   track="interactions")
    assert data.n_duplicates == 1 and data.low["cell"].tolist() == ["tsang_f1/mlp/seed2"]
    s = report.score_table(data).set_index(["setting", "method"])
    # two models: one setting each, never mixed; mean over seeds 0, 1 of 0.9 and 0.92
    assert s.loc[("tsang_f1 / mlp", "inter_nid"), "pair_auroc"] == pytest.approx(0.91)
    assert s.loc[("tsang_f1 / wide", "inter_nid"), "pair_auroc"] == pytest.approx(0.71)
    assert s.loc[("tsang_f1 / mlp", "inter_nid"), "n"] == 2                # stale and low-quality runs left out
    # inter_random on mlp: 0.5 and 0.62 -> 0.56 +- 12.706 * 0.0849 / sqrt(2) = [-0.20, 1.32], clipped to [0, 1]
    rnd = s.loc[("tsang_f1 / mlp", "inter_random")]
    assert (rnd["pair_auroc"], rnd["pair_auroc_lo"], rnd["pair_auroc_hi"]) == pytest.approx((0.56, 0.0, 1.0))
    res = report.write_report(None, tmp_path, "test", interactions=data)
    names = {p.name for p in res.paths}
    assert {"interactions.csv", "interactions.md", "interactions_heatmap.png", "report.html",
            "interactions_tsang_f1_mlp_seed0.png", "interactions_tsang_f1_wide_seed0.png"} <= names
    ranks = pd.read_csv(tmp_path / "interaction_ranks.csv").set_index("method")
    # inter_nid beats inter_random in all 4 good cells: mlp 0.9/0.5, 0.92/0.62; wide 0.7/0.5, 0.72/0.62
    assert ranks["mean_rank"].to_dict() == {"inter_nid": 1.0, "inter_random": 2.0}
    md = (tmp_path / "interactions.md").read_text()
    assert "| tsang_f1 / mlp | tsang_f1 | mlp | inter_nid | 2 | 0 | 2 | 0.91 [0.78, 1.00] |" in md   # hi 1.04 clipped


def test_a_report_replaces_the_previous_one(tmp_path, partial):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutDirError, match="holds 1 file.*notes.txt.*--force"):    # a folder with the user's files
        report.write_report(partial, tmp_path, "test")
    assert os.listdir(tmp_path) == ["notes.txt"]
    first = report.write_report(partial, tmp_path, "test", cell="linear/mlp/3", force=True)
    assert (tmp_path / "importance_linear_mlp_seed3.png").exists()
    second = report.write_report(partial, tmp_path, "test", cell="linear/mlp/1", force=True)
    assert not (tmp_path / "importance_linear_mlp_seed3.png").exists()        # no stale plot
    assert (tmp_path / "importance_linear_mlp_seed1.png").exists() and (tmp_path / "notes.txt").read_text() == "mine"
    listed = read_manifest(tmp_path)
    assert set(listed) == {p.name for p in second.paths} and "importance_linear_mlp_seed3.png" in {p.name for p in first.paths}
    assert all(e["writer"] == "report" for e in listed.values())


def test_markdown_and_html_render_the_same_document(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "line.png")
    df = pd.DataFrame({"method": ["a<b>", "c"], "value": [0.12345, np.nan], "run": [Link("r1", "http://x/1"), ""]})
    doc = Document("T", [Section("S", [Text("- **bold** and `code`\n  more"), Table(df, 2), Figure(tmp_path / "line.png")])])
    md = to_markdown(doc)
    assert "| a&lt;b&gt; | 0.12 | [r1](http://x/1) |" in md and "| c |  |  |" in md and "![line](line.png)" in md
    html = to_html(doc)
    assert "<li><strong>bold</strong> and <code>code</code><br>more</li>" in html
    assert "<td>a&lt;b&gt;</td><td class=\"num\">0.12</td><td><a href=\"http://x/1\">r1</a></td>" in html
    assert 'src="data:image/png;base64,iVBORw0KGgo' in html                 # the PNG itself, embedded


def test_every_method_is_also_compared_on_the_cells_all_share(partial, tmp_path):
    wide = report.tables.wide_comparison(partial)
    assert not wide.ok and "have 5 methods, 1 complete cells" in wide.note      # x, y share one cell only
    # two extra methods on 2 of 5 cells: they are left out of the main test (2 < 2.5) but tested with all on 2 cells
    rows = [{"seed": s, "method": m, "spearman": v} for s, ms in SCORES.items() for m, v in ms.items()]
    rows += [{"seed": 3, "method": "x", "spearman": 0.1}, {"seed": 3, "method": "y", "spearman": 0.2}]
    data = prepare(frame(rows), None)
    assert report.comparison(data).left_out == {"x": 2, "y": 2}
    wide = report.tables.wide_comparison(data)
    ref = sps.friedmanchisquare(*[[SCORES[3][m] if m in SCORES[3] else {"x": .1, "y": .2}[m], SCORES[4][m]]
                                  for m in ("a", "b", "random", "x", "y")])
    assert wide.ok and wide.n_blocks == 2 and wide.statistic == pytest.approx(ref.statistic)
    report.write_report(data, tmp_path, "test", plots=False)
    assert "### Every method, on the cells they all share" in (tmp_path / "report.md").read_text()


def test_runs_csv_read_back_keeps_the_reports_low_quality_flags(tmp_path, partial):
    strict = prepare(partial.runs, None, quality_threshold=0.99)       # every cell (R2 0.95) below 0.99
    strict.runs.to_csv(tmp_path / "runs.csv", index=False)
    back = report.read_runs(tmp_path / "runs.csv")
    assert back.runs["low"].all() and back.ranked.empty
    partial.runs.to_csv(tmp_path / "ok.csv", index=False)
    assert not report.read_runs(tmp_path / "ok.csv").runs["low"].any()
