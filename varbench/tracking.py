"""MLflow tracking: the only module that imports mlflow.

Contract (stable; see docs/tracking.md):
- one parent run per cell, tag `kind=cell`, tags study/dataset/model/seed/task/status, tags
  `truth` (JSON importance vector) and `feature_names`, the resolved
  config as params, quality metrics (`r2`, or `accuracy` and `auc`) and `train_seconds`;
- one child run per method (`mlflow.parentRunId` = the cell), tag `kind=method`, tags
  study/dataset/model/seed/task/method/status/cell_status/error/aggregation/score_status and the
  method's metadata returns/estimand/role/scope/needs (varbench.registry), metrics spearman, kendall,
  topk_recall, precision_at_k, auroc, seconds, n_model_evals (+ quality_* copies of the
  cell's quality), and the importance vector as the tag `importance` (also as the artifact
  `importance.json` when it is longer than MAX_TAG, where the tag is cut); the truth-free
  metrics of `evaluation` (varbench.truth_free: deletion_auc, insertion_auc, pgi, pgu,
  deletion_auc_conditional, ...; their costs cost_<family>_seconds / _evals) with tags
  truth_free_k and truth_free_status.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from typing import Any, Callable, Iterator, TypeVar

import numpy as np
import pandas as pd

import varbench.run_batch as run_batch  # the module, so that a test's patch of its functions is seen
from varbench.store_file import StoreError, check_sqlite, store_fault
from varbench.store_template import fresh_store
from varbench.tag_json import matrix_json, vector_json  # noqa: F401 - the store's tag encoding, imported from here too

log = logging.getLogger(__name__)
T = TypeVar("T")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no "View run at ..." line per run

MAX_TAG = 5000
MAX_PARAM = 6000
FLUSH_SECONDS = 2.0  # buffered finished runs are written once this long has passed since the last write


class _RaisedNotLogged(logging.Filter):
    """MLflow logs every database error with its traceback before raising it (a full disk printed
    two tracebacks); varbench reports the raised error itself: one line, or the traceback with
    --debug (VARBENCH_DEBUG=1), when this log is let through too."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR or os.environ.get("VARBENCH_DEBUG") == "1"


logging.getLogger("mlflow.store.db.utils").addFilter(_RaisedNotLogged())


def _retry(fn: Callable[[], T], what: str, attempts: int = 8, uri: str = "") -> T:
    """Call fn, retrying with jittered exponential backoff on transient store errors
    (sqlite "database is locked" under concurrent writers, a restarting server). A store fault
    of `uri`'s sqlite file that remains (locked, full, read-only, damaged) is one StoreError line."""
    delay = 0.1
    for i in range(attempts):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - mlflow raises several types for the same fault
            msg = str(exc).lower()
            transient = any(s in msg for s in ("locked", "busy", "timed out", "connection", "temporarily"))
            if not transient or i == attempts - 1:
                fault = store_fault(uri, exc)
                if fault is not None:
                    raise fault from None
                raise
            log.warning("tracking: %s failed (%s); retry %d/%d", what, exc, i + 1, attempts)
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config dict -> {"a.b.c": "value"} with values as strings (lists as JSON)."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, (list, tuple)) else str(v)
    return out


class TrackingError(RuntimeError):
    """The tracking store cannot be reached or used."""


KILLED = {"runs": 0}  # runs this process marked KILLED (for the "interrupted" line)


class StoreNotFound(TrackingError, ValueError):
    """A read-only command was pointed at a store that does not exist (an argument error)."""


def open_existing_store(uri: str, write: bool = False) -> None:
    """Raise StoreNotFound unless `uri` names a store that already exists: a sqlite file that
    is there (a mistyped path would otherwise create an empty store), or a server that
    answers; StoreError if the file is empty, damaged, locked or (when `write`) read-only. For
    commands that read (`varbench report`)."""
    if uri.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(uri[len("sqlite:///"):])
        if not path.is_file():
            raise StoreNotFound(f"--uri={uri!r}: no tracking store at {path.resolve()} (a sweep creates it; "
                                "check the path)")
        check_sqlite(uri, write)
        return
    if uri.startswith(("http://", "https://")):
        try:
            check_reachable(uri)
        except TrackingError as exc:
            raise StoreNotFound(str(exc).replace("tracking.uri=", "--uri=", 1)) from None
        return
    raise StoreNotFound(f"--uri={uri!r} is not supported: expected sqlite:///PATH or http(s)://HOST:PORT")


def count_killed(uri: str, experiment: str, sweep: str) -> int:
    """Runs of `sweep` that are marked KILLED in the store (0 if it cannot be read)."""
    try:
        return len(Tracker(uri, experiment).search(f"tags.sweep = '{sweep}' and attributes.status = 'KILLED'"))
    except Exception:  # noqa: BLE001 - only for a message on the way out
        return 0


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, with a clear message, if an http(s) tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as resp:
            if resp.status != 200:
                raise TrackingError(f"tracking.uri={uri!r}: server answered HTTP {resp.status} on /health")
    except TrackingError:
        raise
    except Exception as exc:  # noqa: BLE001 - URLError, timeouts, refused connections
        raise TrackingError(f"tracking.uri={uri!r} is unreachable ({exc}); start the server "
                            "(`mlflow server --host 127.0.0.1`) or use tracking=local") from None


def artifact_location(uri: str) -> str | None:
    """Artifacts of a local sqlite store live beside the database file (`mlartifacts/`), not in
    whatever directory the process happens to run from; servers choose their own."""
    if uri.startswith("sqlite:///"):
        from pathlib import Path

        return (Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts").as_uri()
    return None


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """For a sqlite store: an exclusive lock on `<db>.lock` beside the database file, held while
    the store is created or migrated (processes that create a fresh sqlite store at once would
    otherwise race in the schema migration and fail). Other stores: no lock."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl
    from pathlib import Path

    db = Path(uri[len("sqlite:///"):])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Tracker:
    """Writes the cell/method runs of one experiment to an MLflow tracking store."""

    def __init__(self, uri: str, experiment: str) -> None:
        check_reachable(uri)
        check_sqlite(uri, content=False)  # a read-only store or folder, before the lock file is made there
        self.uri = uri
        self.open_runs: set[str] = set()
        self.pending: list[tuple[Any, list[str]]] = []  # buffered finished runs, the runs each supersedes
        self.last_write = time.monotonic()  # when this tracker last wrote to the store
        with store_lock(uri):
            check_sqlite(uri)  # under the lock (no store half-created): never replace an empty or damaged file
            fresh_store(uri)  # a new sqlite store is a copy of a pre-migrated template (no migration)
            self._open(uri, experiment)

    def _open(self, uri: str, experiment: str) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        exp = _retry(lambda: self.client.get_experiment_by_name(experiment), "get experiment", uri=self.uri)
        if exp is None:
            try:
                self.experiment_id = _retry(lambda: self.client.create_experiment(
                    experiment, artifact_location=artifact_location(uri)), "create experiment", uri=self.uri)
            except StoreError:
                raise
            except Exception:  # another process created it first
                self.experiment_id = self.client.get_experiment_by_name(experiment).experiment_id
        else:
            self.experiment_id = exp.experiment_id

    def start_run(self, name: str, tags: dict[str, str], parent_id: str | None = None) -> str:
        tags = {k: str(v) for k, v in tags.items()}
        if parent_id:
            tags["mlflow.parentRunId"] = parent_id
        run = _retry(lambda: self.client.create_run(self.experiment_id, tags=tags, run_name=name), "create run",
                     uri=self.uri)
        self.open_runs.add(run.info.run_id)
        self.last_write = time.monotonic()
        return run.info.run_id

    def log(self, run_id: str, metrics: dict[str, float] | None = None, params: dict[str, str] | None = None,
            tags: dict[str, str] | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        m = [Metric(k, float(v), now, 0) for k, v in (metrics or {}).items() if np.isfinite(v)]
        p = [Param(k[:250], str(v)[:MAX_PARAM]) for k, v in (params or {}).items()]
        t = [RunTag(k, str(v)[:MAX_TAG]) for k, v in (tags or {}).items()]
        for i in range(0, max(len(m), len(p), len(t)), 100):  # MLflow caps a batch at 100 params
            _retry(lambda: self.client.log_batch(run_id, metrics=m[i:i + 100], params=p[i:i + 100],
                                                 tags=t[i:i + 100]), "log batch", uri=self.uri)
        self.last_write = time.monotonic()

    def log_finished_run(self, name: str, tags: dict[str, str], metrics: dict[str, float], parent_id: str,
                         status: str = "FINISHED", artifact: tuple[str, str] | None = None) -> str:
        """A run that is already over (a method run), written now, terminated, with its tags and
        metrics: one transaction on a sqlite store (varbench.run_batch); on a server, or with an
        `artifact` (text, file name: written before the run is terminated), created, logged and
        terminated in turn. Its run id. (`add_finished_run` buffers a cell's runs instead.)"""
        tags = {**{k: str(v)[:MAX_TAG] for k, v in tags.items()}, "mlflow.parentRunId": parent_id}
        if artifact is None:
            run = run_batch.finished_run(name, tags, metrics, {}, status)
            if _retry(lambda: run_batch.write_finished_runs(self.client, self.experiment_id, [run]), "log run",
                      uri=self.uri):
                self.last_write = time.monotonic()
                return run.run_id
        run_id = self.start_run(name, tags)
        if artifact is not None:
            self.log_text(run_id, *artifact)
        self.log(run_id, metrics=metrics)
        self.end_run(run_id, status)
        return run_id

    def add_finished_run(self, name: str, tags: dict[str, str], metrics: dict[str, float], parent_id: str,
                         status: str = "FINISHED", artifact: tuple[str, str] | None = None,
                         supersedes: Iterable[str] = ()) -> str:
        """`log_finished_run`, buffered: the run is written with the other buffered runs in one
        transaction (`flush`), and the runs it `supersedes` (earlier failed or killed attempts)
        are deleted once it is written. Its run id (known before the run is written).

        The buffer is flushed by `end_run` (the cell's run ends), by `kill_open_runs` (an
        interruption), and here once FLUSH_SECONDS have passed since this tracker last wrote to
        the store, so a process killed outright (SIGKILL) loses only runs computed in the last
        FLUSH_SECONDS (a rerun computes them again: they were never written). A run with an
        artifact, or any run on a store that takes no batches (a server), is written at once.
        """
        if artifact is not None or not run_batch.batches_supported(self.client):
            self.flush()
            run_id = self.log_finished_run(name, tags, metrics, parent_id, status, artifact)
            self._delete_runs(list(supersedes))
            return run_id
        tags = {**{k: str(v)[:MAX_TAG] for k, v in tags.items()}, "mlflow.parentRunId": parent_id}
        run = run_batch.finished_run(name, tags, metrics, {}, status)
        self.pending.append((run, list(supersedes)))
        if time.monotonic() - self.last_write > FLUSH_SECONDS:
            self.flush()
        return run.run_id

    def flush(self) -> None:
        """Write the buffered finished runs (`add_finished_run`) in one transaction, then delete
        the runs they supersede. On a failed write the runs stay buffered (all or none was
        written: their ids are fixed, so a later flush can never write one twice)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        try:
            _retry(lambda: run_batch.write_finished_runs(self.client, self.experiment_id, [run for run, _ in pending]),
                   "log runs", uri=self.uri)
        except BaseException:
            self.pending = pending + self.pending
            raise
        self.last_write = time.monotonic()
        self._delete_runs([old for _, olds in pending for old in olds])

    def _delete_runs(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            self.delete_run(run_id)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        _retry(lambda: self.client.log_text(run_id, text, name), "log artifact", uri=self.uri)

    def log_file(self, run_id: str, path: str, folder: str | None = None) -> None:
        _retry(lambda: self.client.log_artifact(run_id, path, folder), "log artifact", uri=self.uri)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        """Mark `run_id` terminated with `status`, after writing the buffered runs (its children)."""
        self.flush()
        _retry(lambda: self.client.set_terminated(run_id, status), "end run", uri=self.uri)
        self.open_runs.discard(run_id)
        self.last_write = time.monotonic()

    def kill_open_runs(self) -> None:
        """Write the buffered finished runs, then mark every run this tracker left open as KILLED
        (on interruption)."""
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - best effort while shutting down
            log.warning("could not write %d finished run(s) (a rerun computes them again): %s", len(self.pending), exc)
            self.pending = []  # not written (or written already): the open runs are marked KILLED all the same
        for run_id in list(self.open_runs):
            try:
                self.log(run_id, tags={"status": "killed"})
                self.end_run(run_id, "KILLED")
                KILLED["runs"] += 1
            except Exception as exc:  # noqa: BLE001 - best effort while shutting down
                log.warning("could not mark run %s killed: %s", run_id, exc)

    def reopen(self, run_id: str) -> None:
        """Mark an existing run as running again (a resumed cell)."""
        _retry(lambda: self.client.update_run(run_id, status="RUNNING"), "reopen run", uri=self.uri)
        self.open_runs.add(run_id)

    def delete_run(self, run_id: str) -> None:
        _retry(lambda: self.client.delete_run(run_id), "delete run", uri=self.uri)

    def claim(self, cell_hash: str, **kwargs: Any) -> Claim:
        """A (not yet acquired) claim on one cell of this experiment (see `Claim`)."""
        return Claim(self.uri, self.experiment_id, cell_hash, **kwargs)

    def set_parent(self, run_id: str, parent_id: str) -> None:
        """Move a child run under another parent run (healing duplicate cells)."""
        _retry(lambda: self.client.set_tag(run_id, "mlflow.parentRunId", parent_id), "set parent", uri=self.uri)

    def search(self, filter_string: str) -> list[Any]:
        """Active runs of this experiment matching an MLflow filter string."""
        out, token = [], None
        while True:
            page = _retry(lambda: self.client.search_runs([self.experiment_id], filter_string=filter_string,
                                                          max_results=5000, page_token=token), "search runs",
                          uri=self.uri)
            out.extend(page)
            token = page.token
            if not token:
                return out


CLAIM_HEARTBEAT = 15.0  # seconds between a claim holder's heartbeats
CLAIM_STALE = 120.0  # a claim whose heartbeat is older than this is taken over (holder presumed dead)


def _host() -> str:
    import socket

    return socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


_HEARTBEATS: set[Any] = set()  # stop events of the heartbeat threads this process started


def stop_heartbeats() -> None:
    """Stop every claim heartbeat thread of this process (claims stay in the store; tests call this
    so no thread outlives the store it beats into)."""
    for stop in list(_HEARTBEATS):
        stop.set()
    _HEARTBEATS.clear()


class Claim:
    """An exclusive claim on one cell of one experiment, held in the tracking store itself, so
    that it works the same for a sqlite file and for a shared MLflow server: a registered model
    named `varbench-claim.<experiment id>.<cell hash>`, whose name is unique in the store, so
    creating it is the atomic step (exactly one of several concurrent creators succeeds). Its
    tags say who holds it (owner token, host, pid) and when the holder last said it was alive
    (`heartbeat`, refreshed by a background thread). A claim whose holder is a dead process on
    this host, or whose heartbeat is older than `stale_after` seconds, is taken over."""

    def __init__(self, uri: str, experiment_id: str, cell_hash: str, stale_after: float = CLAIM_STALE,
                 heartbeat: float = CLAIM_HEARTBEAT) -> None:
        import uuid

        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        self.name = f"varbench-claim.{experiment_id}.{cell_hash}"
        self.token = uuid.uuid4().hex
        self.tags = {"owner": self.token, "host": _host(), "pid": str(os.getpid())}
        self.stale_after, self.heartbeat_every = stale_after, heartbeat
        self.held = False
        self._stop: Any = None

    def _code(self, exc: Exception) -> str:
        return str(getattr(exc, "error_code", ""))

    def holder(self) -> dict[str, str] | None:
        """The current holder's tags, or None if the cell is not claimed."""
        try:
            return dict(_retry(lambda: self.client.get_registered_model(self.name), "read claim", uri=self.uri).tags)
        except Exception as exc:  # noqa: BLE001 - RESOURCE_DOES_NOT_EXIST: nobody holds it
            if self._code(exc) == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def is_stale(self, tags: dict[str, str]) -> bool:
        """Whether the holder is gone: a dead pid on this host, or no heartbeat for stale_after."""
        try:
            beat = float(tags.get("heartbeat", "0"))
        except ValueError:
            beat = 0.0
        if time.time() - beat > self.stale_after:
            return True
        if tags.get("host") == _host():
            try:
                return not _pid_alive(int(tags.get("pid", "")))
            except ValueError:
                return True
        return False

    def try_acquire(self) -> bool:
        """One attempt: True if this process now holds the claim. A stale claim is removed
        first (after checking it is still the same stale holder)."""
        tags = {**self.tags, "heartbeat": f"{time.time():.3f}"}
        try:
            _retry(lambda: self.client.create_registered_model(self.name, tags=tags), "claim cell", uri=self.uri)
        except Exception as exc:  # noqa: BLE001 - RESOURCE_ALREADY_EXISTS: someone holds it
            if self._code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
            holder = self.holder()
            if holder is None:
                return False  # released meanwhile: the caller tries again
            if holder.get("owner") == self.token:  # our own create answered late (a retried request)
                self._held()
                return True
            if self.is_stale(holder):
                again = self.holder()
                if again is not None and again.get("owner") == holder.get("owner"):
                    log.warning("cell claim %s: holder %s pid %s is gone; taking over", self.name,
                                holder.get("host"), holder.get("pid"))
                    self._delete()
            return False
        self._held()
        return True

    def acquire(self, poll: float = 2.0, on_wait: Callable[[dict[str, str]], None] | None = None) -> None:
        """Block until this process holds the claim (waiting while a live holder runs the cell)."""
        waited = False
        while not self.try_acquire():
            holder = self.holder()
            if holder is not None and not waited and on_wait is not None:
                on_wait(holder)
                waited = True
            time.sleep(poll * (0.5 + random.random()))

    def _held(self) -> None:
        import threading

        self.held = True
        self._stop = threading.Event()

        def beat() -> None:
            while not self._stop.wait(self.heartbeat_every):
                try:
                    self.client.set_registered_model_tag(self.name, "heartbeat", f"{time.time():.3f}")
                except Exception as exc:  # noqa: BLE001 - a missed beat is retried next time
                    log.debug("claim heartbeat failed: %s", exc)

        threading.Thread(target=beat, name="varbench-claim-heartbeat", daemon=True).start()
        _HEARTBEATS.add(self._stop)

    def _delete(self) -> None:
        try:
            _retry(lambda: self.client.delete_registered_model(self.name), "release claim", uri=self.uri)
        except Exception as exc:  # noqa: BLE001 - already gone
            if self._code(exc) != "RESOURCE_DOES_NOT_EXIST":
                raise

    def release(self) -> None:
        """Give the claim up (if this process still holds it)."""
        if not self.held:
            return
        self._stop.set()
        _HEARTBEATS.discard(self._stop)
        self.held = False
        holder = self.holder()
        if holder is not None and holder.get("owner") == self.token:
            self._delete()


TIDY_TAGS = ("study", "dataset", "model", "seed", "task", "method", "method_hash", "status", "cell_status", "error",
             "aggregation", "score_status", "sweep", "cell_hash", "importance", "track", "interactions",
             "returns", "estimand", "role", "scope", "needs", "selected", "pvalues", "statistic",
             "importance_ci_low", "importance_ci_high", "truth_free_k", "truth_free_status")
CELL_TAGS = ("study", "dataset", "model", "seed", "task", "status", "error", "sweep", "cell_hash", "truth",
             "truth_definition", "feature_names", "model_cached", "truth_interactions", "truth_known", "variables")


def _search(uri: str, experiment: str, flt: str, tag_keys: tuple[str, ...]) -> pd.DataFrame:
    try:
        return _search_runs(uri, experiment, flt, tag_keys)
    except Exception as exc:  # noqa: BLE001 - a store fault is one line (StoreError); anything else as it is
        fault = store_fault(uri, exc)
        if fault is None:
            raise
        raise fault from None


def _search_runs(uri: str, experiment: str, flt: str, tag_keys: tuple[str, ...]) -> pd.DataFrame:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.search_runs([exp.experiment_id], filter_string=flt, max_results=5000, page_token=token)
        for r in page:
            row: dict[str, Any] = {"run_id": r.info.run_id, "parent_run_id": r.data.tags.get("mlflow.parentRunId"),
                                   "start_time": r.info.start_time, "run_status": r.info.status}
            row.update({k: r.data.tags.get(k) for k in tag_keys})
            row.update(r.data.metrics)
            rows.append(row)
        token = page.token
        if not token:
            break
    df = pd.DataFrame(rows)
    if not df.empty:
        df["seed"] = pd.to_numeric(df["seed"], errors="coerce")
        # the same columns in the same order whatever order the store returns runs and metrics in (runs
        # written in one transaction share a start time): the fixed ones, the tags, then metrics by name
        fixed = ["run_id", "parent_run_id", "start_time", "run_status", *tag_keys]
        df = df[fixed + sorted(c for c in df.columns if c not in fixed)]
    return df


def fetch_table(uri: str, experiment: str, filter_string: str = "", kind: str = "method") -> pd.DataFrame:
    """All method runs of an experiment as one tidy table: one row per method run, its tags
    (incl. the importance vector as JSON), metrics and copies of the cell's quality
    (quality_*). kind="interaction" gives the interaction track's runs instead. Empty
    DataFrame if the experiment does not exist."""
    flt = f"tags.kind = '{kind}'" + (f" and {filter_string}" if filter_string else "")
    return _search(uri, experiment, flt, TIDY_TAGS)


def fetch_cells(uri: str, experiment: str, filter_string: str = "") -> pd.DataFrame:
    """All cell (parent) runs: tags incl. the truth vector as JSON, quality metrics, train_seconds."""
    flt = "tags.kind = 'cell'" + (f" and {filter_string}" if filter_string else "")
    return _search(uri, experiment, flt, CELL_TAGS)


def experiment_id(uri: str, experiment: str) -> str | None:
    """The id of an experiment (None if it does not exist), e.g. for links to the MLflow UI."""
    from mlflow import MlflowClient

    exp = _retry(lambda: MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment), "get experiment",
                 uri=uri)
    return None if exp is None else str(exp.experiment_id)
