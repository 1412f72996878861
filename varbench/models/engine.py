"""The engine's concurrency and trace sharing, under `varbench.models.trained.TrainedModel`.

- `map_blocks`: a list of blocks of model evaluations, each built in order in the caller's
  thread and evaluated in one lane per TensorFlow inter-op thread at once (TensorFlow's ops
  release the GIL), results in block order: bitwise those of one block after another.
- `shared_function`: one compiled function per (architecture, head, output, kind) for every
  network of that architecture of built-in layers (`architecture_key`), traced once on a copy of
  the architecture with the weights passed in, so a sweep's new model pays no tracing.
"""
from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Sequence, TypeVar

from varbench.models.runtime import thread_counts

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")

COUNT_LOCK = threading.Lock()  # a model's n_evals is counted from the engine's lanes

_LANE = threading.local()      # set in a lane's thread: work it starts runs inline, never nested
_POOL: dict[int, ThreadPoolExecutor] = {}


def _lanes() -> int:
    """How many blocks the engine evaluates at once: TensorFlow's inter-op thread count."""
    return thread_counts()[1]


def _in_lane(evaluate: Callable[[P], R], item: P) -> R:
    _LANE.active = True
    try:
        return evaluate(item)
    finally:
        _LANE.active = False


_SHAREABLE_LAYERS = ("InputLayer", "Dense", "Dropout", "Activation")
_SHARED: dict[tuple[Any, ...], Any] = {}  # (architecture, task, output, head, kind, column) -> fn(weights, x)
_SHARED_MAX = 64
_SHARED_LOCK = threading.Lock()


def architecture_key(net: Any) -> str | None:
    """A key equal for networks that compute the same function of (weights, inputs): functional
    or sequential Keras models of built-in layers only (InputLayer, Dense, Dropout, Activation,
    whose config says all they compute) with built-in activations and the same config; None for
    anything else (a custom layer's, model's or activation's Python code is not in its config:
    two different functions can share a name, so it is never shared)."""
    import json

    parts = [net, *getattr(net, "layers", [])]
    if type(net).__name__ not in ("Functional", "Sequential") or any(
            not type(obj).__module__.startswith("keras.src.") for obj in parts) or any(
            type(layer).__name__ not in _SHAREABLE_LAYERS for layer in parts[1:]) or any(
            not getattr(layer.activation, "__module__", "").startswith("keras.src.activations")
            for layer in parts[1:] if hasattr(layer, "activation")):
        return None
    try:
        config = json.dumps(net.get_config(), sort_keys=True, default=repr)
    except Exception:  # noqa: BLE001 - a config that cannot be written is not a key
        return None
    return config + repr([(tuple(w.shape), str(w.dtype)) for w in net.weights])


def shared_function(model: Any, kind: str, col: int | None) -> Any:
    """The compiled function of `kind` (a `TrainedModel._graph` kind) shared by every
    `TrainedModel` of this architecture, head and output: traced once, on a copy of the first
    such model's network, with the weights as arguments (`keras.StatelessScope` maps the copy's
    variables to them). None when the network is not shareable (`architecture_key`) or cannot be
    copied."""
    if "architecture" not in model._fns:
        model._fns["architecture"] = architecture_key(model.keras)
    arch = model._fns["architecture"]
    if arch is None:
        return None
    key = (arch, model.task, model.output, model.head, kind, col)
    with _SHARED_LOCK:
        if key not in _SHARED:
            if len(_SHARED) >= _SHARED_MAX:
                _SHARED.pop(next(iter(_SHARED)))  # the oldest architecture
            _SHARED[key] = _stateless_function(model, kind, col)
        return _SHARED[key]


def _stateless_function(model: Any, kind: str, col: int | None) -> Any:
    """`model._graph(kind, col, x)` as a function of (weights, x), traced on a copy of the
    architecture: never a caller's network, so the trace captures no caller's variables. None
    when Keras cannot copy the network (e.g. an unregistered custom initializer in its config)."""
    import keras
    import tensorflow as tf

    try:
        copy = keras.models.clone_model(model.keras)
    except Exception:  # noqa: BLE001 - not copyable: each model keeps its own trace
        return None
    template = dataclasses.replace(model, keras=copy, refit=None, n_evals=0, _fns={})

    def stateless(weights, x):
        with keras.StatelessScope(state_mapping=list(zip(template.keras.weights, weights))):
            return template._graph(kind, col, x)

    return tf.function(stateless)


def map_blocks(items: Sequence[T], prepare: Callable[[T], P], evaluate: Callable[[P], R],
               lanes: int | None = None) -> list[R]:
    """The engine's one way through a list of blocks (`items`, e.g. the (lo, hi) ranges of
    `TrainedModel.blocks`): `prepare(item)` runs in the calling thread, block after block in
    order (it may draw random numbers: the stream is the same whatever the lanes), and
    `evaluate(prepared)` runs in up to `lanes` threads at once (TensorFlow ops release the GIL,
    so each lane keeps a core busy; a block's arithmetic is the same in any lane, so results are
    bitwise those of one block after another). At most `lanes` prepared blocks are alive besides
    the one being prepared. Results come in block order. `lanes`: None = the inter-op thread
    count; work started inside a lane runs inline there."""
    lanes = 1 if len(items) < 2 or getattr(_LANE, "active", False) else (lanes or _lanes())
    if lanes < 2:
        return [evaluate(prepare(item)) for item in items]
    pool = _POOL.get(lanes)
    if pool is None:
        pool = _POOL[lanes] = ThreadPoolExecutor(lanes, thread_name_prefix="varbench-lane")
    out: list[R] = []
    pending: list[Future[R]] = []
    for item in items:
        if len(pending) == lanes:
            out.append(pending.pop(0).result())
        pending.append(pool.submit(_in_lane, evaluate, prepare(item)))
    out.extend(f.result() for f in pending)
    return out
