"""Training variance in `varbench.importance`: `refits=R` retrains R clones of the user's network.

- **What is retrained.** `keras.models.clone_model` (the same architecture, fresh weights), compiled
  as the user's model was (`model.get_compile_config()`: the optimizer's config with a fresh
  state, the loss, the metrics), fitted on (X_train, y_train) with `fit_kwargs` (epochs,
  batch_size, validation_split, callbacks, ...). Anything `fit_kwargs` leaves out takes Keras's
  `fit` default (batch_size 32, no validation, no callbacks), except `epochs`, which, when left
  out, is the count Keras recorded in `model.history` (batch size, validation and callbacks are
  not recorded, so they are never guessed from it). Refit i is seeded with `seed` and i
  (`varbench.models.trainer.set_seed`: Python, NumPy and TensorFlow, ops deterministic), so the
  same call gives the same numbers. Models are trained one at a time and released, so memory
  does not grow with R.
- **Which models.** The user's own model and the R refits: R + 1 trainings of one recipe. Give
  `fit_kwargs` as the model was trained, or the user's model is a training of another recipe.
- **The interval** (interval_kind "training_and_estimator"): each model's point estimate
  theta_m by the method with the same seed; importance = their mean; se = sd_m(theta_m) /
  sqrt(M); a 95 % t interval with M - 1 degrees of freedom (M = R + 1). Each theta_m carries
  its model's estimator noise as well as its training's, so the spread over models holds both:
  this is an interval for the mean importance over trainings of the recipe, not for one model.
  `sd_over_models` is the spread of one training's estimate; `within_se` the root mean square of
  the models' own standard errors (the estimator's noise alone; NaN where the method gives none).
  A plain call's interval (interval_kind "estimator") covers the estimator's noise only.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats

from varbench.config import reject_code
from varbench.methods.uncertainty import LEVEL
from varbench.models.inputs import from_model
from varbench.models.trained import TrainedModel
from varbench.models.trainer import set_seed
from varbench.models.wrappers import is_scikeras

ESTIMATOR = "estimator"
TRAINING = "training_and_estimator"


def _network(model: Any) -> Any:
    """The keras.Model to clone; one-line error for what cannot be retrained here."""
    import keras

    if is_scikeras(model):
        raise ValueError(f"refits with model={type(model).__name__} (a scikeras wrapper) is not supported: refit "
                         "it with sklearn.base.clone(model).fit(...) yourself, or pass its network model.model_ "
                         "with fit_kwargs")
    net = model.keras if isinstance(model, TrainedModel) else model
    if not isinstance(net, keras.Model):
        raise ValueError(f"refits with model={type(model).__name__} is not supported: expected a keras.Model")
    return net


def _fit_settings(net: Any, fit_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """fit_kwargs checked against keras.Model.fit, with epochs from model.history if left out."""
    import keras

    given = {} if fit_kwargs is None else fit_kwargs
    if not isinstance(given, Mapping):
        raise ValueError(f"fit_kwargs={given!r} is invalid: expected a dict of keras.Model.fit arguments")
    allowed = set(inspect.signature(keras.Model.fit).parameters) - {"self", "x", "y", "verbose"}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValueError(f"fit_kwargs has {unknown}, not keras.Model.fit arguments (x, y and verbose are set by "
                         f"varbench): expected some of {sorted(allowed)}")
    for key, value in given.items():
        reject_code(value, f"fit_kwargs[{key!r}]")
    out = dict(given)
    if "epochs" not in out:
        recorded = getattr(getattr(net, "history", None), "params", None) or {}
        if "epochs" not in recorded:
            raise ValueError("refits needs fit_kwargs with 'epochs' (e.g. fit_kwargs={'epochs': 50, "
                             "'batch_size': 32}): this model has no training history recording them")
        out["epochs"] = int(recorded["epochs"])
    e = out["epochs"]
    if not isinstance(e, (int, np.integer)) or isinstance(e, bool) or e < 1:
        raise ValueError(f"fit_kwargs['epochs']={e!r} is invalid: expected an integer >= 1")
    return out


def check_refits(model: Any, refits: Any, X_train: Any, y_train: Any,
                 fit_kwargs: Mapping[str, Any] | None) -> tuple[Any, dict[str, Any]]:
    """Every refits-specific check, before anything is trained or explained; returns (network,
    fit settings). Raises a one-line ValueError naming the argument and its value.

    Examples
    --------
    >>> check_refits(None, 1, None, None, None)
    Traceback (most recent call last):
    ...
    ValueError: refits=1 is invalid: expected an integer >= 2 (the number of retrained clones)
    """
    import keras

    if not isinstance(refits, (int, np.integer)) or isinstance(refits, bool) or refits < 2:
        raise ValueError(f"refits={refits!r} is invalid: expected an integer >= 2 (the number of retrained clones)")
    if X_train is None or y_train is None:
        raise ValueError(f"refits={refits} needs the training data: pass X_train and y_train (the rows the "
                         "model was fitted on)")
    net = _network(model)
    if getattr(net, "optimizer", None) is None or getattr(net, "loss", None) is None:
        raise ValueError(f"refits={refits} needs a compiled model: model={net.name!r} has no optimizer or loss "
                         "to retrain its clones with")
    from keras.src.models.functional import Functional

    if not isinstance(net, (keras.Sequential, Functional)):
        raise ValueError(f"refits with model={type(net).__name__} (a subclassed keras.Model) is not supported: "
                         "keras.models.clone_model clones Sequential and functional models only")
    try:
        clone = keras.models.clone_model(net)
        same = [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in net.weights]
        clone.compile_from_config(net.get_compile_config())
    except Exception as err:  # a custom layer or loss without get_config / from_config ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"refits with model={type(net).__name__} is not supported: keras.models.clone_model and "
                         f"compile_from_config cannot clone it as compiled ({first})") from None
    if not same:
        raise ValueError(f"refits with model={type(net).__name__} is not supported: keras.models.clone_model "
                         "gives a network with other weights (a custom layer whose config is incomplete?)")
    return net, _fit_settings(net, fit_kwargs)


def refit_seeds(seed: int, refits: int) -> list[int]:
    """R distinct seeds of the refits, drawn from `seed` (the same seed, the same refits).

    Examples
    --------
    >>> a = refit_seeds(0, 3)
    >>> len(set(a)) == 3 and a == refit_seeds(0, 3) and a != refit_seeds(1, 3)
    True
    """
    base = int(np.random.SeedSequence([int(seed), 0x7265]).generate_state(1)[0] % 2**30)
    return [base + i for i in range(1, refits + 1)]


def _network_inputs(net: Any, X_train: Any, feature_names: Any) -> Any:
    """X_train as the network takes it (DataFrames and category columns converted as the API does)."""
    inputs = from_model(net, X_train, X_train, list(feature_names) if feature_names is not None else None)
    decoded = inputs.decode(inputs.encode(X_train, "X_train"))
    import tensorflow as tf

    return tf.nest.map_structure(lambda t: t.numpy(), decoded)


def _y(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if isinstance(value, (pd.Series, pd.DataFrame)) else value)


def combine_models(results: list[pd.DataFrame], labels: list[str], level: float = LEVEL) -> pd.DataFrame:
    """Per variable: mean over models of each importance column, and the t interval over models
    of the per-model point estimates (module note); `interval_kind` is "training_and_estimator".

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"importance": [1.0], "se": [0.1]}, index=["x"])
    >>> b = pd.DataFrame({"importance": [3.0], "se": [0.1]}, index=["x"])
    >>> r = combine_models([a, b], ["user", "refit 1"])
    >>> float(r.loc["x", "importance"]), float(r.loc["x", "se"]), r.loc["x", "interval_kind"]
    (2.0, 1.0, 'training_and_estimator')
    """
    theta = np.vstack([r["importance"].to_numpy(float) for r in results])  # (M, V)
    se = np.vstack([r["se"].to_numpy(float) for r in results])
    m = theta.shape[0]
    mean, sd = theta.mean(axis=0), theta.std(axis=0, ddof=1)
    half = stats.t.ppf(1 - (1 - level) / 2, m - 1) * sd / np.sqrt(m)
    first = results[0]
    df = pd.DataFrame({"importance": mean, "se": sd / np.sqrt(m), "ci_low": mean - half, "ci_high": mean + half,
                       "std": sd / np.sqrt(m), "sd_over_models": sd, "within_se": np.sqrt(np.mean(se ** 2, axis=0)),
                       "n_models": m}, index=first.index)
    for col in [c for c in first.columns if c.startswith("importance[")]:
        df[col] = np.mean([r[col].to_numpy(float) for r in results], axis=0)
    df["interval_kind"] = TRAINING
    df.attrs.update({k: v for k, v in first.attrs.items() if k != "extras"})
    df.attrs.update(interval_kind=TRAINING, ci_level=level, models=list(labels),
                    n_model_evals=int(sum(r.attrs.get("n_model_evals", 0) for r in results)),
                    per_model={lab: r["importance"].astype(float).tolist() for lab, r in zip(labels, results)})
    return df


def refit_importance(run: Callable[..., pd.DataFrame], model: Any, X: Any, y: Any, *, refits: int,
                     fit_kwargs: Mapping[str, Any] | None, X_train: Any, y_train: Any, seed: int = 0,
                     feature_names: Any = None, **call: Any) -> pd.DataFrame:
    """`run` (varbench.importance without refits) on the user's model and on R retrained clones,
    combined by `combine_models`. Checks first (`check_refits`), then the user's model is explained
    (which checks the data and the method), then each clone is trained and explained in turn.

    Examples
    --------
    >>> import keras, numpy as np, varbench
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2)).astype("float32")
    >>> y = X @ np.array([1.0, 0.0])
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> net.compile(optimizer=keras.optimizers.SGD(0.4), loss="mse")
    >>> _ = net.fit(X, y, epochs=20, batch_size=100, verbose=0)
    >>> r = varbench.importance(net, X, y, method="saliency", X_train=X, y_train=y, refits=2,
    ...                         fit_kwargs={"epochs": 20, "batch_size": 100}, progress=False)
    >>> r.attrs["interval_kind"], int(r["n_models"].iloc[0])
    ('training_and_estimator', 3)
    """
    import keras

    net, settings = check_refits(model, refits, X_train, y_train, fit_kwargs)
    common = dict(call, X_train=X_train, y_train=y_train, seed=seed, feature_names=feature_names)
    results = [run(model, X, y, **common)]
    x_fit, y_fit = _network_inputs(net, X_train, feature_names), _y(y_train)
    seeds = refit_seeds(seed, int(refits))
    config = net.get_compile_config()
    for s in seeds:
        set_seed(s)
        clone = keras.models.clone_model(net)
        clone.compile_from_config(config)
        clone.fit(x_fit, y_fit, **settings, verbose=0)
        results.append(run(clone, X, y, **common))
        del clone
    out = combine_models(results, ["user"] + [f"refit {i}" for i in range(1, len(seeds) + 1)])
    out.attrs.update(refits=int(refits), refit_seeds=seeds,
                     fit_kwargs={k: (v if isinstance(v, (int, float, str, bool)) else repr(v))
                                 for k, v in settings.items()})
    return out


__all__ = ["ESTIMATOR", "TRAINING", "check_refits", "combine_models", "refit_importance", "refit_seeds"]
