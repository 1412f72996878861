"""Storage faults, in every command (`varbench`, `varbench report`, `varbench advise`), run in this
process: an empty (zero-byte), corrupt, read-only (file or folder), locked or full tracking store
gets one line naming the file and what to do, no traceback, and nothing is lost: the store's bytes
and every other file are as they were, and no file appears outside --out."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import stat
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbench import store_file
from varbench.tracking import Tracker

EXP = "faults"
FULL = "(sqlite3.OperationalError) database or disk is full"


def snapshot(root: Path) -> dict[str, str]:
    """Every file below root -> SHA-256 of its bytes (what "nothing lost, nothing touched" compares)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> Path:
    """A real MLflow store with one cell and two method runs (copied per test)."""
    from test_report import log_cell

    root = tmp_path_factory.mktemp("good")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        log_cell(Tracker(f"sqlite:///{root}/mlflow.db", EXP), "linear", 0, 0.9, "ok",
                 {"a": (0.9, 1.0), "b": (0.5, 0.5)})
    finally:
        os.chdir(cwd)
    return root / "mlflow.db"


@pytest.fixture
def table(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(120, 6)), columns=list("abcdef"))
    df["y"] = df["a"] + 0.1 * rng.normal(size=120)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return path


def _mode_bits(path: Path) -> bool:
    """Writability from the mode bits (root ignores them, so `os.access` would say yes)."""
    return bool(path.stat().st_mode & stat.S_IWUSR)


def make_fault(fault: str, tmp_path: Path, good: Path, monkeypatch) -> tuple[Path, sqlite3.Connection | None]:
    """Put a store with `fault` at tmp_path/store/mlflow.db; returns its path and, for "locked",
    the connection holding the lock."""
    folder = tmp_path / "store"
    folder.mkdir()
    db = folder / "mlflow.db"
    if fault == "empty":
        db.write_bytes(b"")
    elif fault == "corrupt":
        db.write_bytes(os.urandom(4096))
    else:
        shutil.copy(good, db)
    if fault.startswith("read-only"):
        if os.geteuid() == 0:
            monkeypatch.setattr(store_file, "writable", _mode_bits)
        target = db if fault == "read-only file" else folder
        target.chmod(target.stat().st_mode & ~0o222)
    holder = None
    if fault == "locked":
        monkeypatch.setattr(store_file, "LOCK_WAIT", 0.3)
        holder = sqlite3.connect(db)
        holder.execute("BEGIN EXCLUSIVE")
    if fault == "full":
        from mlflow import MlflowClient

        def full(*args, **kwargs):
            raise RuntimeError(FULL)

        for name in ("create_experiment", "create_run", "log_batch", "set_terminated"):
            monkeypatch.setattr(MlflowClient, name, full)
    return db, holder


def run_varbench(uri: str, monkeypatch) -> int:
    """`varbench dataset=linear ...` in this process (the Hydra app, as the console script runs it)."""
    from hydra.core.global_hydra import GlobalHydra

    from varbench import cli

    GlobalHydra.instance().clear()
    for key in ("HYDRA_FULL_ERROR", "VARBENCH_FULL_ERROR", "VARBENCH_DEBUG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sys, "argv", ["varbench", "dataset=linear", "methods=[random]", "cache.dir=null",
                                      "dataset.n_samples=200", "trainer.epochs=1", f"tracking.uri={uri}"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    return int(exit_.value.code or 0)


def run_report(uri: str, monkeypatch) -> int:
    from varbench.report import main

    return main(["--uri", uri, "--experiment", EXP, "--out", "rep", "--no-plots", "--quiet"])


def run_advise(uri: str, monkeypatch, data: Path) -> int:
    from varbench.advise.cli import main

    return main(["--data", str(data), "--target", "y", "--budget", "tiny", "--out", "adv", "--tracking-uri", uri,
                 "--cache-dir", "cache"])


FAULTS = {"empty": "is empty (0 bytes)", "corrupt": "is not a readable SQLite database",
          "read-only file": "is read-only (the file)", "read-only folder": "is read-only (its folder)",
          "locked": "is locked by another process", "full": "is full"}


# every fault in every command; the Hydra app and advise (each a second or more) on all but two faults
# run with the slow tests
CASES = [pytest.param(f, c, marks=[pytest.mark.slow] if c != "report" and f not in ("empty", "locked") else [])
         for f in FAULTS for c in ("varbench", "report", "advise")]


@pytest.mark.parametrize(("fault", "command"), CASES)
def test_store_fault_is_one_line_and_loses_nothing(fault, command, good_store, table, tmp_path, monkeypatch,
                                                   capsys):
    db, holder = make_fault(fault, tmp_path, good_store, monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # none left by an earlier test's captured stream
    before = snapshot(tmp_path)
    uri = f"sqlite:///{db}"
    try:
        code = {"varbench": lambda: run_varbench(uri, monkeypatch), "report": lambda: run_report(uri, monkeypatch),
                "advise": lambda: run_advise(uri, monkeypatch, table)}[command]()
    finally:
        if holder is not None:
            holder.rollback()
            holder.close()
        for p in (db, db.parent):
            p.chmod(p.stat().st_mode | 0o200)
    out, err = capsys.readouterr()
    text = out + err
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if FAULTS[fault] in line]
    assert len(lines) == 1, text[-2000:]
    assert str(db.resolve()) in lines[0] and ("move it aside" in lines[0] or "writable" in lines[0]
                                              or "wait for it" in lines[0] or "free space" in lines[0]
                                              or "restore it" in lines[0])
    if command == "report" and fault == "full":     # the report was written; logging it to the full store failed
        assert code == 1 and "logging the report to MLflow failed" in lines[0]
        written = set(snapshot(tmp_path)) - set(before) - {"store/mlflow.db.lock"}  # (the tracker's lock file)
        assert written and all(name.startswith("rep/") for name in written)
    else:
        assert code == 2
        assert set(snapshot(tmp_path)) - set(before) <= {"store/mlflow.db.lock"}  # nothing new but the lock file
    after = snapshot(tmp_path)
    assert {k: after[k] for k in before} == before                     # nothing lost: the store and every file


def test_zero_byte_store_is_never_replaced_by_a_tracker(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"")
    with pytest.raises(store_file.StoreError, match="empty"):
        Tracker(f"sqlite:///{db}", EXP)
    assert db.read_bytes() == b""


def test_a_fault_met_later_is_one_line(tmp_path, good_store, monkeypatch):
    """A disk that fills after the store was opened (mid-sweep): the tracker's next write is a
    StoreError naming the file, not MLflow's traceback."""
    db = tmp_path / "mlflow.db"
    shutil.copy(good_store, db)
    monkeypatch.chdir(tmp_path)
    tracker = Tracker(f"sqlite:///{db}", EXP)
    from mlflow import MlflowClient

    monkeypatch.setattr(MlflowClient, "create_run", lambda *a, **k: (_ for _ in ()).throw(RuntimeError(FULL)))
    with pytest.raises(store_file.StoreError, match=f"holding tracking store {db.resolve()} is full"):
        tracker.start_run("x", {"kind": "cell"})


def test_report_on_a_full_disk_is_one_line(tmp_path, good_store, monkeypatch, capsys):
    """`varbench report` whose files meet a full disk: one line, the store untouched, no file left."""
    import errno

    from varbench import outdir

    db = tmp_path / "mlflow.db"
    shutil.copy(good_store, db)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.setattr(outdir, "_fill", lambda fd, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    assert run_report(f"sqlite:///{db}", monkeypatch) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and [line for line in err.splitlines() if "the disk is full" in line]
    assert snapshot(tmp_path) == before and not list((tmp_path / "rep").iterdir())
