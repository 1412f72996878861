"""Stacked training: S independent networks of one architecture trained as one compiled graph.

Small MLPs train latency-bound (a batch-64 step on 64 units uses a few per cent of the cores),
so S models stepped together cost little more than one. Every weight gets a leading model axis
(kernel (S, in, out), bias (S, out)); each model keeps its own data, validation split, per-epoch
shuffle (the same `numpy` streams `trainer.train` draws from its seed), its own Adam/SGD state,
early stopping with best-weight restore, and its own divergence flag. A model that stops is
frozen: its best weights (or, if it never improved, its weights at that epoch) are set aside
when it stops and are what it returns; its slice of the stack is still computed until every
model has stopped, but those updates are masked out of its result. Slices never mix (the
objective is a sum of per-model losses), so a diverging model cannot disturb the others. Each model comes out as an ordinary Keras network in a `TrainedModel`, exactly
as `trainer.train` returns it, so every method runs on it unchanged.

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
from varbench.models.trainer import DivergedError, TrainerConfig, finish_model, set_seed, split_rows

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


def unsupported(build: Callable[[int, str], Any], n_features: int, task: str, config: TrainerConfig) -> str | None:
    """None if models of this builder and trainer config can be stacked, else the reason."""
    if config.optimizer not in OPTIMIZERS:
        return f"trainer.optimizer={config.optimizer!r} (stacks support {OPTIMIZERS})"
    layers = _layers(build(n_features, task))
    return layers if isinstance(layers, str) else None


def train_stacked(build: Callable[[int, str], Any], task: str, config: TrainerConfig,
                  members: Sequence[Member]) -> list[TrainedModel | DivergedError]:
    """Train every member's model (built by `build(n_features, task)` after seeding with its
    seed, as `trainer.train` does) in one compiled graph. Returns, per member, its
    `TrainedModel` (train_seconds = the stack's time / S) or the `DivergedError` its solo
    training would raise. All members must share the input width, row count and task."""
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
    nets, rngs, tr_idx, va_idx = [], [], [], []
    for m in members:
        set_seed(m.seed)
        X = np.asarray(m.X, np.float32)
        nets.append(build(X.shape[1], task))
        rng = np.random.default_rng(m.seed)
        tr, va = split_rows(rng, X.shape[0], config.val_fraction)
        rngs.append(rng)
        tr_idx.append(tr)
        va_idx.append(va)
    layers = _layers(nets[0])
    if isinstance(layers, str):
        raise ValueError(f"model is not stackable: {layers}")
    Xs = [np.asarray(m.X, np.float32) for m in members]
    ys = [np.asarray(m.y, np.float32) for m in members]
    Xt = tf.constant(np.stack([X[t] for X, t in zip(Xs, tr_idx)]))
    yt = tf.constant(np.stack([y[t] for y, t in zip(ys, tr_idx)]))
    n = int(Xt.shape[1])
    has_val = len(va_idx[0]) > 0
    if has_val:
        Xv = tf.constant(np.stack([X[v] for X, v in zip(Xs, va_idx)]))
        yv = tf.constant(np.stack([y[v] for y, v in zip(ys, va_idx)]))

    dense = [layer for layer in nets[0].layers if isinstance(layer, keras.layers.Dense)]
    per_net = [[layer for layer in net.layers if isinstance(layer, keras.layers.Dense)] for net in nets]
    params: list[tf.Variable] = []
    for j in range(len(dense)):
        params.append(tf.Variable(np.stack([p[j].kernel.numpy() for p in per_net])))
        params.append(tf.Variable(np.stack([p[j].bias.numpy() for p in per_net])))
    best = [tf.Variable(p) for p in params]
    slots = [(tf.Variable(tf.zeros_like(p)), tf.Variable(tf.zeros_like(p))) for p in params]
    step = tf.Variable(0, dtype=tf.int64)
    loss_fn = output_loss(task)
    lr = float(config.lr)

    def forward(x, training: bool, counter=None):
        h, k, drop = x, 0, 0
        for layer in layers:
            if layer.kind == "dense":
                h = layer.activation(tf.linalg.matmul(h, params[k]) + params[k + 1][:, None, :])
                k += 2
            elif training and layer.rate > 0:  # each model's masks from its own seed's stream
                keep = tf.stack([tf.random.stateless_uniform(
                    tf.shape(h)[1:], seed=tf.stack([tf.constant(m.seed, tf.int64), counter * 16 + drop])) >= layer.rate
                    for m in members])
                h = tf.where(keep, h / (1.0 - layer.rate), tf.zeros_like(h))
                drop += 1
        return h

    def penalties():
        total = tf.zeros([S])
        for k, layer in enumerate(x for x in layers if x.kind == "dense"):
            if layer.l1 > 0:  # as keras.regularizers.L1L2: l1 sum |W| + l2 sum W^2
                total += layer.l1 * tf.reduce_sum(tf.abs(params[2 * k]), axis=[1, 2])
            if layer.l2 > 0:
                total += layer.l2 * tf.reduce_sum(tf.square(params[2 * k]), axis=[1, 2])
        return total

    def update(grads):  # Keras's Adam / SGD update rule, one fused kernel per stacked variable
        step.assign_add(1)
        t = tf.cast(step, tf.float32)
        for p, g, (m, v) in zip(params, grads, slots):
            if config.optimizer == "sgd":
                tf.raw_ops.ResourceApplyGradientDescent(var=p.handle, alpha=tf.constant(lr), delta=g)
            else:
                tf.raw_ops.ResourceApplyAdam(var=p.handle, m=m.handle, v=v.handle, beta1_power=tf.pow(0.9, t),
                                             beta2_power=tf.pow(0.999, t), lr=tf.constant(lr),
                                             beta1=tf.constant(0.9), beta2=tf.constant(0.999),
                                             epsilon=tf.constant(1e-7), grad=g)

    n_batches = int(math.ceil(n / config.batch_size))
    bs = config.batch_size

    @tf.function
    def epoch_step(perm):
        total = tf.zeros([S])
        for i in tf.range(n_batches):
            idx = perm[:, i * bs: tf.minimum((i + 1) * bs, n)]
            xb, yb = tf.gather(Xt, idx, axis=1, batch_dims=1), tf.gather(yt, idx, axis=1, batch_dims=1)
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, forward(xb, True, step))
                objective = tf.reduce_sum(loss + penalties())
            update(tape.gradient(objective, params))
            total += loss * tf.cast(tf.shape(idx)[1], tf.float32)
        return total / n

    @tf.function
    def val_step():
        return loss_fn(yv, forward(Xv, False))

    @tf.function
    def keep_best(improved):
        for p, b in zip(params, best):
            b.assign(tf.where(tf.reshape(improved, [S] + [1] * (len(p.shape) - 1)), p, b))

    active = np.ones(S, bool)
    losses: list[list[float]] = [[] for _ in range(S)]
    diverged = np.zeros(S, bool)
    best_val, waited, saved = np.full(S, math.inf), np.zeros(S, int), np.zeros(S, bool)
    for _ in range(config.epochs):
        if not active.any():
            break
        perm = np.stack([rngs[s].permutation(n) if active[s] else np.arange(n) for s in range(S)])
        loss = epoch_step(tf.constant(perm, tf.int32)).numpy()
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

    frozen_weights = [b.numpy() for b in best]
    current = [p.numpy() for p in params]
    out: list[TrainedModel | DivergedError] = []
    for s, (m, net) in enumerate(zip(members, nets)):
        if diverged[s]:
            out.append(DivergedError(f"training diverged: loss became {losses[s][-1]} after "
                                     f"{len(losses[s])} epochs"))
            continue
        weights = [w[s] for w in (frozen_weights if saved[s] else current)]
        for j, layer in enumerate(per_net[s]):
            layer.set_weights(weights[2 * j: 2 * j + 2])
        out.append(finish_model(net, build, task, m.seed, config, seconds, losses[s], m.X_test, m.y_test))
    return out
