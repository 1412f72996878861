"""A cell's method runs are written in one transaction (varbench.run_batch), each importance vector as a tag;
an `importance.json` artifact only when the vector is too long for a tag (tracking.MAX_TAG). A cell
logged this way, into a store copied from the template, reads back the same tables through
varbench's fetch functions as a cell logged the old way (each run created, logged and terminated in
turn, an artifact for every vector, a store made by MLflow's migration)."""
import json

import pandas as pd

import varbench.run_batch as run_batch
import varbench.tracking as tracking
from varbench.runner import run_cell
from varbench.tracking import Tracker, fetch_cells, fetch_table

CELL = ["dataset=linear", "methods=[random,permutation]", "+methods.boom._target_=user_methods.boom",
        "model_truth.enabled=false", "resume=false"]
TIMES = ("run_id", "parent_run_id", "start_time", "seconds", "train_seconds")  # ids and clocks differ


def _artifacts(root, name):
    return sorted((root / "mlartifacts").rglob(name)) if (root / "mlartifacts").exists() else []


def _table(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    keep = [c for c in df.columns if c not in TIMES and not c.endswith("_seconds")]
    return df[keep].sort_values(key).reset_index(drop=True)


def test_vector_that_fits_a_tag_has_no_artifact_and_the_tables_are_unchanged(compose_cfg, tmp_path, monkeypatch):
    new = compose_cfg(CELL)
    run_cell(new)
    assert _artifacts(tmp_path, "importance.json") == []  # the tag holds the whole vector

    old_root = tmp_path / "old"
    old = compose_cfg([*CELL, f"tracking.uri=sqlite:///{old_root}/mlflow.db"])
    start_run = Tracker.start_run

    def start_run_as_before(self, name, tags, parent_id=None):
        run_id = start_run(self, name, tags, parent_id)
        if "importance" in tags:  # the artifact every method run had before
            self.log_text(run_id, tags["importance"], "importance.json")
        return run_id

    with monkeypatch.context() as m:
        m.setattr(tracking, "fresh_store", lambda uri: False)  # MLflow's own migration
        m.setattr(run_batch, "batches_supported", lambda client: False)  # created, logged, terminated in turn
        m.setattr(Tracker, "start_run", start_run_as_before)
        run_cell(old)
    assert len(_artifacts(old_root, "importance.json")) == 2  # (boom fails: no vector)

    a = fetch_table(new.tracking.uri, "varbench")
    b = fetch_table(old.tracking.uri, "varbench")
    d = len(json.loads(fetch_cells(new.tracking.uri, "varbench")["truth"].iloc[0]))
    ok = a[a["status"] == "ok"]
    assert len(a) == 3 and len(ok) == 2 and ok["importance"].map(json.loads).map(len).eq(d).all()  # whole vectors
    assert set(a.loc[a["status"] != "ok", "run_status"]) == {"FAILED"}
    pd.testing.assert_frame_equal(_table(a, ["method"]), _table(b, ["method"]))
    pd.testing.assert_frame_equal(_table(fetch_cells(new.tracking.uri, "varbench"), ["cell_hash"]),
                                  _table(fetch_cells(old.tracking.uri, "varbench"), ["cell_hash"]))
    runs = {}  # every tag and metric MLflow holds for each run, not only those the table reads
    for uri, df in ((new.tracking.uri, a), (old.tracking.uri, b)):
        client = Tracker(uri, "varbench").client
        for method, run_id in zip(df["method"], df["run_id"]):
            r = client.get_run(run_id)
            assert r.info.end_time >= r.info.start_time and r.info.run_name == method
            runs.setdefault(method, []).append(({k: v for k, v in r.data.tags.items() if k != "mlflow.parentRunId"},
                                                {k: v for k, v in r.data.metrics.items() if k not in TIMES and not k.endswith("_seconds")},
                                                r.data.params, r.info.status, r.info.lifecycle_stage))
    for method, (new_run, old_run) in runs.items():
        for part, x, y in zip(("tags", "metrics", "params", "status", "stage"), new_run, old_run):
            assert x == y, (method, part, {k: (x[k], y.get(k)) for k in x if x[k] != y.get(k)} if isinstance(x, dict) else (x, y))


def test_vector_too_long_for_a_tag_is_written_whole_as_an_artifact(compose_cfg, tmp_path, monkeypatch):
    from varbench.harness import cell, result_kinds

    for module in (tracking, cell, result_kinds):  # the harness holds the limit under its own name
        monkeypatch.setattr(module, "MAX_TAG", 30)  # the 8-variable vector is longer than this
    result = run_cell(compose_cfg(["dataset=linear", "methods=[permutation]", "model_truth.enabled=false"]))
    (path,) = _artifacts(tmp_path, "importance.json")
    full = result.rows[0]["importance"]
    assert len(full) > 30 and path.read_text() == full and len(json.loads(full)) == 8


def test_interaction_matrix_that_fits_a_tag_has_no_artifact(compose_cfg, tmp_path):
    from varbench.tracking import matrix_json

    cfg = compose_cfg(["+experiment=interactions", "dataset=tsang_f5", "dataset.n_samples=300", "model=mlp",
                       "trainer.epochs=2", "methods=[inter_random,inter_oracle]"])
    result = run_cell(cfg, names={"dataset": "tsang_f5", "model": "mlp"})
    assert _artifacts(tmp_path, "interactions.json") == []
    runs = fetch_table(cfg.tracking.uri, "varbench", kind="interaction").set_index("method")
    for row in result.rows:  # the tag read back is the whole matrix the method returned
        matrix = json.loads(runs.loc[row["method"], "interactions"])
        assert len(matrix) == len(matrix[0]) == 10 and runs.loc[row["method"], "interactions"] == matrix_json(matrix)
