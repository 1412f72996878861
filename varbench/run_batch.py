"""Finished MLflow runs written many at a time, in one database transaction.

MLflow's client writes a run in three transactions (create it RUNNING with its tags, log its
metrics, params and tags, mark it terminated), each with its own commit and fsync on a sqlite
store. A method run of a cell is logged only once its method has finished, so everything about it
is known at once: `write_finished_runs` writes a batch of such runs (a cell's method runs),
already terminated, with their tags, params, metrics and latest metrics, in one transaction of
MLflow's own SQLAlchemy store on a sqlite file: one multi-row insert per MLflow table (`runs`,
`tags`, `params`, `metrics`, `latest_metrics`), with the values MLflow's own three calls write.
Other stores (an MLflow server) are not written (`batches_supported` says so), and the caller
writes each run step by step.
"""
from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FinishedRun:
    """One run that is over, as it will be written: its id (made here, so a caller can name the
    run before it is written), name, final status, tags (incl. `mlflow.parentRunId`), metrics
    (non-finite values are not written, as `Tracker.log` skips them), params, and the time it
    finished (its start and end time, milliseconds since the epoch)."""

    run_id: str
    name: str
    status: str
    tags: dict[str, str]
    metrics: dict[str, float]
    params: dict[str, str]
    time_ms: int


def finished_run(name: str, tags: dict[str, str], metrics: dict[str, float], params: dict[str, str] | None = None,
                 status: str = "FINISHED") -> FinishedRun:
    """A `FinishedRun` finishing now, with a fresh run id; an unknown `status` (not an MLflow run
    status) fails here, before anything is buffered or written.

    Examples
    --------
    >>> run = finished_run("permutation", {"kind": "method"}, {"spearman": 0.9}, status="FINISHED")
    >>> len(run.run_id), run.tags["mlflow.runName"]
    (32, 'permutation')
    """
    from mlflow.entities import RunStatus
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

    RunStatus.from_string(status)  # raises for an unknown status
    tags = {**tags, MLFLOW_RUN_NAME: tags.get(MLFLOW_RUN_NAME, name)}
    return FinishedRun(uuid.uuid4().hex, tags[MLFLOW_RUN_NAME], status, tags, dict(metrics), dict(params or {}),
                       int(time.time() * 1000))


# the columns of MLflow's tables that a finished run fills (what MLflow's create_run, log_batch and
# set_terminated write), in the order of the rows `write_finished_runs` builds
COLUMNS = {
    "runs": ("run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id", "status", "start_time",
             "end_time", "deleted_time", "source_version", "lifecycle_stage", "artifact_uri", "experiment_id"),
    "tags": ("key", "value", "run_uuid"),
    "params": ("key", "value", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    "latest_metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
}


def _insert(table: str, columns: tuple[str, ...]) -> str:
    """The statement that inserts one row of `columns` into `table` (run with many rows at once)."""
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"


INSERT = {table: _insert(table, columns) for table, columns in COLUMNS.items()}


_CHECKED: dict[str, bool] = {}  # "tables": whether _tables_match(), asked once per process


def _tables_match() -> bool:
    """Whether the installed MLflow's tables have exactly the columns in COLUMNS (else a newer
    MLflow may expect a value varbench does not write: its runs are then written step by step)."""
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag

    tables = {m.__table__.name: {c.name for c in m.__table__.columns}
              for m in (SqlRun, SqlTag, SqlParam, SqlMetric, SqlLatestMetric)}
    return tables == {t: set(cols) for t, cols in COLUMNS.items()}


def batches_supported(client: Any) -> bool:
    """Whether the store behind `client` (an MlflowClient) is a sqlite file behind MLflow's
    SQLAlchemy store, with the tables `write_finished_runs` writes; an MLflow server is not."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = client._tracking_client.store
    if not isinstance(store, SqlAlchemyStore) or store.db_type != "sqlite":
        return False
    if "tables" not in _CHECKED:
        _CHECKED["tables"] = _tables_match()
    return _CHECKED["tables"]


def write_finished_runs(client: Any, experiment_id: str, runs: list[FinishedRun]) -> bool:
    """Write `runs` into experiment `experiment_id` of the store behind `client`, terminated, in
    one transaction (one multi-row insert per table): all of them or, on any error, none. False,
    with nothing written, when the store takes no batches (see `batches_supported`). The
    experiment must be active (as MLflow's create_run requires), checked in the same transaction.

    Examples
    --------
    >>> from mlflow import MlflowClient                                    # doctest: +SKIP
    >>> client = MlflowClient("sqlite:///mlflow.db")                       # doctest: +SKIP
    >>> write_finished_runs(client, "1", [finished_run("m", {}, {"spearman": 0.5})])  # doctest: +SKIP
    True
    """
    from mlflow.entities import LifecycleStage, SourceType
    from mlflow.utils.mlflow_tags import MLFLOW_USER
    from mlflow.utils.uri import append_to_uri_path

    if not batches_supported(client):
        return False
    if not runs:
        return True
    store = client._tracking_client.store
    source, active = SourceType.to_string(SourceType.UNKNOWN), LifecycleStage.ACTIVE
    folder = store.ARTIFACTS_FOLDER_NAME
    with store.ManagedSessionMaker(read_only=False) as session:
        connection = session.connection()
        found = connection.exec_driver_sql("SELECT lifecycle_stage, artifact_location FROM experiments "
                                           "WHERE experiment_id = ?", (int(experiment_id),)).fetchone()
        if found is None or found[0] != active:  # MLflow's own error for a missing or deleted experiment
            store._check_experiment_is_active(store.get_experiment(experiment_id))
        rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
        for run in runs:
            rid, now = run.run_id, run.time_ms
            rows["runs"].append((rid, run.name, source, "", "", run.tags.get(MLFLOW_USER, "unknown"), run.status, now,
                                 now, None, "", active, append_to_uri_path(found[1], rid, folder), int(experiment_id)))
            rows["tags"] += [(k, v, rid) for k, v in run.tags.items()]
            rows["params"] += [(k, v, rid) for k, v in run.params.items()]
            metrics = [(k, float(v), now, 0, False, rid) for k, v in run.metrics.items() if math.isfinite(v)]
            rows["metrics"] += metrics
            rows["latest_metrics"] += metrics
        for table, values in rows.items():  # the runs first: the other rows point at them
            if values:
                connection.exec_driver_sql(INSERT[table], values)
    return True
