"""Writers write only their own files (varbench.outdir), and Markdown outputs are inert: `--out` at
`/`, at the home directory, at `..` and at a folder holding the user's files is refused in one
line; a planted symlink is replaced, never followed; a planted manifest deletes nothing; a full
disk keeps the previous report; names and error texts cannot inject HTML, links or table cells.
Each case checks that nothing outside --out was touched and nothing was lost (file hashes)."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from test_report_layer import frame

from varbench import outdir
from varbench.outdir import MANIFEST, OutDir, OutDirError, read_manifest
from varbench.report import prepare, write_report

XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"


def snapshot(root: Path) -> dict[str, str]:
    """Every file below root (links as their target text) -> SHA-256 (what "nothing lost" compares)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(root))] = "link:" + os.readlink(p)
        elif p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def data():
    """A small prepared report (two cells, three methods) without an MLflow store."""
    rows = [{"seed": s, "method": m, "spearman": v, "topk_recall": 1.0}
            for s, ms in {0: {"a": .9, "b": .5, "random": .1}, 1: {"a": .8, "b": .7, "random": -.2},
                          2: {"a": .7, "b": .6, "random": 0.0}}.items() for m, v in ms.items()]
    return prepare(frame(rows), None)


def one_line(err: str, prog: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prog) and "Traceback" not in err, err
    return lines[0]


def commands(out: str, tmp_path: Path) -> dict[str, tuple[object, list[str]]]:
    """Each writer's CLI with --out (the checks come before any store, table or benchmark is read)."""
    from varbench import bench
    from varbench.advise.cli import main as advise
    from varbench.report import main as report

    return {"varbench report": (report, ["--uri", f"sqlite:///{tmp_path}/none.db", "--out", out]),
            "varbench advise": (advise, ["--data", str(tmp_path / "t.csv"), "--target", "y", "--out", out]),
            "varbench bench": (bench.main, ["--quick", "--out", out])}


@pytest.mark.parametrize("where", ["root", "home"])
def test_out_at_root_or_home_is_refused_in_every_writer(where, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    out = "/" if where == "root" else "~"
    before = snapshot(tmp_path)
    for prog, (main, argv) in commands(out, tmp_path).items():
        assert main(argv) == 2
        line = one_line(capsys.readouterr().err, prog)
        assert ("the root folder" if where == "root" else "your home directory") in line and "subfolder" in line
    assert snapshot(tmp_path) == before and not Path("/", MANIFEST).exists()


def test_out_at_parent_holding_the_users_files_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "runs.csv").write_text("the user's runs\n")
    (tmp_path / "report.md").write_text("# the user's report\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    before = snapshot(tmp_path)
    for prog, (main, argv) in commands("..", tmp_path).items():
        assert main(argv) == 2
        line = one_line(capsys.readouterr().err, prog)
        assert "holds 3 file(s) varbench did not write there (report.md, runs.csv, sub)" in line and "--force" in line
    assert snapshot(tmp_path) == before


def test_force_writes_beside_foreign_files_and_deletes_none(data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report_files.txt").write_text("notes.txt\n../outside.txt\n")  # an older, unhashed manifest
    (tmp_path / "outside.txt").write_text("outside")
    with pytest.raises(OutDirError, match=r"report_files.txt of an older varbench lists names without hashes"):
        write_report(data, out, "test", plots=False)
    before = snapshot(tmp_path)
    write_report(data, out, "test", plots=False, force=True)
    write_report(data, out, "test", plots=False, force=True)  # the second run deletes nothing of the user's
    after = snapshot(tmp_path)
    assert {k: after[k] for k in before} == before
    assert {f"out/{n}" for n in read_manifest(out)} == set(after) - set(before) - {f"out/{MANIFEST}"}


def test_planted_symlink_is_replaced_never_followed(data, tmp_path):
    out = tmp_path / "out"
    write_report(data, out, "test", plots=False)
    victim = tmp_path / "victim.html"
    victim.write_text("the user's page")
    (out / "report.html").unlink()
    (out / "report.html").symlink_to(victim)
    before = snapshot(tmp_path)
    with pytest.raises(OutDirError, match=r"holds 1 file\(s\) varbench did not write there \(report.html\)"):
        write_report(data, out, "test", plots=False)
    assert snapshot(tmp_path) == before
    write_report(data, out, "test", plots=False, force=True)     # the link itself is replaced
    assert victim.read_text() == "the user's page" and not (out / "report.html").is_symlink()
    assert "<html" in (out / "report.html").read_text()
    # a link to a file outside, planted where a writer writes a new file
    od = OutDir(tmp_path / "fresh", "test")
    od.folder()
    (tmp_path / "fresh" / "a.md").symlink_to(victim)
    with pytest.raises(OutDirError, match="a.md"):
        OutDir(tmp_path / "fresh", "test")
    od.write_text("a.md", "new")                                  # (an OutDir opened before the link appeared)
    assert victim.read_text() == "the user's page" and (tmp_path / "fresh" / "a.md").read_text() == "new"


def test_planted_manifest_deletes_nothing(data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("data.csv", "thesis.md"):
        (out / name).write_text(f"the user's {name}")
    (tmp_path / "outside.txt").write_text("outside")
    planted = {name: {"sha256": "0" * 64, "writer": "report"} for name in ("data.csv", "thesis.md")}
    planted["../outside.txt"] = {"sha256": hashlib.sha256(b"outside").hexdigest(), "writer": "report"}
    (out / MANIFEST).write_text(json.dumps({"format": outdir.FORMAT, "files": planted}))
    before = snapshot(tmp_path)
    with pytest.raises(OutDirError, match=r"holds 2 file\(s\).*\(data.csv, thesis.md\)"):
        write_report(data, out, "test", plots=False)
    assert snapshot(tmp_path) == before
    write_report(data, out, "test", plots=False, force=True)      # its listed files are not this writer's
    after = snapshot(tmp_path)
    assert {k: after[k] for k in before if k != f"out/{MANIFEST}"} == {k: v for k, v in before.items()
                                                                     if k != f"out/{MANIFEST}"}
    assert "../outside.txt" not in read_manifest(out) and "data.csv" not in read_manifest(out)


@pytest.mark.parametrize(("code", "said"), [(errno.ENOSPC, "the disk is full; free space"),
                                           (errno.EROFS, "the file system is read-only; choose a writable")])
def test_a_failed_write_keeps_the_previous_report(code, said, data, tmp_path, monkeypatch):
    """A full disk or a read-only folder (simulated at the one place bytes reach the disk: root
    ignores permissions, and a real full disk would need a mount)."""
    out = tmp_path / "out"
    write_report(data, out, "test", plots=False)
    before = snapshot(tmp_path)

    def fail(fd, payload):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(outdir, "_fill", fail)
    with pytest.raises(OutDirError) as exc:
        write_report(data, out, "test", plots=False)
    assert str(exc.value).count("\n") == 0 and said in str(exc.value) and "kept" in str(exc.value)
    assert snapshot(tmp_path) == before                           # no temporary file left, nothing replaced


def _pipes(row: str) -> int:
    """Table cell separators in a Markdown row (escaped pipes do not count)."""
    return len(re.findall(r"(?<!\\)\|", row))


def test_report_markdown_escapes_names_and_error_texts(tmp_path):
    rows = [{"seed": s, "method": m, "spearman": v, "topk_recall": 1.0, "dataset": f"d{XSS}|x"}
            for s in (0, 1, 2) for m, v in ((SCRIPT, .9), ("b|c", .5), ("random", .1))]
    rows.append({"seed": 0, "method": f"[click](http://evil) {XSS}", "status": "failed",
                 "error": f"ValueError: {SCRIPT} | broken\nsecond line", "dataset": f"d{XSS}|x"})
    res = write_report(prepare(frame(rows), None), tmp_path / "out", "test", plots=False)
    for name in ("report.md", "recommendation.md"):
        text = (tmp_path / "out" / name).read_text()
        assert "<script" not in text and "<img" not in text and "](http://evil)" not in text, name
    md = (tmp_path / "out" / "report.md").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md and "b\\|c" in md
    for block in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.M):  # every row of every table has its header's cells
        lines = block.splitlines()
        assert {_pipes(line) for line in lines} == {_pipes(lines[0])}, lines
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # HTML kept escaped
    assert res.paths


def test_advise_report_escapes_column_names_and_errors(tmp_path):
    from varbench.advise.render import write

    col = f"price{XSS}|`x`"
    ranking = pd.DataFrame({"method": [SCRIPT, "random"], "estimand": ["marginal", "none"], "role": ["", "floor"],
                            "mean": [0.8, 0.0], "ci_low": [0.7, -0.1], "ci_high": [0.9, 0.1], "n": [2, 2],
                            "seconds": [1.0, 0.1]})
    real = pd.DataFrame({"method": [SCRIPT], "variable": [col], "mean": [1.0], "ci_low": [0.9], "ci_high": [1.0]})
    facts = {"name": f"t{XSS}.csv", "target": f"y{SCRIPT}", "task": "regression", "rows": 10, "columns": 2,
             "variables": [col], "encoding": {"scaling": {col: {}}, "one_hot": {f"c{XSS}": ["a", "b"]},
                                              "dropped": {f"id{XSS}": f"id-like {SCRIPT}"}, "imputed": {}},
             "families": ["linear"], "snr": 4.0, "seeds": 1, "low_quality": [], "reachable": 0.9, "real_seeds": 1,
             "top": [SCRIPT], "model": None, "trainings": 1, "method_seeds": 1, "quality": {}, "tracking_uri": "sqlite:///x.db", "study": "s",
             "command": f"varbench advise --data '{XSS}'",
             "recommendation": [f"**Use `{SCRIPT}`**", f"Family `x` was not planted: {XSS} | [a](http://evil)"]}
    path = write(tmp_path / "adv", facts, ranking, pd.DataFrame(), real, {"total": 1.0})
    md = path.read_text()
    assert "<script" not in md and "<img" not in md and "](http://evil)" not in md
    assert "![ranking](ranking.png)" in md                     # its own image links stay
    for block in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.M):
        lines = block.splitlines()
        assert {_pipes(line) for line in lines} == {_pipes(lines[0])}, lines
    assert set(read_manifest(tmp_path / "adv")) == {"ranking.csv", "partner_credit.csv", "real_importance.csv",
                                                    "truth_free_ranking.csv",
                                                    "ranking.png", "real_importance.png", "report.md"}


def test_a_disk_filling_midway_leaves_no_file_unrecorded(data, tmp_path, monkeypatch):
    """The disk fills at the k-th write (a csv, a figure, the manifest save after the figures):
    the folder never holds a file its manifest does not record, so the next report needs no
    --force; nothing outside is touched."""
    out = tmp_path / "out"
    (tmp_path / "mine.txt").write_text("mine")
    real, calls, names = outdir._fill, {"n": 0, "limit": 10 ** 9}, []

    def filling(fd, payload):
        calls["n"] += 1
        names.append(os.readlink(f"/proc/self/fd/{fd}").split("/")[-1])  # .NAME.xxxxxxxx.tmp
        if calls["n"] > calls["limit"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, payload)

    monkeypatch.setattr(outdir, "_fill", filling)
    write_report(data, out, "test")
    names.clear()
    write_report(data, out, "test")
    first_png = next(i for i, n in enumerate(names) if ".png." in n)
    after_pngs = next(i for i in range(first_png, len(names)) if ".png." not in names[i])  # their manifest save
    assert names[after_pngs].startswith(f".{MANIFEST}.")
    for limit in (3, first_png + 1, after_pngs):
        calls.update(n=0, limit=limit)
        with pytest.raises(OutDirError, match="the disk is full"):
            write_report(data, out, "test")
        OutDir(out, "report")                                      # no file there that varbench did not record
        assert (tmp_path / "mine.txt").read_text() == "mine"
    calls.update(n=0, limit=10 ** 9)
    write_report(data, out, "test")
    assert set(read_manifest(out)) | {MANIFEST} == set(os.listdir(out))


def test_a_killed_writers_temporary_file_blocks_nothing_and_stays(tmp_path):
    od = OutDir(tmp_path / "out", "w")
    od.write_text("a.md", "x")
    od.finish()
    left = tmp_path / "out" / ".a.md.k1ll3d_x.tmp"             # write_atomic's temporary file, writer killed
    left.write_text("partial")
    again = OutDir(tmp_path / "out", "w")                        # not refused ...
    again.write_text("a.md", "y")
    again.finish()
    assert left.read_text() == "partial"                          # ... and not deleted (nothing records it)
