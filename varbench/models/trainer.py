"""The one trainer every model goes through: seeding, fitting with early stopping, quality.

Its settings, `TrainerConfig`, are a config section declared in `varbench.schema`.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np

from varbench.models.loop import fit_compiled
from varbench.models.trained import TrainedModel
from varbench.rank_stats import auroc
from varbench.schema import TrainerConfig  # declared with the other config sections, checked by their validator

log = logging.getLogger(__name__)


class DivergedError(RuntimeError):
    """Training produced a non-finite loss."""


def quality(model: TrainedModel, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Test-set quality: R^2 for regression; accuracy and ROC AUC for classification; accuracy and
    macro ROC AUC (mean over classes of one-vs-rest AUC of the class probability) for multiclass.
    A binary classifier explained as a logit is scored on its logit (threshold 0)."""
    if model.task == "classification" and not model.explains_prob:
        y = np.asarray(y, dtype=np.float64)
        pred = model.predict(X).astype(np.float64)
        return {"accuracy": float(np.mean((pred > 0.0) == (y > 0.5))), "auc": auroc(pred, y > 0.5)}
    return quality_of(model.task, model.probabilities(X), y)


def quality_of(task: str, P: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """`quality` from the model's outputs in probability units, P (n, k) as
    `TrainedModel.probabilities` returns them (binary: P(class 1); regression: the output)."""
    y = np.asarray(y, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64).reshape(len(y), -1)
    if task == "multiclass":
        aucs = [auroc(P[:, c], y == c) for c in range(P.shape[1]) if 0 < np.sum(y == c) < len(y)]
        return {"accuracy": float(np.mean(P.argmax(axis=1) == y)),
                "auc": float(np.mean(aucs)) if aucs else float("nan")}
    pred = P[:, 0]
    if task == "regression":
        ss_res = float(np.sum((y - pred) ** 2))
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        return {"r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")}
    return {"accuracy": float(np.mean((pred > 0.5) == (y > 0.5))), "auc": auroc(pred, y > 0.5)}


def head_args(task: str, y: np.ndarray) -> dict[str, int]:
    """What the builder is told beyond (n_features, task): n_outputs = k for a k-class task."""
    return {"n_outputs": int(np.max(y)) + 1} if task == "multiclass" else {}


def set_seed(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, and make TF ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def train(
    build: Callable[[int, str], Any],
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    seed: int,
    config: TrainerConfig | None = None,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
) -> TrainedModel:
    """Build with `build(n_features, task)`, fit with early stopping on a validation split
    (best weights restored), and measure quality on the test split if given. config: None = the
    declared defaults, `TrainerConfig()` (a fresh instance: sections are mutable dataclasses).

    Raises DivergedError if the training loss becomes NaN/inf.
    """
    import keras

    config = TrainerConfig() if config is None else config
    set_seed(seed)
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.float32)
    net = build(X.shape[1], task, **head_args(task, y if y_test is None else np.concatenate([y, y_test])))
    opt = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
           "rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW}[config.optimizer]

    rng = np.random.default_rng(seed)
    tr, val = split_rows(rng, X.shape[0], config.val_fraction)

    def progress(epoch: int, loss: float, val_loss: float | None) -> None:
        if config.progress_every > 0 and (epoch + 1) % config.progress_every == 0:
            log.info("  epoch %d/%d: loss %.4g%s", epoch + 1, config.epochs, loss,
                     "" if val_loss is None else f", val_loss {val_loss:.4g}")

    start = time.perf_counter()
    hist = fit_compiled(net, opt(learning_rate=config.lr), task, X[tr], y[tr], X[val], y[val],
                        config.epochs, config.batch_size, config.patience, rng, progress)
    seconds = time.perf_counter() - start
    if hist.diverged:
        raise DivergedError(f"training diverged: loss became {hist.loss[-1]} after {len(hist.loss)} epochs")
    return finish_model(net, build, task, seed, config, seconds, hist.loss, X_test, y_test)


def split_rows(rng: np.random.Generator, n: int, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): the first round(val_fraction * n) of a permutation drawn
    from `rng` are held out for early stopping."""
    idx = rng.permutation(n)
    n_val = int(round(val_fraction * n))
    return idx[n_val:], idx[:n_val]


def finish_model(net: Any, build: Callable[[int, str], Any], task: str, seed: int, config: TrainerConfig,
                 seconds: float, losses: list[float], X_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, P_test: np.ndarray | None = None) -> TrainedModel:
    """The trained network as a `TrainedModel`: epochs, last training loss and (given a test
    split) test quality, from `P_test` (its outputs on X_test in probability units) when the
    caller has them; the refit function retrains the same architecture and seed."""
    model = TrainedModel(keras=net, task=task, train_seconds=seconds,
                         refit=refitter(build, task, seed, config))
    model.quality = {"epochs": float(len(losses)), "train_loss": float(losses[-1])}
    if P_test is not None and y_test is not None:
        model.quality.update(quality_of(model.task, P_test, y_test))
    elif X_test is not None and y_test is not None:
        model.quality.update(quality(model, X_test, y_test))
    model.n_evals = 0
    return model


def refitter(build: Callable[[int, str], Any], task: str, seed: int,
             config: TrainerConfig) -> Callable[[np.ndarray, np.ndarray], TrainedModel]:
    """A function training the same architecture with the same trainer and seed on other data
    (used by retraining methods such as drop-column)."""

    def refit(X_new: np.ndarray, y_new: np.ndarray) -> TrainedModel:
        return train(build, X_new, y_new, task, seed, config)

    return refit
