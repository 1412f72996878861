"""Console entry point: `varbench [hydra overrides]`, `varbench report ...`."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
log = logging.getLogger("varbench")


def _job(cfg) -> None:
    """One Hydra job = one cell."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from varbench.callbacks import EXIT
    from varbench.config import ConfigError
    from varbench.runner import run_cell

    hc = HydraConfig.get()
    sweep = str(hc.sweep.dir if hc.mode == RunMode.MULTIRUN else hc.run.dir)
    choices = dict(hc.runtime.choices)
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


def _hydra_main() -> None:
    import hydra

    hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")(_job)()


def main() -> None:
    """Dispatch: `report` and `bench` subcommands, otherwise the Hydra app."""
    argv = sys.argv[1:]
    if argv and argv[0] == "report":
        from varbench.report import main as report_main

        sys.exit(report_main(argv[1:]))
    from varbench.callbacks import EXIT

    _hydra_main()
    sys.exit(EXIT["code"])


if __name__ == "__main__":
    main()
