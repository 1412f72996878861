"""Console entry point: `varbench [hydra overrides]`, `varbench report ...`."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out

from varbench.paths import conf_dir
log = logging.getLogger("varbench")


def _job(cfg) -> None:
    """One Hydra job = one cell."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from varbench.callbacks import EXIT
    from varbench.config import ConfigError
    from varbench.runner import run_cell

    _terminate_as_exit()
    hc = HydraConfig.get()
    try:
        from omegaconf import OmegaConf

        from varbench.schema import validate_config

        validate_config(OmegaConf.to_container(cfg, resolve=True))  # before anything uses a value
    except (ConfigError, ValueError) as exc:
        log.error("config error: %s", exc)
        EXIT["code"] = 2
        raise SystemExit(2) from None
    _configure_worker(cfg.get("threads", "auto"), hc)
    sweep = str(hc.sweep.dir if hc.mode == RunMode.MULTIRUN else hc.run.dir)
    choices = dict(hc.runtime.choices)
    if hc.mode == RunMode.MULTIRUN:
        total = os.environ.get("VARBENCH_SWEEP_TOTAL", "?")
        log.info("=== cell %s of %s in this sweep (%s) ===", hc.job.num + 1, total, hc.job.override_dirname)
    try:
        result = run_cell(cfg, sweep=sweep, names={"dataset": choices.get("dataset"),
                                                   "model": choices.get("model")})
    except ConfigError as exc:
        log.error("config error: %s", exc)
        EXIT["code"] = 2
        if hc.mode != RunMode.MULTIRUN:
            raise SystemExit(2) from None
        raise
    if result.status == "failed" or result.n_failed:
        EXIT["code"] = 1


def _configure_worker(threads: object, hc) -> None:
    """Per job: TensorFlow threads so N parallel workers on N cores do not oversubscribe, and a
    fresh Keras session (joblib's loky and Ray reuse worker processes)."""
    if threads == "auto":
        n_jobs = hc.launcher.get("n_jobs") if "n_jobs" in hc.launcher else None
        cpus = os.cpu_count() or 1
        if n_jobs is not None:
            workers = cpus if n_jobs in (-1, 0) else min(int(n_jobs), cpus)
            threads = max(1, cpus // max(workers, 1))
        else:
            threads = None
    if threads is not None:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        except RuntimeError:  # TF already initialised in this reused worker: settings stand
            pass
    import keras

    keras.backend.clear_session()


def _terminate_as_exit() -> None:
    """Turn SIGTERM into SystemExit so open MLflow runs get marked KILLED on the way out."""
    import signal

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (some launchers): keep the default
        pass


def _hydra_main() -> None:
    import hydra

    hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(_job)()


def main() -> None:
    """Dispatch: `varbench report ...`, `varbench bench ...`, otherwise the Hydra app."""
    argv = sys.argv[1:]
    if argv and argv[0] == "report":
        from varbench.report import main as report_main

        sys.exit(report_main(argv[1:]))
    if argv and argv[0] == "advise":
        from varbench.advise.cli import main as advise_main

        sys.exit(advise_main(argv[1:]))
    if argv and argv[0] == "bench":
        from varbench.bench import main as bench_main

        sys.exit(bench_main(argv[1:]))
    from varbench.callbacks import EXIT

    _hydra_main()
    sys.exit(EXIT["code"])


if __name__ == "__main__":
    main()
