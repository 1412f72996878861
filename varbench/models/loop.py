"""A compiled training loop: one `tf.function` call per epoch (all mini-batches inside the
graph), early stopping on a validation split with the best weights restored.

It replaces `keras.Model.fit`, whose per-step Python and tf.data overhead dominates at the
sizes varbench trains (see results/performance.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class History:
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    diverged: bool = False


def output_loss(task: str):
    """Mean loss of the network's output over the rows axis: MSE, logistic loss on the class-1
    logit, or softmax cross-entropy on k class logits with integer labels (multiclass). `out` is
    (rows, k), or (models, rows, k) for a stack (one loss per model)."""
    import tensorflow as tf

    def loss(y_true, out):
        if task == "multiclass":
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.cast(y_true, tf.int32), logits=out), axis=-1)
        z = out[..., 0]
        if task == "regression":
            return tf.reduce_mean(tf.square(z - y_true), axis=-1)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=z), axis=-1)

    return loss


def fit_compiled(net: Any, optimizer: Any, task: str, X: np.ndarray, y: np.ndarray,
                 X_val: np.ndarray | None, y_val: np.ndarray | None, epochs: int, batch_size: int,
                 patience: int, rng: np.random.Generator,
                 on_epoch: Callable[[int, float, float | None], None] | None = None) -> History:
    """Train `net` in place. Shuffles with `rng` each epoch; stops early when the validation
    loss has not improved for `patience` epochs (0 = never) and restores the best weights.
    Stops at the first non-finite training loss (History.diverged)."""
    import tensorflow as tf

    loss_fn = output_loss(task)
    Xt, yt = tf.constant(X, tf.float32), tf.constant(y, tf.float32)
    n = int(X.shape[0])
    n_batches = int(math.ceil(n / batch_size))
    variables = net.trainable_variables
    optimizer.build(variables)

    @tf.function(reduce_retracing=True)
    def epoch_step(perm):
        total = tf.constant(0.0)
        for i in tf.range(n_batches):
            idx = perm[i * batch_size: tf.minimum((i + 1) * batch_size, n)]
            xb, yb = tf.gather(Xt, idx), tf.gather(yt, idx)
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, net(xb, training=True))
                objective = loss + tf.add_n(net.losses) if net.losses else loss
            grads = tape.gradient(objective, variables)
            optimizer.apply_gradients(zip(grads, variables))
            total += loss * tf.cast(tf.shape(idx)[0], tf.float32)
        return total / n

    has_val = X_val is not None and len(X_val) > 0
    if has_val:
        Xv, yv = tf.constant(X_val, tf.float32), tf.constant(y_val, tf.float32)
        val_step = tf.function(lambda: loss_fn(yv, net(Xv, training=False)))

    hist = History()
    best, best_weights, waited = math.inf, None, 0
    for epoch in range(epochs):
        loss = float(epoch_step(tf.constant(rng.permutation(n), tf.int32)))
        hist.loss.append(loss)
        if not math.isfinite(loss):
            hist.diverged = True
            break
        val = float(val_step()) if has_val else None
        if val is not None:
            hist.val_loss.append(val)
        if on_epoch is not None:
            on_epoch(epoch, loss, val)
        if has_val and patience > 0:
            if val < best:
                best, best_weights, waited, hist.best_epoch = val, net.get_weights(), 0, epoch
            else:
                waited += 1
                if waited >= patience:
                    break
    if best_weights is not None:
        net.set_weights(best_weights)
    return hist
