"""A trained model as the methods see it: the Keras network plus one batched, compiled engine.

Every model evaluation a method makes goes through `predict` / `gradient` here: inputs are
cut into fixed-size chunks (bounded memory), each chunk runs through one traced `tf.function`
(no retracing: the signature has a free batch dimension), and rows are counted in `n_evals`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

OUTPUTS = ("auto", "prob", "logit")


@dataclass
class TrainedModel:
    """keras: the network; task: "regression" | "classification"; output: what is explained
    for classification ("prob" = P(class 1), "logit"; "auto" = prob)."""

    keras: Any
    task: str
    output: str = "auto"
    chunk_size: int = 8192
    quality: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0
    refit: Callable[[np.ndarray, np.ndarray], "TrainedModel"] | None = None
    n_evals: int = 0
    _fns: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"output={self.output!r} is not one of {OUTPUTS}")

    @property
    def n_features(self) -> int:
        return int(self.keras.inputs[0].shape[-1])

    @property
    def explains_prob(self) -> bool:
        return self.task == "classification" and self.output in ("auto", "prob")

    def _head(self, x):
        import tensorflow as tf

        z = self.keras(x, training=False)[:, 0]
        return tf.sigmoid(z) if self.explains_prob else z

    def _compiled(self, kind: str):
        if kind not in self._fns:
            import tensorflow as tf

            spec = [tf.TensorSpec([None, self.n_features], tf.float32)]
            if kind == "predict":
                fn = tf.function(self._head, input_signature=spec)
            else:
                def grad(x):
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        out = self._head(x)
                    return tape.gradient(out, x)

                fn = tf.function(grad, input_signature=spec)
            self._fns[kind] = fn
        return self._fns[kind]

    def _run(self, kind: str, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected inputs of shape (n, {self.n_features}), got {X.shape}")
        fn = self._compiled(kind)
        parts = [fn(X[i:i + self.chunk_size]).numpy() for i in range(0, X.shape[0], self.chunk_size)]
        self.n_evals += X.shape[0]
        if not parts:
            return np.zeros((0,) if kind == "predict" else (0, self.n_features), np.float32)
        return np.concatenate(parts, axis=0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Model output per row, shape (n,): value, P(class 1) or logit."""
        return self._run("predict", X)

    def gradient(self, X: np.ndarray) -> np.ndarray:
        """d output / d x per row, shape (n, d). Counts one evaluation per row."""
        return self._run("gradient", X)

    def loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row loss of the prediction: squared error, or log loss on P(class 1)."""
        y = np.asarray(y, dtype=np.float64)
        if self.task == "regression":
            return (self.predict(X).astype(np.float64) - y) ** 2
        if self.explains_prob:
            p = self.predict(X).astype(np.float64)
        else:
            p = 1.0 / (1.0 + np.exp(-self.predict(X).astype(np.float64)))
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))
