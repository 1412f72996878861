"""Fault script (not collected by pytest): interrupt small sweeps at random moments with
SIGINT / SIGTERM / SIGKILL, rerun them, and run identical sweeps concurrently; count what was
tried, handled cleanly (no traceback, exit as documented), lost and duplicated.

    python tests/faults.py --interrupts 6 --concurrent 2
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SMALL = ["dataset=linear", "methods=[random,probing,permutation]", "dataset.n_samples=3000", "trainer.epochs=60",
         "trainer.progress_every=0", "cache.dir=null", "seed=0,1"]
PAIRS = 2 * 3


def _start(cwd: Path, log: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("varbench")
    return subprocess.Popen([str(exe), "-m", *SMALL], cwd=cwd, stdout=open(cwd / log, "w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(TESTS)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _pairs(cwd: Path) -> tuple[int, int, int]:
    """(distinct ok pairs, duplicated pairs, runs left RUNNING)."""
    from varbench.tracking import fetch_cells, fetch_table

    uri = f"sqlite:///{cwd}/mlflow.db"
    runs = fetch_table(uri, "varbench")
    cells = fetch_cells(uri, "varbench")
    ok = runs[runs["status"] == "ok"]
    counts = ok.groupby(["cell_hash", "method"]).size()
    running = int((runs["run_status"] == "RUNNING").sum() + (cells["run_status"] == "RUNNING").sum())
    return len(counts), int((counts > 1).sum()) + int(cells["cell_hash"].duplicated().sum()), running


def interrupts(n: int, rng: random.Random) -> list[str]:
    rows = []
    for i in range(n):
        cwd = Path(tempfile.mkdtemp(prefix="vbfault"))
        sig = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL][i % 3]
        proc = _start(cwd, "first.log")
        at = rng.randint(1, 7)  # the signal lands after the at-th progress line: training or a method
        while proc.poll() is None and len(re.findall(r"training|\[\d/3\]", (cwd / "first.log").read_text())) < at:
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.wait(120)
        text = (cwd / "first.log").read_text()
        finished = "varbench: 2 cell(s)" in text  # the signal came after the sweep had ended
        clean = "Traceback" not in text and (sig == signal.SIGKILL or "interrupted;" in text or finished)
        rerun = _start(cwd, "rerun.log")
        rerun.wait(600)
        done, dup, running = _pairs(cwd)
        lost = PAIRS - done
        rows.append(f"{sig.name:8s} at event {at} first exit {proc.returncode:4d} finished={finished}: clean={clean} "
                    f"rerun exit {rerun.returncode} "
                    f"lost={lost} duplicated={dup} running_left={running}")
        print(rows[-1], flush=True)
    return rows


def concurrent(n: int) -> list[str]:
    rows = []
    for _ in range(n):
        cwd = Path(tempfile.mkdtemp(prefix="vbconc"))
        procs = [_start(cwd, f"s{k}.log") for k in range(2)]
        codes = [p.wait(900) for p in procs]
        done, dup, running = _pairs(cwd)
        rows.append(f"two at once: exits {codes} lost={PAIRS - done} duplicated={dup} running_left={running}")
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--interrupts", type=int, default=6)
    ap.add_argument("--concurrent", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    interrupts(a.interrupts, random.Random(a.seed))
    concurrent(a.concurrent)
