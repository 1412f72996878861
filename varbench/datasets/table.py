"""Your own table: a CSV / Parquet file or a pandas DataFrame as a varbench dataset.

`encode_table` turns a frame into a numeric matrix the networks train on, and records how:
numeric (and boolean) columns are standardised (mean 0, population sd 1; the mean and sd of each
column are kept in `Encoded.scaling`); string / categorical columns are one-hot encoded (one 0/1
column per level, named `column=level`) and grouped, so importance is judged per original column
(`Dataset.groups`). Constant columns and id-like columns (every value distinct: a string key, or
an integer counter) are dropped with a warning. Missing values are an error naming the columns
and counts unless `impute` is "median" (numeric columns by their median, the others by their
most frequent value) or "most_frequent" (every column by its most frequent value); imputation is
logged. The task is inferred from the target (two values: binary classification; a string /
boolean / small integer target with more: multi-class; otherwise regression) or given.

Every rejected input (unreadable file, unknown target or column, a one-valued target, fewer than
`MIN_ROWS` rows, at least as many columns as rows, a column mixing numbers and text, missing
values) raises one ValueError line naming the file or column and the problem, before any training.

`table(...)` (`dataset=table`) returns the Dataset for the real target: its truth is unknown
(`GroundTruth.known` is False), so the runner scores methods only against the trained model's own
truth (where d allows).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from varbench.datasets.base import TASKS, Dataset, GroundTruth, variables

log = logging.getLogger(__name__)

MIN_ROWS = 50
IMPUTE = ("median", "most_frequent")
TASK_CHOICES = ("regression", "classification", "multiclass")
MAX_CLASSES = 20  # an integer target with more distinct values than this is a regression target
SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Encoded:
    """A table encoded for training, with a record of every step.

    X: (n, d) float matrix; y: (n,) target (0/1 or 0..k-1 for classification) or None;
    feature_names: the d encoded column names; groups: {original column: its one-hot columns};
    scaling: {numeric column: (mean, sd)} used to standardise it (a regression target is
    standardised too, its entry under the target's name); categories: {column: levels};
    classes: the target's labels in code order (classification); dropped: {column: reason};
    imputed: {column: number of values filled}; fingerprint: SHA-256 prefix of the encoded data.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    groups: dict[str, list[int]]
    task: str | None
    source: str
    target: str | None = None
    scaling: dict[str, tuple[float, float]] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)
    classes: list[Any] | None = None
    dropped: dict[str, str] = field(default_factory=dict)
    imputed: dict[str, int] = field(default_factory=dict)

    @property
    def variables(self) -> list[tuple[str, list[int]]]:
        """(original column, encoded column indices) per variable, in column order."""
        return variables(self.feature_names, self.groups or None)

    @property
    def numeric(self) -> list[str]:
        """The standardised (non-one-hot) feature variables."""
        return [name for name, _ in self.variables if name in self.scaling and name != self.target]

    def record(self) -> dict[str, Any]:
        """The encoding as JSON-able data (logged with the cell)."""
        return {"source": self.source, "target": self.target, "task": self.task,
                "scaling": {c: {"mean": m, "sd": s} for c, (m, s) in self.scaling.items()},
                "one_hot": self.categories, "classes": self.classes, "dropped": self.dropped,
                "imputed": self.imputed}

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(self.X, dtype=np.float64).tobytes())
        if self.y is not None:
            h.update(np.ascontiguousarray(self.y, dtype=np.float64).tobytes())
        h.update(",".join(self.feature_names).encode())
        return h.hexdigest()[:16]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a .csv / .tsv / .parquet file; a one-line ValueError naming the file otherwise."""
    p = Path(str(path)).expanduser()
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise ValueError(f"{p}: unsupported file type {p.suffix!r}: expected one of {sorted(SUFFIXES)}")
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, sep="\t" if kind == "tsv" else ",")
    except Exception as exc:  # noqa: BLE001 - parser errors of every kind become one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(f"{p}: cannot be read as {kind}: {type(exc).__name__}: {first}") from None
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise ValueError(f"{p}: has no data ({frame.shape[0]} rows, {frame.shape[1]} columns)")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _names(value: Any, key: str, available: Sequence[str], source: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else [str(v) for v in list(value)]
    missing = [c for c in items if c not in available]
    if missing:
        raise ValueError(f"{source}: dataset.{key} names {missing}, not columns of the table "
                         f"(columns: {_short(available)})")
    return items


def _short(items: Sequence[str], n: int = 12) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def _as_numeric(col: pd.Series, name: str, source: str) -> pd.Series | None:
    """A numeric view of the column, None if it is text; ValueError if it mixes both."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    if isinstance(col.dtype, pd.CategoricalDtype):
        return None
    present = col.dropna()
    parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    n_num = int(parsed.notna().sum())
    if n_num == len(present) and n_num > 0:
        return pd.to_numeric(col.astype(str).str.strip().where(col.notna()), errors="coerce")
    if n_num > 0:
        text = present[parsed.isna()].astype(str).unique()[:3].tolist()
        nums = present[parsed.notna()].astype(str).unique()[:3].tolist()
        raise ValueError(f"{source}: column {name!r} mixes numbers ({n_num} values, e.g. {nums}) and text "
                         f"({len(present) - n_num} values, e.g. {text}): clean it or list it in dataset.drop")
    return None


def _id_like(values: pd.Series, numeric: bool) -> bool:
    n = len(values)
    if values.nunique(dropna=True) != n or n < 2:
        return False
    if not numeric:
        return True
    v = values.to_numpy(dtype=float)
    return bool(np.all(v == np.round(v)) and np.all(np.diff(np.sort(v)) == 1))


def infer_task(y: pd.Series, numeric: pd.Series | None) -> str:
    """regression, classification (two values) or multiclass, from the target's values."""
    k = y.nunique(dropna=True)
    if k == 2:
        return "classification"
    if numeric is None or pd.api.types.is_bool_dtype(y):
        return "multiclass"
    v = numeric.dropna().to_numpy()
    if np.all(v == np.round(v)) and k <= MAX_CLASSES and k < 0.05 * len(v) + 3:
        return "multiclass"
    return "regression"


def _encode_target(y: pd.Series, numeric: pd.Series | None, task: str | None, name: str,
                   source: str) -> tuple[np.ndarray, str, list[Any] | None]:
    k = int(y.nunique(dropna=True))
    if k < 2:
        raise ValueError(f"{source}: target column {name!r} has a single value ({y.dropna().iloc[0]!r}): "
                         "nothing to learn")
    if task is not None and task not in TASK_CHOICES:
        raise ValueError(f"dataset.task={task!r} is invalid: expected null (inferred) or one of {TASK_CHOICES}")
    task = task or infer_task(y, numeric)
    if task == "regression":
        if numeric is None:
            raise ValueError(f"{source}: target column {name!r} is text: task=regression needs numbers")
        y = numeric.to_numpy(dtype=float)
        return (y - y.mean()) / y.std(), task, None  # standardised (scaling in Encoded.scaling[target])
    if task == "classification" and k != 2:
        raise ValueError(f"{source}: target column {name!r} has {k} values: task=classification needs "
                         "exactly two (use task=multiclass)")
    if task == "multiclass" and "multiclass" not in TASKS:
        raise ValueError(f"{source}: target column {name!r} has {k} classes: multi-class targets are not "
                         f"supported by this version (tasks: {TASKS})")
    key = numeric if numeric is not None else y.astype(str)
    classes = sorted(key.dropna().unique().tolist())
    codes = key.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=float)
    return codes, task, classes


def _missing(frame: pd.DataFrame, impute: str | None, source: str, target: str | None) -> dict[str, int]:
    counts = {c: int(n) for c, n in frame.isna().sum().items() if n}
    if target is not None and target in counts:
        raise ValueError(f"{source}: target column {target!r} has {counts[target]} missing values: "
                         "drop those rows first (targets are never imputed)")
    if counts and impute is None:
        listing = ", ".join(f"{c!r} ({n})" for c, n in list(counts.items())[:10])
        raise ValueError(f"{source}: missing values in {len(counts)} column(s): {listing}; set "
                         f"dataset.impute to one of {IMPUTE} or clean the table")
    return counts


def encode_table(frame: pd.DataFrame, target: str | None = None, *, columns: Sequence[str] | None = None,
                 drop: Sequence[str] | None = None, impute: str | None = None, task: str | None = None,
                 source: str = "DataFrame") -> Encoded:
    """Encode a table for training (see the module docstring). target=None encodes covariates only."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"dataset.frame must be a pandas DataFrame, got {type(frame).__name__}")
    if impute is not None and impute not in IMPUTE:
        raise ValueError(f"dataset.impute={impute!r} is invalid: expected null or one of {IMPUTE}")
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    if len(set(frame.columns)) != frame.shape[1]:
        dup = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        raise ValueError(f"{source}: repeated column names {dup}")
    cols = list(frame.columns)
    if target is not None and str(target) not in cols:
        raise ValueError(f"{source}: target column {target!r} is not in the table (columns: {_short(cols)})")
    target = None if target is None else str(target)
    chosen = _names(columns, "columns", cols, source) or [c for c in cols if c != target]
    dropped_by_user = set(_names(drop, "drop", cols, source))
    features = [c for c in chosen if c != target and c not in dropped_by_user]
    n = frame.shape[0]
    if n < MIN_ROWS:
        raise ValueError(f"{source}: has {n} rows; at least {MIN_ROWS} are needed to train and test a network")
    if len(features) >= n:
        raise ValueError(f"{source}: has {len(features)} feature columns and only {n} rows: more columns than "
                         "rows (choose some with dataset.columns)")
    if not features:
        raise ValueError(f"{source}: no feature columns left (target {target!r}, dataset.drop={sorted(dropped_by_user)})")
    used = features + ([target] if target else [])
    counts = _missing(frame[used], impute, source, target)
    numeric = {c: _as_numeric(frame[c], c, source) for c in used}

    y, out_task, classes = (None, task, None)
    scaling: dict[str, tuple[float, float]] = {}
    if target is not None:
        y, out_task, classes = _encode_target(frame[target], numeric[target], task, target, source)
        if out_task == "regression":
            t = numeric[target].to_numpy(dtype=float)
            scaling[target] = (float(t.mean()), float(t.std()))
    blocks: list[np.ndarray] = []
    names: list[str] = []
    groups: dict[str, list[int]] = {}
    categories: dict[str, list[str]] = {}
    dropped: dict[str, str] = {c: "dataset.drop" for c in sorted(dropped_by_user)}
    imputed: dict[str, int] = {}
    for c in features:
        num = numeric[c]
        values = frame[c] if num is None else num
        if counts.get(c):
            fill = (values.median() if (impute == "median" and num is not None)
                    else values.mode(dropna=True).iloc[0])
            values = values.fillna(fill)
            imputed[c] = counts[c]
            log.info("%s: imputed %d missing value(s) of %r with its %s (%r)", source, counts[c], c,
                     "median" if (impute == "median" and num is not None) else "most frequent value", fill)
        if values.nunique(dropna=True) <= 1:
            dropped[c] = "constant"
            log.warning("%s: dropped constant column %r", source, c)
            continue
        if _id_like(values, num is not None):
            dropped[c] = "id-like (every value distinct)"
            log.warning("%s: dropped id-like column %r (every value distinct)", source, c)
            continue
        if num is not None:
            v = values.to_numpy(dtype=float)
            mean, sd = float(v.mean()), float(v.std())
            scaling[c] = (mean, sd)
            blocks.append(((v - mean) / sd)[:, None])
            names.append(c)
        else:
            levels = sorted(values.astype(str).unique().tolist())
            categories[c] = levels
            text = values.astype(str).to_numpy()
            groups[c] = list(range(len(names), len(names) + len(levels)))
            blocks.append((text[:, None] == np.asarray(levels)[None, :]).astype(float))
            names += [f"{c}={lv}" for lv in levels]
    if not blocks:
        raise ValueError(f"{source}: every feature column was dropped ({dropped})")
    X = np.hstack(blocks)
    if X.shape[1] >= n:
        raise ValueError(f"{source}: one-hot encoding gives {X.shape[1]} columns for {n} rows: more columns "
                         "than rows (drop high-cardinality columns with dataset.drop)")
    clash = sorted(set(names) & set(groups))
    if clash:
        raise ValueError(f"{source}: columns {clash} collide with one-hot names: rename them")
    return Encoded(X=X, y=y, feature_names=names, groups=groups, task=out_task, source=source, target=target,
                   scaling=scaling, categories=categories, classes=classes, dropped=dropped, imputed=imputed)


def load_encoded(path: str | None = None, frame: pd.DataFrame | None = None, target: str | None = None,
                 **kwargs: Any) -> Encoded:
    """Read `path` (or take `frame`) and encode it; exactly one of the two."""
    if (path is None) == (frame is None):
        raise ValueError("dataset.path: give exactly one of a file path and a DataFrame (frame=)")
    source = "DataFrame" if frame is not None else str(Path(str(path)).expanduser())
    data = frame if frame is not None else read_table(path)
    return encode_table(data, target, source=source, **kwargs)


def split_rows(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) of a random split."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"dataset.test_fraction={test_fraction!r} is invalid: expected a number in (0, 1)")
    n_test = max(1, int(round(test_fraction * n)))
    perm = rng.permutation(n)
    return perm[n_test:], perm[:n_test]


def table(path: str | None = None, target: str | None = None, frame: pd.DataFrame | None = None,
          columns: Sequence[str] | None = None, drop: Sequence[str] | None = None, impute: str | None = None,
          task: str | None = None, test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Your own table with its real target (`dataset=table dataset.path=my.csv dataset.target=price`).

    path: a .csv / .tsv / .parquet file (or frame: a DataFrame, Python API); target: the column to
    predict; columns: the feature columns to use (default: all but the target); drop: columns to
    leave out; impute: null, "median" or "most_frequent"; task: null (inferred) or one of
    TASK_CHOICES; the split is drawn with `seed`. The truth is unknown: methods are scored against
    the trained model's own truth only (docs/own-data.md)."""
    if target is None:
        raise ValueError("dataset.target is required: the column to predict")
    enc = load_encoded(path, frame, target, columns=columns, drop=drop, impute=impute, task=task)
    train, test = split_rows(enc.X.shape[0], test_fraction, np.random.default_rng(seed))
    n_var = len(enc.variables)
    truth = GroundTruth(importance=np.zeros(n_var), relevant=np.zeros(n_var, bool), known=False,
                        definition=f"unknown: real target {target!r} of {Path(enc.source).name}")
    ds = Dataset(X_train=enc.X[train], y_train=enc.y[train], X_test=enc.X[test], y_test=enc.y[test],
                 task=str(enc.task), truth=truth, feature_names=enc.feature_names,
                 name=f"table_{Path(enc.source).stem}", groups=enc.groups or None,
                 fingerprint=enc.fingerprint, encoding=enc.record())
    return ds


__all__ = ["Encoded", "read_table", "encode_table", "load_encoded", "infer_task", "table", "MIN_ROWS", "IMPUTE"]
