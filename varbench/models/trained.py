"""A trained model as the methods see it: the Keras network, its output head, and one batched,
compiled engine.

Every model evaluation a method makes goes through `predict` / `gradient` / `loss` here: inputs
are cut into blocks of at most `chunk_size` rows by `blocks` (the one blocking rule: methods
that build many inputs per explained row use it too, so peak memory has one knob), each runs through one traced
`tf.function` (no retracing: the signature has a free batch dimension), and rows are counted
in `n_evals`. `varbench.models.engine` runs them: blocks built in order in the caller's thread
and evaluated one per inter-op thread at once (`map_blocks`), one trace shared by every network
of an architecture of built-in layers (`shared_function`), both bitwise what one block after
another through each model's own trace gives.

The head is read from the network (`detect_head`), never guessed from labels: its number of
output units and its final activation (linear, sigmoid or softmax). What a method explains is
one concept, `TrainedModel.target`: the output column (a regression output, or a class) whose
value, probability or logit `predict` and `gradient` return. Loss-based methods use `loss`,
the head's own loss: squared error (mean over outputs), log loss on P(class 1), or categorical
cross-entropy.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from varbench.models.engine import COUNT_LOCK, map_blocks, shared_function

OUTPUTS = ("auto", "prob", "logit")
TASKS = ("regression", "classification", "multiclass")
ACTIVATIONS = ("linear", "sigmoid", "softmax")
CLIP = 1e-7  # probabilities are clipped to [CLIP, 1 - CLIP] inside every log loss


def pointwise_loss(task: str, p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The one loss rule for one predicted value per row, elementwise (broadcasting): squared
    error for regression; log loss of p = P(class 1), clipped to [CLIP, 1 - CLIP], for a binary
    classifier. (Categorical cross-entropy: `TrainedModel.loss_of_probabilities`.)"""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if task == "regression":
        return (p - y) ** 2
    if task != "classification":
        raise ValueError(f"a loss of one value per row is defined for regression and binary heads, not task={task!r}")
    p = np.clip(p, CLIP, 1 - CLIP)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


@dataclass(frozen=True)
class Head:
    """The network's output head: task, number of output units, final activation."""

    task: str
    n_outputs: int
    activation: str

    @property
    def n_classes(self) -> int:
        """Classes of a classifier (2 for a binary head); 0 for regression."""
        if self.task == "regression":
            return 0
        return 2 if self.task == "classification" else self.n_outputs

    def describe(self) -> str:
        what = {"regression": f"regression with {self.n_outputs} output(s)",
                "classification": "binary classifier (one unit)",
                "multiclass": f"{self.n_outputs}-class classifier"}[self.task]
        return f"{what}, {self.activation} output"


def final_activation(net: Any) -> str:
    """"linear", "sigmoid", "softmax" or another activation name of the network's last layer."""
    layer = net.layers[-1]
    kind = layer.__class__.__name__
    if kind == "Softmax":
        return "softmax"
    act = getattr(layer, "activation", None)
    if act is None:
        return "linear"
    return getattr(act, "__name__", repr(act))


def detect_head(net: Any, task: str | None = None) -> Head:
    """The head of a single-output Keras network. `task` (regression |
    classification | multiclass) is needed only where the network cannot say: a linear output
    (value or logits). One-line ValueError for what is not supported."""
    if task is not None and task not in TASKS:
        raise ValueError(f"task={task!r} is invalid: expected one of {TASKS} or None")
    outputs = getattr(net, "outputs", None) or [None]
    if len(outputs) != 1:
        raise ValueError(f"the model has {len(outputs)} output tensors: varbench explains one output "
                         "tensor of shape (n, k) (concatenate the heads, or explain one at a time)")
    shape = tuple(net.outputs[0].shape) if getattr(net, "outputs", None) else None
    if shape is None or len(shape) != 2 or shape[1] is None:
        raise ValueError(f"the model's output has shape {shape}: expected (n, k) with k units")
    k, act = int(shape[1]), final_activation(net)
    if act not in ACTIVATIONS:
        raise ValueError(f"the model's last layer has activation {act!r}: supported heads end in "
                         f"{ACTIVATIONS} (regression, sigmoid or softmax classifiers)")
    if act == "sigmoid":
        if k != 1:
            raise ValueError(f"the model ends in a sigmoid with {k} units: expected 1 unit (binary "
                             "classifier); multi-label heads are not supported")
        found = "classification"
    elif act == "softmax":
        if k < 2:
            raise ValueError("the model ends in a softmax over 1 unit: expected k >= 2 classes")
        found = "multiclass"
    else:
        found = task or "regression"
        if found == "classification" and k != 1:
            found = "multiclass" if k >= 2 else found
        if found == "multiclass" and k < 2:
            raise ValueError("task='multiclass' needs k >= 2 output units (logits); the model has 1")
    if task is not None and task != found and not (task == "classification" and found == "multiclass"):
        raise ValueError(f"task={task!r} contradicts the model's head ({k} unit(s), {act} output): "
                         f"expected task={found!r}")
    return Head(found, k, act)


def head_probabilities(head: Head, out: Any) -> Any:
    """The network's output tensor (..., k) in probability units: class probabilities (binary:
    P(class 1) as one column) from a linear head's logits; a sigmoid/softmax head's output and
    regression outputs as they are."""
    import tensorflow as tf

    if head.task == "regression" or head.activation != "linear":
        return out
    return tf.sigmoid(out) if head.task == "classification" else tf.nn.softmax(out, axis=-1)


@dataclass
class TrainedModel:
    """keras: the network; task: "regression" | "classification" | "multiclass" (checked against
    the network's head); output: what is explained for a classifier ("prob"/"auto" = the class
    probability, "logit" = its logit, derived from the network's pre-activation when the head
    ends in a sigmoid/softmax); target: the output column explained (None = the only one);
    inputs: a `varbench.models.inputs.Variables` map when the network takes anything but one
    float (n, d) table (several inputs, a dict, integer or string inputs): the methods' matrices
    are then its variable matrix, decoded into the network's inputs inside the compiled call;
    progress: an optional callback given the rows of each evaluated block (a progress bar)."""

    keras: Any
    task: str
    output: str = "auto"
    chunk_size: int = 8192
    quality: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0
    refit: Callable[[np.ndarray, np.ndarray], "TrainedModel"] | None = None
    n_evals: int = 0
    target: int | None = None
    inputs: Any = None
    progress: Callable[[int], Any] | None = field(default=None, repr=False)
    _fns: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"output={self.output!r} is not one of {OUTPUTS}")
        self.head = detect_head(self.keras, self.task)
        self.task = self.head.task
        if self.inputs is None and len(getattr(self.keras, "inputs", None) or [None]) != 1:
            raise ValueError(f"the model has {len(self.keras.inputs)} inputs: pass it to varbench.importance, "
                             "which maps several, named or categorical inputs (varbench.models.inputs)")
        if self.target is not None and not (0 <= int(self.target) < self.head.n_outputs):
            raise ValueError(f"target={self.target!r} is invalid: expected an output index in "
                             f"[0, {self.head.n_outputs})")

    # ------------------------------------------------------------------ what is explained
    @property
    def n_features(self) -> int:
        """Columns of the matrices methods pass (the variable matrix when `inputs` is set)."""
        if self.inputs is not None:
            return self.inputs.n_columns
        return int(self.keras.inputs[0].shape[-1])

    def _net(self, x, net: Any = None):
        """The network (or a part of it taking the same inputs) on a block x of the matrix."""
        net = self.keras if net is None else net
        if self.inputs is None:
            return net(x, training=False)
        with warnings.catch_warnings():  # a dict of the inputs Keras asked for, whatever its mapping type
            warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
            return net(self.inputs.decode(x), training=False)

    @property
    def n_outputs(self) -> int:
        """Output columns a method can explain (1 for regression with one output and binary)."""
        return self.head.n_outputs

    @property
    def explains_prob(self) -> bool:
        return self.task != "regression" and self.output in ("auto", "prob")

    def for_output(self, j: int) -> "TrainedModel":
        """A view explaining output column j (sharing the compiled engine; its own n_evals)."""
        return dataclasses.replace(self, target=int(j), n_evals=0)

    def _column(self) -> int:
        if self.target is not None:
            return int(self.target)
        if self.n_outputs == 1:
            return 0
        raise ValueError(f"the model has {self.n_outputs} outputs: choose the one to explain with "
                         "model.for_output(j) (varbench.importance does this per output)")

    # ------------------------------------------------------------------ tensors
    def _pre_activation(self):
        """x -> the last layer's input times its kernel plus bias (the logits of a sigmoid/softmax
        Dense head), or None when the head is not a Dense layer with that activation."""
        import keras

        last = self.keras.layers[-1]
        if last.__class__.__name__ != "Dense":
            return None
        try:
            body = keras.Model(self.keras.input, last.input)
        except Exception:  # noqa: BLE001 - not a functional graph we can cut
            return None
        kernel, bias = last.kernel, last.bias

        def logits(x):
            z = keras.ops.matmul(self._net(x, body), kernel)
            return z + bias if bias is not None else z

        return logits

    def probabilities_tensor(self, x):
        """(n, k) class probabilities (binary: P(class 1) as one column); regression: outputs."""
        return head_probabilities(self.head, self._net(x))

    def explained_tensor(self, x):
        """(n, k): what `predict` explains for every output column (value, probability or logit)."""
        import tensorflow as tf

        if self.task == "regression" or (not self.explains_prob and self.head.activation == "linear"):
            return self._net(x)
        if self.explains_prob:
            return self.probabilities_tensor(x)
        if "pre" not in self._fns:
            self._fns["pre"] = self._pre_activation()
        if self._fns["pre"] is not None:
            return self._fns["pre"](x)
        p = tf.clip_by_value(self._net(x), CLIP, 1 - CLIP)  # fallback: from probabilities
        return tf.math.log(p) - tf.math.log1p(-p) if self.task == "classification" else tf.math.log(p)

    def _graph(self, kind: str, col: int | None, x):
        """The tensor a compiled function of `kind` returns for inputs x (traced, never eager)."""
        import tensorflow as tf

        if kind == "predict":
            return self.explained_tensor(x)[:, col]
        if kind == "gradient":
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = self.explained_tensor(x)[:, col]
            return tape.gradient(out, x)
        if kind == "all":
            return self.explained_tensor(x)
        return self.probabilities_tensor(x)  # "proba"

    def _compiled(self, kind: str):
        key = (kind, self.target if kind in ("predict", "gradient") else None, self.output)
        if key not in self._fns:
            import tensorflow as tf

            col = self._column() if kind in ("predict", "gradient") else None
            spec = tf.TensorSpec([None, self.n_features], tf.float32)  # a free batch dimension: one trace
            shared = shared_function(self, kind, col) if self.inputs is None else None
            if shared is not None:  # one trace for every network of this architecture
                weights = [v.value for v in self.keras.weights]  # the variables: read at each call
                fn = shared.get_concrete_function(weights, spec)
                self._fns[key] = lambda x: fn(weights, tf.convert_to_tensor(x, tf.float32))
            else:
                fn = tf.function(lambda x: self._graph(kind, col, x)).get_concrete_function(spec)
                self._fns[key] = lambda x: fn(tf.convert_to_tensor(x, tf.float32))
        return self._fns[key]

    def _run(self, kind: str, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected inputs of shape (n, {self.n_features}), got {X.shape}")
        if kind in ("predict", "gradient"):
            self._column()  # a clear error before tracing
        fn = self._compiled(kind)
        parts = map_blocks(self.blocks(X.shape[0], 1), lambda b: X[b[0]:b[1]], lambda x: self._counted(fn(x).numpy()))
        with COUNT_LOCK:
            self.n_evals += X.shape[0]
        if not parts:
            shape = {"predict": (0,), "gradient": (0, self.n_features)}.get(kind, (0, self.n_outputs))
            return np.zeros(shape, np.float32)
        return np.concatenate(parts, axis=0)

    def _counted(self, out: np.ndarray) -> np.ndarray:
        """A block's result, reported to the progress callback (`varbench.progress`) if any."""
        if self.progress is not None:
            self.progress(out.shape[0])
        return out

    # ------------------------------------------------------------------ the engine
    def blocks(self, n_items: int, rows_per_item: int) -> list[tuple[int, int]]:
        """The one blocking rule of every batched evaluation: (lo, hi) ranges over n_items items
        (explained rows, repeats, ...) each expanding to rows_per_item model inputs, so that a
        block holds at most `chunk_size` inputs (at least one item). `chunk_size` is the one knob."""
        step = max(1, self.chunk_size // max(1, int(rows_per_item)))
        return [(lo, min(n_items, lo + step)) for lo in range(0, n_items, step)]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The explained output per row, shape (n,): value, class probability or logit."""
        return self._run("predict", X)

    def predict_all(self, X: np.ndarray) -> np.ndarray:
        """Every output column, shape (n, k), in the explained units."""
        return self._run("all", X)

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """(n, k) class probabilities (binary: P(class 1), one column); regression: the outputs."""
        return self._run("proba", X)

    def gradient(self, X: np.ndarray) -> np.ndarray:
        """d output / d x per row, shape (n, d). Counts one evaluation per row."""
        return self._run("gradient", X)

    def loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row loss of the head: squared error (of the target output, or the mean over
        outputs), log loss on P(class 1), or categorical cross-entropy (y: int labels)."""
        return self.loss_of_probabilities(self.probabilities(X), y)

    def loss_of_probabilities(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The head's per-row loss of predictions P in probability units (n, k) (regression:
        values). Needed where predictions are averaged (imputed), as in SAGE."""
        P = np.asarray(P, dtype=np.float64).reshape(np.shape(P)[0], -1)
        y = np.asarray(y, dtype=np.float64)
        if self.task == "regression":
            Y = y.reshape(P.shape[0], -1)
            if self.target is not None and P.shape[-1] > 1:
                return pointwise_loss("regression", P[:, self.target], Y[:, self.target])
            return np.mean(pointwise_loss("regression", P, Y), axis=-1)
        if self.task == "classification":
            return pointwise_loss("classification", P[:, 0], y.reshape(-1))
        labels = y.reshape(-1).astype(int)
        return -np.log(np.clip(P[np.arange(P.shape[0]), labels], CLIP, 1.0))
