"""A fresh sqlite store copied from a pre-migrated template (varbench/store_template.py) is the
store MLflow's own migration makes, MLflow opens it without migrating, an existing file is never
replaced, and processes creating the same store at once get one store."""
import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

import varbench.tracking as tracking
from varbench.store_file import StoreError
from varbench.store_template import copy_new, fresh_store, revision, schema_head, template_path
from varbench.tracking import Tracker


@pytest.fixture
def templates(tmp_path, monkeypatch):
    """A private, empty template folder (so the template is built by the test)."""
    folder = tmp_path / "templates"
    monkeypatch.setenv("VARBENCH_STORE_TEMPLATE_DIR", str(folder))
    return folder


def _dump(db: Path) -> tuple[set, list, list]:
    """Schema, alembic revision and experiments (times left out, folders made relative) of a store."""
    con = sqlite3.connect(db)
    try:
        # MLflow's own migration orders a table's constraints differently from one run to the next
        # (two migrated stores differ so): each statement's lines compared as a sorted list
        schema = {(kind, name, tbl, tuple(sorted(ln.strip().rstrip(",").strip() for ln in (sql or "").splitlines())))
                  for kind, name, tbl, sql in con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")}
        rev = con.execute("SELECT * FROM alembic_version").fetchall()
        exps = [(i, n, loc.replace(str(db.parent), "<store>"), stage, ws)
                for i, n, loc, stage, _, _, ws in con.execute("SELECT * FROM experiments ORDER BY experiment_id")]
        rows = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for kind, t, _, _ in schema if kind == "table"}
    finally:
        con.close()
    return schema, rev, [exps, rows]


def test_copy_is_the_store_mlflow_makes_and_opens_without_migrating(templates, tmp_path, monkeypatch):
    import mlflow.store.db.utils as dbutils

    monkeypatch.chdir(tmp_path)  # MLflow's default experiment points into the working folder
    with monkeypatch.context() as m:
        m.setattr(tracking, "fresh_store", lambda uri: False)
        Tracker(f"sqlite:///{tmp_path}/migrated/mlflow.db", "varbench")  # MLflow's own migration
    template = template_path()
    assert not template.exists()

    def no_migration(*args, **kwargs):
        raise AssertionError("MLflow migrated a store made from the template")

    Tracker(f"sqlite:///{tmp_path}/warm/mlflow.db", "other")  # builds the template (one migration)
    assert template.is_file() and revision(template) == schema_head()
    monkeypatch.setattr(dbutils, "_initialize_tables", no_migration)
    monkeypatch.setattr(dbutils, "_upgrade_db", no_migration)
    copied = tmp_path / "copied" / "mlflow.db"
    tracker = Tracker(f"sqlite:///{copied}", "varbench")
    run = tracker.start_run("r", {"kind": "cell"})
    tracker.log(run, metrics={"r2": 0.5}, tags={"status": "ok"})
    tracker.end_run(run)
    assert tracker.client.get_run(run).data.metrics == {"r2": 0.5}
    a, b = _dump(tmp_path / "migrated" / "mlflow.db"), _dump(copied)
    assert a[0] == b[0] and a[1] == b[1] == [(schema_head(),)]
    assert a[2][0] == b[2][0]  # the same default experiment (in the working folder) and `varbench`
    assert {t: n for t, n in b[2][1].items() if t not in ("runs", "tags", "metrics", "latest_metrics")} == \
        {t: n for t, n in a[2][1].items() if t not in ("runs", "tags", "metrics", "latest_metrics")}
    assert [p.name for p in copied.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_an_existing_file_is_never_replaced(templates, tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"")
    assert fresh_store(f"sqlite:///{db}") is False and db.read_bytes() == b""
    with pytest.raises(StoreError, match="empty"):
        Tracker(f"sqlite:///{db}", "varbench")
    assert db.read_bytes() == b""


def test_an_unusable_template_falls_back_to_mlflow(templates, tmp_path, caplog):
    template = template_path()
    template.parent.mkdir(parents=True)
    template.write_bytes(b"not a store")
    assert fresh_store(f"sqlite:///{tmp_path}/mlflow.db") is False
    assert "not a store at schema" in caplog.text and not (tmp_path / "mlflow.db").exists()
    assert template.read_bytes() == b"not a store"  # left for the user to delete


def _create(uri, start, out):
    start.wait(60)
    out.put(fresh_store(uri))


def _copy(src, dest, start, out):
    start.wait(60)
    out.put(copy_new(Path(src), Path(dest)))


def _race(target, args, n=2):
    """Run `target(*args, start, out)` in n processes released at once; their results."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0] * n
    return sorted(out.get(timeout=5) for _ in range(n))


def test_processes_copying_one_store_at_once_get_one_store(tmp_path):
    """The atomic step without the tracker's lock: of three copies racing for one name, one lands."""
    src, dest = tmp_path / "template.db", tmp_path / "store" / "mlflow.db"
    src.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 4000)
    assert _race(_copy, (str(src), str(dest)), n=3) == [False, False, True]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["mlflow.db"] and dest.read_bytes() == src.read_bytes()


@pytest.mark.slow
def test_processes_creating_one_store_at_once_get_one_store(templates, tmp_path):
    """Without the tracker's lock, from no template: both build the template and copy it at once."""
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    assert _race(_create, (uri,)) == [False, True]  # exactly one copy landed
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["mlflow.db"]
    assert sorted(p.name for p in templates.iterdir()) == [template_path().name]
    assert revision(tmp_path / "store" / "mlflow.db") == schema_head()
    Tracker(uri, "varbench")


def test_docstring_examples():
    import doctest

    import varbench.store_template as module

    assert doctest.testmod(module).failed == 0
