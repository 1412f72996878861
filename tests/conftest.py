import os
import sys
from pathlib import Path

import pytest

from varbench.paths import conf_dir

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CONF_DIR = str(conf_dir())

# A tiny, fast cell: small data, few epochs. Tests add their own overrides.
TINY = ["dataset.n_samples=300", "trainer.epochs=8", "trainer.patience=0", "trainer.progress_every=0",
        "cache.dir=null"]


@pytest.fixture
def compose_cfg(tmp_path):
    """compose(overrides) -> DictConfig of the primary config with a temp tracking store."""
    from hydra import compose, initialize_config_dir

    def _compose(overrides=()):
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose("config", overrides=[*TINY, f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
                                                 *overrides])

    return _compose


def protect_pytest_streams() -> None:
    """Hydra's logging set-up shuts down every live handler. absl's (installed when TensorFlow was
    imported by an earlier test) then closes the stream it was created with, pytest's capture, unless
    that stream is the current sys.stderr; inside redirect_stderr it is not. Point absl's handler at
    sys.__stderr__, which it never closes."""
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__


@pytest.fixture(autouse=True)
def _in_process_cli_runs_keep_pytest_streams():
    """Every test may run a Hydra app in-process (varbench's CLI): see protect_pytest_streams."""
    protect_pytest_streams()
    yield


@pytest.fixture(autouse=True)
def _no_heartbeat_outlives_its_test():
    """Claims a test leaves held stop beating when the test ends (their stores are temporary)."""
    yield
    from varbench.tracking import stop_heartbeats

    stop_heartbeats()
