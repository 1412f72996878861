"""The SQLite file behind a `sqlite:///PATH` tracking URI, checked before MLflow touches it.

MLflow turns a zero-byte file into a fresh empty store without a word, and meets a damaged,
read-only, locked or full store with a long traceback. `check_sqlite` refuses each in one line
naming the file and what to do (`StoreError`); `store_fault` gives the same line for those
faults when MLflow meets them later (a disk that fills during a sweep). No MLflow import here.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
LOCK_WAIT = 30.0  # seconds to wait for another process's write lock before giving up
OTHER = "or use another store"


class StoreError(ValueError):
    """A tracking store that cannot be used as it is (one line: the file and what to do)."""


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///PATH` URI (None for other URIs).

    Examples
    --------
    >>> sqlite_path("sqlite:///runs/mlflow.db").name
    'mlflow.db'
    >>> sqlite_path("http://127.0.0.1:5000") is None
    True
    """
    return Path(uri[len("sqlite:///"):]).expanduser() if uri.startswith("sqlite:///") else None


def writable(path: Path) -> bool:
    """Whether this process may write `path` (a file, or a folder to create files in)."""
    return os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0))


def _existing_parent(path: Path) -> Path:
    p = path.resolve().parent
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_sqlite(uri: str, write: bool = True, content: bool = True) -> None:
    """Raise StoreError unless the store of `uri` can be used: an existing file must be a
    non-empty, readable SQLite database, not locked by another process for longer than
    LOCK_WAIT seconds and, when `write`, writable along with its folder. A store that does not
    exist yet passes when its folder can be created and written (MLflow creates it). Other URIs
    pass unchecked. `content=False` checks only the permissions (for a store another process
    may be creating right now: check its content under `tracking.store_lock`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> empty = pathlib.Path(tempfile.mkdtemp()) / "mlflow.db"; _ = empty.write_bytes(b"")
    >>> check_sqlite(f"sqlite:///{empty.parent}/new.db")  # not there yet: MLflow may create it
    >>> try:
    ...     check_sqlite(f"sqlite:///{empty}")
    ... except StoreError as exc:
    ...     print(str(exc).split(", not")[0].split("/")[-1])
    mlflow.db is empty (0 bytes)
    """
    path = sqlite_path(uri)
    if path is None:
        return
    shown = path.resolve()
    if not os.path.lexists(path):
        folder = _existing_parent(path)
        if write and not writable(folder):
            raise StoreError(f"tracking store {shown} cannot be created: {folder} is read-only; make it "
                             f"writable {OTHER}")
        return
    if not path.is_file():
        raise StoreError(f"tracking store {shown} is not a file; {OTHER}")
    if write:
        for what, p in (("the file", path), ("its folder", path.resolve().parent)):
            if not writable(p):
                raise StoreError(_read_only(shown, what))
    if not content:
        return
    if path.stat().st_size == 0:
        raise StoreError(f"tracking store {shown} is empty (0 bytes), not an MLflow store; varbench will not "
                         f"replace it: move it aside (or delete it if it held nothing) {OTHER}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"tracking store {shown} cannot be read ({exc.strerror}); fix its permissions "
                         f"{OTHER}") from None
    if head != SQLITE_HEADER:
        raise StoreError(_corrupt(shown))
    _probe(path, write)


def _probe(path: Path, write: bool) -> None:
    """Read the schema (and, when `write`, take and drop the write lock) with SQLite itself."""
    mode = "rw" if write else "ro"
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=LOCK_WAIT)
    except sqlite3.Error as exc:
        raise StoreError(describe(path, exc)) from None
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if write:
            con.execute("BEGIN IMMEDIATE")
            con.rollback()
    except sqlite3.Error as exc:
        raise StoreError(describe(path, exc)) from None
    finally:
        con.close()


def _corrupt(shown: Path) -> str:
    return (f"tracking store {shown} is not a readable SQLite database (damaged, or another kind of file); "
            f"restore it from a backup or move it aside, {OTHER}")


def _read_only(shown: Path, what: str = "the file") -> str:
    return (f"tracking store {shown} is read-only ({what}); make it writable (e.g. chmod u+w), {OTHER}"
            " (`varbench report` reads a read-only store with --no-mlflow-log)")


def describe(path: Path, exc: BaseException) -> str:
    """One line for a store fault SQLite or MLflow reported about `path`, from its message;
    the message itself (one line) when it is not a known fault."""
    shown = path.resolve()
    msg = " ".join(str(exc).split())
    low = msg.lower()
    if "locked" in low or "busy" in low:
        return (f"tracking store {shown} is locked by another process (waited {LOCK_WAIT:.0f} s); wait for it "
                f"to finish {OTHER}")
    if "disk is full" in low or "no space left" in low or "disk quota" in low:
        return (f"the disk holding tracking store {shown} is full; free space and rerun (finished runs are "
                "kept; the rest resume)")
    if "readonly" in low or "read-only" in low:
        return _read_only(shown)
    if "malformed" in low or "not a database" in low or "encrypted" in low:
        return _corrupt(shown)
    if "unable to open" in low:
        return f"tracking store {shown} cannot be opened (check the file and its folder's permissions), {OTHER}"
    return f"tracking store {shown}: {msg[:300]}"


KNOWN = ("locked", "busy", "disk is full", "no space left", "disk quota", "readonly", "read-only", "malformed",
         "not a database", "encrypted", "unable to open")


def store_fault(uri: str, exc: BaseException) -> StoreError | None:
    """A StoreError (one line) for an exception MLflow raised on the sqlite store of `uri` when it
    is one of the faults above (locked, full, read-only, damaged); None otherwise.

    Examples
    --------
    >>> full = RuntimeError("(sqlite3.OperationalError) database or disk is full")
    >>> str(store_fault("sqlite:///x/mlflow.db", full)).split(" tracking")[0]
    'the disk holding'
    >>> store_fault("sqlite:///x/mlflow.db", KeyError("x")) is None
    True
    """
    path = sqlite_path(uri)
    if path is None or not any(k in str(exc).lower() for k in KNOWN):
        return None
    return StoreError(describe(path, exc))
