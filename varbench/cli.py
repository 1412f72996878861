"""Console entry point: `varbench [hydra overrides]`, `varbench report ...`, `varbench bench ...`.

Errors are one line (config, composition, YAML, tracking, Ctrl-C); `--debug` (or
`HYDRA_FULL_ERROR=1`) shows the traceback instead."""
from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out

from varbench.config import forget_cells
from varbench.paths import conf_dir

log = logging.getLogger("varbench")

# name -> (module with `main(argv) -> int`, one-line description); listed in --help if importable
SUBCOMMANDS = {
    "report": ("varbench.report", "tables, statistics and plots from the tracking store"),
    "bench": ("varbench.bench", "speed and memory against reference implementations"),
    "advise": ("varbench.advise.cli", "which method to trust on your own data (planted truth on your covariates)"),
}
DEBUG_FLAG = "--debug"
EXIT_INTERRUPTED = 130


def _job(cfg) -> None:
    """One Hydra job = one cell (Hydra's basic, joblib and Ray launchers call this per job)."""
    from hydra.core.hydra_config import HydraConfig

    from varbench.cell_job import run_reported, terminate_as_exit

    terminate_as_exit()
    hc = HydraConfig.get()
    _configure_worker(cfg.get("threads", "auto"), hc)
    run_reported(cfg, hc)


def _configure_worker(threads: object, hc) -> None:
    """Per job: TensorFlow threads so N parallel workers on N cores do not oversubscribe, a
    fresh Keras session (joblib's loky and Ray reuse worker processes), and, in a parallel
    worker, a watch that stops it when the sweep's parent process dies."""
    from varbench.models.runtime import start_tensorflow, thread_plan

    n_jobs = hc.launcher.get("n_jobs") if "n_jobs" in hc.launcher else None
    cpus = os.cpu_count() or 1
    workers = 1 if n_jobs is None else cpus if n_jobs in (-1, 0) else min(int(n_jobs), cpus)
    start_tensorflow(thread_plan(threads, workers))
    import keras

    keras.backend.clear_session()
    if n_jobs is not None:
        watch_parent()


_WATCH: dict[str, threading.Thread] = {}


def watch_parent(poll: float = 1.0, grace: float = 20.0) -> None:
    """In a worker process of a parallel sweep (joblib): once the sweep's parent process
    (VARBENCH_SWEEP_PARENT) is gone, SIGTERM this worker (its open runs are marked KILLED),
    and exit hard after `grace` seconds. One watcher per process; no-op in the parent."""
    parent = os.environ.get("VARBENCH_SWEEP_PARENT")
    if not parent or int(parent) == os.getpid() or "thread" in _WATCH:
        return
    pid = int(parent)

    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def loop() -> None:
        while alive():
            time.sleep(poll)
        log.warning("sweep parent process %d is gone; stopping this worker", pid)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    _WATCH["thread"] = threading.Thread(target=loop, name="varbench-parent-watch", daemon=True)
    _WATCH["thread"].start()


def _hydra_main() -> None:
    import hydra

    from varbench.batch import register_launcher

    register_launcher()

    hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(_job)()


def usage() -> str:
    """The subcommands that exist in this installation, for `varbench --help`."""
    lines = ["varbench: score variable-importance methods against synthetic ground truth.", "",
             "  varbench [OVERRIDES]      run the default study, one cell (dataset=... seed=...) or a",
             "                            sweep (-m key=a,b); every job is validated before any trains",
             *[f"  varbench {name:<16} {text}" for name, (module, text) in SUBCOMMANDS.items()
               if importlib.util.find_spec(module) is not None],
             f"  {DEBUG_FLAG:<25} show tracebacks instead of one-line errors",
             "", "Hydra's options and the config groups follow.", ""]
    return "\n".join(lines)


def _error_line(exc: BaseException) -> tuple[str, int]:
    """(one line, exit code) for an error that reached the top."""
    from varbench.schema import ConfigError, one_line
    from varbench.sweep import compose_error
    from varbench.tracking import TrackingError

    if isinstance(exc, ConfigError):
        return f"config error: {one_line(exc)}", 2
    if isinstance(exc, TrackingError):
        return f"tracking error: {one_line(exc)}", 2
    module = type(exc).__module__
    if module.startswith(("hydra", "omegaconf", "yaml")):
        return f"config error: {compose_error(exc)}", 2
    return f"error: {one_line(f'{type(exc).__name__}: {exc}')} (rerun with {DEBUG_FLAG} for the traceback)", 1


def interrupted_line() -> str:
    """What Ctrl-C / SIGTERM prints: the runs marked KILLED here, or by the sweep's workers."""
    from varbench.callbacks import CURRENT
    from varbench.tracking import KILLED, count_killed

    n = KILLED["runs"]
    if not n and CURRENT:
        time.sleep(1.0)  # parallel workers mark their runs as they stop
        n = count_killed(CURRENT["uri"], CURRENT["experiment"], CURRENT["sweep"])
    return f"interrupted; {n} run(s) marked KILLED; rerun to resume"


def main() -> None:
    """Dispatch: `varbench report ...`, `varbench bench ...`, otherwise the Hydra app."""
    argv = sys.argv[1:]
    if argv and argv[0] in SUBCOMMANDS and importlib.util.find_spec(SUBCOMMANDS[argv[0]][0]) is not None:
        sys.exit(importlib.import_module(SUBCOMMANDS[argv[0]][0]).main(argv[1:]))
    user_full_error = os.environ.get("HYDRA_FULL_ERROR") == "1" and os.environ.get("VARBENCH_FULL_ERROR") != "set"
    debug = DEBUG_FLAG in argv or user_full_error
    if DEBUG_FLAG in argv:
        sys.argv = [sys.argv[0], *[a for a in argv if a != DEBUG_FLAG]]
    os.environ["VARBENCH_DEBUG"] = "1" if debug else "0"  # inherited by workers
    if not user_full_error:  # Hydra re-raises; errors are reported here, in one line
        os.environ.update(HYDRA_FULL_ERROR="1", VARBENCH_FULL_ERROR="set")
    if "--help" in argv or "-h" in argv:
        print(usage())
    from varbench.callbacks import CURRENT, EXIT

    EXIT["code"] = 0
    CURRENT.clear()
    try:
        _hydra_main()
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"varbench: {interrupted_line()}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as exc:
        if exc.code == 128 + signal.SIGTERM:
            print(f"varbench: {interrupted_line()}", file=sys.stderr)
        raise
    except Exception as exc:  # noqa: BLE001 - everything else: one line, unless --debug
        if debug:
            raise
        line, code = _error_line(exc)
        print(f"varbench: {line}", file=sys.stderr)
        sys.exit(code)
    finally:
        forget_cells()  # a refused or failed sweep leaves no resolved cells behind in this process
    sys.exit(EXIT["code"])


if __name__ == "__main__":
    main()
