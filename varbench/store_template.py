"""A fresh sqlite tracking store copied from a pre-migrated template instead of migrated.

MLflow creates a sqlite store by running its whole alembic migration chain (some thirty steps,
one fsync each: seconds of CPU and up to half a minute of wall time on a busy disk). The first
time on a machine, `fresh_store` lets MLflow create one store in a private cache folder
(`template_path`, keyed by the MLflow version and the schema's head revision), drops the
default experiment MLflow put in it (MLflow recreates it on first open, with the artifact
location of the process that opens it) and keeps that file as the template. Every fresh store
after that is a byte copy of the template, written to a temporary file beside the store and
linked to the store's name with `os.link`, which fails if the name exists: an existing file is
never replaced, and of two processes creating the same store at once exactly one copy lands.
MLflow opens the copy without migrating: it is at the head revision with every table in place.
"""
from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

from varbench.store_file import SQLITE_HEADER, sqlite_path

log = logging.getLogger(__name__)
TEMPLATE_DIR_ENV = "VARBENCH_STORE_TEMPLATE_DIR"


def template_dir() -> Path:
    """The cache folder of store templates: $VARBENCH_STORE_TEMPLATE_DIR, else
    $XDG_CACHE_HOME/varbench/store-templates (~/.cache when XDG_CACHE_HOME is unset).

    Examples
    --------
    >>> template_dir().name
    'store-templates'
    """
    if os.environ.get(TEMPLATE_DIR_ENV):
        return Path(os.environ[TEMPLATE_DIR_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "varbench" / "store-templates"


def schema_head() -> str:
    """The alembic head revision of the installed MLflow's tracking schema."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def template_path() -> Path:
    """The template store for the installed MLflow version and schema head.

    Examples
    --------
    >>> template_path().name.startswith("mlflow-")
    True
    """
    import mlflow

    return template_dir() / f"mlflow-{mlflow.__version__}-{schema_head()}.db"


def revision(path: Path) -> str | None:
    """The alembic revision recorded in the sqlite store `path` (None if it has none or is unreadable)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return None
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            con.close()
    except (OSError, sqlite3.Error):
        return None
    return row[0] if row else None


def _usable(path: Path, head: str) -> bool:
    """A template is a regular file (not a symlink) at the head revision holding no experiment."""
    if path.is_symlink() or not path.is_file() or revision(path) != head:
        return False
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM experiments").fetchone()[0] == 0
    except sqlite3.Error:
        return False
    finally:
        con.close()


def _build(path: Path, head: str) -> None:
    """Let MLflow create and migrate a store in a private folder, drop its default experiment, and
    link it to `path` (another process that linked it first wins; both get the same file)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=path.parent))
    try:
        db = work / "template.db"
        uri = f"sqlite:///{db}"
        store = SqlAlchemyStore(uri, str(work / "mlruns"))
        store._dispose_engine()
        SqlAlchemyStore._engine_map.pop(uri, None)
        con = sqlite3.connect(db)
        try:
            con.execute("DELETE FROM experiment_tags WHERE experiment_id = 0")
            con.execute("DELETE FROM experiments WHERE experiment_id = 0")
            con.commit()
            con.execute("VACUUM")
        finally:
            con.close()
        if not _usable(db, head):
            raise RuntimeError(f"MLflow made a store at revision {revision(db)}, expected {head}")
        _fsync(db)
        try:
            os.link(db, path)
        except FileExistsError:
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_template() -> Path | None:
    """The template of the installed MLflow, built the first time (one MLflow migration, once per
    machine and MLflow version). None, with a warning, when it cannot be built or is unusable: the
    caller then lets MLflow create its store as usual."""
    head = schema_head()
    path = template_path()
    try:
        if not os.path.lexists(path):
            log.info("tracking: building the store template %s (once per MLflow version)", path)
            _build(path, head)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        log.warning("tracking: no store template (%s); MLflow creates the store by migration", exc)
        return None
    if not _usable(path, head):
        log.warning("tracking: store template %s is not a store at schema %s; MLflow creates the store by "
                    "migration (delete the template to rebuild it)", path, head)
        return None
    return path


def copy_new(src: Path, dest: Path) -> bool:
    """Copy `src` to `dest` only if `dest` does not exist: a temporary file beside `dest`, then
    `os.link` (which never replaces a file). True if this call created `dest`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a").write_text("new"); _ = (d / "b").write_text("old")
    >>> copy_new(d / "a", d / "b"), (d / "b").read_text(), copy_new(d / "a", d / "c"), sorted(os.listdir(d))
    (False, 'old', True, ['a', 'b', 'c'])
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, dest)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def fresh_store(uri: str) -> bool:
    """Create the sqlite store of `uri` from the template when it does not exist yet. True if it
    was created here; False when the URI is not sqlite, the store exists, or no template could be
    had or linked (MLflow then creates the store itself, as before).

    Examples
    --------
    >>> fresh_store("http://127.0.0.1:5000")
    False
    """
    dest = sqlite_path(uri)
    if dest is None or os.path.lexists(dest):
        return False
    template = ensure_template()
    if template is None:
        return False
    try:
        return copy_new(template, dest)
    except OSError as exc:  # a filesystem without hard links, a folder that cannot be written
        log.warning("tracking: could not copy the store template to %s (%s); MLflow creates it", dest, exc)
        return False
