"""One finished MLflow run written in one database transaction.

MLflow's client writes a run in three transactions (create it RUNNING with its tags, log its
metrics, params and tags, mark it terminated), each with its own commit and fsync on a sqlite
store. A method run of a cell is logged only once its method has finished, so everything about it
is known at once: `write_finished_run` writes the run, already terminated, with its tags, params,
metrics and latest metrics, in one transaction of MLflow's own SQLAlchemy store, through MLflow's
own table models: the rows are the ones the three calls would write. Other stores (an MLflow
server) get None, and the caller writes the run step by step.
"""
from __future__ import annotations

import math
import time
import uuid
from typing import Any


def write_finished_run(client: Any, experiment_id: str, name: str, tags: dict[str, str], metrics: dict[str, float],
                       params: dict[str, str], status: str) -> str | None:
    """Write a run of `experiment_id` named `name`, terminated with `status` (FINISHED, FAILED,
    KILLED), with `tags`, `params` and `metrics` (finite values; step 0), in one transaction of
    the SQLAlchemy store behind `client` (an MlflowClient). Its run id; None (nothing written)
    when the store is not a SQLAlchemy store.
    """
    from mlflow.entities import LifecycleStage, RunStatus, SourceType
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_USER
    from mlflow.utils.uri import append_to_uri_path

    store = client._tracking_client.store
    if not isinstance(store, SqlAlchemyStore):
        return None
    RunStatus.from_string(status)  # an unknown status is refused before anything is written
    experiment = store.get_experiment(experiment_id)
    store._check_experiment_is_active(experiment)
    run_id = uuid.uuid4().hex
    now = int(time.time() * 1000)
    tags = {**tags, MLFLOW_RUN_NAME: tags.get(MLFLOW_RUN_NAME, name)}
    run = SqlRun(name=tags[MLFLOW_RUN_NAME],
                 artifact_uri=append_to_uri_path(experiment.artifact_location, run_id,
                                                 SqlAlchemyStore.ARTIFACTS_FOLDER_NAME),
                 run_uuid=run_id, experiment_id=experiment_id, source_type=SourceType.to_string(SourceType.UNKNOWN),
                 source_name="", entry_point_name="", user_id=tags.get(MLFLOW_USER, "unknown"), status=status,
                 start_time=now, end_time=now, deleted_time=None, source_version="",
                 lifecycle_stage=LifecycleStage.ACTIVE)
    run.tags = [SqlTag(key=k, value=v) for k, v in tags.items()]
    finite = {k: float(v) for k, v in metrics.items() if math.isfinite(v)}
    rows: list[Any] = [SqlParam(key=k, value=v, run_uuid=run_id) for k, v in params.items()]
    for model in (SqlMetric, SqlLatestMetric):
        rows += [model(key=k, value=v, timestamp=now, step=0, is_nan=False, run_uuid=run_id) for k, v in finite.items()]
    with store.ManagedSessionMaker(read_only=False) as session:
        session.add(run)
        session.flush()  # the run row first: the other rows point at it
        session.add_all(rows)
    return run_id
