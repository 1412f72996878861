"""A user's table of 16 columns with a string column, end to end: the run summary prints every
method's per-variable importance with an interval and ranks by a metric the runs logged (a
validated truth-free metric), and `varbench report` with no options writes a report."""
import re

import numpy as np
import pandas as pd
import pytest

from varbench.report.metrics import ranking_metric
from varbench.report.tables import summarize
from varbench.scoring import METRIC_INFO
from varbench.truth_free.validated import VALIDATED


def _table(path, n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 14))
    grade = rng.choice(["low", "mid", "high", "top"], size=n)
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + (grade == "top") + rng.normal(scale=0.1, size=n)
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(14)]).assign(grade=grade, y=y)
    frame.to_csv(path, index=False)
    return frame


def test_a_wide_table_run_prints_importances_ranks_by_a_logged_metric_and_reports(tmp_path, monkeypatch, capsys):
    from varbench.advise.run import compose
    from varbench.callbacks import print_summary
    from varbench.report import main as report_main
    from varbench.runner import run_cell
    from varbench.tracking import fetch_table

    monkeypatch.chdir(tmp_path)
    _table(tmp_path / "t.csv")
    uri = "sqlite:///mlflow.db"  # the default store, as `varbench` and `varbench report` use it
    cfg = compose(["dataset=table", "dataset.path=t.csv", "dataset.target=y", "methods=[permutation,occlusion,random]",
                   "trainer.epochs=10", "trainer.patience=0", "trainer.progress_every=0", "cache.dir=null",
                   "evaluation.rows=40", "evaluation.background_size=8"])
    result = run_cell(cfg)
    assert result.status == "ok" and result.n_failed == 0
    runs = result.table
    assert runs["spearman"].isna().all() if "spearman" in runs else True  # the truth is unknown
    for m in ("deletion_auc", "insertion_auc", "pgi", "pgu"):
        assert runs[m].notna().all()
    assert "deletion_auc_conditional" not in runs  # a one-hot group: no Gaussian conditional
    assert set(runs["truth_free_k"]) == {"4 (ceil(0.25 x 15 variables))"}

    key = ranking_metric(runs)
    assert key == (VALIDATED[0] if VALIDATED else None)
    capsys.readouterr()
    print_summary(uri, "varbench", set(fetch_table(uri, "varbench")["method_hash"]))
    out = capsys.readouterr().out
    if key is None:
        assert "ranked by nothing: no run logged a ranking metric (logged: " in out
    else:
        assert f"ranked by mean {key}" in out
        table = summarize(runs)
        assert table[key].notna().all() and table["rank"].tolist() == [1, 2, 3]
    assert "importance per variable" in out
    for name in ["c0", "c13", "grade"]:  # every variable, the string column as one variable
        assert any(line.startswith(name) for line in out.splitlines())
    c0 = next(line for line in out.splitlines() if line.startswith("c0"))
    assert re.search(r"\[-?\d", c0)  # permutation's own interval (its repeats), printed with the value

    assert report_main([]) == 0  # no options: the default store, a metric that was logged
    out = capsys.readouterr().out
    assert "wrote" in out and (tmp_path / "outputs" / "report" / "report.md").exists()
    text = (tmp_path / "outputs" / "report" / "report.md").read_text()
    if key is not None:
        assert f"Metric for ranks and statistics: **{key}**" in text
    if key is not None and not np.isfinite(METRIC_INFO[key].high):  # e.g. pgu, in output units
        assert f"no 'fail' threshold ({key} is unbounded)" in text and "Fail (mean" not in text


@pytest.mark.parametrize("logged, expect", [({"spearman": [0.5]}, "spearman"),
                                            ({"spearman": [np.nan], "model_spearman": [0.1]}, "model_spearman"),
                                            ({"spearman": [np.nan]}, None)])
def test_ranking_never_uses_an_all_nan_metric(logged, expect):
    df = pd.DataFrame({"method": ["a"], "status": ["ok"], "seconds": [1.0], **logged})
    assert ranking_metric(df) == expect
    table = summarize(df)
    if expect is None:
        assert table.attrs["ranked_by"].startswith("nothing: no run logged a ranking metric")
        assert table["rank"].tolist() == ["-"]
