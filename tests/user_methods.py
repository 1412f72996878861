"""Methods used by the runner tests (importable because tests/ is on the pytest path)."""
import numpy as np


def boom(model, data, rng):
    raise RuntimeError("this method always fails")


def nan_method(model, data, rng):
    return np.full(data.n_features, np.nan)


def wrong_shape(model, data, rng):
    return np.ones(data.n_features + 1)


def interrupt(model, data, rng):
    raise KeyboardInterrupt  # as SIGINT would, in the middle of a method


def slow_once(model, data, rng):
    """Sleeps (so a test can interrupt it) while the file named by VARBENCH_TEST_SLOW exists."""
    import os
    import time

    flag = os.environ.get("VARBENCH_TEST_SLOW")
    deadline = time.time() + 120
    while flag and os.path.exists(flag) and time.time() < deadline:
        time.sleep(0.2)
    return rng.random(data.n_features)
