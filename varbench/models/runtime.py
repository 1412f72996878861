"""TensorFlow start-up for a job: imported quietly (no oneDNN/CUDA-driver chatter, no `cuInit`
error line on machines without a GPU), threads set before the runtime initialises."""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block (C++ start-up logs write there before
    any log level applies); Python exceptions raised in the block still propagate."""
    if os.environ.get("VARBENCH_DEBUG") == "1":  # --debug shows everything
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def thread_plan(threads: object = "auto", workers: int = 1) -> tuple[int, int] | None:
    """(intra-op, inter-op) TensorFlow threads of a job. "auto": one thread per op and
    cores / workers ops at a time. varbench's networks and batches are small, so an op split
    over several threads waits on their hand-off more than it gains (results/performance.md,
    "Threads"), while independent ops (a stack's lanes, a method's blocks) fill the cores. An
    integer N sets both counts to N; None leaves TensorFlow's own defaults."""
    if threads is None:
        return None
    if threads == "auto":
        cpus = os.cpu_count() or 1
        return 1, max(1, cpus // max(1, int(workers)))
    return int(threads), int(threads)  # type: ignore[call-overload]


def thread_counts() -> tuple[int, int]:
    """TensorFlow's (intra-op, inter-op) thread counts in this process, its default (0) read as
    the number of cores. The inter-op count is how many independent ops run at once: the lanes
    of a stack, the models whose truths pre-training computes together."""
    import tensorflow as tf

    cpus = os.cpu_count() or 1
    return (tf.config.threading.get_intra_op_parallelism_threads() or cpus,
            tf.config.threading.get_inter_op_parallelism_threads() or cpus)


def start_tensorflow(threads: tuple[int, int] | None = None) -> None:
    """Import TensorFlow and Keras, apply the (intra-op, inter-op) thread counts (when given and
    still possible) and initialise the devices, all with TensorFlow's start-up logging silenced."""
    with quiet_stderr():
        import tensorflow as tf

        if threads is not None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(int(threads[0]))
                tf.config.threading.set_inter_op_parallelism_threads(int(threads[1]))
            except RuntimeError:  # TF already initialised in this reused worker: settings stand
                pass
        tf.config.list_logical_devices()  # device start-up (cuInit) happens here, silenced
        import keras  # noqa: F401
