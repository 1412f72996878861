"""Sweeps that scale: parallel launchers, concurrent tracking, a real MLflow server, resume
after SIGTERM. These run the real console entry point in subprocesses."""
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from varbench.tracking import Tracker, fetch_cells, fetch_table

TESTS = Path(__file__).resolve().parent
SMALL = ["dataset=linear", "methods=[random,probing]", "dataset.n_samples=200", "trainer.epochs=3",
         "trainer.progress_every=0", "cache.dir=null"]


def _env(tmp_path, **extra):
    return {**os.environ, "PYTHONPATH": str(TESTS), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _varbench(args, tmp_path, timeout=600, **env):
    exe = Path(sys.executable).with_name("varbench")
    return subprocess.run([str(exe), *args], cwd=tmp_path, env=_env(tmp_path, **env), capture_output=True,
                          text=True, timeout=timeout)


def _assert_each_cell_once(uri, n_cells, methods=("probing", "random")):
    runs = fetch_table(uri, "varbench")
    cells = fetch_cells(uri, "varbench")
    assert len(cells) == n_cells and cells["cell_hash"].is_unique
    counts = runs.groupby(["cell_hash", "method"]).size()
    assert len(counts) == n_cells * len(methods) and (counts == 1).all()
    assert (runs["status"] == "ok").all()


def _writer(uri, worker, n):
    t = Tracker(uri, "varbench")
    for i in range(n):
        parent = t.start_run(f"w{worker}-{i}", {"kind": "cell", "cell_hash": f"{worker}-{i}", "status": "ok"})
        child = t.start_run("m", {"kind": "method", "cell_hash": f"{worker}-{i}", "method": "m", "status": "ok",
                                  "seed": "0"}, parent_id=parent)
        t.log(child, metrics={"spearman": 0.5, "seconds": 0.1})
        t.end_run(child)
        for method in ("a", "b", "c"):  # buffered: written in one transaction when the cell run ends (or sooner)
            t.add_finished_run(method, {"kind": "method", "cell_hash": f"{worker}-{i}", "method": method,
                                        "status": "ok", "seed": "0"}, {"spearman": 0.5, "seconds": 0.1}, parent)
        t.end_run(parent)


@pytest.mark.slow  # two writer processes on one store (CI's slow step runs it)
def test_concurrent_sqlite_writers_lose_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    Tracker(uri, "varbench")  # the store is created once, before the workers (as the sweep callback does)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(uri, w, 15)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert all(p.exitcode == 0 for p in procs)
    runs = fetch_table(uri, "varbench")
    assert len(runs) == 6 * 15 * 4 and (runs.groupby(["cell_hash", "method"]).size() == 1).all()
    assert runs["cell_hash"].nunique() == 6 * 15 and (runs["run_status"] == "FINISHED").all()
    cells = fetch_cells(uri, "varbench").set_index("run_id")
    assert len(cells) == 6 * 15 and (cells.loc[runs["parent_run_id"], "cell_hash"].values == runs["cell_hash"]).all()


@pytest.mark.slow
def test_joblib_sweep_two_workers(tmp_path):
    out = _varbench(["-m", *SMALL, "seed=0,1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    _assert_each_cell_once(f"sqlite:///{tmp_path}/mlflow.db", 3)
    # rerunning the same sweep writes nothing new
    again = _varbench(["-m", *SMALL, "seed=0,1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], tmp_path)
    assert again.returncode == 0 and "skipping (resume)" in again.stdout + again.stderr
    _assert_each_cell_once(f"sqlite:///{tmp_path}/mlflow.db", 3)


@pytest.mark.slow
def test_local_ray_sweep(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    out = _varbench(["-m", *SMALL, "seed=0,1", "hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2",
                     "+hydra.launcher.ray.init.include_dashboard=false"], tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    _assert_each_cell_once(f"sqlite:///{tmp_path}/mlflow.db", 2)
    logs = "".join(p.read_text() for p in tmp_path.rglob("*.log"))  # the workers' job logs
    assert "=== cell 1 of 2 in this sweep" in logs and " of ? in this sweep" not in logs


def test_sweep_total_comes_from_the_environment_else_the_sweep_folder(tmp_path, monkeypatch):
    from varbench.callbacks import TOTAL_FILE, sweep_total

    monkeypatch.delenv("VARBENCH_SWEEP_TOTAL", raising=False)
    assert sweep_total(str(tmp_path)) == "?"
    (tmp_path / TOTAL_FILE).write_text("12\n")
    assert sweep_total(str(tmp_path)) == "12"
    monkeypatch.setenv("VARBENCH_SWEEP_TOTAL", "7")
    assert sweep_total(str(tmp_path)) == "7"


def _read(path):
    return path.read_text() if path.exists() else ""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sweep_against_a_real_mlflow_server(tmp_path):
    pytest.importorskip("mlflow.server")
    port = _free_port()
    server = subprocess.Popen([*_module_cli("mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
                               "--default-artifact-root", str(tmp_path / "artifacts"), "--workers", "1"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(uri + "/health", timeout=2)
                break
            except Exception:
                if time.time() > deadline:
                    pytest.fail("mlflow server did not start")
                time.sleep(1)
        out = _varbench(["-m", *SMALL, "seed=0,1", "tracking=server", f"tracking.uri={uri}"], tmp_path)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        _assert_each_cell_once(uri, 2)
        assert not (tmp_path / "mlflow.db").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def test_unreachable_server_fails_fast_before_training(tmp_path):
    port = _free_port()  # nothing listens there
    start = time.time()
    out = _varbench([*SMALL, "seed=0", "tracking=server", f"tracking.uri=http://127.0.0.1:{port}"], tmp_path)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert f"tracking.uri='http://127.0.0.1:{port}' is unreachable" in text
    assert "training" not in out.stdout and time.time() - start < 60


@pytest.mark.slow  # a whole sweep terminated and rerun (CI's slow step runs it)
def test_sigterm_leaves_store_consistent_and_rerun_completes(tmp_path):
    flag = tmp_path / "slow"
    flag.write_text("1")
    args = ["-m", *SMALL, "seed=0", "methods=[random]", "+methods.slow._target_=user_methods.slow_once"]
    exe = Path(sys.executable).with_name("varbench")
    log_path = tmp_path / "out.log"
    with open(log_path, "w") as out:
        proc = subprocess.Popen([str(exe), *args], cwd=tmp_path, env=_env(tmp_path, VARBENCH_TEST_SLOW=str(flag)),
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until `random` is logged and `slow` is sleeping
        time.sleep(1)
        if "[1/2] random" in _read(log_path):  # `random` is logged, `slow` is sleeping
            break
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("varbench")
    statuses = {r.data.tags.get("method", r.data.tags.get("kind")): r.info.status
                for r in client.search_runs([exp.experiment_id])}
    assert statuses == {"cell": "KILLED", "random": "FINISHED"}  # `random`'s run written on the way out
    flag.unlink()
    rerun = _varbench(args, tmp_path, VARBENCH_TEST_SLOW=str(flag))
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "[1/1] slow" in rerun.stdout + rerun.stderr  # `random` is not run again
    _assert_each_cell_once(uri, 1, methods=("random", "slow"))


@pytest.mark.slow  # a whole sweep killed and rerun (CI's slow step runs it)
def test_sigkill_loses_only_unwritten_runs_and_rerun_logs_nothing_twice(tmp_path):
    """kill -9 while `slow` runs: `random`'s run, computed just before, is still buffered unless
    FLUSH_SECONDS had passed since the last write. What was written stays; what was not is computed
    again by the rerun, which takes the dead process's claim over; no pair is logged twice."""
    flag = tmp_path / "slow"
    flag.write_text("1")
    args = ["-m", *SMALL, "seed=0", "methods=[random]", "+methods.slow._target_=user_methods.slow_once"]
    proc = _popen(args, tmp_path, "out.log", VARBENCH_TEST_SLOW=str(flag))
    _wait_for(lambda: "[1/2] random" in _read(tmp_path / "out.log"), 240, "`random` to be logged")
    time.sleep(1)
    proc.kill()
    proc.wait(timeout=60)
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    statuses = {r.data.tags.get("method", r.data.tags.get("kind")): r.info.status
                for r in client.search_runs([client.get_experiment_by_name("varbench").experiment_id])}
    assert statuses in ({"cell": "RUNNING"}, {"cell": "RUNNING", "random": "FINISHED"}), statuses
    flag.unlink()
    rerun = _varbench(args, tmp_path)
    text = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0 and "taking over" in text, text[-3000:]
    assert ("[1/1] slow" if "random" in statuses else "[1/2] random") in text  # only what was not written
    _assert_each_cell_once(uri, 1, methods=("random", "slow"))
    assert [r.info.status for r in client.search_runs([client.get_experiment_by_name("varbench").experiment_id],
                                                      "tags.kind = 'cell'")] == ["FINISHED"]


def _popen(args, tmp_path, log_name, **env):
    exe = Path(sys.executable).with_name("varbench")
    log = open(tmp_path / log_name, "w")
    return subprocess.Popen([str(exe), *args], cwd=tmp_path, env=_env(tmp_path, **env), stdout=log,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.slow
def test_two_identical_sweeps_at_once_log_each_pair_once(tmp_path):
    """Both start on a fresh store in the same directory; each cell is claimed by one of them,
    the other waits for it and skips its pairs; both print the same full table."""
    args = ["-m", *SMALL, "seed=0,1"]
    procs = [_popen(args, tmp_path, f"sweep{i}.log") for i in range(2)]
    for p in procs:
        p.wait(timeout=600)
    logs = [_read(tmp_path / f"sweep{i}.log") for i in range(2)]
    assert all(p.returncode == 0 for p in procs), logs
    _assert_each_cell_once(f"sqlite:///{tmp_path}/mlflow.db", 2)
    assert all("varbench: 2 cell(s), 4 method run(s)" in text for text in logs), logs
    assert not any("cuInit" in text or "absl::InitializeLog" in text for text in logs)  # TF start-up is quiet
    # a rerun of the finished sweep (one cell of it, in RUN mode) trains nothing and shows the table
    again = _varbench([*SMALL, "seed=1", "hydra.mode=RUN"], tmp_path)
    assert again.returncode == 0 and "skipping (resume)" in again.stdout and "training" not in again.stdout
    assert "varbench: 1 cell(s), 2 method run(s)" in again.stdout and "probing" in again.stdout


@pytest.mark.slow  # a whole sweep killed and rerun (CI's slow step runs it)
def test_ctrl_c_is_one_line_and_rerun_resumes(tmp_path):
    flag = tmp_path / "slow"
    flag.write_text("1")
    args = [*SMALL, "seed=0", "methods=[random]", "+methods.slow._target_=user_methods.slow_once"]
    proc = _popen(args, tmp_path, "out.log", VARBENCH_TEST_SLOW=str(flag))
    deadline = time.time() + 240
    while time.time() < deadline and "[1/2] random" not in _read(tmp_path / "out.log"):
        time.sleep(0.5)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    text = _read(tmp_path / "out.log")
    assert proc.returncode == 130 and "Traceback" not in text, text[-3000:]
    assert text.strip().splitlines()[-1] == "varbench: interrupted; 1 run(s) marked KILLED; rerun to resume"
    flag.unlink()
    rerun = _varbench(args, tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    _assert_each_cell_once(f"sqlite:///{tmp_path}/mlflow.db", 1, methods=("random", "slow"))


def _module_cli(module):
    """The command for a console tool, whether or not this environment has its script."""
    return [sys.executable, "-m", module]


def _stop_group(proc, grace=15):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_for(check, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_loopback_cluster(tmp_path):
    """A Ray head plus a second Ray node (`ray start --address`) and a real MLflow server, all on
    127.0.0.1, `hydra/launcher=cluster`: the worker node is killed while both nodes are inside a
    cell; the sweep (its lost task retried by Ray, or a rerun) loses and duplicates nothing."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    import secrets
    import tempfile
    import urllib.request

    from mlflow import MlflowClient

    ray_dir = Path(tempfile.mkdtemp(prefix="vbray", dir="/tmp"))  # short: Ray's socket paths are limited
    token = ray_dir / "token"
    token.write_text(secrets.token_hex(32))
    flag = tmp_path / "slow"
    flag.write_text("1")
    env = _env(tmp_path, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), VARBENCH_TEST_SLOW=str(flag))
    ray_port, mlflow_port = _free_port(), _free_port()
    uri = f"http://127.0.0.1:{mlflow_port}"
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats", "--block"]
    procs = {}

    def start(name, args):
        procs[name] = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=open(tmp_path / f"{name}.log", "w"),
                                       stderr=subprocess.STDOUT, start_new_session=True)

    try:
        start("mlflow", [*_module_cli("mlflow"), "server", "--host", "127.0.0.1", "--port", str(mlflow_port),
                         "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
                         "--default-artifact-root", str(tmp_path / "artifacts"), "--workers", "1"])
        start("head", [*_module_cli("ray.scripts.scripts"), "start", "--head", f"--port={ray_port}",
                       "--include-dashboard=false", f"--temp-dir={ray_dir}", *common])

        def up(url):
            try:
                return urllib.request.urlopen(url, timeout=2).status == 200
            except Exception:
                return False

        _wait_for(lambda: "ray start --address" in _read(tmp_path / "head.log")
                  or "Ray runtime started" in _read(tmp_path / "head.log"), 180, "the Ray head")
        start("worker", [*_module_cli("ray.scripts.scripts"), "start", f"--address=127.0.0.1:{ray_port}", *common])
        _wait_for(lambda: up(uri + "/health"), 240, "the MLflow server")
        args = ["-m", *SMALL, "methods=[random]", "+methods.slow._target_=user_methods.slow_once", "seed=0,1,2,3",
                "hydra/launcher=cluster", f"hydra.launcher.ray.init.address=127.0.0.1:{ray_port}",
                "tracking=server", f"tracking.uri={uri}"]
        exe = str(Path(sys.executable).with_name("varbench"))
        sweep = subprocess.Popen([exe, *args], cwd=tmp_path, env=env, stdout=open(tmp_path / "sweep.log", "w"),
                                 stderr=subprocess.STDOUT, start_new_session=True)
        procs["sweep"] = sweep
        client = MlflowClient(tracking_uri=uri)

        def in_slow_on_both_nodes():
            exp = client.get_experiment_by_name("varbench")
            runs = client.search_runs([exp.experiment_id], "tags.kind = 'method'") if exp else []
            return len(runs) >= 2  # `random` logged on both nodes: both are sleeping in `slow`

        _wait_for(in_slow_on_both_nodes, 400, "both nodes inside a cell")
        os.killpg(procs["worker"].pid, signal.SIGKILL)  # the worker node dies with its cell half done
        procs["worker"].wait(30)
        time.sleep(3)
        flag.unlink()  # the head's cell (and any retried task) may now finish
        sweep.wait(600)
        first = _read(tmp_path / "sweep.log")
        assert "Traceback" not in first, first[-3000:]
        rerun = _varbench(args, tmp_path, **{k: env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")})
        assert rerun.returncode == 0, first[-2000:] + rerun.stdout[-2000:] + rerun.stderr[-2000:]
        assert "varbench: 4 cell(s), 8 method run(s)" in rerun.stdout
        _assert_each_cell_once(uri, 4, methods=("random", "slow"))
        # Ray's nodes were started apart from the sweep: the cell count reaches them by the sweep folder
        logs = "".join(_read(p) for p in tmp_path.rglob("*.log"))
        assert " of 4 in this sweep" in logs and " of ? in this sweep" not in logs
        exp = client.get_experiment_by_name("varbench")
        assert not [r for r in client.search_runs([exp.experiment_id]) if r.info.status == "RUNNING"]
    finally:
        for name in ("sweep", "worker", "head", "mlflow"):
            if name in procs:
                _stop_group(procs[name])


def _descendants(pid):
    """Pids of every process below `pid` (from /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_joblib_workers_exit_when_the_parent_dies(tmp_path):
    flag = tmp_path / "slow"
    flag.write_text("1")
    args = ["-m", *SMALL, "methods=[random]", "+methods.slow._target_=user_methods.slow_once", "seed=0,1",
            "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    parent = _popen(args, tmp_path, "out.log", VARBENCH_TEST_SLOW=str(flag))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    _wait_for(lambda: _read(tmp_path / "out.log").count("[1/2] random") >= 2, 300, "both workers inside a cell")
    workers = _descendants(parent.pid)
    assert workers
    parent.kill()  # SIGKILL: no chance to stop its workers itself
    parent.wait(30)
    _wait_for(lambda: not any(_alive(p) for p in workers), 90, "the orphaned workers to exit")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("varbench").experiment_id])
    assert "RUNNING" not in {r.info.status for r in runs} and "KILLED" in {r.info.status for r in runs}
    flag.unlink()
    rerun = _varbench(args, tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    _assert_each_cell_once(uri, 2, methods=("random", "slow"))
