"""A cell's finished method runs, buffered by `Tracker.add_finished_run` and written in one
transaction (`varbench.run_batch`): the store's rows are the ones MLflow's own calls write (create,
log, terminate), the buffer is written when the cell run ends, on interruption and once
FLUSH_SECONDS have passed since the last write, and nothing is ever written twice."""
import math
import sqlite3

import pytest

import varbench.run_batch as run_batch
import varbench.tracking as tracking
from varbench.tracking import Tracker

TAGS = {"kind": "method", "study": "s", "dataset": "linear", "seed": "0", "status": "ok",
        "importance": "[0.5, 0.25, 0.125]", "mlflow.user": "someone"}
METRICS = {"spearman": 0.75, "kendall": -0.5, "seconds": 0.01, "auroc": float("nan"), "n_model_evals": 12.0}


@pytest.fixture
def tracker(tmp_path):
    return Tracker(f"sqlite:///{tmp_path}/mlflow.db", "varbench")


def _rows(tracker, run_ids):
    """Every row the store holds for `run_ids`, per table, ids replaced by the run's name and
    clocks by whether they are set (so runs written at other times by other paths compare)."""
    db = sqlite3.connect(tracker.uri[len("sqlite:///"):])
    names = dict(db.execute(f"SELECT run_uuid, name FROM runs WHERE run_uuid IN ({','.join('?' * len(run_ids))})",
                            run_ids).fetchall())
    out = {}
    for table in ("runs", "tags", "params", "metrics", "latest_metrics"):
        cur = db.execute(f"SELECT * FROM {table} WHERE run_uuid IN ({','.join('?' * len(run_ids))})", run_ids)
        cols = [c[0] for c in cur.description]
        rows = []
        for row in cur.fetchall():
            rec = dict(zip(cols, row))
            rec["run_uuid"] = names[rec["run_uuid"]]
            for clock in ("start_time", "end_time", "timestamp"):
                if clock in rec:
                    rec[clock] = rec[clock] is not None
            if "artifact_uri" in rec:  # <experiment's artifact location>/<run id>/artifacts
                head, run_id, tail = rec["artifact_uri"].rsplit("/", 2)
                rec["artifact_uri"] = (head, len(run_id), tail)
            if table == "tags" and rec["key"] == "mlflow.parentRunId":
                rec["value"] = names.get(rec["value"], rec["value"])
            rows.append(tuple(sorted(rec.items())))
        out[table] = sorted(rows)
    db.close()
    return out


def test_batch_writes_the_rows_mlflow_writes_run_by_run(tracker):
    parent = tracker.start_run("cell", {"kind": "cell"})
    runs = [("ok", "FINISHED", METRICS), ("failed", "FAILED", {"seconds": 0.5, "n_model_evals": 0.0}),
            ("killed", "KILLED", {"seconds": float("inf")})]

    def old(name, status, metrics):  # MLflow's own calls: create (tags), log (metrics), terminate
        run_id = tracker.start_run(name, {**TAGS, "method": name}, parent_id=parent)
        tracker.log(run_id, metrics=metrics)
        tracker.end_run(run_id, status)
        return run_id

    stepwise = [old(f"{n}-a", s, m) for n, s, m in runs]
    single = [tracker.log_finished_run(f"{n}-a", {**TAGS, "method": f"{n}-a"}, m, parent, s) for n, s, m in runs]
    batched = [tracker.add_finished_run(f"{n}-a", {**TAGS, "method": f"{n}-a"}, m, parent, s) for n, s, m in runs]
    tracker.flush()
    reference = _rows(tracker, stepwise)
    assert len(reference["runs"]) == 3 and len(reference["metrics"]) == 4 + 2  # non-finite values are not written
    assert _rows(tracker, single) == reference
    assert _rows(tracker, batched) == reference
    client = tracker.client
    for a, b in zip(stepwise, batched):  # and MLflow reads them back alike
        ra, rb = client.get_run(a), client.get_run(b)
        assert (ra.data.tags, ra.data.metrics, ra.data.params) == (rb.data.tags, rb.data.metrics, rb.data.params)
        assert (ra.info.status, ra.info.run_name, ra.info.user_id, ra.info.experiment_id, ra.info.lifecycle_stage) == \
            (rb.info.status, rb.info.run_name, rb.info.user_id, rb.info.experiment_id, rb.info.lifecycle_stage)
        assert rb.info.end_time == rb.info.start_time and rb.info.artifact_uri.endswith(f"/{b}/artifacts")
        assert [(m.value, m.step) for m in client.get_metric_history(b, "spearman")] == \
            [(m.value, m.step) for m in client.get_metric_history(a, "spearman")]


def test_runs_are_buffered_until_the_cell_run_ends(tracker, monkeypatch):
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 1e9)
    parent = tracker.start_run("cell", {"kind": "cell"})
    ids = [tracker.add_finished_run(f"m{i}", {**TAGS, "method": f"m{i}"}, METRICS, parent) for i in range(3)]
    assert len(tracker.pending) == 3 and _rows(tracker, ids)["runs"] == []  # nothing written yet
    tracker.end_run(parent)
    assert tracker.pending == [] and len(_rows(tracker, ids)["runs"]) == 3
    assert {tracker.client.get_run(i).data.tags["mlflow.parentRunId"] for i in ids} == {parent}
    assert tracker.client.get_run(parent).info.status == "FINISHED"


def test_runs_are_written_once_flush_seconds_passed_since_the_last_write(tracker, monkeypatch):
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 2.0)
    parent = tracker.start_run("cell", {"kind": "cell"})
    first = tracker.add_finished_run("m0", TAGS, METRICS, parent)  # just after a write: buffered
    assert [r.run_id for r, _ in tracker.pending] == [first]
    tracker.last_write -= 2.5  # the buffered run's computation, and the next one's, took 2.5 s
    second = tracker.add_finished_run("m1", TAGS, METRICS, parent)
    assert tracker.pending == [] and len(_rows(tracker, [first, second])["runs"]) == 2
    third = tracker.add_finished_run("m2", TAGS, METRICS, parent)  # the clock restarted at that write
    assert [r.run_id for r, _ in tracker.pending] == [third]


def test_interruption_writes_the_buffer_then_marks_open_runs_killed(tracker, monkeypatch):
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 1e9)
    monkeypatch.setitem(tracking.KILLED, "runs", 0)
    parent = tracker.start_run("cell", {"kind": "cell"})
    ids = [tracker.add_finished_run(f"m{i}", TAGS, METRICS, parent) for i in range(2)]
    tracker.kill_open_runs()
    client = tracker.client
    assert [client.get_run(i).info.status for i in ids] == ["FINISHED", "FINISHED"]
    assert client.get_run(parent).info.status == "KILLED" and tracking.KILLED["runs"] == 1


def test_an_interruption_marks_open_runs_killed_even_if_the_buffer_cannot_be_written(tracker, monkeypatch):
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 1e9)
    parent = tracker.start_run("cell", {"kind": "cell"})
    lost = tracker.add_finished_run("m", TAGS, METRICS, parent)

    def disk_error(*args):
        raise OSError("disk I/O error")

    monkeypatch.setattr(run_batch, "write_finished_runs", disk_error)
    tracker.kill_open_runs()
    assert tracker.pending == [] and _rows(tracker, [lost])["runs"] == []  # a rerun computes it again
    assert tracker.client.get_run(parent).info.status == "KILLED"


def test_a_failed_write_keeps_the_runs_buffered_and_nothing_is_written_twice(tracker, monkeypatch):
    parent = tracker.start_run("cell", {"kind": "cell"})
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 1e9)
    ids = [tracker.add_finished_run(f"m{i}", TAGS, METRICS, parent) for i in range(2)]
    write = run_batch.write_finished_runs

    def disk_error(*args):
        raise OSError("disk I/O error")

    monkeypatch.setattr(run_batch, "write_finished_runs", disk_error)
    with pytest.raises(OSError, match="disk I/O error"):
        tracker.flush()
    assert [r.run_id for r, _ in tracker.pending] == ids and _rows(tracker, ids)["runs"] == []
    monkeypatch.setattr(run_batch, "write_finished_runs", write)
    batch = [r for r, _ in tracker.pending]
    tracker.flush()
    tracker.flush()  # nothing left to write
    assert len(_rows(tracker, ids)["runs"]) == 2
    # a batch written again (a retry after a commit whose answer was lost) is refused whole: its ids are taken
    with pytest.raises(Exception, match="UNIQUE constraint failed"):
        run_batch.write_finished_runs(tracker.client, tracker.experiment_id, batch)
    rows = _rows(tracker, ids)
    assert len(rows["runs"]) == 2 and len(rows["metrics"]) == 2 * sum(map(math.isfinite, METRICS.values()))


def test_superseded_attempts_are_deleted_only_once_their_successor_is_written(tracker, monkeypatch):
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 1e9)
    parent = tracker.start_run("cell", {"kind": "cell"})
    old = tracker.log_finished_run("m", {**TAGS, "status": "failed"}, {}, parent, "FAILED")
    new = tracker.add_finished_run("m", TAGS, METRICS, parent, supersedes=[old])
    assert tracker.client.get_run(old).info.lifecycle_stage == "active"  # its successor is not written yet
    tracker.end_run(parent)
    assert tracker.client.get_run(old).info.lifecycle_stage == "deleted"
    assert tracker.client.get_run(new).info.status == "FINISHED"


def test_a_run_with_an_artifact_or_on_a_server_is_written_at_once(tracker, monkeypatch):
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 1e9)
    parent = tracker.start_run("cell", {"kind": "cell"})
    buffered = tracker.add_finished_run("m0", TAGS, METRICS, parent)
    with_file = tracker.add_finished_run("m1", TAGS, METRICS, parent, artifact=("[1.0]", "importance.json"))
    assert tracker.pending == [] and len(_rows(tracker, [buffered, with_file])["runs"]) == 2  # in order
    assert [a.path for a in tracker.client.list_artifacts(with_file)] == ["importance.json"]
    monkeypatch.setattr(run_batch, "batches_supported", lambda client: False)  # as on an MLflow server
    served = tracker.add_finished_run("m2", TAGS, METRICS, parent)
    assert tracker.pending == [] and tracker.client.get_run(served).info.status == "FINISHED"


def test_a_deleted_experiment_is_refused_and_nothing_is_written(tracker):
    parent = tracker.start_run("cell", {"kind": "cell"})
    run = run_batch.finished_run("m", {**TAGS, "mlflow.parentRunId": parent}, METRICS)
    tracker.client.delete_experiment(tracker.experiment_id)
    with pytest.raises(Exception, match="must be in the 'active' state"):
        run_batch.write_finished_runs(tracker.client, tracker.experiment_id, [run])
    assert _rows(tracker, [run.run_id])["runs"] == []
    with pytest.raises(Exception, match="RUNNING2"):
        run_batch.finished_run("m", {}, {}, status="RUNNING2")
