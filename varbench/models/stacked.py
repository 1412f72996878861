"""Stacked training: S independent networks of one architecture trained as one compiled graph.

Small MLPs train latency-bound (a batch-64 step on 64 units uses a few per cent of the cores),
so S models stepped together cost little more than one. Every weight gets a leading model axis
(kernel (S, in, out), bias (S, out)); each model keeps its own data, validation split, per-epoch
shuffle (the same `numpy` streams `trainer.train` draws from its seed), its own Adam/SGD state,
early stopping with best-weight restore, and its own divergence flag. A model that stops is
frozen: its best weights (or, if it never improved, its weights at that epoch) are set aside
when it stops and are what it returns. Stopped models drop out: once the live models are at
most half of the stack, they move (weights, best weights, optimizer moments as they are) into a
stack of their size, so a stack costs about the member-epochs its members train, at one new
trace per halving. Slices never mix (the objective is a sum of per-model losses), so a
diverging model cannot disturb the others, and dropping one changes no other's arithmetic. The
stack is cut into lanes (one per inter-op thread): independent chains in one graph (each lane's
epoch a loop of its own, so no lane waits for another between steps), which TensorFlow runs
concurrently, one core each. Test quality is measured for the whole stack in one pass. The
compiled functions take the stack as arguments and are kept per architecture and trainer
settings, so stacks of one shape trace once per process. Each model comes out as an ordinary
Keras network in a `TrainedModel`, as `trainer.train` returns it, so every method runs on it
unchanged.

A member is bitwise the same model in any stack: its arithmetic is per slice, whatever the stack's
size, order, input widths, lanes or shrinking (so `trainer.train`, whose default engine trains a
lone model as a stack of one, gives the model a sweep's pre-training gives; tested). Equivalence
with one network trained by itself (`trainer.engine=single`; tested in tests/test_stacked.py):
- networks without dropout: the same initial weights, splits, shuffles and update rule, so each
  model equals its solo training up to float32 rounding of the batched matmuls (identical
  arithmetic per model; `tf.linalg.matmul` on a (S, b, in) batch may sum in another order);
- networks with dropout: Keras draws its dropout masks from its own global stream, which a stack
  cannot replay, so each model draws its masks from a stateless stream of its own seed: equal in
  distribution to solo training, not bitwise. A model's masks depend on its seed alone, never on
  which models share its stack.

Supported: chains of `Dense` (any elementwise activation, optional L1/L2 kernel regularisers) and
`Dropout` layers, optimizers adam and sgd. `unsupported` names what is not (callers then train
one by one).
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from varbench.models.loop import output_loss
from varbench.models.trained import TrainedModel
from varbench.models.fitted import DivergedError, finish_model, head_args, set_seed, split_rows
from varbench.schema import TrainerConfig

OPTIMIZERS = ("adam", "sgd")
# A stack shrinks only when this many stopped slices would go: a new lane shape costs a trace
# (~0.3 s CPU for an MLP the first time in a process), one stopped slice ~2 ms an epoch
# (results/performance.md's 10-64-64-1 MLP, 2,400 training rows, batch 64).
MIN_DROP = 8


class NotStackable(ValueError):
    """The network or trainer settings are not ones a stack trains (`unsupported` names why)."""


@dataclass(frozen=True)
class Member:
    """One model of a stack: its training data, seed and (optional) test split for quality."""

    X: np.ndarray
    y: np.ndarray
    seed: int
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


@dataclass(frozen=True)
class _Layer:
    kind: str              # "dense" | "dropout"
    activation: Any = None
    l1: float = 0.0
    l2: float = 0.0
    rate: float = 0.0


def _layers(net: Any) -> list[_Layer] | str:
    """The network as a chain of dense/dropout layers, or the reason it is not one."""
    import keras

    out: list[_Layer] = []
    for layer in net.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Dropout):
            out.append(_Layer("dropout", rate=float(layer.rate)))
            continue
        if not isinstance(layer, keras.layers.Dense):
            return f"layer {layer.name!r} ({type(layer).__name__}) is not Dense or Dropout"
        if not layer.use_bias or layer.bias_regularizer is not None or layer.activity_regularizer is not None \
                or layer.kernel_constraint is not None or layer.bias_constraint is not None:
            return f"layer {layer.name!r} has bias/regulariser/constraint settings a stack does not support"
        reg = layer.kernel_regularizer
        if reg is not None and type(reg) not in (keras.regularizers.L1, keras.regularizers.L2,
                                                 keras.regularizers.L1L2):
            return f"layer {layer.name!r} has a {type(reg).__name__} regulariser (L1, L2 and L1L2 are supported)"
        out.append(_Layer("dense", activation=layer.activation, l1=float(getattr(reg, "l1", 0.0) or 0.0),
                          l2=float(getattr(reg, "l2", 0.0) or 0.0)))
    chain = [layer for layer in net.layers if not isinstance(layer, keras.layers.InputLayer)]
    inputs = [net.inputs[0], *(layer.output for layer in chain[:-1])]
    if len(net.inputs) != 1 or not chain or any(layer.input is not x for layer, x in zip(chain, inputs)) \
            or net.outputs[0] is not chain[-1].output:
        return "the network is not a single chain of layers"
    return out


def _head(task: str, m: Member) -> dict[str, int]:
    """The builder's head arguments for a member, sized as `trainer.train` sizes them."""
    y = m.y if m.y_test is None else np.concatenate([np.asarray(m.y), np.asarray(m.y_test)])
    return head_args(task, np.asarray(y))


def _partition(S: int, lanes: int | None) -> list[np.ndarray]:
    """Member indices of each lane: S models cut into `lanes` contiguous, near-equal parts."""
    if lanes is None:
        from varbench.models.runtime import thread_counts

        lanes = thread_counts()[1]
    return [part for part in np.array_split(np.arange(S), max(1, min(int(lanes), S))) if len(part)]


@dataclass
class _Group:
    """One lane of a stack: its members' data and stacked variables (leading model axis)."""

    index: np.ndarray            # member positions in the stack
    seeds: Any                   # int64 (size,): each member's dropout stream
    Xt: Any
    yt: Any
    Xv: Any
    yv: Any
    params: list[Any]            # kernel, bias per Dense layer: (size, in, out), (size, out)
    best: list[Any]
    slots: list[tuple[Any, Any]]  # Adam's first and second moments

    @property
    def size(self) -> int:
        return len(self.index)

    @staticmethod
    def make(index: np.ndarray, members: Sequence[Member], nets: Sequence[Any], tr_idx: Sequence[np.ndarray],
             va_idx: Sequence[np.ndarray], width: int) -> "_Group":
        """The lane of members `index`, inputs zero-padded to `width` columns (see `_padded`)."""
        import keras
        import tensorflow as tf

        def stacked(rows: Sequence[np.ndarray], of_y: bool) -> Any:
            if of_y:
                return tf.constant(np.stack([np.asarray(members[i].y, np.float32)[rows[i]] for i in index]))
            return tf.constant(np.stack([_padded(np.asarray(members[i].X, np.float32)[rows[i]], width, 1)
                                         for i in index]))

        dense = [[layer for layer in nets[i].layers if isinstance(layer, keras.layers.Dense)] for i in index]
        params = []
        for j in range(len(dense[0])):
            params.append(np.stack([_padded(d[j].kernel.numpy(), width, 0) if j == 0 else d[j].kernel.numpy()
                                    for d in dense]))
            params.append(np.stack([d[j].bias.numpy() for d in dense]))
        return _Group(index=index, seeds=tf.constant([members[i].seed for i in index], tf.int64),
                      Xt=stacked(tr_idx, False), yt=stacked(tr_idx, True),
                      Xv=stacked(va_idx, False), yv=stacked(va_idx, True), params=[tf.Variable(p) for p in params],
                      best=[tf.Variable(p) for p in params],
                      slots=[(tf.Variable(np.zeros_like(p)), tf.Variable(np.zeros_like(p))) for p in params])

    def state(self) -> list[np.ndarray]:
        """Every variable's value (params, best, first and second moments), model axis first."""
        return [v.numpy() for v in (*self.params, *self.best, *(v for pair in self.slots for v in pair))]

    def args(self) -> tuple[Any, ...]:
        """The lane as the compiled graphs take it."""
        return self.seeds, self.Xt, self.yt, self.Xv, self.yv, tuple(self.params), tuple(self.best), \
            tuple(self.slots)


def _padded(a: np.ndarray, width: int, axis: int) -> np.ndarray:
    """`a` with zeros appended along `axis` up to `width`. Members of other input widths share a
    stack exactly this way: zero input columns meet zero first-layer rows, whose gradient is
    exactly zero (0 x anything finite), so Adam/SGD and L1/L2 leave them zero and every
    product they add to a member's sums is an exact zero."""
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, width - a.shape[axis])
    return np.pad(a, pad) if width > a.shape[axis] else a


def _regroup(groups: Sequence[_Group], live: np.ndarray, lanes: int) -> list[_Group]:
    """The live members (positions, ascending) moved into fresh lanes: their data, weights, best
    weights and optimizer moments copied as they are (every member's arithmetic is per slice,
    so who else shares its lane does not enter its result)."""
    import tensorflow as tf

    where = {int(s): (g, j) for g in groups for j, s in enumerate(g.index)}
    states = {id(g): g.state() for g in groups}
    n_params = len(groups[0].params)
    out = []
    for index in _partition(len(live), lanes):
        index = live[index]
        picks = [where[int(s)] for s in index]

        def take(get: Callable[[_Group], Any]) -> Any:
            return tf.stack([get(g)[j] for g, j in picks])

        values = [np.stack([states[id(g)][k][j] for g, j in picks]) for k in range(4 * n_params)]
        params, best = values[:n_params], values[n_params:2 * n_params]
        moments = values[2 * n_params:]
        out.append(_Group(index=index, seeds=take(lambda g: g.seeds), Xt=take(lambda g: g.Xt),
                          yt=take(lambda g: g.yt), Xv=take(lambda g: g.Xv), yv=take(lambda g: g.yv),
                          params=[tf.Variable(p) for p in params], best=[tf.Variable(p) for p in best],
                          slots=[(tf.Variable(moments[2 * k]), tf.Variable(moments[2 * k + 1]))
                                 for k in range(n_params)]))
    return out


def _test_probabilities(weights: Sequence[np.ndarray], members: Sequence[Member], net: Any, task: str,
                        layers: Sequence[_Layer]) -> np.ndarray | None:
    """Every member's outputs on its test rows in probability units, (S, n_test, k), in one pass
    of the stack holding the returned `weights` (each (S, ...)); None unless every member has
    test rows of one shape (each model then measures its own quality)."""
    import tensorflow as tf

    from varbench.models.trained import detect_head, head_probabilities

    if any(m.X_test is None or m.y_test is None for m in members) \
            or len({np.shape(m.X_test)[0] for m in members}) != 1:
        return None
    head = detect_head(net, task)
    width = int(weights[0].shape[1])
    x = tf.constant(np.stack([_padded(np.asarray(m.X_test, np.float32), width, 1) for m in members]))
    # eager: a few ops once per stack
    return head_probabilities(head, _forward(layers, [tf.constant(w) for w in weights], None, x)).numpy()


def _forward(layers: Sequence[_Layer], params: Sequence[Any], seeds: Any, x: Any, counter: Any = None) -> Any:
    """The stacked networks' outputs (models, rows, k); with a dropout `counter`, in training
    mode (each model's masks from its own seed's stream, as its solo training would draw them)."""
    import tensorflow as tf

    h, k, drop = x, 0, 0
    for layer in layers:
        if layer.kind == "dense":
            h = layer.activation(tf.linalg.matmul(h, params[k]) + tf.expand_dims(params[k + 1], 1))
            k += 2
        elif counter is not None and layer.rate > 0:
            keep = tf.stack([tf.random.stateless_uniform(tf.shape(h)[1:], seed=tf.stack([seed, counter * 16 + drop]))
                             >= layer.rate for seed in tf.unstack(seeds)])
            h = tf.where(keep, h / (1.0 - layer.rate), tf.zeros_like(h))
            drop += 1
    return h


@dataclass
class _Graphs:
    """A stack's compiled functions; each takes the lanes (`_Group.args`) as arguments, so one
    trace serves every stack of the same architecture, settings and lane shapes."""

    epoch: Any
    val: Any
    keep_best: Any


_GRAPHS: "OrderedDict[tuple[Any, ...], _Graphs]" = OrderedDict()
_GRAPHS_KEPT = 4


def clear_compiled() -> None:
    """Forget the compiled stack functions kept for reuse: the next stack traces again, as one
    model trained by `trainer.train` does (the bench times both that way)."""
    _GRAPHS.clear()


def _graphs(layers: Sequence[_Layer], task: str, config: TrainerConfig) -> _Graphs:
    """The compiled epoch, validation and best-weight functions of a stack (cached per
    architecture and trainer settings; tracing happens once per lane shapes)."""
    key = (tuple(layers), task, config.optimizer, float(config.lr), int(config.batch_size))
    if key in _GRAPHS:
        _GRAPHS.move_to_end(key)
        return _GRAPHS[key]
    graphs = _make_graphs(list(layers), task, config.optimizer, float(config.lr), int(config.batch_size))
    _GRAPHS[key] = graphs
    while len(_GRAPHS) > _GRAPHS_KEPT:
        _GRAPHS.popitem(last=False)
    return graphs


def _make_graphs(layers: list[_Layer], task: str, optimizer: str, lr: float, bs: int) -> _Graphs:
    import tensorflow as tf

    loss_fn = output_loss(task)
    dense_layers = [x for x in layers if x.kind == "dense"]

    regularised = any(layer.l1 > 0 or layer.l2 > 0 for layer in dense_layers)

    def penalties(params, size):
        total = tf.zeros([size])
        for k, layer in enumerate(dense_layers):
            if layer.l1 > 0:  # as keras.regularizers.L1L2: l1 sum |W| + l2 sum W^2
                total += layer.l1 * tf.reduce_sum(tf.abs(params[2 * k]), axis=[1, 2])
            if layer.l2 > 0:
                total += layer.l2 * tf.reduce_sum(tf.square(params[2 * k]), axis=[1, 2])
        return total

    def update(params, slots, grads, b1, b2, c):  # Keras's Adam / SGD update rule, one fused kernel per variable
        for p, grad, (m, v) in zip(params, grads, slots):
            if optimizer == "sgd":
                tf.raw_ops.ResourceApplyGradientDescent(var=p.handle, alpha=c["lr"], delta=grad)
            else:
                tf.raw_ops.ResourceApplyAdam(var=p.handle, m=m.handle, v=v.handle, beta1_power=b1, beta2_power=b2,
                                             lr=c["lr"], beta1=c["beta1"], beta2=c["beta2"], epsilon=c["epsilon"],
                                             grad=grad)

    @tf.function
    def epoch(lanes, perms, step):
        start = step.read_value()
        # the update's constants made once, outside the batch loops (a constant inside a loop body is an op
        # executed on every step; the values, hence the arithmetic, are the same)
        c = {"lr": tf.constant(lr), "beta1": tf.constant(0.9), "beta2": tf.constant(0.999),
             "epsilon": tf.constant(1e-7)}
        totals = []
        n = int(lanes[0][1].shape[1])
        n_batches = int(math.ceil(n / bs))
        for (seeds, Xt, yt, _, _, params, _, slots), perm in zip(lanes, perms):
            # one loop per lane: independent chains, no barrier per step
            size = int(Xt.shape[0])
            total = tf.zeros([size])
            for i in tf.range(n_batches):
                counter = start + tf.cast(i, tf.int64)  # the dropout masks' counter; Adam's t is counter + 1
                t = tf.cast(counter + 1, tf.float32)
                b1, b2 = tf.pow(c["beta1"], t), tf.pow(c["beta2"], t)
                idx = perm[:, i * bs: tf.minimum((i + 1) * bs, n)]
                xb, yb = tf.gather(Xt, idx, axis=1, batch_dims=1), tf.gather(yt, idx, axis=1, batch_dims=1)
                with tf.GradientTape() as tape:
                    loss = loss_fn(yb, _forward(layers, params, seeds, xb, counter))
                    # no penalty: no zeros added (x + 0 is x: the same arithmetic, fewer ops per step)
                    objective = tf.reduce_sum(loss + penalties(params, size) if regularised else loss)
                update(params, slots, tape.gradient(objective, params), b1, b2, c)
                total = total + loss * tf.cast(tf.shape(idx)[1], tf.float32)
            totals.append(total)
        with tf.control_dependencies(totals):
            step.assign_add(n_batches)
        return tf.concat(totals, 0) / n

    @tf.function
    def val(lanes):
        return tf.concat([loss_fn(yv, _forward(layers, params, seeds, Xv)) for seeds, _, _, Xv, yv, params, _, _
                          in lanes], 0)

    @tf.function
    def keep_best(lanes, masks):
        for (_, _, _, _, _, params, best, _), mask in zip(lanes, masks):
            for p, b in zip(params, best):
                b.assign(tf.where(tf.reshape(mask, [-1] + [1] * (len(p.shape) - 1)), p, b))

    return _Graphs(epoch, val, keep_best)


def unsupported(build: Callable[..., Any], n_features: int, task: str, config: TrainerConfig,
                y: np.ndarray | None = None) -> str | None:
    """None if models of this builder and trainer config can be stacked, else the reason
    (`y`: the labels, which size a multiclass head)."""
    if config.optimizer not in OPTIMIZERS:
        return f"trainer.optimizer={config.optimizer!r} (stacks support {OPTIMIZERS})"
    if task == "multiclass" and y is None:
        return "a multiclass head is sized from the labels (pass y)"
    layers = _layers(build(n_features, task, **({} if y is None else head_args(task, np.asarray(y)))))
    return layers if isinstance(layers, str) else None


def _seeded_builds(build: Callable[..., Any], task: str, members: Sequence[Member]) -> list[Any]:
    """Each member's network, built after seeding with its seed as `trainer.train` does. The
    first member gets the full `set_seed`; its TensorFlow part (`tf.random.set_seed`, which
    costs ~10 ms a call here and makes the next random ops slow) plays no part in Keras 3's
    initial weights, which stateless ops draw from seeds taken from Python's `random`. So the
    first network is built a second time after seeding Python and numpy only: if it comes out
    bitwise the same (checked on every stack), the other members are seeded that way, else
    each gets the full `set_seed`."""
    import random

    def make(m: Member) -> Any:
        return build(np.shape(m.X)[1], task, **_head(task, m))

    def light_seed(seed: int) -> None:
        random.seed(int(seed))
        np.random.seed(int(seed))

    set_seed(members[0].seed)
    nets = [make(members[0])]
    light = False
    if len(members) > 1:
        light_seed(members[0].seed)
        light = all(np.array_equal(a, b) for a, b in zip(nets[0].get_weights(), make(members[0]).get_weights()))
    for m in members[1:]:
        (light_seed if light else set_seed)(m.seed)
        nets.append(make(m))
    return nets


def train_stacked(build: Callable[..., Any], task: str, config: TrainerConfig,
                  members: Sequence[Member], lanes: int | None = None, shrink: bool = True,
                  min_drop: int | None = None, stats: dict[str, float] | None = None
                  ) -> list[TrainedModel | DivergedError]:
    """Train every member's model (built by `build(n_features, task)` after seeding with its
    seed, as `trainer.train` does) in one compiled graph. Returns, per member, its
    `TrainedModel` (train_seconds = the stack's time / S) or the `DivergedError` its solo
    training would raise. All members must share the row count, label shape and task; inputs
    of other widths share the stack zero-padded to the widest (exact up to float32 rounding of
    matmuls of another inner size: see `_padded`).

    `lanes`: the stack is cut into this many independent sub-stacks in the graph, which
    TensorFlow's inter-op threads run concurrently (default: the inter-op thread count). A
    model's result does not depend on its lane beyond float32 rounding of the batched matmuls.
    Each lane runs its epoch as a loop of its own, so lanes never wait for each other between
    steps.

    `shrink`: members that stopped (early stopping, divergence) drop out of the stack once the
    live members are at most half of the stack and at least `min_drop` (default `MIN_DROP`)
    slices would go: the live ones move, with their weights and optimizer state as they are,
    into a stack of their size (a new trace per new lane shape, kept for later stacks), so a
    stack costs about what its members cost. `shrink=False` keeps computing stopped members
    until the last stops (their updates never reach their results): the same results.
    `stats`, if given, receives `member_epochs` (member slices computed, summed over epochs),
    `shrinks` and `seconds`.

    Examples
    --------
    >>> from varbench.datasets.synthetic import linear
    >>> from varbench.models.mlp import build_mlp
    >>> from varbench.models.trainer import TrainerConfig
    >>> data = [linear(n_samples=120, seed=s) for s in (0, 1)]
    >>> members = [Member(d.X_train, d.y_train, s, d.X_test, d.y_test) for s, d in enumerate(data)]
    >>> cfg = TrainerConfig(epochs=3, batch_size=32, progress_every=0)
    >>> [m.quality["epochs"] for m in train_stacked(build_mlp, "regression", cfg, members)]
    [3.0, 3.0]
    """
    import keras
    import tensorflow as tf

    if not members:
        return []
    shapes = {(np.shape(m.X)[0], np.shape(m.y)) for m in members}  # input widths may differ (zero-padded)
    if len(shapes) != 1:
        raise ValueError(f"members={len(members)} have different data shapes {sorted(shapes)}: a stack needs one")
    if config.optimizer not in OPTIMIZERS:
        raise NotStackable(f"trainer.optimizer={config.optimizer!r} is not stackable (stacks support {OPTIMIZERS})")
    S = len(members)
    min_drop = MIN_DROP if min_drop is None else max(1, int(min_drop))
    start = time.perf_counter()
    nets = _seeded_builds(build, task, members)
    rngs, tr_idx, va_idx = [], [], []
    for m in members:
        rng = np.random.default_rng(m.seed)
        tr, va = split_rows(rng, np.shape(m.X)[0], config.val_fraction)
        rngs.append(rng)
        tr_idx.append(tr)
        va_idx.append(va)
    layers = _layers(nets[0])
    if isinstance(layers, str):
        raise NotStackable(f"model is not stackable: {layers}")
    widths = [int(np.shape(m.X)[1]) for m in members]
    width = max(widths)
    if min(widths) < width and layers[0].kind != "dense":
        raise ValueError(f"members of input widths {sorted(set(widths))} need a first Dense layer to share a stack")
    if len({(tuple(net.weights[0].shape[1:]), *(tuple(w.shape) for w in net.weights[1:])) for net in nets}) != 1:
        raise ValueError(f"members={S} build networks of different shapes (class counts differ): a stack needs one")
    n = len(tr_idx[0])
    has_val = len(va_idx[0]) > 0
    parts = _partition(S, lanes)
    n_lanes = len(parts)
    groups = [_Group.make(idx, members, nets, tr_idx, va_idx, width) for idx in parts]
    graphs = _graphs(layers, task, config)
    step = tf.Variable(0, dtype=tf.int64)
    n_params = len(groups[0].params)
    returned: list[list[np.ndarray] | None] = [None] * S  # weights of members that left the stack

    def set_aside(g: _Group, keep: np.ndarray) -> None:
        """Store the returned weights of g's members outside `keep` (best if saved, else current)."""
        state = g.state()
        for j, s in enumerate(g.index):
            if not keep[s]:
                returned[s] = [state[k + (n_params if saved[s] else 0)][j] for k in range(n_params)]

    active = np.ones(S, bool)
    losses: list[list[float]] = [[] for _ in range(S)]
    diverged = np.zeros(S, bool)
    best_val, waited, saved = np.full(S, math.inf), np.zeros(S, int), np.zeros(S, bool)
    member_epochs, shrinks = 0, 0
    bound: dict[str, Any] = {}  # the graphs' concrete functions for the current lanes

    def run(name: str, *args: Any) -> Any:
        """Call a graph through its concrete function (a polymorphic call would match the
        signature of every variable on each call, ~ms per call)."""
        if name not in bound:
            bound[name] = getattr(graphs, name).get_concrete_function(*args)
        return bound[name](*args)

    for _ in range(config.epochs):
        if not active.any():
            break
        size = sum(g.size for g in groups)
        if shrink and 2 * active.sum() <= size and size - active.sum() >= min_drop:
            for g in groups:
                set_aside(g, active)
            groups = _regroup(groups, np.flatnonzero(active), n_lanes)
            bound.clear()
            shrinks += 1
        order = np.concatenate([g.index for g in groups])  # member positions of the stack's outputs
        member_epochs += len(order)
        perms = [tf.constant(np.stack([rngs[s].permutation(n) if active[s] else np.arange(n) for s in g.index]),
                             tf.int32) for g in groups]
        lanes_args = tuple(g.args() for g in groups)
        loss = np.full(S, np.nan)
        loss[order] = run("epoch", lanes_args, perms, step).numpy()
        for s in np.flatnonzero(active):
            losses[s].append(float(loss[s]))
            if not math.isfinite(loss[s]):
                diverged[s], active[s] = True, False
        if not (has_val and config.patience > 0):
            continue
        val = np.full(S, np.inf)
        val[order] = run("val", lanes_args).numpy()
        improved = active & (val < best_val)
        best_val[improved], waited[improved] = val[improved], 0
        waited[active & ~improved] += 1
        stopped = active & (waited >= config.patience)
        active &= ~stopped
        frozen = improved | (stopped & ~saved)  # a stopped model never saved keeps its weights now
        saved |= frozen
        if frozen[order].any():
            run("keep_best", lanes_args, [tf.constant(frozen[g.index]) for g in groups])
    for g in groups:
        set_aside(g, np.zeros(S, bool))
    seconds = (time.perf_counter() - start) / S
    if stats is not None:
        stats.update(member_epochs=float(member_epochs), shrinks=float(shrinks), seconds=seconds * S)

    weights = [np.stack([returned[s][k] for s in range(S)]) for k in range(n_params)]
    P_test = _test_probabilities(weights, members, nets[0], task, layers)
    out: list[TrainedModel | DivergedError] = []
    for s, (m, net) in enumerate(zip(members, nets)):
        dense = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
        if diverged[s]:
            out.append(DivergedError(f"training diverged: loss became {losses[s][-1]} after "
                                     f"{len(losses[s])} epochs"))
            continue
        if np.any(weights[0][s][widths[s]:]):  # cannot happen (see _padded): never return a wrong model
            raise RuntimeError(f"member {s}: zero-padded first-layer rows changed in training")
        for j, layer in enumerate(dense):
            layer.set_weights([weights[2 * j][s][:widths[s]] if j == 0 else weights[2 * j][s], weights[2 * j + 1][s]])
        out.append(finish_model(net, task, seconds, losses[s], m.X_test, m.y_test,
                                None if P_test is None else P_test[s]))
    return out
