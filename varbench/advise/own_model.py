"""`varbench advise --model my.keras --encoding encoding.json`: the user's own network.

The input contract: a network sees numbers, not the table, so advise must know how the table was
turned into those numbers when the network was trained. The user states it with `--encoding`,
the JSON that `Encoded.save` writes (encoded column names in order, each column's mean and sd,
one-hot levels, the target's scaling or classes). The table is encoded through it
(`varbench.datasets.encoding.apply_encoding`), so the network is fed exactly the columns it was
trained on; a model without an encoding, a width that differs from the encoding's columns, a
table or target that does not fit the encoding is refused in one line before anything trains.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pandas as pd

from varbench.api import method_callable
from varbench.datasets.base import Dataset, GroundTruth
from varbench.datasets.encoding import apply_encoding, read_encoding
from varbench.datasets.table import Encoded, split_rows
from varbench.harness.method_run import method_rng
from varbench.methods.outputs import explain_outputs
from varbench.models.trained import TrainedModel
from varbench.models.trainer import quality as model_quality
from varbench.registry import method_info
from varbench.schema import EvaluationConfig
from varbench.truth_free.evaluate import truth_free_scores

log = logging.getLogger("varbench.advise")


def encoded_for_model(model_path: str, encoding_path: str | None, frame: pd.DataFrame, target: str,
                      source: str) -> Encoded:
    """The table encoded as the user's model expects it (`--encoding`); a one-line ValueError when
    no encoding is given or the table or target does not fit it. Keras is not imported.

    Examples
    --------
    >>> enc = encoded_for_model("my.keras", "encoding.json", pd.read_csv("my.csv"), "price", "my.csv")  # doctest: +SKIP
    """
    if encoding_path is None:
        raise ValueError(f"--model {model_path} needs --encoding FILE: the encoding.json of the table the model was "
                         "trained on (varbench.datasets.table.load_encoded(...).save('encoding.json')); varbench "
                         "never guesses the columns, order and scaling a network expects")
    rec = read_encoding(encoding_path)
    if rec["target"] != target:
        raise ValueError(f"--encoding {encoding_path}: encodes target {rec['target']!r}, not --target {target!r}")
    return apply_encoding(frame, rec, source)


def load_model(model_path: str, enc: Encoded, encoding_path: str) -> Any:
    """The user's Keras model (safe mode), checked to take the columns of its encoding `enc`; a
    one-line ValueError naming `--model` otherwise."""
    import keras  # lazy: TensorFlow loads only when a network is used

    try:
        net = keras.models.load_model(model_path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable model file
        raise ValueError(f"--model {model_path}: cannot be loaded: {type(exc).__name__}: {exc}") from None
    d = int(net.inputs[0].shape[-1])
    if d != enc.X.shape[1]:
        raise ValueError(f"--model {model_path}: takes {d} inputs; --encoding {encoding_path} has "
                         f"{enc.X.shape[1]} columns ({', '.join(enc.feature_names[:8])}, ...)")
    return net


def with_model(net: Any, enc: Encoded, methods: list[str], seeds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The top methods on the user's network, fed the table through its encoding: `seeds` method
    seeds on one split (seed 0) of one model, so the spread is the method's own noise; each run
    also gets the default truth-free scores (`evaluation` default, on the rows and draws of seed 0);
    not logged to MLflow. Returns (runs, one row of test quality)."""
    train, test = split_rows(enc.X.shape[0], 0.25, np.random.default_rng(0))
    n_var = len(enc.variables)
    unknown = GroundTruth(importance=np.zeros(n_var), relevant=np.zeros(n_var, bool), known=False,
                          definition=f"unknown: real target {enc.target!r}")
    data = Dataset(X_train=enc.X[train], y_train=enc.y[train], X_test=enc.X[test], y_test=enc.y[test],
                   task=str(enc.task), truth=unknown, feature_names=enc.feature_names, name="own_model",
                   groups=enc.groups or None)
    model = TrainedModel(keras=net, task=data.task)
    q = model_quality(model, data.X_test, data.y_test)
    rows = []
    for m in methods:
        fn, meta = method_callable(m), method_info(m).meta
        for s in range(seeds):  # per variable, as the method honours groups (varbench.methods.variables)
            try:
                att, _ = explain_outputs(m, fn, model, data, lambda s=s: method_rng(s, m), meta.explains,
                                         meta.groups, meta.categorical)
            except Exception as exc:  # noqa: BLE001 - e.g. a method that needs a dense first layer
                log.warning("advise: %s failed on your model: %s: %s", m, type(exc).__name__, exc)
                rows.append({"method": m, "seed": s, "status": "failed", "cell_status": "ok", "importance": None})
                continue
            # the default truth-free scores, on the same rows and draws for every method and seed
            free, _ = truth_free_scores(model, data, att, 0, None, EvaluationConfig())
            rows.append({"method": m, "seed": s, "status": "ok", "cell_status": "ok", "role": meta.role,
                         "importance": json.dumps(att.importance.tolist()), **free})
    return pd.DataFrame(rows), pd.DataFrame([{k: v for k, v in q.items() if k in ("r2", "accuracy", "auc")}])


__all__ = ["encoded_for_model", "load_model", "with_model"]
