"""A command's output folder (`--out`): every varbench writer writes only its own files there.

- `/`, the home directory and a path that is a file are refused; so is a folder holding anything
  no varbench writer recorded there, unless `force=True` (then same-named files are replaced,
  nothing else is touched);
- every file is written to a temporary file in the folder and renamed over its name
  (`os.replace`): a symlink at the destination is replaced itself, its target is never written;
- the manifest (`MANIFEST`) records each file with its writer and SHA-256. A writer deletes only
  the files it recorded earlier whose content still has the recorded hash (a planted manifest
  deletes nothing: the hashes of foreign files do not match).

One error line (`OutDirError`, a ValueError) for a refused folder and for a failed write
(full disk, read-only folder).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator

MANIFEST = ".varbench_files.json"
LEGACY = "report_files.txt"  # the unhashed manifest of older reports: never trusted
FORMAT = "varbench-outputs/1"
_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # write_atomic's temporary files (left by a killed writer):
# ignored, never trusted nor deleted
FORCE_HELP = "write into an --out folder that holds files varbench did not write (same names replaced)"


class OutDirError(ValueError):
    """A folder varbench must not write into, or a write that failed (one line)."""


def file_hash(path: Path) -> str | None:
    """SHA-256 of a regular file, read without following a symlink; None for anything else.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_bytes(b"")
    >>> file_hash(p)[:8]
    'e3b0c442'
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder, a device, a pipe
        os.close(fd)
        return None
    with os.fdopen(fd, "rb") as fh:
        h = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fill(fd: int, data: bytes) -> None:
    """Write all of `data` to the open file `fd` (the one place bytes reach the disk)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a new temporary file beside `path`, then rename it over `path`: a symlink
    at `path` is replaced, never followed; on failure the old file is kept and the temporary
    file removed. Raises OutDirError (one line) on a full disk or an unwritable folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_atomic(p, b"hi"); p.read_text()
    'hi'
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutDirError(_failed(path, exc)) from None
    try:
        try:
            _fill(fd, data)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutDirError(_failed(path, exc)) from None


def _failed(path: Path, exc: OSError) -> str:
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied"}.get(exc.errno or 0, exc.strerror or str(exc))
    return (f"could not write {path}: {what}; {'free space or choose' if full else 'choose a writable folder as'}"
            " another --out (the files already there are kept)")


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..", MANIFEST) and "/" not in name and "\\" not in name \
        and "\0" not in name


class OutDir:
    """The output folder of one writer (e.g. "report"), checked when opened.

    Parameters
    ----------
    path : the folder (`--out`); created on the first write.
    writer : the writer's name, recorded per file; `finish` deletes only this writer's old files.
    force : write into a folder that holds files varbench did not write (same names replaced).
    flag : how the user named the folder, for messages.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> od = OutDir(pathlib.Path(tempfile.mkdtemp()) / "rep", "example")
    >>> od.write_text("a.md", "# hi").name
    'a.md'
    >>> [p.name for p in od.finish()]
    ['a.md']
    """

    def __init__(self, path: str | Path, writer: str, force: bool = False, flag: str = "--out") -> None:
        self.path = Path(path).expanduser()
        self.writer, self.force, self.flag = writer, force, flag
        self.written: list[Path] = []
        self.manifest = self._check()

    # ------------------------------------------------------------------ opening
    def _check(self) -> dict[str, dict[str, str]]:
        shown = f"{self.flag}={str(self.path)!r}"
        real = self.path.resolve()
        if real == Path(real.anchor) or real == Path.home().resolve():
            where = "the root folder" if real == Path(real.anchor) else "your home directory"
            raise OutDirError(f"{shown} is {where}: varbench writes only into a folder of its own; pass a "
                              f"fresh subfolder (e.g. {self.flag} {self.path / 'varbench-out'})")
        if self.path.is_symlink() and not real.is_dir():
            raise OutDirError(f"{shown} is a symlink to {real}, not a folder: pass a folder")
        if not real.exists():
            return {}
        if not real.is_dir():
            raise OutDirError(f"{shown} is a file, not a folder: pass a folder")
        self.path = real
        recorded = read_manifest(real)
        foreign = sorted(n for n in os.listdir(real) if not (n == MANIFEST and recorded is not None)
                         and not _TEMP.match(n) and not self._ours(n, recorded or {}))
        if foreign and not self.force:
            legacy = (f" ({LEGACY} of an older varbench lists names without hashes: its files cannot be "
                      "told from yours)" if LEGACY in foreign else "")
            raise OutDirError(
                f"{shown} holds {len(foreign)} file(s) varbench did not write there ("
                + ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "") + f"){legacy}: pass a fresh "
                f"subfolder (e.g. {self.flag} {self.path / 'varbench-out'}) or --force to write beside them "
                "(files of the same names are replaced, none is deleted)")
        return {k: v for k, v in (recorded or {}).items() if self._ours(k, recorded or {})}

    def _ours(self, name: str, recorded: dict[str, Any]) -> bool:
        entry = recorded.get(name)
        if not isinstance(entry, dict):
            return False
        digest = file_hash(self.path / name)
        return digest is not None and digest in (entry.get("sha256"), entry.get("was"))

    # ------------------------------------------------------------------ writing
    def folder(self) -> Path:
        """The folder, created if needed (for drawing functions that write with `write_atomic`)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutDirError(_failed(self.path, exc)) from None
        return self.path

    def target(self, name: str) -> Path:
        """The path of `name` in the (created) folder; `name` must be a plain file name."""
        if not _plain_name(name):
            raise OutDirError(f"{name!r} is not a plain file name inside {self.path}")
        return self.folder() / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write one file (temporary file, then rename), recorded in the manifest first: if the
        write fails, the file there (this writer's earlier one, kept as "was") is still its own."""
        path = self.target(name)
        digest = hashlib.sha256(data).hexdigest()
        old = self.manifest.get(name)
        self.manifest[name] = {"sha256": digest, "writer": self.writer, **({"was": old["sha256"]} if old else {})}
        self._save()
        write_atomic(path, data)
        self.manifest[name] = {"sha256": digest, "writer": self.writer}  # saved with the next change
        if path not in self.written:
            self.written.append(path)
        return path

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def write_csv(self, name: str, df: Any) -> Path:
        """A DataFrame as CSV (no index)."""
        return self.write_text(name, df.to_csv(index=False))

    def write_figure(self, name: str, fig: Any, **savefig: Any) -> Path:
        """A matplotlib figure as PNG (rendered in memory, then written like any file)."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", **savefig)
        return self.write_bytes(name, buf.getvalue())

    def record(self, path: Path) -> Path:
        """Record a file another function just wrote into this folder with `write_atomic`."""
        return self._adopt([Path(path)])[0]

    def _adopt(self, paths: list[Path]) -> list[Path]:
        """Record files just written here, with one manifest save; if it cannot be saved (a full
        disk), the files are removed again: never left unrecorded."""
        digests, olds = {}, {}
        for path in paths:
            if path.parent.resolve() != self.path.resolve() or not _plain_name(path.name):
                raise OutDirError(f"{path} is not a file directly inside {self.path}")
            digests[path] = file_hash(path)
            if digests[path] is None:
                raise OutDirError(f"{path} is not a regular file")
            olds[path.name] = self.manifest.get(path.name)
            self.manifest[path.name] = {"sha256": digests[path], "writer": self.writer}
        try:
            self._save()
        except OutDirError:
            for path, digest in digests.items():
                if file_hash(path) == digest:
                    with contextlib.suppress(OSError):
                        path.unlink()
            for name, old in olds.items():
                self.manifest.pop(name)
                if old:
                    self.manifest[name] = old
            raise
        self.written += [p for p in paths if p not in self.written]
        return paths

    @contextlib.contextmanager
    def adopting(self) -> Iterator[Path]:
        """A block that draws files into the folder with `write_atomic` (figures): every file that
        appears or changes there meanwhile is recorded as this writer's, also when the block fails."""
        folder = self.folder()
        before = {n: file_hash(folder / n) for n in os.listdir(folder)}
        try:
            yield folder
        finally:
            self._adopt([folder / n for n in sorted(os.listdir(folder)) if _plain_name(n) and not _TEMP.match(n)
                         and file_hash(folder / n) not in (None, before.get(n))])

    def _save(self) -> None:
        files = {k: v for k, v in sorted(self.manifest.items())}
        write_atomic(self.path / MANIFEST, (json.dumps({"format": FORMAT, "files": files}, indent=1) + "\n").encode())

    def finish(self) -> list[Path]:
        """Delete this writer's files of an earlier run that this run did not write again (only
        those whose content still has the recorded hash); returns the files written."""
        now = {p.name for p in self.written}
        stale = [n for n, e in self.manifest.items() if e.get("writer") == self.writer and n not in now]
        for name in stale:
            if self._ours(name, self.manifest):
                with contextlib.suppress(OSError):
                    (self.path / name).unlink()
            del self.manifest[name]
        if self.path.is_dir():
            self._save()
        return list(self.written)


def read_manifest(folder: Path) -> dict[str, dict[str, str]] | None:
    """{name: {"sha256", "writer"}} of a folder's manifest ({} if there is none); None for a
    manifest that is a link, unreadable or malformed (never trusted, and itself a foreign file)."""
    path = folder / MANIFEST
    if not os.path.lexists(path):
        return {}
    if file_hash(path) is None:
        return None
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("files"), dict):
        return None
    return {n: e for n, e in doc["files"].items()
            if _plain_name(n) and isinstance(e, dict) and isinstance(e.get("sha256"), str)
            and isinstance(e.get("was", ""), str)}
