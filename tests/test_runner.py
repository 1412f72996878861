"""End-to-end cells through the runner, on a temporary MLflow store."""
import numpy as np
import pytest

from varbench.runner import run_cell
from varbench.tracking import fetch_cells, fetch_table

SEED_ANSWERS = {"first_layer", "probing", "lime", "permutation", "random"}


def test_cell_logs_parent_and_children_with_contract_metrics(compose_cfg):
    cfg = compose_cfg(["dataset=linear", "seed=1"])
    result = run_cell(cfg, sweep="s1")
    assert result.status == "ok" and result.n_failed == 0
    runs = fetch_table(cfg.tracking.uri, "varbench")
    cells = fetch_cells(cfg.tracking.uri, "varbench")
    assert len(cells) == 1 and cells["r2"].iloc[0] > 0.5
    assert set(runs["method"]) == SEED_ANSWERS and len(runs) == 5
    for col in ("spearman", "kendall", "topk_recall", "precision_at_k", "auroc", "seconds",
                "n_model_evals", "quality_r2"):
        assert runs[col].notna().all(), col
    assert (runs["parent_run_id"] == cells["run_id"].iloc[0]).all()
    assert set(runs["dataset"]) == {"linear"} and set(runs["seed"]) == {1}
    assert (runs.loc[runs.method == "permutation", "n_model_evals"] > 0).all()
    # the model's own truth is computed and every method is scored against it too
    assert runs["model_spearman"].notna().all() and runs["model_spearman_shapley"].notna().all()
    assert cells["model_spearman_vs_data"].iloc[0] > 0.5  # the model learned roughly the right ranking
    # a good model on a linear problem: permutation finds every relevant feature
    assert runs.loc[runs.method == "permutation", "topk_recall"].iloc[0] == 1.0


def test_faulty_methods_are_isolated(compose_cfg):
    cfg = compose_cfg(["dataset=linear", "methods=[random,permutation]",
                       "+methods.boom._target_=user_methods.boom",
                       "+methods.nan._target_=user_methods.nan_method",
                       "+methods.shape._target_=user_methods.wrong_shape"])
    result = run_cell(cfg)
    status = {r["method"]: r["status"] for r in result.rows}
    assert status == {"random": "ok", "permutation": "ok", "boom": "failed", "nan": "failed", "shape": "failed"}
    runs = fetch_table(cfg.tracking.uri, "varbench").set_index("method")
    assert "always fails" in runs.loc["boom", "error"]
    assert "non-finite" in runs.loc["nan", "error"]
    assert "shape (9,)" in runs.loc["shape", "error"]


def test_same_config_same_numbers(compose_cfg):
    cfg = compose_cfg(["dataset=friedman1", "methods=[lime,permutation,random]", "resume=false"])
    a = run_cell(cfg).table.set_index("method")
    b = run_cell(cfg).table.set_index("method")
    for col in ("spearman", "topk_recall", "importance"):
        assert a[col].to_dict() == b[col].to_dict()


def test_model_cache_reuses_training(compose_cfg, tmp_path):
    cfg = compose_cfg(["dataset=linear", "methods=[permutation]", f"cache.dir={tmp_path}/cache", "resume=false"])
    first = run_cell(cfg).table
    second = run_cell(cfg).table
    cells = fetch_cells(cfg.tracking.uri, "varbench").sort_values("start_time")
    assert list(cells["model_cached"]) == ["False", "True"]
    assert first["importance"].iloc[0] == second["importance"].iloc[0]


def test_config_errors_before_training(compose_cfg):
    from varbench.config import ConfigError

    for override, needle in [("seed=-1", "seed=-1"), ("trainer.epochs=0", "trainer.epochs=0"),
                             ("dataset.n_relevant=99", "dataset.n_relevant=99"),
                             ("dataset.noise=-1", "dataset.noise=-1"),
                             ("+trainer.epoch=5", "trainer.epoch=5"),
                             ("scoring.k=100", "scoring.k=100"),
                             ("+methods.bad._target_=nowhere.fn", "methods.bad._target_='nowhere.fn'")]:
        with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("'", ".")):
            run_cell(compose_cfg([override]))
    with pytest.raises(ConfigError, match="at least one method"):
        run_cell(compose_cfg(["~methods"]))


def test_public_api_on_a_users_model():
    import keras

    import varbench
    from exact import linear_net

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)).astype(np.float32)
    w = np.array([3.0, 0.0, -1.0])
    net = linear_net(w).keras
    assert isinstance(net, keras.Model)
    s = varbench.importance(net, X, X @ w, method="permutation", feature_names=["a", "b", "c"],
                            n_repeats=3)["importance"]
    assert list(s.index) == ["a", "b", "c"] and s["a"] > s["c"] > s["b"]
    with pytest.raises(ValueError, match="method='nope' is not registered"):
        varbench.importance(net, X, X @ w, method="nope")


def test_resume_skips_done_pairs_reruns_failed_and_never_duplicates(compose_cfg):
    cfg = compose_cfg(["dataset=linear", "methods=[random]", "+methods.boom._target_=user_methods.boom"])
    first = run_cell(cfg)
    assert {r["method"]: r["status"] for r in first.rows} == {"random": "ok", "boom": "failed"}
    second = run_cell(cfg)  # only the failed pair reruns
    assert [r["method"] for r in second.rows] == ["boom"]
    runs = fetch_table(cfg.tracking.uri, "varbench")
    assert sorted(runs["method"]) == ["boom", "random"]  # the old failed run was replaced
    assert fetch_cells(cfg.tracking.uri, "varbench").shape[0] == 1  # same parent reused
    done = compose_cfg(["dataset=linear", "methods=[random]"])
    third = run_cell(done)
    assert third.status == "skipped" and third.rows == []
    # a new method on the same cell runs alone, without duplicating the others
    more = run_cell(compose_cfg(["dataset=linear", "methods=[random,probing]"]))
    assert [r["method"] for r in more.rows] == ["probing"]
    assert sorted(fetch_table(cfg.tracking.uri, "varbench")["method"]) == ["boom", "probing", "random"]


def test_interrupted_cell_leaves_no_run_open(compose_cfg, monkeypatch):
    from mlflow import MlflowClient

    import varbench.tracking as tracking

    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 1e9)  # `random`'s run is buffered when `stop` is interrupted
    cfg = compose_cfg(["dataset=linear", "methods=[random]",
                       "+methods.stop._target_=user_methods.interrupt"])
    with pytest.raises(KeyboardInterrupt):
        run_cell(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    exp = client.get_experiment_by_name("varbench")
    statuses = {r.data.tags.get("method", r.data.tags.get("kind")): r.info.status
                for r in client.search_runs([exp.experiment_id])}
    assert statuses == {"cell": "KILLED", "random": "FINISHED"}  # the buffer was written on the way out
    # the rerun completes the cell, and runs nothing twice
    rerun = run_cell(compose_cfg(["dataset=linear", "methods=[random,probing]"]))
    assert [r["method"] for r in rerun.rows] == ["probing"]
    assert sorted(fetch_table(cfg.tracking.uri, "varbench")["method"]) == ["probing", "random"]


def test_interaction_methods_run_on_their_own_track(compose_cfg):
    # quality_threshold=-1e9: the few-epoch model counts as good, so the report averages its runs in
    cfg = compose_cfg(["dataset=interaction", "methods=[random,inter_nid,inter_random]", "quality_threshold=-1e9"])
    result = run_cell(cfg)
    tracks = {r["method"]: r["track"] for r in result.rows}
    assert tracks == {"random": "main", "inter_nid": "interactions", "inter_random": "interactions"}
    main = fetch_table(cfg.tracking.uri, "varbench")
    inter = fetch_table(cfg.tracking.uri, "varbench", kind="interaction")
    assert list(main["method"]) == ["random"]
    assert sorted(inter["method"]) == ["inter_nid", "inter_random"]
    assert inter["pair_auroc"].between(0, 1).all() and (inter["status"] == "ok").all()
    # the report's interaction section aggregates exactly these runs
    from varbench.report import main as report_main

    out = cfg.tracking.uri.replace("sqlite:///", "").replace("mlflow.db", "rep")
    assert report_main(["--uri", cfg.tracking.uri, "--out", out, "--no-mlflow-log"]) == 0
    import pandas as pd
    from pathlib import Path

    table = pd.read_csv(Path(out) / "interactions.csv").set_index("method")
    assert table.loc["inter_nid", "pair_auroc"] == pytest.approx(inter.set_index("method").loc["inter_nid", "pair_auroc"])
    assert (Path(out) / "interactions_heatmap.png").stat().st_size > 0
    assert list(Path(out).glob("interactions_interaction_*.png"))
