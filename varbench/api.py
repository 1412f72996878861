"""Use varbench's methods on your own trained Keras model, outside the harness.

`importance(model, X, y, method=..., groups=...)` reads the model's head from the network
(regression with k outputs, sigmoid or logit binary classifier, softmax or logits k-class
classifier), checks the labels against it, runs a registered method per variable (a group of
columns is one variable) and returns a DataFrame with the importance and its uncertainty.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from varbench.api_checks import check_call
from varbench.datasets.base import Dataset, GroundTruth
from varbench.methods.uncertainty import LEVEL, with_uncertainty
from varbench.methods.outputs import explain_outputs
from varbench.models.trained import TrainedModel

RESULT_COLUMNS = ("importance", "std", "ci_low", "ci_high")


def available_methods() -> list[str]:
    """Names of the registered importance methods (their `_meta_` says `returns: importance`;
    ceilings such as the oracle, which read the data's truth, are not listed).

    Examples
    --------
    >>> from varbench.api import available_methods
    >>> "kernel_shap" in available_methods() and "oracle" not in available_methods()
    True
    """
    from varbench.registry import available_methods as _available

    return _available("importance")


def describe_methods() -> pd.DataFrame:
    """One row per importance method: what it explains (an output or the loss), what it needs,
    how it honours variable groups, and whether it runs on a user's own Keras model.

    Examples
    --------
    >>> import varbench
    >>> varbench.describe_methods().loc["permutation", ["explains", "groups", "own_model"]].tolist()
    ['loss', 'joint', 'yes']
    """
    from varbench.registry import registry

    rows = []
    for name in available_methods():
        m = registry()[name].meta
        rows.append({"method": name, "estimand": m.estimand, "scope": m.scope, "explains": m.explains,
                     "groups": m.groups, "needs": ",".join(m.needs) or "-",
                     "own_model": "no (retrains: needs the shared trainer)" if "trainer" in m.needs else "yes"})
    return pd.DataFrame(rows).set_index("method")


def method_callable(name: str, **params: Any):
    """The registered method `name` as a callable (model, data, rng), with params overriding
    its YAML defaults (its `_meta_` block is not passed on).

    Examples
    --------
    >>> from varbench.api import method_callable
    >>> method_callable("permutation", n_repeats=2).keywords["n_repeats"]
    2
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from varbench.registry import method_info

    cfg = OmegaConf.merge(method_info(name).config, params, {"_partial_": True})
    return instantiate(cfg)


# ----------------------------------------------------------------------------- inputs

def _table(X: Any, name: str, names: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """(float32 matrix, column names) from a numpy array or a pandas DataFrame."""
    if isinstance(X, pd.DataFrame):
        bad = [str(c) for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        if bad:
            raise ValueError(f"{name} has non-numeric columns {bad}: encode them (e.g. one-hot) and pass "
                             "groups={'name': [their columns]}")
        cols = [str(c) for c in X.columns]
        X = X.to_numpy()
        names = names or cols
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D table (n, d), got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)):
        raise ValueError(f"{name} must hold numbers, got dtype {X.dtype}")
    return X.astype(np.float32), names or [f"x{j}" for j in range(X.shape[1])]


def _labels(y: Any, model: TrainedModel, name: str) -> np.ndarray:
    """y checked against the model's head: regression values (n,) or (n, k); 0/1 labels for a
    binary head; int labels 0..k-1 or one-hot (n, k) for a k-class head (returned as labels)."""
    y = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    head, k = model.head, model.n_outputs
    if not np.issubdtype(y.dtype, np.number) and not np.issubdtype(y.dtype, np.bool_):
        raise ValueError(f"{name} must hold numbers (labels as integers), got dtype {y.dtype}")
    y = y.astype(np.float64)
    if head.task == "regression":
        if k == 1 and y.ndim != 1:
            raise ValueError(f"{name} has shape {y.shape}: the model is a {head.describe()}, expected (n,)")
        if k > 1 and y.shape[1:] != (k,):
            raise ValueError(f"{name} has shape {y.shape}: the model is a {head.describe()}, expected (n, {k})")
        return y
    if head.task == "classification":
        if y.ndim != 1 or not np.all(np.isin(y, (0.0, 1.0))):
            raise ValueError(f"{name} must be 0/1 labels of shape (n,): the model is a {head.describe()}")
        return y
    if y.ndim == 2:
        if y.shape[1] != k or not (np.all(np.isin(y, (0.0, 1.0))) and np.all(y.sum(axis=1) == 1)):
            raise ValueError(f"{name} has shape {y.shape}: the model is a {head.describe()}, expected integer "
                             f"labels 0..{k - 1} of shape (n,) or one-hot rows of shape (n, {k})")
        return y.argmax(axis=1).astype(np.float64)
    if y.ndim != 1 or not np.all(y == np.round(y)) or y.min() < 0 or y.max() > k - 1:
        shown = np.unique(y)[:6].tolist() if y.ndim == 1 else y.shape
        raise ValueError(f"{name} holds {shown}: the model is a {head.describe()}, expected integer labels "
                         f"0..{k - 1} (or one-hot rows of shape (n, {k}))")
    return y


def _check_label_task(model: Any, task: str | None, y: Any) -> None:
    """A linear output with 0/1 labels: regression or logit? Not guessed: ask (one line)."""
    from varbench.models.trained import detect_head

    if task is not None or isinstance(model, TrainedModel) or not hasattr(model, "outputs"):
        return
    head = detect_head(model, None)
    yv = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    if head.activation == "linear" and yv.size and np.issubdtype(yv.dtype, np.number) \
            and np.all(np.isin(yv, (0, 1))) and yv.ndim == 1:
        raise ValueError("the model's output is linear (no sigmoid/softmax) and y holds 0/1 labels: pass "
                         "task='classification' if the output is a logit, or task='regression'")


def _wrap(model: Any, task: str | None, output: str) -> TrainedModel:
    """The user's network as a TrainedModel, its task read from the head where it can be."""
    import keras

    from varbench.models.trained import detect_head

    if isinstance(model, TrainedModel):
        return model
    if not isinstance(model, keras.Model):
        raise ValueError(f"model is a {type(model).__name__}: expected a keras.Model (or a varbench TrainedModel)")
    return TrainedModel(keras=model, task=task or detect_head(model, None).task, output=output)


def _groups(groups: Mapping[str, Sequence[Any]] | None, names: list[str]) -> dict[str, list[Any]] | None:
    if groups is None:
        return None
    if not isinstance(groups, Mapping):
        raise ValueError(f"groups={groups!r} is invalid: expected a mapping {{variable name: [columns]}}")
    return {str(g): list(cols) for g, cols in groups.items()}


# ----------------------------------------------------------------------------- importance

def importance(
    model: Any,
    X: Any,
    y: Any,
    method: str = "permutation",
    task: str | None = None,
    groups: Mapping[str, Sequence[Any]] | None = None,
    feature_names: Sequence[str] | None = None,
    X_train: Any = None,
    y_train: Any = None,
    seed: int = 0,
    output: str = "auto",
    output_names: Sequence[str] | None = None,
    n_bootstrap: int = 200,
    **params: Any,
) -> pd.DataFrame:
    """Importance of each variable of a trained Keras `model` on data (X, y) by a registered method.

    model: a single-input keras.Model; its head is read from the network: a sigmoid unit (binary,
        P(class 1) explained as is), a softmax over k units (k classes, per-class probabilities),
        or linear units (regression with 1 or k outputs; logits when task="classification" or
        "multiclass" says so). output="logit" explains logits instead of probabilities.
    X: numpy array or DataFrame (its column names become the variable names); y: regression
        values (n,) or (n, k), 0/1 labels, or class labels 0..k-1 / one-hot (n, k).
    groups: {variable name: [column names or indices]}, e.g. a one-hot categorical; each group is
        judged as one variable (see `describe_methods()` for how each method honours groups).
    X_train, y_train: the model's training data, used for reference samples (baselines, SHAP
        backgrounds, LIME's scaling); default (X, y).
    Extra keyword arguments override the method's parameters (e.g. n_repeats=10).

    Returns a DataFrame indexed by variable, columns `importance`, `std` (standard error),
    `ci_low`, `ci_high` (95 % interval; NaN where the method gives no uncertainty; see
    `varbench.methods.uncertainty`). For a model with several outputs that a method explains one
    at a time (k classes' probabilities, k regression outputs), one `importance[<output>]` column
    per output is added, and `importance` is their mean (the overall value; a loss-based method
    on a k-class model explains the cross-entropy once, with no per-class columns). `.attrs`:
    method, params, head, explains, n_model_evals, ci_level.

    Examples
    --------
    >>> import keras, numpy as np, varbench
    >>> X = np.random.default_rng(0).normal(size=(200, 3)).astype("float32")
    >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> net.set_weights([np.array([[2.0], [0.0], [-1.0]]), np.zeros(1)])  # f(x) = 2 x0 - x2
    >>> r = varbench.importance(net, X, X @ np.array([2.0, 0.0, -1.0]), method="permutation")
    >>> r.index.tolist(), r["importance"].idxmax(), r.attrs["explains"]
    (['x0', 'x1', 'x2'], 'x0', "the model's squared error")
    """
    from varbench.registry import method_info

    info = method_info(method)  # unknown method: one line listing the registered ones
    meta = info.meta
    if "trainer" in meta.needs:
        raise ValueError(f"method {method!r} retrains the network once per variable (needs: trainer), which only "
                         "the harness's shared trainer can do; on your own model use e.g. permutation, "
                         "kernel_shap or integrated_gradients (see describe_methods())")
    if meta.role == "ceiling":
        raise ValueError(f"method {method!r} reads the data's ground truth, which your data does not have")
    if (X_train is None) != (y_train is None):
        raise ValueError("X_train and y_train go together: give both or neither")
    check_call(params, X, y, X_train, y_train)  # rows, NaN, constant y, parameters as values and their sizes
    Xa, names = _table(X, "X", list(feature_names) if feature_names is not None else None)
    _check_label_task(model, task, y)
    wrapped = _wrap(model, task, output)
    if Xa.shape[1] != wrapped.n_features:
        raise ValueError(f"X has {Xa.shape[1]} columns: the model takes {wrapped.n_features} inputs")
    ya = _labels(y, wrapped, "y")
    if X_train is not None:
        Xt, _ = _table(X_train, "X_train", names)
        yt = _labels(y_train, wrapped, "y_train")
    else:
        Xt, yt = Xa, ya
    data = _user_data(Xa, ya, Xt, yt, wrapped.task, names, _groups(groups, names))
    if method == "loco" and "alpha" not in params:
        params["alpha"] = 1 - LEVEL
    fn = method_callable(method, **params)

    wrapped.n_evals = 0
    overall, atts = explain_outputs(method, fn, wrapped, data, lambda: np.random.default_rng(seed),
                                    meta.explains, meta.groups)
    overall = with_uncertainty(overall, np.random.default_rng([int(seed), 1]), n_bootstrap)
    per_output = bool(atts)
    index = [v for v, _ in data.variables]
    df = pd.DataFrame({"importance": overall.importance, "std": overall.std, "ci_low": overall.ci_low,
                       "ci_high": overall.ci_high}, index=pd.Index(index, name="variable"))
    if per_output:
        k = len(atts)
        labels = list(output_names) if output_names is not None else [str(j) for j in range(k)]
        if len(labels) != k:
            raise ValueError(f"output_names has {len(labels)} names for {k} outputs")
        for label, att in zip(labels, atts):
            df[f"importance[{label}]"] = att.importance
    df.attrs.update(method=method, params={k_: v for k_, v in info.config.items() if k_ != "_target_"} | params,
                    head=wrapped.head.describe(), explains=_explains(meta.explains, wrapped, per_output),
                    groups=meta.groups if data.groups else "none", ci_level=overall.ci_level,
                    n_model_evals=int(wrapped.n_evals),
                    extras={k_: float(v) for k_, v in (atts[0] if atts else overall).extras.items()})
    return df


def _explains(kind: str, model: TrainedModel, per_output: bool) -> str:
    """One line saying what was explained."""
    if kind == "loss":
        loss = {"regression": "squared error", "classification": "log loss",
                "multiclass": "categorical cross-entropy"}[model.task]
        return f"the model's {loss}" + (" per output; importance = mean over outputs" if per_output else "")
    if kind == "none":
        return "nothing (a reference method)"
    what = "value" if model.task == "regression" else ("probability" if model.explains_prob else "logit")
    if model.task == "classification":
        return f"the class-1 {what}"
    if per_output:
        unit, plural = ("output", "outputs") if model.task == "regression" else ("class", "classes")
        return f"the {what} of each {unit}; importance = mean over {plural} of the per-{unit} importance"
    return f"the {what}"


def _user_data(X: np.ndarray, y: np.ndarray, X_train: np.ndarray, y_train: np.ndarray, task: str,
               names: list[str], groups: dict[str, list[Any]] | None) -> Dataset:
    """The user's data as a Dataset with an unknown truth (one entry per variable)."""
    from varbench.datasets.base import _check_groups, variables

    n_var = len(variables(names, _check_groups(groups, names)))
    unknown = GroundTruth(importance=np.ones(n_var), relevant=np.ones(n_var, bool), definition="unknown (user data)")
    return Dataset(X_train=X_train, y_train=y_train, X_test=X, y_test=y, task=task, truth=unknown,
                   feature_names=names, name="user", groups=groups)


def plot_importance(result: pd.DataFrame, ax: Any = None, per_output: bool = True, title: str | None = None):
    """Bars of `importance` with 95 % error bars (where `ci_low`/`ci_high` are finite), sorted, and,
    when the result has `importance[<output>]` columns and per_output, grouped per-output bars.
    Returns the matplotlib Axes.

    Examples
    --------
    >>> import matplotlib, pandas as pd, varbench
    >>> matplotlib.use("Agg")
    >>> r = pd.DataFrame({"importance": [0.5, 0.2], "ci_low": [0.4, 0.1], "ci_high": [0.6, 0.3]}, index=["a", "b"])
    >>> varbench.plot_importance(r, title="by hand").get_title()
    'by hand'
    """
    import matplotlib.pyplot as plt

    missing = [c for c in ("importance", "ci_low", "ci_high") if c not in result.columns]
    if missing:
        raise ValueError(f"result lacks columns {missing}: expected the DataFrame of varbench.importance")
    df = result.sort_values("importance")
    outputs = [c for c in df.columns if c.startswith("importance[")] if per_output else []
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(df) + 1.2))
    pos = np.arange(len(df))
    err = np.vstack([df["importance"] - df["ci_low"], df["ci_high"] - df["importance"]])
    err = np.where(np.isfinite(err), err, 0)
    if outputs:
        h = 0.8 / (len(outputs) + 1)
        for i, c in enumerate(outputs):
            ax.barh(pos + (i + 1) * h - 0.4, df[c], height=h, alpha=0.6, label=c[len("importance["):-1])
        ax.barh(pos - 0.4, df["importance"], height=h, xerr=err, capsize=2, color="black", label="overall")
        ax.legend(fontsize="small", title="output")
    else:
        ax.barh(pos, df["importance"], xerr=err, capsize=3, color="tab:blue")
    ax.set_yticks(pos)
    ax.set_yticklabels(df.index)
    ax.set_xlabel("importance" + (" (95 % CI)" if np.isfinite(df["ci_low"]).any() else ""))
    ax.set_title(title or df.attrs.get("method", ""))
    ax.axvline(0, color="grey", lw=0.5)
    return ax
