"""Use varbench's methods on your own trained Keras model, outside the harness.

`importance(model, X, y, method=..., groups=...)` reads the model's inputs (one tensor, a list or
a dict of named inputs: `varbench.models.inputs`) and head from the network (regression with k
outputs, sigmoid or logit binary classifier, softmax or logits k-class classifier), checks the
labels against it, runs a registered method per variable (a column of a float input, a whole
categorical input, or a group of columns) and returns a DataFrame with the importance and its
standard error and interval.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from varbench.api_checks import check_call
from varbench.datasets.base import Dataset, GroundTruth, _check_groups, variables
from varbench.methods.uncertainty import LEVEL, with_uncertainty
from varbench.methods.outputs import combine, explain_outputs
from varbench.methods.variables import check_categorical, check_groups, to_variables
from varbench.models.inputs import Variables, from_model
from varbench.models.layer_view import embedding_view
from varbench.models.trained import TrainedModel, detect_head
from varbench.models.wrappers import unwrap
from varbench.progress import expected_evals, progress_bar
from varbench.refits import ESTIMATOR, refit_importance
from varbench.registry import method_info, registry
from varbench.registry import available_methods as _available

# `se` is the standard error of `importance` (not a standard deviation across rows or repeats, which
# is what scikit-learn's permutation_importance calls importances_std); `std` is the same column
# under its former name, kept as an alias.
RESULT_COLUMNS = ("importance", "se", "ci_low", "ci_high", "std")


def available_methods() -> list[str]:
    """Names of the registered importance methods (their `_meta_` says `returns: importance`;
    ceilings such as the oracle, which read the data's truth, are not listed).

    Examples
    --------
    >>> from varbench.api import available_methods
    >>> "kernel_shap" in available_methods() and "oracle" not in available_methods()
    True
    """
    return _available("importance")


def describe_methods() -> pd.DataFrame:
    """One row per importance method: what it explains (an output or the loss), what it needs,
    how it honours variable groups and categorical variables (resample, mask, embedding, ignores
    or refuse: `varbench.methods.variables`), and whether it runs on a user's own Keras model.
    Printed, the table shows every column whole.

    Examples
    --------
    >>> import varbench
    >>> table = varbench.describe_methods()
    >>> table.loc["permutation", "categorical"]
    'resample'
    """
    rows = []
    for name in available_methods():
        m = registry()[name].meta
        rows.append({"method": name, "estimand": m.estimand, "scope": m.scope, "explains": m.explains,
                     "groups": m.groups, "categorical": m.categorical, "needs": ",".join(m.needs) or "-",
                     "own_model": "no (retrains: needs the shared trainer)" if "trainer" in m.needs else "yes"})
    return MethodTable(rows).set_index("method")


class MethodTable(pd.DataFrame):
    """`describe_methods()`'s table: a DataFrame that prints whole (every column, no truncation)."""

    @property
    def _constructor(self):
        return MethodTable

    def __repr__(self) -> str:
        return self.to_string()


def method_callable(name: str, **params: Any):
    """The registered method `name` as a callable (model, data, rng), with params overriding
    its YAML defaults (its `_meta_` block is not passed on).

    Examples
    --------
    >>> from varbench.api import method_callable
    >>> method_callable("permutation", n_repeats=2).keywords["n_repeats"]
    2
    """
    from hydra.utils import instantiate  # lazy: Hydra loads when a method is first built
    from omegaconf import OmegaConf

    cfg = OmegaConf.merge(method_info(name).config, params, {"_partial_": True})
    return instantiate(cfg)


# ----------------------------------------------------------------------------- inputs

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
    if task is not None or isinstance(model, TrainedModel) or not hasattr(model, "outputs"):
        return
    head = detect_head(model, None)
    yv = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    if head.activation == "linear" and yv.size and np.issubdtype(yv.dtype, np.number) \
            and np.all(np.isin(yv, (0, 1))) and yv.ndim == 1:
        raise ValueError("the model's output is linear (no sigmoid/softmax) and y holds 0/1 labels: pass "
                         "task='classification' if the output is a logit, or task='regression'")


def _wrap(model: Any, task: str | None, output: str, inputs: Variables) -> TrainedModel:
    """The user's network as a TrainedModel, its task read from the head where it can be, taking
    the variable matrix through `inputs` unless that is the network's own (n, d) float table."""
    decode = None if inputs.is_plain else inputs
    if isinstance(model, TrainedModel):
        return model if decode is None else dataclasses.replace(model, inputs=decode, _fns={})
    return TrainedModel(keras=model, task=task or detect_head(model, None).task, output=output, inputs=decode)


def _network(model: Any) -> Any:
    """The keras.Model of `model` (a keras.Model or a TrainedModel); one-line error otherwise."""
    import keras

    if isinstance(model, TrainedModel):
        return model.keras
    if not isinstance(model, keras.Model):
        raise ValueError(f"model is a {type(model).__name__}: expected a keras.Model, a fitted scikeras "
                         "KerasRegressor/KerasClassifier, or a varbench TrainedModel")
    return model


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
    progress: bool = True,
    refits: int | None = None,
    fit_kwargs: Mapping[str, Any] | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Importance of each variable of a trained Keras `model` on data (X, y) by a registered method.

    Parameters
    ----------
    model : keras.Model, scikeras KerasRegressor/KerasClassifier (fitted) or TrainedModel
        Any Keras 3 model whose inputs are one tensor, a list, or a dict of named inputs of shape
        (n,) or (n, k). A variable is a column of a numeric (float) input, or a whole categorical
        input column (integer-coded or string input feeding a lookup or Embedding layer; see
        `varbench.models.inputs`). Its head is read from the network: a sigmoid unit (binary,
        P(class 1) explained as is), a softmax over k units (k classes), or linear units
        (regression with 1 or k outputs; logits when task="classification" or "multiclass" says
        so). A scikeras estimator is unwrapped (`model_`) and y goes through its fitted target
        encoder (`varbench.models.wrappers`).
    X : numpy array, DataFrame, list or dict of arrays
        As `model.predict` takes it. A DataFrame's columns become the variable names (for a
        dict model they are matched to the input names); columns are converted one by one: bool
        to 0/1, nullable Int64/Float64 exactly (a column with missing values is refused, named),
        `category` dtype as a categorical variable; repeated names are refused.
    y : array-like
        Regression values (n,) or (n, k), 0/1 labels, or class labels 0..k-1 / one-hot (n, k).
    method : str
        A registered method (`available_methods()`, `describe_methods()`).
    task : {"regression", "classification", "multiclass"}, optional
        Needed only where the head cannot say: a linear output (values or logits).
    feature_names : list of str, optional
        One name per column of the variable matrix (default: DataFrame columns, input names).
    groups : {variable name: [column names or indices]}, optional
        Columns judged as one variable (e.g. a one-hot categorical; see `describe_methods()`
        for how each method honours groups).
    X_train, y_train : optional
        The model's training data, used for reference samples (baselines, SHAP backgrounds,
        LIME's scaling); default (X, y).
    seed : int
        The method's random stream (same seed, same numbers).
    output : {"auto", "prob", "logit"}
        For a classifier: explain probabilities (auto, prob) or logits.
    output_names : list of str, optional
        Names of the per-output columns (default: a scikeras classifier's classes, else 0..k-1).
    n_bootstrap : int
        Bootstrap resamples for the uncertainty of methods with local attributions.
    progress : bool
        Show one progress bar (tqdm, on stderr) stating the expected number of model
        evaluations, when the call runs longer than a couple of seconds (`varbench.progress`).
    refits : int >= 2, optional
        Opt-in: also retrain `refits` clones of the network (`keras.models.clone_model`, compiled
        as the model was) on (X_train, y_train), which are then required, explain each with the
        same seed, and give the mean over the user's model and the refits with a t interval over
        those R + 1 models, which holds training variance (`varbench.refits`).
    fit_kwargs : dict, optional
        With refits: `keras.Model.fit` arguments of the refits (epochs, batch_size,
        validation_split, callbacks, ...); left out, Keras's defaults, and epochs as recorded in
        `model.history`.
    **params
        Override the method's parameters (e.g. n_repeats=10).

    Returns
    -------
    pandas.DataFrame
        Indexed by variable: `importance`; `se`, its standard error (the uncertainty of the
        estimate, not scikit-learn's `importances_std`, which is the standard deviation over
        repeats: se = that std / sqrt(n_repeats) for permutation); `ci_low`, `ci_high`, a 95 %
        interval (NaN where the method gives no uncertainty; `varbench.methods.uncertainty`);
        `std`, the same values as `se` under their former name (an alias). For a model with
        several outputs that a method explains one at a time, one `importance[<output>]` column
        per output is added, and `importance` is their mean. `.attrs`: method, params, head,
        explains, n_model_evals, ci_level, interval_kind ("estimator": the interval covers the
        estimator's noise for this trained model only). With refits, interval_kind is
        "training_and_estimator", also a column, beside sd_over_models, within_se and n_models
        (`varbench.refits`).

    Examples
    --------
    >>> import keras, numpy as np, varbench
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)).astype("float32")
    >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> net.set_weights([np.array([[2.0], [0.0], [0.5]], "float32"), np.zeros(1, "float32")])
    >>> r = varbench.importance(net, X, X @ np.array([2.0, 0.0, 0.5]), method="permutation")
    >>> r["importance"].idxmax()
    'x0'
    """
    if refits is not None or fit_kwargs is not None:
        return refit_importance(importance, model, X, y, refits=refits, fit_kwargs=fit_kwargs, X_train=X_train,
                                y_train=y_train, seed=seed, feature_names=feature_names, method=method, task=task,
                                groups=groups, output=output, output_names=output_names,
                                n_bootstrap=n_bootstrap, progress=progress, **params)
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
    model, y, y_train, class_names = unwrap(model, y, y_train)
    net = _network(model)
    inputs = from_model(net, X, X_train, list(feature_names) if feature_names is not None else None)
    Xa, names = inputs.encode(X), list(inputs.names)
    _check_label_task(model, task, y)
    wrapped = _wrap(model, task, output, inputs)
    ya = _labels(y, wrapped, "y")
    if X_train is not None:
        Xt, yt = inputs.encode(X_train, "X_train"), _labels(y_train, wrapped, "y_train")
    else:
        Xt, yt = Xa, ya
    data = _user_data(Xa, ya, Xt, yt, wrapped.task, names, _groups(groups, names), inputs.categorical)
    if method == "loco" and "alpha" not in params:
        params["alpha"] = 1 - LEVEL
    fn = method_callable(method, **params)
    check_groups(method, meta.groups, data)
    check_categorical(method, meta.categorical, data)
    if "dense_weights" in meta.needs and wrapped.inputs is not None:
        raise ValueError(f"method {method!r} reads the first Dense layer's rows as the input columns, which holds "
                         "only for a model taking one (n, d) float table; this one takes "
                         f"{inputs.structure} inputs {[s.name for s in inputs.slots]}: use e.g. permutation")
    run_model, run_data = wrapped, data
    if meta.categorical == "embedding" and data.categorical:  # gradients at the embedding outputs
        run_model, run_data, grouped = embedding_view(wrapped, data, method)

    all_params = {k_: v for k_, v in info.config.items() if k_ != "_target_"} | params
    n_views = wrapped.n_outputs if wrapped.n_outputs > 1 and (
        meta.explains == "output" or (meta.explains == "loss" and wrapped.task == "regression")) else 1
    total = expected_evals(method, all_params, Xa.shape[0], Xt.shape[0], data.n_variables, n_views)
    run_model.n_evals = 0
    with progress_bar(method, total, progress) as update:
        run_model.progress = update
        try:
            overall, atts = explain_outputs(method, fn, run_model, run_data, lambda: np.random.default_rng(seed),
                                            meta.explains, meta.groups, meta.categorical)
        finally:
            run_model.progress = None
    if run_data is not data:  # each variable: the sum over its embedding columns (as Captum's layer attribution)
        per = [to_variables(a, grouped, "sum") for a in (atts or [overall])]
        overall, atts = combine(per), (per if atts else [])
    overall = with_uncertainty(overall, np.random.default_rng([int(seed), 1]), n_bootstrap)
    per_output = bool(atts)
    index = [v for v, _ in data.variables]
    df = pd.DataFrame({"importance": overall.importance, "se": overall.std, "ci_low": overall.ci_low,
                       "ci_high": overall.ci_high, "std": overall.std}, index=pd.Index(index, name="variable"))
    if per_output:
        k = len(atts)
        given = output_names if output_names is not None else class_names
        labels = list(given) if given is not None else [str(j) for j in range(k)]
        if len(labels) != k:
            raise ValueError(f"output_names has {len(labels)} names for {k} outputs")
        for label, att in zip(labels, atts):
            df[f"importance[{label}]"] = att.importance
    df.attrs.update(method=method, params=all_params,
                    head=wrapped.head.describe(), explains=_explains(meta.explains, wrapped, per_output),
                    interval_kind=ESTIMATOR,
                    groups=meta.groups if data.groups else "none", ci_level=overall.ci_level,
                    n_model_evals=int(run_model.n_evals),
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
               names: list[str], groups: dict[str, list[Any]] | None, categorical: Sequence[int] = ()) -> Dataset:
    """The user's data as a Dataset with an unknown truth (one entry per variable)."""
    n_var = len(variables(names, _check_groups(groups, names)))
    unknown = GroundTruth(importance=np.ones(n_var), relevant=np.ones(n_var, bool), definition="unknown (user data)")
    return Dataset(X_train=X_train, y_train=y_train, X_test=X, y_test=y, task=task, truth=unknown,
                   feature_names=names, name="user", groups=groups, categorical=tuple(categorical))


def plot_importance(result: pd.DataFrame, ax: Any = None, per_output: bool = True, title: str | None = None,
                    path: str | None = None):
    """Bars of `importance` with 95 % error bars (where `ci_low`/`ci_high` are finite), sorted, and,
    when the result has `importance[<output>]` columns and per_output, grouped per-output bars.

    Returns the matplotlib Axes. In a notebook the figure shows by itself; in a script, pass
    `path="importance.png"` (the figure is saved there, its format read from the suffix) or call
    `matplotlib.pyplot.show()` after it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd, varbench
    >>> r = pd.DataFrame({"importance": [0.5, 0.1], "ci_low": [0.4, 0.0], "ci_high": [0.6, 0.2]},
    ...                  index=["x0", "x1"])
    >>> ax = varbench.plot_importance(r)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['x1', 'x0']
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
    if path is not None:
        ax.figure.savefig(path, bbox_inches="tight")
    return ax
