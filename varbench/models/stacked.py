"""Stacked training: S independent networks of one architecture trained as one compiled graph.

Small MLPs train latency-bound (a batch-64 step on 64 units uses a few per cent of the cores),
so S models stepped together cost little more than one. Every weight gets a leading model axis
(kernel (S, in, out), bias (S, out)); each model keeps its own data, validation split, per-epoch
shuffle (the same `numpy` streams `trainer.train` draws from its seed), its own Adam/SGD state,
early stopping with best-weight restore, and its own divergence flag. A model that stops is
frozen: its best weights (or, if it never improved, its weights at that epoch) are set aside
when it stops and are what it returns; its slice of the stack is still computed until every
model has stopped, but those updates are masked out of its result. Slices never mix (the
objective is a sum of per-model losses), so a diverging model cannot disturb the others. The
stack is cut into lanes (one per inter-op thread): independent chains in one graph (each lane's
epoch a loop of its own, so no lane waits for another between steps), which TensorFlow runs
concurrently, one core each. Test quality is measured for the whole stack in
one pass. Each model comes out as an ordinary Keras network in a `TrainedModel`, as
`trainer.train` returns it, so every method runs on it unchanged.

Equivalence with `trainer.train` (tested in tests/test_stacked.py):
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
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from varbench.models.loop import output_loss
from varbench.models.trained import TrainedModel
from varbench.models.trainer import DivergedError, TrainerConfig, finish_model, head_args, set_seed, split_rows

OPTIMIZERS = ("adam", "sgd")


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
    seeds: list[int]
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
             va_idx: Sequence[np.ndarray]) -> "_Group":
        import keras
        import tensorflow as tf

        def stacked(rows: Sequence[np.ndarray], of_y: bool) -> Any:
            return tf.constant(np.stack([np.asarray(members[i].y if of_y else members[i].X, np.float32)[rows[i]]
                                         for i in index]))

        dense = [[layer for layer in nets[i].layers if isinstance(layer, keras.layers.Dense)] for i in index]
        params = []
        for j in range(len(dense[0])):
            params.append(tf.Variable(np.stack([d[j].kernel.numpy() for d in dense])))
            params.append(tf.Variable(np.stack([d[j].bias.numpy() for d in dense])))
        return _Group(index=index, seeds=[members[i].seed for i in index],
                      Xt=stacked(tr_idx, False), yt=stacked(tr_idx, True),
                      Xv=stacked(va_idx, False), yv=stacked(va_idx, True), params=params,
                      best=[tf.Variable(p) for p in params],
                      slots=[(tf.Variable(tf.zeros_like(p)), tf.Variable(tf.zeros_like(p))) for p in params])


def _test_probabilities(groups: Sequence[_Group], members: Sequence[Member], net: Any, task: str,
                        forward: Callable[..., Any]) -> np.ndarray | None:
    """Every member's outputs on its test rows in probability units, (S, n_test, k), in one pass
    of the stack (its parameters holding the returned weights); None unless every member has
    test rows of one shape (each model then measures its own quality)."""
    import tensorflow as tf

    from varbench.models.trained import detect_head, head_probabilities

    if any(m.X_test is None or m.y_test is None for m in members) \
            or len({np.shape(m.X_test) for m in members}) != 1:
        return None
    head = detect_head(net, task)
    tests = [tf.constant(np.stack([np.asarray(members[i].X_test, np.float32) for i in g.index])) for g in groups]
    # eager: a few ops once per stack (a tf.function made per call would retrace every stack)
    return tf.concat([head_probabilities(head, forward(g, x, False)) for g, x in zip(groups, tests)], 0).numpy()


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
                  members: Sequence[Member], lanes: int | None = None) -> list[TrainedModel | DivergedError]:
    """Train every member's model (built by `build(n_features, task)` after seeding with its
    seed, as `trainer.train` does) in one compiled graph. Returns, per member, its
    `TrainedModel` (train_seconds = the stack's time / S) or the `DivergedError` its solo
    training would raise. All members must share the input width, row count and task.

    `lanes`: the stack is cut into this many independent sub-stacks in the graph, which
    TensorFlow's inter-op threads run concurrently (default: the inter-op thread count). A
    model's result does not depend on its lane beyond float32 rounding of the batched matmuls.
    Each lane runs its epoch as a loop of its own, so lanes never wait for each other between
    steps."""
    import keras
    import tensorflow as tf

    if not members:
        return []
    shapes = {(m.X.shape, np.shape(m.y)) for m in members}
    if len(shapes) != 1:
        raise ValueError(f"members={len(members)} have different data shapes {sorted(shapes)}: a stack needs one")
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"trainer.optimizer={config.optimizer!r} is not stackable (stacks support {OPTIMIZERS})")
    S = len(members)
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
        raise ValueError(f"model is not stackable: {layers}")
    if len({tuple(w.shape for w in net.get_weights()) for net in nets}) != 1:
        raise ValueError(f"members={S} build networks of different shapes (class counts differ): a stack needs one")
    n = len(tr_idx[0])
    has_val = len(va_idx[0]) > 0
    groups = [_Group.make(idx, members, nets, tr_idx, va_idx) for idx in _partition(S, lanes)]
    step = tf.Variable(0, dtype=tf.int64)
    loss_fn = output_loss(task)
    lr = float(config.lr)
    dense_layers = [x for x in layers if x.kind == "dense"]

    def forward(g: "_Group", x, training: bool, counter=None):
        h, k, drop = x, 0, 0
        for layer in layers:
            if layer.kind == "dense":
                h = layer.activation(tf.linalg.matmul(h, g.params[k]) + tf.expand_dims(g.params[k + 1], 1))
                k += 2
            elif training and layer.rate > 0:  # each model's masks from its own seed's stream
                keep = tf.stack([tf.random.stateless_uniform(
                    tf.shape(h)[1:], seed=tf.stack([tf.constant(seed, tf.int64), counter * 16 + drop])) >= layer.rate
                    for seed in g.seeds])
                h = tf.where(keep, h / (1.0 - layer.rate), tf.zeros_like(h))
                drop += 1
        return h

    def penalties(g: "_Group"):
        total = tf.zeros([g.size])
        for k, layer in enumerate(dense_layers):
            if layer.l1 > 0:  # as keras.regularizers.L1L2: l1 sum |W| + l2 sum W^2
                total += layer.l1 * tf.reduce_sum(tf.abs(g.params[2 * k]), axis=[1, 2])
            if layer.l2 > 0:
                total += layer.l2 * tf.reduce_sum(tf.square(g.params[2 * k]), axis=[1, 2])
        return total

    def update(g: "_Group", grads, b1, b2):  # Keras's Adam / SGD update rule, one fused kernel per variable
        for p, grad, (m, v) in zip(g.params, grads, g.slots):
            if config.optimizer == "sgd":
                tf.raw_ops.ResourceApplyGradientDescent(var=p.handle, alpha=tf.constant(lr), delta=grad)
            else:
                tf.raw_ops.ResourceApplyAdam(var=p.handle, m=m.handle, v=v.handle, beta1_power=b1, beta2_power=b2,
                                             lr=tf.constant(lr), beta1=tf.constant(0.9), beta2=tf.constant(0.999),
                                             epsilon=tf.constant(1e-7), grad=grad)

    n_batches = int(math.ceil(n / config.batch_size))
    bs = config.batch_size

    @tf.function
    def epoch_step(perms):
        start = step.read_value()
        totals = []
        for g, perm in zip(groups, perms):  # one loop per lane: independent chains, no barrier per step
            total = tf.zeros([g.size])
            for i in tf.range(n_batches):
                counter = start + tf.cast(i, tf.int64)  # the dropout masks' counter; Adam's t is counter + 1
                t = tf.cast(counter + 1, tf.float32)
                b1, b2 = tf.pow(0.9, t), tf.pow(0.999, t)
                idx = perm[:, i * bs: tf.minimum((i + 1) * bs, n)]
                xb, yb = tf.gather(g.Xt, idx, axis=1, batch_dims=1), tf.gather(g.yt, idx, axis=1, batch_dims=1)
                with tf.GradientTape() as tape:
                    loss = loss_fn(yb, forward(g, xb, True, counter))
                    objective = tf.reduce_sum(loss + penalties(g))
                update(g, tape.gradient(objective, g.params), b1, b2)
                total = total + loss * tf.cast(tf.shape(idx)[1], tf.float32)
            totals.append(total)
        with tf.control_dependencies(totals):
            step.assign_add(n_batches)
        return tf.concat(totals, 0) / n

    @tf.function
    def val_step():
        return tf.concat([loss_fn(g.yv, forward(g, g.Xv, False)) for g in groups], 0)

    @tf.function
    def keep_best(improved):
        for g in groups:
            mask = tf.gather(improved, g.index)
            for p, b in zip(g.params, g.best):
                b.assign(tf.where(tf.reshape(mask, [g.size] + [1] * (len(p.shape) - 1)), p, b))

    active = np.ones(S, bool)
    losses: list[list[float]] = [[] for _ in range(S)]
    diverged = np.zeros(S, bool)
    best_val, waited, saved = np.full(S, math.inf), np.zeros(S, int), np.zeros(S, bool)
    for _ in range(config.epochs):
        if not active.any():
            break
        perm = np.stack([rngs[s].permutation(n) if active[s] else np.arange(n) for s in range(S)])
        loss = epoch_step([tf.constant(perm[g.index], tf.int32) for g in groups]).numpy()
        for s in np.flatnonzero(active):
            losses[s].append(float(loss[s]))
            if not math.isfinite(loss[s]):
                diverged[s], active[s] = True, False
        if not (has_val and config.patience > 0):
            continue
        val = val_step().numpy()
        improved = active & (val < best_val)
        best_val[improved], waited[improved] = val[improved], 0
        waited[active & ~improved] += 1
        stopped = active & (waited >= config.patience)
        active &= ~stopped
        frozen = improved | (stopped & ~saved)  # a stopped model never saved keeps its weights now
        saved |= frozen
        if frozen.any():
            keep_best(tf.constant(frozen))
    seconds = (time.perf_counter() - start) / S

    for g in groups:  # each model's returned weights, in its slice of the stack
        for p, b in zip(g.params, g.best):
            p.assign(tf.where(tf.reshape(tf.constant(saved[g.index]), [g.size] + [1] * (len(p.shape) - 1)), b, p))
    P_test = _test_probabilities(groups, members, nets[0], task, forward)
    returned = [np.concatenate([p.numpy() for p in ps]) for ps in zip(*(g.params for g in groups))]
    out: list[TrainedModel | DivergedError] = []
    for s, (m, net) in enumerate(zip(members, nets)):
        dense = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
        if diverged[s]:
            out.append(DivergedError(f"training diverged: loss became {losses[s][-1]} after "
                                     f"{len(losses[s])} epochs"))
            continue
        weights = [w[s] for w in returned]
        for j, layer in enumerate(dense):
            layer.set_weights(weights[2 * j: 2 * j + 2])
        out.append(finish_model(net, build, task, m.seed, config, seconds, losses[s], m.X_test, m.y_test,
                                None if P_test is None else P_test[s]))
    return out
