"""`hydra/launcher=varbench_ray` (varbench.ray_batches): a sweep's cells in Ray tasks of `batch_size`
cells. Fast: the batching, the one-line refusals (bad `batch_size`, Ray missing), and a Ray task's
function run in this process against the varbench launcher on the same cells. Slow: a real sweep
through a local Ray gives every method run identical to one job per cell (Hydra's basic launcher)."""
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.singleton import Singleton
from hydra.core.utils import JobStatus, configure_log
from hydra.types import HydraContext, RunMode
from hydra._internal.callbacks import Callbacks
from omegaconf import OmegaConf

from conftest import protect_pytest_streams
from test_batch_launcher import _sweep_env  # noqa: F401 - autouse: the sweep's exported variables
from test_sweep_checks import assert_refused, run_cli
from varbench import launcher_settings
from varbench.batch import job_configs, launch, sweep_folder
from varbench.bench.study_full import compare_runs, method_runs
from varbench.callbacks import EXIT
from varbench.cli import _job
from varbench.composed import forget
from varbench.launcher_settings import VARBENCH_RAY, batch_size_error, refusal
from varbench.paths import conf_dir
from varbench.pretrain import sweep_overrides
from varbench.ray_batches import _collect, batches, ray_init_kwargs, run_task
from varbench.schema import ConfigError
from varbench.tracking import fetch_cells

TINY = ["dataset.n_samples=200", "trainer.epochs=2", "methods=[random,probing]", "model_truth.enabled=false",
        "trainer.progress_every=0"]
TESTS = Path(__file__).resolve().parent


def test_jobs_are_cut_into_consecutive_batches_the_last_shorter():
    jobs = [f"seed={i}" for i in range(7)]
    assert batches(jobs, 3) == [jobs[0:3], jobs[3:6], jobs[6:7]]
    assert batches(jobs, 1) == [[j] for j in jobs]
    assert batches(jobs, 7) == batches(jobs, 50) == [jobs]
    assert sum(batches(jobs, 2), []) == jobs and [len(b) for b in batches(jobs, 2)] == [2, 2, 2, 1]
    assert batches([], 4) == []


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True, None])
def test_batch_size_is_refused_in_one_line_naming_key_and_value(bad):
    line = f"hydra.launcher.batch_size={bad!r} is invalid: expected an integer >= 1"
    assert batch_size_error(bad).startswith(line)
    assert refusal({"_target_": VARBENCH_RAY, "batch_size": bad, "keras_reset": "auto"}).startswith(line)
    with pytest.raises(ConfigError, match=re.escape(line)):
        batches([1, 2], bad)
    assert batch_size_error(1) is batch_size_error(64) is None


def test_the_cli_refuses_a_bad_batch_size_before_anything_runs(tmp_path):
    code, out, err = run_cli(["-m", "dataset=linear", "seed=0,1", *TINY, "cache.dir=null",
                              "hydra/launcher=varbench_ray", "hydra.launcher.batch_size=0"], tmp_path)
    assert_refused(code, out, err, tmp_path, "hydra.launcher.batch_size=0 is invalid: expected an integer >= 1")


def test_without_ray_the_launcher_names_the_extra_and_exits_2(tmp_path, monkeypatch):
    real = launcher_settings.importlib.util.find_spec
    monkeypatch.setattr(launcher_settings.importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))
    code, out, err = run_cli(["-m", "dataset=linear", "seed=0,1", *TINY, "cache.dir=null",
                              "hydra/launcher=varbench_ray"], tmp_path)
    assert_refused(code, out, err, tmp_path, "needs Ray", "install the ray extra", "varbench[ray]")


def test_the_package_imports_without_ray():
    """With `ray` unimportable, the launcher modules import; asking for Ray gives the one line."""
    code = ("import sys; sys.modules['ray'] = None\n"
            "import hydra_plugins.varbench_launcher.launcher, varbench.ray_batches as rb, varbench.cli\n"
            "from varbench.launcher_settings import RAY_MISSING\n"
            "try:\n    rb._ray()\nexcept rb.ConfigError as e:\n    assert str(e) == RAY_MISSING; print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "refused", out.stderr[-2000:]


def test_ray_init_gets_hydras_object_store_only_when_starting_a_local_ray():
    assert ray_init_kwargs({"address": None, "num_cpus": 2, "object_store_memory": None}) == {
        "num_cpus": 2, "object_store_memory": 78643200}
    assert ray_init_kwargs({"address": None, "object_store_memory": 10 ** 9}) == {"object_store_memory": 10 ** 9}
    assert ray_init_kwargs({"address": "auto", "num_cpus": None, "object_store_memory": None}) == {"address": "auto"}


def test_a_dead_task_fails_its_own_cells_and_a_finished_one_passes_on_its_exit_code():
    class RayError(Exception):
        pass

    def get(ref):
        if ref == "dead":
            raise RayError("worker died\n(OOM)")
        return ["r0", "r1"], 1

    fake = SimpleNamespace(get=get, exceptions=SimpleNamespace(RayError=RayError))
    part = [(OmegaConf.create({"hydra": {"job": {"num": n}}}), [f"seed={n}"]) for n in (3, 4)]
    failed = _collect(fake, "dead", part)
    assert [(r.overrides, r.status) for r in failed] == [(["seed=3"], JobStatus.FAILED), (["seed=4"], JobStatus.FAILED)]
    with pytest.raises(RuntimeError, match=r"^the Ray task of cells #3, #4 failed: worker died \(OOM\)$"):
        failed[1].return_value
    EXIT["code"] = 0
    try:
        assert _collect(fake, "alive", part) == ["r0", "r1"] and EXIT["code"] == 1  # a cell of it failed
    finally:
        EXIT["code"] = 0


def _master(loader, tmp_path, name):
    args = ["dataset=linear", "seed=0,1", "trainer.lr=0.003,1e30", *TINY, "cache.dir=null",
            f"tracking.uri=sqlite:///{tmp_path}/{name}.db", f"hydra.sweep.dir={tmp_path}/{name}",
            "hydra/launcher=varbench_ray"]
    master = loader.load_configuration("config", args, run_mode=RunMode.MULTIRUN)
    return master, sweep_overrides(master)


def test_a_ray_task_run_in_process_equals_the_varbench_launcher(tmp_path):
    """`run_task` (what each Ray task runs) on 4 composed cells, the 2nd and 4th diverging (lr=1e30):
    JobReturns in job order, the failing cells do not stop the batch (exit code 1), and every method
    run's metrics and status are identical to the in-process varbench launcher's."""
    forget()
    EXIT["code"] = 0
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="cli"):
        loader = GlobalHydra.instance().config_loader()
        ours, jobs = _master(loader, tmp_path, "task")
        ref, ref_jobs = _master(loader, tmp_path, "launcher")
        context = HydraContext(config_loader=loader, callbacks=Callbacks(ours))
        try:
            cells = list(job_configs(loader, ours, jobs, 0, sweep_folder(ours)))
            returns, code = run_task(context, _job, Singleton.get_state(), cells, "auto", str(tmp_path / "task"),
                                     1.0, "1 of 1")
            EXIT["code"] = 0
            expected = launch(HydraContext(config_loader=loader, callbacks=Callbacks(ref)), _job, ref, ref_jobs, 0)
            assert EXIT["code"] == code == 1  # the diverging cells, in both
        finally:
            forget()
            protect_pytest_streams()
            configure_log(ours.hydra.hydra_logging, ours.hydra.verbose)
            EXIT["code"] = 0
    assert len(jobs) == 4 and [len(r) for r in (returns, expected)] == [4, 4]
    assert [r.overrides for r in returns] == jobs and [r.hydra_cfg.hydra.job.num for r in returns] == [0, 1, 2, 3]
    assert [(r.cfg.seed, r.cfg.trainer.lr) for r in returns] == [(0, 0.003), (0, 1e30), (1, 0.003), (1, 1e30)]
    assert all(r.status == JobStatus.COMPLETED for r in returns + expected)  # failures reported, not raised
    cells_ok = fetch_cells(f"sqlite:///{tmp_path}/task.db", "varbench").sort_values("start_time")["status"]
    assert list(cells_ok == "failed") == [False, True, False, True]
    mine, theirs = method_runs(f"sqlite:///{tmp_path}/task.db"), method_runs(f"sqlite:///{tmp_path}/launcher.db")
    assert len(mine) == 4 and {k[3] for k in mine} == {"random", "probing"} and {k[2] for k in mine} == {0, 1}
    assert compare_runs(mine, theirs) == {"runs": 4.0, "identical": 4.0, "max_diff": 0.0, "same_runs": 1.0}
    log = (tmp_path / "task" / "cli.log").read_text()  # the sweep's one log file
    assert f"varbench_ray batch 1 of 1: cells #0 #1 #2 #3 in process {os.getpid()}" in log
    assert (tmp_path / "task" / "jobs.txt").read_text().splitlines()[2].startswith("#2 dataset=linear seed=1 ")


def _varbench(args, cwd):
    """`varbench ARGS` in a subprocess: (exit code, stdout + stderr, its pid)."""
    exe = Path(sys.executable).with_name("varbench")
    env = {**os.environ, "PYTHONPATH": str(TESTS), "TF_CPP_MIN_LOG_LEVEL": "3", "RAY_DEDUP_LOGS": "0"}
    proc = subprocess.Popen([str(exe), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    out, _ = proc.communicate(timeout=900)
    return proc.returncode, out, proc.pid


@pytest.mark.slow  # starts a local Ray (10-20 s) and runs the sweep twice
def test_ray_batches_give_the_results_of_one_job_per_cell(tmp_path):
    pytest.importorskip("ray")
    sweep = ["-m", "dataset=linear,friedman1", "seed=0,1", *TINY, "hydra.sweep.dir=sweep"]
    runs = {}
    for name, extra in {"ray": ["hydra/launcher=varbench_ray", "hydra.launcher.batch_size=2",
                                "hydra.launcher.ray.init.num_cpus=2"],
                        "basic": ["hydra/launcher=basic", "hydra.callbacks.pretrain.enabled=false"]}.items():
        folder = tmp_path / name
        folder.mkdir()
        code, out, pid = _varbench([*sweep, *extra, f"tracking.uri=sqlite:///{folder}/mlflow.db",
                                    f"cache.dir={folder}/models"], folder)
        assert code == 0, out[-4000:]
        runs[name] = (method_runs(f"sqlite:///{folder}/mlflow.db"), out, pid)
    (ray_runs, out, parent), (basic_runs, _, _) = runs["ray"], runs["basic"]
    assert len(basic_runs) == 4 * 2 and all(r["status"] == "ok" for r in basic_runs.values())
    assert compare_runs(ray_runs, basic_runs) == {"runs": 8.0, "identical": 8.0, "max_diff": 0.0, "same_runs": 1.0}
    assert "4 cell(s) in 2 Ray task(s) of up to 2 cell(s)" in out
    assert "pre-training: 4 of 4 models trained" in out  # in the parent, before Ray: the tasks load its models
    # two Ray tasks, each in a worker process (not the parent), ran cells #0 #1 and #2 #3
    log = (tmp_path / "ray" / "sweep" / "cli.log").read_text()
    tasks = re.findall(r"varbench_ray batch (\d) of 2: cells (#\d #\d) in process (\d+)", log)
    assert sorted(t[:2] for t in tasks) == [("1", "#0 #1"), ("2", "#2 #3")], log[-3000:]
    assert all(int(t[2]) != parent for t in tasks)
    assert log.count("(cached, ") == 4
    assert len((tmp_path / "ray" / "sweep" / "jobs.txt").read_text().splitlines()) == 4
