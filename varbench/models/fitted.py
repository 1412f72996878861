"""What both training engines share (`varbench.models.trainer` for one network,
`varbench.models.stacked` for a stack): seeding, the validation split, divergence, the trained
model's quality. A leaf of the models package: the trainer picks an engine, the engines use this."""
from __future__ import annotations

from typing import Any

import numpy as np

from varbench.models.trained import TrainedModel
from varbench.rank_stats import auroc


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


def split_rows(rng: np.random.Generator, n: int, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): the first round(val_fraction * n) of a permutation drawn
    from `rng` are held out for early stopping."""
    idx = rng.permutation(n)
    n_val = int(round(val_fraction * n))
    return idx[n_val:], idx[:n_val]


def finish_model(net: Any, task: str, seconds: float, losses: list[float], X_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, P_test: np.ndarray | None = None) -> TrainedModel:
    """The trained network as a `TrainedModel`: epochs, last training loss and (given a test
    split) test quality, from `P_test` (its outputs on X_test in probability units) when the
    caller has them. Its refit function is set by `trainer.train`, which knows the engine."""
    model = TrainedModel(keras=net, task=task, train_seconds=seconds)
    model.quality = {"epochs": float(len(losses)), "train_loss": float(losses[-1])}
    if P_test is not None and y_test is not None:
        model.quality.update(quality_of(model.task, P_test, y_test))
    elif X_test is not None and y_test is not None:
        model.quality.update(quality(model, X_test, y_test))
    model.n_evals = 0
    return model
