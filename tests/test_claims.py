"""Claims in the store: a cell is held by one process at a time (sqlite here; the loopback
cluster test in test_sweeps covers a server), stale claims of dead processes are taken over,
and a rerun heals duplicates and cells left RUNNING."""
import os
import subprocess
import sys
import time

from varbench.tracking import Claim, Tracker, fetch_cells, fetch_table


def _store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    return uri, Tracker(uri, "varbench")


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_one_holder_at_a_time_and_release(tmp_path):
    uri, t = _store(tmp_path)
    a, b = t.claim("cell1"), t.claim("cell1")
    assert a.try_acquire() and not b.try_acquire()
    assert b.holder()["owner"] == a.token and b.holder()["pid"] == str(os.getpid())
    assert t.claim("cell2").try_acquire()  # another cell is independent
    a.release()
    assert b.holder() is None and b.try_acquire()
    b.release()


def test_claim_of_a_dead_process_is_taken_over(tmp_path):
    uri, t = _store(tmp_path)
    ghost = t.claim("cell1")
    ghost.tags["pid"] = str(_dead_pid())  # as if a process on this host died holding it
    assert ghost.try_acquire()
    ghost._stop.set()  # the dead process beats no more
    other = t.claim("cell1")
    assert not other.try_acquire()  # the first attempt removes the stale claim ...
    assert other.try_acquire()  # ... the next one takes it
    assert other.holder()["owner"] == other.token


def test_claim_without_heartbeat_is_stale_live_one_is_not(tmp_path):
    uri, t = _store(tmp_path)
    holder = t.claim("c", stale_after=0.5, heartbeat=0.1)
    holder.tags["host"] = "another-machine"  # pid cannot be checked: only the heartbeat counts
    assert holder.try_acquire()
    waiter = t.claim("c", stale_after=0.5)
    time.sleep(1.0)  # the holder's thread keeps beating
    assert not waiter.try_acquire() and waiter.holder()["owner"] == holder.token
    holder._stop.set()  # the holder's machine goes silent
    time.sleep(1.0)
    assert not waiter.try_acquire() and waiter.try_acquire()


def test_rerun_heals_duplicates_and_closes_a_running_cell(compose_cfg, tmp_path):
    from varbench.config import resolve_cell
    from varbench.runner import run_cell

    cfg = compose_cfg(["dataset=linear", "methods=[random,probing]", "seed=0"])
    spec = resolve_cell(cfg, check_model=False)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    t = Tracker(uri, "varbench")
    base = {"cell_hash": spec.cell_hash, "dataset": "linear", "model": "mlp", "seed": "0", "study": "default",
            "task": "regression", "sweep": "old"}
    # as an older version left it: two cell runs (one still RUNNING), `random` logged twice
    old_parent = t.start_run("old", {**base, "kind": "cell", "status": "ok"})
    t.log(old_parent, metrics={"r2": 0.9})
    t.end_run(old_parent)
    time.sleep(0.01)
    new_parent = t.start_run("new", {**base, "kind": "cell", "status": "running"})
    t.log(new_parent, metrics={"r2": 0.9})
    for parent, name in ((old_parent, "random"), (new_parent, "random"), (old_parent, "probing")):
        child = t.start_run(name, {**base, "kind": "method", "method": name, "status": "ok",
                                   "method_hash": spec.method_hashes[name]}, parent_id=parent)
        t.log(child, metrics={"spearman": 0.5})
        t.end_run(child)
        time.sleep(0.01)
    result = run_cell(cfg)  # nothing to train: only healing
    assert result.status == "skipped"
    cells, runs = fetch_cells(uri, "varbench"), fetch_table(uri, "varbench")
    assert len(cells) == 1 and cells["run_id"].iloc[0] == new_parent
    assert cells["run_status"].iloc[0] == "FINISHED" and cells["status"].iloc[0] == "ok"
    assert sorted(runs["method"]) == ["probing", "random"] and set(runs["parent_run_id"]) == {new_parent}
    assert t.claim(spec.cell_hash).holder() is None  # released
