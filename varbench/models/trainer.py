"""The one trainer every model goes through: seeding, fitting with early stopping, quality; the
engine (`TrainerConfig.engine`) is a stack of one (`varbench.models.stacked`) or one network by
itself (the compiled epoch loop, `varbench.models.loop`).

Its settings, `TrainerConfig`, are a config section declared in `varbench.schema`.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np

from varbench.models.fitted import DivergedError, finish_model, head_args, quality, quality_of, set_seed, split_rows
from varbench.models.loop import fit_compiled
from varbench.models.stacked import Member, NotStackable, train_stacked
from varbench.models.trained import TrainedModel
from varbench.schema import TrainerConfig  # declared with the other config sections, checked by their validator

__all__ = ["DivergedError", "TrainerConfig", "finish_model", "head_args", "quality", "quality_of", "refitter",
           "set_seed", "split_rows", "train"]

log = logging.getLogger(__name__)


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

    `config.engine`: "stack" (default) trains the network as a stack of one
    (`varbench.models.stacked.train_stacked`, bitwise the model it is in any stack, so a sweep's
    stacked pre-training and a lone cell agree), or one network by itself ("single") where the
    stack cannot (`NotStackable`: other layers, optimizers rmsprop/adamw) or is not asked for.

    Raises DivergedError if the training loss becomes NaN/inf.
    """
    config = TrainerConfig() if config is None else config
    model = None
    if config.engine == "stack" and np.ndim(X) == 2:
        try:
            (model,) = train_stacked(build, task, config, [Member(X, y, seed, X_test, y_test)])
        except NotStackable as exc:
            log.debug("trained by itself: %s", exc)
        if isinstance(model, DivergedError):
            raise model
    if model is None:
        model = _train_single(build, X, y, task, seed, config, X_test, y_test)
    model.refit = refitter(build, task, seed, config)
    return model


def _train_single(build: Callable[[int, str], Any], X: np.ndarray, y: np.ndarray, task: str, seed: int,
                  config: TrainerConfig, X_test: np.ndarray | None, y_test: np.ndarray | None) -> TrainedModel:
    """`train` with one network in the compiled epoch loop (`varbench.models.loop.fit_compiled`)."""
    import keras

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
    return finish_model(net, task, seconds, hist.loss, X_test, y_test)


def refitter(build: Callable[[int, str], Any], task: str, seed: int,
             config: TrainerConfig) -> Callable[[np.ndarray, np.ndarray], TrainedModel]:
    """A function training the same architecture with the same trainer and seed on other data
    (used by retraining methods such as drop-column)."""

    def refit(X_new: np.ndarray, y_new: np.ndarray) -> TrainedModel:
        return train(build, X_new, y_new, task, seed, config)

    return refit
